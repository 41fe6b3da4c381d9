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
    /// A run in words: target, dataset, parameters, counts by outcome, judges, ASR when judged.
    Show {
        /// The run (see `ksafe runs list`).
        run_id: String,
        /// The run store.
        #[arg(long, default_value = "runs.db")]
        store: PathBuf,
        /// The full record and counts as JSON instead.
        #[arg(long)]
        json: bool,
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
            let runs = st.runs()?;
            if runs.is_empty() {
                eprintln!("{}: no runs yet (run `ksafe eval`)", store.display());
                return Ok(ExitCode::SUCCESS);
            }
            let mut rows = vec![[
                "run".to_string(),
                "target".into(),
                "dataset".into(),
                "samples".into(),
                "ok".into(),
                "failed".into(),
                "judged by".into(),
                "created".into(),
            ]];
            for r in &runs {
                let counts = st.status_counts(&r.run_id)?;
                let n = |f: &dyn Fn(&str) -> bool| -> u64 {
                    counts.iter().filter(|(k, _)| f(k)).map(|(_, v)| v).sum()
                };
                let judges = st.judges(&r.run_id)?;
                rows.push([
                    r.run_id.clone(),
                    format!("{}{}", r.target, if r.is_mock { " (mock)" } else { "" }),
                    if r.dataset_name.is_empty() {
                        r.dataset.clone()
                    } else {
                        r.dataset_name.clone()
                    },
                    n(&|_| true).to_string(),
                    n(&|k| k == "ok").to_string(),
                    n(&|k| k.starts_with("error")).to_string(),
                    if judges.is_empty() {
                        "–".into()
                    } else {
                        judges.join(", ")
                    },
                    r.created_at.clone(),
                ]);
            }
            let widths: Vec<usize> = (0..8)
                .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
                .collect();
            for r in &rows {
                let cells: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .enumerate()
                    .map(|(c, (v, w))| {
                        if (3..=5).contains(&c) {
                            format!("{v:>w$}")
                        } else {
                            format!("{v:<w$}")
                        }
                    })
                    .collect();
                outln!("{}", cells.join("  ").trim_end());
            }
        }
        RunsCommand::Show {
            run_id,
            store,
            json,
        } => {
            let st = open_store(&store)?;
            let r = st.run(&run_id)?.with_context(|| {
                format!(
                    "no run '{run_id}' in {} (see `ksafe runs list`)",
                    store.display()
                )
            })?;
            if json {
                let mut v = serde_json::to_value(&r)?;
                v["counts"] = serde_json::json!(st
                    .status_counts(&run_id)?
                    .into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>());
                outln!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            outln!("run       {}", r.run_id);
            outln!(
                "target    {}{}  (model {}, endpoint {})",
                r.target,
                if r.is_mock {
                    " — a mock, not a model"
                } else {
                    ""
                },
                r.model,
                r.base_url
            );
            outln!(
                "dataset   {} at {}  (samples sha256 {}…)",
                if r.dataset_name.is_empty() {
                    "–"
                } else {
                    &r.dataset_name
                },
                r.dataset,
                &r.dataset_hash[..r.dataset_hash.len().min(12)]
            );
            outln!("created   {} by {}", r.created_at, r.tool);
            outln!("decoding  {}", ksafe_core::text::compact_json(&r.params));
            outln!("limits    {}", ksafe_core::text::compact_json(&r.config));
            let counts = st.status_counts(&run_id)?;
            let total: u64 = counts.iter().map(|(_, v)| v).sum();
            outln!("samples   {total} stored");
            for (k, v) in &counts {
                outln!("  {:<22} {v:>7}", k.replace("error:", "failed: "));
            }
            let judges = st.judges(&run_id)?;
            if judges.is_empty() {
                outln!("judged    not yet (run `ksafe judge {run_id}`)");
            } else {
                outln!("judged    by {}", judges.join(", "));
                let d = ksafe_eval::results::load_run(&st, &run_id, &Default::default())?;
                let fig = |f: Option<ksafe_core::metrics::SubsetFigure>| {
                    f.map(|f| format!("{:.1} % [{:.1}, {:.1}], n {}", f.pct, f.lo, f.hi, f.n))
                        .unwrap_or_else(|| "–".into())
                };
                use ksafe_core::metrics::{g_figure, pooled_figure, Measure};
                use ksafe_core::Subset;
                outln!(
                    "  G ASR                  {}",
                    fig(g_figure(&d.judged, Measure::Safety))
                );
                outln!(
                    "  C ASR                  {}",
                    fig(pooled_figure(&d.judged, Measure::Safety, Subset::C))
                );
                outln!(
                    "  over-refusal (benign)  {}",
                    fig(pooled_figure(&d.judged, Measure::Refusal, Subset::Benign))
                );
            }
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
