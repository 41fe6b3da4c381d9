//! `ksafe eval` and `ksafe plan`: run targets over a dataset, resumably; or say what it would cost.

use super::args::{DecodeArgs, EndpointArgs, LimitArgs, SelectArgs};
use crate::outln;
use anyhow::{bail, Context, Result};
use clap::Args;
use ksafe_eval::breaker::BreakerConfig;
use ksafe_eval::plan::{plan, PlanOptions};
use ksafe_eval::runner::{run, RunConfig, RunSummary};
use ksafe_eval::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;
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
    #[arg(long, value_parser = super::args::positive_u32)]
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
    /// Keep asking even when the target cannot be used (by default a run stops after 20
    /// samples failing with one endpoint-level cause — a refused key, a missing model, nothing
    /// listening — or a window of failed samples).
    #[arg(long)]
    pub no_breaker: bool,
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
    /// Run without the circuit breaker.
    pub no_breaker: bool,
}

impl RunSpecArgs {
    fn runs(&self, retry_errors: bool, no_breaker: bool) -> Runs {
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
            no_breaker,
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
            c.breaker = BreakerConfig::for_concurrency(c.concurrency);
            c.breaker.enabled = !self.no_breaker;
            out.push(c);
        }
        Ok(out)
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
            super::progress::fmt_secs(p.eta_seconds)
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
            super::progress::fmt_secs(total_eta)
        );
    }
    Ok(())
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
    let cfgs = a.spec.runs(false, false).configs()?;
    let store = existing_store(&a.spec.store)?;
    print_plan(&cfgs, store.as_ref(), a.judge_calls)?;
    Ok(ExitCode::SUCCESS)
}

/// `ksafe eval`. Exit codes: 0 when every selected sample ended answered or blocked by the
/// provider's filter; 3 when the run finished with failed samples; 4 when a target was stopped
/// by the circuit breaker.
pub fn run_eval(a: EvalArgs) -> Result<ExitCode> {
    let runs = a.spec.runs(a.retry_errors, a.no_breaker);
    if a.dry_run {
        let store = existing_store(&a.spec.store)?;
        print_plan(&runs.configs()?, store.as_ref(), a.judge_calls)?;
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::open(&a.spec.store)?;
    let done = evaluate(&runs, &store)?;
    Ok(exit_code(&done))
}

/// The exit code of a set of runs: 4 if one was stopped, else 3 if one has failed samples,
/// else 0.
pub fn exit_code(done: &[RunSummary]) -> ExitCode {
    if done.iter().any(|s| s.stopped.is_some()) {
        ExitCode::from(4)
    } else if done.iter().any(|s| s.failed_total > 0) {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// Run every target into `store`, printing what each did; returns their summaries.
pub fn evaluate(runs: &Runs, store: &Store) -> Result<Vec<RunSummary>> {
    let cfgs = runs.configs()?;
    let mut out = Vec::new();
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    for c in &cfgs {
        let progress = super::progress::EvalProgress::new(&c.target.name);
        let summary = rt.block_on(run(c, store, progress.clone()));
        progress.finish();
        let summary = summary.with_context(|| format!("evaluating {}", c.target.name))?;
        let errors: u64 = summary.errors.values().sum();
        eprintln!(
            "{}: run {} — {} selected, {} already stored, {} asked now: ok {}, content filter {}, failed {}{}",
            c.target.name,
            summary.run_id,
            summary.selected,
            summary.already_done,
            summary.attempted,
            summary.ok,
            summary.content_filter,
            errors,
            if summary.errors.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    summary
                        .errors
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        eprintln!(
            "  {:.1} s, {:.1} requests/s; {} retries (max {} attempts per sample; cap {}), gave up: {} at the cap, {} on a repeated error; concurrency {} → {} ({} rate-limit cuts)",
            summary.seconds, summary.requests_per_second, summary.retries, summary.max_attempts_used, c.retry.max_attempts,
            summary.gave_up_attempt_cap, summary.gave_up_same_error, c.concurrency, summary.final_concurrency, summary.rate_limit_cuts
        );
        if c.target.is_mock() {
            eprintln!("  note: {} is a mock target, not a model", c.target.name);
        }
        for w in &summary.warnings {
            eprintln!("warning: {w}");
        }
        if let Some(t) = &summary.stopped {
            eprintln!("error: {}", t.message);
            eprintln!("  last error: {}", t.example);
        } else if summary.failed_total > 0 {
            eprintln!(
                "warning: {} of {} samples failed (reasons stored; `ksafe runs show {}`); ask them again with --retry-errors",
                summary.failed_total, summary.selected, summary.run_id
            );
        }
        outln!("{}", summary.run_id);
        out.push(summary);
    }
    Ok(out)
}
