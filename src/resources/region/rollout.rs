//! Rolling a zone's nodes onto a new pod template one at a time across the whole CockroachDB cluster. The apply
//! writes the new template with `partition` = the live replica count, so the StatefulSet controller rolls nothing;
//! then, from the highest ordinal down, each node that is not on the new revision gets its turn: the cluster's
//! lease, the health gate, the partition lowered past it, the node back (new revision, Ready, which is
//! `/health?ready=1`, asked again of the node itself through the pods proxy), the gate again, the lease released.
//! The database's lease is taken before the first node's turn and released after the last (`db_lease.rs`). A node
//! that does not come back stops the rollout here and in every region of this run.
//!
//! With the cluster's `disruption_budget = "zone"`, the Job that takes the database's lease also reads where every
//! range keeps its voters (`cockroach::critical_zones`); when no range would lose quorum without this zone, the
//! zone has one turn instead: the lease, the gate, every node off the new revision deleted together (the
//! StatefulSet's `Parallel` pod management brings them back at once on the new revision), all of them back, the
//! gate again. Where the zone is critical the nodes take their turns one at a time, with a warning saying why.
use super::db_lease::{self, Follow, Holding};
use super::gate;
use super::lease::ClusterLease;
use super::model::RegionModel;
use super::spec::zone_at_once;
use super::step::Need;
use super::workload::{live_replicas, revision_of, statefulset_of};
use super::zone_run::ZoneRun;
use crate::cockroach::manifests::{self, names, ZoneObject, ZoneSpec};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::kubernetes::error::Stopped;
use crate::kubernetes::readiness::{self, Progress};
use crate::kubernetes::{ClusterClient, Deadline, Look, Propagation, Unmet};
use crate::resources::zone_wait::wait_zone_ready;
use futures_util::future::join_all;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use std::convert::Infallible;

/// How often a restarted node is asked whether it is ready, once its pod is.
const NODE_READY_POLL: std::time::Duration = std::time::Duration::from_millis(500);

fn revision(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get("controller-revision-hash")
        .map(String::as_str)
}

/// Where a pod stands against the StatefulSet's update revision.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NodeTurn {
    /// On the new revision and Ready.
    Current,
    /// Still to restart; `serving` while it is Ready (the gate comes first then).
    Due { serving: bool },
}

pub(super) fn node_turn(pod: Option<&Pod>, update_revision: &str) -> NodeTurn {
    match pod {
        // Already on the new template, ready or not: restarting it again changes nothing. A node that is down
        // there is the health gate's business, which holds every later turn until it is back.
        Some(pod) if revision(pod) == Some(update_revision) => NodeTurn::Current,
        Some(pod) => NodeTurn::Due {
            serving: readiness::is_ready(pod) && readiness::stuck(pod).is_none(),
        },
        None => NodeTurn::Due { serving: false },
    }
}

/// The StatefulSet as applied, holding every ordinal below `partition` on its current revision.
pub(super) fn held_at(set: &StatefulSet, partition: i32) -> StatefulSet {
    let mut set = set.clone();
    manifests::hold_rollout(&mut set, partition);
    set
}

/// One zone's part of a cluster-wide rollout.
pub(super) struct PacedRollout<'a> {
    pub client: &'a ClusterClient,
    pub spec: &'a ZoneSpec,
    /// The StatefulSet as the apply wrote it.
    pub set: &'a StatefulSet,
    /// Ordinals below this were held on their revision by the apply.
    pub held_below: i32,
    pub lease: &'a ClusterLease,
    pub deadline: &'a Deadline,
    /// The cluster's `disruption_budget` is `zone`: the whole zone restarts at once where the data allows.
    pub zone_at_once: bool,
}

/// What a rollout did: whether any pod restarted, and the warnings for the region (a zone budget that fell back
/// to one node at a time).
#[derive(Default)]
pub(super) struct Rolled {
    pub restarted: bool,
    pub warnings: Diagnostics,
}

