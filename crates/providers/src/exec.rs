//! THE request executor: every stage that calls a model goes through it — the eval runner, the
//! judges, the guards and the build pipeline's model mode (its images endpoint included).
//!
//! Two pieces:
//!
//! - an [`Endpoint`] is one model behind its limits: an adaptive (AIMD) concurrency limit,
//!   RPM/TPM pacing and a [`RetryPolicy`]. [`Endpoint::call`] makes one logical call with the
//!   whole discipline around it — permit, pacing, retries of transient failures with exponential
//!   backoff, jitter seeded per item, `Retry-After`, the attempt cap and the repeated-error cap.
//!   [`attempts`] is the same loop around any async operation (the images endpoint uses it).
//! - a [`pool`] runs items through an async function with a bounded number in flight, hands each
//!   result to a sink as it finishes, and reports a panicked item as [`Done::Panicked`] instead
//!   of dropping it.

use crate::limits::{Aimd, RateLimiter, RetryPolicy};
use crate::spec::TargetSpec;
use crate::types::{CallError, Request, Response};
use crate::Client;
use ksafe_core::Rng;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// The limits an endpoint is called under.
#[derive(Debug, Clone)]
pub struct ExecConfig {
    /// The most requests in flight; the adaptive limit starts here, halves on a 429 episode and
    /// grows back by one per window of successes.
    pub concurrency: usize,
    /// Requests per minute (none: unpaced).
    pub rpm: Option<u32>,
    /// Tokens per minute, counted with each request's estimate (none: unpaced).
    pub tpm: Option<u32>,
    /// Bound on each HTTP request as a whole.
    pub timeout: Duration,
    /// When to try again and when to stop.
    pub retry: RetryPolicy,
    /// Seed of the retry jitter; each item derives its own generator from it and its key.
    pub seed: u64,
}

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            concurrency: 32,
            rpm: None,
            tpm: None,
            timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            seed: 0,
        }
    }
}

/// The shared limits of one endpoint.
pub struct Limits {
    /// Adaptive concurrency.
    pub aimd: Aimd,
    /// RPM/TPM pacing.
    pub rate: RateLimiter,
    /// Retry policy.
    pub policy: RetryPolicy,
    seed: u64,
}

impl Limits {
    /// Limits for `cfg`.
    pub fn new(cfg: &ExecConfig) -> Limits {
        Limits {
            aimd: Aimd::new(cfg.concurrency, Duration::from_secs(5)),
            rate: RateLimiter::new(cfg.rpm, cfg.tpm),
            policy: cfg.retry.clone(),
            seed: cfg.seed,
        }
    }
}

/// The result of a call after retries.
#[derive(Debug, Clone)]
pub struct Called<T = Response> {
    /// The last attempt's outcome.
    pub result: Result<T, CallError>,
    /// Attempts made (the first included).
    pub attempts: u32,
    /// Why retrying stopped, when it did before success.
    pub gave_up: Option<GaveUp>,
}

/// Why a call stopped retrying before success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    /// The same failure this many times in a row.
    SameError(u32),
    /// The attempt cap was reached.
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

