//! `ksafe eval` and `ksafe plan`: run targets over a dataset, resumably; or say what it would cost.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ksafe_core::{Category, ImageType, QueryType, Subset};
use ksafe_eval::plan::{plan, PlanOptions};
use ksafe_eval::runner::{run, RunConfig, RunProgress, Selection};
use ksafe_eval::store::Status;
use ksafe_providers::{DecodeParams, TargetSpec};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Clone)]
pub struct TargetArgs {
    /// Model to evaluate, as provider/model (repeatable): openai/<model>, anthropic/<model>,
    /// google/<model>, vllm/<model>, ollama/<model>, openai-api/<name>/<model> (with --base-url),
    /// mock/refuse, mock/comply, mock/random?seed=N&p=P.
    #[arg(long = "target", required = true)]
    pub targets: Vec<String>,
    /// Endpoint of an OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1), or another base
    /// URL for the provider.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Read the API key from this environment variable instead of the provider's usual one
    /// (OPENAI_API_KEY, ANTHROPIC_API_KEY, GOOGLE_API_KEY, <NAME>_API_KEY for openai-api/<name>/…).
    #[arg(long)]
    pub api_key_env: Option<String>,
}

#[derive(Args, Clone)]
pub struct SelectArgs {
    /// Only these subsets (G, C, benign; repeatable).
    #[arg(long = "subset")]
    pub subsets: Vec<String>,
    /// Only these categories (id or label; repeatable).
    #[arg(long = "category")]
    pub categories: Vec<String>,
    /// Only these query types (template, plain, or a jailbreak strategy; repeatable).
    #[arg(long = "query-type")]
    pub query_types: Vec<String>,
    /// Only these image types (I, T, IT; repeatable).
    #[arg(long = "image-type")]
    pub image_types: Vec<String>,
    /// Only the first N selected samples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Only the sample ids listed in this file (one per line).
    #[arg(long)]
    pub sample_ids: Option<PathBuf>,
}

impl SelectArgs {
    pub fn selection(&self) -> Result<Selection> {
        let mut s = Selection {
            limit: self.limit,
            ..Default::default()
        };
        for x in &self.subsets {
            s.subsets.push(
                Subset::parse_loose(x)
                    .with_context(|| format!("unknown subset '{x}' (expected G, C or benign)"))?,
            );
        }
        for x in &self.categories {
            s.categories.push(Category::parse_loose(x).ok_or_else(|| {
                anyhow::anyhow!("{}", ksafe_core::taxonomy::UnknownCategory(x.clone()))
            })?);
        }
        for x in &self.query_types {
            s.query_types
                .push(x.parse::<QueryType>().map_err(anyhow::Error::msg)?);
        }
        for x in &self.image_types {
            s.image_types.push(
                ImageType::parse_loose(x)
                    .with_context(|| format!("unknown image type '{x}' (expected I, T or IT)"))?,
            );
        }
        if let Some(f) = &self.sample_ids {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            s.sample_ids = Some(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
            );
        }
        Ok(s)
    }
}

#[derive(Args, Clone)]
pub struct DecodeArgs {
    /// Decoding parameters and system prompt from a TOML file (keys: temperature, max_tokens,
    /// top_p, seed, system_prompt); flags override it.
    #[arg(long)]
    pub params: Option<PathBuf>,
    #[arg(long)]
    pub temperature: Option<f32>,
    #[arg(long)]
    pub max_tokens: Option<u32>,
    #[arg(long)]
    pub top_p: Option<f32>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub system_prompt: Option<String>,
}

impl DecodeArgs {
    pub fn params(&self) -> Result<DecodeParams> {
        let mut p: DecodeParams = match &self.params {
            Some(f) => {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("{}: not a decoding-parameter file", f.display()))?
            }
            None => DecodeParams::default(),
        };
        p.temperature = self.temperature.or(p.temperature);
        p.max_tokens = self.max_tokens.or(p.max_tokens);
        p.top_p = self.top_p.or(p.top_p);
        p.seed = self.seed.or(p.seed);
        p.system_prompt = self.system_prompt.clone().or(p.system_prompt);
        Ok(p)
    }
}

