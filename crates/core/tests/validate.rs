mod common;

use common::*;
use ksafe_core::validate::{validate, Severity, ValidateOptions};
use std::fs;

fn problems(dir: &std::path::Path) -> Vec<String> {
    let r = validate(dir, &ValidateOptions::default()).unwrap();
    r.problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn a_dataset_written_by_the_writer_is_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ds");
    let m = small_dataset(&dir);
    assert_eq!(m.counts.total, 3);
    assert_eq!(m.counts.subset["C"], 2);
    assert_eq!(m.counts.query_type["SudoMode"], 1);
    assert_eq!(
        m.files.len(),
        3,
        "two images stored once each, plus samples.jsonl"
    );
    let r = validate(&dir, &ValidateOptions::default()).unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);
    assert_eq!(r.samples, 3);
    assert_eq!(r.images_checked, 2);
}

#[test]
fn every_kind_of_problem_is_reported_with_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ds");
    small_dataset(&dir);
    let good = fs::read_to_string(dir.join("samples.jsonl")).unwrap();
    let first = good.lines().next().unwrap().to_string();
    let mut v: serde_json::Value = serde_json::from_str(&first).unwrap();
    let mut lines: Vec<Vec<u8>> = good.lines().map(|l| l.as_bytes().to_vec()).collect();
    // line 4: duplicate of line 1
    lines.push(first.as_bytes().to_vec());
    // line 5: unknown category with a hint
    v["id"] = "x-cat".into();
    v["category"] = "Copyright".into();
    lines.push(serde_json::to_vec(&v).unwrap());
    // line 6: missing image file
    v["id"] = "x-img".into();
    v["category"] = "privacy".into();
    v["image"]["path"] = "images/zz/missing.png".into();
    lines.push(serde_json::to_vec(&v).unwrap());
    // line 7: hash mismatch
    let mut h: serde_json::Value = serde_json::from_str(&first).unwrap();
    h["id"] = "x-hash".into();
    h["image"]["sha256"] = "0".repeat(64).into();
    lines.push(serde_json::to_vec(&h).unwrap());
    // line 8: a jailbreak variant whose parent is missing
    h["id"] = "x-parent".into();
    h["image"] = v["image"].clone();
    h["image"] = serde_json::from_str::<serde_json::Value>(&first).unwrap()["image"].clone();
    h["query_type"] = "SudoMode".into();
    h["parent_id"] = "no-such-seed".into();
    lines.push(serde_json::to_vec(&h).unwrap());
    // line 9: not UTF-8
    lines.push(b"{\"id\": \"\xff\xfe\"}".to_vec());
    // line 10: empty text
    let mut e: serde_json::Value = serde_json::from_str(&first).unwrap();
    e["id"] = "x-empty".into();
    e["text"] = "   ".into();
    lines.push(serde_json::to_vec(&e).unwrap());
    // line 11: not JSON
    lines.push(b"{not json".to_vec());
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(&l);
        out.push(b'\n');
    }
    fs::write(dir.join("samples.jsonl"), out).unwrap();

    let p = problems(&dir);
    let has = |needle: &str| p.iter().any(|x| x.contains(needle));
    assert!(has("samples.jsonl:4: id: duplicate id"), "{p:#?}");
    assert!(
        has("samples.jsonl:5: category: unknown category 'Copyright' (did you mean 'copyrights'?)"),
        "{p:#?}"
    );
    assert!(
        has("samples.jsonl:6: image: cannot read images/zz/missing.png"),
        "{p:#?}"
    );
    assert!(
        has("samples.jsonl:7: image.sha256: hash mismatch"),
        "{p:#?}"
    );
    assert!(
        has("samples.jsonl:8: parent_id: parent sample 'no-such-seed' is not in the dataset"),
        "{p:#?}"
    );
    assert!(has("samples.jsonl:9: not valid UTF-8"), "{p:#?}");
    assert!(has("samples.jsonl:10: text: empty text"), "{p:#?}");
    assert!(has("samples.jsonl:11: not valid JSON"), "{p:#?}");
    // the manifest no longer matches the file
    assert!(
        has("manifest.json: counts.total: manifest says 3 samples"),
        "{p:#?}"
    );
    assert!(
        has("manifest.json: files: samples.jsonl: hash mismatch"),
        "{p:#?}"
    );
}

#[test]
fn tampered_image_is_caught_by_the_manifest_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ds");
    let m = small_dataset(&dir);
    let img = m.files.keys().find(|k| k.starts_with("images/")).unwrap();
    fs::write(dir.join(img), fake_png("tampered")).unwrap();
    let p = problems(&dir);
    assert!(p.iter().any(|x| x.contains("hash mismatch")), "{p:#?}");
    // without hashing, the same dataset passes
    let r = validate(
        &dir,
        &ValidateOptions {
            check_hashes: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);
}

#[test]
fn non_image_bytes_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ds");
    let m = small_dataset(&dir);
    let img = m.files.keys().find(|k| k.starts_with("images/")).unwrap();
    fs::write(dir.join(img), b"this is not an image").unwrap();
    let p = problems(&dir);
    assert!(
        p.iter()
            .any(|x| x.contains("is not a PNG, JPEG, WebP or GIF image")),
        "{p:#?}"
    );
}

#[test]
fn reading_streams_large_files_line_by_line() {
    // 100k lines are read one at a time; the reader yields them in order with line numbers.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    let mut w = ksafe_core::DatasetWriter::create(&dir).unwrap();
    for i in 0..100_000 {
        let s = ksafe_core::Sample::new(
            ksafe_core::Subset::C,
            ksafe_core::Category::Violence,
            "ko",
            &format!("질문 {i}"),
        );
        w.write(&s).unwrap();
    }
    w.finish(Default::default()).unwrap();
    let ds = ksafe_core::Dataset::open(&dir).unwrap();
    let mut n = 0;
    for item in ds.samples().unwrap() {
        let (line, s) = item.unwrap();
        n += 1;
        assert_eq!(line, n);
        if n == 100_000 {
            assert_eq!(s.text, "질문 99999");
        }
    }
    assert_eq!(n, 100_000);
}
