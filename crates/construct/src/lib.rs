//! ksafe-construct: the general-to-local construction pipeline of KSAFE-MM.
//!
//! - [`pipeline`]: [`pipeline::build`] turns a [`pipeline::BuildConfig`] (a locale, a profile, a
//!   seed) into a dataset directory; KSAFE-MM-G and KSAFE-MM-C are built stage by stage, one
//!   function per paper stage.
//! - [`locale`]: a [`locale::Locale`] is a locale pack (`locales/<code>/`) loaded from data.
//! - [`josa`]: Korean particles chosen by the final syllable of a slot's value.
//! - [`filters`]: the privacy, near-duplicate text and near-duplicate image filters.
//! - [`model`]: model mode — the LLM steps and images as real calls through the executor.
//!
//! Images are drawn by `ksafe-render`.
//!
//! ```
//! use ksafe_construct::pipeline::{build, BuildConfig, NoProgress, Profile};
//! let dir = tempfile::tempdir().unwrap();
//! let mut cfg = BuildConfig::new("ko", dir.path().join("ksafe-ko-lite"));
//! cfg.profile = Profile::Lite;
//! cfg.subsets = vec![ksafe_core::Subset::G];
//! let report = build(&cfg, &NoProgress).unwrap();
//! assert_eq!(report.manifest.counts.total, 11 * 10 * 3); // 10 G seeds per category, I/T/IT
//! ```

#![warn(missing_docs)]

pub mod filters;
pub mod josa;
pub mod locale;
pub mod model;
pub mod pipeline;
pub mod run;
mod stage_c;
mod stage_g;
