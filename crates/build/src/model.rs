//! Model mode: the pipeline's LLM steps (classification, culture substitution, translation,
//! five-variable extraction, template filling, jailbreak rewriting) as real calls through
//! ksafe-providers, and images from an OpenAI-style images endpoint. Every response is cached on
//! disk by request hash, so a re-run costs nothing; output that cannot be parsed is an error
//! naming the item and showing the start of the response.

use base64::Engine;
use ksafe_core::hash::sha256_hex;
use ksafe_core::Rng;
use ksafe_providers::limits::{Aimd, RateLimiter, RetryPolicy};
use ksafe_providers::retry::{call_with_retries, Limits};
use ksafe_providers::types::prefix;
use ksafe_providers::{Client, DecodeParams, Request, TargetSpec};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// An OpenAI-style images endpoint (`POST {base}/images/generations`), or a local diffusion
/// server with the same API.
#[derive(Debug, Clone)]
pub struct ImageBackend {
    pub base_url: String,
    pub model: String,
    pub api_key_env: Option<String>,
    pub size: String,
}

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub generator: TargetSpec,
    pub params: DecodeParams,
    pub concurrency: usize,
    pub timeout: Duration,
    pub cache_dir: PathBuf,
    pub image_backend: Option<ImageBackend>,
}

/// Counters for the build report.
#[derive(Debug, Default)]
pub struct ModelStats {
    pub calls: AtomicU64,
    pub cache_hits: AtomicU64,
    pub image_calls: AtomicU64,
    pub image_cache_hits: AtomicU64,
}

pub struct Generator {
    cfg: ModelConfig,
    client: Client,
    limits: Arc<Limits>,
    rt: tokio::runtime::Runtime,
    http: reqwest_like::Http,
    pub stats: ModelStats,
}

/// The images endpoint speaks plain JSON over the same client stack the providers use.
mod reqwest_like {
    pub use ksafe_providers::client::ImagesClient as Http;
}

