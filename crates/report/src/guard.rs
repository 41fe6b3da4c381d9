//! Guard models scored as classifiers: Markdown and JSON for `ksafe guard`, and the HTML section
//! of the report.

use crate::html::{esc, Section};
use ksafe_core::guard_metrics::{stream_stats, CategoryAgreement, Confusion, GuardRow};
use ksafe_core::metrics::Tri;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One guard evaluated in one mode.
#[derive(Debug, Clone)]
pub struct GuardResult {
    /// The guard model.
    pub guard: String,
    /// The mode id (`input`, `output:<run>`, `stream<step>:<run>`).
    pub mode: String,
    /// Its rows.
    pub rows: Vec<GuardRow>,
}

impl GuardResult {
    fn is_stream(&self) -> bool {
        self.mode.starts_with("stream")
    }
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "–".into())
}

/// The Markdown of one guard evaluation: the confusion table, by category and by query type,
/// the category agreement (when the guard names categories) and the streaming figures.
/// `what` says what was guarded (e.g. "input guarding on ksafe-ko").
pub fn markdown(r: &GuardResult, what: &str, categories: Option<&CategoryAgreement>) -> String {
    let rows = &r.rows;
    let c = Confusion::of(rows.iter());
    let mut md = format!("## Guardrail: {} ({what})\n\n", r.guard);
    let _ = writeln!(md, "| Guardrail ASR (unsafe passed as safe) | False-positive rate | Precision | Recall | F1 | TP | FN | FP | TN | unscored |\n|---|---|---|---|---|---|---|---|---|---|");
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        pct(c.guardrail_asr()),
        pct(c.fpr()),
        pct(c.precision()),
        pct(c.recall()),
        pct(c.f1()),
        c.tp,
        c.fn_,
        c.fp,
        c.tn,
        c.unscored
    );
    let group = |key: &dyn Fn(&GuardRow) -> String| {
        let mut m: BTreeMap<String, Vec<&GuardRow>> = BTreeMap::new();
        for r in rows {
            m.entry(key(r)).or_default().push(r);
        }
        m
    };
    for (title, g) in [
        ("category", group(&|r| r.category.id().to_string())),
        ("query type", group(&|r| r.query_type.id().to_string())),
    ] {
        let _ = writeln!(
            md,
            "| by {title} | Guardrail ASR | FPR | F1 | n |\n|---|---|---|---|---|"
        );
        for (k, v) in g {
            let c = Confusion::of(v.iter().copied());
            let _ = writeln!(
                md,
                "| {k} | {} | {} | {} | {} |",
                pct(c.guardrail_asr()),
                pct(c.fpr()),
                pct(c.f1()),
                v.len()
            );
        }
        md.push('\n');
    }
    if let Some(a) = categories {
        let _ = writeln!(md, "Of {} flagged items, {} carry categories that map onto the KT taxonomy, and {} name the sample's own category.\n", a.flagged, a.mapped, a.agree);
    }
    if r.is_stream() {
        let s = stream_stats(rows);
        let _ = writeln!(
            md,
            "Streaming: {} of {} responses flagged on the full text were caught at a prefix; time to detect: mean {} characters, median {}; flagged at a prefix but safe in full: {}; flagged only in full: {}.\n",
            s.detected, s.flagged_full, pct(s.mean_ttd_chars), pct(s.median_ttd_chars), s.prefix_only, s.full_only
        );
    }
    md
}

/// The JSON of one guard evaluation.
pub fn json(r: &GuardResult, what: &str) -> serde_json::Value {
    let c = Confusion::of(r.rows.iter());
    serde_json::json!({
        "guard": r.guard, "mode": what, "confusion": c,
        "guardrail_asr": c.guardrail_asr(), "fpr": c.fpr(), "precision": c.precision(), "recall": c.recall(), "f1": c.f1(),
        "stream": r.is_stream().then(|| stream_stats(&r.rows)),
        "unscored": r.rows.iter().filter(|x| x.verdict == Tri::Unscored).count(),
    })
}

/// The guardrail evaluations as an HTML section (none when there are none).
pub fn section(results: &[GuardResult]) -> Vec<Section> {
    if results.is_empty() {
        return Vec::new();
    }
    let mut h = String::from("<table><thead><tr><th>Guard</th><th>Mode</th><th>Guardrail ASR</th><th>False-positive rate</th><th>Precision</th><th>Recall</th><th>F1</th><th>n</th><th>Streaming: detected / flagged, mean time to detect (chars)</th></tr></thead><tbody>");
    for r in results {
        let c = Confusion::of(r.rows.iter());
        let stream = if r.is_stream() {
            let s = stream_stats(&r.rows);
            format!(
                "{} / {}, {}",
                s.detected,
                s.flagged_full,
                pct(s.mean_ttd_chars)
            )
        } else {
            "–".into()
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.guard), esc(&r.mode), pct(c.guardrail_asr()), pct(c.fpr()), pct(c.precision()), pct(c.recall()), pct(c.f1()), r.rows.len(), esc(&stream)
        );
    }
    h.push_str("</tbody></table><p class=\"note\">Guardrail ASR = unsafe items the guard passed as safe (the paper's Table 12); the false-positive rate is over safe items (benign prompts, or responses the judges found safe).</p>");
    vec![("Guardrails".to_string(), h)]
}
