//! `ksafe plan` / `ksafe eval --dry-run`: what a run will cost before it spends anything.

use crate::error::EvalError;
use crate::runner::{dataset_hash, run_id_for, RunConfig};
use crate::store::Store;
use ksafe_core::Dataset;
use serde::Serialize;
use std::collections::HashSet;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
/// What a run will cost.
pub struct Plan {
    /// The run it would resume or start.
    pub run_id: String,
    /// The target.
    pub target: String,
    /// Samples selected.
    pub selected: u64,
    /// Of those, already stored.
    pub already_done: u64,
    /// Target requests still to make.
    pub requests: u64,
    /// Judge calls on those responses (judges × requests).
    pub judge_calls: u64,
    /// Estimated input text tokens (system prompt included).
    pub est_input_text_tokens: u64,
    /// Estimated image tokens.
    pub est_image_tokens: u64,
    /// Estimated output tokens.
    pub est_output_tokens: u64,
    /// Requests that carry an image.
    pub requests_with_image: u64,
    /// Distinct images among them.
    pub distinct_images: u64,
    /// Bytes of base64 image payload sent in all.
    pub image_payload_bytes: u64,
    /// Requests per second the limits allow (concurrency / latency, RPM, TPM).
    pub throughput_rps: f64,
    /// Seconds the requests take at that throughput.
    pub eta_seconds: f64,
    /// What the estimate assumes, in words.
    pub assumptions: Vec<String>,
}

/// Rough token count: CJK characters at 1.5 per token, other characters at 4 per token.
pub fn estimate_tokens(text: &str) -> u64 {
    let (mut cjk, mut other) = (0u64, 0u64);
    for c in text.chars() {
        if matches!(c as u32, 0x1100..=0x11FF | 0x3040..=0x30FF | 0x3400..=0x9FFF | 0xAC00..=0xD7A3)
        {
            cjk += 1;
        } else {
            other += 1;
        }
    }
    (cjk as f64 / 1.5 + other as f64 / 4.0).ceil() as u64
}

/// What the plan assumes.
pub struct PlanOptions {
    /// Judge calls per response.
    pub judges: u64,
    /// Latency of one request.
    pub assume_latency: Duration,
    /// Tokens one image costs.
    pub image_tokens: u64,
    /// Output tokens per response when `max_tokens` is not set.
    pub assume_output_tokens: u64,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            judges: 0,
            assume_latency: Duration::from_secs(3),
            image_tokens: 765,
            assume_output_tokens: 300,
        }
    }
}

/// What `cfg` will cost; `store` (if there is one) says what is already done.
pub fn plan(cfg: &RunConfig, store: Option<&Store>, o: &PlanOptions) -> Result<Plan, EvalError> {
    let ds = Dataset::open(&cfg.dataset)?;
    let hash = dataset_hash(&ds)?;
    let run_id = cfg.run_id.clone().unwrap_or_else(|| run_id_for(cfg, &hash));
    let done: HashSet<String> = match store {
        Some(s) => s.done_ids(&run_id, !cfg.retry_errors)?,
        None => HashSet::new(),
    };
    let mut p = Plan {
        run_id,
        target: cfg.target.name.clone(),
        selected: 0,
        already_done: 0,
        requests: 0,
        judge_calls: 0,
        est_input_text_tokens: 0,
        est_image_tokens: 0,
        est_output_tokens: 0,
        requests_with_image: 0,
        distinct_images: 0,
        image_payload_bytes: 0,
        throughput_rps: 0.0,
        eta_seconds: 0.0,
        assumptions: Vec::new(),
    };
    let mut images: HashSet<String> = HashSet::new();
    let mut sizes: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let out_tokens = cfg
        .params
        .max_tokens
        .map(u64::from)
        .unwrap_or(o.assume_output_tokens);
    for item in ds.samples()? {
        let (_, s) = item?;
        if !cfg.selection.matches(&s) {
            continue;
        }
        if cfg
            .selection
            .limit
            .is_some_and(|l| p.selected as usize >= l)
        {
            break;
        }
        p.selected += 1;
        if done.contains(&s.id) {
            p.already_done += 1;
            continue;
        }
        p.requests += 1;
        p.est_input_text_tokens += estimate_tokens(&s.text)
            + cfg
                .params
                .system_prompt
                .as_deref()
                .map(estimate_tokens)
                .unwrap_or(0);
        p.est_output_tokens += out_tokens;
        if let Some(img) = &s.image {
            p.requests_with_image += 1;
            p.est_image_tokens += o.image_tokens;
            images.insert(img.path.clone());
            let size = *sizes.entry(img.path.clone()).or_insert_with(|| {
                ds.image_path(img)
                    .ok()
                    .and_then(|path| std::fs::metadata(path).ok())
                    .map(|m| m.len())
                    .unwrap_or(0)
            });
            p.image_payload_bytes += size.div_ceil(3) * 4;
        }
    }
    p.distinct_images = images.len() as u64;
    p.judge_calls = p.requests * o.judges;
    let mut rps = cfg.concurrency as f64 / o.assume_latency.as_secs_f64().max(1e-3);
    p.assumptions.push(format!(
        "{:.1} s per request at concurrency {}",
        o.assume_latency.as_secs_f64(),
        cfg.concurrency
    ));
    if let Some(r) = cfg.rpm {
        rps = rps.min(f64::from(r) / 60.0);
    }
    if let (Some(t), true) = (cfg.tpm, p.requests > 0) {
        let per_req = (p.est_input_text_tokens + p.est_image_tokens + p.est_output_tokens) as f64
            / p.requests as f64;
        rps = rps.min(f64::from(t) / 60.0 / per_req.max(1.0));
    }
    p.throughput_rps = rps;
    p.eta_seconds = p.requests as f64 / rps.max(1e-9);
    p.assumptions.push(format!(
        "{} image tokens per image; {} output tokens per response{}",
        o.image_tokens,
        out_tokens,
        if cfg.params.max_tokens.is_some() {
            " (max_tokens)"
        } else {
            " (assumed)"
        }
    ));
    p.assumptions
        .push("text tokens ≈ CJK characters / 1.5 + other characters / 4".into());
    Ok(p)
}
