use ksafe_construct::pipeline::{build, BuildConfig, NoProgress, Profile, PAPER_C_SEEDS};
use ksafe_core::validate::{validate, ValidateOptions};
use ksafe_core::{Dataset, QueryType, Sample, Subset};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn lite(out: &Path, seed: u64) -> ksafe_construct::pipeline::BuildReport {
    let mut cfg = BuildConfig::new("ko", out.to_path_buf());
    cfg.profile = Profile::Lite;
    cfg.seed = seed;
    build(&cfg, &NoProgress).unwrap()
}

fn check_structure(samples: &[Sample]) {
    let ids: BTreeSet<&str> = samples.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), samples.len(), "ids are unique");
    // every C seed query has exactly the 10 jailbreak variants, each once, on the same image
    let mut children: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.subset == Subset::C && s.query_type.is_jailbreak())
    {
        children
            .entry(s.parent_id.as_deref().expect("variant has a parent"))
            .or_default()
            .push(s);
    }
    let seeds: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.subset == Subset::C && s.query_type == QueryType::Template)
        .collect();
    assert!(!seeds.is_empty());
    for seed in &seeds {
        let kids = &children[seed.id.as_str()];
        let strategies: BTreeSet<QueryType> = kids.iter().map(|k| k.query_type).collect();
        assert_eq!(strategies.len(), 10, "{}", seed.id);
        assert_eq!(kids.len(), 10);
        for k in kids {
            assert_eq!(k.image, seed.image, "a variant shares its seed's image");
            assert!(
                k.text.contains(&seed.text),
                "a variant wraps its seed query"
            );
            assert_ne!(k.text, seed.text);
        }
        assert!(seed.template_kind.is_some() && seed.variables.is_some() && seed.topic.is_some());
    }
    // every C image is used by exactly 11 samples
    let mut per_image: BTreeMap<&str, usize> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.subset == Subset::C) {
        *per_image
            .entry(s.image.as_ref().unwrap().sha256.as_str())
            .or_default() += 1;
    }
    assert!(per_image.values().all(|&n| n == 11), "{per_image:?}");
    // G: each seed gives I, T and IT samples
    let g: Vec<&Sample> = samples.iter().filter(|s| s.subset == Subset::G).collect();
    assert_eq!(g.len() % 3, 0);
    for t in ["I", "T", "IT"] {
        assert_eq!(
            g.iter()
                .filter(|s| s.image_type.map(|x| x.id()) == Some(t))
                .count(),
            g.len() / 3
        );
    }
    // no unfilled template slot or particle marker is left in any text
    for s in samples {
        assert!(
            !s.text.contains('{') || s.query_type == QueryType::ProgramExecution,
            "{}: {}",
            s.id,
            s.text
        );
        assert!(
            !s.text.contains("을/를") && !s.text.contains("이/가") && !s.text.contains("(를)"),
            "{}",
            s.text
        );
    }
}

#[test]
fn lite_build_has_the_papers_structure_and_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("lite");
    let report = lite(&out, 1);
    let m = &report.manifest;
    assert_eq!(
        m.counts.subset["G"],
        11 * 10 * 3,
        "10 G seeds per category × 3 image types"
    );
    let c_seeds = m.counts.query_type["template"];
    assert_eq!(m.counts.subset["C"], c_seeds * 11, "11 queries per C image");
    for (cat, _) in PAPER_C_SEEDS {
        assert_eq!(
            m.counts.subset_category[&format!("G/{}", cat.id())],
            30,
            "{cat}"
        );
    }
    assert!(m.files.contains_key("filter_report.jsonl"));
    assert_eq!(m.fonts.len(), 2);
    let samples = Dataset::open(&out).unwrap().read_all().unwrap();
    check_structure(&samples);
    let r = validate(&out, &ValidateOptions::default()).unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);
    assert!(report
        .stages
        .iter()
        .any(|s| s.stage == "C jailbreaks" && s.count == c_seeds * 10));
}

#[test]
fn same_seed_gives_a_byte_identical_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let ma = lite(&a, 7).manifest;
    let mb = lite(&b, 7).manifest;
    assert_eq!(ma.files, mb.files, "every file hash is equal");
    assert_eq!(
        std::fs::read(a.join("manifest.json")).unwrap(),
        std::fs::read(b.join("manifest.json")).unwrap()
    );
    let mc = lite(&c, 8).manifest;
    assert_ne!(
        ma.files["samples.jsonl"], mc.files["samples.jsonl"],
        "another seed picks other items"
    );
}

