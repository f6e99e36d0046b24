//! Bounded retries of idempotent API calls (server-side apply, get, list, delete) through
//! overload answers and dropped connections, honouring the server's Retry-After.
//!
//! kube's own retry layer is switched off in `client.rs`: it retries up to 15 times with delays
//! of up to 1000 s, which would outlast any Terraform timeout, and not on 500 or resets.
use super::error::{classify, Failure, OutOfTime};
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
    /// error is returned. `call` must be safe to repeat. Bounded by the unreachable grace.
    pub async fn run<T, F, Fut>(&self, what: &str, call: F) -> Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        self.run_within(what, None, call).await
    }

    /// [`RetryPolicy::run`], the whole call (retries and pauses included) ending within the
    /// unreachable grace, or within `time_left` of the operation's deadline when that is sooner:
    /// a cluster that accepts a connection and never answers fails the call as unreachable then,
    /// instead of holding the operation. A call that met an answer before the end fails with it.
    pub async fn run_within<T, F, Fut>(
        &self,
        what: &str,
        time_left: Option<TimeLeft>,
        mut call: F,
    ) -> Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let limit = CallLimit::new(self.unreachable_grace, time_left);
        let ends = tokio::time::Instant::now()
            .checked_add(limit.length)
            .unwrap_or_else(far_future);
        let mut attempt = 1;
        // How the last attempt that got no answer failed (a dropped connection, a refusal, a name that does not
        // resolve): when the limit cuts the attempt after it short, that is still why the cluster answered nothing.
        let mut last_unanswered: Option<(Failure, String)> = None;
        loop {
            let left = ends.saturating_duration_since(tokio::time::Instant::now());
            let attempted = tokio::time::timeout(self.attempt_timeout.min(left), call()).await;
            // An attempt cut short by a timer here says nothing of why the cluster does not answer.
            let answered_in_time = attempted.is_ok();
            let error = match attempted {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error,
                Err(_) if self.attempt_timeout < left => {
                    no_answer(&format!("within {}s", self.attempt_timeout.as_secs()))
                }
                Err(_) => match &last_unanswered {
                    Some((Failure::Interrupted, cause)) => dropped_connections(cause, &limit),
                    Some((_, cause)) => unconnected(cause, &limit),
                    None => cut_short(&limit),
                },
            };
            let failure = classify(&error);
            if answered_in_time && failure.answers_nothing() {
                last_unanswered = Some((failure, deepest_cause(&error)));
            }
            let left = ends.saturating_duration_since(tokio::time::Instant::now());
            // No answer is counted in time, not attempts: each may spend the whole connect timeout, and a
            // server that drops every connection at once would use the attempts up in seconds.
            let gave_up =
                left.is_zero() || (!failure.answers_nothing() && attempt >= self.attempts);
            if !failure.is_transient() || gave_up {
                return Err(match (left.is_zero(), failure) {
                    (true, Failure::Unreachable) if answered_in_time => {
                        unconnected(&deepest_cause(&error), &limit)
                    }
                    (true, _) => unanswered(error, &limit),
                    (false, _) => error,
                });
            }
            let pause = self.delay(attempt, retry_after(&error)).min(left);
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

/// What is left of a bound on the calls of a client, and what set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeLeft {
    pub left: Duration,
    pub set_by: Bound,
}

/// What bounds a call's time, as its error names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// `kubernetes.unreachable_timeout` (or its default).
    UnreachableTimeout,
    /// The resource operation's timeout.
    OperationTimeout,
    /// The time a failure's explanation may take (which pods are not ready, their logs).
    Explaining,
}

impl Bound {
    fn says(self) -> &'static str {
        match self {
            Bound::UnreachableTimeout => "kubernetes.unreachable_timeout",
            Bound::OperationTimeout => "all that was left of the operation's timeout",
            Bound::Explaining => "the time given to explain a failure",
        }
    }
}

/// How long one call may take in all, and what set that: the unreachable grace, or the client's
/// bound (the rest of the operation's timeout, or of the time to explain a failure) when less is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallLimit {
    pub length: Duration,
    pub set_by: Bound,
}

impl CallLimit {
    pub fn new(unreachable_grace: Duration, time_left: Option<TimeLeft>) -> CallLimit {
        match time_left {
            Some(bound) if bound.left < unreachable_grace => CallLimit {
                length: bound.left,
                set_by: bound.set_by,
            },
            _ => CallLimit {
                length: unreachable_grace,
                set_by: Bound::UnreachableTimeout,
            },
        }
    }
}

impl std::fmt::Display for CallLimit {
    /// `within 60s (kubernetes.unreachable_timeout)`, as the error of a call that got no answer says it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A call that started with less than a second left says how little it had, not `0s`.
        let length = if self.length < Duration::from_secs(1) {
            format!("{}ms", self.length.as_millis())
        } else {
            format!("{:.0}s", self.length.as_secs_f64())
        };
        write!(f, "within {length} ({})", self.set_by.says())
    }
}

/// An instant no call reaches, for a limit the clock cannot add.
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + crate::framework::timeouts::MAX_DURATION
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

/// A dropped connection met when the time for a call ran out, as the failure to reach the cluster it is: the
/// cluster answered nothing but dropped connections for all that time. Other errors are left as they are.
pub fn unanswered(error: kube::Error, limit: &CallLimit) -> kube::Error {
    if classify(&error) != Failure::Interrupted {
        return error;
    }
    dropped_connections(&deepest_cause(&error), limit)
}

