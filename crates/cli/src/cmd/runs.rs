//! `ksafe runs …`: list, show and export what the run store holds.

use super::judge::open_store;
use crate::outln;
use anyhow::{Context, Result};
use clap::Subcommand;
use ksafe_eval::export::{write_parquet, write_rows, ExportFormat};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `ksafe runs …`.
#[derive(Subcommand)]
pub enum RunsCommand {
    /// One line per run: id, target, dataset, counts by status.
    List {
        /// The run store.
        #[arg(long, default_value = "runs.db")]
        store: PathBuf,
    },
    /// A run's full record: target, dataset hash, decoding parameters, limits, counts.
    Show {
        /// The run (see `ksafe runs list`).
        run_id: String,
        /// The run store.
        #[arg(long, default_value = "runs.db")]
        store: PathBuf,
    },
    /// Export a run's responses (one row per sample) as JSONL, CSV or Parquet.
    Export {
        /// The run (see `ksafe runs list`).
        run_id: String,
        /// The run store.
        #[arg(long, default_value = "runs.db")]
        store: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Output file (default: standard output; needed for Parquet).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `ksafe runs …`.
pub fn run(cmd: RunsCommand) -> Result<ExitCode> {
    match cmd {
        RunsCommand::List { store } => {
            let st = open_store(&store)?;
            for r in st.runs()? {
                let counts = st.status_counts(&r.run_id)?;
                let c: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
                outln!(
                    "{}  {}{}  {}  [{}]",
                    r.run_id,
                    r.target,
                    if r.is_mock { " (mock)" } else { "" },
                    r.dataset,
                    c.join(", ")
                );
            }
        }
        RunsCommand::Show { run_id, store } => {
            let st = open_store(&store)?;
            let r = st.run(&run_id)?.with_context(|| {
                format!(
                    "no run '{run_id}' in {} (see `ksafe runs list`)",
                    store.display()
                )
            })?;
            let counts = st.status_counts(&run_id)?;
            let mut v = serde_json::to_value(&r)?;
            v["counts"] = serde_json::json!(counts
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>());
            outln!("{}", serde_json::to_string_pretty(&v)?);
        }
        RunsCommand::Export {
            run_id,
            store,
            format,
            out,
        } => {
            let st = open_store(&store)?;
            st.run(&run_id)?
                .with_context(|| format!("no run '{run_id}' in {}", store.display()))?;
            let rows = st.responses(&run_id)?;
            if format == ExportFormat::Parquet {
                let out = out
                    .as_ref()
                    .context("--format parquet needs --out FILE.parquet")?;
                let n = write_parquet(&rows, out)?;
                eprintln!("wrote {n} rows to {}", out.display());
                return Ok(ExitCode::SUCCESS);
            }
            let mut w: Box<dyn Write> = match &out {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("cannot write {}", p.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            write_rows(&rows, format, &mut w)?;
            if let Some(p) = out {
                eprintln!("wrote {} rows to {}", rows.len(), p.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
