//! What every stage of a build shares: the configuration, the error type, the progress
//! interface, the report, the [`Run`] state a build carries from stage to stage, and the helpers
//! the stages call. The stages (`stage_g`, `stage_c`) and the [`crate::pipeline`] that runs them
//! depend on this module; it depends on neither.

use crate::locale::{Locale, LocaleError};
use crate::model::{Generator, ModelConfig};
use ksafe_core::{Category, DatasetError, DatasetWriter, Manifest, Rng, Subset};
use ksafe_render::{FontError, Fonts, SceneSpec};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// KSAFE-MM-C image seeds per category in the paper (Table 1, "C: I&Q"), total 1,135.
pub const PAPER_C_SEEDS: [(Category, usize); 11] = [
    (Category::HateUnfairness, 153),
    (Category::Sexual, 157),
    (Category::Violence, 87),
    (Category::SelfHarm, 89),
    (Category::PoliticalReligious, 139),
    (Category::Anthropomorphism, 45),
    (Category::SensitiveUses, 49),
    (Category::Privacy, 115),
    (Category::IllegalUnethical, 136),
    (Category::Copyrights, 73),
    (Category::Weaponization, 92),
];

/// G seeds per category in the paper (Table 1).
pub const PAPER_G_SEEDS: usize = 50;

/// How large a dataset to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// The paper's structure: 50 G seeds per category × 3 image types; C image seeds per
    /// category as in Table 1 (1,135), each with 11 queries.
    Full,
    /// About 10 seeds per category in each subset, for smoke runs.
    Lite,
}

/// Which text the G samples carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum GQuery {
    /// MM-SafetyBench style: the full query with the I image, the key-phrase-masked query
    /// ("the phrase at the bottom of the image …") with T and IT.
    Mmsb,
    /// The full query with every image type.
    Full,
}

/// What to build, and where.
#[derive(Clone)]
pub struct BuildConfig {
    /// The locale pack's code, e.g. `ko` (default: as given to [`BuildConfig::new`]).
    pub locale: String,
    /// How large a dataset to build (default [`Profile::Full`]).
    pub profile: Profile,
    /// The master seed; the same seed gives a byte-identical dataset (default 0).
    pub seed: u64,
    /// The dataset directory to write; it must not exist or be empty.
    pub out: PathBuf,
    /// Which text the G samples carry (default [`GQuery::Mmsb`]).
    pub g_query: GQuery,
    /// The subsets to build (default G, C and benign). Benign items are twins made by the G and
    /// C stages, so benign needs G or C too.
    pub subsets: Vec<Subset>,
    /// Jaccard similarity of character trigrams at or above which a query is a duplicate.
    pub text_dup_threshold: f64,
    /// Hamming distance of image difference hashes at or below which an image is a duplicate.
    pub image_dup_distance: u32,
    /// Threads for rendering images (default: the available parallelism).
    pub threads: usize,
    /// Fonts to render with; `None` uses the locale pack's (pinned) fonts.
    pub fonts: Option<Arc<Fonts>>,
    /// Model mode: real LLM calls (and optionally an image endpoint) instead of pack data.
    pub model: Option<ModelConfig>,
    /// G seeds from an imported MM-SafetyBench dataset instead of the pack (needs `model`).
    pub g_source: Option<PathBuf>,
}

impl BuildConfig {
    /// A configuration for `locale` into `out` with the defaults: full profile, seed 0, every
    /// subset, text duplicates at Jaccard ≥ 0.92, only identical image hashes as duplicates,
    /// offline (no model).
    pub fn new(locale: &str, out: PathBuf) -> BuildConfig {
        BuildConfig {
            locale: locale.to_string(),
            profile: Profile::Full,
            seed: 0,
            out,
            g_query: GQuery::Mmsb,
            subsets: vec![Subset::G, Subset::C, Subset::Benign],
            text_dup_threshold: 0.92,
            image_dup_distance: 0,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            fonts: None,
            model: None,
            g_source: None,
        }
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The locale pack cannot be loaded, or its fonts are missing or differ from the pinned ones.
    #[error(transparent)]
    Locale(#[from] LocaleError),
    /// Reading a dataset (`--g-source`) or writing the output dataset failed.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// A text cannot be rendered with the fonts.
    #[error("{item}: {source}")]
    Render {
        /// The item being rendered (e.g. `G seed g-privacy-003`).
        item: String,
        /// The font's error.
        #[source]
        source: FontError,
    },
    /// A query template cannot be filled, or the configuration cannot work (e.g. `--g-source`
    /// without a generator).
    #[error("{item}: {message}")]
    Template {
        /// The item or option at fault (e.g. `C topic c-privacy-001`, `--g-source`).
        item: String,
        /// What is wrong.
        message: String,
    },
}

/// Progress of the stages, for a progress display.
pub trait Progress: Sync {
    /// A stage with `total` steps begins.
    fn start(&self, _stage: &str, _total: u64) {}
    /// `n` more steps of the current stage are done.
    fn inc(&self, _n: u64) {}
    /// A stage is done; `summary` is its count and note.
    fn finish(&self, _stage: &str, _summary: &str) {}
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What one stage did, for the build summary and the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// The stage's name, e.g. `G select`, `C images`.
    pub stage: String,
    /// How many items it produced.
    pub count: u64,
    /// Wall-clock time it took, in seconds.
    pub seconds: f64,
    /// What the count counts, and any detail.
    pub note: String,
}

/// An item a filter or a failed step removed; one line of `filter_report.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct Dropped {
    /// The item's id (a seed id or key).
    pub id: String,
    /// The subset it would have been in.
    pub subset: Subset,
    /// Its category.
    pub category: Category,
    /// What removed it: `privacy`, `text_dedup`, `image_dedup`, `image` or `generator`.
    pub filter: &'static str,
    /// Why (the match, the duplicate and its similarity, or the error).
    pub reason: String,
}

/// What a build produced.
pub struct BuildReport {
    /// The manifest written to the dataset.
    pub manifest: Manifest,
    /// What each stage did, in order.
    pub stages: Vec<StageReport>,
    /// Every item dropped, in order.
    pub dropped: Vec<Dropped>,
    /// Wall-clock time of the whole build, in seconds.
    pub seconds: f64,
}

/// The state of a build as it moves through the stages.
pub struct Run<'a> {
    /// The build configuration.
    pub cfg: &'a BuildConfig,
    /// The fonts images are rendered with.
    pub fonts: Arc<Fonts>,
    /// The locale pack.
    pub loc: Locale,
    /// Where progress is reported.
    pub progress: &'a dyn Progress,
    /// The dataset being written.
    pub writer: DatasetWriter,
    /// What each stage did so far.
    pub stages: Vec<StageReport>,
    /// The items dropped so far.
    pub dropped: Vec<Dropped>,
    /// Private persons' names for the privacy filter (the pack's `people`).
    pub names: Vec<String>,
    /// Model mode: the generator for the LLM steps (and the image backend).
    pub generator: Option<Generator>,
}

