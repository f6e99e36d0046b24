//! Scaling a zone down without losing data: decommission first, one node at a time across the whole CockroachDB
//! cluster (the cluster's lease, the database's lease for them all, a health gate before and after each), release volumes after.
use super::db_lease::{Follow, Holding};
use super::gate;
use super::lease::ClusterLease;
use super::members;
use super::step::Need;
use super::zone_run::ZoneRun;
use crate::cockroach::health;
use crate::cockroach::manifests::{self, names, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::{AfterSuccess, ClusterClient, Deadline, Propagation};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use std::ops::Range;

/// The nodes a scale-down removes: the highest ordinals. Scaling to zero removes none: it stops
/// the zone and keeps its nodes' data (an outage drill).
pub(super) struct Leaving<'a> {
    client: &'a ClusterClient,
    spec: &'a ZoneSpec,
    ordinals: Range<i32>,
}

/// The ordinals a change from `before` nodes (the prior state's, when known) to `replicas` removes.
fn leaving_ordinals(before: Option<i64>, replicas: i32) -> Range<i32> {
    match before {
        Some(before) if replicas > 0 && i64::from(replicas) < before => {
            replicas..i32::try_from(before).unwrap_or(i32::MAX)
        }
        _ => 0..0,
    }
}

/// Whether this apply decommissions nodes before it writes the StatefulSet (and releases their volumes after),
/// and why: the zone had more nodes in the prior state (`before`) than it is to run (`replicas`). Scaling to zero
/// decommissions none: it stops the zone and keeps its nodes' data.
pub(super) fn decommission_needed(before: Option<i64>, replicas: i32) -> Need {
    let leaving = leaving_ordinals(before, replicas);
    if !leaving.is_empty() {
        return Need::run(format!(
            "scaling down to {replicas} node(s): nodes {}-{} to {}-{} leave",
            names::STATEFULSET,
            leaving.start,
            names::STATEFULSET,
            leaving.end - 1
        ));
    }
    Need::skip(match before {
        Some(before) if replicas == 0 && before > 0 => {
            "scaling to zero stops the zone and keeps its nodes' data"
        }
        _ => "not a scale-down",
    })
}

/// The scale-down's first part, when [`decommission_needed`]: refused, touching nothing, when the cluster could
/// not take it; else the leaving nodes decommissioned.
pub(super) async fn decommission(run: &ZoneRun<'_>) -> Result<(), Diagnostics> {
    let leaving = Leaving::between(run);
    leaving.refuse_unless_allowed(&run.deadline).await?;
    leaving.decommission(&run.lease, &run.deadline).await
}

/// The scale-down's last part, once the StatefulSet is written: the decommissioned nodes' volumes released.
pub(super) async fn release_volumes(run: &ZoneRun<'_>) -> Result<(), Diagnostics> {
    Leaving::between(run).release_volumes(&run.deadline).await
}

