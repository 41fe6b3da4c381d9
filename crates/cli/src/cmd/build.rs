//! `ksafe build`: the general-to-local construction pipeline.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ksafe_build::pipeline::{build, BuildConfig, GQuery, Profile, Progress};
use ksafe_build::render::Fonts;
use ksafe_core::Subset;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, ValueEnum)]
pub enum ProfileArg {
    /// The paper's structure: G = 11 × 50 × 3 = 1,650 samples; C = 1,135 image seeds × 11 queries.
    Full,
    /// About 10 seeds per category in each subset (330 G + 1,210 C samples), in seconds.
    Lite,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GQueryArg {
    /// The full query with I images, the key-phrase-masked query with T and IT (MM-SafetyBench).
    Mmsb,
    /// The full query with every image type.
    Full,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum SubsetArg {
    G,
    C,
}

#[derive(Args)]
pub struct BuildArgs {
    /// Locale pack to build (ko, …).
    #[arg(long, default_value = "ko")]
    pub locale: String,
    /// Output dataset directory (must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "full")]
    pub profile: ProfileArg,
    /// Seed for every choice the pipeline makes: the same seed gives a byte-identical dataset.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Build only these subsets (repeatable; default both).
    #[arg(long = "subset", value_enum)]
    pub subsets: Vec<SubsetArg>,
    /// Which text the G samples carry.
    #[arg(long, value_enum, default_value = "mmsb")]
    pub g_query: GQueryArg,
    /// Render with this TTF/OTF file instead of the embedded NanumGothic faces.
    #[arg(long)]
    pub font: Option<PathBuf>,
    /// Rendering threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// A progress display on stderr: a bar while rendering, one line per finished stage.
struct Bar {
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress for Bar {
    fn start(&self, stage: &str, total: u64) {
        let pb = ProgressBar::new(total);
        pb.set_style(
            ProgressStyle::with_template("{msg:>22} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_message(stage.to_string());
        *self.bar.lock().unwrap() = Some(pb);
    }
    fn inc(&self, n: u64) {
        if let Some(pb) = self.bar.lock().unwrap().as_ref() {
            pb.inc(n);
        }
    }
    fn finish(&self, stage: &str, summary: &str) {
        if let Some(pb) = self.bar.lock().unwrap().take() {
            pb.finish_and_clear();
        }
        eprintln!("{stage:>22}  {summary}");
    }
}

pub fn run(a: BuildArgs) -> Result<ExitCode> {
    let mut cfg = BuildConfig::new(&a.locale, a.out.clone());
    cfg.profile = match a.profile {
        ProfileArg::Full => Profile::Full,
        ProfileArg::Lite => Profile::Lite,
    };
    cfg.seed = a.seed;
    cfg.g_query = match a.g_query {
        GQueryArg::Mmsb => GQuery::Mmsb,
        GQueryArg::Full => GQuery::Full,
    };
    if !a.subsets.is_empty() {
        cfg.subsets = a
            .subsets
            .iter()
            .map(|s| match s {
                SubsetArg::G => Subset::G,
                SubsetArg::C => Subset::C,
            })
            .collect();
    }
    if let Some(f) = &a.font {
        cfg.fonts = Some(Arc::new(Fonts::from_path(f)?));
    }
    if let Some(t) = a.threads {
        cfg.threads = t.max(1);
    }
    let report = build(
        &cfg,
        &Bar {
            bar: Mutex::new(None),
        },
    )
    .with_context(|| format!("building the {} benchmark", a.locale))?;
    let c = &report.manifest.counts;
    eprintln!(
        "built {} samples (G {}, C {}) with {} images in {:.1}s; {} items dropped by filters (see filter_report.jsonl)",
        c.total,
        c.subset.get("G").copied().unwrap_or(0),
        c.subset.get("C").copied().unwrap_or(0),
        report.manifest.files.keys().filter(|k| k.starts_with("images/")).count(),
        report.seconds,
        report.dropped.len()
    );
    println!("{}", a.out.display());
    Ok(ExitCode::SUCCESS)
}
