//! `manifest.json`: what a dataset directory holds, how it was made, and the hash of every file.

use crate::sample::Sample;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The value of [`Manifest::format`] this version of ksafe writes.
pub const FORMAT: &str = "ksafe-dataset/1";

/// Sample counts by subset, category, query type and image type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Number of samples.
    pub total: u64,
    /// Samples per subset, keyed by [`Subset::id`](crate::Subset::id).
    pub subset: BTreeMap<String, u64>,
    /// Samples per category, keyed by [`Category::id`](crate::Category::id).
    pub category: BTreeMap<String, u64>,
    /// Samples per query type, keyed by [`QueryType::id`](crate::QueryType::id).
    pub query_type: BTreeMap<String, u64>,
    /// Samples per image type, keyed by [`ImageType::id`](crate::ImageType::id); `"none"` counts
    /// text-only samples.
    pub image_type: BTreeMap<String, u64>,
    /// Subset × category, e.g. `"C/privacy"`.
    #[serde(default)]
    pub subset_category: BTreeMap<String, u64>,
}

impl Counts {
    /// Count one more sample.
    pub fn add(&mut self, s: &Sample) {
        self.total += 1;
        *self.subset.entry(s.subset.id().into()).or_default() += 1;
        *self.category.entry(s.category.id().into()).or_default() += 1;
        *self.query_type.entry(s.query_type.id().into()).or_default() += 1;
        let it = s.image_type.map(|t| t.id()).unwrap_or("none");
        *self.image_type.entry(it.into()).or_default() += 1;
        *self
            .subset_category
            .entry(format!("{}/{}", s.subset.id(), s.category.id()))
            .or_default() += 1;
    }
}

/// A font used to render the dataset's images, pinned by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FontRecord {
    /// The font's file name, e.g. `NanumGothic.ttf`.
    pub name: String,
    /// sha256 of the font file, lower-case hex.
    pub sha256: String,
}

/// The contents of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest format, [`FORMAT`].
    pub format: String,
    /// The dataset's name, e.g. `ksafe-ko-full` for a build.
    pub name: String,
    /// The dataset's version: for a build, the ksafe version; for an import, `imported` (or the
    /// version of an embedded ksafe manifest).
    pub version: String,
    /// The locale of the samples, e.g. `ko`.
    pub locale: String,
    /// The ksafe version that wrote the dataset.
    pub tool: String,
    /// Sample counts of `samples.jsonl`.
    pub counts: Counts,
    /// The build (or import) configuration, as given.
    #[serde(default)]
    pub config: serde_json::Value,
    /// The master seed of a build; `None` for imported datasets that carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The fonts ksafe rendered the images with (empty when it rendered none, e.g. for imports).
    #[serde(default)]
    pub fonts: Vec<FontRecord>,
    /// sha256 of every file of the directory but the manifest, by relative path.
    pub files: BTreeMap<String, String>,
}

/// What the caller supplies when a dataset is finished; counts and hashes are computed.
#[derive(Debug, Clone, Default)]
pub struct ManifestMeta {
    /// The dataset's name.
    pub name: String,
    /// The dataset's version.
    pub version: String,
    /// The locale of the samples.
    pub locale: String,
    /// The build (or import) configuration, stored as given.
    pub config: serde_json::Value,
    /// The master seed of a build; `None` for imports.
    pub seed: Option<u64>,
    /// The fonts used to render images, pinned by hash.
    pub fonts: Vec<FontRecord>,
}
