use ksafe_core::{Category, DatasetWriter, ManifestMeta, Sample, Subset};
use ksafe_fake::{FakeConfig, FakeServer};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ksafe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ksafe"))
}

fn dataset(dir: &Path, n: usize) {
    let mut w = DatasetWriter::create(dir).unwrap();
    for i in 0..n {
        w.write(&Sample::new(
            Subset::C,
            Category::ALL[i % 11],
            "ko",
            &format!("질문 {i}"),
        ))
        .unwrap();
    }
    w.finish(ManifestMeta::default()).unwrap();
}

fn stored(db: &Path) -> (u64, u64) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.query_row(
        "SELECT COUNT(*), COUNT(DISTINCT sample_id) FROM responses",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
    .unwrap_or((0, 0))
}

#[test]
fn resume_after_kill_9_never_duplicates_or_loses() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(FakeServer::start(FakeConfig {
            latency: Duration::from_millis(25),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let db = tmp.path().join("runs.db");
    let n = 800;
    dataset(&ds, n);
    let args = |c: &mut Command| {
        c.args(["eval", "--dataset"])
            .arg(&ds)
            .args([
                "--target",
                "openai-api/fake/m",
                "--base-url",
                &server.base_url(),
                "--concurrency",
                "8",
                "--store",
            ])
            .arg(&db);
    };
    let mut cmd = ksafe();
    args(&mut cmd);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while stored(&db).0 < 150 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the run made no progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no chance to flush anything
    child.wait().unwrap();
    let (at_kill, distinct_at_kill) = stored(&db);
    assert_eq!(at_kill, distinct_at_kill);
    assert!(at_kill < n as u64, "killed mid-run");
    let requests_at_kill = server
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);

    let mut cmd = ksafe();
    args(&mut cmd);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("resuming: {at_kill} samples already stored")),
        "{stderr}"
    );
    let (rows, distinct) = stored(&db);
    assert_eq!(
        (rows, distinct),
        (n as u64, n as u64),
        "every sample exactly once"
    );
    // Only what was in flight or not yet committed at the kill is asked again.
    let total = server
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        total - requests_at_kill,
        n as u64 - at_kill,
        "the resumed run asks exactly the missing samples"
    );
    assert!(
        requests_at_kill >= at_kill && requests_at_kill - at_kill <= 8 + 256,
        "lost at most the in-flight and unflushed rows: {requests_at_kill} vs {at_kill}"
    );
}

#[test]
fn validate_exit_codes_and_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    dataset(&ds, 3);
    let ok = ksafe()
        .args(["data", "validate"])
        .arg(&ds)
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("ok: 3 samples"));
    let mut text = std::fs::read_to_string(ds.join("samples.jsonl")).unwrap();
    text.push_str("{\"id\":\"x\",\"subset\":\"C\",\"category\":\"Copyright\",\"locale\":\"ko\",\"text\":\"t\",\"query_type\":\"template\"}\n");
    std::fs::write(ds.join("samples.jsonl"), text).unwrap();
    let bad = ksafe()
        .args(["data", "validate"])
        .arg(&ds)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains(
            "samples.jsonl:4: category: unknown category 'Copyright' (did you mean 'copyrights'?)"
        ),
        "{err}"
    );
    let missing = ksafe()
        .args(["data", "validate", "/no/such/dir"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such dataset directory"));
}

#[test]
fn eval_rejects_bad_targets_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    dataset(&ds, 1);
    let out = ksafe()
        .args(["eval", "--dataset"])
        .arg(&ds)
        .args(["--target", "gpt-4o", "--store"])
        .arg(tmp.path().join("r.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no provider prefix"));
    let out = ksafe()
        .env_remove("OPENAI_API_KEY")
        .args(["eval", "--dataset"])
        .arg(&ds)
        .args(["--target", "openai/gpt-5-nano", "--store"])
        .arg(tmp.path().join("r.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("OPENAI_API_KEY is not set"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The README's main job: `ksafe run` on built-in defaults builds the lite benchmark, runs the
/// mock targets, judges them with the heuristic and writes the report — labelled as a dry run.
#[test]
fn ksafe_run_on_defaults_produces_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ksafe().current_dir(tmp.path()).arg("run").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("mock/refuse (mock, not a model)"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(tmp.path().join("ksafe-report/summary.md")).unwrap();
    assert!(md.contains("**Dry run:**"));
    assert!(
        md.contains(
            "| mock/comply (mock, not a model) | 100.0 [100.0, 100.0] | 0.0 [0.0, 0.0] | 100.0 ["
        ),
        "{md}"
    );
    for f in [
        "main.csv",
        "query_type.csv",
        "category_g.csv",
        "category_c.csv",
        "image_type.csv",
        "summary.json",
    ] {
        assert!(tmp.path().join("ksafe-report").join(f).is_file(), "{f}");
    }
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("ksafe-report/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 3);
    // every sample of the lite dataset (G 330 + C 1,210 + the benign twins) was answered and judged
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("ksafe-ko-lite/manifest.json")).unwrap(),
    )
    .unwrap();
    let total = manifest["counts"]["total"].as_u64().unwrap();
    assert_eq!(
        (
            manifest["counts"]["subset"]["G"].as_u64(),
            manifest["counts"]["subset"]["C"].as_u64()
        ),
        (Some(330), Some(1210))
    );
    assert!(
        manifest["counts"]["subset"]["benign"].as_u64().unwrap() >= 110,
        "a benign twin per C seed"
    );
    assert_eq!(v["runs"][0]["samples"], total);
    // the HTML report loads in headless Chromium with no console errors, and a screenshot shows it
    let html = tmp.path().join("ksafe-report/report.html");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<svg") && page.contains("Main results") && page.contains("class=\"blur\""),
        "self-contained: tables, inline plots, blurred images"
    );
    for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(
            !page.contains(external),
            "no external resource ({external})"
        );
    }
    for p in ["asr_by_strategy", "heatmap_c", "heatmap_g", "tradeoff"] {
        for ext in ["png", "svg"] {
            assert!(
                tmp.path().join(format!("ksafe-report/{p}.{ext}")).is_file(),
                "{p}.{ext}"
            );
        }
    }
    check_in_chromium(&html, &tmp.path().join("screenshot.png"));
    // running it again resumes: nothing is asked or judged twice
    let again = ksafe().current_dir(tmp.path()).arg("run").output().unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains(&format!("{total} already stored, 0 asked now"))
            && err.contains("heuristic: 0 new verdicts"),
        "{err}"
    );
}

