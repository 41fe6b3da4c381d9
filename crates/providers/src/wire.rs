//! Request bodies and response parsing for each API. Pure functions, so they are tested without
//! a server.

use crate::types::{prefix, CallError, DecodeParams, Request, Response};
use serde_json::{json, Value};

fn malformed(why: impl Into<String>, body: &str) -> CallError {
    CallError::Malformed {
        why: why.into(),
        body: prefix(body, 200),
    }
}

fn parse_json(body: &str) -> Result<Value, CallError> {
    serde_json::from_str(body).map_err(|e| malformed(format!("not JSON: {e}"), body))
}

fn u(v: &Value) -> Option<u64> {
    v.as_u64()
}

// ---------------------------------------------------------------- OpenAI chat completions

/// The body of an OpenAI chat-completions request: an optional system message, the user turn
/// (the image as a `data:` URL before the text), the turn to check if any, and the decoding
/// parameters that are set.
pub fn openai_body(model: &str, req: &Request) -> Value {
    let p = &req.params;
    let mut messages = Vec::new();
    if let Some(sys) = &p.system_prompt {
        messages.push(json!({"role": "system", "content": sys}));
    }
    let content = match &req.image {
        None => json!(req.text),
        Some(img) => json!([
            {"type": "image_url", "image_url": {"url": img.data_url()}},
            {"type": "text", "text": req.text},
        ]),
    };
    messages.push(json!({"role": "user", "content": content}));
    if let Some(r) = &req.response_to_check {
        messages.push(json!({"role": "assistant", "content": r}));
    }
    let mut body = json!({"model": model, "messages": messages});
    decode_into(&mut body, p, "max_tokens");
    if let Some(n) = p.logprobs {
        body["logprobs"] = json!(true);
        body["top_logprobs"] = json!(n);
    }
    body
}

fn decode_into(body: &mut Value, p: &DecodeParams, max_tokens_key: &str) {
    let o = body.as_object_mut().expect("object");
    if let Some(t) = p.temperature {
        o.insert("temperature".into(), json!(t));
    }
    if let Some(t) = p.max_tokens {
        o.insert(max_tokens_key.into(), json!(t));
    }
    if let Some(t) = p.top_p {
        o.insert("top_p".into(), json!(t));
    }
    if let Some(t) = p.seed {
        o.insert("seed".into(), json!(t));
    }
}

