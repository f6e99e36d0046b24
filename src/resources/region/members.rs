//! The cluster's members as CockroachDB lists them (`cockroach node status`, with the default zone's replication
//! factor), read in one Job from the zone, for judging whether nodes may leave; and the image such Jobs run in.
use crate::cockroach::health;
use crate::cockroach::manifests::{self, names, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::readiness;
use crate::kubernetes::{ClusterClient, Deadline, JobError};
use k8s_openapi::api::core::v1::Pod;

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
    let (sql, status) = crate::cockroach::disruption_lease::split_gate_log(&text);
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
pub(super) async fn serving_image(
    client: &ClusterClient,
    spec: &ZoneSpec,
) -> Result<String, Diagnostics> {
    let selector = format!("{}={}", names::LABEL_COMPONENT, names::COMPONENT_DATABASE);
    let pods = client.list::<Pod>(Some(&spec.zone), &selector).await?;
    Ok(pods
        .iter()
        .filter(|p| readiness::is_ready(p) && readiness::stuck(p).is_none())
        .find_map(|p| p.spec.as_ref()?.containers.first()?.image.clone())
        .unwrap_or_else(|| spec.image.clone()))
}
