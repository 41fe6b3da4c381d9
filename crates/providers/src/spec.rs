//! Target names, `provider/model` as inspect_ai spells them, turned into one [`TargetSpec`].

use std::fmt;

/// Which API a target speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// Any OpenAI-compatible chat-completions server (vLLM, SGLang, TGI, Ollama, llama.cpp
    /// server, LM Studio) and OpenAI itself.
    OpenAiCompatible,
    /// Anthropic's messages API.
    Anthropic,
    /// Google's Gemini `generateContent` API.
    Google,
    /// Not a model: canned behaviour for dry runs.
    Mock(MockKind),
}

/// The canned behaviours of `mock/…` targets.
#[derive(Debug, Clone, PartialEq)]
pub enum MockKind {
    /// Always refuses (in the query's language where it can tell).
    Refuse,
    /// Always complies with a generic, harmless-looking placeholder answer.
    Comply,
    /// Refuses with probability `1 - p`, complies with probability `p`; deterministic per sample.
    Random {
        /// Seed of the per-sample draw (default 0).
        seed: u64,
        /// Probability of complying, within 0 and 1 (default 0.5).
        p: f64,
    },
    /// Repeats the request (for plumbing checks).
    Echo,
}

impl Eq for MockKind {}

/// A resolved target: which API, which model, where, and which environment variable holds the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// The name as the user wrote it (stored with the run; never contains a key).
    pub name: String,
    /// Which API the target speaks.
    pub kind: ProviderKind,
    /// The model id sent to the provider (for a mock, the text after `mock/`).
    pub model: String,
    /// The endpoint, without a trailing `/` (empty for mocks).
    pub base_url: String,
    /// The environment variable the key is read from, if any.
    pub api_key_env: Option<String>,
}

/// A target name that cannot be parsed; the message says what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SpecError {}

const HELP: &str = "expected one of: openai/<model>, anthropic/<model>, google/<model>, vllm/<model>, ollama/<model>, openai-api/<name>/<model> (with --base-url), mock/refuse, mock/comply, mock/random?seed=N&p=P, mock/echo";

impl TargetSpec {
    /// Parse a target name. `base_url` overrides the provider's default endpoint;
    /// `api_key_env` overrides the environment variable the key comes from.
    pub fn parse(
        name: &str,
        base_url: Option<&str>,
        api_key_env: Option<&str>,
    ) -> Result<TargetSpec, SpecError> {
        let (provider, rest) = name
            .split_once('/')
            .ok_or_else(|| SpecError(format!("target '{name}' has no provider prefix; {HELP}")))?;
        if rest.is_empty() {
            return Err(SpecError(format!("target '{name}' names no model; {HELP}")));
        }
        let env = |default: &str| Some(api_key_env.unwrap_or(default).to_string());
        let url = |default: &str| {
            base_url
                .unwrap_or(default)
                .trim_end_matches('/')
                .to_string()
        };
        let spec = |kind, model: &str, base_url: String, api_key_env| TargetSpec {
            name: name.to_string(),
            kind,
            model: model.to_string(),
            base_url,
            api_key_env,
        };
        Ok(match provider {
            "openai" => spec(
                ProviderKind::OpenAiCompatible,
                rest,
                url("https://api.openai.com/v1"),
                env("OPENAI_API_KEY"),
            ),
            "anthropic" => spec(
                ProviderKind::Anthropic,
                rest,
                url("https://api.anthropic.com/v1"),
                env("ANTHROPIC_API_KEY"),
            ),
            "google" => spec(
                ProviderKind::Google,
                rest,
                url("https://generativelanguage.googleapis.com/v1beta"),
                env("GOOGLE_API_KEY"),
            ),
            "vllm" => spec(
                ProviderKind::OpenAiCompatible,
                rest,
                url("http://127.0.0.1:8000/v1"),
                api_key_env
                    .map(str::to_string)
                    .or(Some("VLLM_API_KEY".into())),
            ),
            "ollama" => spec(
                ProviderKind::OpenAiCompatible,
                rest,
                url("http://127.0.0.1:11434/v1"),
                api_key_env.map(str::to_string),
            ),
            "openai-api" => {
                let (server, model) = rest.split_once('/').ok_or_else(|| {
                    SpecError(format!(
                        "target '{name}': expected openai-api/<name>/<model>"
                    ))
                })?;
                let base = base_url.ok_or_else(|| {
                    SpecError(format!(
                        "target '{name}' needs --base-url (e.g. http://127.0.0.1:8000/v1)"
                    ))
                })?;
                let default_env = format!("{}_API_KEY", server.to_uppercase().replace('-', "_"));
                spec(
                    ProviderKind::OpenAiCompatible,
                    model,
                    base.trim_end_matches('/').to_string(),
                    Some(api_key_env.map(str::to_string).unwrap_or(default_env)),
                )
            }
            "mock" => spec(
                ProviderKind::Mock(
                    parse_mock(rest).map_err(|e| SpecError(format!("target '{name}': {e}")))?,
                ),
                rest,
                String::new(),
                None,
            ),
            other => {
                return Err(SpecError(format!(
                    "unknown provider '{other}' in target '{name}'; {HELP}"
                )))
            }
        })
    }

