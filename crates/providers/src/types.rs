//! One request in, one response out: the types every provider shares.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Decoding parameters, stored with every run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeParams {
    /// Sampling temperature; `None` leaves the provider's default.
    pub temperature: Option<f32>,
    /// The most tokens to generate; `None` leaves the provider's default (Anthropic, which needs a
    /// value, gets 1024).
    pub max_tokens: Option<u32>,
    /// Nucleus-sampling probability mass; `None` leaves the provider's default.
    pub top_p: Option<f32>,
    /// Sampling seed, for providers that take one (not sent to Anthropic); `None` sends none.
    pub seed: Option<u64>,
    /// A system prompt sent before the user turn; `None` sends none.
    pub system_prompt: Option<String>,
    /// Ask for the top-N log-probabilities of the first tokens (OpenAI-compatible servers), for
    /// single-token classifiers scored with a threshold.
    pub logprobs: Option<u32>,
}

/// An image, base64-encoded once and shared (a KSAFE-MM-C image serves 11 queries).
#[derive(Debug, Clone)]
pub struct ImageData {
    /// The MIME type, e.g. `image/png`.
    pub mime: &'static str,
    /// The image bytes, base64-encoded (standard alphabet).
    pub base64: Arc<str>,
}

impl ImageData {
    /// The image as a `data:` URL, as OpenAI-compatible APIs take it.
    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.mime, self.base64)
    }
}

/// One call to a model: a user turn of text and an optional image.
#[derive(Debug, Clone)]
pub struct Request {
    /// The sample id (mock targets use it for deterministic behaviour).
    pub id: String,
    /// The user turn's text.
    pub text: String,
    /// The image sent with the text; `None` for text-only requests.
    pub image: Option<ImageData>,
    /// Decoding parameters.
    pub params: DecodeParams,
    /// For guardrail models: an assistant turn after the user turn, to be classified.
    pub response_to_check: Option<String>,
}

/// What a model answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The generated text (empty when the model returned none).
    pub text: String,
    /// Why generation stopped, as the provider says it (`stop`, `length`, `end_turn`, `STOP` …).
    pub finish_reason: Option<String>,
    /// Input tokens, as the provider reports them; `None` when it does not.
    pub prompt_tokens: Option<u64>,
    /// Generated tokens, as the provider reports them; `None` when it does not.
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
    ContentFilter {
        /// What the provider reported (the finish or block reason, and any partial text).
        detail: String,
    },
    /// The server answered with a non-2xx HTTP status.
    #[error("HTTP {status}: {body}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (at most 300 characters).
        body: String,
        /// The delay the server's `Retry-After` header asked for, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The request did not complete within the client's timeout (the duration given).
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The connection failed or broke off (DNS, refused, reset, a body cut short).
    #[error("connection failed: {0}")]
    Connect(String),
    /// A 2xx answer that could not be parsed as the API's response.
    #[error("malformed response ({why}); body starts: {body}")]
    Malformed {
        /// What is wrong with it.
        why: String,
        /// The start of the response body (at most 200 characters).
        body: String,
    },
    /// The call cannot be made as configured (e.g. a missing API key).
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

    /// Whether the server answered 429 Too Many Requests.
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

    /// The server's `Retry-After` delay, for an HTTP error that carried one.
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
