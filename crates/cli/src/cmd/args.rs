//! Argument groups shared by several commands (flattened into each), so a flag is declared once.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use ksafe_core::{Category, ImageType, QueryType, Subset};
use ksafe_eval::judge::{Combine, JudgeRunOptions, JudgeSpec};
use ksafe_eval::results::JudgeChoice;
use ksafe_eval::runner::SampleFilter;
use ksafe_providers::{DecodeParams, ExecConfig, TargetSpec};
use std::path::PathBuf;
use std::time::Duration;

/// A whole number of at least 1 (a flag for which 0 would silently mean something else).
pub fn positive_usize(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A whole number of at least 1.
pub fn positive_u32(s: &str) -> Result<u32, String> {
    positive_usize(s).and_then(|n| u32::try_from(n).map_err(|e| e.to_string()))
}

/// A number of seconds above 0.
pub fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        Ok(_) => Err("must be a number of seconds above 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Where the models under test live.
#[derive(Args, Clone, Default)]
pub struct EndpointArgs {
    /// Endpoint of an OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1), or another base
    /// URL for the provider.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Read the API key from this environment variable instead of the provider's usual one
    /// (OPENAI_API_KEY, ANTHROPIC_API_KEY, GOOGLE_API_KEY, <NAME>_API_KEY for openai-api/<name>/…).
    #[arg(long)]
    pub api_key_env: Option<String>,
}

impl EndpointArgs {
    /// Resolve a target name.
    pub fn target(&self, name: &str) -> Result<TargetSpec> {
        Ok(TargetSpec::parse(
            name,
            self.base_url.as_deref(),
            self.api_key_env.as_deref(),
        )?)
    }
}

/// How hard the models under test are called.
#[derive(Args, Clone)]
pub struct LimitArgs {
    /// Most requests in flight per target; halves on rate-limit episodes and recovers slowly.
    #[arg(long, value_parser = super::args::positive_usize, default_value_t = 32)]
    pub concurrency: usize,
    /// Requests per minute budget.
    #[arg(long, value_parser = super::args::positive_u32)]
    pub rpm: Option<u32>,
    /// Tokens per minute budget (estimated input + max output tokens).
    #[arg(long, value_parser = super::args::positive_u32)]
    pub tpm: Option<u32>,
    /// Seconds before a request is abandoned and retried.
    #[arg(long, value_parser = positive_secs, default_value_t = 120.0)]
    pub timeout: f64,
    /// Attempts per sample in all, before it is recorded as failed.
    #[arg(long, value_parser = super::args::positive_u32, default_value_t = 6)]
    pub max_attempts: u32,
}

/// Which samples of a dataset.
#[derive(Args, Clone, Default)]
pub struct SelectArgs {
    /// Only these subsets (G, C, benign; repeatable).
    #[arg(long = "subset")]
    pub subsets: Vec<String>,
    /// Only these categories (id or label; repeatable).
    #[arg(long = "category")]
    pub categories: Vec<String>,
    /// Only these query types (template, plain, or a jailbreak strategy; repeatable).
    #[arg(long = "query-type")]
    pub query_types: Vec<String>,
    /// Only these image types (I, T, IT; repeatable).
    #[arg(long = "image-type")]
    pub image_types: Vec<String>,
    /// Only the first N selected samples.
    #[arg(long, value_parser = super::args::positive_usize)]
    pub limit: Option<usize>,
    /// Only the sample ids listed in this file (one per line).
    #[arg(long)]
    pub sample_ids: Option<PathBuf>,
}

impl SelectArgs {
    /// The filter these flags describe.
    pub fn filter(&self) -> Result<SampleFilter> {
        let mut s = SampleFilter {
            limit: self.limit,
            ..Default::default()
        };
        for x in &self.subsets {
            s.subsets.push(
                Subset::parse_loose(x)
                    .with_context(|| format!("unknown subset '{x}' (expected G, C or benign)"))?,
            );
        }
        for x in &self.categories {
            s.categories.push(Category::parse_loose(x).ok_or_else(|| {
                anyhow::anyhow!("{}", ksafe_core::taxonomy::UnknownCategory(x.clone()))
            })?);
        }
        for x in &self.query_types {
            s.query_types
                .push(x.parse::<QueryType>().map_err(anyhow::Error::msg)?);
        }
        for x in &self.image_types {
            s.image_types.push(
                ImageType::parse_loose(x)
                    .with_context(|| format!("unknown image type '{x}' (expected I, T or IT)"))?,
            );
        }
        if let Some(f) = &self.sample_ids {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            s.sample_ids = Some(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
            );
        }
        Ok(s)
    }
}

/// Decoding parameters of the models under test.
#[derive(Args, Clone, Default)]
pub struct DecodeArgs {
    /// Decoding parameters and system prompt from a TOML file (keys: temperature, max_tokens,
    /// top_p, seed, system_prompt); flags override it.
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// Sampling temperature (default: the provider's).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Most tokens per response (default: the provider's).
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Nucleus sampling (default: the provider's).
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Sampling seed, for providers that take one.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A system prompt sent before every request (default: none).
    #[arg(long)]
    pub system_prompt: Option<String>,
}

impl DecodeArgs {
    /// The parameters these flags (and the file) describe.
    pub fn params(&self) -> Result<DecodeParams> {
        let mut p: DecodeParams = match &self.params {
            Some(f) => {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("{}: not a decoding-parameter file", f.display()))?
            }
            None => DecodeParams::default(),
        };
        p.temperature = self.temperature.or(p.temperature);
        p.max_tokens = self.max_tokens.or(p.max_tokens);
        p.top_p = self.top_p.or(p.top_p);
        p.seed = self.seed.or(p.seed);
        p.system_prompt = self.system_prompt.clone().or(p.system_prompt);
        Ok(p)
    }
}

/// Which judges.
#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum JudgeKind {
    /// Offline Korean/English/Japanese lexicon judge (safety and refusal); says when it cannot decide.
    Heuristic,
    /// The KSAFE-MM protocol: a safety judge (G0–G3) per --judge-model, plus a refusal judge.
    Paper,
    /// A guardrail model (--guard-model) as safety judge: Llama Guard, SafetyGuard or Kanana style.
    Guard,
}

/// The judges and how they are called.
#[derive(Args, Clone)]
pub struct JudgePanelArgs {
    /// Judges to run (repeatable). `ksafe run` adds `paper` when a --judge-model is given.
    #[arg(long = "judge", value_enum, default_values_t = vec![JudgeKind::Heuristic])]
    pub judges: Vec<JudgeKind>,
    /// A model for the paper's safety judge (repeatable; the paper used two, combined with OR).
    #[arg(long = "judge-model")]
    pub judge_models: Vec<String>,
    /// The model for the refusal judge (default: the first --judge-model).
    #[arg(long)]
    pub refusal_model: Option<String>,
    /// The guardrail model for --judge guard.
    #[arg(long)]
    pub guard_model: Option<String>,
    /// Base URL for the judge models (OpenAI-compatible servers).
    #[arg(long)]
    pub judge_base_url: Option<String>,
    /// Environment variable holding the judges' API key.
    #[arg(long)]
    pub judge_api_key_env: Option<String>,
    /// Show the judge the request as well as the response (the paper's prompt has the response only).
    #[arg(long)]
    pub with_query: bool,
    /// Most judge requests in flight per judge model.
    #[arg(long, value_parser = super::args::positive_usize, default_value_t = 16)]
    pub judge_concurrency: usize,
    /// Requests per minute budget of each judge model.
    #[arg(long, value_parser = super::args::positive_u32)]
    pub judge_rpm: Option<u32>,
    /// Tokens per minute budget of each judge model.
    #[arg(long, value_parser = super::args::positive_u32)]
    pub judge_tpm: Option<u32>,
}

impl JudgePanelArgs {
    /// The judges; with `auto_paper`, the paper's judges join when a judge model is given.
    pub fn specs(&self, auto_paper: bool) -> Result<Vec<JudgeSpec>> {
        let target = |t: &str| {
            TargetSpec::parse(
                t,
                self.judge_base_url.as_deref(),
                self.judge_api_key_env.as_deref(),
            )
        };
        let mut kinds = self.judges.clone();
        if auto_paper && !self.judge_models.is_empty() && !kinds.contains(&JudgeKind::Paper) {
            kinds.push(JudgeKind::Paper);
        }
        let mut out = Vec::new();
        for j in kinds {
            match j {
                JudgeKind::Heuristic => out.push(JudgeSpec::Heuristic),
                JudgeKind::Paper => {
                    if self.judge_models.is_empty() {
                        bail!("--judge paper needs at least one --judge-model (e.g. openai-api/local/Qwen3-235B with --judge-base-url)");
                    }
                    for m in &self.judge_models {
                        out.push(JudgeSpec::Safety {
                            target: target(m)?,
                            with_query: self.with_query,
                        });
                    }
                    let r = self
                        .refusal_model
                        .clone()
                        .unwrap_or_else(|| self.judge_models[0].clone());
                    out.push(JudgeSpec::Refusal {
                        target: target(&r)?,
                    });
                }
                JudgeKind::Guard => {
                    let g = self
                        .guard_model
                        .as_deref()
                        .context("--judge guard needs --guard-model")?;
                    out.push(JudgeSpec::Guard { target: target(g)? });
                }
            }
        }
        Ok(out)
    }

    /// How the judge models are called.
    pub fn options(&self) -> JudgeRunOptions {
        let d = JudgeRunOptions::default();
        JudgeRunOptions {
            exec: ExecConfig {
                concurrency: self.judge_concurrency.max(1),
                rpm: self.judge_rpm,
                tpm: self.judge_tpm,
                timeout: Duration::from_secs(120),
                ..d.exec
            },
            ..d
        }
    }
}

/// Which verdicts a report counts.
#[derive(Args, Clone)]
pub struct ChoiceArgs {
    /// How several safety judges combine (the paper: OR).
    #[arg(long, value_enum, default_value = "or")]
    pub combine: Combine,
    /// Safety judges to combine, by id (default: every model judge, else the heuristic).
    #[arg(long = "safety-judge")]
    pub safety_judges: Vec<String>,
    /// Refusal judge by id (default: a model refusal judge, else the heuristic).
    #[arg(long)]
    pub refusal_judge: Option<String>,
}

impl ChoiceArgs {
    /// The choice these flags describe.
    pub fn choice(&self) -> JudgeChoice {
        JudgeChoice {
            safety_judges: self.safety_judges.clone(),
            combine: self.combine,
            refusal_judge: self.refusal_judge.clone(),
        }
    }
}
