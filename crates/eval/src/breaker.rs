//! The circuit breaker of a run: a target that cannot be used is stopped after a few requests,
//! with one message naming the cause and the fix, instead of failing every sample of the
//! dataset. It trips when
//!
//! - `fatal_after` samples in a row fail with the same endpoint-level cause — the key is refused
//!   (401/403), the model or path does not exist (404), nothing answers at the address
//!   (connection refused, DNS, TLS) — which no retry can mend; or
//! - `window` samples in a row fail for any reason (a server that broke mid-run).
//!
//! Transient causes (429, 5xx, timeouts) keep the retry policy; they only count towards the
//! window once a sample has exhausted its retries.

use crate::record::{ResponseRow, Status};
use ksafe_providers::TargetSpec;
use std::collections::BTreeMap;

/// The error classes no retry can mend: the endpoint, not the sample, is at fault.
pub const FATAL_CLASSES: [&str; 3] = ["auth", "not_found", "unreachable"];

/// When the breaker trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Off: every sample is asked whatever happens.
    pub enabled: bool,
    /// Consecutive samples failing with one endpoint-level cause.
    pub fatal_after: usize,
    /// Consecutive failed samples of any cause.
    pub window: usize,
}

impl BreakerConfig {
    /// The defaults for a run at `concurrency`: 20 endpoint-level failures, or a window of
    /// 4 × concurrency (at least 100) failed samples.
    pub fn for_concurrency(concurrency: usize) -> BreakerConfig {
        BreakerConfig {
            enabled: true,
            fatal_after: 20,
            window: (4 * concurrency).max(100),
        }
    }
}

/// Why a run was stopped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Trip {
    /// The error class that tripped it (`auth`, `not_found`, `unreachable`), or `window`.
    pub class: String,
    /// The failures counted, by class.
    pub failures: BTreeMap<String, u64>,
    /// The last error message seen.
    pub example: String,
    /// What is wrong and what to do, in words.
    pub message: String,
}

/// Counts consecutive failures and decides when to stop.
#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    fatal_run: usize,
    fatal_class: String,
    failed_run: usize,
    failures: BTreeMap<String, u64>,
}

impl Breaker {
    /// A breaker that has seen nothing.
    pub fn new(cfg: BreakerConfig) -> Breaker {
        Breaker {
            cfg,
            fatal_run: 0,
            fatal_class: String::new(),
            failed_run: 0,
            failures: BTreeMap::new(),
        }
    }

    /// Count a settled sample; `Some` when the run must stop.
    pub fn record(&mut self, row: &ResponseRow, target: &TargetSpec) -> Option<Trip> {
        if !self.cfg.enabled {
            return None;
        }
        if row.status != Status::Error {
            self.fatal_run = 0;
            self.failed_run = 0;
            self.failures.clear();
            return None;
        }
        let class = row.error_class.clone().unwrap_or_else(|| "error".into());
        *self.failures.entry(class.clone()).or_default() += 1;
        self.failed_run += 1;
        if FATAL_CLASSES.contains(&class.as_str()) {
            if class == self.fatal_class {
                self.fatal_run += 1;
            } else {
                self.fatal_class = class.clone();
                self.fatal_run = 1;
            }
        } else {
            self.fatal_run = 0;
        }
        let example = row.error_message.clone().unwrap_or_default();
        if self.fatal_run >= self.cfg.fatal_after {
            return Some(self.trip(&class, example, target));
        }
        if self.failed_run >= self.cfg.window {
            return Some(self.trip("window", example, target));
        }
        None
    }

    fn trip(&self, class: &str, example: String, target: &TargetSpec) -> Trip {
        let url = &target.base_url;
        let key = target
            .api_key_env
            .as_deref()
            .map(|k| format!("the key in ${k}"))
            .unwrap_or_else(|| "the API key".into());
        let what = match class {
            "auth" => format!(
                "{url} refuses the request as unauthorized (HTTP 401/403): check {key} (or name another variable with --api-key-env)"
            ),
            "not_found" => format!(
                "{url} answers 404: the model '{}' or the path does not exist there — check --target, and that --base-url ends where the server's API starts (e.g. …/v1)",
                target.model
            ),
            "unreachable" => format!(
                "nothing answers at {url}: start the server, or correct --base-url"
            ),
            _ => format!(
                "the last {} samples all failed ({}): the server at {url} is failing",
                self.failed_run,
                self.failures
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Trip {
            class: class.to_string(),
            failures: self.failures.clone(),
            message: format!(
                "stopped {}: {what}. Once fixed, run the same command with --retry-errors to ask the failed samples again (--no-breaker turns this check off).",
                target.name
            ),
            example,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: Status, class: Option<&str>) -> ResponseRow {
        let mut r = ResponseRow::pending("r", "s");
        r.status = status;
        r.error_class = class.map(str::to_string);
        r.error_message = class.map(|c| format!("{c} happened"));
        r
    }

    #[test]
    fn trips_on_repeated_endpoint_failures_and_on_a_failed_window() {
        let t = TargetSpec::parse("openai-api/x/m", Some("http://127.0.0.1:9/v1"), None).unwrap();
        let mut b = Breaker::new(BreakerConfig {
            enabled: true,
            fatal_after: 3,
            window: 5,
        });
        assert!(b.record(&row(Status::Error, Some("auth")), &t).is_none());
        assert!(b.record(&row(Status::Error, Some("auth")), &t).is_none());
        let trip = b.record(&row(Status::Error, Some("auth")), &t).unwrap();
        assert_eq!(trip.class, "auth");
        assert!(trip.message.contains("--retry-errors"), "{}", trip.message);
        let mut b = Breaker::new(BreakerConfig {
            enabled: true,
            fatal_after: 3,
            window: 5,
        });
        for _ in 0..4 {
            assert!(b
                .record(&row(Status::Error, Some("server_error")), &t)
                .is_none());
        }
        assert!(
            b.record(&row(Status::Ok, None), &t).is_none(),
            "a success resets"
        );
        for _ in 0..4 {
            assert!(b.record(&row(Status::Error, Some("timeout")), &t).is_none());
        }
        assert_eq!(
            b.record(&row(Status::Error, Some("timeout")), &t)
                .unwrap()
                .class,
            "window"
        );
        let mut off = Breaker::new(BreakerConfig {
            enabled: false,
            fatal_after: 1,
            window: 1,
        });
        assert!(off.record(&row(Status::Error, Some("auth")), &t).is_none());
    }
}
