//! A fake OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.
//!
//! Random behaviour is set by [`FakeConfig`] rates (seeded, so runs repeat). Scripted behaviour is
//! set by markers in the prompt text, so a test can make one sample fail in a known way:
//!
//! | marker | behaviour |
//! |---|---|
//! | `[[fail:429x2]]` | the first 2 requests with this prompt get 429 (Retry-After: 0), then 200 |
//! | `[[fail:500x3]]` | the first 3 requests get 500, then 200 |
//! | `[[always:400]]` | always 400 with the same body |
//! | `[[always:503]]` | always 503 with the same body |
//! | `[[hangx1]]` | the first request never answers (the client must time out), then 200 |
//! | `[[malformed]]` | always 200 with a body that is not JSON |
//! | `[[filter]]` | `finish_reason: content_filter` |
//!
//! The reply is a refusal, a compliance or an echo of the prompt ([`Reply`]).

#![warn(missing_docs)]

use ksafe_core::Rng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The reply text when no [`FakeConfig::script`] is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A fixed Korean refusal.
    Refuse,
    /// A fixed Korean compliance placeholder (no real content).
    Comply,
    /// The prompt text, repeated.
    Echo,
}

/// A reply computed from the prompt (for driving the build pipeline's model mode in tests).
#[derive(Clone)]
pub struct Script(pub Arc<dyn Fn(&str) -> String + Send + Sync>);

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Script(..)")
    }
}

/// How the fake server behaves; the default answers every request at once with a refusal.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// When set, the reply text is `script(prompt)` (markers still apply first).
    pub script: Option<Script>,
    /// When set, the reply carries top log-probabilities for its first token, from
    /// `logprobs(prompt)` = "TOKEN=LOGPROB;TOKEN=LOGPROB…".
    pub logprobs: Option<Script>,
    /// Delay before every chat-completions answer (default none).
    pub latency: Duration,
    /// Share of requests answered 500.
    pub error_rate: f64,
    /// Share of requests answered 429 with `Retry-After: retry_after_s`.
    pub rate_limit_rate: f64,
    /// The `Retry-After` of those random 429s, in seconds (default 0).
    pub retry_after_s: f64,
    /// Share of requests that never get an answer.
    pub hang_rate: f64,
    /// Share of requests answered 200 with a non-JSON body.
    pub malformed_rate: f64,
    /// The reply when `script` is not set (default [`Reply::Refuse`]).
    pub reply: Reply,
    /// Seed of the random behaviour and of the generated images (default 0).
    pub seed: u64,
    /// Answer every request with this status (401, 404, 500 …) and an error body that echoes
    /// the request's Authorization header, as careless servers do (default none).
    pub status_all: Option<u16>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            latency: Duration::ZERO,
            error_rate: 0.0,
            rate_limit_rate: 0.0,
            retry_after_s: 0.0,
            hang_rate: 0.0,
            malformed_rate: 0.0,
            reply: Reply::Refuse,
            seed: 0,
            script: None,
            logprobs: None,
            status_all: None,
        }
    }
}

/// Counters a test can read.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests received (chat completions and image generations).
    pub requests: AtomicU64,
    /// Requests answered 200 (malformed bodies and images included).
    pub ok: AtomicU64,
    /// Requests answered 429.
    pub status_429: AtomicU64,
    /// Requests answered with a 5xx status.
    pub status_5xx: AtomicU64,
    /// Requests answered with another status (the scripted 400).
    pub status_4xx: AtomicU64,
    /// Requests left without an answer.
    pub hangs: AtomicU64,
    /// Image-generation requests (`…/images/generations`).
    pub image_requests: AtomicU64,
    /// Requests answered 200 with a body that is not valid JSON.
    pub malformed: AtomicU64,
    /// The largest number of requests being handled at once.
    pub max_in_flight: AtomicU64,
    in_flight: AtomicU64,
    /// Authorization headers seen (to check a key was sent).
    pub auth_headers: Mutex<Vec<String>>,
    /// When each request arrived (to check a client's pacing at the server).
    pub arrivals: Mutex<Vec<std::time::Instant>>,
}

struct Shared {
    cfg: FakeConfig,
    stats: Arc<Stats>,
    seen: Mutex<HashMap<String, u32>>,
    rng: Mutex<Rng>,
}

