//! One disruption at a time per CockroachDB cluster, across every region this provider process applies: Terraform
//! applies the regions of one configuration in parallel, all in this one process, so an in-process lock per
//! CockroachDB cluster (keyed by its CA fingerprint and name) serialises their node restarts and decommissions.
//! This is the first tier: every disruption also holds the database's own lease (`cockroach::disruption_lease`,
//! held around a region's whole rollout, see `db_lease.rs`), which orders separate Terraform runs. The lease also carries a stop: once a
//! node failed to come back, no region of this run touches another node.
use super::model::RegionModel;
use crate::cockroach::manifests::ZoneSpec;
use crate::framework::diag::Diagnostics;
use crate::framework::Shared;
use crate::kubernetes::Deadline;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::OwnedMutexGuard;

/// What the turns pass on: the last turn's passing closing gate, when it ended with one.
#[derive(Default)]
pub(super) struct Turn {
    healthy: Option<HealthyLook>,
}

/// A health gate's look that found the cluster healthy: when, and which zones it looked at.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct HealthyLook {
    pub at: Instant,
    pub zones: Vec<String>,
}

/// How old the turn before's healthy closing look may be for the next opening gate to take it for its own: the
/// turns follow each other within milliseconds, and a look itself takes longer than this on a real cluster.
pub(super) const LOOK_STAYS_FRESH: Duration = Duration::from_secs(1);

impl HealthyLook {
    /// Whether an opening gate about to look at `zones` at `now` may take this look instead: it is fresh, and
    /// it saw every one of them.
    pub fn serves(&self, zones: &[String], now: Instant) -> bool {
        now.saturating_duration_since(self.at) <= LOOK_STAYS_FRESH
            && zones.iter().all(|z| self.zones.contains(z))
    }
}

#[derive(Default)]
struct LeaseState {
    turn: Arc<tokio::sync::Mutex<Turn>>,
    stopped: Mutex<Option<String>>,
    /// Zones whose region is being deleted in this run (see `teardown.rs`).
    going: Mutex<std::collections::BTreeSet<String>>,
    /// What else this process's regions of the cluster share, one value of each type (the database lease's
    /// holders, `db_lease.rs`).
    together: Shared,
}

/// The lease of one CockroachDB cluster.
#[derive(Clone)]
pub(super) struct ClusterLease {
    state: Arc<LeaseState>,
}

/// The holder's turn; dropping it releases the lease.
pub(super) struct Held {
    turn: OwnedMutexGuard<Turn>,
    /// The turn before's healthy closing look, taken out: a turn that does not close healthy passes none on,
    /// whatever it did.
    previous: Option<HealthyLook>,
}

impl Held {
    /// The turn before's healthy closing look, once.
    pub fn take_previous_look(&mut self) -> Option<HealthyLook> {
        self.previous.take()
    }

    /// This turn closes with the cluster healthy: the next turn may open on this look.
    pub fn closed_healthy(&mut self, look: HealthyLook) {
        self.turn.healthy = Some(look);
    }
}

/// The leases of every CockroachDB cluster this provider process touches, one per cluster; reached through the
/// operation context (`ctx.shared.get::<Leases>()`), so that each provider process has its own.
#[derive(Default)]
pub(super) struct Leases(Mutex<HashMap<String, Arc<LeaseState>>>);

impl Leases {
    /// The lease of the CockroachDB cluster whose CA has this fingerprint and which has this name.
    pub fn of(&self, ca_fingerprint: &str, cluster_name: &str) -> ClusterLease {
        let key = format!("{ca_fingerprint}/{cluster_name}");
        ClusterLease {
            state: locked(&self.0).entry(key).or_default().clone(),
        }
    }
}

/// A lock that a panic elsewhere cannot poison: the data it guards stays consistent at every step.
fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ClusterLease {
    /// What this process's regions of this CockroachDB cluster share besides the turn.
    pub fn together(&self) -> &Shared {
        &self.state.together
    }

    /// Waits for the cluster's turn, bounded by the deadline; refused once a rollout of this run stopped.
    pub async fn acquire(&self, deadline: &Deadline, zone: &str) -> Result<Held, Diagnostics> {
        self.refuse_if_stopped()?;
        let waited =
            tokio::time::timeout(deadline.remaining(), self.state.turn.clone().lock_owned()).await;
        let Ok(mut turn) = waited else {
            return Err(Diagnostics::with_error(
                format!("Zone {zone} waited too long for its turn to restart a node"),
                "Another region of this CockroachDB cluster held the one-disruption-at-a-time lease until the \
                 timeout. Apply again, or raise the region's update timeout.",
            ));
        };
        self.refuse_if_stopped()?;
        let previous = turn.healthy.take();
        Ok(Held { turn, previous })
    }

    /// No further node of this cluster is touched in this run; `why` says which node did not come back.
    pub fn stop(&self, why: &str) {
        let mut stopped = locked(&self.state.stopped);
        stopped.get_or_insert_with(|| why.to_owned());
    }

    /// Records that this run deletes `zone`'s region.
    pub fn zone_going(&self, zone: &str) {
        let mut going = locked(&self.state.going);
        going.insert(zone.to_owned());
    }

    /// `zone`'s region is not deleted after all (its delete was refused or failed): the other regions' deletes
    /// must not take the deployment for going.
    pub fn zone_stays(&self, zone: &str) {
        locked(&self.state.going).remove(zone);
    }

    /// Whether this run deletes the region of every one of `zones`: the whole deployment is going.
    pub fn every_zone_going(&self, zones: &[String]) -> bool {
        let going = locked(&self.state.going);
        zones.iter().all(|z| going.contains(z))
    }

    /// The zones whose regions this run deletes so far.
    pub fn going_zones(&self) -> std::collections::BTreeSet<String> {
        locked(&self.state.going).clone()
    }

    fn refuse_if_stopped(&self) -> Result<(), Diagnostics> {
        let stopped = locked(&self.state.stopped);
        match stopped.as_deref() {
            None => Ok(()),
            Some(why) => {
                Err(Diagnostics::with_error(
                    "Rollout stopped: no further node was restarted",
                    format!(
                        "{why} Every other node keeps its current revision. Fix the cause (reverting the image \
                         rolls the stopped node back, one node at a time) and apply again."
                    ),
                ))
            }
        }
    }
}