/// Run `op` under `limits` with retries. `key` names the item (its jitter is derived from it);
/// `est_tokens` is what the request counts against a TPM budget; `on_retry(+1/-1)` reports an
/// item entering and leaving a backoff wait.
pub async fn attempts<T, F, Fut>(
    limits: &Limits,
    key: &str,
    est_tokens: u64,
    on_retry: &(dyn Fn(i64) + Send + Sync),
    mut op: F,
) -> Called<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let policy = &limits.policy;
    let mut rng = Rng::derive(limits.seed, key);
    let mut last_sig = String::new();
    let mut same = 0u32;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let permit = limits.aimd.acquire().await;
        limits.rate.acquire(est_tokens).await;
        let result = op().await;
        drop(permit);
        let e = match result {
            Ok(r) => {
                limits.aimd.on_success();
                return Called {
                    result: Ok(r),
                    attempts,
                    gave_up: None,
                };
            }
            Err(e) => e,
        };
        if matches!(e, CallError::ContentFilter { .. }) {
            limits.aimd.on_success();
        }
        if e.is_rate_limit() {
            limits.aimd.on_rate_limit();
        }
        let sig = e.to_string();
        same = if sig == last_sig { same + 1 } else { 1 };
        last_sig = sig;
        let gave_up = if !e.retryable() {
            return Called {
                result: Err(e),
                attempts,
                gave_up: None,
            };
        } else if e.repeats_deterministically() && same >= policy.same_error_cap {
            Some(GaveUp::SameError(same))
        } else if attempts >= policy.max_attempts {
            Some(GaveUp::AttemptCap(attempts))
        } else {
            None
        };
        if gave_up.is_some() {
            return Called {
                result: Err(e),
                attempts,
                gave_up,
            };
        }
        on_retry(1);
        tokio::time::sleep(policy.delay(attempts, &e, &mut rng)).await;
        on_retry(-1);
    }
}

/// One model behind its limits.
pub struct Endpoint {
    client: Client,
    limits: Limits,
}

impl Endpoint {
    /// An endpoint for `spec` under `cfg`. Fails when the client cannot be built (a missing key).
    pub fn new(spec: TargetSpec, cfg: &ExecConfig) -> Result<Endpoint, CallError> {
        Ok(Endpoint {
            client: Client::new(spec, cfg.timeout)?,
            limits: Limits::new(cfg),
        })
    }

    /// The target this endpoint calls.
    pub fn spec(&self) -> &TargetSpec {
        self.client.spec()
    }

    /// The endpoint's limits (for their counters).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// One logical call with retries; `req.id` keys the jitter.
    pub async fn call(
        &self,
        req: &Request,
        est_tokens: u64,
        on_retry: &(dyn Fn(i64) + Send + Sync),
    ) -> Called {
        attempts(&self.limits, &req.id, est_tokens, on_retry, || {
            self.client.call(req)
        })
        .await
    }
}

/// What the pool hands the sink for one item.
#[derive(Debug)]
pub enum Done<O> {
    /// The item's work finished.
    Ok(O),
    /// The item's task panicked: counted and reported, never dropped.
    Panicked {
        /// The item's key.
        key: String,
        /// The panic message.
        message: String,
    },
}

/// What a pool did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Items whose work finished.
    pub finished: u64,
    /// Items whose task panicked.
    pub panicked: u64,
}

/// Run every item of `input` through `work` with at most `workers` in flight, calling `sink`
/// with each result as it finishes (in completion order). `key` names an item for a panic report.
/// The sink returns `false` to stop taking new items (the ones in flight still finish).
pub async fn pool<I, O, K, W, Fut, S>(
    mut input: tokio::sync::mpsc::Receiver<I>,
    workers: usize,
    key: K,
    work: W,
    mut sink: S,
) -> PoolStats
where
    I: Send + 'static,
    O: Send + 'static,
    K: Fn(&I) -> String,
    W: Fn(I) -> Fut,
    Fut: Future<Output = O> + Send + 'static,
    S: FnMut(Done<O>) -> bool,
{
    let workers = workers.max(1);
    let mut set = tokio::task::JoinSet::new();
    let mut keys: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut stats = PoolStats::default();
    let mut open = true;
    let mut take = |joined: Result<(tokio::task::Id, O), tokio::task::JoinError>,
                    keys: &mut HashMap<tokio::task::Id, String>,
                    stats: &mut PoolStats|
     -> bool {
        match joined {
            Ok((id, o)) => {
                keys.remove(&id);
                stats.finished += 1;
                sink(Done::Ok(o))
            }
            Err(e) => {
                let key = keys.remove(&e.id()).unwrap_or_default();
                stats.panicked += 1;
                let message = if e.is_panic() {
                    let p = e.into_panic();
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".into())
                } else {
                    "cancelled".into()
                };
                sink(Done::Panicked { key, message })
            }
        }
    };
    loop {
        while open && set.len() < workers {
            match input.recv().await {
                Some(item) => {
                    let k = key(&item);
                    let handle = set.spawn(work(item));
                    keys.insert(handle.id(), k);
                }
                None => open = false,
            }
        }
        // the refill above leaves the set empty only when the input is done
        let Some(joined) = set.join_next_with_id().await else {
            break;
        };
        if !take(joined, &mut keys, &mut stats) {
            open = false;
            input.close();
        }
    }
    stats
}