/// A call that met only dropped connections within `limit`, the last saying `last`: no answer.
fn dropped_connections(last: &str, limit: &CallLimit) -> kube::Error {
    no_answer(&format!(
        "{limit}: every connection was dropped, the last with: {last}"
    ))
}

/// A call none of whose attempts within `limit` could connect, the last failing with `last`: no answer.
fn unconnected(last: &str, limit: &CallLimit) -> kube::Error {
    no_answer(&format!(
        "{limit}: no attempt could connect, the last failed with: {last}"
    ))
}

/// The innermost cause of `error` (`connection reset by peer`), without the wrappers' words.
fn deepest_cause(error: &kube::Error) -> String {
    let mut deepest: &dyn std::error::Error = error;
    while let Some(cause) = deepest.source() {
        deepest = cause;
    }
    deepest.to_string()
}

/// The error for a call that `limit` cut short before any answer came, nothing else known of why: the
/// cluster is unreachable when the unreachable grace set the limit; otherwise only the time ran out.
pub fn cut_short(limit: &CallLimit) -> kube::Error {
    match limit.set_by {
        Bound::UnreachableTimeout => no_answer(&limit.to_string()),
        Bound::OperationTimeout | Bound::Explaining => kube::Error::Service(Box::new(OutOfTime {
            limit: limit.to_string(),
        })),
    }
}

/// The error for a call that got no answer in time (`when`: `within 60s (...)`): a timed-out I/O
/// error, which `classify` treats as unreachable (and so transient).
pub fn no_answer(when: &str) -> kube::Error {
    kube::Error::Service(Box::new(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("the API server sent no answer {when}"),
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
    async fn a_cluster_resetting_every_connection_is_unreachable_after_the_grace_not_after_the_attempts(
    ) {
        let policy = RetryPolicy {
            unreachable_grace: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let started = tokio::time::Instant::now();
        let calls = AtomicU32::new(0);
        let error = policy
            .run("delete", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(kube::Error::Service(Box::new(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by peer",
                ))))
            })
            .await
            .unwrap_err();
        let waited = started.elapsed();
        assert!(
            (Duration::from_secs(60)..Duration::from_secs(64)).contains(&waited),
            "reported after {waited:?}"
        );
        assert!(calls.load(Ordering::SeqCst) > policy.attempts);
        assert_eq!(classify(&error), Failure::Unreachable);
        let text = super::super::error::cause_text(&error);
        assert!(
            text.contains("no answer within 60s (kubernetes.unreachable_timeout): every connection was dropped, the last with: connection reset by peer"),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cluster_refusing_every_connection_says_why_when_the_grace_ends_an_attempt() {
        let policy = RetryPolicy {
            unreachable_grace: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let error = policy
            .run("get", || async { Err::<(), _>(refused()) })
            .await
            .unwrap_err();
        assert_eq!(classify(&error), Failure::Unreachable);
        let text = super::super::error::cause_text(&error);
        assert!(
            text.contains("no answer within 60s (kubernetes.unreachable_timeout): no attempt could connect, the last failed with: refused"),
            "{text}"
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

    /// A call that never gets an answer ends at the unreachable grace as an unreachable cluster; cut shorter by the
    /// operation's timeout (or the time to explain a failure), it is that timeout, not an outage.
    #[tokio::test(start_paused = true)]
    async fn a_call_never_answered_ends_at_the_grace_or_the_deadline_whichever_is_sooner() {
        let policy = RetryPolicy::default();
        let left = |millis, set_by| {
            Some(TimeLeft {
                left: Duration::from_millis(millis),
                set_by,
            })
        };
        for (time_left, ends_ms, failure, says) in [
            (
                None,
                60_000,
                Failure::Unreachable,
                "within 60s (kubernetes.unreachable_timeout)",
            ),
            (
                left(600_000, Bound::OperationTimeout),
                60_000,
                Failure::Unreachable,
                "(kubernetes.unreachable_timeout)",
            ),
            (
                left(5_000, Bound::OperationTimeout),
                5_000,
                Failure::OutOfTime,
                "within 5s (all that was left of the operation's timeout)",
            ),
            (
                left(40, Bound::OperationTimeout),
                40,
                Failure::OutOfTime,
                "within 40ms (all that was left of the operation's timeout)",
            ),
            (
                left(10_000, Bound::Explaining),
                10_000,
                Failure::OutOfTime,
                "within 10s (the time given to explain a failure)",
            ),
        ] {
            let started = tokio::time::Instant::now();
            let result: Result<(), _> = policy
                .run_within("get", time_left, std::future::pending)
                .await;
            assert_eq!(started.elapsed(), Duration::from_millis(ends_ms));
            let error = result.unwrap_err();
            assert_eq!(classify(&error), failure, "{error}");
            assert!(
                super::super::error::cause_text(&error).contains(says),
                "{error}"
            );
        }
    }

    /// Connections refused until the operation's timeout cut the call short: the cluster is unreachable, whatever
    /// ended the call.
    #[tokio::test(start_paused = true)]
    async fn a_call_refused_until_the_deadline_is_an_unreachable_cluster() {
        let time_left = Some(TimeLeft {
            left: Duration::from_secs(5),
            set_by: Bound::OperationTimeout,
        });
        let result: Result<(), _> = RetryPolicy::default()
            .run_within("get", time_left, || async { Err(refused()) })
            .await;
        let error = result.unwrap_err();
        assert_eq!(classify(&error), Failure::Unreachable, "{error}");
        assert!(
            super::super::error::cause_text(&error).contains("no attempt could connect"),
            "{error}"
        );
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
