//! `ksafe eval` and `ksafe plan`: run targets over a dataset, resumably; or say what it would cost.

use super::args::{DecodeArgs, EndpointArgs, LimitArgs, SelectArgs};
use crate::outln;
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ksafe_eval::plan::{plan, PlanOptions};
use ksafe_eval::record::Status;
use ksafe_eval::runner::{run, RunConfig, RunProgress};
use ksafe_eval::store::Store;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What defines a run (shared by `eval` and `plan`).
#[derive(Args)]
pub struct RunSpecArgs {
    /// Dataset directory (from `ksafe build` or `ksafe data import`).
    #[arg(long)]
    pub dataset: PathBuf,
    /// Model to evaluate, as provider/model (repeatable): openai/<model>, anthropic/<model>,
    /// google/<model>, vllm/<model>, ollama/<model>, openai-api/<name>/<model> (with --base-url),
    /// mock/refuse, mock/comply, mock/random?seed=N&p=P.
    #[arg(long = "target", required = true)]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// The run store (SQLite).
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    /// Name the run (default: derived from target, dataset, parameters and selection, so that
    /// re-running the same command resumes it).
    #[arg(long)]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Downscale images whose longer side exceeds N pixels (never done unless asked).
    #[arg(long)]
    pub max_image_side: Option<u32>,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub decode: DecodeArgs,
}

/// `ksafe eval`.
#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub spec: RunSpecArgs,
    /// Ask again the samples a previous run stored as errors.
    #[arg(long)]
    pub retry_errors: bool,
    /// Print the plan (requests, tokens, image payload, ETA) and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// For --dry-run: judge calls per response (e.g. 3 for the paper's two safety judges and its
    /// refusal judge).
    #[arg(long, default_value_t = 0)]
    pub judge_calls: u64,
}

/// `ksafe plan`.
#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: RunSpecArgs,
    /// Judge calls per response (e.g. 3 for the paper's two safety judges and its refusal judge).
    #[arg(long, default_value_t = 0)]
    pub judge_calls: u64,
}

/// The run configurations of `ksafe eval` and `ksafe run`: one per target.
pub struct Runs {
    /// The dataset.
    pub dataset: PathBuf,
    /// Target names.
    pub targets: Vec<String>,
    /// Their endpoint.
    pub endpoint: EndpointArgs,
    /// A run name (one target only).
    pub run_id: Option<String>,
    /// Limits.
    pub limits: LimitArgs,
    /// Image downscaling.
    pub max_image_side: Option<u32>,
    /// Selection.
    pub select: SelectArgs,
    /// Decoding.
    pub decode: DecodeArgs,
    /// Ask stored errors again.
    pub retry_errors: bool,
}

impl RunSpecArgs {
    fn runs(&self, retry_errors: bool) -> Runs {
        Runs {
            dataset: self.dataset.clone(),
            targets: self.targets.clone(),
            endpoint: self.endpoint.clone(),
            run_id: self.run_id.clone(),
            limits: self.limits.clone(),
            max_image_side: self.max_image_side,
            select: self.select.clone(),
            decode: self.decode.clone(),
            retry_errors,
        }
    }
}

impl Runs {
    /// One configuration per target.
    pub fn configs(&self) -> Result<Vec<RunConfig>> {
        let selection = self.select.filter()?;
        let params = self.decode.params()?;
        if self.targets.len() > 1 && self.run_id.is_some() {
            bail!("--run-id names one run; it cannot be used with several --target");
        }
        let mut out = Vec::new();
        for t in &self.targets {
            let mut c = RunConfig::new(self.dataset.clone(), self.endpoint.target(t)?);
            c.params = params.clone();
            c.concurrency = self.limits.concurrency.max(1);
            c.rpm = self.limits.rpm;
            c.tpm = self.limits.tpm;
            c.timeout = Duration::from_secs_f64(self.limits.timeout.max(0.1));
            c.retry.max_attempts = self.limits.max_attempts.max(1);
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

/// Print the plan of every configuration.
pub fn print_plan(cfgs: &[RunConfig], store: Option<&Store>, judges: u64) -> Result<()> {
    let mut total_req = 0;
    let mut total_eta = 0.0f64;
    for c in cfgs {
        let p = plan(
            c,
            store,
            &PlanOptions {
                judges,
                ..Default::default()
            },
        )?;
        outln!("target {}  (run {})", p.target, p.run_id);
        outln!(
            "  samples selected      {:>10}   already stored {}",
            p.selected,
            p.already_done
        );
        outln!(
            "  target requests       {:>10}   with an image {} ({} distinct images)",
            p.requests,
            p.requests_with_image,
            p.distinct_images
        );
        if judges > 0 {
            outln!("  judge calls           {:>10}", p.judge_calls);
        }
        outln!(
            "  input tokens (est.)   {:>10}   text {} + images {}",
            p.est_input_text_tokens + p.est_image_tokens,
            p.est_input_text_tokens,
            p.est_image_tokens
        );
        outln!("  output tokens (est.)  {:>10}", p.est_output_tokens);
        outln!(
            "  image payload         {:>10.1} MB (base64)",
            p.image_payload_bytes as f64 / 1e6
        );
        outln!(
            "  throughput            {:>10.1} requests/s   ETA {}",
            p.throughput_rps,
            fmt_secs(p.eta_seconds)
        );
        for a in &p.assumptions {
            outln!("  assumes: {a}");
        }
        if c.target.is_mock() {
            outln!(
                "  note: {} is a mock target, not a model (dry run)",
                c.target.name
            );
        }
        total_req += p.requests + p.judge_calls;
        total_eta += p.eta_seconds;
    }
    if cfgs.len() > 1 {
        outln!(
            "all targets: {total_req} requests, ETA {} (targets run one after another)",
            fmt_secs(total_eta)
        );
    }
    Ok(())
}

/// Seconds as `1h02m`, `3m05s` or `42s`.
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

fn existing_store(path: &std::path::Path) -> Result<Option<Store>> {
    Ok(if path.is_file() {
        Some(Store::open(path)?)
    } else {
        None
    })
}

/// `ksafe plan`.
pub fn run_plan(a: PlanArgs) -> Result<ExitCode> {
    let cfgs = a.spec.runs(false).configs()?;
    let store = existing_store(&a.spec.store)?;
    print_plan(&cfgs, store.as_ref(), a.judge_calls)?;
    Ok(ExitCode::SUCCESS)
}

/// `ksafe eval`.
pub fn run_eval(a: EvalArgs) -> Result<ExitCode> {
    let runs = a.spec.runs(a.retry_errors);
    if a.dry_run {
        let store = existing_store(&a.spec.store)?;
        print_plan(&runs.configs()?, store.as_ref(), a.judge_calls)?;
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::open(&a.spec.store)?;
    evaluate(&runs, &store).map(|_| ExitCode::SUCCESS)
}

/// Run every target into `store`; returns the run ids.
pub fn evaluate(runs: &Runs, store: &Store) -> Result<Vec<String>> {
    let cfgs = runs.configs()?;
    let mut ids = Vec::new();
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    for c in &cfgs {
        let bar = Arc::new(Bar::new(&c.target.name));
        let summary = rt
            .block_on(run(c, store, bar.clone()))
            .with_context(|| format!("evaluating {}", c.target.name))?;
        bar.pb.finish_and_clear();
        let errors: u64 = summary.errors.values().sum();
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
        outln!("{}", summary.run_id);
        ids.push(summary.run_id);
    }
    Ok(ids)
}
