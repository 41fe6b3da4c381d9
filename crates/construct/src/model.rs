//! Model mode: the pipeline's LLM steps (classification, culture substitution, translation,
//! five-variable extraction, template filling, jailbreak rewriting) as real calls through
//! ksafe-providers, and images from an OpenAI-style images endpoint. Every response is cached on
//! disk by request hash, so a re-run costs nothing; output that cannot be parsed is an error
//! naming the item and showing the start of the response.

use base64::Engine;
use ksafe_core::hash::sha256_hex;
use ksafe_providers::client::ImagesClient;
use ksafe_providers::exec::{attempts, pool_iter, Done, Endpoint, ExecConfig, Limits};
use ksafe_providers::types::prefix;
use ksafe_providers::{CallError, DecodeParams, Request, TargetSpec};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An OpenAI-style images endpoint (`POST {base}/images/generations`), or a local diffusion
/// server with the same API.
#[derive(Debug, Clone)]
pub struct ImageBackend {
    /// Base URL (`…/v1`); requests go to `{base_url}/images/generations`.
    pub base_url: String,
    /// The image model.
    pub model: String,
    /// The environment variable holding its key.
    pub api_key_env: Option<String>,
    /// Image size, e.g. `1024x1024`.
    pub size: String,
}

/// Model mode's configuration.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// The generator LLM.
    pub generator: TargetSpec,
    /// Its decoding parameters.
    pub params: DecodeParams,
    /// The limits the generator and the image backend are called under (each its own endpoint).
    pub exec: ExecConfig,
    /// The response cache.
    pub cache_dir: PathBuf,
    /// Where images come from (none: the offline renderer).
    pub image_backend: Option<ImageBackend>,
}

/// Counters for the build report.
#[derive(Debug, Default)]
pub struct ModelStats {
    /// Generator calls made.
    pub calls: AtomicU64,
    /// Generator answers read from the cache.
    pub cache_hits: AtomicU64,
    /// Image calls made.
    pub image_calls: AtomicU64,
    /// Images read from the cache.
    pub image_cache_hits: AtomicU64,
}

/// The generator and image backend of one build, behind the executor.
pub struct Generator {
    cfg: ModelConfig,
    endpoint: Arc<Endpoint>,
    image_limits: Arc<Limits>,
    rt: tokio::runtime::Runtime,
    http: ImagesClient,
    /// What was called and what came from the cache.
    pub stats: ModelStats,
}

