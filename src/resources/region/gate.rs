//! The health gate before and after every disruption: `cockroach node status` in a Job of the zone about to
//! disrupt a node (through the edge's Job runner, so it needs only the `kubernetes {}` block's rights on jobs,
//! pods and pods/log), judged by `cockroach::health::judge`, asked again every second until the cluster is
//! healthy or the operation's timeout comes, which then says what was unhealthy.
//!
//! The same Job takes the database's disruption lease before it reads the cluster (the opening gate) or releases
//! it (the closing gate), see `cockroach::disruption_lease`: Terraform runs that share only the database (one
//! workspace per region) disrupt one node at a time too, at no extra Job per disruption.
use crate::cockroach::disruption_lease::{self as db_lease, RENEW_EVERY};
use crate::cockroach::health;
use crate::cockroach::manifests::{self, names, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::error::Stopped;
use crate::kubernetes::readiness;
use crate::kubernetes::{ClusterClient, Deadline, JobError, Look, Unmet};
use k8s_openapi::api::core::v1::Pod;
use std::future::Future;
use std::time::Duration;

const ASK_AGAIN_AFTER: Duration = Duration::from_secs(1);
const LEASE_JOB: &str = "cockroachdb-disruption-lease";

/// What a gate does with the database's disruption lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LeaseStep {
    /// Takes it (or renews it) before reading the cluster; the gate passes only once it is ours.
    Take,
    /// Releases it: the disruption is over; the gate still waits for the cluster to be healthy.
    Release,
}

/// Where a gate runs and what it guards, for its Jobs and its diagnostics.
pub(super) struct Gate<'a> {
    pub client: &'a ClusterClient,
    pub spec: &'a ZoneSpec,
    /// An image a running node uses (`serving_image`).
    pub image: String,
    /// Node IDs being decommissioned on purpose.
    pub leaving: &'a [String],
    pub deadline: &'a Deadline,
}

