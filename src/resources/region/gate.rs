//! The health gate before and after every disruption: `cockroach node status` in a Job of the zone about to
//! disrupt a node (through the edge's Job runner, so it needs only the `kubernetes {}` block's rights on jobs,
//! pods and pods/log), judged by `cockroach::health::judge`, asked again every second until the cluster is
//! healthy or the operation's timeout comes, which then says what was unhealthy.
use crate::cockroach::health;
use crate::cockroach::manifests::{self, names, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::readiness;
use crate::kubernetes::{ClusterClient, Deadline, JobError, WaitError};
use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

const ASK_AGAIN_AFTER: Duration = Duration::from_secs(1);

/// Waits until the cluster can lose a node: every active member live, none decommissioning but `leaving`, no range
/// unavailable or under-replicated. `image` is one a running node uses; `before` says what the gate guards, for
/// the diagnostic.
pub(super) async fn wait_healthy(
    client: &ClusterClient,
    spec: &ZoneSpec,
    image: &str,
    leaving: &[String],
    before: &str,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    let mut last = "no answer yet".to_string();
    loop {
        let job = manifests::node_status_job(spec, image);
        match client.run_job_for_output(&job, deadline).await {
            Ok(text) => match health::parse_node_status(&text) {
                Ok(rows) => {
                    let verdict = health::judge(&rows, leaving);
                    if verdict.is_healthy() {
                        return Ok(());
                    }
                    last = verdict.to_string();
                }
                Err(unreadable) => last = unreadable.to_string(),
            },
            // A node restarting behind the service fails an attempt: that is an answer, ask again.
            Err(JobError::Failed(failure)) => last = failure.to_string(),
            Err(JobError::Wait(WaitError::TimedOut { .. })) => {
                return Err(unhealthy(spec, client, before, &last))
            }
            Err(other) => {
                return Err(other.to_diagnostics(
                    format!("Cannot read the cluster's health from zone {}", spec.zone),
                    "No node was disrupted.",
                ))
            }
        }
        if deadline.remaining() <= ASK_AGAIN_AFTER {
            return Err(unhealthy(spec, client, before, &last));
        }
        tracing::info!(zone = %spec.zone, health = %last, "waiting for the cluster to be healthy");
        tokio::time::sleep(ASK_AGAIN_AFTER).await;
    }
}

fn unhealthy(spec: &ZoneSpec, client: &ClusterClient, before: &str, last: &str) -> Diagnostics {
    let mut diags = Diagnostics::new();
    diags.error(
        format!("The CockroachDB cluster did not become healthy {before}"),
        format!(
            "Zone {} on {} waited until the timeout for every node to be live and every range fully \
             replicated, and last saw: {last}. Nothing further was disrupted; a region scaled to zero or a node \
             down keeps this gate closed until it is back.",
            spec.zone,
            client.label()
        ),
    );
    diags
}

/// An image a Ready node of the zone runs, for the gate's Job (so that the gate runs while the planned image cannot
/// be pulled); the planned one when no node is Ready.
pub(super) async fn serving_image(
    client: &ClusterClient,
    spec: &ZoneSpec,
) -> Result<String, Diagnostics> {
    let selector = format!("{}={}", names::LABEL_COMPONENT, names::COMPONENT_DATABASE);
    let pods = client.list::<Pod>(Some(&spec.zone), &selector).await?;
    Ok(pods
        .iter()
        .filter(|p| readiness::is_ready(p) && super::rollout::stuck(p).is_none())
        .find_map(|p| p.spec.as_ref()?.containers.first()?.image.clone())
        .unwrap_or_else(|| spec.image.clone()))
}
