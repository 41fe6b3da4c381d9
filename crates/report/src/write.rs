//! Writing a report directory.

use crate::tables::{csv, markdown, tables, Table};
use crate::{guard, html, plots};
use ksafe_core::metrics::{BrowserItem, RunData};
use std::path::Path;

/// Write `summary.md`, `summary.json`, one CSV per table, the plots (PNG and SVG) and
/// `report.html` into `out`.
pub fn write_all(
    runs: &[RunData],
    browser: &[BrowserItem],
    guards: &[guard::GuardResult],
    out: &Path,
) -> std::io::Result<Vec<Table>> {
    std::fs::create_dir_all(out)?;
    let ts = tables(runs);
    std::fs::write(out.join("summary.md"), markdown(runs, &ts))?;
    let json = serde_json::json!({
        "runs": runs.iter().map(|r| serde_json::json!({
            "run_id": r.run_id, "target": r.target, "is_mock": r.is_mock, "dataset": r.dataset,
            "dataset_hash": r.dataset_hash, "params": r.params, "config": r.config, "tool": r.tool,
            "safety_judges": r.safety_judges, "combine": r.combine, "refusal_judge": r.refusal_judge,
            "judges": r.judge_info, "unscored_reasons": r.unscored_reasons, "language_mismatches": r.language_mismatches,
            "samples": r.judged.len(),
        })).collect::<Vec<_>>(),
        "tables": ts,
    });
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )?;
    for t in &ts {
        std::fs::write(out.join(format!("{}.csv", t.id)), csv(t))?;
    }
    let plots = plots::all(runs);
    for p in &plots {
        std::fs::write(out.join(format!("{}.png", p.id)), &p.png)?;
        std::fs::write(out.join(format!("{}.svg", p.id)), &p.svg)?;
    }
    std::fs::write(
        out.join("report.html"),
        html::render(runs, &ts, &plots, browser, &guard::section(guards)),
    )?;
    Ok(ts)
}
