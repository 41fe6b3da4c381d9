//! A run that measured nothing never passes for a measurement: an unusable target is stopped
//! within a few requests with a message naming the fix, exit codes tell the truth, a changed
//! dataset is refused, a key echoed by a server is stored nowhere, and a long run shows life in
//! a pipe.

use ksafe_core::{Category, DatasetWriter, ManifestMeta, Sample, Subset};
use ksafe_fake::{FakeConfig, FakeServer};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
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
            &format!("질문 {i}: 이 사진 속 사람 찾아줘"),
        ))
        .unwrap();
    }
    w.finish(ManifestMeta::default()).unwrap();
}

fn eval(ds: &Path, db: &Path, base_url: &str, extra: &[&str]) -> (Option<i32>, String, Duration) {
    let t = Instant::now();
    let out = ksafe()
        .args(["eval", "--dataset"])
        .arg(ds)
        .args([
            "--target",
            "openai-api/fake/m",
            "--base-url",
            base_url,
            "--store",
        ])
        .arg(db)
        .args(extra)
        .env("FAKE_API_KEY", "sk-test-SECRETSECRETSECRET0001")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
        t.elapsed(),
    )
}

#[test]
fn an_unusable_target_is_stopped_in_a_few_requests_with_the_fix() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (status, class, fix) in [
        (401, "auth", "$FAKE_API_KEY"),
        (404, "not_found", "--base-url"),
    ] {
        let server = rt
            .block_on(FakeServer::start(FakeConfig {
                status_all: Some(status),
                ..Default::default()
            }))
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let (ds, db) = (tmp.path().join("ds"), tmp.path().join("runs.db"));
        dataset(&ds, 300);
        let (code, err, took) = eval(&ds, &db, &server.base_url(), &[]);
        let sent = server.stats.requests.load(Ordering::Relaxed);
        assert_eq!(code, Some(4), "{status}: {err}");
        assert!(took < Duration::from_secs(10), "{status}: took {took:?}");
        assert!(sent <= 25, "{status}: {sent} requests sent");
        assert!(
            err.contains("stopped openai-api/fake/m")
                && err.contains(fix)
                && err.contains("--retry-errors"),
            "{status}: {err}"
        );
        // no failure rows for samples never asked
        let c = rusqlite::Connection::open(&db).unwrap();
        let rows: i64 = c
            .query_row("SELECT COUNT(*) FROM responses", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows as u64, sent, "{status}: one row per asked sample");
        let classes: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM responses WHERE error_class = ?1",
                [class],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(classes, rows, "{status}: stored as {class}");
        // re-running says what is stored and how to ask again
        let (_, again, _) = eval(&ds, &db, &server.base_url(), &[]);
        assert!(
            again.contains(&format!("{rows} of them failed: {class} {rows}"))
                && again.contains("--retry-errors"),
            "{again}"
        );
    }
    // a dead port
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let (ds, db) = (tmp.path().join("ds"), tmp.path().join("runs.db"));
    dataset(&ds, 300);
    let (code, err, took) = eval(&ds, &db, &format!("http://127.0.0.1:{port}/v1"), &[]);
    assert_eq!(code, Some(4), "{err}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        err.contains("nothing answers at http://127.0.0.1:"),
        "{err}"
    );
    let c = rusqlite::Connection::open(&db).unwrap();
    let rows: i64 = c
        .query_row("SELECT COUNT(*) FROM responses", [], |r| r.get(0))
        .unwrap();
    assert!(rows <= 25, "{rows} samples asked of a dead port");
    // the breaker can be turned off
    let (code, _, _) = eval(
        &ds,
        &db,
        &format!("http://127.0.0.1:{port}/v1"),
        &["--no-breaker", "--retry-errors", "--limit", "40"],
    );
    assert_eq!(code, Some(3), "finished, with failed samples");
}

