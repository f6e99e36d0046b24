//! Following a rollout that the StatefulSet controller alone would leave stuck.
use crate::cockroach::manifests::{self, names};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::{ClusterClient, Deadline, Propagation};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;

/// The StatefulSet controller never replaces a pod that crash-loops on an old revision: a rollout
/// that reached a broken image stays stuck even after the image is fixed. Such pods are not
/// serving anyway, so deleting them lets the controller recreate them on the new revision.
pub(super) async fn replace_pods_stuck_on_old_revision(
    client: &ClusterClient,
    zone: &str,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    use crate::kubernetes::readiness::Progress;
    // The new revision is known once the controller has seen the applied template.
    let set = client
        .wait_for::<StatefulSet, _>(Some(zone), names::STATEFULSET, deadline, |set| match set {
            Some(set) if manifests::observe_nodes(set).observed_current_spec => Progress::Done,
            _ => {
                Progress::Pending("the StatefulSet controller has not seen the new template".into())
            }
        })
        .await?;
    let Some(update_revision) = set.and_then(|s| s.status?.update_revision) else {
        return Ok(());
    };
    let pods = client
        .list::<Pod>(
            Some(zone),
            &format!("{}={}", names::LABEL_COMPONENT, names::COMPONENT_DATABASE),
        )
        .await?;
    for pod in pods {
        let revision = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("controller-revision-hash"));
        let crash_looping = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|statuses| {
                statuses.iter().any(|c| {
                    c.state
                        .as_ref()
                        .and_then(|s| s.waiting.as_ref())
                        .and_then(|w| w.reason.as_deref())
                        == Some("CrashLoopBackOff")
                })
            });
        if crash_looping && revision != Some(&update_revision) {
            let name = pod.metadata.name.clone().unwrap_or_default();
            tracing::info!(zone, pod = %name, "replacing a pod stuck on an old revision");
            client
                .delete::<Pod>(Some(zone), &name, Propagation::Background)
                .await?;
        }
    }
    Ok(())
}