impl Run<'_> {
    /// The generator recorded in each sample's provenance: the model-mode generator's name, or
    /// `offline:pack`.
    pub fn generator_name(&self) -> String {
        match &self.generator {
            Some(_) => self
                .cfg
                .model
                .as_ref()
                .map(|m| m.generator.name.clone())
                .unwrap_or_default(),
            None => "offline:pack".into(),
        }
    }

    /// Record a stage whose time, in seconds, the caller measured.
    pub fn push_stage(&mut self, stage: &str, count: u64, seconds: f64, note: &str) {
        self.stages.push(StageReport {
            stage: stage.to_string(),
            count,
            seconds,
            note: note.to_string(),
        });
    }

    /// Record a stage that started at `t`, and tell the progress display it finished.
    pub fn stage(&mut self, stage: &str, count: u64, t: Instant, note: String) {
        self.progress.finish(stage, &format!("{count} {note}"));
        self.stages.push(StageReport {
            stage: stage.to_string(),
            count,
            seconds: t.elapsed().as_secs_f64(),
            note,
        });
    }

    /// Record an item `filter` dropped, with the reason, for `filter_report.jsonl`.
    pub fn drop_item(
        &mut self,
        id: &str,
        subset: Subset,
        category: Category,
        filter: &'static str,
        reason: String,
    ) {
        self.dropped.push(Dropped {
            id: id.to_string(),
            subset,
            category,
            filter,
            reason,
        });
    }
}

/// Take `n` items per category from `items`, in a seeded order.
pub fn per_category<'a, T>(
    items: &'a [T],
    cat: impl Fn(&T) -> Category,
    n: usize,
    rng: &mut Rng,
) -> Vec<&'a T> {
    let mut out = Vec::new();
    for c in Category::ALL {
        let mut of: Vec<&T> = items.iter().filter(|x| cat(x) == c).collect();
        rng.shuffle(&mut of);
        out.extend(of.into_iter().take(n));
    }
    out
}

/// Render items in parallel, `threads` at a time, preserving order.
pub fn render_all<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.max(1).min(items.len().max(1));
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("render thread panicked"))
            .collect()
    })
}

/// A scene's title and lines joined by spaces, for prompts and the text filters.
pub fn scene_text(s: &SceneSpec) -> String {
    let mut t = s.title.clone();
    for l in &s.lines {
        t.push(' ');
        t.push_str(l);
    }
    t
}

/// How many seeds go through a stage's model calls and images at a time.
pub const BATCH: usize = 48;

/// A model-mode prompt of the pack, filled with the locale's language and country and `vars`.
/// A prompt naming an unknown slot comes back as the error text, which the generator's answer
/// then fails to parse, naming the item.
pub fn prompt(run: &Run, name: &str, vars: &[(&str, &str)]) -> String {
    let meta = &run.loc.meta;
    let tpl = run.loc.prompts.get(name).copied().unwrap_or_default();
    crate::josa::fill(tpl, &|k| match k {
        "language" => Some(meta.language.clone()),
        "country" => Some(meta.country.clone()),
        other => vars
            .iter()
            .find(|(n, _)| *n == other)
            .map(|(_, v)| v.to_string()),
    })
    .unwrap_or_else(|e| e)
}

/// C image seeds per category: `total` spread in the paper's proportions (largest remainder), or
/// at most 10 per category in the lite profile.
pub fn c_targets(total: usize, profile: Profile) -> Vec<(Category, usize)> {
    let paper: usize = PAPER_C_SEEDS.iter().map(|(_, n)| n).sum();
    let mut out: Vec<(Category, usize, f64)> = PAPER_C_SEEDS
        .iter()
        .map(|(c, n)| {
            let exact = (*n * total) as f64 / paper as f64;
            (*c, exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    let mut left = total - out.iter().map(|x| x.1).sum::<usize>();
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&a, &b| out[b].2.total_cmp(&out[a].2).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        out[i].1 += 1;
        left -= 1;
    }
    out.into_iter()
        .map(|(c, n, _)| {
            (
                c,
                if profile == Profile::Lite {
                    n.min(10)
                } else {
                    n
                },
            )
        })
        .collect()
}
