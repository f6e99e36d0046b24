//! `cockroach init` runs once per cluster: the record that it did, and its outcome.
use super::step::Need;
use super::zone_run::ZoneRun;
use crate::cockroach::manifests::{self, names, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use crate::kubernetes::readiness::terminations;
use crate::kubernetes::{AfterSuccess, ClusterClient, JobError};
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

/// What says the cluster is initialised already, as the apply finds it before it writes anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Initialized {
    /// The prior state records it (in a zone that does not run init: that the init zone's did).
    Recorded,
    /// The zone's nodes are ready, which they are only in an initialised cluster (an adopted zone, or one repaired
    /// after a failed apply).
    Serving,
    /// The record in kube-system.
    Marked,
    /// Nothing.
    No,
}

impl Initialized {
    pub fn already(self) -> bool {
        self != Initialized::No
    }
}

/// The look [`init_needed`] judges: the prior state, the zone's StatefulSet as read, and only when neither says
/// so and the zone runs init, the record in kube-system.
pub(super) async fn found_initialized(run: &ZoneRun<'_>) -> Result<Initialized, Diagnostics> {
    let spec = &run.spec;
    let recorded = run
        .prior
        .is_some_and(|p| p.initialized == Attr::Known(true));
    if !spec.runs_init {
        return Ok(if recorded {
            Initialized::Recorded
        } else {
            Initialized::No
        });
    }
    let serving = run
        .live_set
        .as_ref()
        .is_some_and(|set| manifests::observe_nodes(set).ready_replicas > 0);
    if serving {
        return Ok(Initialized::Serving);
    }
    if recorded {
        return Ok(Initialized::Recorded);
    }
    let marker = run
        .client
        .get::<ConfigMap>(
            Some(names::KUBE_SYSTEM),
            &init_marker_name(&spec.cluster_name),
        )
        .await?;
    Ok(if marker.is_some() {
        Initialized::Marked
    } else {
        Initialized::No
    })
}

/// Whether this apply runs `cockroach init` (the Job written with the zone's objects, awaited once the DNS load
/// balancer has its address), and why: only in the init zone (`runs_init`), and only when nothing found says the
/// cluster is initialised already.
pub(super) fn init_needed(runs_init: bool, found: Initialized) -> Need {
    if !runs_init {
        return Need::skip("another zone of the cluster runs `cockroach init`");
    }
    match found {
        Initialized::No => Need::run(
            "nothing says the cluster was initialised: not the state, a ready node, nor the record in kube-system",
        ),
        Initialized::Recorded => Need::skip("the state records that the cluster was initialised"),
        Initialized::Serving => Need::skip(
            "the zone's nodes are ready, which they are only in an initialised cluster",
        ),
        Initialized::Marked => Need::skip("the record in kube-system says the cluster was initialised"),
    }
}

/// Waits for the init Job; a cluster that reports itself initialised already counts as success.
pub(super) async fn await_init(run: &ZoneRun<'_>) -> Result<(), Diagnostics> {
    let (client, spec) = (&run.client, &run.spec);
    let finished = client
        .finish_job(
            &spec.zone,
            names::INIT_JOB,
            AfterSuccess::Keep,
            &run.deadline,
        )
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

/// Writes the record in kube-system that the cluster was initialised (see [`init_marker_name`]).
pub(super) async fn record_initialized(run: &ZoneRun<'_>) -> Result<(), Diagnostics> {
    run.client.apply(&init_marker(&run.spec)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_init_zone_runs_init_and_only_when_nothing_says_it_ran() {
        assert!(init_needed(true, Initialized::No).is_run());
        for found in [
            Initialized::Recorded,
            Initialized::Serving,
            Initialized::Marked,
        ] {
            assert!(found.already());
            assert!(!init_needed(true, found).is_run(), "{found:?}");
        }
        assert!(!Initialized::No.already());
        assert_eq!(
            init_needed(false, Initialized::No),
            Need::skip("another zone of the cluster runs `cockroach init`")
        );
    }
}
