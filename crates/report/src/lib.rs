//! ksafe-report: the paper's tables, plots and the HTML report for any set of judged runs.
//!
//! A report is made from [`RunData`](ksafe_core::metrics::RunData) (a judged run, joined by
//! ksafe-eval from the store), optional [`BrowserItem`](ksafe_core::metrics::BrowserItem)s (the
//! samples to show) and [`guard::GuardResult`]s (guard models scored as classifiers):
//!
//! - [`tables`](mod@tables): [`Table`]s of [`Cell`]s — rates with 95 % intervals — as Markdown
//!   and CSV;
//! - [`plots`]: PNG and SVG plots, drawn with the pinned font of ksafe-render;
//! - [`guard`]: guard tables as Markdown, JSON and an HTML section;
//! - [`html`]: one self-contained `report.html`;
//! - [`write_all`] writes all of it into a directory.
//!
//! ```
//! use ksafe_core::metrics::{Judged, RunData, Tri};
//! use ksafe_core::{Category, QueryType, Subset};
//! let judged = (0..10).map(|i| Judged {
//!     sample_id: format!("s{i}"), subset: Subset::C, category: Category::Privacy,
//!     query_type: QueryType::Template, image_type: None, cluster: format!("img{i}"),
//!     unsafe_: Tri::from_bool(i < 3), refused: Tri::from_bool(i >= 3),
//! }).collect();
//! let run = RunData { run_id: "r".into(), target: "mock/x".into(), is_mock: true,
//!     dataset: "ds".into(), dataset_hash: "h".into(), params: serde_json::Value::Null,
//!     config: serde_json::Value::Null, tool: "ksafe".into(), safety_judges: vec!["heuristic".into()],
//!     combine: "or".into(), refusal_judge: Some("heuristic".into()), judge_info: Default::default(),
//!     judged, unscored_reasons: Default::default(), language_mismatches: 0 };
//! let t = ksafe_report::tables(&[run]);
//! assert_eq!(t[0].rows[0].1[2].short(), "30.0"); // C ASR
//! ```

#![warn(missing_docs)]

pub mod guard;
pub mod html;
pub mod plots;
pub mod tables;
mod write;

pub use tables::{markdown, run_label, tables, Cell, Table};
pub use write::write_all;