/// A running fake server; it stops when dropped.
pub struct FakeServer {
    /// The address it listens on (127.0.0.1).
    pub addr: SocketAddr,
    /// Its counters, updated as requests come in.
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// Start on 127.0.0.1 with an ephemeral port, on the current tokio runtime.
    pub async fn start(cfg: FakeConfig) -> std::io::Result<FakeServer> {
        FakeServer::start_on(cfg, 0).await
    }

    /// Start on 127.0.0.1 port `port` (0 for an ephemeral port), on the current tokio runtime.
    pub async fn start_on(cfg: FakeConfig, port: u16) -> std::io::Result<FakeServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let shared = Arc::new(Shared {
            rng: Mutex::new(Rng::new(cfg.seed)),
            cfg,
            stats: stats.clone(),
            seen: Mutex::new(HashMap::new()),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let _ = sock.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = serve_connection(sock, shared).await;
                });
            }
        });
        Ok(FakeServer { addr, stats, task })
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_connection(mut sock: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        // read the head
        let head_end = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                break p;
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut len = 0usize;
        let mut auth = None;
        for line in head.lines().skip(1) {
            if let Some((k, v)) = line.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    "authorization" => auth = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        let body_start = head_end + 4;
        while buf.len() < body_start + len {
            let mut chunk = vec![0u8; (body_start + len - buf.len()).min(1 << 20)];
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body: Vec<u8> = buf[body_start..body_start + len].to_vec();
        buf.drain(..body_start + len);
        if let Some(a) = auth {
            shared.stats.auth_headers.lock().unwrap().push(a);
        }
        let stats = &shared.stats;
        stats.requests.fetch_add(1, Ordering::Relaxed);
        stats
            .arrivals
            .lock()
            .unwrap()
            .push(std::time::Instant::now());
        let now = stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::Relaxed);
        let reply = if let Some(code) = shared.cfg.status_all {
            let echo = shared
                .stats
                .auth_headers
                .lock()
                .unwrap()
                .last()
                .cloned()
                .unwrap_or_default();
            Some((
                code,
                String::new(),
                serde_json::json!({
                    "error": {"message": format!("request refused ({code})"), "type": "fake"},
                    "request": {"headers": {"authorization": echo}, "path": path},
                })
                .to_string(),
            ))
        } else if path.ends_with("/images/generations") {
            Some(image_reply(&shared, &body))
        } else {
            handle(&shared, &body).await
        };
        stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        let Some((status, extra, text)) = reply else {
            // hang: keep the connection open and never answer
            stats.hangs.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        };
        match status {
            200 => stats.ok.fetch_add(1, Ordering::Relaxed),
            429 => stats.status_429.fetch_add(1, Ordering::Relaxed),
            500..=599 => stats.status_5xx.fetch_add(1, Ordering::Relaxed),
            _ => stats.status_4xx.fetch_add(1, Ordering::Relaxed),
        };
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "Status",
        };
        let resp = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n",
            text.len()
        );
        sock.write_all(resp.as_bytes()).await?;
        sock.write_all(text.as_bytes()).await?;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The prompt text of a chat-completions body (the last user message's text).
fn prompt_of(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let Some(msgs) = v.get("messages").and_then(|m| m.as_array()) else {
        return String::new();
    };
    let Some(last) = msgs.last() else {
        return String::new();
    };
    match last.get("content") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn marker_count(prompt: &str, kind: &str) -> Option<u32> {
    let start = prompt.find(&format!("[[{kind}x"))? + kind.len() + 3;
    let end = prompt[start..].find("]]")? + start;
    prompt[start..end].parse().ok()
}

async fn handle(shared: &Shared, body: &[u8]) -> Option<(u16, String, String)> {
    let cfg = &shared.cfg;
    if !cfg.latency.is_zero() {
        tokio::time::sleep(cfg.latency).await;
    }
    let prompt = prompt_of(body);
    let attempt = {
        let mut seen = shared.seen.lock().unwrap();
        let n = seen.entry(prompt.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let err = |status: u16, extra: &str, msg: &str| {
        Some((
            status,
            extra.to_string(),
            serde_json::json!({"error": {"message": msg, "type": "fake"}}).to_string(),
        ))
    };
    // scripted behaviour
    if let Some(n) = marker_count(&prompt, "fail:429") {
        if attempt <= n {
            return err(429, "retry-after: 0\r\n", "rate limited (scripted)");
        }
    }
    if let Some(n) = marker_count(&prompt, "fail:500") {
        if attempt <= n {
            return err(500, "", "server error (scripted)");
        }
    }
    if prompt.contains("[[always:400]]") {
        return err(400, "", "invalid request: image too large (scripted)");
    }
    if prompt.contains("[[always:503]]") {
        return err(503, "", "overloaded (scripted)");
    }
    if let Some(n) = marker_count(&prompt, "hang") {
        if attempt <= n {
            return None;
        }
    }
    if prompt.contains("[[malformed]]") {
        shared.stats.malformed.fetch_add(1, Ordering::Relaxed);
        return Some((
            200,
            String::new(),
            "<html><body>upstream proxy error</body></html>".into(),
        ));
    }
    // random behaviour
    let r = shared.rng.lock().unwrap().unit();
    let mut acc = 0.0;
    for (rate, what) in [
        (cfg.rate_limit_rate, 0),
        (cfg.error_rate, 1),
        (cfg.hang_rate, 2),
        (cfg.malformed_rate, 3),
    ] {
        acc += rate;
        if r < acc {
            return match what {
                0 => err(
                    429,
                    &format!("retry-after: {}\r\n", cfg.retry_after_s),
                    "rate limited",
                ),
                1 => err(500, "", "internal error"),
                2 => None,
                _ => {
                    shared.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    Some((200, String::new(), "{\"choices\": [".into()))
                }
            };
        }
    }
    let filter = prompt.contains("[[filter]]");
    let content = match (&cfg.script, cfg.reply) {
        (Some(script), _) => (script.0)(&prompt),
        (None, Reply::Refuse) => "죄송하지만, 그 요청은 도와드릴 수 없습니다.".to_string(),
        (None, Reply::Comply) => "네, 단계별로 설명해 드릴게요. 1단계: [fake]".to_string(),
        (None, Reply::Echo) => prompt.clone(),
    };
    let logprobs = cfg.logprobs.as_ref().map(|f| {
        let tops: Vec<serde_json::Value> = (f.0)(&prompt)
            .split(';')
            .filter_map(|p| p.split_once('='))
            .map(|(t, lp)| serde_json::json!({"token": t, "logprob": lp.parse::<f64>().unwrap_or(-99.0)}))
            .collect();
        serde_json::json!({"content": [{"token": tops.first().and_then(|t| t["token"].as_str()).unwrap_or(""), "logprob": tops.first().and_then(|t| t["logprob"].as_f64()).unwrap_or(0.0), "top_logprobs": tops}]})
    });
    let body = serde_json::json!({
        "id": "fake-1",
        "object": "chat.completion",
        "model": "fake-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": if filter { "" } else { content.as_str() }},
                     "finish_reason": if filter { "content_filter" } else { "stop" }, "logprobs": logprobs}],
        "usage": {"prompt_tokens": prompt.chars().count() / 2 + 1, "completion_tokens": content.chars().count() / 2 + 1}
    });
    Some((200, String::new(), body.to_string()))
}

/// `POST …/images/generations`: a 96×96 PNG of coloured blocks derived from the prompt, so
/// different prompts give different images.
fn image_reply(shared: &Shared, body: &[u8]) -> (u16, String, String) {
    use base64::Engine;
    shared.stats.image_requests.fetch_add(1, Ordering::Relaxed);
    let prompt = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("prompt").and_then(|p| p.as_str()).map(str::to_string))
        .unwrap_or_default();
    let mut rng = Rng::derive(shared.cfg.seed, &prompt);
    let mut img = image::RgbImage::new(96, 96);
    for by in 0..6 {
        for bx in 0..6 {
            let c = image::Rgb([
                rng.below(256) as u8,
                rng.below(256) as u8,
                rng.below(256) as u8,
            ]);
            for y in 0..16 {
                for x in 0..16 {
                    img.put_pixel(bx * 16 + x, by * 16 + y, c);
                }
            }
        }
    }
    let mut png = std::io::Cursor::new(Vec::new());
    let _ = img.write_to(&mut png, image::ImageFormat::Png);
    let b64 = base64::engine::general_purpose::STANDARD.encode(png.into_inner());
    (
        200,
        String::new(),
        serde_json::json!({"created": 0, "data": [{"b64_json": b64}]}).to_string(),
    )
}
