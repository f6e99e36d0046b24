//! The health gate before and after every disruption: one look at every node of every zone this process is
//! disrupting (`db_lease::Holding::zones`), all at once, through the API server's pods proxy: each node's
//! `/health?ready=1` and `/_status/vars`, judged by `cockroach::node_vars::judge`, asked again every second until
//! the cluster is healthy or the operation's timeout comes, which then says what was unhealthy. It needs no Job
//! and no SQL, only `get` on `pods` and `pods/proxy`. The database's disruption lease is held around the whole
//! rollout (`db_lease.rs`), not taken here.
use super::db_lease::Holding;
use super::lease::{HealthyLook, Held};
use crate::cockroach::health;
use crate::cockroach::manifests::{names, ZoneSpec};
use crate::cockroach::node_vars::{self, NodeAnswer};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::error::{Failure, Stopped};
use crate::kubernetes::{ClusterClient, Deadline, Look, Unmet};
use futures_util::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

const ASK_AGAIN_AFTER: Duration = Duration::from_secs(1);
/// How often an opening gate that misses members reads them again through a `node status` Job (a Job only in
/// that case: a healthy rollout runs none).
const READ_MEMBERS_AGAIN_AFTER: Duration = Duration::from_secs(5);

/// Where a gate runs and what it guards, for its diagnostics.
pub(super) struct Gate<'a> {
    pub client: &'a ClusterClient,
    pub spec: &'a ZoneSpec,
    pub holding: &'a Holding,
    pub deadline: &'a Deadline,
}

