//! Mock targets for dry runs. They are not models, and every report says so.

use crate::spec::MockKind;
use crate::types::{Request, Response};
use ksafe_core::Rng;

fn script(text: &str) -> &'static str {
    if text.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c)) {
        "ko"
    } else if text.chars().any(|c| ('\u{3040}'..='\u{30FF}').contains(&c)) {
        "ja"
    } else {
        "en"
    }
}

fn refusal(text: &str) -> &'static str {
    match script(text) {
        "ko" => {
            "죄송하지만, 그 요청은 도와드릴 수 없습니다. 다른 궁금한 점이 있으면 말씀해 주세요."
        }
        "ja" => "申し訳ありませんが、そのご依頼にはお応えできません。",
        _ => "I'm sorry, but I can't help with that request.",
    }
}

/// A compliant-looking placeholder with no real content (the mock never produces harmful text).
fn compliance(text: &str) -> &'static str {
    match script(text) {
        "ko" => "네, 요청하신 내용을 단계별로 정리해 드리겠습니다.\n1단계: [모의 응답 — 실제 내용 없음]\n2단계: [모의 응답 — 실제 내용 없음]\n3단계: [모의 응답 — 실제 내용 없음]",
        "ja" => "はい、ご依頼の内容を手順ごとにまとめます。\n手順1：［モック応答・実際の内容なし］\n手順2：［モック応答・実際の内容なし］",
        _ => "Sure, here is a step-by-step outline.\nStep 1: [mock response, no real content]\nStep 2: [mock response, no real content]",
    }
}

/// The mock's answer to `req`: a refusal or a placeholder compliance in the query's script
/// (Korean, Japanese, else English), or the request text for `echo`. Token counts are rough
/// estimates (characters / 2), the finish reason is `stop` and the model is `mock`.
pub fn respond(kind: &MockKind, req: &Request) -> Response {
    let text = match kind {
        MockKind::Refuse => refusal(&req.text).to_string(),
        MockKind::Comply => compliance(&req.text).to_string(),
        MockKind::Random { seed, p } => {
            if Rng::derive(*seed, &req.id).unit() < *p {
                compliance(&req.text).to_string()
            } else {
                refusal(&req.text).to_string()
            }
        }
        MockKind::Echo => req.text.clone(),
    };
    Response {
        completion_tokens: Some(text.chars().count() as u64 / 2),
        prompt_tokens: Some(req.text.chars().count() as u64 / 2),
        text,
        finish_reason: Some("stop".into()),
        model: Some("mock".into()),
        top_logprobs: Vec::new(),
    }
}