/// [`pool`] over the items of an iterator.
pub async fn pool_iter<I, O, K, W, Fut, S>(
    items: impl IntoIterator<Item = I, IntoIter: Send + 'static>,
    workers: usize,
    key: K,
    work: W,
    sink: S,
) -> PoolStats
where
    I: Send + 'static,
    O: Send + 'static,
    K: Fn(&I) -> String,
    W: Fn(I) -> Fut,
    Fut: Future<Output = O> + Send + 'static,
    S: FnMut(Done<O>) -> bool,
{
    let (tx, rx) = tokio::sync::mpsc::channel(workers.max(1) * 2);
    let items = items.into_iter();
    let feeder = tokio::spawn(async move {
        for item in items {
            if tx.send(item).await.is_err() {
                break;
            }
        }
    });
    let stats = pool(rx, workers, key, work, sink).await;
    feeder.abort();
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn pool_bounds_in_flight_and_counts_panics() {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut got = Vec::new();
        let mut panics = Vec::new();
        let stats = pool_iter(
            0..40u32,
            4,
            |i| format!("item-{i}"),
            |i| {
                let (now, peak) = (now.clone(), peak.clone());
                async move {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    if i == 7 {
                        panic!("boom at {i}");
                    }
                    i
                }
            },
            |d| {
                match d {
                    Done::Ok(i) => got.push(i),
                    Done::Panicked { key, message } => panics.push((key, message)),
                }
                true
            },
        )
        .await;
        assert!(peak.load(Ordering::SeqCst) <= 4);
        assert_eq!(stats.finished, 39);
        assert_eq!(stats.panicked, 1);
        assert_eq!(got.len(), 39);
        assert_eq!(panics.len(), 1);
        assert_eq!(panics[0].0, "item-7");
        assert!(panics[0].1.contains("boom at 7"), "{:?}", panics);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_retry_transient_and_stop_on_client_errors() {
        let limits = Limits::new(&ExecConfig::default());
        let calls = AtomicUsize::new(0);
        let c: Called<u32> = attempts(&limits, "a", 1, &|_| {}, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(CallError::Http {
                        status: 503,
                        body: format!("busy {n}"),
                        retry_after: None,
                    })
                } else {
                    Ok(5)
                }
            }
        })
        .await;
        assert_eq!(c.result.unwrap(), 5);
        assert_eq!(c.attempts, 3);
        let c: Called<u32> = attempts(&limits, "b", 1, &|_| {}, || async {
            Err(CallError::Http {
                status: 401,
                body: "no".into(),
                retry_after: None,
            })
        })
        .await;
        assert_eq!(c.attempts, 1, "a 401 is not retried");
        let c: Called<u32> = attempts(&limits, "c", 1, &|_| {}, || async {
            Err(CallError::Malformed {
                why: "not JSON".into(),
                body: "<html>same</html>".into(),
            })
        })
        .await;
        assert_eq!(
            c.gave_up,
            Some(GaveUp::SameError(3)),
            "the same garbage 3 times"
        );
        let c: Called<u32> = attempts(&limits, "d", 1, &|_| {}, || async {
            Err(CallError::Http {
                status: 500,
                body: "same".into(),
                retry_after: None,
            })
        })
        .await;
        assert_eq!(
            c.gave_up,
            Some(GaveUp::AttemptCap(6)),
            "a 5xx is transient: the attempt cap bounds it"
        );
    }
}