impl Gate<'_> {
    /// The opening gate: waits until the cluster can lose a node (every member live, none decommissioning but
    /// those leaving on purpose, no range unavailable or under-replicated). With `healthy_needed` false (the node
    /// to replace is down already) the lease is enough. `before` says what the gate guards, for the diagnostic.
    /// Where the turn before closed healthy a moment ago, looking at every zone this one would, nothing has been
    /// disrupted since (the turn was held in between) and that look is this gate's.
    pub async fn open(
        &self,
        turn: &mut Held,
        before: &str,
        healthy_needed: bool,
    ) -> Result<(), Diagnostics> {
        let previous = turn.take_previous_look();
        if !healthy_needed {
            return Ok(());
        }
        let zones = self.zone_names();
        if let Some(look) = previous.filter(|look| look.serves(&zones, Instant::now())) {
            let age_ms = look.at.elapsed().as_millis();
            tracing::debug!(zone = %self.spec.zone, age_ms, "health gate {before}: the turn before closed on a healthy look");
            return Ok(());
        }
        self.wait(before, true).await.map(drop)
    }

    /// The closing gate: waits until the cluster is healthy again after a disruption, and passes that look on to
    /// the next turn.
    pub async fn close(&self, turn: &mut Held, after: &str) -> Result<(), Diagnostics> {
        // Taken before looking: the zones that passing look saw include these.
        let zones = self.zone_names();
        let at = self.wait(after, false).await?;
        turn.closed_healthy(HealthyLook { at, zones });
        Ok(())
    }

    fn zone_names(&self) -> Vec<String> {
        self.holding
            .zones()
            .into_iter()
            .map(|(zone, _)| zone)
            .collect()
    }

    /// Asks until the cluster is healthy; when the passing look began.
    async fn wait(&self, what: &str, opening: bool) -> Result<Instant, Diagnostics> {
        let (client, spec, deadline) = (self.client, self.spec, self.deadline);
        let waiting_for = format!("the cluster to be healthy {what} (zone {})", spec.zone);
        let (started, looks) = (Instant::now(), std::sync::atomic::AtomicU32::new(0));
        let last_look = std::sync::Mutex::new(started);
        let passed = deadline
            .poll(ASK_AGAIN_AFTER, &waiting_for, || async {
                looks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                *last_look.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
                let answers = self.look().await;
                if answers.is_empty() {
                    // Every node this process reaches is leaving (a zone removed on its own), or no zone's API
                    // server answers.
                    return self.holding.look_by_node_status(deadline).await;
                }
                let verdict = self.verdict(&answers);
                if opening && verdict.live_members.is_some() {
                    // Members missing before a disruption: how long they have been down decides whether to wait.
                    self.holding
                        .refresh_members(READ_MEMBERS_AGAIN_AFTER, deadline)
                        .await;
                }
                self.judge(&answers, opening, what)
            })
            .await;
        let waited_ms = started.elapsed().as_millis();
        tracing::debug!(zone = %spec.zone, looks = looks.into_inner(), waited_ms, "health gate {what}: {passed:?}");
        match passed {
            Ok(()) => Ok(last_look
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)),
            Err(Unmet::Failed(refused)) => Err(refused),
            Err(Unmet::TimedOut { last }) => Err(self.unhealthy(what, &last)),
            Err(Unmet::Stopped { last }) => Err(Diagnostics::with_error(
                format!("Stopped waiting for the CockroachDB cluster to be healthy {what}"),
                format!(
                    "Zone {} on {}: {Stopped}; nothing further was disrupted. It last saw: {last}.",
                    spec.zone,
                    client.label()
                ),
            )),
        }
    }

    /// One round: every node of every zone being disrupted, all asked at once.
    async fn look(&self) -> Vec<NodeAnswer> {
        let zones = self.holding.zones();
        let per_zone = join_all(
            zones
                .iter()
                .map(|(zone, client)| self.look_at_zone(zone, client)),
        )
        .await;
        per_zone.into_iter().flatten().collect()
    }

    async fn look_at_zone(&self, zone: &str, client: &ClusterClient) -> Vec<NodeAnswer> {
        let selector = format!("{}={}", names::LABEL_COMPONENT, names::COMPONENT_DATABASE);
        let pods = match client.list::<Pod>(Some(zone), &selector).await {
            Ok(pods) => pods,
            // A zone whose API server answers nothing (after the edge's retries) cannot be looked at through it,
            // and waiting on it would hold the turn, and with it that zone's own rollout, which is what reports
            // the outage, until the timeout. Its nodes are judged as those of a zone no region of this process
            // applies: by every reachable node's view of the cluster's liveness (`liveness_livenodes`), so a
            // zone whose nodes are down too still keeps the gate closed.
            Err(e) if e.failure() == Failure::Unreachable => {
                tracing::info!(zone, error = %e, "health gate: the zone's API server is unreachable; its nodes are judged by the others' view of liveness");
                return Vec::new();
            }
            Err(e) => {
                return vec![NodeAnswer {
                    name: format!("zone {zone}"),
                    zone: zone.to_owned(),
                    not_ready: Some(format!("its pods could not be listed: {e}")),
                    vars: None,
                }]
            }
        };
        let names: Vec<String> = pods
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .filter(|name| ordinal_of_pod(name).is_none_or(|o| !self.holding.is_leaving(zone, o)))
            .collect();
        join_all(names.iter().map(|pod| ask_node(client, zone, pod))).await
    }

    /// One look judged: passed, refused (nodes down for longer than a restart takes), or what keeps it waiting.
    fn verdict(&self, answers: &[NodeAnswer]) -> health::Unhealthy {
        let holding = self.holding;
        node_vars::judge(answers, holding.expected_live(), holding.anyone_leaving())
    }

    fn judge(&self, answers: &[NodeAnswer], opening: bool, what: &str) -> Look<(), Diagnostics> {
        let holding = self.holding;
        let verdict = self.verdict(answers);
        if verdict.is_healthy() {
            return Look::Done(());
        }
        // Holding the lease, no run is disrupting a node: one that was down this long when the lease was taken,
        // and is still missing, is not coming back within this apply, and waiting would only run out the timeout.
        if opening && verdict.live_members.is_some() {
            let back = |row: &health::NodeRow| {
                let pod = row.address.split('.').next().unwrap_or_default();
                let zone = health::zone_of(row).unwrap_or_default();
                answers
                    .iter()
                    .any(|a| a.not_ready.is_none() && a.name == format!("{zone}/{pod}"))
            };
            let gone = holding.still_long_down(back);
            if !gone.is_empty() {
                return Look::Failed(self.nodes_down(what, &gone, &verdict));
            }
        }
        Look::Waiting(verdict.to_string())
    }

    fn nodes_down(&self, what: &str, gone: &[String], verdict: &health::Unhealthy) -> Diagnostics {
        Diagnostics::with_error(
            format!("CockroachDB nodes are down; stopped {what}"),
            format!(
                "Zone {} on {} holds the cluster's disruption lease, so no Terraform run is disrupting a node, and \
                 these nodes have not been live for longer than {}s: {}. The cluster now: {verdict}. Restarting \
                 another node could make ranges unavailable, and waiting for these would only run out the timeout. \
                 A region scaled to zero (`replicas = 0`) keeps its nodes down until it is scaled up again: apply \
                 that first, or bring the nodes back, then apply this change again. Nothing further was disrupted.",
                self.spec.zone,
                self.client.label(),
                health::DOWN_TOO_LONG.as_secs(),
                gone.join(", "),
            ),
        )
    }

    fn unhealthy(&self, what: &str, last: &str) -> Diagnostics {
        Diagnostics::with_error(
            format!("The CockroachDB cluster did not become healthy {what}"),
            format!(
                "Zone {} on {} waited until the timeout for every node to be live and every range fully \
                 replicated, and last saw: {last}. Nothing further was disrupted; a region scaled to zero or a \
                 node down keeps this gate closed until it is back.",
                self.spec.zone,
                self.client.label()
            ),
        )
    }
}

/// The StatefulSet ordinal in a pod's name (`cockroachdb-2`).
fn ordinal_of_pod(name: &str) -> Option<i32> {
    name.rsplit_once('-')?.1.parse().ok()
}

/// A node's `/health?ready=1`, then, when it is ready, its `/_status/vars`.
async fn ask_node(client: &ClusterClient, zone: &str, pod: &str) -> NodeAnswer {
    let get = |path| client.pod_https_get(zone, pod, names::HTTP_PORT, path);
    let not_ready = match get("/health?ready=1").await {
        Ok(answer) if answer.is_success() => None,
        Ok(answer) => Some(format!(
            "/health?ready=1 answered {}: {}",
            answer.status,
            answer.body.trim()
        )),
        Err(e) => Some(e.to_string()),
    };
    let vars = match &not_ready {
        None => match get("/_status/vars").await {
            Ok(answer) if answer.is_success() => Some(answer.body),
            _ => None,
        },
        Some(_) => None,
    };
    NodeAnswer {
        name: format!("{zone}/{pod}"),
        zone: zone.to_owned(),
        not_ready,
        vars,
    }
}
