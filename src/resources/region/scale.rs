//! Scaling a zone down without losing data: decommission first, release volumes after.
use crate::cockroach::manifests::{self, names, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::readiness::JobOutcome;
use crate::kubernetes::{ClusterClient, Deadline, Propagation};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};

/// Decommissions the nodes of `ordinals`, highest first, one Job each: a node's pod goes only once
/// CockroachDB has moved every replica it held. The Jobs are removed once they succeeded.
pub(super) async fn decommission_nodes(
    client: &ClusterClient,
    spec: &ZoneSpec,
    ordinals: std::ops::Range<i32>,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    for ordinal in ordinals.rev() {
        let job = manifests::decommission_job(spec, ordinal);
        let name = manifests::decommission_job_name(ordinal);
        client
            .start_job(&job, deadline)
            .await
            .map_err(|e| e.to_diagnostics())?;
        match client.wait_job_finished(&spec.zone, &name, deadline).await {
            Ok(JobOutcome::Succeeded) => {}
            Ok(JobOutcome::Failed(why)) => {
                let said = said(client.job_failure_message(&spec.zone, &name).await);
                let mut diags = Diagnostics::new();
                diags.error(
                    format!("Decommissioning node {}-{ordinal} in zone {} failed on {}", names::STATEFULSET, spec.zone, client.label()),
                    format!(
                        "Job {}/{name} failed: {why}.{said} The StatefulSet was not scaled down; see `kubectl logs job/{name} -n {}`.",
                        spec.zone, spec.zone
                    ),
                );
                return Err(diags);
            }
            Err(e) => return Err(e.to_diagnostics()),
        }
        client
            .delete::<Job>(Some(&spec.zone), &name, Propagation::Background)
            .await
            .map_err(|e| e.to_diagnostics())?;
    }
    Ok(())
}

/// Deletes the data volumes of decommissioned nodes once their pods are gone: a decommissioned
/// node can never rejoin, so a later scale-up must start those ordinals on empty volumes.
pub(super) async fn release_volumes(
    client: &ClusterClient,
    zone: &str,
    ordinals: std::ops::Range<i32>,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    for ordinal in ordinals {
        let pod = format!("{}-{ordinal}", names::STATEFULSET);
        client
            .wait_deleted::<Pod>(Some(zone), &pod, deadline)
            .await
            .map_err(|e| e.to_diagnostics())?;
        let claim = format!("{}-{pod}", names::DATA_VOLUME);
        client
            .delete::<PersistentVolumeClaim>(Some(zone), &claim, Propagation::Background)
            .await
            .map_err(|e| e.to_diagnostics())?;
    }
    Ok(())
}

/// ` cockroach said: <message>.` when the Job's last failure left a message, for a diagnostic's detail.
pub(super) fn said(message: Option<String>) -> String {
    message
        .map(|m| format!(" cockroach said: {}.", m.trim_end_matches('.')))
        .unwrap_or_default()
}