impl PacedRollout<'_> {
    /// Rolls the held pods one at a time, or the whole zone at once (see the module comment).
    pub async fn run(&self) -> Result<Rolled, Diagnostics> {
        let zone = self.spec.zone.as_str();
        let set = self
            .client
            .wait_for::<StatefulSet, _>(Some(zone), names::STATEFULSET, self.deadline, |set| {
                match set {
                    Some(set) if manifests::observe_nodes(set).observed_current_spec => {
                        Progress::Done
                    }
                    _ => Progress::Pending(
                        "the StatefulSet controller has not seen the new template".into(),
                    ),
                }
            })
            .await?;
        let Some(update_revision) = set.and_then(|s| s.status?.update_revision) else {
            return Ok(Rolled::default());
        };
        let mut held: Option<Holding> = None;
        let done = self.turns(&update_revision, &mut held).await;
        // Whatever the turns ended with: a failure, a Ctrl-C, the timeout. The zone stays: its release Job ends
        // on its own.
        db_lease::release(held, Follow::InBackground).await;
        done
    }

    /// Every node's turn, the database's lease taken into `held` when the first is due; whether any restarted.
    async fn turns(
        &self,
        update_revision: &str,
        held: &mut Option<Holding>,
    ) -> Result<Rolled, Diagnostics> {
        let zone = self.spec.zone.as_str();
        let mut rolled = Rolled::default();
        if self.zone_at_once {
            self.zone_turn(update_revision, held, &mut rolled).await?;
        }
        let restarted = &mut rolled.restarted;
        for ordinal in (0..self.held_below.min(self.spec.replicas)).rev() {
            let name = format!("{}-{ordinal}", names::STATEFULSET);
            let pod = self.client.get::<Pod>(Some(zone), &name).await?;
            if let NodeTurn::Due { serving } = node_turn(pod.as_ref(), update_revision) {
                if held.is_none() {
                    let taken =
                        Holding::take(self.lease, self.client, self.spec, [], self.deadline)
                            .await?;
                    *held = Some(taken);
                }
                let holding = held.as_ref().expect("taken above");
                self.restart(ordinal, serving, update_revision, holding)
                    .await?;
                *restarted = true;
            }
        }
        if self.held_below > 0 {
            self.client.apply(&held_at(self.set, 0)).await?;
        }
        Ok(rolled)
    }

    /// With the zone budget: the lease taken reading every range's voters, then the whole zone's one turn, or,
    /// where the zone is critical, a warning and nothing yet (the nodes then take their turns one at a time).
    async fn zone_turn(
        &self,
        update_revision: &str,
        held: &mut Option<Holding>,
        rolled: &mut Rolled,
    ) -> Result<(), Diagnostics> {
        let zone = self.spec.zone.as_str();
        let due = self.due_nodes(update_revision).await?;
        if due.is_empty() {
            return Ok(());
        }
        let taken =
            Holding::take_reading(self.lease, self.client, self.spec, [], true, self.deadline)
                .await?;
        let holding = held.insert(taken);
        match holding.zone_may_go_down(zone) {
            Ok(()) => {
                self.restart_zone(&due, update_revision, holding).await?;
                rolled.restarted = true;
            }
            Err(critical) => {
                tracing::warn!(zone, why = %critical, "the zone is critical: one node at a time");
                rolled.warnings.attribute_warning(
                    AttributePath::root("cluster").attr("disruption_budget"),
                    format!("Zone {zone} restarted one node at a time"),
                    format!(
                        "disruption_budget = \"zone\" restarts every node of a zone at once only where no range \
                         would lose quorum without it, and CockroachDB's replica placement says zone {zone} is \
                         critical: {critical}. Its nodes were restarted one at a time instead."
                    ),
                );
            }
        }
        Ok(())
    }

    /// The health gate of this zone's disruptions.
    fn gate<'b>(&'b self, holding: &'b Holding) -> gate::Gate<'b> {
        gate::Gate {
            client: self.client,
            spec: self.spec,
            holding,
            deadline: self.deadline,
        }
    }

    /// The held pods off the new revision, highest ordinal first, with whether each is serving.
    async fn due_nodes(&self, update_revision: &str) -> Result<Vec<(String, bool)>, Diagnostics> {
        let zone = self.spec.zone.as_str();
        let mut due = Vec::new();
        for ordinal in (0..self.held_below.min(self.spec.replicas)).rev() {
            let name = format!("{}-{ordinal}", names::STATEFULSET);
            let pod = self.client.get::<Pod>(Some(zone), &name).await?;
            if let NodeTurn::Due { serving } = node_turn(pod.as_ref(), update_revision) {
                due.push((name, serving));
            }
        }
        Ok(due)
    }

    /// The zone's one turn: lease, gate, every due node deleted together with the partition at 0, all of them
    /// back, gate. The in-process turn keeps any other zone of this run from being disrupted meanwhile, and the
    /// database's lease any other run.
    async fn restart_zone(
        &self,
        due: &[(String, bool)],
        update_revision: &str,
        holding: &Holding,
    ) -> Result<(), Diagnostics> {
        let (client, zone) = (self.client, self.spec.zone.as_str());
        let mut turn = self.lease.acquire(self.deadline, zone).await?;
        let gate = self.gate(holding);
        let serving = due.iter().any(|(_, serving)| *serving);
        let what = format!("the {} nodes of zone {zone} together", due.len());
        gate.open(&mut turn, &format!("before restarting {what}"), serving)
            .await?;
        let pods: Vec<&str> = due.iter().map(|(pod, _)| pod.as_str()).collect();
        tracing::info!(zone, pods = ?pods, "restarting every node of the zone on the new template at once");
        client.apply(&held_at(self.set, 0)).await?;
        for pod in &pods {
            let live = client.get::<Pod>(Some(zone), pod).await?;
            // The controller may have replaced one already: only what still runs the old revision goes.
            if live.is_some_and(|p| revision(&p) != Some(update_revision)) {
                client
                    .delete::<Pod>(Some(zone), pod, Propagation::Background)
                    .await?;
            }
        }
        let back = join_all(pods.iter().map(|pod| self.node_back(pod, update_revision))).await;
        let mut failed = Diagnostics::new();
        back.into_iter()
            .filter_map(Result::err)
            .for_each(|d| failed.extend(d));
        if let Some(first) = failed.0.first() {
            self.lease.stop(&first.detail);
            return Err(failed);
        }
        if !serving {
            return Ok(());
        }
        gate.close(&mut turn, &format!("after restarting {what}"))
            .await
    }

    /// One node's turn: lease, gate, partition, the node back, gate.
    async fn restart(
        &self,
        ordinal: i32,
        serving: bool,
        update_revision: &str,
        holding: &Holding,
    ) -> Result<(), Diagnostics> {
        let zone = self.spec.zone.as_str();
        let pod = format!("{}-{ordinal}", names::STATEFULSET);
        let mut turn = self.lease.acquire(self.deadline, zone).await?;
        let gate = self.gate(holding);
        // A node that is not serving is down already: replacing it disrupts nothing more, so only the lease
        // is needed, not a healthy cluster.
        gate.open(
            &mut turn,
            &format!("before restarting {pod} in zone {zone}"),
            serving,
        )
        .await?;
        tracing::info!(zone, pod = %pod, "restarting one node on the new template");
        let restarted = self.replace(&pod, serving, ordinal, update_revision).await;
        if let Err(diags) = restarted {
            if let Some(first) = diags.0.first() {
                self.lease.stop(&first.detail);
            }
            return Err(diags);
        }
        // A node that was down already disrupted nothing: no closing health gate, which would wait for every other
        // node that is down too (a zone whose certificate expired has all of them down); the next serving node's
        // turn opens with a gate anyway.
        if !serving {
            return Ok(());
        }
        gate.close(&mut turn, &format!("after restarting {pod} in zone {zone}"))
            .await
    }

    /// Lowers the partition past the node (deleting its pod when it never became Ready) and waits for it to
    /// come back on the new revision.
    async fn replace(
        &self,
        pod: &str,
        serving: bool,
        ordinal: i32,
        update_revision: &str,
    ) -> Result<(), Diagnostics> {
        let (client, zone) = (self.client, self.spec.zone.as_str());
        client.apply(&held_at(self.set, ordinal)).await?;
        if let Some(live) = client.get::<Pod>(Some(zone), pod).await? {
            // The controller neither replaces a pod that never became Ready nor waits for it; delete it.
            if !serving && revision(&live) != Some(update_revision) {
                client
                    .delete::<Pod>(Some(zone), pod, Propagation::Background)
                    .await?;
            }
        }
        self.node_back(pod, update_revision).await
    }

    /// Asks the node itself, through the API server's pods proxy, until it answers `/health?ready=1` with 200 (live,
    /// not draining) or the deadline comes; None when it did, else what it last answered.
    async fn node_not_ready(&self, pod: &str) -> Option<String> {
        let zone = self.spec.zone.as_str();
        let ready = self
            .deadline
            .poll(
                NODE_READY_POLL,
                &format!("{zone}/{pod} to answer /health?ready=1"),
                || async {
                    match self
                        .client
                        .pod_https_get(zone, pod, names::HTTP_PORT, "/health?ready=1")
                        .await
                    {
                        Ok(answer) if answer.is_success() => Look::Done(()),
                        Ok(answer) => Look::<(), Infallible>::Waiting(format!(
                            "/health?ready=1 answered {}: {}",
                            answer.status, answer.body
                        )),
                        Err(e) => Look::Waiting(e.to_string()),
                    }
                },
            )
            .await;
        match ready {
            Ok(()) => None,
            Err(Unmet::TimedOut { last }) => Some(last),
            Err(Unmet::Stopped { last }) => Some(format!("{Stopped}; it last answered: {last}")),
            Err(Unmet::Failed(never)) => match never {},
        }
    }

    /// Waits for the node to run the new revision and be Ready; stops at once when it cannot come up.
    async fn node_back(&self, pod: &str, update_revision: &str) -> Result<(), Diagnostics> {
        let zone = self.spec.zone.as_str();
        let mut why_stuck = None;
        let seen = self
            .client
            .wait_for::<Pod, _>(Some(zone), pod, self.deadline, |pod| {
                let Some(pod) = pod else {
                    return Progress::Pending("not created yet".into());
                };
                if revision(pod) != Some(update_revision) {
                    return Progress::Pending("not on the new revision yet".into());
                }
                if readiness::is_ready(pod) {
                    return Progress::Done;
                }
                why_stuck = readiness::stuck(pod);
                match &why_stuck {
                    Some(_) => Progress::Done,
                    None => Progress::Pending(
                        readiness::pod_problem(pod).unwrap_or_else(|| "starting".into()),
                    ),
                }
            })
            .await;
        let why = match (seen, why_stuck) {
            (Ok(_), None) => match self.node_not_ready(pod).await {
                None => return Ok(()),
                Some(why) => why,
            },
            (Ok(_), Some(why)) => why,
            (Err(e), _) => e.to_string(),
        };
        Err(Diagnostics::with_error(
            format!("Node {pod} of zone {zone} did not come back on the new template"),
            format!(
                "Node {pod} of zone {zone} on {} did not come back healthy: {why}.",
                self.client.label()
            ),
        ))
    }
}

