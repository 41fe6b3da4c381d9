//! `ksafe build`: the general-to-local construction pipeline.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ksafe_construct::pipeline::{build, BuildConfig, GQuery, Profile, Progress};
use ksafe_core::Subset;
use ksafe_render::Fonts;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

#[derive(Args)]
pub struct BuildArgs {
    /// Locale pack to build (ko, …).
    #[arg(long, default_value = "ko")]
    pub locale: String,
    /// Output dataset directory (must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// How much to build.
    #[arg(long, value_enum, default_value = "full")]
    pub profile: Profile,
    /// Seed for every choice the pipeline makes: the same seed gives a byte-identical dataset.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Build only these subsets (repeatable; default both).
    #[arg(long = "subset", value_enum, ignore_case = true)]
    pub subsets: Vec<Subset>,
    /// Which text the G samples carry.
    #[arg(long, value_enum, default_value = "mmsb")]
    pub g_query: GQuery,
    /// Render with this TTF/OTF file instead of the embedded NanumGothic faces.
    #[arg(long)]
    pub font: Option<PathBuf>,
    /// Rendering threads (default: all cores).
    #[arg(long, value_parser = super::args::positive_usize)]
    pub threads: Option<usize>,
    /// Model mode: make the LLM steps (classification, culture substitution, FAITH-style
    /// translation, five-variable extraction, template filling, jailbreak rewriting) real calls to
    /// this model (provider/model, as for `ksafe eval --target`). Prompts are the pack's
    /// locales/<code>/prompts/*.txt; responses are cached by request hash in --cache.
    #[arg(long)]
    pub generator: Option<String>,
    /// Base URL of the generator (OpenAI-compatible servers).
    #[arg(long)]
    pub generator_base_url: Option<String>,
    /// Environment variable holding the generator's API key.
    #[arg(long)]
    pub generator_api_key_env: Option<String>,
    /// Generator temperature.
    #[arg(long, default_value_t = 0.0)]
    pub generator_temperature: f32,
    /// Requests in flight to the generator and the image backend.
    #[arg(long, value_parser = super::args::positive_usize, default_value_t = 16)]
    pub concurrency: usize,
    /// Send image prompts to this OpenAI-style images endpoint (base URL, e.g.
    /// http://127.0.0.1:7860/v1) instead of rendering scene cards.
    #[arg(long)]
    pub image_backend: Option<String>,
    #[arg(long, default_value = "qwen-image")]
    pub image_model: String,
    #[arg(long, default_value = "1024x1024")]
    pub image_size: String,
    /// Environment variable holding the image backend's API key.
    #[arg(long)]
    pub image_api_key_env: Option<String>,
    /// Response cache for model mode (a re-run with the same prompts costs nothing).
    #[arg(long, default_value = ".ksafe-cache")]
    pub cache: PathBuf,
    /// G seeds from an MM-SafetyBench dataset imported with `ksafe data import --from
    /// mm-safetybench` (needs --generator to translate them).
    #[arg(long)]
    pub g_source: Option<PathBuf>,
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
    cfg.profile = a.profile;
    cfg.seed = a.seed;
    cfg.g_query = a.g_query;
    if !a.subsets.is_empty() {
        cfg.subsets = a.subsets.clone();
    }
    if let Some(f) = &a.font {
        cfg.fonts = Some(Arc::new(Fonts::from_path(f)?));
    }
    if let Some(t) = a.threads {
        cfg.threads = t.max(1);
    }
    cfg.g_source = a.g_source.clone();
    if a.image_backend.is_some() && a.generator.is_none() {
        anyhow::bail!("--image-backend is part of model mode: add --generator provider/model");
    }
    if let Some(g) = &a.generator {
        let spec = ksafe_providers::TargetSpec::parse(
            g,
            a.generator_base_url.as_deref(),
            a.generator_api_key_env.as_deref(),
        )?;
        cfg.model = Some(ksafe_construct::model::ModelConfig {
            generator: spec,
            params: ksafe_providers::DecodeParams {
                temperature: Some(a.generator_temperature),
                ..Default::default()
            },
            exec: ksafe_providers::ExecConfig {
                concurrency: a.concurrency.max(1),
                timeout: std::time::Duration::from_secs(180),
                ..Default::default()
            },
            cache_dir: a.cache.clone(),
            image_backend: a
                .image_backend
                .as_ref()
                .map(|u| ksafe_construct::model::ImageBackend {
                    base_url: u.trim_end_matches('/').to_string(),
                    model: a.image_model.clone(),
                    api_key_env: a.image_api_key_env.clone(),
                    size: a.image_size.clone(),
                }),
        });
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
        "built {} samples (G {}, C {}, benign {}) with {} images in {:.1}s; {} items dropped by filters (see filter_report.jsonl)",
        c.total,
        c.subset.get("G").copied().unwrap_or(0),
        c.subset.get("C").copied().unwrap_or(0),
        c.subset.get("benign").copied().unwrap_or(0),
        report.manifest.files.keys().filter(|k| k.starts_with("images/")).count(),
        report.seconds,
        report.dropped.len()
    );
    crate::outln!("{}", a.out.display());
    Ok(ExitCode::SUCCESS)
}
