//! The availability recorder: integrates, exactly between state changes, how many ranges were unavailable or
//! under-replicated and for how long, the most at once, and the ranges lost. Seconds are cluster time (wall time
//! multiplied by `--speed`), so a run at `--speed 40` reports what a real cluster would have lived through.

use serde::Serialize;

/// What is true between two state changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub unavailable: u32,
    pub under_replicated: u32,
    pub nodes_down: u32,
    /// Down, or decommissioning and not yet decommissioned: every node an operation is taking away.
    pub nodes_disrupted: u32,
    /// Zones (the `zone=` locality tier) with at least one node down.
    pub zones_down: u32,
}

/// What the recorder saw over its window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Availability {
    /// Cluster seconds since the recorder started or was reset.
    pub window_seconds: f64,
    pub unavailable_range_seconds: f64,
    pub under_replicated_range_seconds: f64,
    /// Seconds each node was down, summed over the nodes: with one node down at a time, the time restarts took
    /// by themselves, the floor under any rollout of one node at a time.
    pub node_down_seconds: f64,
    /// Seconds each zone had a node down, summed over the zones: with one zone down at a time, the time the
    /// zones' restarts took by themselves, the floor under any rollout by zones.
    pub zone_down_seconds: f64,
    pub max_unavailable_ranges: u32,
    pub max_nodes_down: u32,
    /// Most nodes down or decommissioning (not yet decommissioned) at once.
    pub max_nodes_disrupted: u32,
    /// Most zones with a node down at once: a rollout by zones takes down one zone at a time.
    pub max_zones_down: u32,
    pub ranges_lost: u32,
}

impl Availability {
    /// Two clusters' (or a removed cluster's and the rest's) records as one: seconds add up, maxima are the larger.
    pub fn merge(self, other: Availability) -> Availability {
        Availability {
            window_seconds: self.window_seconds.max(other.window_seconds),
            unavailable_range_seconds: self.unavailable_range_seconds
                + other.unavailable_range_seconds,
            under_replicated_range_seconds: self.under_replicated_range_seconds
                + other.under_replicated_range_seconds,
            node_down_seconds: self.node_down_seconds + other.node_down_seconds,
            zone_down_seconds: self.zone_down_seconds + other.zone_down_seconds,
            max_unavailable_ranges: self
                .max_unavailable_ranges
                .max(other.max_unavailable_ranges),
            max_nodes_down: self.max_nodes_down.max(other.max_nodes_down),
            max_nodes_disrupted: self.max_nodes_disrupted.max(other.max_nodes_disrupted),
            max_zones_down: self.max_zones_down.max(other.max_zones_down),
            ranges_lost: self.ranges_lost + other.ranges_lost,
        }
    }

    /// One line for logs and the CLI.
    pub fn line(&self) -> String {
        format!(
            "availability over {:.1}s (cluster time): unavailable range-seconds {:.1}, under-replicated range-seconds {:.1}, node-down seconds {:.1}, most ranges unavailable at once {}, most nodes down at once {}, most nodes disrupted (down or decommissioning) at once {}, most zones down at once {}, ranges lost {}",
            self.window_seconds,
            self.unavailable_range_seconds,
            self.under_replicated_range_seconds,
            self.node_down_seconds,
            self.max_unavailable_ranges,
            self.max_nodes_down,
            self.max_nodes_disrupted,
            self.max_zones_down,
            self.ranges_lost
        )
    }
}

#[derive(Debug, Clone, Default)]
pub struct Recorder {
    since: f64,
    last: f64,
    current: Counts,
    seen: Availability,
}

impl Recorder {
    pub fn new(now: f64) -> Recorder {
        Recorder {
            since: now,
            last: now,
            ..Recorder::default()
        }
    }

    /// The state changed at `now` (cluster seconds) to `counts`.
    pub fn observe(&mut self, now: f64, counts: Counts) {
        self.integrate(now);
        self.current = counts;
        self.seen.max_unavailable_ranges = self.seen.max_unavailable_ranges.max(counts.unavailable);
        self.seen.max_nodes_down = self.seen.max_nodes_down.max(counts.nodes_down);
        self.seen.max_nodes_disrupted = self.seen.max_nodes_disrupted.max(counts.nodes_disrupted);
        self.seen.max_zones_down = self.seen.max_zones_down.max(counts.zones_down);
    }

    pub fn ranges_lost(&mut self, n: u32) {
        self.seen.ranges_lost += n;
    }

    fn integrate(&mut self, now: f64) {
        let dt = (now - self.last).max(0.0);
        self.seen.unavailable_range_seconds += dt * f64::from(self.current.unavailable);
        self.seen.under_replicated_range_seconds += dt * f64::from(self.current.under_replicated);
        self.seen.node_down_seconds += dt * f64::from(self.current.nodes_down);
        self.seen.zone_down_seconds += dt * f64::from(self.current.zones_down);
        self.last = self.last.max(now);
    }

    /// The record up to `now`, leaving the recorder as it is.
    pub fn report(&self, now: f64) -> Availability {
        let mut r = self.clone();
        r.integrate(now);
        Availability {
            window_seconds: (now - self.since).max(0.0),
            ..r.seen
        }
    }

    /// Starts a new window at `now`; what is true now counts as the first maxima.
    pub fn reset(&mut self, now: f64) {
        let current = self.current;
        *self = Recorder::new(now);
        self.observe(now, current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_between_changes_and_keeps_maxima_until_reset() {
        let mut r = Recorder::new(10.0);
        r.observe(
            12.0,
            Counts {
                unavailable: 4,
                under_replicated: 10,
                nodes_down: 2,
                nodes_disrupted: 3,
                zones_down: 2,
            },
        );
        r.observe(12.5, Counts::default());
        r.ranges_lost(3);
        let a = r.report(20.0);
        assert_eq!(a.window_seconds, 10.0);
        assert_eq!(a.unavailable_range_seconds, 2.0);
        assert_eq!(a.under_replicated_range_seconds, 5.0);
        assert_eq!(a.node_down_seconds, 1.0);
        assert_eq!(a.zone_down_seconds, 1.0);
        assert_eq!(
            (
                a.max_unavailable_ranges,
                a.max_nodes_down,
                a.max_nodes_disrupted,
                a.max_zones_down,
                a.ranges_lost
            ),
            (4, 2, 3, 2, 3)
        );
        r.reset(20.0);
        assert_eq!(
            r.report(30.0),
            Availability {
                window_seconds: 10.0,
                ..Availability::default()
            }
        );
    }

    #[test]
    fn a_change_still_in_force_counts_up_to_the_report() {
        let mut r = Recorder::new(0.0);
        r.observe(
            1.0,
            Counts {
                unavailable: 1,
                under_replicated: 1,
                nodes_down: 1,
                nodes_disrupted: 1,
                zones_down: 1,
            },
        );
        assert_eq!(r.report(3.0).unavailable_range_seconds, 2.0);
        r.reset(3.0);
        let a = r.report(4.0);
        assert_eq!((a.unavailable_range_seconds, a.max_nodes_down), (1.0, 1));
    }
}
