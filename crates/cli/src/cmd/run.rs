//! `ksafe run`: build (if the dataset is missing) → eval → judge → report, in one command, with
//! one open store.

use super::args::{ChoiceArgs, DecodeArgs, EndpointArgs, JudgePanelArgs, LimitArgs, SelectArgs};
use super::eval::{evaluate, Runs};
use anyhow::{bail, Context, Result};
use clap::Args;
use ksafe_construct::pipeline::{build, BuildConfig, NoProgress, Profile};
use ksafe_eval::judge::Panel;
use ksafe_eval::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

/// The dry-run targets: canned responders, not models.
const MOCKS: [&str; 3] = ["mock/refuse", "mock/random?seed=1&p=0.3", "mock/comply"];

/// `ksafe run`.
#[derive(Args)]
pub struct RunArgs {
    /// Dataset directory; built offline from the locale pack if it does not exist.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Locale of the dataset built when it is missing.
    #[arg(long, default_value = "ko")]
    pub locale: String,
    /// Profile of the dataset built when it is missing.
    #[arg(long, value_enum, default_value = "lite")]
    pub profile: Profile,
    /// Models to evaluate (repeatable; see `ksafe eval --help`). Without one, ksafe runs the mock
    /// targets — a dry run of the whole flow, labelled as such, not a measurement of a model.
    #[arg(long = "target")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub panel: JudgePanelArgs,
    /// The run store.
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    /// Report directory.
    #[arg(long, default_value = "ksafe-report")]
    pub out: PathBuf,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Keep asking even when a target cannot be used (see `ksafe eval --help`).
    #[arg(long)]
    pub no_breaker: bool,
    /// Never build: stop when --dataset does not exist.
    #[arg(long)]
    pub no_build: bool,
    #[command(flatten)]
    pub choice: ChoiceArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub decode: DecodeArgs,
}

/// `ksafe run`.
pub fn run(a: RunArgs) -> Result<ExitCode> {
    let profile_name = match a.profile {
        Profile::Full => "full",
        Profile::Lite => "lite",
    };
    let dataset = a
        .dataset
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("ksafe-{}-{profile_name}", a.locale)));
    if !dataset.join("samples.jsonl").is_file() {
        if a.no_build {
            bail!(
                "{} holds no dataset (no samples.jsonl) and --no-build forbids building one; give the path of a built or imported dataset",
                dataset.display()
            );
        }
        if dataset.exists() && std::fs::read_dir(&dataset)?.next().is_some() {
            bail!(
                "{} exists but holds no dataset (no samples.jsonl); give a dataset directory, or a path that does not exist to build one there",
                dataset.display()
            );
        }
        eprintln!(
            "{} does not exist: building the {profile_name} {} benchmark there (offline; --no-build refuses instead)",
            dataset.display(),
            a.locale
        );
        let mut cfg = BuildConfig::new(&a.locale, dataset.clone());
        cfg.profile = a.profile;
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
    let panel = Panel::new(&a.panel.specs(true)?, &a.panel.options())?;
    let store = Store::open(&a.store)?;
    let runs = Runs {
        dataset,
        targets,
        endpoint: a.endpoint.clone(),
        run_id: None,
        limits: a.limits.clone(),
        max_image_side: None,
        select: a.select.clone(),
        decode: a.decode.clone(),
        retry_errors: false,
        no_breaker: a.no_breaker,
    };
    let done = evaluate(&runs, &store)?;
    // a target without a single answer is not judged or reported: there is nothing to measure
    let run_ids: Vec<String> = done
        .iter()
        .filter(|s| {
            let answered = store
                .status_counts(&s.run_id)
                .map(|c| c.iter().any(|(k, n)| k == "ok" && *n > 0))
                .unwrap_or(false);
            if !answered {
                eprintln!(
                    "{}: no answered sample, so it is neither judged nor reported",
                    s.run_id
                );
            }
            answered
        })
        .map(|s| s.run_id.clone())
        .collect();
    if run_ids.is_empty() {
        bail!(
            "no target answered a single sample; nothing to judge or report (see the errors above)"
        );
    }
    super::judge::judge_stored(&store, &run_ids, &panel)?;
    super::report::report(&store, &run_ids, &a.choice.choice(), &a.out)?;
    Ok(super::eval::exit_code(&done))
}
