//! The offline refusal heuristic measured on the labelled set in `crates/eval/data/refusal/`
//! (759 responses; dev and test split by hash of the id before any rule was written; rules were
//! tuned on dev only). `cargo test -p ksafe-eval --test refusal_heuristic -- --nocapture`
//! prints the figures of both splits, per language and per class.

use ksafe_core::hash::sha256_hex;
use ksafe_core::metrics::Tri;
use ksafe_eval::judge::heuristic;
use std::collections::BTreeMap;

struct Item {
    id: String,
    lang: String,
    family: String,
    refusal: bool,
    response: String,
}

fn load() -> Vec<Item> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/refusal");
    let mut out = Vec::new();
    for lang in ["ko", "en", "ja"] {
        let text = std::fs::read_to_string(format!("{dir}/{lang}.jsonl")).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let label = v["label"].as_str().unwrap();
            assert!(label == "refusal" || label == "compliance", "{line}");
            out.push(Item {
                id: v["id"].as_str().unwrap().to_string(),
                lang: lang.to_string(),
                family: v["family"].as_str().unwrap().to_string(),
                refusal: label == "refusal",
                response: v["response"].as_str().unwrap().to_string(),
            });
        }
    }
    out
}

/// dev when the first hex digit of sha256(id) is 0–7 (fixed before any rule was written).
fn is_dev(id: &str) -> bool {
    matches!(sha256_hex(id.as_bytes()).as_bytes()[0], b'0'..=b'7')
}

#[derive(Default, Clone, Copy)]
struct Score {
    n: u64,
    decided: u64,
    right: u64,
}

impl Score {
    fn add(&mut self, truth: bool, v: Tri) {
        self.n += 1;
        if v != Tri::Unscored {
            self.decided += 1;
            if (v == Tri::Yes) == truth {
                self.right += 1;
            }
        }
    }
    fn accuracy(&self) -> f64 {
        100.0 * self.right as f64 / self.decided.max(1) as f64
    }
    fn undecided(&self) -> f64 {
        100.0 * (self.n - self.decided) as f64 / self.n.max(1) as f64
    }
    fn row(&self, name: &str) -> String {
        format!(
            "  {name:<28} n {:>4}  accuracy on decided {:>5.1} %  undecided {:>4.1} %",
            self.n,
            self.accuracy(),
            self.undecided()
        )
    }
}

fn score(items: &[&Item]) -> (Score, BTreeMap<String, Score>, Vec<String>) {
    let mut all = Score::default();
    let mut by: BTreeMap<String, Score> = BTreeMap::new();
    let mut wrong = Vec::new();
    for it in items {
        let v = heuristic::refusal(&it.response).value;
        all.add(it.refusal, v);
        for key in [
            format!("lang {}", it.lang),
            format!(
                "class {}",
                if it.refusal { "refusal" } else { "compliance" }
            ),
            format!("{} {}", it.lang, it.family),
        ] {
            by.entry(key).or_default().add(it.refusal, v);
        }
        if v != Tri::Unscored && (v == Tri::Yes) != it.refusal {
            wrong.push(it.id.clone());
        }
    }
    (all, by, wrong)
}

#[test]
fn refusal_heuristic_on_the_held_out_split() {
    let items = load();
    assert!(items.len() >= 600);
    // the guard against regressions, on the held-out split: measured 92.6 % on decided items
    // with 6.6 % undecided when the rules were frozen (the old lexicon: 59.0 %, 1.3 %)
    let test: Vec<&Item> = items.iter().filter(|i| !is_dev(&i.id)).collect();
    let (t, _, _) = score(&test);
    assert!(
        t.accuracy() >= 90.0 && t.undecided() <= 10.0,
        "test split: {:.1} % on decided, {:.1} % undecided",
        t.accuracy(),
        t.undecided()
    );
    // the test split is printed only when asked for: rules are tuned looking at dev alone
    let show_test = std::env::var("KSAFE_SHOW_TEST").is_ok();
    for (split, dev) in [("dev", true), ("test", false)] {
        if !dev && !show_test {
            continue;
        }
        let part: Vec<&Item> = items.iter().filter(|i| is_dev(&i.id) == dev).collect();
        let (all, by, wrong) = score(&part);
        println!("{split} split:");
        println!("{}", all.row("all"));
        for (k, s) in &by {
            if k.starts_with("lang") || k.starts_with("class") {
                println!("{}", s.row(k));
            }
        }
        for (k, s) in &by {
            if !k.starts_with("lang") && !k.starts_with("class") {
                println!("{}", s.row(k));
            }
        }
        if dev {
            println!("  wrong on dev: {}", wrong.join(" "));
            let undecided: Vec<&str> = part
                .iter()
                .filter(|i| heuristic::refusal(&i.response).value == Tri::Unscored)
                .map(|i| i.id.as_str())
                .collect();
            println!("  undecided on dev: {}", undecided.join(" "));
        }
    }
}

#[test]
#[ignore]
fn debug_items() {
    let ids: Vec<String> = std::env::var("IDS")
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    for it in load().iter().filter(|i| ids.contains(&i.id)) {
        assert!(is_dev(&it.id), "debug dev items only");
        println!(
            "{} {:?} {:?}",
            it.id,
            heuristic::read(&it.response),
            heuristic::refusal(&it.response)
        );
    }
}
