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
    /// The connection broke off (reset, a body cut short): transient.
    #[error("connection failed: {0}")]
    Connect(String),
    /// Nothing answers at the address: connection refused, an unknown host, a TLS handshake
    /// that fails. Not retried: the endpoint, not the sample, is at fault.
    #[error("connection failed, nothing answers: {0}")]
    Unreachable(String),
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
    /// Transient failures worth another attempt: 408, 409, 429, 5xx, timeouts, broken
    /// connections, and 200 answers with a body that cannot be parsed (a proxy's error page, a
    /// truncated body).
    pub fn retryable(&self) -> bool {
        match self {
            CallError::Http { status, .. } => matches!(status, 408 | 409 | 429) || *status >= 500,
            CallError::Timeout(_) | CallError::Connect(_) | CallError::Malformed { .. } => true,
            CallError::ContentFilter { .. } | CallError::Unreachable(_) | CallError::Config(_) => {
                false
            }
        }
    }

    /// Whether the same failure coming back means it will keep coming back: a malformed body or a
    /// 4xx status. Rate limits, 5xx statuses, timeouts and broken connections are transient by
    /// nature; only the attempt cap bounds them.
    pub fn repeats_deterministically(&self) -> bool {
        match self {
            CallError::Http { status, .. } => *status < 500 && *status != 429,
            CallError::Malformed { .. } => true,
            _ => false,
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
            CallError::Http {
                status: 401 | 403, ..
            } => "auth",
            CallError::Http { status: 404, .. } => "not_found",
            CallError::Http { .. } => "client_error",
            CallError::Timeout(_) => "timeout",
            CallError::Connect(_) => "connect",
            CallError::Unreachable(_) => "unreachable",
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

/// `text` with every secret removed: each of `secrets` (API keys the caller knows, at least 8
/// characters), and anything shaped like a credential — a bearer token, an `sk-…` key, an
/// `api_key=…` or `x-api-key: …` value, the password of a URL's user-info. Error bodies that echo
/// the request, messages and exports go through this before they are stored or printed.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        out = out.replace(s, "[redacted]");
    }
    // the value after one of these prefixes, up to whitespace, a quote or a separator
    let lower = out.to_lowercase();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for prefix in [
        "bearer ",
        "api_key=",
        "api-key=",
        "apikey=",
        "api_key\":\"",
        "api_key\": \"",
        "x-api-key: ",
        "x-api-key:",
        "x-goog-api-key: ",
        "key=",
        "token=",
        "password=",
    ] {
        let mut from = 0;
        while let Some(p) = lower[from..].find(prefix) {
            let start = from + p + prefix.len();
            let end = out[start..]
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '&' | '}' | ';')
                })
                .map(|e| start + e)
                .unwrap_or(out.len());
            if end > start && !out[start..end].starts_with("[redacted]") {
                spans.push((start, end));
            }
            from = start;
        }
    }
    // sk-… style keys anywhere
    let bytes: Vec<char> = out.chars().collect();
    let mut i = 0;
    let mut char_spans = Vec::new();
    while i + 3 < bytes.len() {
        let at_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if at_word && bytes[i] == 's' && bytes[i + 1] == 'k' && bytes[i + 2] == '-' {
            let mut j = i + 3;
            while j < bytes.len()
                && (bytes[j].is_ascii_alphanumeric() || bytes[j] == '-' || bytes[j] == '_')
            {
                j += 1;
            }
            if j - i >= 19 {
                char_spans.push((i, j));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    for (a, b) in char_spans {
        let start = bytes[..a].iter().map(|c| c.len_utf8()).sum::<usize>();
        let end = start + bytes[a..b].iter().map(|c| c.len_utf8()).sum::<usize>();
        spans.push((start, end));
    }
    spans.sort_unstable();
    let mut result = String::with_capacity(out.len());
    let mut last = 0;
    for (a, b) in spans {
        if a < last {
            continue;
        }
        result.push_str(&out[last..a]);
        result.push_str("[redacted]");
        last = b;
    }
    result.push_str(&out[last..]);
    strip_userinfo_in(&result)
}

/// A URL without the password of its user-info (`http://user:KEY@host` → `http://user@host`).
pub fn strip_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (auth, tail) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            match auth.rsplit_once('@') {
                Some((user, host)) => {
                    let user = user.split(':').next().unwrap_or("");
                    format!("{scheme}://{user}@{host}{tail}")
                }
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

/// Every URL in `text` with its user-info password removed.
fn strip_userinfo_in(text: &str) -> String {
    if !text.contains("://") || !text.contains('@') {
        return text.to_string();
    }
    text.split_inclusive(char::is_whitespace)
        .map(|w| {
            if w.contains("://") && w.contains('@') {
                strip_userinfo(w)
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// The first `n` characters of a body, for error messages (never the whole of a large body).
pub fn prefix(body: &str, n: usize) -> String {
    let mut s: String = body.chars().take(n).collect();
    if body.chars().count() > n {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let key = "sk-test-0123456789abcdefghij";
        let body = format!(
            "{{\"error\": \"bad key\", \"echo\": {{\"authorization\": \"Bearer {key}\", \"x-api-key\": \"{key}\"}}}}"
        );
        let r = redact(&body, &[key]);
        assert!(!r.contains(key), "{r}");
        assert!(r.contains("bad key"));
        let r = redact("Authorization: Bearer abc.DEF-123_xyz then", &[]);
        assert_eq!(r, "Authorization: Bearer [redacted] then");
        let r = redact("used sk-live-AAAAAAAAAAAAAAAAAAAA for it", &[]);
        assert_eq!(r, "used [redacted] for it");
        assert_eq!(
            redact("?api_key=hunter22&x=1", &[]),
            "?api_key=[redacted]&x=1"
        );
        assert_eq!(
            redact("connect http://me:s3cr3t@127.0.0.1:9/v1 failed", &[]),
            "connect http://me@127.0.0.1:9/v1 failed"
        );
        assert_eq!(strip_userinfo("http://u:p@h:1/v1"), "http://u@h:1/v1");
        assert_eq!(strip_userinfo("http://h:1/v1"), "http://h:1/v1");
        assert_eq!(
            redact("no secrets here, 키 없음", &[]),
            "no secrets here, 키 없음"
        );
    }
}