impl<'a> Gate<'a> {
    /// The gate of one disruption in the zone, its Jobs in the image a serving node of the zone runs; no node is
    /// leaving on purpose.
    pub async fn in_zone(
        client: &'a ClusterClient,
        spec: &'a ZoneSpec,
        deadline: &'a Deadline,
    ) -> Result<Gate<'a>, Diagnostics> {
        Ok(Gate {
            client,
            spec,
            image: serving_image(client, spec).await?,
            leaving: &[],
            deadline,
        })
    }

    /// The opening gate: takes the database's disruption lease, then waits until the cluster can lose a node
    /// (every active member live, none decommissioning but `leaving`, no range unavailable or
    /// under-replicated). With `healthy_needed` false (the node to replace is down already) the lease is
    /// enough. `before` says what the gate guards, for the diagnostic.
    /// When it fails, the lease is released, so that other runs need not wait for its expiry.
    pub async fn open(&self, before: &str, healthy_needed: bool) -> Result<(), Diagnostics> {
        let opened = self.wait(LeaseStep::Take, before, healthy_needed).await;
        if opened.is_err() {
            self.release_quietly().await;
        }
        opened
    }

    /// The closing gate: releases the database's disruption lease (another run's opening gate then waits for
    /// the cluster to be healthy itself) and waits until the cluster is healthy again.
    pub async fn close(&self, after: &str) -> Result<(), Diagnostics> {
        self.wait(LeaseStep::Release, after, true).await
    }

    /// Releases the lease after a disruption that failed, so that other runs need not wait for its expiry; a
    /// failure here is only logged (the expiry bounds it).
    pub async fn release_quietly(&self) {
        let job = self.lease_job(&db_lease::release_statement(db_lease::holder()));
        if let Err(e) = self.client.run_job_for_output(&job, self.deadline).await {
            tracing::warn!(zone = %self.spec.zone, error = %e, "the disruption lease was not released; it expires by itself");
        }
    }

    /// Runs `step` (one disruption: a node restarting, a decommission) while renewing the lease every
    /// `RENEW_EVERY`, so that a long one keeps it.
    pub async fn renewing<T>(&self, step: impl Future<Output = T>) -> T {
        tokio::pin!(step);
        loop {
            let renew = async {
                tokio::time::sleep(RENEW_EVERY).await;
                self.renew().await;
            };
            tokio::select! {
                done = &mut step => return done,
                () = renew => {}
            }
        }
    }

    async fn renew(&self) {
        let holder = db_lease::holder();
        let job = self.lease_job(&db_lease::take_statement(holder));
        match self.client.run_job_for_output(&job, self.deadline).await {
            Ok(said) if db_lease::held(&said, holder) => {}
            Ok(_) => tracing::warn!(
                zone = %self.spec.zone,
                "the disruption lease expired during a disruption and another run holds it; its health gate waits for this one"
            ),
            Err(e) => {
                tracing::warn!(zone = %self.spec.zone, error = %e, "renewing the disruption lease failed")
            }
        }
    }

    /// A `cockroach sql` Job of one lease statement, in the image a running node uses (the planned one may be
    /// the image that cannot be pulled).
    fn lease_job(&self, statement: &str) -> k8s_openapi::api::batch::v1::Job {
        let mut job = manifests::sql_job(self.spec, LEASE_JOB, statement);
        manifests::run_in_image(&mut job, &self.image);
        job
    }

    async fn wait(
        &self,
        lease: LeaseStep,
        what: &str,
        healthy_needed: bool,
    ) -> Result<(), Diagnostics> {
        let (client, spec, deadline) = (self.client, self.spec, self.deadline);
        let holder = db_lease::holder();
        let statements = match lease {
            LeaseStep::Take => db_lease::take_statements(holder),
            LeaseStep::Release => vec![db_lease::release_statement(holder)],
        };
        let waiting_for = format!("the cluster to be healthy {what} (zone {})", spec.zone);
        let passed = deadline
            .poll(ASK_AGAIN_AFTER, &waiting_for, || async {
                let job = manifests::gate_job(spec, &self.image, &statements);
                match client.run_job_for_output(&job, deadline).await {
                    Ok(text) => self.judge(&text, lease, healthy_needed, what),
                    // A node restarting behind the service fails an attempt: that is an answer, ask again.
                    Err(JobError::Failed(failure)) => Look::Waiting(failure.to_string()),
                    Err(out_of_time) if out_of_time.ran_out_of_time() => Look::OutOfTime,
                    Err(other) => Look::Failed(other.to_diagnostics(
                        format!("Cannot read the cluster's health from zone {}", spec.zone),
                        "No node was disrupted.",
                    )),
                }
            })
            .await;
        match passed {
            Ok(()) => Ok(()),
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

    /// One gate Job's answer judged: passed, refused (nodes down for longer than a restart takes), or what keeps
    /// it waiting.
    fn judge(
        &self,
        text: &str,
        lease: LeaseStep,
        healthy_needed: bool,
        what: &str,
    ) -> Look<(), Diagnostics> {
        let holder = db_lease::holder();
        let (sql, status) = db_lease::split_gate_log(text);
        if lease == LeaseStep::Take && !db_lease::held(sql, holder) {
            return Look::Waiting(
                "another Terraform run holds the database's disruption lease \
                 (crdb_provider.disruption_lease) and is disrupting a node"
                    .to_string(),
            );
        }
        if !healthy_needed {
            return Look::Done(());
        }
        let rows = match health::parse_node_status(status) {
            Ok(rows) => rows,
            Err(unreadable) => return Look::Waiting(unreadable.to_string()),
        };
        let verdict = health::judge(&rows, self.leaving);
        if verdict.is_healthy() {
            return Look::Done(());
        }
        // Holding the lease, no run is disrupting a node: one down this long is not coming back within this
        // apply, and waiting would only run out the timeout.
        let gone = health::down_longer_than(&rows, health::DOWN_TOO_LONG);
        if lease == LeaseStep::Take && !gone.is_empty() {
            return Look::Failed(self.nodes_down(what, &gone, &verdict));
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

/// The cluster's members and its replication factor (the default zone's `num_replicas`), read in one gate Job
/// from `zone`, for judging whether nodes may leave (`health::removal_allowed`).
pub(super) async fn membership(
    client: &ClusterClient,
    spec: &ZoneSpec,
    deadline: &Deadline,
) -> Result<(Vec<health::NodeRow>, usize), Diagnostics> {
    let image = serving_image(client, spec).await?;
    let job = manifests::gate_job(spec, &image, &[health::SHOW_DEFAULT_ZONE.to_string()]);
    let cannot = |why: String| {
        Diagnostics::with_error(
            format!("Cannot read the cluster's nodes from zone {}", spec.zone),
            format!("{why}. Nothing was changed."),
        )
    };
    let text = client
        .run_job_for_output(&job, deadline)
        .await
        .map_err(|e: JobError| {
            e.to_diagnostics(
                format!("Cannot read the cluster's nodes from zone {}", spec.zone),
                "Nothing was changed.",
            )
        })?;
    let (sql, status) = db_lease::split_gate_log(&text);
    let factor = health::replication_factor(sql).ok_or_else(|| {
        cannot(format!(
            "`{}` printed no num_replicas: {sql:?}",
            health::SHOW_DEFAULT_ZONE
        ))
    })?;
    let rows = health::parse_node_status(status).map_err(|e| cannot(e.to_string()))?;
    Ok((rows, factor))
}

/// An image a Ready node of the zone runs, for the gate's Job (so that the gate runs while the planned image cannot
/// be pulled); the planned one when no node is Ready.
async fn serving_image(client: &ClusterClient, spec: &ZoneSpec) -> Result<String, Diagnostics> {
    let selector = format!("{}={}", names::LABEL_COMPONENT, names::COMPONENT_DATABASE);
    let pods = client.list::<Pod>(Some(&spec.zone), &selector).await?;
    Ok(pods
        .iter()
        .filter(|p| readiness::is_ready(p) && readiness::stuck(p).is_none())
        .find_map(|p| p.spec.as_ref()?.containers.first()?.image.clone())
        .unwrap_or_else(|| spec.image.clone()))
}