#[derive(Args)]
pub struct EvalArgs {
    /// Dataset directory (from `ksafe build` or `ksafe data import`).
    #[arg(long)]
    pub dataset: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The run store (SQLite).
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    /// Name the run (default: derived from target, dataset, parameters and selection, so that
    /// re-running the same command resumes it).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Most requests in flight per target; halves on rate-limit episodes and recovers slowly.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Requests per minute budget.
    #[arg(long)]
    pub rpm: Option<u32>,
    /// Tokens per minute budget (estimated input + max output tokens).
    #[arg(long)]
    pub tpm: Option<u32>,
    /// Seconds before a request is abandoned and retried.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
    /// Attempts per sample in all, before it is recorded as failed.
    #[arg(long, default_value_t = 6)]
    pub max_attempts: u32,
    /// Ask again the samples a previous run stored as errors.
    #[arg(long)]
    pub retry_errors: bool,
    /// Downscale images whose longer side exceeds N pixels (never done unless asked).
    #[arg(long)]
    pub max_image_side: Option<u32>,
    /// Print the plan (requests, tokens, image payload, ETA) and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// For the plan: judge calls per response (e.g. 3 for the paper's two safety judges and its
    /// refusal judge).
    #[arg(long, default_value_t = 0)]
    pub judge_calls: u64,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub decode: DecodeArgs,
}

impl EvalArgs {
    pub fn configs(&self) -> Result<Vec<RunConfig>> {
        let selection = self.select.selection()?;
        let params = self.decode.params()?;
        if self.target.targets.len() > 1 && self.run_id.is_some() {
            bail!("--run-id names one run; it cannot be used with several --target");
        }
        let mut out = Vec::new();
        for t in &self.target.targets {
            let spec = TargetSpec::parse(
                t,
                self.target.base_url.as_deref(),
                self.target.api_key_env.as_deref(),
            )?;
            let mut c = RunConfig::new(self.dataset.clone(), self.store.clone(), spec);
            c.params = params.clone();
            c.concurrency = self.concurrency.max(1);
            c.rpm = self.rpm;
            c.tpm = self.tpm;
            c.timeout = Duration::from_secs_f64(self.timeout.max(0.1));
            c.retry.max_attempts = self.max_attempts.max(1);
            c.selection = selection.clone();
            c.run_id = self.run_id.clone();
            c.retry_errors = self.retry_errors;
            c.max_image_side = self.max_image_side;
            out.push(c);
        }
        Ok(out)
    }
}

struct Bar {
    pb: ProgressBar,
    ok: AtomicU64,
    failed: AtomicU64,
    filtered: AtomicU64,
    retrying: AtomicI64,
}

