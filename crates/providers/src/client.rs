//! The HTTP client for every provider: one request in, one response (or a classified error) out.

use crate::spec::{ProviderKind, TargetSpec};
use crate::types::{prefix, redact, strip_userinfo, CallError, Request, Response};
use crate::{mock, wire};
use std::time::Duration;

/// A client for one target.
#[derive(Clone)]
pub struct Client {
    spec: TargetSpec,
    http: reqwest::Client,
    key: Option<String>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never print the key
        f.debug_struct("Client")
            .field("target", &self.spec.name)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Client {
    /// `timeout` bounds each request as a whole, so a stuck connection never stalls a run.
    pub fn new(spec: TargetSpec, timeout: Duration) -> Result<Client, CallError> {
        let key = spec.api_key();
        let needs_key = matches!(spec.kind, ProviderKind::Anthropic | ProviderKind::Google)
            || (spec.kind == ProviderKind::OpenAiCompatible && spec.name.starts_with("openai/"));
        if needs_key && key.is_none() {
            return Err(CallError::Config(format!(
                "{} is not set: target {} needs an API key (or pass --api-key-env NAME)",
                spec.api_key_env
                    .as_deref()
                    .unwrap_or("the API key variable"),
                spec.name
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .pool_max_idle_per_host(1024)
            .build()
            .map_err(|e| CallError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            spec,
            http,
            key,
            timeout,
        })
    }

    /// The target this client calls.
    pub fn spec(&self) -> &TargetSpec {
        &self.spec
    }

    /// Send one request and parse the answer; a mock answers without any network call. Non-2xx
    /// statuses, timeouts, connection failures and unparseable bodies come back as a classified
    /// [`CallError`]; the call is not retried here.
    pub async fn call(&self, req: &Request) -> Result<Response, CallError> {
        let (url, body, headers): (String, serde_json::Value, Vec<(&str, String)>) =
            match &self.spec.kind {
                ProviderKind::Mock(kind) => return Ok(mock::respond(kind, req)),
                ProviderKind::OpenAiCompatible => {
                    let mut h = Vec::new();
                    if let Some(k) = &self.key {
                        h.push(("authorization", format!("Bearer {k}")));
                    }
                    (
                        format!("{}/chat/completions", self.spec.base_url),
                        wire::openai_body(&self.spec.model, req),
                        h,
                    )
                }
                ProviderKind::Anthropic => {
                    let mut h = vec![("anthropic-version", "2023-06-01".to_string())];
                    if let Some(k) = &self.key {
                        h.push(("x-api-key", k.clone()));
                    }
                    (
                        format!("{}/messages", self.spec.base_url),
                        wire::anthropic_body(&self.spec.model, req),
                        h,
                    )
                }
                ProviderKind::Google => {
                    let mut h = Vec::new();
                    if let Some(k) = &self.key {
                        // a header, not ?key=…, so the key can never show up in a logged URL
                        h.push(("x-goog-api-key", k.clone()));
                    }
                    (
                        format!(
                            "{}/models/{}:generateContent",
                            self.spec.base_url, self.spec.model
                        ),
                        wire::google_body(req),
                        h,
                    )
                }
            };
        let bytes = serde_json::to_vec(&body).map_err(|e| CallError::Config(e.to_string()))?;
        let mut rb = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(bytes);
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        let resp = rb.send().await.map_err(|e| self.transport(e))?;
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers());
        let text = resp.text().await.map_err(|e| self.transport(e))?;
        if !(200..300).contains(&status) {
            // an error body may echo the request, headers and key included
            return Err(CallError::Http {
                status,
                body: self.redact(&prefix(&text, 300)),
                retry_after,
            });
        }
        let parsed = match &self.spec.kind {
            ProviderKind::OpenAiCompatible => wire::openai_parse(&text),
            ProviderKind::Anthropic => wire::anthropic_parse(&text),
            ProviderKind::Google => wire::google_parse(&text),
            ProviderKind::Mock(_) => unreachable!("mock answered above"),
        };
        parsed.map_err(|e| match e {
            CallError::Malformed { why, body } => CallError::Malformed {
                why,
                body: self.redact(&body),
            },
            other => other,
        })
    }

    fn transport(&self, e: reqwest::Error) -> CallError {
        let url = strip_userinfo(&self.spec.base_url);
        if e.is_timeout() {
            CallError::Timeout(self.timeout)
        } else if e.is_connect() {
            // refused, unknown host, failed TLS handshake: nothing answers there
            CallError::Unreachable(self.redact(&format!("{url}: {}", root_cause(&e))))
        } else {
            // a body cut short, a reset connection …: transient
            CallError::Connect(self.redact(&root_cause(&e)))
        }
    }

    /// `text` without this client's key or anything shaped like a credential.
    pub fn redact(&self, text: &str) -> String {
        match &self.key {
            Some(k) => redact(text, &[k.as_str()]),
            None => redact(text, &[]),
        }
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        msg = format!("{msg}: {c}");
        cur = c.source();
    }
    msg
}

/// A plain JSON POST client for endpoints outside chat completions (the images API). Its calls
/// go through the executor ([`crate::exec::attempts`]) like every other model call.
#[derive(Clone)]
pub struct ImagesClient {
    http: reqwest::Client,
    timeout: Duration,
}

impl ImagesClient {
    /// A client whose requests are bounded by `timeout`.
    pub fn new(timeout: Duration) -> Result<ImagesClient, CallError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| CallError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(ImagesClient { http, timeout })
    }

    /// POST `body` as JSON and parse the JSON answer; failures are classified as for chat calls
    /// (HTTP status with Retry-After, timeout, connection, malformed body).
    pub async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        key: Option<&str>,
    ) -> Result<serde_json::Value, CallError> {
        let mut rb = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(k) = key {
            rb = rb.header("authorization", format!("Bearer {k}"));
        }
        let shown = strip_userinfo(url);
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                CallError::Timeout(self.timeout)
            } else if e.is_connect() {
                CallError::Unreachable(format!("{shown}: {}", root_cause(&e)))
            } else {
                CallError::Connect(format!("{shown}: {}", root_cause(&e)))
            }
        };
        let resp = rb.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers());
        let text = resp.text().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(CallError::Http {
                status,
                body: redact(&prefix(&text, 300), &key.into_iter().collect::<Vec<_>>()),
                retry_after,
            });
        }
        serde_json::from_str(&text).map_err(|e| CallError::Malformed {
            why: format!("{url}: not JSON ({e})"),
            body: prefix(&text, 200),
        })
    }
}

/// The `Retry-After` header in seconds, when present and sane.
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}
