//! The paper's tables for any set of judged runs: the main table (Table 2: G/C ASR and RR), ASR
//! by query type (Table 3), by category for G and C (Tables 8 and 9), by image type, and
//! over-refusal on benign samples — each cell a rate with its 95 % interval and the count of
//! unscored verdicts — as Markdown and CSV.

use ksafe_core::metrics::{
    cluster_bootstrap, g_figure, pooled_figure, rate, Measure, Rate, RunData, SubsetFigure,
};
use ksafe_core::{Category, ImageType, QueryType, Subset};
use serde::Serialize;
use std::fmt::Write as _;

/// A table cell: a rate (percent, interval, counts) or nothing.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// The rate in percent; `None` when nothing was scored.
    pub pct: Option<f64>,
    /// Lower end of the 95 % interval, in percent; `None` when nothing was scored.
    pub lo: Option<f64>,
    /// Upper end of the 95 % interval, in percent; `None` when nothing was scored.
    pub hi: Option<f64>,
    /// Scored verdicts the rate is over.
    pub n: u64,
    /// Unscored verdicts, excluded from the rate.
    pub unscored: u64,
}

impl Cell {
    fn from_rate(r: Rate) -> Cell {
        let ok = r.n > 0;
        Cell {
            pct: ok.then_some(r.pct),
            lo: ok.then_some(r.lo),
            hi: ok.then_some(r.hi),
            n: r.n,
            unscored: r.unscored,
        }
    }
    fn from_fig(f: Option<SubsetFigure>) -> Cell {
        match f {
            Some(f) => Cell {
                pct: Some(f.pct),
                lo: Some(f.lo),
                hi: Some(f.hi),
                n: f.n,
                unscored: f.unscored,
            },
            None => Cell {
                pct: None,
                lo: None,
                hi: None,
                n: 0,
                unscored: 0,
            },
        }
    }
    /// The rate with one decimal (`30.0`), or `–` when there is none.
    pub fn short(&self) -> String {
        match self.pct {
            Some(p) => format!("{p:.1}"),
            None => "–".into(),
        }
    }
    /// The rate and its interval with one decimal (`30.0 [20.1, 42.2]`), or `–` when there is none.
    pub fn long(&self) -> String {
        match (self.pct, self.lo, self.hi) {
            (Some(p), Some(lo), Some(hi)) => format!("{p:.1} [{lo:.1}, {hi:.1}]"),
            _ => "–".into(),
        }
    }
}

/// One table of the report: a row per run (or per query type) and a column per figure.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// A stable identifier, also the file stem of `<id>.csv` (`main`, `query_type`, `category_g`,
    /// `category_c`, `image_type`).
    pub id: String,
    /// The table's title.
    pub title: String,
    /// The header of the row-label column (`Target`, `Query type`).
    pub row_header: String,
    /// The column headers.
    pub columns: Vec<String>,
    /// The rows: a label and one cell per column.
    pub rows: Vec<(String, Vec<Cell>)>,
    /// A note printed under the table; empty when none.
    pub note: String,
}

/// The name a run is shown under: its target, marked when it is not a model.
pub fn run_label(r: &RunData) -> String {
    if r.is_mock {
        format!("{} (mock, not a model)", r.target)
    } else {
        r.target.clone()
    }
}

