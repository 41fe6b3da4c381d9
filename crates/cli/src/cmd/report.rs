//! `ksafe report`: the paper's tables, plots and the HTML report for judged runs.

use super::args::ChoiceArgs;
use super::judge::run_ids;
use crate::outln;
use anyhow::{bail, Context, Result};
use clap::Args;
use ksafe_eval::analysis::browser_items;
use ksafe_eval::guard::all_results;
use ksafe_eval::results::{load_run, JudgeChoice};
use ksafe_eval::store::Store;
use ksafe_report::guard::GuardResult;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `ksafe report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Runs to report (default: every judged run in the store).
    pub runs: Vec<String>,
    /// The run store.
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    /// Output directory: report.html, summary.md, summary.json, one CSV per table, plots.
    #[arg(long, default_value = "ksafe-report")]
    pub out: PathBuf,
    #[command(flatten)]
    pub choice: ChoiceArgs,
}

/// `ksafe report`.
pub fn run(a: ReportArgs) -> Result<ExitCode> {
    if !a.store.is_file() {
        bail!(
            "{}: no run store here (run `ksafe eval` and `ksafe judge` first, or pass --store)",
            a.store.display()
        );
    }
    let store = Store::open(&a.store)?;
    let runs = run_ids(&store, &a.runs)?;
    report(&store, &runs, &a.choice.choice(), &a.out)?;
    Ok(ExitCode::SUCCESS)
}

/// Write the report of `runs` into `out` and print its main table.
pub fn report(store: &Store, runs: &[String], choice: &JudgeChoice, out: &Path) -> Result<()> {
    let mut data = Vec::new();
    for r in runs {
        let d = load_run(store, r, choice)?;
        if d.safety_judges.is_empty() {
            eprintln!("note: run {r} has no verdicts yet (run `ksafe judge {r}`); skipped");
            continue;
        }
        data.push(d);
    }
    if data.is_empty() {
        bail!("no judged run to report (run `ksafe judge` first)");
    }
    let browser = browser_items(store, &data)?;
    let guards: Vec<GuardResult> = all_results(store)?
        .into_iter()
        .map(|(guard, mode, rows)| GuardResult { guard, mode, rows })
        .collect();
    let tables = ksafe_report::write_all(&data, &browser, &guards, out)
        .with_context(|| format!("cannot write the report into {}", out.display()))?;
    // the main table on the terminal
    let main = &tables[0];
    outln!(
        "{:<44} {}   Over-refusal",
        main.row_header,
        main.columns[..4].join("   ")
    );
    for (name, cells) in &main.rows {
        outln!(
            "{:<44} {}",
            name,
            cells[..4]
                .iter()
                .chain(cells.get(5))
                .map(|c| format!("{:>5}", c.short()))
                .collect::<Vec<_>>()
                .join("   ")
        );
    }
    eprintln!("report written to {}/report.html (and summary.md, summary.json, CSV tables, PNG/SVG plots)", out.display());
    Ok(())
}
