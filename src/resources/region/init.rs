//! `cockroach init` runs once per cluster: the record that it did, and its outcome.
use super::model::RegionModel;
use crate::cockroach::manifests::{self, names, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use crate::kubernetes::readiness::terminations;
use crate::kubernetes::{AfterSuccess, ClusterClient, Deadline, JobError};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};

/// Names the record, kept in kube-system outside the zone's namespace, that this cluster was
/// initialised from this Kubernetes cluster. Running `cockroach init` again on a zone re-created
/// with empty volumes could bootstrap a second, separate cluster if the node cannot reach its
/// peers yet; the record survives the namespace and prevents that.
pub(super) fn init_marker_name(cluster_name: &str) -> String {
    format!("{INIT_MARKER_PREFIX}{cluster_name}")
}

pub(super) const INIT_MARKER_PREFIX: &str = "crdb-initialized-";

pub(super) fn init_marker(spec: &ZoneSpec) -> ConfigMap {
    let mut marker = ConfigMap::default();
    marker.metadata.name = Some(init_marker_name(&spec.cluster_name));
    marker.metadata.namespace = Some(names::KUBE_SYSTEM.to_string());
    marker.metadata.labels = Some(names::common_labels(&spec.cluster_name, &spec.zone));
    marker.data = Some(
        [
            ("cluster".to_string(), spec.cluster_name.clone()),
            ("zone".to_string(), spec.zone.clone()),
        ]
        .into_iter()
        .collect(),
    );
    marker
}

/// Whether the init Job's pods ended with the message `cockroach init` prints for a cluster that
/// is already initialised: a success for a region re-created into a running cluster.
pub(super) async fn init_reported_already_done(client: &ClusterClient, zone: &str) -> bool {
    let selector = format!("job-name={}", names::INIT_JOB);
    let Ok(pods) = client.list::<Pod>(Some(zone), &selector).await else {
        return false;
    };
    let already_done = terminations(&pods)
        .filter_map(|terminated| terminated.message.as_deref())
        .any(manifests::init_already_done);
    already_done
}

/// Whether the cluster is known to be initialised already, so this zone runs no init: its nodes are ready
/// (nodes are ready only in an initialised cluster: an adopted zone, or one repaired after a failed apply), the
/// state says so, or the record in kube-system does.
pub(super) async fn found_initialized(
    client: &ClusterClient,
    spec: &ZoneSpec,
    prior: Option<&RegionModel>,
    live_set: Option<&StatefulSet>,
) -> Result<bool, Diagnostics> {
    if !spec.runs_init {
        return Ok(prior.is_some_and(|p| p.initialized == Attr::Known(true)));
    }
    let serving = live_set.is_some_and(|set| manifests::observe_nodes(set).ready_replicas > 0);
    if serving || prior.is_some_and(|p| p.initialized == Attr::Known(true)) {
        return Ok(true);
    }
    let marker = client
        .get::<ConfigMap>(
            Some(names::KUBE_SYSTEM),
            &init_marker_name(&spec.cluster_name),
        )
        .await?;
    Ok(marker.is_some())
}

/// Waits for the init Job; a cluster that reports itself initialised already counts as success.
pub(super) async fn await_init(
    client: &ClusterClient,
    spec: &ZoneSpec,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    let finished = client
        .finish_job(&spec.zone, names::INIT_JOB, AfterSuccess::Keep, deadline)
        .await;
    match finished {
        Ok(()) => Ok(()),
        Err(JobError::Failed(_)) if init_reported_already_done(client, &spec.zone).await => Ok(()),
        Err(e) => Err(e.to_diagnostics(
            format!(
                "cockroach init failed in zone {} on {}",
                spec.zone,
                client.label()
            ),
            "",
        )),
    }
}
