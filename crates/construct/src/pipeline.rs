//! The general-to-local construction pipeline of KSAFE-MM (paper §2.2–2.3), offline by default.
//!
//! - G: select contextual / non-contextual → culture-phrase substitution → translation → images
//!   in the three types I (scene), T (typography of the key phrase), IT (both).
//! - C: topics → five variables → template query → image → 10 jailbreak rewrites (11 queries per
//!   image).
//! - Filters: privacy, near-duplicate text, near-duplicate images; every dropped item is listed
//!   with its reason in `filter_report.jsonl`.
//!
//! Everything is deterministic for a seed: the same seed gives a byte-identical dataset.

use crate::locale::Locale;
use crate::model::Generator;
use crate::run::Run;
pub use crate::run::{
    c_targets, BuildConfig, BuildError, BuildReport, Dropped, GQuery, NoProgress, Profile,
    Progress, StageReport, PAPER_C_SEEDS, PAPER_G_SEEDS,
};
use ksafe_core::{DatasetWriter, ManifestMeta, Subset};
use std::collections::BTreeMap;
use std::time::Instant;

/// Build a benchmark dataset into `cfg.out`.
pub fn build(cfg: &BuildConfig, progress: &dyn Progress) -> Result<BuildReport, BuildError> {
    let t0 = Instant::now();
    let loc = Locale::load(&cfg.locale)?;
    let fonts = match &cfg.fonts {
        Some(f) => f.clone(),
        None => loc.fonts()?,
    };
    let names = loc.style.people.clone();
    let generator = match &cfg.model {
        Some(m) => Some(
            Generator::new(m.clone()).map_err(|message| BuildError::Template {
                item: "--generator".into(),
                message,
            })?,
        ),
        None => None,
    };
    let writer = DatasetWriter::create(&cfg.out)?;
    let mut run = Run {
        cfg,
        fonts,
        loc,
        progress,
        writer,
        stages: Vec::new(),
        dropped: Vec::new(),
        names,
        generator,
    };
    if cfg.subsets.contains(&Subset::G) {
        crate::stage_g::build_g(&mut run)?;
    }
    if cfg.subsets.contains(&Subset::C) {
        crate::stage_c::build_c(&mut run)?;
    }
    let mut report = String::new();
    for d in &run.dropped {
        report.push_str(&serde_json::to_string(d).unwrap_or_default());
        report.push('\n');
    }
    run.writer
        .add_file("filter_report.jsonl", report.as_bytes())?;
    let mut dropped_by: BTreeMap<String, u64> = BTreeMap::new();
    for d in &run.dropped {
        *dropped_by.entry(d.filter.to_string()).or_default() += 1;
    }
    let config = serde_json::json!({
        "pipeline": "ksafe build",
        "mode": if cfg.model.is_some() { "model" } else { "offline" },
        "generator": run.generator.as_ref().map(|g| g.describe()).unwrap_or_else(|| serde_json::json!("offline:pack")),
        "model_calls": run.generator.as_ref().map(|g| serde_json::json!({
            "calls": g.stats.calls.load(std::sync::atomic::Ordering::Relaxed),
            "cache_hits": g.stats.cache_hits.load(std::sync::atomic::Ordering::Relaxed),
            "image_calls": g.stats.image_calls.load(std::sync::atomic::Ordering::Relaxed),
            "image_cache_hits": g.stats.image_cache_hits.load(std::sync::atomic::Ordering::Relaxed),
        })),
        "g_source": cfg.g_source.as_ref().map(|p| p.display().to_string()),
        "locale": cfg.locale,
        "profile": cfg.profile,
        "g_query": cfg.g_query,
        "subsets": cfg.subsets,
        "text_dup_threshold": cfg.text_dup_threshold,
        "image_dup_distance": cfg.image_dup_distance,
        "stages": run.stages.iter().map(|s| serde_json::json!({"stage": s.stage, "count": s.count, "note": s.note})).collect::<Vec<_>>(),
        "dropped": dropped_by,
    });
    let manifest = run.writer.finish(ManifestMeta {
        name: format!(
            "ksafe-{}-{}",
            cfg.locale,
            match cfg.profile {
                Profile::Full => "full",
                Profile::Lite => "lite",
            }
        ),
        version: env!("CARGO_PKG_VERSION").to_string(),
        locale: cfg.locale.clone(),
        config,
        seed: Some(cfg.seed),
        fonts: run.fonts.records.clone(),
    })?;
    Ok(BuildReport {
        manifest,
        stages: run.stages,
        dropped: run.dropped,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
