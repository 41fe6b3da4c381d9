//! `ksafe guard`: evaluate a guardrail model on prompts, responses, or streamed responses.

use super::args::EndpointArgs;
use anyhow::{bail, Result};
use clap::Args;
use ksafe_eval::guard::schema::{category_agreement, GuardSchema};
use ksafe_eval::guard::{run_guard, GuardConfig, GuardMode};
use ksafe_eval::store::Store;
use ksafe_providers::ExecConfig;
use ksafe_report::guard::GuardResult;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `ksafe guard`.
#[derive(Args)]
pub struct GuardArgs {
    /// The guardrail model (provider/model): Llama Guard style (`safe` / `unsafe` + S-codes),
    /// KT SafetyGuard (`<SAFE>` / `<UNSAFE>`), Kanana Safeguard (`<UNSAFE-S4>`).
    #[arg(long)]
    pub guard_model: String,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// Input guarding: classify this dataset's prompts (G and C are unsafe, benign is safe).
    #[arg(long, conflicts_with = "run")]
    pub dataset: Option<PathBuf>,
    /// Output guarding: classify this run's responses (the judges' combined verdicts are the
    /// reference).
    #[arg(long)]
    pub run: Option<String>,
    /// With --run: feed each response in growing prefixes and record the first flagged prefix.
    #[arg(long, requires = "run")]
    pub stream: bool,
    /// Prefix step in characters for --stream.
    #[arg(long, value_parser = super::args::positive_usize, default_value_t = 100)]
    pub step: usize,
    /// The run store.
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    /// Most guard requests in flight.
    #[arg(long, value_parser = super::args::positive_usize, default_value_t = 16)]
    pub concurrency: usize,
    /// Requests per minute budget of the guard.
    #[arg(long, value_parser = super::args::positive_u32)]
    pub guard_rpm: Option<u32>,
    /// Tokens per minute budget of the guard.
    #[arg(long, value_parser = super::args::positive_u32)]
    pub guard_tpm: Option<u32>,
    /// Single-token guards (KT SafetyGuard): score with the first token's log-probabilities and
    /// call an item unsafe when P(<UNSAFE>) reaches this threshold (the paper's τ = 0.5). Needs a
    /// server that returns logprobs.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// The guard's category schema, for mapping its categories onto the KT taxonomy.
    #[arg(long, value_enum, default_value = "llama-guard")]
    pub schema: GuardSchema,
    /// Write guard.md and guard.json into this directory.
    #[arg(long, default_value = "ksafe-report")]
    pub out: PathBuf,
}

/// `ksafe guard`.
pub fn run(a: GuardArgs) -> Result<ExitCode> {
    let mode = match (&a.dataset, &a.run, a.stream) {
        (Some(d), None, _) => GuardMode::Input { dataset: d.clone() },
        (None, Some(r), false) => GuardMode::Output { run_id: r.clone() },
        (None, Some(r), true) => GuardMode::Stream { run_id: r.clone(), step: a.step.max(1) },
        _ => bail!("give --dataset DIR (input guarding) or --run RUN (output guarding, with --stream for prefixes)"),
    };
    let cfg = GuardConfig {
        guard: a.endpoint.target(&a.guard_model)?,
        mode: mode.clone(),
        exec: ExecConfig {
            concurrency: a.concurrency.max(1),
            rpm: a.guard_rpm,
            tpm: a.guard_tpm,
            timeout: Duration::from_secs(120),
            ..Default::default()
        },
        threshold: a.threshold,
    };
    let store = Store::open(&a.store)?;
    let rt = tokio::runtime::Runtime::new()?;
    let rows = rt.block_on(run_guard(&store, &cfg))?;
    let what = match &mode {
        GuardMode::Input { dataset } => format!("input guarding on {}", dataset.display()),
        GuardMode::Output { run_id } => format!("output guarding on run {run_id}"),
        GuardMode::Stream { run_id, step } => {
            format!("streaming output guarding on run {run_id}, prefixes every {step} characters")
        }
    };
    let categories = category_agreement(a.schema, &rows);
    let result = GuardResult {
        guard: a.guard_model.clone(),
        mode: mode.id(),
        rows,
    };
    let md = ksafe_report::guard::markdown(&result, &what, categories.as_ref());
    crate::out!("{md}");
    std::fs::create_dir_all(&a.out)?;
    std::fs::write(a.out.join("guard.md"), &md)?;
    let json = ksafe_report::guard::json(&result, &format!("{mode:?}"));
    std::fs::write(
        a.out.join("guard.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    eprintln!("wrote {}/guard.md and guard.json", a.out.display());
    Ok(ExitCode::SUCCESS)
}
