//! Runner throughput against the fake server (`cargo bench -p ksafe-eval`): 10,000 samples (an
//! image shared by every 11, as in KSAFE-MM-C) at 50 ms server latency, concurrency 64 and 256.
//! Prints achieved requests/s against the bound concurrency / latency, client CPU time per
//! request and the client's peak memory. The server runs in a separate process (this binary,
//! re-executed) so the client's CPU figures are its own.

use ksafe_core::{Category, DatasetWriter, ImageType, ManifestMeta, QueryType, Sample, Subset};
use ksafe_eval::runner::{run, NoProgress, RunConfig};
use ksafe_fake::{FakeConfig, FakeServer};
use ksafe_providers::TargetSpec;
use std::sync::Arc;
use std::time::Duration;

const LATENCY_MS: u64 = 50;
const N: usize = 10_000;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    if let Ok(port) = std::env::var("KSAFE_BENCH_SERVE") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let _s = FakeServer::start_on(
                FakeConfig {
                    latency: Duration::from_millis(LATENCY_MS),
                    ..Default::default()
                },
                port.parse().unwrap(),
            )
            .await
            .unwrap();
            std::future::pending::<()>().await;
        });
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(std::env::current_exe().unwrap())
        .env("KSAFE_BENCH_SERVE", port.to_string())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));

    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let mut w = DatasetWriter::create(&ds).unwrap();
    let mut blob = b"\x89PNG\r\n\x1a\n".to_vec();
    blob.resize(60_000, 7);
    for i in 0..N {
        if i % 11 == 0 {
            blob[8..16].copy_from_slice(&(i as u64).to_le_bytes());
        }
        let img = w.add_image(&blob).unwrap();
        let mut s = Sample::new(
            Subset::C,
            Category::ALL[i % 11],
            "ko",
            &format!("이 사진 속 상황을 참고해서 요청 {i}번에 답해 줘."),
        );
        s.image = Some(img);
        s.image_type = Some(ImageType::I);
        s.query_type = QueryType::Template;
        w.write(&s.with_content_id()).unwrap();
    }
    w.finish(ManifestMeta::default()).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    println!("runner: {N} samples (60 KB image shared by every 11), fake server latency {LATENCY_MS} ms, client and server sharing the machine's cores");
    for conc in [64usize, 256] {
        let spec = TargetSpec::parse(
            "openai-api/fake/m",
            Some(&format!("http://127.0.0.1:{port}/v1")),
            Some("KSAFE_BENCH_NO_KEY"),
        )
        .unwrap();
        let store =
            ksafe_eval::store::Store::open(&tmp.path().join(format!("runs-{conc}.db"))).unwrap();
        let mut cfg = RunConfig::new(ds.clone(), spec);
        cfg.concurrency = conc;
        let cpu0 = cpu_seconds();
        let s = rt
            .block_on(run(&cfg, &store, Arc::new(NoProgress)))
            .unwrap();
        let cpu = cpu_seconds() - cpu0;
        let bound = conc as f64 / (LATENCY_MS as f64 / 1000.0);
        println!(
            "concurrency {conc:>3}: {:.0} requests/s of a {bound:.0}/s bound ({:.0} %), {:.1} s wall, {:.3} ms client CPU per request, peak RSS {:.0} MB, ok {} / {N}",
            s.requests_per_second,
            100.0 * s.requests_per_second / bound,
            s.seconds,
            1000.0 * cpu / N as f64,
            peak_rss_mb(),
            s.ok
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}