/// The one-disruption-at-a-time lease of the zone's CockroachDB cluster in this provider process (see `lease.rs`).
pub(super) fn cluster_lease(shared: &Shared, state: &RegionModel, spec: &ZoneSpec) -> ClusterLease {
    let fingerprint = state
        .cluster
        .known()
        .and_then(|c| c.ca_fingerprint_sha256.known().cloned())
        .unwrap_or_default();
    shared.get::<Leases>().of(&fingerprint, &spec.cluster_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::sync::CancellationToken;

    fn deadline(limit: Duration) -> Deadline {
        Deadline::after(limit, &CancellationToken::new())
    }

    /// The leases of one provider process.
    fn process() -> Arc<Leases> {
        crate::framework::Shared::default().get::<Leases>()
    }

    #[tokio::test]
    async fn one_holder_at_a_time_per_cluster_and_other_clusters_are_independent() {
        let leases = process();
        let lease = leases.of("fp-serialise", "main");
        let held = lease
            .acquire(&deadline(Duration::from_secs(1)), "a")
            .await
            .unwrap();
        let again = leases.of("fp-serialise", "main");
        let waited = again
            .acquire(&deadline(Duration::from_millis(50)), "b")
            .await;
        let said = waited.err().unwrap().0[0].summary.clone();
        assert!(said.contains("Zone b waited too long"), "{said}");
        let other = leases.of("fp-serialise", "other");
        assert!(other
            .acquire(&deadline(Duration::from_millis(50)), "c")
            .await
            .is_ok());
        drop(held);
        assert!(again
            .acquire(&deadline(Duration::from_millis(50)), "b")
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn a_stopped_rollout_refuses_every_later_turn_and_says_why() {
        let leases = process();
        let lease = leases.of("fp-stop", "main");
        lease.stop("Node cockroachdb-2 of zone a did not come back: ImagePullBackOff.");
        lease.stop("a second reason is not kept");
        let refused = leases
            .of("fp-stop", "main")
            .acquire(&deadline(Duration::from_secs(1)), "b")
            .await
            .err()
            .unwrap();
        assert!(refused.0[0]
            .detail
            .starts_with("Node cockroachdb-2 of zone a did not come back"));
    }

    #[tokio::test]
    async fn two_provider_processes_in_one_test_binary_share_no_lease() {
        let held = process()
            .of("fp-processes", "main")
            .acquire(&deadline(Duration::from_secs(1)), "a")
            .await
            .unwrap();
        let elsewhere = process()
            .of("fp-processes", "main")
            .acquire(&deadline(Duration::from_millis(50)), "a")
            .await;
        assert!(elsewhere.is_ok(), "another process has its own leases");
        drop(held);
    }

    #[test]
    fn the_deployment_is_going_only_when_every_zone_is() {
        let leases = process();
        let lease = leases.of("fp-going", "main");
        let zones = vec!["a".to_string(), "b".to_string()];
        lease.zone_going("a");
        assert!(!lease.every_zone_going(&zones));
        leases.of("fp-going", "main").zone_going("b");
        assert!(lease.every_zone_going(&zones));
        lease.zone_stays("a");
        assert!(
            !lease.every_zone_going(&zones),
            "a refused delete keeps its zone"
        );
    }

    #[tokio::test]
    async fn only_the_turn_right_before_passes_its_healthy_closing_look_on() {
        let lease = process().of("fp-look", "main");
        let within = deadline(Duration::from_secs(1));
        let turn = || lease.acquire(&within, "a");
        let look = HealthyLook {
            at: Instant::now(),
            zones: vec!["a".into(), "b".into()],
        };
        let mut first = turn().await.unwrap();
        assert_eq!(first.take_previous_look(), None, "no turn before");
        first.closed_healthy(look.clone());
        drop(first);
        let mut second = turn().await.unwrap();
        assert_eq!(second.take_previous_look(), Some(look));
        assert_eq!(second.take_previous_look(), None, "taken once");
        // The second turn disrupts and does not close healthy (it failed, or it needed no closing gate).
        drop(second);
        let mut third = turn().await.unwrap();
        assert_eq!(third.take_previous_look(), None);
    }

    #[test]
    fn a_look_serves_an_opening_gate_only_while_fresh_and_only_for_the_zones_it_saw() {
        let at = Instant::now();
        let look = HealthyLook {
            at,
            zones: vec!["a".into(), "b".into()],
        };
        let zones = |z: &[&str]| z.iter().map(|z| z.to_string()).collect::<Vec<_>>();
        assert!(look.serves(&zones(&["b", "a"]), at + Duration::from_millis(20)));
        assert!(look.serves(&zones(&["a"]), at + LOOK_STAYS_FRESH));
        assert!(!look.serves(
            &zones(&["a", "b"]),
            at + LOOK_STAYS_FRESH + Duration::from_millis(1)
        ));
        assert!(
            !look.serves(&zones(&["a", "c"]), at),
            "a zone joined the rollout since"
        );
    }
}
