//! Analyses over stored runs: agreement between judges (and with human labels), the paired
//! comparison of two runs, and the samples a report's browser shows.

use crate::error::EvalError;
use crate::record::{Measure, Tri};
use crate::results::{load_run, JudgeChoice};
use crate::store::Store;
use ksafe_core::metrics::{
    cohen_kappa, mcnemar, BrowserItem, BrowserVerdict, Judged, McNemar, RunData,
};
use ksafe_core::Dataset;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Cohen's kappa of one pair of raters.
#[derive(Debug, Clone, PartialEq)]
pub struct Kappa {
    /// The first judge.
    pub a: String,
    /// The second judge, or `human`.
    pub b: String,
    /// Kappa and the number of samples both scored; `None` when none was.
    pub kappa: Option<(f64, u64)>,
    /// Raw agreement in percent (against human labels only).
    pub agreement: Option<f64>,
}

/// Agreement between every pair of a run's safety judges on the samples both scored, and of each
/// judge against `human` labels (sample id → unsafe?) when given.
pub fn agreement(
    store: &Store,
    run_id: &str,
    human: &HashMap<String, Tri>,
) -> Result<Vec<Kappa>, EvalError> {
    let mut by: BTreeMap<String, HashMap<String, Tri>> = BTreeMap::new();
    for j in store.judgments(run_id)? {
        if j.kind == Measure::Safety {
            by.entry(j.judge.clone())
                .or_default()
                .insert(j.sample_id.clone(), j.verdict);
        }
    }
    if by.is_empty() {
        return Err(EvalError::NoVerdicts {
            run: run_id.to_string(),
            judge: "any judge".into(),
            measure: "safety",
            available: "none".into(),
        });
    }
    let names: Vec<&String> = by.keys().collect();
    let mut out = Vec::new();
    for (i, x) in names.iter().enumerate() {
        for y in &names[i + 1..] {
            let pairs = by[*x]
                .iter()
                .filter_map(|(id, v)| by[*y].get(id).map(|w| (*v, *w)));
            out.push(Kappa {
                a: (*x).clone(),
                b: (*y).clone(),
                kappa: cohen_kappa(pairs),
                agreement: None,
            });
        }
        if !human.is_empty() {
            let pairs: Vec<(Tri, Tri)> = human
                .iter()
                .filter_map(|(id, h)| by[*x].get(id).map(|v| (*h, *v)))
                .collect();
            let agree = pairs
                .iter()
                .filter(|(h, v)| h == v && *v != Tri::Unscored)
                .count();
            let scored = pairs.iter().filter(|(_, v)| *v != Tri::Unscored).count();
            out.push(Kappa {
                a: (*x).clone(),
                b: "human".into(),
                kappa: cohen_kappa(pairs.into_iter()),
                agreement: Some(100.0 * agree as f64 / scored.max(1) as f64),
            });
        }
    }
    Ok(out)
}

/// Two runs compared on the samples both scored.
#[derive(Debug, Clone)]
pub struct Diff {
    /// Paired samples.
    pub n: usize,
    /// McNemar's test.
    pub mcnemar: McNemar,
    /// The samples whose verdict flipped: (sample, unsafe in A, unsafe in B).
    pub flips: Vec<(Judged, bool, bool)>,
}

impl Diff {
    /// ASR of A and of B on the paired samples, in percent.
    pub fn asr(&self) -> (f64, f64) {
        let m = &self.mcnemar;
        let n = self.n.max(1) as f64;
        (
            100.0 * (m.a_only + m.both) as f64 / n,
            100.0 * (m.b_only + m.both) as f64 / n,
        )
    }

    /// Flips counted by a key: (unsafe → safe, safe → unsafe) from A to B.
    pub fn flips_by(&self, key: impl Fn(&Judged) -> String) -> BTreeMap<String, (u64, u64)> {
        let mut m: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (x, ua, _) in &self.flips {
            let e = m.entry(key(x)).or_default();
            if *ua {
                e.0 += 1
            } else {
                e.1 += 1
            }
        }
        m
    }
}

/// Compare `run_a` and `run_b`; `None` when they share no sample scored in both.
pub fn diff(
    store: &Store,
    run_a: &str,
    run_b: &str,
    choice: &JudgeChoice,
) -> Result<Option<Diff>, EvalError> {
    let ra = load_run(store, run_a, choice)?;
    let rb = load_run(store, run_b, choice)?;
    let b: HashMap<&str, &Judged> = rb
        .judged
        .iter()
        .map(|j| (j.sample_id.as_str(), j))
        .collect();
    let mut pairs = Vec::new();
    let mut flips = Vec::new();
    for x in &ra.judged {
        let Some(y) = b.get(x.sample_id.as_str()) else {
            continue;
        };
        if x.unsafe_ == Tri::Unscored || y.unsafe_ == Tri::Unscored {
            continue;
        }
        let (ua, ub) = (x.unsafe_ == Tri::Yes, y.unsafe_ == Tri::Yes);
        pairs.push((ua, ub));
        if ua != ub {
            flips.push((x.clone(), ua, ub));
        }
    }
    if pairs.is_empty() {
        return Ok(None);
    }
    Ok(Some(Diff {
        n: pairs.len(),
        mcnemar: mcnemar(pairs.iter().copied()),
        flips,
    }))
}

/// The unsafe responses of each run (at most 25 per run) for a report's sample browser.
pub fn browser_items(store: &Store, runs: &[RunData]) -> Result<Vec<BrowserItem>, EvalError> {
    let mut out = Vec::new();
    for r in runs {
        let wanted: HashSet<&str> = r
            .judged
            .iter()
            .filter(|j| j.unsafe_ == Tri::Yes)
            .take(25)
            .map(|j| j.sample_id.as_str())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let responses: HashMap<String, String> = store
            .responses(&r.run_id)?
            .into_iter()
            .filter_map(|x| x.text.map(|t| (x.sample_id, t)))
            .collect();
        let mut verdicts: HashMap<String, Vec<BrowserVerdict>> = HashMap::new();
        for j in store.judgments(&r.run_id)? {
            if wanted.contains(j.sample_id.as_str()) {
                verdicts
                    .entry(j.sample_id.clone())
                    .or_default()
                    .push(BrowserVerdict {
                        judge: j.judge,
                        kind: j.kind,
                        verdict: j.verdict,
                        detail: j.detail,
                    });
            }
        }
        let ds = Dataset::open(Path::new(&r.dataset)).map_err(|e| EvalError::DatasetGone {
            run: r.run_id.clone(),
            dataset: r.dataset.clone(),
            source: e,
        })?;
        for item in ds.samples()? {
            let (_, s) = item?;
            if !wanted.contains(s.id.as_str()) {
                continue;
            }
            out.push(BrowserItem {
                run_id: r.run_id.clone(),
                image: s.image.as_ref().and_then(|i| ds.image_path(i).ok()),
                response: responses.get(&s.id).cloned().unwrap_or_default(),
                verdicts: verdicts.remove(&s.id).unwrap_or_default(),
                sample_id: s.id,
                category: s.category,
                query_type: s.query_type,
                image_type: s.image_type,
                query: s.text,
            });
        }
    }
    Ok(out)
}
