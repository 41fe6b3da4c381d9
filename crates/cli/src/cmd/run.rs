//! `ksafe run`: build (if the dataset is missing) → eval → judge → report, in one command.

use super::eval::{DecodeArgs, SelectArgs};
use super::judge::{run_judge, run_report, CombineArg, JudgeArgs, JudgeKind, ReportArgs};
use anyhow::{Context, Result};
use clap::Args;
use ksafe_build::pipeline::{build, BuildConfig, NoProgress, Profile};
use std::path::PathBuf;
use std::process::ExitCode;

/// The dry-run targets: canned responders, not models.
const MOCKS: [&str; 3] = ["mock/refuse", "mock/random?seed=1&p=0.3", "mock/comply"];

#[derive(Args)]
pub struct RunArgs {
    /// Dataset directory; built offline from the locale pack if it does not exist.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    #[arg(long, default_value = "ko")]
    pub locale: String,
    /// Profile of the dataset built when it is missing.
    #[arg(long, value_enum, default_value = "lite")]
    pub profile: super::build::ProfileArg,
    /// Models to evaluate (repeatable; see `ksafe eval --help`). Without one, ksafe runs the mock
    /// targets — a dry run of the whole flow, labelled as such, not a measurement of a model.
    #[arg(long = "target")]
    pub targets: Vec<String>,
    #[arg(long)]
    pub base_url: Option<String>,
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// Judge models for the paper's protocol (repeatable; combined with OR). Without one, the
    /// offline heuristic judge is used.
    #[arg(long = "judge-model")]
    pub judge_models: Vec<String>,
    #[arg(long)]
    pub judge_base_url: Option<String>,
    #[arg(long)]
    pub judge_api_key_env: Option<String>,
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    /// Report directory.
    #[arg(long, default_value = "ksafe-report")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub decode: DecodeArgs,
}

pub fn run(a: RunArgs) -> Result<ExitCode> {
    let profile_name = match a.profile {
        super::build::ProfileArg::Full => "full",
        super::build::ProfileArg::Lite => "lite",
    };
    let dataset = a
        .dataset
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("ksafe-{}-{profile_name}", a.locale)));
    if !dataset.join("samples.jsonl").is_file() {
        eprintln!(
            "building the {profile_name} {} benchmark into {} (offline)",
            a.locale,
            dataset.display()
        );
        let mut cfg = BuildConfig::new(&a.locale, dataset.clone());
        cfg.profile = match a.profile {
            super::build::ProfileArg::Full => Profile::Full,
            super::build::ProfileArg::Lite => Profile::Lite,
        };
        let r =
            build(&cfg, &NoProgress).with_context(|| format!("building {}", dataset.display()))?;
        eprintln!(
            "built {} samples in {:.1}s",
            r.manifest.counts.total, r.seconds
        );
    }
    let dry = a.targets.is_empty();
    let targets: Vec<String> = if dry {
        MOCKS.iter().map(|s| s.to_string()).collect()
    } else {
        a.targets.clone()
    };
    if dry {
        eprintln!(
            "no --target: a dry run with mock targets ({}), which are not models",
            MOCKS.join(", ")
        );
    }
    let eval = super::eval::EvalArgs {
        dataset: dataset.clone(),
        target: super::eval::TargetArgs {
            targets,
            base_url: a.base_url.clone(),
            api_key_env: a.api_key_env.clone(),
        },
        store: a.store.clone(),
        run_id: None,
        concurrency: a.concurrency,
        rpm: None,
        tpm: None,
        timeout: 120.0,
        max_attempts: 6,
        retry_errors: false,
        max_image_side: None,
        dry_run: false,
        judge_calls: 0,
        select: a.select.clone(),
        decode: a.decode.clone(),
    };
    let run_ids = super::eval::run_eval_ids(eval)?;
    let mut judges = vec![JudgeKind::Heuristic];
    if !a.judge_models.is_empty() {
        judges.push(JudgeKind::Paper);
    }
    run_judge(JudgeArgs {
        runs: run_ids.clone(),
        store: a.store.clone(),
        judges,
        judge_models: a.judge_models.clone(),
        refusal_model: None,
        guard_model: None,
        judge_base_url: a.judge_base_url.clone(),
        judge_api_key_env: a.judge_api_key_env.clone(),
        with_query: false,
        judge_concurrency: 16,
        input: None,
        out: None,
        human: None,
    })?;
    run_report(ReportArgs {
        runs: run_ids,
        store: a.store.clone(),
        out: a.out.clone(),
        combine: CombineArg::Or,
        safety_judges: Vec::new(),
        refusal_judge: None,
    })
}
