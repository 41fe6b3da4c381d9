//! `ksafe runs …`: list, show and export what the run store holds.

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use ksafe_eval::store::Store;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
    /// Parquet (needs --out).
    Parquet,
}

#[derive(Subcommand)]
pub enum RunsCommand {
    /// One line per run: id, target, dataset, counts by status.
    List {
        #[arg(long, default_value = "runs.db")]
        store: PathBuf,
    },
    /// A run's full record: target, dataset hash, decoding parameters, limits, counts.
    Show {
        run_id: String,
        #[arg(long, default_value = "runs.db")]
        store: PathBuf,
    },
    /// Export a run's responses (one row per sample) as JSONL or CSV.
    Export {
        run_id: String,
        #[arg(long, default_value = "runs.db")]
        store: PathBuf,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn open(store: &std::path::Path) -> Result<Store> {
    if !store.is_file() {
        bail!(
            "{}: no run store here (run `ksafe eval` first, or pass --store)",
            store.display()
        );
    }
    Ok(Store::open(store)?)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn run(cmd: RunsCommand) -> Result<ExitCode> {
    match cmd {
        RunsCommand::List { store } => {
            let st = open(&store)?;
            for r in st.runs()? {
                let counts = st.status_counts(&r.run_id)?;
                let c: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
                println!(
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
            let st = open(&store)?;
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
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        RunsCommand::Export {
            run_id,
            store,
            format,
            out,
        } => {
            let st = open(&store)?;
            st.run(&run_id)?
                .with_context(|| format!("no run '{run_id}' in {}", store.display()))?;
            let rows = st.responses(&run_id)?;
            if let ExportFormat::Parquet = format {
                let out = out
                    .as_ref()
                    .context("--format parquet needs --out FILE.parquet")?;
                let cols = [
                    "run_id",
                    "sample_id",
                    "status",
                    "text",
                    "finish_reason",
                    "prompt_tokens",
                    "completion_tokens",
                    "latency_ms",
                    "attempts",
                    "error_class",
                    "error_message",
                    "model",
                    "finished_at",
                ];
                let n = ksafe_core::parquet_io::write_string_table(
                    out,
                    &cols,
                    rows.iter().map(|r| {
                        vec![
                            Some(r.run_id.clone()),
                            Some(r.sample_id.clone()),
                            Some(r.status.id().to_string()),
                            r.text.clone(),
                            r.finish_reason.clone(),
                            r.prompt_tokens.map(|x| x.to_string()),
                            r.completion_tokens.map(|x| x.to_string()),
                            Some(format!("{:.1}", r.latency_ms)),
                            Some(r.attempts.to_string()),
                            r.error_class.clone(),
                            r.error_message.clone(),
                            r.model.clone(),
                            Some(r.finished_at.clone()),
                        ]
                    }),
                )?;
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
            match format {
                ExportFormat::Jsonl => {
                    for r in &rows {
                        writeln!(w, "{}", serde_json::to_string(r)?)?;
                    }
                }
                ExportFormat::Parquet => unreachable!("handled above"),
                ExportFormat::Csv => {
                    writeln!(w, "run_id,sample_id,status,text,finish_reason,prompt_tokens,completion_tokens,latency_ms,attempts,error_class,error_message,model,finished_at")?;
                    for r in &rows {
                        let o = |x: &Option<String>| csv_field(x.as_deref().unwrap_or(""));
                        let n = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_default();
                        writeln!(
                            w,
                            "{},{},{},{},{},{},{},{:.1},{},{},{},{},{}",
                            csv_field(&r.run_id),
                            csv_field(&r.sample_id),
                            r.status.id(),
                            o(&r.text),
                            o(&r.finish_reason),
                            n(r.prompt_tokens),
                            n(r.completion_tokens),
                            r.latency_ms,
                            r.attempts,
                            o(&r.error_class),
                            o(&r.error_message),
                            o(&r.model),
                            r.finished_at
                        )?;
                    }
                }
            }
            w.flush()?;
            if let Some(p) = out {
                eprintln!("wrote {} rows to {}", rows.len(), p.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