impl Generator {
    /// A generator for `cfg` (fails on a missing key or an unusable cache folder).
    pub fn new(cfg: ModelConfig) -> Result<Generator, String> {
        let endpoint =
            Endpoint::new(cfg.generator.clone(), &cfg.exec).map_err(|e| e.to_string())?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        let http = ImagesClient::new(cfg.exec.timeout).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&cfg.cache_dir)
            .map_err(|e| format!("{}: {e}", cfg.cache_dir.display()))?;
        Ok(Generator {
            image_limits: Arc::new(Limits::new(&cfg.exec)),
            endpoint: Arc::new(endpoint),
            cfg,
            rt,
            http,
            stats: ModelStats::default(),
        })
    }

    /// What model mode used, for the manifest.
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
        let mut out: Vec<Option<Result<String, String>>> = vec![None; prompts.len()];
        let mut todo = Vec::new();
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
            todo.push((i, path, p.clone()));
        }
        let (endpoint, params) = (self.endpoint.clone(), self.cfg.params.clone());
        self.rt.block_on(pool_iter(
            todo,
            self.cfg.exec.concurrency,
            |(i, _, _)| format!("gen-{i}"),
            move |(i, path, prompt)| {
                let (endpoint, params) = (endpoint.clone(), params.clone());
                async move {
                    let req = Request {
                        id: format!("gen-{i}"),
                        text: prompt,
                        image: None,
                        params,
                        response_to_check: None,
                    };
                    let called = endpoint.call(&req, 2048, &|_| {}).await;
                    let res = match called.result {
                        Ok(r) => Ok(r.text),
                        Err(e) => Err(match called.gave_up {
                            Some(g) => format!("{e} ({g})"),
                            None => e.to_string(),
                        }),
                    };
                    (i, path, res)
                }
            },
            |d| {
                if let Done::Ok((i, path, res)) = d {
                    self.stats.calls.fetch_add(1, Ordering::Relaxed);
                    if let Ok(text) = &res {
                        if let Some(parent) = path.parent() {
                            let _ = std::fs::create_dir_all(parent);
                        }
                        let _ = std::fs::write(
                            &path,
                            serde_json::json!({"response": text}).to_string(),
                        );
                    }
                    out[i] = Some(res);
                }
                true
            },
        ));
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err("internal error: the generation task panicked".into()))
            })
            .collect()
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

    /// Whether an image backend is configured for [`Generator::images_many`]; without one the
    /// pipeline draws scene cards instead.
    pub fn has_image_backend(&self) -> bool {
        self.cfg.image_backend.is_some()
    }

    /// Generate images for prompts (cached). Each result is image bytes or an error message.
    /// Calls go through the executor: retries with backoff and jitter, `Retry-After`, the attempt
    /// cap, and the same concurrency limit as the generator.
    pub fn images_many(&self, prompts: &[String]) -> Vec<Result<Vec<u8>, String>> {
        let Some(b) = &self.cfg.image_backend else {
            return prompts
                .iter()
                .map(|_| Err("no image backend configured".into()))
                .collect();
        };
        let mut out: Vec<Option<Result<Vec<u8>, String>>> = vec![None; prompts.len()];
        let mut todo = Vec::new();
        for (i, p) in prompts.iter().enumerate() {
            let path = self.cache_path(
                "image",
                &format!("{}\u{1f}{}\u{1f}{}\u{1f}{p}", b.base_url, b.model, b.size),
            );
            if let Ok(bytes) = std::fs::read(path.with_extension("png")) {
                self.stats.image_cache_hits.fetch_add(1, Ordering::Relaxed);
                out[i] = Some(Ok(bytes));
                continue;
            }
            todo.push((i, path, p.clone()));
        }
        let (http, limits, b) = (self.http.clone(), self.image_limits.clone(), b.clone());
        self.rt.block_on(pool_iter(
            todo,
            self.cfg.exec.concurrency,
            |(i, _, _)| format!("image-{i}"),
            move |(i, path, prompt)| {
                let (http, limits, b) = (http.clone(), limits.clone(), b.clone());
                async move {
                    let key = b.api_key_env.as_ref().and_then(|v| std::env::var(v).ok());
                    let body = serde_json::json!({"model": b.model, "prompt": prompt, "size": b.size, "n": 1, "response_format": "b64_json"});
                    let url = format!("{}/images/generations", b.base_url);
                    let called = attempts(&limits, &format!("image-{i}"), 0, &|_| {}, || {
                        http.post_json(&url, &body, key.as_deref())
                    })
                    .await;
                    let res = match called.result {
                        Ok(v) => v
                            .pointer("/data/0/b64_json")
                            .and_then(|x| x.as_str())
                            .ok_or_else(|| {
                                format!(
                                    "no data[0].b64_json in the images response: {}",
                                    prefix(&v.to_string(), 200)
                                )
                            })
                            .and_then(|s| {
                                base64::engine::general_purpose::STANDARD
                                    .decode(s)
                                    .map_err(|e| format!("bad base64 image: {e}"))
                            }),
                        Err(e @ CallError::Http { .. }) => Err(format!("{url}: {e}")),
                        Err(e) => Err(match called.gave_up {
                            Some(g) => format!("{e} ({g})"),
                            None => e.to_string(),
                        }),
                    };
                    (i, path, res)
                }
            },
            |d| {
                if let Done::Ok((i, path, res)) = d {
                    self.stats.image_calls.fetch_add(1, Ordering::Relaxed);
                    if let Ok(bytes) = &res {
                        if let Some(parent) = path.parent() {
                            let _ = std::fs::create_dir_all(parent);
                        }
                        let _ = std::fs::write(path.with_extension("png"), bytes);
                    }
                    out[i] = Some(res);
                }
                true
            },
        ));
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err("internal error: the image task panicked".into())))
            .collect()
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

/// The message for an answer of `step` that cannot be parsed: the item, the step and the start
/// of the answer (at most 160 characters).
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
