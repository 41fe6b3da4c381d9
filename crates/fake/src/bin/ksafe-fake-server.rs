//! `ksafe-fake-server [--port N] [--latency-ms N] [--error-rate P] [--rate-limit-rate P]
//! [--retry-after S] [--hang-rate P] [--malformed-rate P] [--reply refuse|comply|echo] [--seed N]`
//!
//! A fake OpenAI-compatible server on 127.0.0.1 for trying ksafe without a model.

use ksafe_fake::{FakeConfig, FakeServer, Reply};
use std::time::Duration;

fn main() {
    let mut cfg = FakeConfig::default();
    let mut port = 8000u16;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let val = |i: usize| -> &str {
        args.get(i + 1).map(String::as_str).unwrap_or_else(|| {
            eprintln!("missing value after {}", args[i]);
            std::process::exit(2)
        })
    };
    let num = |s: &str| -> f64 {
        s.parse().unwrap_or_else(|_| {
            eprintln!("'{s}' is not a number");
            std::process::exit(2)
        })
    };
    while i < args.len() {
        match args[i].as_str() {
            "--port" => port = num(val(i)) as u16,
            "--latency-ms" => cfg.latency = Duration::from_secs_f64(num(val(i)) / 1000.0),
            "--error-rate" => cfg.error_rate = num(val(i)),
            "--rate-limit-rate" => cfg.rate_limit_rate = num(val(i)),
            "--retry-after" => cfg.retry_after_s = num(val(i)),
            "--hang-rate" => cfg.hang_rate = num(val(i)),
            "--malformed-rate" => cfg.malformed_rate = num(val(i)),
            "--seed" => cfg.seed = num(val(i)) as u64,
            "--reply" => {
                cfg.reply = match val(i) {
                    "refuse" => Reply::Refuse,
                    "comply" => Reply::Comply,
                    "echo" => Reply::Echo,
                    o => {
                        eprintln!("unknown reply '{o}'");
                        std::process::exit(2)
                    }
                }
            }
            "-h" | "--help" => {
                println!(
                    "{}",
                    include_str!("ksafe-fake-server.rs")
                        .lines()
                        .take(4)
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                return;
            }
            other => {
                eprintln!("unknown option '{other}' (see --help)");
                std::process::exit(2)
            }
        }
        i += 2;
    }
    let workers = std::env::var("KSAFE_FAKE_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let server = FakeServer::start_on(cfg, port).await.unwrap_or_else(|e| {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(2)
        });
        println!("fake OpenAI-compatible server on {}", server.base_url());
        std::future::pending::<()>().await;
    });
}
