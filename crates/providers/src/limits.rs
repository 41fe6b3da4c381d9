//! Staying within a provider's limits: RPM/TPM pacing, adaptive (AIMD) concurrency, and bounded
//! retries with exponential backoff, jitter and Retry-After.

use crate::types::CallError;
use ksafe_core::Rng;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Paces requests to `rpm` requests and `tpm` tokens per minute.
pub struct RateLimiter {
    rpm: Option<f64>,
    tpm: Option<f64>,
    next: Mutex<Instant>,
}

impl RateLimiter {
    /// A limiter of `rpm` requests and `tpm` tokens per minute; `None` or 0 leaves that dimension
    /// unlimited.
    pub fn new(rpm: Option<u32>, tpm: Option<u32>) -> RateLimiter {
        RateLimiter {
            rpm: rpm.filter(|&r| r > 0).map(f64::from),
            tpm: tpm.filter(|&t| t > 0).map(f64::from),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Whether neither requests nor tokens are limited (then [`RateLimiter::acquire`] never waits).
    pub fn is_unlimited(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none()
    }

    /// Wait for the slot of a request estimated at `tokens`.
    pub async fn acquire(&self, tokens: u64) {
        if self.is_unlimited() {
            return;
        }
        let mut gap = 0.0f64;
        if let Some(r) = self.rpm {
            gap = gap.max(60.0 / r);
        }
        if let Some(t) = self.tpm {
            gap = gap.max(60.0 * tokens as f64 / t);
        }
        let slot = {
            let mut next = self.next.lock().unwrap();
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + Duration::from_secs_f64(gap);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

struct AimdState {
    limit: usize,
    in_flight: usize,
    successes: usize,
    last_cut: Option<Instant>,
    cuts: u64,
}

/// A concurrency limit that halves on a 429 episode and grows by one after `limit` successes, as
/// TCP does (additive increase, multiplicative decrease). One cut per cooldown period, so a burst
/// of 429s from the requests already in flight counts as one episode.
pub struct Aimd {
    max: usize,
    cooldown: Duration,
    state: Mutex<AimdState>,
    notify: Notify,
}

/// A slot of an [`Aimd`] limit, held while a request is in flight; dropping it frees the slot.
pub struct Permit<'a> {
    aimd: &'a Aimd,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.aimd.state.lock().unwrap().in_flight -= 1;
        self.aimd.notify.notify_one();
    }
}

impl Aimd {
    /// A limit that starts at `max` (at least 1) and is cut at most once per `cooldown`.
    pub fn new(max: usize, cooldown: Duration) -> Aimd {
        let max = max.max(1);
        Aimd {
            max,
            cooldown,
            state: Mutex::new(AimdState {
                limit: max,
                in_flight: 0,
                successes: 0,
                last_cut: None,
                cuts: 0,
            }),
            notify: Notify::new(),
        }
    }

    /// Wait until fewer requests than the current limit are in flight, and take a slot.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.state.lock().unwrap();
                if s.in_flight < s.limit {
                    s.in_flight += 1;
                    return Permit { aimd: self };
                }
            }
            notified.await;
        }
    }

    /// Count a success; after `limit` successes since the last change the limit grows by one, up
    /// to `max`.
    pub fn on_success(&self) {
        let mut s = self.state.lock().unwrap();
        s.successes += 1;
        if s.successes >= s.limit && s.limit < self.max {
            s.limit += 1;
            s.successes = 0;
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Halve the limit (never below 1) on a rate-limit answer, unless it was already cut within the
    /// cooldown.
    pub fn on_rate_limit(&self) {
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        if s.last_cut
            .is_none_or(|t| now.duration_since(t) >= self.cooldown)
        {
            s.limit = (s.limit / 2).max(1);
            s.successes = 0;
            s.last_cut = Some(now);
            s.cuts += 1;
        }
    }

    /// The current concurrency limit.
    pub fn limit(&self) -> usize {
        self.state.lock().unwrap().limit
    }

    /// How many times the limit was cut.
    pub fn cuts(&self) -> u64 {
        self.state.lock().unwrap().cuts
    }
}

/// When to try again, and when to stop.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included; default 6).
    pub max_attempts: u32,
    /// The first backoff delay, doubled on each further attempt (default 500 ms).
    pub base: Duration,
    /// The longest delay between attempts, Retry-After included (default 60 s).
    pub max_delay: Duration,
    /// Give up early when the same deterministic failure (a malformed body, a 4xx with the same
    /// body) comes back this many times in a row: it does not get better with time (default 3).
    /// Rate limits, 5xx, timeouts and broken connections are bounded by `max_attempts` only.
    pub same_error_cap: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            same_error_cap: 3,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` (attempt counts from 1): `base × 2^(attempt-1)`
    /// with jitter (a random 50–100 % of it), at least the server's Retry-After, never above
    /// `max_delay`.
    pub fn delay(&self, attempt: u32, err: &CallError, rng: &mut Rng) -> Duration {
        let exp = self.base.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(16) as i32);
        let jittered = exp * (0.5 + 0.5 * rng.unit());
        let d = err
            .retry_after()
            .map(|r| r.as_secs_f64())
            .unwrap_or(0.0)
            .max(jittered);
        Duration::from_secs_f64(d.min(self.max_delay.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rpm_paces_requests() {
        let rl = RateLimiter::new(Some(60), None);
        let t = Instant::now();
        for _ in 0..4 {
            rl.acquire(1).await;
        }
        // 4 requests at 60/min: the 4th goes at t+3s
        assert_eq!(t.elapsed().as_secs(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn tpm_paces_by_tokens() {
        let rl = RateLimiter::new(None, Some(600));
        let t = Instant::now();
        rl.acquire(100).await;
        rl.acquire(100).await;
        rl.acquire(100).await;
        assert_eq!(t.elapsed().as_secs(), 20);
    }

    #[tokio::test]
    async fn aimd_halves_once_per_episode_and_recovers() {
        let a = Aimd::new(16, Duration::from_secs(3600));
        a.on_rate_limit();
        a.on_rate_limit();
        a.on_rate_limit();
        assert_eq!(a.limit(), 8, "one cut per episode");
        assert_eq!(a.cuts(), 1);
        for _ in 0..8 {
            a.on_success();
        }
        assert_eq!(a.limit(), 9, "additive increase after `limit` successes");
        let p1 = a.acquire().await;
        let p2 = a.acquire().await;
        drop((p1, p2));
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let p = RetryPolicy::default();
        let mut rng = Rng::new(1);
        let e = CallError::Http {
            status: 503,
            body: String::new(),
            retry_after: None,
        };
        let d1 = p.delay(1, &e, &mut rng);
        let d5 = p.delay(5, &e, &mut rng);
        assert!(
            d1 <= Duration::from_millis(500) && d5 >= Duration::from_secs(4),
            "{d1:?} {d5:?}"
        );
        let e = CallError::Http {
            status: 429,
            body: String::new(),
            retry_after: Some(Duration::from_secs(7)),
        };
        assert!(p.delay(1, &e, &mut rng) >= Duration::from_secs(7));
        let e = CallError::Http {
            status: 429,
            body: String::new(),
            retry_after: Some(Duration::from_secs(7200)),
        };
        assert_eq!(p.delay(1, &e, &mut rng), Duration::from_secs(60));
    }
}
