//! One request in, one response out: the types every provider shares.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Decoding parameters, stored with every run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeParams {
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub top_p: Option<f32>,
    pub seed: Option<u64>,
    pub system_prompt: Option<String>,
    /// Ask for the top-N log-probabilities of the first tokens (OpenAI-compatible servers), for
    /// single-token classifiers scored with a threshold.
    pub logprobs: Option<u32>,
}

/// An image, base64-encoded once and shared (a KSAFE-MM-C image serves 11 queries).
#[derive(Debug, Clone)]
pub struct ImageData {
    pub mime: &'static str,
    pub base64: Arc<str>,
}

impl ImageData {
    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.mime, self.base64)
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    /// The sample id (mock targets use it for deterministic behaviour).
    pub id: String,
    pub text: String,
    pub image: Option<ImageData>,
    pub params: DecodeParams,
    /// For guardrail models: an assistant turn after the user turn, to be classified.
    pub response_to_check: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub text: String,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// The model id the server says answered.
    pub model: Option<String>,
    /// Top log-probabilities of the first generated token, when asked for.
    #[serde(default)]
    pub top_logprobs: Vec<(String, f64)>,
}

/// Why a call did not produce a response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The provider's own safety system blocked the request or the answer (OpenAI
    /// `finish_reason: content_filter`, a Gemini safety block, an Anthropic `refusal` stop). This
    /// is an outcome, distinct from a model's refusal and from an error.
    #[error("blocked by the provider's content filter: {detail}")]
    ContentFilter { detail: String },
    #[error("HTTP {status}: {body}")]
    Http {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("malformed response ({why}); body starts: {body}")]
    Malformed { why: String, body: String },
    #[error("{0}")]
    Config(String),
}

impl CallError {
    /// Transient failures worth another attempt: 408, 409, 429, 5xx, timeouts, connection errors.
    pub fn retryable(&self) -> bool {
        match self {
            CallError::Http { status, .. } => matches!(status, 408 | 409 | 429) || *status >= 500,
            CallError::Timeout(_) | CallError::Connect(_) => true,
            CallError::ContentFilter { .. }
            | CallError::Malformed { .. }
            | CallError::Config(_) => false,
        }
    }

    pub fn is_rate_limit(&self) -> bool {
        matches!(self, CallError::Http { status: 429, .. })
    }

    /// A short class name for the store and the summary.
    pub fn class(&self) -> &'static str {
        match self {
            CallError::ContentFilter { .. } => "content_filter",
            CallError::Http { status: 429, .. } => "rate_limit",
            CallError::Http { status, .. } if *status >= 500 => "server_error",
            CallError::Http { .. } => "client_error",
            CallError::Timeout(_) => "timeout",
            CallError::Connect(_) => "connect",
            CallError::Malformed { .. } => "malformed",
            CallError::Config(_) => "config",
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The first `n` characters of a body, for error messages (never the whole of a large body).
pub fn prefix(body: &str, n: usize) -> String {
    let mut s: String = body.chars().take(n).collect();
    if body.chars().count() > n {
        s.push('…');
    }
    s
}