/// Parse a chat-completions answer. `finish_reason: content_filter` is a
/// [`CallError::ContentFilter`]; a body without `choices[0].message` is [`CallError::Malformed`].
pub fn openai_parse(body: &str) -> Result<Response, CallError> {
    let v = parse_json(body)?;
    if let Some(err) = v.get("error") {
        return Err(malformed(
            format!(
                "error object in a 200 response: {}",
                prefix(&err.to_string(), 200)
            ),
            body,
        ));
    }
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| malformed("no choices[0]", body))?;
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    let msg = choice
        .get("message")
        .ok_or_else(|| malformed("no choices[0].message", body))?;
    // content is a string; some servers send a list of parts; OpenAI puts refusals in `refusal`.
    let text = match msg.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        Some(Value::Null) | None => msg
            .get("refusal")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        Some(other) => return Err(malformed(format!("message.content is {other}"), body)),
    };
    if finish.as_deref() == Some("content_filter") {
        return Err(CallError::ContentFilter {
            detail: format!(
                "finish_reason content_filter; partial text: {}",
                prefix(&text, 100)
            ),
        });
    }
    let usage = v.get("usage");
    let top_logprobs = choice
        .pointer("/logprobs/content/0/top_logprobs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| {
                    Some((
                        t.get("token")?.as_str()?.to_string(),
                        t.get("logprob")?.as_f64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Response {
        text,
        finish_reason: finish,
        top_logprobs,
        prompt_tokens: usage.and_then(|x| x.get("prompt_tokens")).and_then(u),
        completion_tokens: usage.and_then(|x| x.get("completion_tokens")).and_then(u),
        model: v.get("model").and_then(Value::as_str).map(str::to_string),
    })
}

// ---------------------------------------------------------------- Anthropic messages

/// The body of an Anthropic messages request: the image block before the text, `system` when set,
/// and `max_tokens` (1024 when not set).
pub fn anthropic_body(model: &str, req: &Request) -> Value {
    let p = &req.params;
    let mut content = Vec::new();
    if let Some(img) = &req.image {
        content.push(json!({"type": "image", "source": {"type": "base64", "media_type": img.mime, "data": &*img.base64}}));
    }
    content.push(json!({"type": "text", "text": req.text}));
    let mut messages = vec![json!({"role": "user", "content": content})];
    if let Some(r) = &req.response_to_check {
        messages.push(json!({"role": "assistant", "content": r}));
    }
    let mut body = json!({
        "model": model,
        "max_tokens": p.max_tokens.unwrap_or(1024),
        "messages": messages,
    });
    if let Some(sys) = &p.system_prompt {
        body["system"] = json!(sys);
    }
    let o = body.as_object_mut().expect("object");
    if let Some(t) = p.temperature {
        o.insert("temperature".into(), json!(t));
    }
    if let Some(t) = p.top_p {
        o.insert("top_p".into(), json!(t));
    }
    body
}

/// Parse an Anthropic messages answer (its text blocks joined). A `refusal` stop is a
/// [`CallError::ContentFilter`]; a body without a `content` array is [`CallError::Malformed`].
pub fn anthropic_parse(body: &str) -> Result<Response, CallError> {
    let v = parse_json(body)?;
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no content array", body))?;
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let stop = v
        .get("stop_reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    if stop.as_deref() == Some("refusal") {
        return Err(CallError::ContentFilter {
            detail: format!("stop_reason refusal; partial text: {}", prefix(&text, 100)),
        });
    }
    let usage = v.get("usage");
    Ok(Response {
        text,
        finish_reason: stop,
        prompt_tokens: usage.and_then(|x| x.get("input_tokens")).and_then(u),
        completion_tokens: usage.and_then(|x| x.get("output_tokens")).and_then(u),
        model: v.get("model").and_then(Value::as_str).map(str::to_string),
        top_logprobs: Vec::new(),
    })
}

// ---------------------------------------------------------------- Google generateContent

/// The body of a Google `generateContent` request: the inline image before the text,
/// `systemInstruction` when set, and a `generationConfig` of the decoding parameters that are set.
pub fn google_body(req: &Request) -> Value {
    let p = &req.params;
    let mut parts = Vec::new();
    if let Some(img) = &req.image {
        parts.push(json!({"inline_data": {"mime_type": img.mime, "data": &*img.base64}}));
    }
    parts.push(json!({"text": req.text}));
    let mut contents = vec![json!({"role": "user", "parts": parts})];
    if let Some(r) = &req.response_to_check {
        contents.push(json!({"role": "model", "parts": [{"text": r}]}));
    }
    let mut body = json!({"contents": contents});
    if let Some(sys) = &p.system_prompt {
        body["systemInstruction"] = json!({"parts": [{"text": sys}]});
    }
    let mut gen = serde_json::Map::new();
    if let Some(t) = p.temperature {
        gen.insert("temperature".into(), json!(t));
    }
    if let Some(t) = p.max_tokens {
        gen.insert("maxOutputTokens".into(), json!(t));
    }
    if let Some(t) = p.top_p {
        gen.insert("topP".into(), json!(t));
    }
    if let Some(t) = p.seed {
        gen.insert("seed".into(), json!(t));
    }
    if !gen.is_empty() {
        body["generationConfig"] = Value::Object(gen);
    }
    body
}

const GOOGLE_BLOCKS: [&str; 6] = [
    "SAFETY",
    "PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
    "IMAGE_SAFETY",
];

/// Parse a Google `generateContent` answer. A blocked prompt or a safety finish reason (`SAFETY`,
/// `PROHIBITED_CONTENT`, `BLOCKLIST`, `SPII`, `RECITATION`, `IMAGE_SAFETY`) is a
/// [`CallError::ContentFilter`]; a body without `candidates[0]` is [`CallError::Malformed`].
pub fn google_parse(body: &str) -> Result<Response, CallError> {
    let v = parse_json(body)?;
    if let Some(reason) = v
        .pointer("/promptFeedback/blockReason")
        .and_then(Value::as_str)
    {
        return Err(CallError::ContentFilter {
            detail: format!("prompt blocked: {reason}"),
        });
    }
    let cand = v
        .pointer("/candidates/0")
        .ok_or_else(|| malformed("no candidates[0]", body))?;
    let finish = cand
        .get("finishReason")
        .and_then(Value::as_str)
        .map(str::to_string);
    let text: String = cand
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if let Some(f) = finish.as_deref() {
        if GOOGLE_BLOCKS.contains(&f) {
            return Err(CallError::ContentFilter {
                detail: format!("finishReason {f}"),
            });
        }
    }
    Ok(Response {
        text,
        finish_reason: finish,
        prompt_tokens: v.pointer("/usageMetadata/promptTokenCount").and_then(u),
        completion_tokens: v.pointer("/usageMetadata/candidatesTokenCount").and_then(u),
        model: v
            .get("modelVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        top_logprobs: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ImageData;
    use std::sync::Arc;

    fn req(image: bool) -> Request {
        Request {
            id: "s1".into(),
            text: "이 사진 설명해 줘".into(),
            image: image.then(|| ImageData {
                mime: "image/png",
                base64: Arc::from("iVBORw0KGgo="),
            }),
            params: DecodeParams {
                temperature: Some(0.0),
                max_tokens: Some(256),
                system_prompt: Some("You are helpful.".into()),
                ..Default::default()
            },
            response_to_check: None,
        }
    }

    #[test]
    fn openai_request_and_response() {
        let b = openai_body("m", &req(true));
        assert_eq!(b["messages"][0]["role"], "system");
        assert_eq!(
            b["messages"][1]["content"][0]["image_url"]["url"],
            "data:image/png;base64,iVBORw0KGgo="
        );
        assert_eq!(b["max_tokens"], 256);
        assert_eq!(
            openai_body("m", &req(false))["messages"][1]["content"],
            "이 사진 설명해 줘"
        );
        let r = openai_parse(r#"{"model":"m1","choices":[{"message":{"content":"죄송합니다"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":3}}"#).unwrap();
        assert_eq!(
            (r.text.as_str(), r.prompt_tokens, r.model.as_deref()),
            ("죄송합니다", Some(10), Some("m1"))
        );
        let r = openai_parse(r#"{"choices":[{"message":{"content":null,"refusal":"I can't help"},"finish_reason":"stop"}]}"#).unwrap();
        assert_eq!(r.text, "I can't help");
        let e = openai_parse(
            r#"{"choices":[{"message":{"content":""},"finish_reason":"content_filter"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.class(), "content_filter");
        let e = openai_parse("<html>502 Bad Gateway</html>").unwrap_err();
        assert!(e.to_string().contains("body starts: <html>502"), "{e}");
        assert!(openai_parse(r#"{"choices":[]}"#)
            .unwrap_err()
            .to_string()
            .contains("no choices[0]"));
    }

    #[test]
    fn anthropic_request_and_response() {
        let b = anthropic_body("c", &req(true));
        assert_eq!(
            b["messages"][0]["content"][0]["source"]["media_type"],
            "image/png"
        );
        assert_eq!(b["system"], "You are helpful.");
        let r = anthropic_parse(r#"{"model":"c","content":[{"type":"text","text":"안녕"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}"#).unwrap();
        assert_eq!((r.text.as_str(), r.completion_tokens), ("안녕", Some(2)));
        assert_eq!(
            anthropic_parse(r#"{"content":[],"stop_reason":"refusal"}"#)
                .unwrap_err()
                .class(),
            "content_filter"
        );
    }

    #[test]
    fn google_request_and_response() {
        let b = google_body(&req(true));
        assert_eq!(
            b["contents"][0]["parts"][0]["inline_data"]["mime_type"],
            "image/png"
        );
        assert_eq!(b["generationConfig"]["maxOutputTokens"], 256);
        let r = google_parse(r#"{"candidates":[{"content":{"parts":[{"text":"네"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":1}}"#).unwrap();
        assert_eq!(r.text, "네");
        assert_eq!(
            google_parse(r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#)
                .unwrap_err()
                .class(),
            "content_filter"
        );
        assert_eq!(
            google_parse(r#"{"candidates":[{"finishReason":"PROHIBITED_CONTENT"}]}"#)
                .unwrap_err()
                .class(),
            "content_filter"
        );
    }
}