#[test]
fn an_echoed_key_is_stored_printed_and_exported_nowhere() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(FakeServer::start(FakeConfig {
            status_all: Some(400),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (ds, db) = (tmp.path().join("ds"), tmp.path().join("runs.db"));
    dataset(&ds, 5);
    let secret = "sk-test-SECRETSECRETSECRET0001";
    let url = format!("http://user:hunter2password@{}/v1", server.addr);
    let (code, err, _) = eval(&ds, &db, &url, &[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        server
            .stats
            .auth_headers
            .lock()
            .unwrap()
            .iter()
            .any(|h| h.contains(secret)),
        "the key was sent"
    );
    assert!(
        !err.contains(secret) && !err.contains("hunter2password"),
        "{err}"
    );
    let export = ksafe()
        .args(["runs", "export", "--store"])
        .arg(&db)
        .arg(
            String::from_utf8_lossy(
                &ksafe()
                    .args(["runs", "list", "--store"])
                    .arg(&db)
                    .output()
                    .unwrap()
                    .stdout,
            )
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap(),
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&export.stdout);
    assert!(
        text.contains("[redacted]"),
        "the echo is kept, the key is not: {text}"
    );
    for f in std::fs::read_dir(tmp.path()).unwrap() {
        let p = f.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            for s in [secret, "hunter2password"] {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "{} holds {s}",
                    p.display()
                );
            }
        }
    }
    assert!(!text.contains(secret));
}

#[test]
fn a_changed_dataset_is_refused_before_anything_is_spent() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    dataset(&ds, 10);
    let samples = ds.join("samples.jsonl");
    let text = std::fs::read_to_string(&samples).unwrap();
    let trimmed: Vec<&str> = text.lines().take(5).collect();
    std::fs::write(&samples, trimmed.join("\n") + "\n").unwrap();
    let out = ksafe()
        .args(["eval", "--dataset"])
        .arg(&ds)
        .args(["--target", "mock/refuse", "--store"])
        .arg(tmp.path().join("runs.db"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("samples.jsonl does not match the manifest")
            && err.contains("ksafe data reindex"),
        "{err}"
    );
}

#[test]
fn usage_errors_for_counts_of_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    dataset(&ds, 3);
    for flag in ["--concurrency", "--limit", "--max-attempts", "--rpm"] {
        let out = ksafe()
            .args(["eval", "--dataset"])
            .arg(&ds)
            .args(["--target", "mock/refuse", flag, "0"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("must be at least 1"),
            "{flag}"
        );
    }
}

#[test]
fn a_long_run_shows_life_in_a_pipe() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(FakeServer::start(FakeConfig {
            latency: Duration::from_millis(200),
            ..Default::default()
        }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    dataset(&ds, 400);
    let mut child = ksafe()
        .args(["eval", "--dataset"])
        .arg(&ds)
        .args([
            "--target",
            "openai-api/fake/m",
            "--base-url",
            &server.base_url(),
            "--concurrency",
            "2",
            "--store",
        ])
        .arg(tmp.path().join("runs.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let t = Instant::now();
    let mut seen = None;
    while t.elapsed() < Duration::from_secs(15) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("/400 · ok ") {
                seen = Some(line);
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let line = seen.expect("a progress line within 15 s");
    assert!(line.contains("/s · eta "), "{line}");
}

#[test]
fn a_failed_import_leaves_nothing_and_validate_refuses_leftovers() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.parquet");
    std::fs::write(&bad, b"PAR1 this is not a parquet file PAR1").unwrap();
    let out_dir = tmp.path().join("imported");
    let out = ksafe()
        .args(["data", "import", "--from", "parquet"])
        .arg(&bad)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!out_dir.exists(), "a failed import leaves no directory");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // a directory with samples but no manifest, or with no samples, is not ok
    let half = tmp.path().join("half");
    std::fs::create_dir_all(&half).unwrap();
    std::fs::write(half.join("samples.jsonl"), "").unwrap();
    let v = ksafe()
        .args(["data", "validate"])
        .arg(&half)
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(1));
    let err = String::from_utf8_lossy(&v.stderr);
    assert!(
        err.contains("no manifest.json") && err.contains("no samples"),
        "{err}"
    );
}
