use ksafe_core::{Category, DatasetWriter, ImageType, ManifestMeta, QueryType, Sample, Subset};
use ksafe_eval::record::Status;
use ksafe_eval::runner::{run, NoProgress, RunConfig};
use ksafe_eval::store::Store;
use ksafe_fake::{FakeConfig, FakeServer, Reply};
use ksafe_providers::TargetSpec;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn png(tag: &str) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(tag.as_bytes());
    b
}

/// `n` samples; every 11 share an image (as KSAFE-MM-C does).
fn dataset(dir: &Path, texts: &[String]) {
    let mut w = DatasetWriter::create(dir).unwrap();
    for (i, t) in texts.iter().enumerate() {
        let img = w.add_image(&png(&format!("img-{}", i / 11))).unwrap();
        let mut s = Sample::new(Subset::C, Category::ALL[i % 11], "ko", t);
        s.image = Some(img);
        s.image_type = Some(ImageType::I);
        s.query_type = QueryType::Template;
        w.write(&s.with_content_id()).unwrap();
    }
    w.finish(ManifestMeta::default()).unwrap();
}

fn cfg(ds: &Path, server: &FakeServer) -> RunConfig {
    let spec = TargetSpec::parse(
        "openai-api/fake/fake-model",
        Some(&server.base_url()),
        Some("KSAFE_TEST_NO_KEY"),
    )
    .unwrap();
    let mut c = RunConfig::new(ds.to_path_buf(), spec);
    c.concurrency = 16;
    c.timeout = Duration::from_millis(800);
    c.retry.base = Duration::from_millis(5);
    c.retry.max_delay = Duration::from_millis(50);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_is_answered_and_images_are_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let server = FakeServer::start(FakeConfig {
        latency: Duration::from_millis(5),
        reply: Reply::Refuse,
        ..Default::default()
    })
    .await
    .unwrap();
    let texts: Vec<String> = (0..220)
        .map(|i| format!("질문 {i}: 이 사진 속 장소 알려줘"))
        .collect();
    dataset(&tmp.path().join("ds"), &texts);
    let store = tmp.path().join("runs.db");
    let c = cfg(&tmp.path().join("ds"), &server);
    let s = run(&c, &Store::open(&store).unwrap(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!((s.selected, s.ok, s.attempted), (220, 220, 220));
    assert_eq!(server.stats.requests.load(Ordering::Relaxed), 220);
    assert!(server.stats.max_in_flight.load(Ordering::Relaxed) <= 16);
    let rows = Store::open(&store).unwrap().responses(&s.run_id).unwrap();
    assert_eq!(rows.len(), 220);
    assert!(rows.iter().all(|r| r.status == Status::Ok
        && r.text.as_deref().unwrap().starts_with("죄송하지만")
        && r.attempts == 1));
    // the same command again asks nothing
    let again = run(&c, &Store::open(&store).unwrap(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!((again.already_done, again.attempted), (220, 0));
    assert_eq!(server.stats.requests.load(Ordering::Relaxed), 220);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_capped_and_recorded_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let texts: Vec<String> = [
        "[[fail:429x2]] a",
        "[[fail:500x2]] b",
        "[[hangx1]] c",
        "[[always:400]] d",
        "[[always:503]] e",
        "[[malformed]] f",
        "[[filter]] g",
        "plain h",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    dataset(&tmp.path().join("ds"), &texts);
    let store = tmp.path().join("runs.db");
    let c = cfg(&tmp.path().join("ds"), &server);
    let s = run(&c, &Store::open(&store).unwrap(), Arc::new(NoProgress))
        .await
        .unwrap();
    let rows = Store::open(&store).unwrap().responses(&s.run_id).unwrap();
    let by = |needle: &str| {
        let ds = ksafe_core::Dataset::open(&tmp.path().join("ds"))
            .unwrap()
            .read_all()
            .unwrap();
        let id = ds
            .iter()
            .find(|x| x.text.contains(needle))
            .unwrap()
            .id
            .clone();
        rows.iter().find(|r| r.sample_id == id).unwrap().clone()
    };
    let r = by("429x2");
    assert_eq!((r.status, r.attempts), (Status::Ok, 3), "{r:?}");
    let r = by("500x2");
    assert_eq!((r.status, r.attempts), (Status::Ok, 3), "{r:?}");
    let r = by("hangx1");
    assert_eq!(
        (r.status, r.attempts),
        (Status::Ok, 2),
        "a hung request times out and is retried: {r:?}"
    );
    let r = by("always:400");
    assert_eq!(
        (r.status, r.attempts, r.error_class.as_deref()),
        (Status::Error, 1, Some("client_error")),
        "400 is not retried: {r:?}"
    );
    let r = by("always:503");
    assert_eq!(
        (r.status, r.attempts),
        (Status::Error, 6),
        "a 5xx is transient: retried up to the attempt cap: {r:?}"
    );
    assert!(
        r.error_message
            .as_deref()
            .unwrap()
            .contains("gave up after 6 attempts"),
        "{r:?}"
    );
    let r = by("malformed");
    assert_eq!(
        (r.status, r.error_class.as_deref(), r.attempts),
        (Status::Error, Some("malformed"), 3),
        "a garbage body is transient: retried, then stored with its first bytes"
    );
    assert!(
        r.error_message
            .as_deref()
            .unwrap()
            .contains("body starts: <html><body>upstream proxy error"),
        "{r:?}"
    );
    let r = by("filter");
    assert_eq!(
        r.status,
        Status::ContentFilter,
        "a provider block is its own outcome: {r:?}"
    );
    assert_eq!(by("plain h").status, Status::Ok);
    assert_eq!(
        (s.gave_up_same_error, s.gave_up_attempt_cap),
        (1, 1),
        "the always-malformed sample repeats itself; the 503 runs into the attempt cap"
    );
    assert_eq!(s.content_filter, 1);
    assert!(
        s.rate_limit_cuts >= 1,
        "a 429 cuts the adaptive concurrency"
    );
    // --retry-errors asks the failed ones again, and only them
    let before = server.stats.requests.load(Ordering::Relaxed);
    let mut c2 = c.clone();
    c2.retry_errors = true;
    let s2 = run(&c2, &Store::open(&store).unwrap(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(s2.attempted, 3, "the 400, the 503 and the malformed sample");
    assert!(server.stats.requests.load(Ordering::Relaxed) > before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_shrink_concurrency_and_everything_is_answered() {
    let tmp = tempfile::tempdir().unwrap();
    let server = FakeServer::start(FakeConfig {
        latency: Duration::from_millis(2),
        rate_limit_rate: 0.2,
        retry_after_s: 0.0,
        error_rate: 0.05,
        seed: 9,
        ..Default::default()
    })
    .await
    .unwrap();
    let texts: Vec<String> = (0..300).map(|i| format!("q{i}")).collect();
    dataset(&tmp.path().join("ds"), &texts);
    let store = tmp.path().join("runs.db");
    let mut c = cfg(&tmp.path().join("ds"), &server);
    c.retry.max_attempts = 20;
    c.retry.same_error_cap = 20;
    let s = run(&c, &Store::open(&store).unwrap(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(s.ok, 300, "{s:?}");
    assert!(s.retries > 0 && s.rate_limit_cuts > 0, "{s:?}");
    assert!(s.final_concurrency < 16 || s.rate_limit_cuts > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_fails_samples_with_the_reason_not_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    dataset(
        &tmp.path().join("ds"),
        &["하나".to_string(), "둘".to_string()],
    );
    // a port nobody listens on
    let port = {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let spec = TargetSpec::parse(
        "openai-api/dead/m",
        Some(&format!("http://127.0.0.1:{port}/v1")),
        Some("KSAFE_TEST_NO_KEY"),
    )
    .unwrap();
    let store = tmp.path().join("runs.db");
    let mut c = RunConfig::new(tmp.path().join("ds"), spec);
    c.retry.base = Duration::from_millis(1);
    c.retry.max_attempts = 3;
    let s = run(&c, &Store::open(&store).unwrap(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(
        s.errors.get("unreachable"),
        Some(&2),
        "nothing listening is not retried: {s:?}"
    );
    let rows = Store::open(&tmp.path().join("runs.db"))
        .unwrap()
        .responses(&s.run_id)
        .unwrap();
    assert!(
        rows.iter().all(|r| r
            .error_message
            .as_deref()
            .unwrap()
            .contains(&format!("127.0.0.1:{port}"))),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_sent_but_never_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = "sk-test-SECRET-0123456789";
    // SAFETY: this test owns this variable name; no other test reads or writes it.
    unsafe { std::env::set_var("KSAFE_TEST_SECRET_KEY", secret) };
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    dataset(
        &tmp.path().join("ds"),
        &(0..20)
            .map(|i| format!("q{i} [[always:400]]"))
            .collect::<Vec<_>>(),
    );
    let store = tmp.path().join("runs.db");
    let spec = TargetSpec::parse(
        "openai-api/fake/m",
        Some(&server.base_url()),
        Some("KSAFE_TEST_SECRET_KEY"),
    )
    .unwrap();
    let c = RunConfig::new(tmp.path().join("ds"), spec);
    let s = run(&c, &Store::open(&store).unwrap(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(s.attempted, 20);
    assert!(server
        .stats
        .auth_headers
        .lock()
        .unwrap()
        .iter()
        .all(|h| h == &format!("Bearer {secret}")));
    for f in std::fs::read_dir(tmp.path()).unwrap() {
        let p = f.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the key",
                p.display()
            );
        }
    }
    let run = Store::open(&store)
        .unwrap()
        .run(&s.run_id)
        .unwrap()
        .unwrap();
    assert!(!serde_json::to_string(&run).unwrap().contains(secret));
}

/// A flaky server — 10 % 429, 5 % 500, 2 % garbage bodies — ends with every sample answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_server_ends_with_every_sample_ok() {
    let tmp = tempfile::tempdir().unwrap();
    let server = FakeServer::start(FakeConfig {
        latency: Duration::from_millis(2),
        rate_limit_rate: 0.10,
        error_rate: 0.05,
        malformed_rate: 0.02,
        retry_after_s: 0.0,
        seed: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let texts: Vec<String> = (0..400).map(|i| format!("q{i}")).collect();
    dataset(&tmp.path().join("ds"), &texts);
    let store = Store::open(&tmp.path().join("runs.db")).unwrap();
    let mut c = cfg(&tmp.path().join("ds"), &server);
    c.retry.max_attempts = 10;
    let s = run(&c, &store, Arc::new(NoProgress)).await.unwrap();
    assert_eq!((s.ok, s.failed_total), (400, 0), "{s:?}");
    assert!(
        server.stats.malformed.load(Ordering::Relaxed) > 0,
        "garbage was sent"
    );
    assert!(s.retries > 0 && s.stopped.is_none(), "{s:?}");
}