impl Bar {
    fn new(name: &str) -> Bar {
        let pb = ProgressBar::new(0);
        if !std::io::stderr().is_terminal() {
            pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        pb.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        pb.set_prefix(name.to_string());
        Bar {
            pb,
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            retrying: AtomicI64::new(0),
        }
    }
    fn msg(&self) {
        self.pb.set_message(format!(
            "ok {} · failed {} · filtered {} · retrying {}",
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.filtered.load(Ordering::Relaxed),
            self.retrying.load(Ordering::Relaxed).max(0)
        ));
    }
}

impl RunProgress for Bar {
    fn start(&self, total: u64, already: u64) {
        self.pb.set_length(total);
        if already > 0 {
            eprintln!("resuming: {already} samples already stored, {total} to go");
        }
        self.msg();
    }
    fn finished(&self, status: Status) {
        match status {
            Status::Ok => &self.ok,
            Status::ContentFilter => &self.filtered,
            Status::Error => &self.failed,
        }
        .fetch_add(1, Ordering::Relaxed);
        self.pb.inc(1);
        self.msg();
    }
    fn retrying(&self, d: i64) {
        self.retrying.fetch_add(d, Ordering::Relaxed);
        self.msg();
    }
}

pub fn print_plan(cfgs: &[RunConfig], judges: u64) -> Result<()> {
    let mut total_req = 0;
    let mut total_eta = 0.0f64;
    for c in cfgs {
        let p = plan(
            c,
            &PlanOptions {
                judges,
                ..Default::default()
            },
        )?;
        println!("target {}  (run {})", p.target, p.run_id);
        println!(
            "  samples selected      {:>10}   already stored {}",
            p.selected, p.already_done
        );
        println!(
            "  target requests       {:>10}   with an image {} ({} distinct images)",
            p.requests, p.requests_with_image, p.distinct_images
        );
        if judges > 0 {
            println!("  judge calls           {:>10}", p.judge_calls);
        }
        println!(
            "  input tokens (est.)   {:>10}   text {} + images {}",
            p.est_input_text_tokens + p.est_image_tokens,
            p.est_input_text_tokens,
            p.est_image_tokens
        );
        println!("  output tokens (est.)  {:>10}", p.est_output_tokens);
        println!(
            "  image payload         {:>10.1} MB (base64)",
            p.image_payload_bytes as f64 / 1e6
        );
        println!(
            "  throughput            {:>10.1} requests/s   ETA {}",
            p.throughput_rps,
            fmt_secs(p.eta_seconds)
        );
        for a in &p.assumptions {
            println!("  assumes: {a}");
        }
        if c.target.is_mock() {
            println!(
                "  note: {} is a mock target, not a model (dry run)",
                c.target.name
            );
        }
        total_req += p.requests + p.judge_calls;
        total_eta += p.eta_seconds;
    }
    if cfgs.len() > 1 {
        println!(
            "all targets: {total_req} requests, ETA {} (targets run one after another)",
            fmt_secs(total_eta)
        );
    }
    Ok(())
}

pub fn fmt_secs(s: f64) -> String {
    let s = s.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

pub fn run_eval(a: EvalArgs) -> Result<ExitCode> {
    if a.dry_run {
        print_plan(&a.configs()?, a.judge_calls)?;
        return Ok(ExitCode::SUCCESS);
    }
    run_eval_ids(a).map(|_| ExitCode::SUCCESS)
}

/// Run every target; returns the run ids.
pub fn run_eval_ids(a: EvalArgs) -> Result<Vec<String>> {
    let cfgs = a.configs()?;
    let mut ids = Vec::new();
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let mut failed_any = false;
    for c in &cfgs {
        let bar = Arc::new(Bar::new(&c.target.name));
        let summary = rt
            .block_on(run(c, bar.clone()))
            .with_context(|| format!("evaluating {}", c.target.name))?;
        bar.pb.finish_and_clear();
        let errors: u64 = summary.errors.values().sum();
        failed_any |= errors > 0;
        eprintln!(
            "{}: run {} — {} selected, {} already stored, {} answered now: ok {}, content filter {}, failed {} {:?}",
            c.target.name, summary.run_id, summary.selected, summary.already_done, summary.attempted, summary.ok, summary.content_filter, errors, summary.errors
        );
        eprintln!(
            "  {:.1} s, {:.1} requests/s; {} retries (max {} attempts per sample; cap {}), gave up: {} at the cap, {} on a repeated error; concurrency {} → {} ({} rate-limit cuts)",
            summary.seconds, summary.requests_per_second, summary.retries, summary.max_attempts_used, c.retry.max_attempts,
            summary.gave_up_attempt_cap, summary.gave_up_same_error, c.concurrency, summary.final_concurrency, summary.rate_limit_cuts
        );
        if c.target.is_mock() {
            eprintln!("  note: {} is a mock target, not a model", c.target.name);
        }
        println!("{}", summary.run_id);
        ids.push(summary.run_id);
    }
    // Failed samples are stored with their reasons; the command itself succeeded.
    let _ = failed_any;
    Ok(ids)
}