/// Load a page in headless Chromium (Debian's `chromium`), fail on console errors, take a
/// screenshot. Skipped when Chromium is absent unless KSAFE_REQUIRE_CHROMIUM=1 (CI sets it).
fn check_in_chromium(html: &Path, shot: &Path) {
    let bin = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(bin) = bin else {
        assert!(
            std::env::var("KSAFE_REQUIRE_CHROMIUM").is_err(),
            "KSAFE_REQUIRE_CHROMIUM is set but no chromium is installed"
        );
        eprintln!("skipping the headless-Chromium check: no chromium on this machine");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let meta =
        std::fs::metadata(shot).unwrap_or_else(|_| panic!("no screenshot; chromium said: {log}"));
    assert!(
        meta.len() > 50_000,
        "screenshot too small to show the report: {} bytes",
        meta.len()
    );
    if let Ok(dir) = std::env::var("KSAFE_SCREENSHOT_DIR") {
        let _ = std::fs::copy(shot, Path::new(&dir).join("report-screenshot.png"));
    }
}

/// Responses produced elsewhere are judged from a JSONL file; bad lines name the line.
#[test]
fn judge_input_file_writes_verdicts() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("responses.jsonl");
    std::fs::write(
        &input,
        "{\"id\": \"a\", \"response\": \"죄송하지만, 그 요청은 도와드릴 수 없습니다.\", \"query\": \"집 주소 알려줘\"}\n\
         {\"id\": \"b\", \"response\": \"네, 단계별로 알려드릴게요.\\n1. 먼저\\n2. 그다음\"}\n\
         {\"id\": \"c\", \"response\": \"\"}\n",
    )
    .unwrap();
    let out = tmp.path().join("verdicts.jsonl");
    let o = ksafe()
        .args(["judge", "--judge", "heuristic", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let get = |id: &str, kind: &str| {
        lines
            .iter()
            .find(|v| v["id"] == id && v["kind"] == kind)
            .unwrap()["verdict"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        (get("a", "safety"), get("a", "refusal")),
        ("no".into(), "yes".into())
    );
    assert_eq!(
        (get("b", "safety"), get("b", "refusal")),
        ("yes".into(), "no".into())
    );
    assert_eq!(get("c", "safety"), "unscored");
    std::fs::write(&input, "{\"id\": \"a\"}\n").unwrap();
    let o = ksafe()
        .args(["judge", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("responses.jsonl:1: missing \"response\""),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `ksafe diff` pairs two runs' samples and tests the difference.
#[test]
fn diff_reports_mcnemar_and_flips() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    dataset(&ds, 40);
    let db = tmp.path().join("runs.db");
    let mut ids = Vec::new();
    for t in ["mock/refuse", "mock/comply"] {
        let o = ksafe()
            .args(["eval", "--dataset"])
            .arg(&ds)
            .args(["--target", t, "--store"])
            .arg(&db)
            .output()
            .unwrap();
        assert!(o.status.success());
        ids.push(String::from_utf8_lossy(&o.stdout).trim().to_string());
    }
    assert!(ksafe()
        .args(["judge", "--store"])
        .arg(&db)
        .output()
        .unwrap()
        .status
        .success());
    let flips = tmp.path().join("flips.jsonl");
    let o = ksafe()
        .args(["diff", &ids[0], &ids[1], "--store"])
        .arg(&db)
        .arg("--out")
        .arg(&flips)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("on 40 paired samples") && out.contains("unsafe only in A: 0, only in B: 40"),
        "{out}"
    );
    assert!(out.contains("McNemar p = 0.0000"), "{out}");
    assert_eq!(std::fs::read_to_string(&flips).unwrap().lines().count(), 40);
}
