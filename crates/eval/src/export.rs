//! A run's responses written out: JSONL, CSV or Parquet, one row per sample.

use crate::error::EvalError;
use crate::record::ResponseRow;
use ksafe_core::text::csv_row;
use std::io::Write;
use std::path::Path;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header.
    Csv,
    /// Parquet (needs a file).
    Parquet,
}

const COLUMNS: [&str; 13] = [
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

fn fields(r: &ResponseRow) -> Vec<Option<String>> {
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
}

/// Write `rows` as JSONL or CSV to `w`.
pub fn write_rows(
    rows: &[ResponseRow],
    format: ExportFormat,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        ExportFormat::Jsonl => {
            for r in rows {
                writeln!(w, "{}", serde_json::to_string(r)?)?;
            }
        }
        ExportFormat::Csv | ExportFormat::Parquet => {
            writeln!(w, "{}", COLUMNS.join(","))?;
            for r in rows {
                let f = fields(r);
                writeln!(
                    w,
                    "{}",
                    csv_row(f.iter().map(|x| x.as_deref().unwrap_or("")))
                )?;
            }
        }
    }
    w.flush()
}

/// Write `rows` as a Parquet file; returns the rows written.
pub fn write_parquet(rows: &[ResponseRow], out: &Path) -> Result<usize, EvalError> {
    Ok(ksafe_core::parquet_io::write_string_table(
        out,
        &COLUMNS,
        rows.iter().map(fields),
    )?)
}
