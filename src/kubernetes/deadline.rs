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
}