/// What the apply left for the provider to roll: the StatefulSet it wrote, held below `held_below`.
pub(super) struct Rollout<'a> {
    pub set: Option<&'a StatefulSet>,
    pub held_below: i32,
    /// The StatefulSet's object and generation before the write (None: there was none).
    pub before: Option<(Option<String>, Option<i64>)>,
    /// The cluster's `disruption_budget` is `zone`.
    pub zone_at_once: bool,
}

impl<'a> Rollout<'a> {
    /// What writing `objects` over the zone's StatefulSet as it was read before the write (`live_set`) leaves
    /// to roll.
    pub fn of(
        objects: &'a [ZoneObject],
        live_set: Option<&StatefulSet>,
        state: &RegionModel,
    ) -> Rollout<'a> {
        Rollout {
            set: statefulset_of(objects),
            held_below: live_set.map_or(0, live_replicas),
            before: revision_of(live_set),
            zone_at_once: zone_at_once(state),
        }
    }

    /// Whether the zone's nodes are to be rolled, and why. `after` is the zone's StatefulSet as read after the
    /// write; it is looked at only when a StatefulSet was written over one that ran before. A new StatefulSet
    /// starts its pods on their revision; an unchanged one has nothing to roll, unless an earlier apply stopped
    /// part-way through its rollout and left nodes held on an older revision.
    pub fn needed(&self, after: Option<&StatefulSet>) -> Need {
        if self.set.is_none() {
            return Need::skip("no StatefulSet is written");
        }
        if self.before.is_none() {
            return Need::skip("the StatefulSet is new: its pods start on its revision");
        }
        if after.is_some_and(|s| manifests::observe_nodes(s).older_revision_running) {
            return Need::run("nodes run an older revision (an earlier rollout stopped part-way)");
        }
        if revision_of(after) == self.before {
            return Need::skip("the StatefulSet did not change");
        }
        Need::run("the StatefulSet changed (a new template, replica count or object)")
    }

    /// Rolls the zone's nodes one at a time, or by zone (`PacedRollout`), when [`Rollout::needed`] says so, and
    /// waits for every pod, new ones included, to be ready on the new revision. Ok holds the rollout's warnings.
    pub async fn follow(&self, run: &ZoneRun<'_>) -> Result<Diagnostics, Diagnostics> {
        let (client, spec, deadline) = (&run.client, &run.spec, &run.deadline);
        let after = match (self.set, &self.before) {
            (Some(_), Some(_)) => {
                client
                    .get::<StatefulSet>(Some(&spec.zone), names::STATEFULSET)
                    .await?
            }
            _ => None,
        };
        let (true, Some(set)) = (run.runs("rollout", self.needed(after.as_ref())), self.set) else {
            return Ok(Diagnostics::new());
        };
        let rolled = PacedRollout {
            client,
            spec,
            set,
            held_below: self.held_below,
            lease: &run.lease,
            deadline,
            zone_at_once: self.zone_at_once,
        }
        .run()
        .await?;
        // Only a template that reached running pods has a rollout to follow: writing the partition alone
        // bumps the generation too, and a zone whose nodes are not serving yet (a create completed by a
        // later apply, before the DNS links exist) must not wait for them here.
        if !rolled.restarted && self.held_below >= spec.replicas {
            return Ok(rolled.warnings);
        }
        // Explains a zone that never gets ready by the peers its nodes cannot reach.
        wait_zone_ready(client, &spec.zone, deadline).await?;
        Ok(rolled.warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateWaiting, ContainerStatus, PodCondition, PodStatus,
    };

    fn pod(revision: &str, ready: bool, waiting: Option<&str>) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.labels =
            Some([("controller-revision-hash".to_string(), revision.to_string())].into());
        pod.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            container_statuses: Some(vec![ContainerStatus {
                name: "db".into(),
                ready,
                state: waiting.map(|reason| ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(reason.into()),
                        message: Some("back-off pulling image".into()),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        });
        pod
    }

    #[test]
    fn a_node_restarts_only_when_off_the_new_revision_and_is_gated_only_while_serving() {
        assert_eq!(
            node_turn(Some(&pod("new", true, None)), "new"),
            NodeTurn::Current
        );
        assert_eq!(
            node_turn(Some(&pod("old", true, None)), "new"),
            NodeTurn::Due { serving: true }
        );
        assert_eq!(
            node_turn(Some(&pod("bad", false, Some("ImagePullBackOff"))), "new"),
            NodeTurn::Due { serving: false },
            "a node stuck on a bad image is down already"
        );
        assert_eq!(
            node_turn(Some(&pod("new", false, None)), "new"),
            NodeTurn::Current,
            "on the new revision but not Ready: restarting it changes nothing; the gate holds the next turn"
        );
        assert_eq!(node_turn(None, "new"), NodeTurn::Due { serving: false });
    }

    #[test]
    fn only_states_that_need_a_change_count_as_stuck() {
        assert!(readiness::stuck(&pod("x", false, Some("CrashLoopBackOff"))).is_some());
        assert!(readiness::stuck(&pod("x", false, Some("ErrImagePull"))).is_some());
        assert_eq!(
            readiness::stuck(&pod("x", false, Some("ContainerCreating"))),
            None
        );
        assert_eq!(readiness::stuck(&pod("x", false, None)), None);
    }

    #[test]
    fn the_held_set_differs_only_in_its_partition() {
        let set = manifests::stateful_set(&manifests::spec_fixture());
        let held = held_at(&set, 2);
        assert_eq!(manifests::held_partition(&held), Some(2));
        let mut back = held.clone();
        manifests::hold_rollout(&mut back, manifests::held_partition(&set).unwrap_or(0));
        assert_eq!(
            back.spec.as_ref().unwrap().template,
            set.spec.as_ref().unwrap().template
        );
    }

    #[test]
    fn a_rollout_follows_a_changed_set_or_one_left_part_way() {
        let written = manifests::stateful_set(&manifests::spec_fixture());
        let mut live = written.clone();
        live.metadata.uid = Some("u".into());
        live.metadata.generation = Some(3);
        let objects = [ZoneObject::StatefulSet(written)];
        let rollout = Rollout::of(&objects, Some(&live), &RegionModel::default());
        assert_eq!(rollout.held_below, live_replicas(&live));
        assert_eq!(
            rollout.needed(Some(&live)),
            Need::skip("the StatefulSet did not change")
        );
        let mut changed = live.clone();
        changed.metadata.generation = Some(4);
        assert!(rollout.needed(Some(&changed)).is_run());
        let mut part_way = live.clone();
        part_way.status = Some(k8s_openapi::api::apps::v1::StatefulSetStatus {
            current_revision: Some("old".into()),
            update_revision: Some("new".into()),
            ..Default::default()
        });
        assert!(
            manifests::observe_nodes(&part_way).older_revision_running,
            "the fixture must stand for a rollout left part-way"
        );
        assert!(rollout.needed(Some(&part_way)).is_run());

        let created = Rollout::of(&objects, None, &RegionModel::default());
        assert!(
            !created.needed(None).is_run(),
            "a new set starts on its revision"
        );
        let nothing_written = Rollout::of(&[], Some(&live), &RegionModel::default());
        assert!(!nothing_written.needed(Some(&changed)).is_run());
    }
}
