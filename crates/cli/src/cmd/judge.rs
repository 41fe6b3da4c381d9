//! `ksafe judge` and `ksafe judge agreement`.

use super::args::JudgePanelArgs;
use crate::outln;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use ksafe_eval::analysis::agreement;
use ksafe_eval::input::{read_human_labels, read_responses};
use ksafe_eval::judge::Panel;
use ksafe_eval::judging::judge_runs;
use ksafe_eval::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `ksafe judge`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct JudgeArgs {
    #[command(subcommand)]
    pub command: Option<JudgeCommand>,
    /// Runs to judge (default: every run in the store).
    pub runs: Vec<String>,
    /// The run store.
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    #[command(flatten)]
    pub panel: JudgePanelArgs,
    /// Judge responses produced elsewhere: a JSONL file with `id` and `response` (optional
    /// `query`) per line. Verdicts go to --out instead of the store.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Output JSONL for --input.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Subcommands of `ksafe judge`.
#[derive(Subcommand)]
pub enum JudgeCommand {
    /// Cohen's kappa between every pair of a run's safety judges (on the samples both scored),
    /// and of each judge against human labels.
    Agreement {
        /// Runs to compare judges on.
        #[arg(required = true)]
        runs: Vec<String>,
        /// The run store.
        #[arg(long, default_value = "runs.db")]
        store: PathBuf,
        /// A JSONL of human labels (`sample_id` or `id`, and `unsafe`: true/false or `label`:
        /// "unsafe"/"safe") to compare every judge against.
        #[arg(long)]
        human: Option<PathBuf>,
    },
}

/// Open an existing store, or say how to make one.
pub fn open_store(path: &Path) -> Result<Store> {
    if !path.is_file() {
        bail!(
            "{}: no run store here (run `ksafe eval` first, or pass --store)",
            path.display()
        );
    }
    Ok(Store::open(path)?)
}

/// Every run id of a store, or the ones asked for.
pub fn run_ids(store: &Store, asked: &[String]) -> Result<Vec<String>> {
    Ok(if asked.is_empty() {
        store.runs()?.into_iter().map(|r| r.run_id).collect()
    } else {
        asked.to_vec()
    })
}

/// `ksafe judge …`.
pub fn run(a: JudgeArgs) -> Result<ExitCode> {
    if let Some(JudgeCommand::Agreement { runs, store, human }) = a.command {
        return run_agreement(&runs, &store, human.as_deref());
    }
    let panel = Panel::new(&a.panel.specs(false)?, &a.panel.options())?;
    let rt = tokio::runtime::Runtime::new()?;
    if let Some(input) = &a.input {
        let out = a
            .out
            .as_ref()
            .context("--input needs --out FILE.jsonl for the verdicts")?;
        let items = read_responses(input)?;
        let n = items.len();
        let mut rows = Vec::new();
        let panicked = rt.block_on(panel.judge(
            items,
            |_, _| true,
            |js| {
                rows.extend(js);
                true
            },
        ));
        if panicked > 0 {
            bail!(
                "internal error: {panicked} responses could not be judged (a judge task panicked)"
            );
        }
        rows.sort_by(|a, b| {
            (&a.sample_id, &a.judge, a.kind).cmp(&(&b.sample_id, &b.judge, b.kind))
        });
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(out)
                .with_context(|| format!("cannot write {}", out.display()))?,
        );
        for r in &rows {
            writeln!(
                w,
                "{}",
                serde_json::json!({"id": r.sample_id, "judge": r.judge, "kind": r.kind, "verdict": r.verdict, "detail": r.detail, "judge_model": r.judge_model, "prompt_hash": r.prompt_hash})
            )?;
        }
        w.flush()?;
        eprintln!(
            "wrote {} verdicts for {n} responses to {}",
            rows.len(),
            out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let store = open_store(&a.store)?;
    judge_stored(&store, &run_ids(&store, &a.runs)?, &panel)?;
    Ok(ExitCode::SUCCESS)
}

/// Judge stored runs, printing the new verdicts per judge.
pub fn judge_stored(store: &Store, runs: &[String], panel: &Panel) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    for j in rt.block_on(judge_runs(store, runs, panel))? {
        eprintln!(
            "{} · {}: {} new verdicts",
            j.run_id, j.judge, j.new_verdicts
        );
    }
    Ok(())
}

fn run_agreement(runs: &[String], store: &Path, human: Option<&Path>) -> Result<ExitCode> {
    let store = open_store(store)?;
    let human = match human {
        Some(h) => read_human_labels(h)?,
        None => Default::default(),
    };
    for run in runs {
        outln!("run {run}");
        for k in agreement(&store, run, &human)? {
            match (k.kappa, k.agreement) {
                (Some((kappa, n)), Some(a)) => outln!(
                    "  {} vs {}: kappa {kappa:.3}, agreement {a:.1} % on {n} samples",
                    k.a,
                    k.b
                ),
                (Some((kappa, n)), None) => {
                    outln!("  {} vs {}: kappa {kappa:.3} on {n} samples", k.a, k.b)
                }
                (None, Some(_)) => outln!("  {} vs human: no labelled sample was scored", k.a),
                (None, None) => outln!("  {} vs {}: no sample scored by both", k.a, k.b),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
