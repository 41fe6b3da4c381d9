//! The records a run is made of, as the store keeps them: a [`RunRecord`] per run, a
//! [`ResponseRow`] per (run, sample), a [`Judgment`] per (run, sample, judge, measure) and a
//! [`GuardRow`] per (guard, mode, sample). This module is the leaf of the crate: it depends on
//! nothing else in it.

pub use ksafe_core::guard_metrics::GuardRow;
pub use ksafe_core::metrics::{Measure, Tri};
use serde::{Deserialize, Serialize};

/// What a run is: everything a report must say about what was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `<target slug>-<8 hex>`, derived from what defines the run.
    pub run_id: String,
    /// When the run was first recorded (UTC).
    pub created_at: String,
    /// The target's name as the user wrote it.
    pub target: String,
    /// The model id sent to the provider.
    pub model: String,
    /// The endpoint (never holds a key).
    pub base_url: String,
    /// A mock target (not a model).
    pub is_mock: bool,
    /// The dataset directory.
    pub dataset: String,
    /// The dataset's name from its manifest.
    pub dataset_name: String,
    /// The sha256 of the dataset's samples file.
    pub dataset_hash: String,
    /// Decoding parameters and system prompt (JSON).
    pub params: serde_json::Value,
    /// Concurrency, limits, retries, selection (JSON).
    pub config: serde_json::Value,
    /// The tool and version that made the run.
    pub tool: String,
}

/// The outcome of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The model answered.
    Ok,
    /// Blocked by the provider's content filter: an outcome, not an error.
    ContentFilter,
    /// No answer; the class and message say why.
    Error,
}

impl Status {
    /// The stored id.
    pub fn id(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::ContentFilter => "content_filter",
            Status::Error => "error",
        }
    }

    /// Parse a stored id (`None` for anything else).
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "ok" => Some(Status::Ok),
            "content_filter" => Some(Status::ContentFilter),
            "error" => Some(Status::Error),
            _ => None,
        }
    }
}

/// One sample's outcome in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRow {
    /// The run.
    pub run_id: String,
    /// The sample.
    pub sample_id: String,
    /// Ok, content filter or error.
    pub status: Status,
    /// The response text (ok).
    pub text: Option<String>,
    /// The provider's finish reason.
    pub finish_reason: Option<String>,
    /// Input tokens the provider counted.
    pub prompt_tokens: Option<u64>,
    /// Output tokens the provider counted.
    pub completion_tokens: Option<u64>,
    /// Wall time of the sample, retries included.
    pub latency_ms: f64,
    /// Attempts made.
    pub attempts: u32,
    /// The error class (`rate_limit`, `server_error`, `client_error`, `timeout`, `connect`,
    /// `malformed`, `input`, `panic`) or `content_filter`.
    pub error_class: Option<String>,
    /// What went wrong, in words.
    pub error_message: Option<String>,
    /// The model id the server says answered.
    pub model: Option<String>,
    /// When the sample settled (UTC).
    pub finished_at: String,
}

impl ResponseRow {
    /// A row of an error without class or message yet, settled now; the caller fills in what
    /// it learns.
    pub fn pending(run_id: &str, sample_id: &str) -> ResponseRow {
        ResponseRow {
            run_id: run_id.to_string(),
            sample_id: sample_id.to_string(),
            status: Status::Error,
            text: None,
            finish_reason: None,
            prompt_tokens: None,
            completion_tokens: None,
            latency_ms: 0.0,
            attempts: 0,
            error_class: None,
            error_message: None,
            model: None,
            finished_at: now_utc(),
        }
    }

    /// A failed row of `class` with `message`, settled now.
    pub fn failed(run_id: &str, sample_id: &str, class: &str, message: String) -> ResponseRow {
        ResponseRow {
            error_class: Some(class.to_string()),
            error_message: Some(message),
            ..ResponseRow::pending(run_id, sample_id)
        }
    }
}

/// One stored verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgment {
    /// The run.
    pub run_id: String,
    /// The sample.
    pub sample_id: String,
    /// The judge id (`heuristic`, `safety:<model>`, `refusal:<model>`, `guard:<model>`).
    pub judge: String,
    /// What the verdict measures.
    pub kind: Measure,
    /// Yes (unsafe / refused), no, or unscored.
    pub verdict: Tri,
    /// Why it is unscored, or a short detail (G2 elements, guard categories).
    pub detail: String,
    /// The judge model's raw output (empty for the heuristic).
    pub raw: String,
    /// The model that judged.
    pub judge_model: String,
    /// The hash of the judge's prompt.
    pub prompt_hash: String,
    /// When it was judged (UTC).
    pub created_at: String,
}

/// UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil-from-days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
