//! The time an operation has: its timeout's instant, and Terraform's stop signal, shared by every call and wait
//! of one apply.
use super::error::Stopped;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// When waiting must end: at a fixed instant (the operation's timeout, shared by every wait of
/// one apply) or as soon as Terraform asks the provider to stop.
#[derive(Clone, Debug)]
pub struct Deadline {
    at: Instant,
    limit: Duration,
    stop: CancellationToken,
}

impl Deadline {
    /// A deadline `limit` from now, cancelled with `stop` (the operation context's token).
    /// A limit the clock cannot reach (validation keeps timeouts far below that) waits as long as it can.
    pub fn after(limit: Duration, stop: &CancellationToken) -> Deadline {
        let now = Instant::now();
        let at = now
            .checked_add(limit)
            .unwrap_or_else(|| now + crate::framework::timeouts::MAX_DURATION);
        Deadline {
            at,
            limit,
            stop: stop.clone(),
        }
    }

    /// The whole time allowed, as the timeout message quotes it.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The instant the wait ends at.
    pub(super) fn at(&self) -> Instant {
        self.at
    }

    /// Cancelled when Terraform asks the provider to stop.
    pub(super) fn stop(&self) -> &CancellationToken {
        &self.stop
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Sleeps `pause` between two looks of a polling loop, ending at once with [`Stopped`] when Terraform asks
    /// the provider to stop: one Ctrl-C ends every loop, not only the calls in it.
    pub async fn pause(&self, pause: Duration) -> Result<(), Stopped> {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => Err(Stopped),
            _ = tokio::time::sleep(pause) => Ok(()),
        }
    }
}

/// What one look of a [`Deadline::poll`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Look<T, E> {
    /// What was awaited holds.
    Done(T),
    /// It never will: the poll ends with this.
    Failed(E),
    /// Not yet; the text says what this look saw.
    Waiting(String),
    /// The deadline ended this look before it saw anything: the poll times out with what the look before saw.
    OutOfTime,
}

/// Why a poll ended without what it waited for; each carries what the last look saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Unmet<E> {
    Failed(E),
    /// Too little of the deadline was left for another look.
    TimedOut {
        last: String,
    },
    /// Terraform asked the provider to stop.
    Stopped {
        last: String,
    },
}

/// A poll waiting longer than this says at INFO what it waits for, and again every `REPORT_EVERY`: the apply
/// shows only "Still modifying...", and the log is where a long wait says why.
const REPORT_AFTER: Duration = Duration::from_secs(60);
const REPORT_EVERY: Duration = Duration::from_secs(30);
/// A poll's first pause between two looks; it doubles up to the poll's own interval.
const FIRST_PAUSE: Duration = Duration::from_millis(50);

