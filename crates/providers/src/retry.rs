//! One call with the whole discipline around it: an adaptive concurrency permit, RPM/TPM pacing,
//! retries of transient failures with backoff, and the attempt and repeated-error caps. The eval
//! runner, the judges and the build pipeline's model mode all call models through this.

use crate::limits::{Aimd, RateLimiter, RetryPolicy};
use crate::types::{CallError, Request, Response};
use crate::Client;
use ksafe_core::Rng;

/// The result of a call after retries.
#[derive(Debug, Clone)]
pub struct Called {
    pub result: Result<Response, CallError>,
    pub attempts: u32,
    /// Why retrying stopped, when it did before success ("the same error 3 times in a row",
    /// "after 6 attempts").
    pub gave_up: Option<GaveUp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    SameError(u32),
    AttemptCap(u32),
}

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GaveUp::SameError(n) => write!(f, "gave up: the same error {n} times in a row"),
            GaveUp::AttemptCap(n) => write!(f, "gave up after {n} attempts"),
        }
    }
}

/// The shared limits of one endpoint.
pub struct Limits {
    pub aimd: Aimd,
    pub rate: RateLimiter,
    pub policy: RetryPolicy,
}

/// Call `client` with retries. `on_retry(+1/-1)` reports samples waiting to retry.
pub async fn call_with_retries(
    client: &Client,
    req: &Request,
    limits: &Limits,
    est_tokens: u64,
    rng: &mut Rng,
    on_retry: &(dyn Fn(i64) + Send + Sync),
) -> Called {
    let policy = &limits.policy;
    let mut last_sig = String::new();
    let mut same = 0u32;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let permit = limits.aimd.acquire().await;
        limits.rate.acquire(est_tokens).await;
        let result = client.call(req).await;
        drop(permit);
        match result {
            Ok(r) => {
                limits.aimd.on_success();
                return Called {
                    result: Ok(r),
                    attempts,
                    gave_up: None,
                };
            }
            Err(e) => {
                if matches!(e, CallError::ContentFilter { .. }) {
                    limits.aimd.on_success();
                }
                if e.is_rate_limit() {
                    limits.aimd.on_rate_limit();
                }
                let sig = e.to_string();
                same = if sig == last_sig { same + 1 } else { 1 };
                last_sig = sig;
                if !e.retryable() {
                    return Called {
                        result: Err(e),
                        attempts,
                        gave_up: None,
                    };
                }
                if !e.is_rate_limit() && same >= policy.same_error_cap {
                    return Called {
                        result: Err(e),
                        attempts,
                        gave_up: Some(GaveUp::SameError(same)),
                    };
                }
                if attempts >= policy.max_attempts {
                    return Called {
                        result: Err(e),
                        attempts,
                        gave_up: Some(GaveUp::AttemptCap(attempts)),
                    };
                }
                on_retry(1);
                tokio::time::sleep(policy.delay(attempts, &e, rng)).await;
                on_retry(-1);
            }
        }
    }
}