impl Generator {
    pub fn new(cfg: ModelConfig) -> Result<Generator, String> {
        let client = Client::new(cfg.generator.clone(), cfg.timeout).map_err(|e| e.to_string())?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        let limits = Arc::new(Limits {
            aimd: Aimd::new(cfg.concurrency, Duration::from_secs(5)),
            rate: RateLimiter::new(None, None),
            policy: RetryPolicy::default(),
        });
        let http = reqwest_like::Http::new(cfg.timeout).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&cfg.cache_dir)
            .map_err(|e| format!("{}: {e}", cfg.cache_dir.display()))?;
        Ok(Generator {
            cfg,
            client,
            limits,
            rt,
            http,
            stats: ModelStats::default(),
        })
    }

    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "generator": self.cfg.generator.name,
            "base_url": self.cfg.generator.base_url,
            "params": self.cfg.params,
            "image_backend": self.cfg.image_backend.as_ref().map(|b| format!("{} ({})", b.base_url, b.model)),
        })
    }

    fn cache_path(&self, kind: &str, key: &str) -> PathBuf {
        let h = sha256_hex(format!("{kind}\u{1f}{key}").as_bytes());
        self.cfg.cache_dir.join(&h[..2]).join(format!("{h}.json"))
    }

    fn text_key(&self, prompt: &str) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.cfg.generator.name,
            self.cfg.generator.base_url,
            serde_json::to_string(&self.cfg.params).unwrap_or_default(),
            prompt
        )
    }

    /// Complete many prompts concurrently (cached). Each result is the response text, or an
    /// error message.
    pub fn complete_many(&self, prompts: &[String]) -> Vec<Result<String, String>> {
        self.rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            let shared = Arc::new((
                self.client.clone(),
                self.limits.clone(),
                self.cfg.params.clone(),
            ));
            let mut out: Vec<Option<Result<String, String>>> = vec![None; prompts.len()];
            for (i, p) in prompts.iter().enumerate() {
                let path = self.cache_path("text", &self.text_key(p));
                if let Some(hit) = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .and_then(|v| v["response"].as_str().map(str::to_string))
                {
                    self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                    out[i] = Some(Ok(hit));
                    continue;
                }
                let (shared, prompt) = (shared.clone(), p.clone());
                set.spawn(async move {
                    let (client, limits, params) = &*shared;
                    let req = Request {
                        id: format!("gen-{i}"),
                        text: prompt,
                        image: None,
                        params: params.clone(),
                        response_to_check: None,
                    };
                    let mut rng = Rng::new(i as u64);
                    let called =
                        call_with_retries(client, &req, limits, 2048, &mut rng, &|_| {}).await;
                    let res = match called.result {
                        Ok(r) => Ok(r.text),
                        Err(e) => Err(match called.gave_up {
                            Some(g) => format!("{e} ({g})"),
                            None => e.to_string(),
                        }),
                    };
                    (i, path, res)
                });
            }
            while let Some(joined) = set.join_next().await {
                let Ok((i, path, res)) = joined else { continue };
                self.stats.calls.fetch_add(1, Ordering::Relaxed);
                if let Ok(text) = &res {
                    if let Some(parent) = path.parent() {
                        let _ = std::fs::create_dir_all(parent);
                    }
                    let _ =
                        std::fs::write(&path, serde_json::json!({"response": text}).to_string());
                }
                out[i] = Some(res);
            }
            out.into_iter()
                .map(|r| r.unwrap_or_else(|| Err("generation task failed".into())))
                .collect()
        })
    }

    /// Complete one prompt per item and parse each answer. An error names its item: the call's
    /// own failure, or that the answer of `step` cannot be parsed (quoting its start).
    pub fn ask<T>(
        &self,
        prompts: &[String],
        items: &[String],
        step: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Vec<Result<T, String>> {
        self.complete_many(prompts)
            .into_iter()
            .zip(items)
            .map(|(a, item)| {
                a.map_err(|e| format!("{item}: {e}"))
                    .and_then(|r| parse(&r).ok_or_else(|| unparseable(item, step, &r)))
            })
            .collect()
    }

    pub fn has_image_backend(&self) -> bool {
        self.cfg.image_backend.is_some()
    }

    /// Generate images for prompts (cached). Each result is image bytes or an error message.
    pub fn images_many(&self, prompts: &[String]) -> Vec<Result<Vec<u8>, String>> {
        let Some(b) = &self.cfg.image_backend else {
            return prompts
                .iter()
                .map(|_| Err("no image backend configured".into()))
                .collect();
        };
        self.rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            let sem = Arc::new(tokio::sync::Semaphore::new(self.cfg.concurrency.max(1)));
            let mut out: Vec<Option<Result<Vec<u8>, String>>> = vec![None; prompts.len()];
            for (i, p) in prompts.iter().enumerate() {
                let path = self.cache_path("image", &format!("{}\u{1f}{}\u{1f}{}\u{1f}{p}", b.base_url, b.model, b.size));
                if let Ok(bytes) = std::fs::read(path.with_extension("png")) {
                    self.stats.image_cache_hits.fetch_add(1, Ordering::Relaxed);
                    out[i] = Some(Ok(bytes));
                    continue;
                }
                let (http, b, prompt, sem) = (self.http.clone(), b.clone(), p.clone(), sem.clone());
                set.spawn(async move {
                    let _permit = sem.acquire().await;
                    let key = b.api_key_env.as_ref().and_then(|v| std::env::var(v).ok());
                    let body = serde_json::json!({"model": b.model, "prompt": prompt, "size": b.size, "n": 1, "response_format": "b64_json"});
                    let mut last = String::new();
                    for attempt in 0..4u32 {
                        match http.post_json(&format!("{}/images/generations", b.base_url), &body, key.as_deref()).await {
                            Ok(v) => {
                                let res = v.pointer("/data/0/b64_json").and_then(|x| x.as_str()).ok_or_else(|| format!("no data[0].b64_json in the images response: {}", prefix(&v.to_string(), 200))).and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("bad base64 image: {e}")));
                                return (i, path, res);
                            }
                            Err((retryable, msg)) => {
                                last = msg;
                                if !retryable {
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
                            }
                        }
                    }
                    (i, path, Err(last))
                });
            }
            while let Some(joined) = set.join_next().await {
                let Ok((i, path, res)) = joined else { continue };
                self.stats.image_calls.fetch_add(1, Ordering::Relaxed);
                if let Ok(bytes) = &res {
                    if let Some(parent) = path.parent() {
                        let _ = std::fs::create_dir_all(parent);
                    }
                    let _ = std::fs::write(path.with_extension("png"), bytes);
                }
                out[i] = Some(res);
            }
            out.into_iter().map(|r| r.unwrap_or_else(|| Err("image task failed".into()))).collect()
        })
    }
}

pub use ksafe_providers::text::{field, strip_think};

/// Parse the classifier's answer: `Some((contextual, culture phrase))`.
pub fn parse_classification(text: &str) -> Option<(bool, Option<String>)> {
    let c = field(text, "Classification", false)?.to_lowercase();
    let contextual = if c.contains("non") {
        false
    } else if c.contains("contextual") {
        true
    } else {
        return None;
    };
    let phrase = field(text, "Culture phrase", false)
        .filter(|p| !p.eq_ignore_ascii_case("n/a") && !p.eq_ignore_ascii_case("none"));
    Some((contextual, phrase))
}

pub fn unparseable(item: &str, step: &str, response: &str) -> String {
    format!(
        "{item}: the generator's {step} answer cannot be parsed; it starts: {}",
        prefix(response.trim(), 160)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_fields_are_found_robustly() {
        let r = "<think>The query mentions Thanksgiving, which is US-specific.</think>\nClassification: «Contextual»\nCulture phrase: Thanksgiving";
        assert_eq!(
            parse_classification(r),
            Some((true, Some("Thanksgiving".into())))
        );
        assert_eq!(
            parse_classification("**Classification:** «Non-Contextual»\nCulture phrase: N/A"),
            Some((false, None))
        );
        assert_eq!(parse_classification("I think it is contextual."), None);
        assert_eq!(
            field("Translation: \"추석에 …\"", "Translation", false).as_deref(),
            Some("추석에 …")
        );
        assert_eq!(
            field("Rewritten: 첫 줄\n둘째 줄", "Rewritten", true).as_deref(),
            Some("첫 줄\n둘째 줄")
        );
        assert_eq!(field("no label here", "Query", false), None);
        assert_eq!(
            field(
                "My Query: is not at line start\nQuery: 진짜",
                "Query",
                false
            )
            .as_deref(),
            Some("진짜")
        );
    }
}