impl Deadline {
    /// Asks `look` until it is done or fails, or until too little of the deadline is left for another look, or
    /// until Terraform stops the provider: for what no watch can follow (a node's own answer, the cluster's health
    /// through a Job, other regions of this run). It asks again soon at first (`FIRST_PAUSE`), then twice as long
    /// after each answer up to `every`: what is awaited is often a moment away (a node's liveness record after
    /// its restart), and a long wait still costs one look per `every`. `waiting_for` names the wait in the log.
    pub async fn poll<T, E, Fut>(
        &self,
        every: Duration,
        waiting_for: &str,
        mut look: impl FnMut() -> Fut,
    ) -> Result<T, Unmet<E>>
    where
        Fut: std::future::Future<Output = Look<T, E>>,
    {
        let started = Instant::now();
        let mut next_report = started + REPORT_AFTER;
        let mut last = "nothing yet".to_string();
        let mut pause = FIRST_PAUSE.min(every);
        loop {
            last = match look().await {
                Look::Done(value) => return Ok(value),
                Look::Failed(error) => return Err(Unmet::Failed(error)),
                Look::OutOfTime => return Err(Unmet::TimedOut { last }),
                Look::Waiting(saw) => saw,
            };
            if self.remaining() <= pause {
                return Err(Unmet::TimedOut { last });
            }
            if Instant::now() >= next_report {
                let waited_s = started.elapsed().as_secs();
                tracing::info!(waited_s, last = %last, "still waiting for {waiting_for}");
                next_report += REPORT_EVERY;
            } else {
                tracing::debug!(last = %last, "waiting for {waiting_for}");
            }
            if self.pause(pause).await.is_err() {
                return Err(Unmet::Stopped { last });
            }
            pause = (pause * 2).min(every);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deadlines_count_down_from_their_start() {
        let deadline = Deadline::after(Duration::from_millis(200), &CancellationToken::new());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(deadline.remaining() <= Duration::from_millis(150));
        assert_eq!(deadline.limit(), Duration::from_millis(200));
    }

    #[test]
    fn a_limit_no_clock_can_reach_waits_as_long_as_it_can_without_panicking() {
        let deadline = Deadline::after(Duration::MAX, &CancellationToken::new());
        assert!(
            deadline.remaining()
                >= crate::framework::timeouts::MAX_DURATION - Duration::from_secs(1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_asks_again_soon_then_twice_as_long_up_to_its_interval() {
        let deadline = Deadline::after(Duration::from_secs(60), &CancellationToken::new());
        let started = Instant::now();
        let mut asked_at = Vec::new();
        let _: Result<(), Unmet<()>> = deadline
            .poll(Duration::from_secs(1), "eight looks", || {
                asked_at.push(started.elapsed());
                let seen = asked_at.len();
                async move {
                    if seen == 8 {
                        Look::Done(())
                    } else {
                        Look::Waiting(format!("look {seen}"))
                    }
                }
            })
            .await;
        let pauses: Vec<u128> = asked_at
            .windows(2)
            .map(|pair| (pair[1] - pair[0]).as_millis())
            .collect();
        assert_eq!(pauses, [50, 100, 200, 400, 800, 1000, 1000]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_ends_when_its_look_holds_fails_or_the_time_is_out_saying_what_it_last_saw() {
        let stop = CancellationToken::new();
        let deadline = Deadline::after(Duration::from_secs(10), &stop);
        let mut looks = 0;
        let done: Result<u32, Unmet<()>> = deadline
            .poll(Duration::from_secs(1), "three looks", || {
                looks += 1;
                let seen = looks;
                async move {
                    if seen == 3 {
                        Look::Done(seen)
                    } else {
                        Look::Waiting(format!("look {seen}"))
                    }
                }
            })
            .await;
        assert_eq!(done, Ok(3));

        let failed: Result<(), Unmet<&str>> = deadline
            .poll(Duration::from_secs(1), "a failure", || async {
                Look::Failed("never")
            })
            .await;
        assert_eq!(failed, Err(Unmet::Failed("never")));

        let started = Instant::now();
        let out: Result<(), Unmet<()>> = deadline
            .poll(Duration::from_secs(1), "nothing", || async {
                Look::Waiting("still down".into())
            })
            .await;
        assert_eq!(
            out,
            Err(Unmet::TimedOut {
                last: "still down".into()
            })
        );
        assert!(deadline.remaining() <= Duration::from_secs(1));
        assert!(started.elapsed() >= Duration::from_secs(6));

        let mut looks = 0;
        let cut: Result<(), Unmet<()>> = deadline
            .poll(Duration::from_secs(1), "a look the deadline ends", || {
                looks += 1;
                let first = looks == 1;
                async move {
                    if first {
                        Look::Waiting("one node down".into())
                    } else {
                        Look::OutOfTime
                    }
                }
            })
            .await;
        assert_eq!(
            cut,
            Err(Unmet::TimedOut {
                last: "one node down".into()
            })
        );

        let deadline = Deadline::after(Duration::from_secs(600), &stop);
        stop.cancel();
        let stopped: Result<(), Unmet<()>> = deadline
            .poll(Duration::from_secs(1), "a stop", || async {
                Look::Waiting("busy".into())
            })
            .await;
        assert_eq!(
            stopped,
            Err(Unmet::Stopped {
                last: "busy".into()
            })
        );
    }
}
