//! `cockroach init` runs once per cluster: the record that it did, and its outcome.
use crate::cockroach::manifests::{self, names, ZoneSpec};
use crate::kubernetes::readiness::terminations;
use crate::kubernetes::ClusterClient;
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
