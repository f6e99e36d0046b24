//! Scaling a zone down without losing data: decommission first, release volumes after.
use crate::cockroach::manifests::{self, names, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::{AfterSuccess, ClusterClient, Deadline, Propagation};
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
        client
            .run_job(&job, AfterSuccess::Delete, deadline)
            .await
            .map_err(|e| {
                e.to_diagnostics(
                    format!(
                        "Decommissioning node {}-{ordinal} in zone {} failed on {}",
                        names::STATEFULSET,
                        spec.zone,
                        client.label()
                    ),
                    "The StatefulSet was not scaled down.",
                )
            })?;
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
            .await?;
        let claim = format!("{}-{pod}", names::DATA_VOLUME);
        client
            .delete::<PersistentVolumeClaim>(Some(zone), &claim, Propagation::Background)
            .await?;
    }
    Ok(())
}
