//! `manifest.json`: what a dataset directory holds, how it was made, and the hash of every file.

use crate::sample::Sample;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const FORMAT: &str = "ksafe-dataset/1";

/// Sample counts by subset, category, query type and image type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: u64,
    pub subset: BTreeMap<String, u64>,
    pub category: BTreeMap<String, u64>,
    pub query_type: BTreeMap<String, u64>,
    pub image_type: BTreeMap<String, u64>,
    /// Subset × category, e.g. `"C/privacy"`.
    #[serde(default)]
    pub subset_category: BTreeMap<String, u64>,
}

impl Counts {
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
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub name: String,
    pub version: String,
    pub locale: String,
    /// The ksafe version that wrote the dataset.
    pub tool: String,
    pub counts: Counts,
    /// The build (or import) configuration, as given.
    #[serde(default)]
    pub config: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default)]
    pub fonts: Vec<FontRecord>,
    /// sha256 of every file of the directory but the manifest, by relative path.
    pub files: BTreeMap<String, String>,
}

/// What the caller supplies when a dataset is finished; counts and hashes are computed.
#[derive(Debug, Clone, Default)]
pub struct ManifestMeta {
    pub name: String,
    pub version: String,
    pub locale: String,
    pub config: serde_json::Value,
    pub seed: Option<u64>,
    pub fonts: Vec<FontRecord>,
}