/// Every table of the report over `runs`, in report order: the main table (G/C ASR and RR, the
/// cluster-bootstrap C interval, benign over-refusal), ASR by query type on C, by category on G
/// and on C, and by image type on G.
pub fn tables(runs: &[RunData]) -> Vec<Table> {
    let mut out = Vec::new();
    // Table 2
    let mut main = Table {
        id: "main".into(),
        title: "Main results: ASR and refusal rate (%, 95 % interval)".into(),
        row_header: "Target".into(),
        columns: vec!["G ASR".into(), "G RR".into(), "C ASR".into(), "C RR".into(), "C ASR (cluster bootstrap)".into(), "Over-refusal (benign RR)".into()],
        rows: Vec::new(),
        note: "G figures are the unweighted mean of the 11 per-category rates (the paper's G-ASR); C figures are pooled over all C samples. The bootstrap interval resamples whole seed images (the 11 queries of one image are not independent). Unscored verdicts are excluded from every rate and counted separately.".into(),
    };
    for r in runs {
        let j = &r.judged;
        let boot = cluster_bootstrap(j, Measure::Safety, |x| x.subset == Subset::C, 2000, 7);
        let c_asr = Cell::from_fig(pooled_figure(j, Measure::Safety, Subset::C));
        let boot_cell = match boot {
            Some((lo, hi)) => Cell {
                lo: Some(lo),
                hi: Some(hi),
                ..c_asr.clone()
            },
            None => Cell {
                pct: None,
                lo: None,
                hi: None,
                n: 0,
                unscored: 0,
            },
        };
        main.rows.push((
            run_label(r),
            vec![
                Cell::from_fig(g_figure(j, Measure::Safety)),
                Cell::from_fig(g_figure(j, Measure::Refusal)),
                c_asr,
                Cell::from_fig(pooled_figure(j, Measure::Refusal, Subset::C)),
                boot_cell,
                Cell::from_fig(pooled_figure(j, Measure::Refusal, Subset::Benign)),
            ],
        ));
    }
    out.push(main);
    // Table 3: ASR by query type (C)
    let qts: Vec<QueryType> = QueryType::ALL
        .into_iter()
        .filter(|q| *q != QueryType::Plain)
        .collect();
    let mut t3 = Table {
        id: "query_type".into(),
        title: "ASR (%) by query type on the C subset".into(),
        row_header: "Query type".into(),
        columns: runs.iter().map(run_label).collect(),
        rows: Vec::new(),
        note: "Template-based query = the seed query; the other rows are its jailbreak rewrites (Liu et al. 2023b).".into(),
    };
    for q in qts {
        t3.rows.push((
            q.label().to_string(),
            runs.iter()
                .map(|r| {
                    Cell::from_rate(rate(&r.judged, Measure::Safety, |x| {
                        x.subset == Subset::C && x.query_type == q
                    }))
                })
                .collect(),
        ));
    }
    out.push(t3);
    // Tables 8 and 9: by category
    for (subset, id, title) in [
        (
            Subset::G,
            "category_g",
            "ASR (%) by category on the G subset",
        ),
        (
            Subset::C,
            "category_c",
            "ASR (%) by category on the C subset",
        ),
    ] {
        let mut t = Table {
            id: id.into(),
            title: title.into(),
            row_header: "Target".into(),
            columns: Category::ALL
                .iter()
                .map(|c| c.short_label().to_string())
                .collect(),
            rows: Vec::new(),
            note: String::new(),
        };
        for r in runs {
            t.rows.push((
                run_label(r),
                Category::ALL
                    .iter()
                    .map(|c| {
                        Cell::from_rate(rate(&r.judged, Measure::Safety, |x| {
                            x.subset == subset && x.category == *c
                        }))
                    })
                    .collect(),
            ));
        }
        out.push(t);
    }
    // by image type (G)
    let mut ti = Table {
        id: "image_type".into(),
        title: "ASR (%) by image type on the G subset".into(),
        row_header: "Target".into(),
        columns: vec![
            "I (image)".into(),
            "T (typography)".into(),
            "IT (image + typography)".into(),
        ],
        rows: Vec::new(),
        note: String::new(),
    };
    for r in runs {
        ti.rows.push((
            run_label(r),
            ImageType::ALL
                .iter()
                .map(|t| {
                    Cell::from_rate(rate(&r.judged, Measure::Safety, |x| {
                        x.subset == Subset::G && x.image_type == Some(*t)
                    }))
                })
                .collect(),
        ));
    }
    out.push(ti);
    out
}

fn md_table(t: &Table, long: bool) -> String {
    let mut s = format!(
        "### {}\n\n| {} | {} |\n|---|{}\n",
        t.title,
        t.row_header,
        t.columns.join(" | "),
        "---|".repeat(t.columns.len())
    );
    for (name, cells) in &t.rows {
        let cells: Vec<String> = cells
            .iter()
            .map(|c| if long { c.long() } else { c.short() })
            .collect();
        let _ = writeln!(s, "| {} | {} |", name, cells.join(" | "));
    }
    if !t.note.is_empty() {
        let _ = writeln!(s, "\n{}", t.note);
    }
    s
}

/// The Markdown summary: what was measured, then every table.
pub fn markdown(runs: &[RunData], tables: &[Table]) -> String {
    let mut s = String::from("# ksafe report\n\n");
    if runs.iter().any(|r| r.is_mock) {
        s.push_str("> **Dry run:** targets marked *mock* are canned responders, not models; their numbers only show the pipeline working.\n\n");
    }
    s.push_str("## What was measured\n\n| Run | Target | Dataset (sha256) | Safety judges (combined) | Refusal judge | Unscored | Language mismatches |\n|---|---|---|---|---|---|---|\n");
    for r in runs {
        let unscored: u64 = r
            .judged
            .iter()
            .filter(|j| j.unsafe_ == ksafe_core::metrics::Tri::Unscored)
            .count() as u64;
        let _ = writeln!(
            s,
            "| {} | {} | {} ({}) | {} ({}) | {} | {} of {} | {} |",
            r.run_id,
            run_label(r),
            r.dataset,
            &r.dataset_hash[..r.dataset_hash.len().min(12)],
            r.safety_judges.join(", "),
            r.combine.to_uppercase(),
            r.refusal_judge.clone().unwrap_or_else(|| "–".into()),
            unscored,
            r.judged.len(),
            r.language_mismatches
        );
    }
    s.push('\n');
    for r in runs {
        if !r.unscored_reasons.is_empty() {
            let _ = writeln!(
                s,
                "Unscored verdicts of {}: {}\n",
                r.run_id,
                r.unscored_reasons
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(" · ")
            );
        }
    }
    for (i, t) in tables.iter().enumerate() {
        s.push_str(&md_table(t, i == 0));
        s.push('\n');
    }
    s
}

/// The table as CSV: the row header, then for each column its value, `lo`, `hi`, `n` and
/// `unscored` (rates with two decimals; empty when there is none).
pub fn csv(t: &Table) -> String {
    let mut s = ksafe_core::text::csv_field(&t.row_header);
    for c in &t.columns {
        let c = ksafe_core::text::csv_field(c);
        let _ = write!(s, ",{c},{c} lo,{c} hi,{c} n,{c} unscored");
    }
    s.push('\n');
    for (name, cells) in &t.rows {
        s.push_str(&ksafe_core::text::csv_field(name));
        for c in cells {
            let f = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_default();
            let _ = write!(
                s,
                ",{},{},{},{},{}",
                f(c.pct),
                f(c.lo),
                f(c.hi),
                c.n,
                c.unscored
            );
        }
        s.push('\n');
    }
    s
}