/// The full profile reproduces the paper's Table 1 structure: G = 11 × 50 × 3 = 1,650 and
/// C = 1,135 image seeds (per category as in the paper) × 11 = 12,485.
#[test]
fn full_build_matches_table_1() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("full");
    let cfg = BuildConfig::new("ko", out.clone());
    let report = build(&cfg, &NoProgress).unwrap();
    let m = &report.manifest;
    assert_eq!(m.counts.subset["G"], 1650);
    for (cat, n) in PAPER_C_SEEDS {
        assert_eq!(
            m.counts.subset_category[&format!("C/{}", cat.id())],
            n as u64 * 11,
            "{cat}"
        );
    }
    assert_eq!(m.counts.subset["C"], 12_485);
    assert_eq!(m.counts.subset["G"] + m.counts.subset["C"], 14_135);
    // the over-refusal subset: a benign twin for every C image seed (plus G twins)
    assert!(m.counts.subset["benign"] >= 1_135, "{:?}", m.counts.subset);
    let r = validate(
        &out,
        &ValidateOptions {
            check_hashes: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);
}

/// Every character a pack puts on an image has ink in the font that pack renders with.
#[test]
fn every_pack_text_has_glyphs_in_its_font() {
    for code in ksafe_construct::locale::Locale::codes() {
        let loc = ksafe_construct::locale::Locale::load(code).unwrap();
        let fonts = loc.fonts().unwrap();
        for s in &loc.g_seeds {
            fonts
                .check_ink(&s.key_phrase, true)
                .unwrap_or_else(|e| panic!("{code} {}: {e}", s.id));
            fonts
                .check_ink(&s.scene.title, true)
                .unwrap_or_else(|e| panic!("{code} {}: {e}", s.id));
            for l in &s.scene.lines {
                fonts
                    .check_ink(l, false)
                    .unwrap_or_else(|e| panic!("{code} {}: {e}", s.id));
            }
        }
        for b in loc.benign.values() {
            if let Some(k) = &b.key_phrase {
                fonts
                    .check_ink(k, true)
                    .unwrap_or_else(|e| panic!("{code} {}: {e}", b.id));
            }
        }
        for t in &loc.c_topics {
            for sc in &t.scenes {
                fonts
                    .check_ink(&sc.title, true)
                    .unwrap_or_else(|e| panic!("{code} {}: {e}", t.id));
                for l in &sc.lines {
                    fonts
                        .check_ink(l, false)
                        .unwrap_or_else(|e| panic!("{code} {}: {e}", t.id));
                }
            }
        }
        for v in [
            &loc.style.people,
            &loc.style.nicknames,
            &loc.style.news_outlets,
            &loc.style.forums,
            &loc.style.shops,
            &loc.style.orgs,
            &loc.style.places,
            &loc.style.chat_apps,
        ] {
            for x in v.iter() {
                fonts
                    .check_ink(x, true)
                    .unwrap_or_else(|e| panic!("{code}: {e}"));
            }
        }
    }
}

/// The Japanese pack builds the same way (the paper's pilot size: 100 C image seeds).
#[test]
fn japanese_pack_builds_like_the_korean_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ja");
    let cfg = BuildConfig::new("ja", out.clone());
    let report = build(&cfg, &NoProgress).unwrap();
    let m = &report.manifest;
    assert_eq!(m.locale, "ja");
    assert_eq!(m.counts.subset["G"], 11 * 10 * 3);
    assert_eq!(m.counts.query_type["template"], 100);
    assert_eq!(m.counts.subset["C"], 1_100, "the pilot's 1,100 queries");
    assert!(
        m.counts.subset["benign"] >= 100,
        "a benign twin per C image seed"
    );
    assert_eq!(m.fonts[0].name, "ipagp.ttf");
    let samples = Dataset::open(&out).unwrap().read_all().unwrap();
    check_structure(&samples);
    assert!(
        samples.iter().all(|s| s.locale == "ja"
            && !s
                .text
                .chars()
                .any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))),
        "no Korean in the Japanese build"
    );
    assert!(validate(&out, &ValidateOptions::default()).unwrap().is_ok());
}
