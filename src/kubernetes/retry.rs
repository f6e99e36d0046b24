//! Bounded retries of idempotent API calls (server-side apply, get, list, delete) through
//! overload answers and dropped connections, honouring the server's Retry-After.
//!
//! kube's own retry layer is switched off in `client.rs`: it retries up to 15 times with delays
//! of up to 1000 s, which would outlast any Terraform timeout, and not on 500 or resets.
use super::error::{classify, Failure};
use std::future::Future;
use std::time::Duration;

/// How long a cluster may answer nothing before a call or a wait reports it unreachable, unless the
/// connection sets its own (`kubernetes { unreachable_timeout }`).
pub const DEFAULT_UNREACHABLE_GRACE: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// How long a cluster that answers nothing (connections refused, reset or timing out) is
    /// tried again before the call fails as unreachable: an outage shorter than this is ridden
    /// through, a longer one reported, never later than the caller's own timeout needs.
    pub unreachable_grace: Duration,
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// The longest Retry-After honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
    /// How long one attempt may wait for an answer.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// About 7 s of backoff over six attempts: enough to ride out an API server restart or a
    /// burst of throttling; a cluster that answers nothing is tried for a minute, then reported.
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            unreachable_grace: DEFAULT_UNREACHABLE_GRACE,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(3),
            max_retry_after: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `retry` (1 for the first retry): doubling from
    /// `first_delay`, capped, unless the server said when to come back.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(server_says) = retry_after {
            return server_says.min(self.max_retry_after);
        }
        let doubling = 2u32.saturating_pow(retry.saturating_sub(1));
        self.first_delay
            .saturating_mul(doubling)
            .min(self.max_delay)
    }

    /// Runs `call` until it succeeds, fails for good, or the attempts are used up; the last
    /// error is returned. `call` must be safe to repeat.
    pub async fn run<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut attempt = 1;
        let mut unreachable_since: Option<tokio::time::Instant> = None;
        loop {
            let error = match tokio::time::timeout(self.attempt_timeout, call()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error,
                Err(_) => no_answer(self.attempt_timeout),
            };
            let failure = classify(&error);
            let gave_up = match failure {
                // Counted in time, not attempts: each may spend the whole connect timeout.
                Failure::Unreachable => {
                    unreachable_since
                        .get_or_insert_with(tokio::time::Instant::now)
                        .elapsed()
                        >= self.unreachable_grace
                }
                _ => attempt >= self.attempts,
            };
            if !failure.is_transient() || gave_up {
                return Err(error);
            }
            let pause = self.delay(attempt, retry_after(&error));
            tracing::debug!(
                call = what,
                attempt,
                failure = ?failure,
                error = %super::error::cause_text(&error),
                pause_ms = pause.as_millis() as u64,
                "Kubernetes call failed; trying again"
            );
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }
}

/// The Retry-After a 429 or 503 carries in its Status details (the API server puts the header's
/// value there too).
pub fn retry_after(error: &kube::Error) -> Option<Duration> {
    match error {
        kube::Error::Api(status) => status
            .details
            .as_ref()
            .map(|d| d.retry_after_seconds)
            .filter(|&s| s > 0)
            .map(|s| Duration::from_secs(u64::from(s))),
        _ => None,
    }
}

/// The error for an attempt that got no answer in time: a timed-out I/O error, which
/// `classify` treats as unreachable (and so transient).
fn no_answer(after: Duration) -> kube::Error {
    kube::Error::Service(Box::new(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no answer within {}s", after.as_secs()),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::error::tests::api_error;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn delays_double_up_to_the_cap_and_retry_after_wins() {
        let policy = RetryPolicy::default();
        let delays: Vec<u128> = (1..=6).map(|r| policy.delay(r, None).as_millis()).collect();
        assert_eq!(delays, [200, 400, 800, 1600, 3000, 3000]);
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(600))),
            policy.max_retry_after
        );
    }

    #[test]
    fn retry_after_is_read_from_the_status_details() {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": 429, "reason": "TooManyRequests", "message": "slow down",
            "details": {"retryAfterSeconds": 3}
        }))
        .unwrap();
        let error = kube::Error::Api(status.boxed());
        assert_eq!(retry_after(&error), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&api_error(429, "", "")), None);
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let result = fast()
            .run("get", || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(api_error(503, "ServiceUnavailable", "")),
                    1 => Err(api_error(500, "InternalError", "")),
                    _ => Ok("done"),
                }
            })
            .await;
        assert_eq!(result.unwrap(), "done");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried_and_attempts_are_bounded() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = fast()
            .run("get", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(api_error(403, "Forbidden", "no"))
            })
            .await;
        assert_eq!(
            crate::kubernetes::error::status_code(&result.unwrap_err()),
            Some(403)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = fast()
            .run("get", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(api_error(429, "TooManyRequests", ""))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), fast().attempts);
    }

    fn refused() -> kube::Error {
        kube::Error::Service(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        )))
    }

    #[tokio::test(start_paused = true)]
    async fn a_cluster_answering_nothing_is_tried_for_the_grace_then_reported() {
        let policy = RetryPolicy {
            unreachable_grace: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let started = tokio::time::Instant::now();
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = policy
            .run("get", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(refused())
            })
            .await;
        assert!(result.is_err());
        let waited = started.elapsed();
        assert!(
            (Duration::from_secs(60)..Duration::from_secs(64)).contains(&waited),
            "reported after {waited:?}"
        );
        assert!(
            calls.load(Ordering::SeqCst) > policy.attempts,
            "tried beyond the attempts for other failures"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_shorter_than_the_grace_is_ridden_through() {
        let policy = RetryPolicy::default();
        let started = tokio::time::Instant::now();
        let result = policy
            .run("get", || async {
                if started.elapsed() < Duration::from_secs(20) {
                    Err(refused())
                } else {
                    Ok("back")
                }
            })
            .await;
        assert_eq!(result.unwrap(), "back");
    }

    #[tokio::test]
    async fn an_attempt_without_an_answer_times_out_and_is_retried() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy {
            attempt_timeout: Duration::from_millis(50),
            ..fast()
        };
        let result = policy
            .run("get", || async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    std::future::pending::<()>().await;
                }
                Ok(1)
            })
            .await;
        assert_eq!(result.unwrap(), 1);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
