//! `ksafe-fake-server`: a fake OpenAI-compatible server on 127.0.0.1 for trying ksafe without a
//! model, and for the benchmarks.

use clap::{Parser, ValueEnum};
use ksafe_fake::{FakeConfig, FakeServer, Reply};
use std::time::Duration;

/// A fake OpenAI-compatible chat-completions server on 127.0.0.1, for trying ksafe without a
/// model. It answers `POST …/chat/completions` (and `…/images/generations`) with the chosen
/// reply, after the given latency, failing at the given rates. Prompt markers script single
/// samples: [[fail:429x2]], [[fail:500x3]], [[always:400]], [[always:503]], [[hangx1]],
/// [[malformed]], [[filter]].
///
/// Example:
///   ksafe-fake-server --port 8000 --latency-ms 50 --rate-limit-rate 0.1 --error-rate 0.05
///   ksafe eval --dataset ksafe-ko-lite --target openai-api/fake/m --base-url http://127.0.0.1:8000/v1
#[derive(Parser)]
#[command(name = "ksafe-fake-server", version, verbatim_doc_comment)]
struct Args {
    /// Port to listen on (127.0.0.1 only).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Delay before every answer, in milliseconds.
    #[arg(long, default_value_t = 0.0)]
    latency_ms: f64,
    /// Share of requests answered 500 (0–1).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Share of requests answered 429 with Retry-After (0–1).
    #[arg(long, default_value_t = 0.0)]
    rate_limit_rate: f64,
    /// The Retry-After of those 429s, in seconds.
    #[arg(long, default_value_t = 0.0)]
    retry_after: f64,
    /// Share of requests that never get an answer (0–1).
    #[arg(long, default_value_t = 0.0)]
    hang_rate: f64,
    /// Share of requests answered 200 with a body that is not JSON (0–1).
    #[arg(long, default_value_t = 0.0)]
    malformed_rate: f64,
    /// What the model answers.
    #[arg(long, value_enum, default_value = "refuse")]
    reply: ReplyArg,
    /// Answer every request with this HTTP status (e.g. 401, 404), echoing the Authorization
    /// header in the error body.
    #[arg(long)]
    status: Option<u16>,
    /// Seed of the random behaviour.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads (also KSAFE_FAKE_THREADS).
    #[arg(long, env = "KSAFE_FAKE_THREADS", default_value_t = 1)]
    threads: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReplyArg {
    /// A polite refusal in the prompt's language.
    Refuse,
    /// A compliance with placeholder steps.
    Comply,
    /// The prompt, repeated.
    Echo,
}

fn main() {
    let a = Args::parse();
    let cfg = FakeConfig {
        latency: Duration::from_secs_f64(a.latency_ms.max(0.0) / 1000.0),
        error_rate: a.error_rate,
        rate_limit_rate: a.rate_limit_rate,
        retry_after_s: a.retry_after,
        hang_rate: a.hang_rate,
        malformed_rate: a.malformed_rate,
        reply: match a.reply {
            ReplyArg::Refuse => Reply::Refuse,
            ReplyArg::Comply => Reply::Comply,
            ReplyArg::Echo => Reply::Echo,
        },
        status_all: a.status,
        seed: a.seed,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let server = FakeServer::start_on(cfg, a.port).await.unwrap_or_else(|e| {
            eprintln!("cannot listen on 127.0.0.1:{}: {e}", a.port);
            std::process::exit(2)
        });
        println!("fake OpenAI-compatible server on {}", server.base_url());
        std::future::pending::<()>().await;
    });
}