    /// Whether the target is a mock (not a model).
    pub fn is_mock(&self) -> bool {
        matches!(self.kind, ProviderKind::Mock(_))
    }

    /// The key from the environment. Keys are only ever held in memory.
    pub fn api_key(&self) -> Option<String> {
        self.api_key_env
            .as_ref()
            .and_then(|v| std::env::var(v).ok())
            .filter(|k| !k.is_empty())
    }
}

fn parse_mock(rest: &str) -> Result<MockKind, String> {
    let (kind, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut seed = 0u64;
    let mut p = 0.5f64;
    for pair in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("bad parameter '{pair}'"))?;
        match k {
            "seed" => {
                seed = v
                    .parse()
                    .map_err(|_| format!("seed '{v}' is not an integer"))?
            }
            "p" => {
                p = v.parse().map_err(|_| format!("p '{v}' is not a number"))?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("p must be within 0 and 1, got {p}"));
                }
            }
            other => return Err(format!("unknown parameter '{other}' (expected seed, p)")),
        }
    }
    match kind {
        "refuse" => Ok(MockKind::Refuse),
        "comply" => Ok(MockKind::Comply),
        "random" => Ok(MockKind::Random { seed, p }),
        "echo" => Ok(MockKind::Echo),
        other => Err(format!(
            "unknown mock '{other}' (expected refuse, comply, random, echo)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t = TargetSpec::parse(
            "openai-api/local/qwen3-vl-8b",
            Some("http://127.0.0.1:9/v1/"),
            None,
        )
        .unwrap();
        assert_eq!(t.kind, ProviderKind::OpenAiCompatible);
        assert_eq!(t.model, "qwen3-vl-8b");
        assert_eq!(t.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(t.api_key_env.as_deref(), Some("LOCAL_API_KEY"));
        let t = TargetSpec::parse("vllm/google/gemma-3-27b-it", None, None).unwrap();
        assert_eq!(t.model, "google/gemma-3-27b-it");
        assert_eq!(t.base_url, "http://127.0.0.1:8000/v1");
        let t = TargetSpec::parse("anthropic/claude-x", None, Some("MY_KEY")).unwrap();
        assert_eq!(t.api_key_env.as_deref(), Some("MY_KEY"));
        let t = TargetSpec::parse("mock/random?seed=3&p=0.25", None, None).unwrap();
        assert_eq!(
            t.kind,
            ProviderKind::Mock(MockKind::Random { seed: 3, p: 0.25 })
        );
        assert!(t.is_mock());
    }

    #[test]
    fn bad_targets_say_what_is_expected() {
        assert!(TargetSpec::parse("gpt-4o", None, None)
            .unwrap_err()
            .0
            .contains("no provider prefix"));
        assert!(TargetSpec::parse("foo/bar", None, None)
            .unwrap_err()
            .0
            .contains("unknown provider 'foo'"));
        assert!(TargetSpec::parse("openai-api/x/y", None, None)
            .unwrap_err()
            .0
            .contains("needs --base-url"));
        assert!(TargetSpec::parse("mock/random?p=2", None, None)
            .unwrap_err()
            .0
            .contains("within 0 and 1"));
        assert!(TargetSpec::parse("mock/nice", None, None)
            .unwrap_err()
            .0
            .contains("unknown mock"));
    }
}