impl<'a> Leaving<'a> {
    /// The nodes the apply of `run` removes.
    pub fn between(run: &'a ZoneRun<'_>) -> Leaving<'a> {
        let before = run.prior.and_then(|p| p.replicas.known().copied());
        Leaving {
            client: &run.client,
            spec: &run.spec,
            ordinals: leaving_ordinals(before, run.spec.replicas),
        }
    }

    /// Every node of the zone: a zone removed from a running cluster.
    pub fn every(client: &'a ClusterClient, spec: &'a ZoneSpec, replicas: i32) -> Leaving<'a> {
        Leaving {
            client,
            spec,
            ordinals: 0..replicas,
        }
    }

    /// Decommissions the leaving nodes, highest first, one Job each, each in the cluster's turn and between two
    /// passed health gates: a node's pod goes only once CockroachDB has moved every replica it held. CockroachDB
    /// refuses, before changing anything, a decommission whose replicas could go nowhere; the Job then fails and
    /// nothing was touched. The Jobs are removed once they succeeded.
    pub async fn decommission(
        &self,
        lease: &ClusterLease,
        deadline: &Deadline,
    ) -> Result<(), Diagnostics> {
        if self.ordinals.is_empty() {
            return Ok(());
        }
        let (client, spec) = (self.client, self.spec);
        let holding = Holding::take(lease, client, spec, self.ordinals.clone(), deadline).await?;
        let done = self.decommission_each(lease, &holding, deadline).await;
        // Followed to its end: the StatefulSet shrinks next, or the whole zone goes.
        holding.release(Follow::ToTheEnd).await;
        done
    }

    async fn decommission_each(
        &self,
        lease: &ClusterLease,
        holding: &Holding,
        deadline: &Deadline,
    ) -> Result<(), Diagnostics> {
        let (client, spec) = (self.client, self.spec);
        for ordinal in self.ordinals.clone().rev() {
            let node = format!("{}-{ordinal}", names::STATEFULSET);
            let mut turn = lease.acquire(deadline, &spec.zone).await?;
            let gate = gate::Gate {
                client,
                spec,
                holding,
                deadline,
            };
            gate.open(
                &mut turn,
                &format!("before decommissioning {node} in zone {}", spec.zone),
                true,
            )
            .await?;
            let job = manifests::decommission_job(spec, ordinal);
            let decommissioned = client.run_job(&job, AfterSuccess::Delete, deadline).await;
            if let Err(e) = decommissioned {
                return Err(e.to_diagnostics(
                    format!(
                        "Decommissioning node {node} in zone {} failed on {}",
                        spec.zone,
                        client.label()
                    ),
                    "The StatefulSet was not scaled down.",
                ));
            }
            gate.close(
                &mut turn,
                &format!("after decommissioning {node} in zone {}", spec.zone),
            )
            .await?;
        }
        Ok(())
    }

    /// Refuses, before anything is touched, a scale-down that would leave too few live nodes or zones for the
    /// cluster's replication factor (`health::removal_allowed`). Nodes already decommissioned (a scale-down
    /// resumed) count as gone already.
    pub async fn refuse_unless_allowed(&self, deadline: &Deadline) -> Result<(), Diagnostics> {
        let spec = self.spec;
        if self.ordinals.is_empty() {
            return Ok(());
        }
        let (rows, factor) = members::membership(self.client, spec, deadline).await?;
        let leaving = |r: &health::NodeRow| {
            health::zone_of(r) == Some(spec.zone.as_str())
                && health::ordinal_of(r).is_some_and(|o| self.ordinals.contains(&o))
        };
        health::removal_allowed(&rows, leaving, factor).map_err(|why| {
            Diagnostics::with_error(
                format!(
                    "Zone {} cannot scale down to {} node(s)",
                    spec.zone, spec.replicas
                ),
                format!("{why}. Nothing was changed."),
            )
        })
    }

    /// Deletes the data volumes of the decommissioned nodes once their pods are gone: a
    /// decommissioned node can never rejoin, so a later scale-up must start those ordinals on
    /// empty volumes.
    pub async fn release_volumes(&self, deadline: &Deadline) -> Result<(), Diagnostics> {
        let zone = Some(self.spec.zone.as_str());
        for ordinal in self.ordinals.clone() {
            let pod = format!("{}-{ordinal}", names::STATEFULSET);
            self.client
                .wait_deleted::<Pod>(zone, &pod, deadline)
                .await?;
            let claim = format!("{}-{pod}", names::DATA_VOLUME);
            self.client
                .delete::<PersistentVolumeClaim>(zone, &claim, Propagation::Background)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_scale_down_to_some_nodes_decommissions_the_highest_ordinals() {
        assert_eq!(leaving_ordinals(Some(5), 3), 3..5);
        assert_eq!(
            decommission_needed(Some(5), 3),
            Need::run("scaling down to 3 node(s): nodes cockroachdb-3 to cockroachdb-4 leave")
        );
        assert_eq!(
            decommission_needed(Some(3), 0),
            Need::skip("scaling to zero stops the zone and keeps its nodes' data")
        );
        for (before, replicas) in [(Some(3), 3), (Some(3), 5), (None, 3), (Some(0), 3)] {
            assert_eq!(
                decommission_needed(before, replicas),
                Need::skip("not a scale-down"),
                "{before:?} -> {replicas}"
            );
            assert!(leaving_ordinals(before, replicas).is_empty());
        }
    }
}
