//! Volume expansion, as a CSI driver's external-resizer and the kubelet carry it out once the API server has
//! accepted a larger request on a bound claim (admission has already checked the StorageClass):
//!
//! 1. the resizer picks the claim up: `status.allocatedResources.storage` = the request,
//!    `allocatedResourceStatuses.storage: ControllerResizeInProgress`, condition `Resizing`;
//! 2. after [`CONTROLLER_RESIZE`] the volume is bigger: `NodeResizePending`, condition
//!    `FileSystemResizePending` (event `FileSystemResizeRequired`);
//! 3. once a running pod mounts the claim, after [`NODE_RESIZE`] the kubelet grows the file system:
//!    `status.capacity.storage` = the request, conditions cleared (event `FileSystemResizeSuccessful`).
//!
//! A claim no running pod mounts stays at step 2 with its old capacity, as on a real cluster.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::{events, meta, ControllerContext, Reconcile};
use kube_codecs::quantity;

/// How long the cloud takes to grow a disk.
pub const CONTROLLER_RESIZE: Duration = Duration::from_secs(5);
/// How long the kubelet takes to grow a mounted file system once the disk has grown.
pub const NODE_RESIZE: Duration = Duration::from_secs(2);

const CONTROLLER_IN_PROGRESS: &str = "ControllerResizeInProgress";
const NODE_PENDING: &str = "NodeResizePending";
pub const FILE_SYSTEM_RESIZE_PENDING: &str = "FileSystemResizePending";

/// Where a claim is in its expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Capacity covers the request (or the claim is not bound): nothing to do.
    Idle,
    /// The request exceeds what the resizer is working on.
    Requested,
    /// The resizer grows the volume.
    ControllerResizing,
    /// The volume has grown; its file system waits for a pod to mount it.
    FileSystemResizePending,
}

fn storage_at<'a>(claim: &'a Value, pointer: &str) -> Option<&'a str> {
    claim.pointer(pointer).and_then(Value::as_str)
}

fn exceeds(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => quantity::compare(a, b) == Some(std::cmp::Ordering::Greater),
        _ => false,
    }
}

pub fn step(claim: &Value) -> Step {
    if meta::str_at(claim, "/status/phase") != Some("Bound") || meta::is_deleting(claim) {
        return Step::Idle;
    }
    let request = storage_at(claim, "/spec/resources/requests/storage");
    let capacity = storage_at(claim, "/status/capacity/storage");
    let allocated = storage_at(claim, "/status/allocatedResources/storage");
    let progress = storage_at(claim, "/status/allocatedResourceStatuses/storage");
    if exceeds(request, allocated.or(capacity)) {
        return Step::Requested;
    }
    match progress {
        Some(CONTROLLER_IN_PROGRESS) => Step::ControllerResizing,
        Some(NODE_PENDING) if exceeds(allocated, capacity) => Step::FileSystemResizePending,
        _ => Step::Idle,
    }
}

fn condition(kind: &str, message: &str) -> Value {
    json!({"type": kind, "status": "True", "lastProbeTime": null,
           "lastTransitionTime": meta::now_rfc3339(), "message": message})
}

/// The claim's next status, given how long it has been at its step and whether a running pod mounts it; `None`
/// while it must wait.
pub fn advance(claim: &Value, waited: Duration, mounted: bool) -> Option<Value> {
    let mut status = claim.get("status").cloned().unwrap_or_else(|| json!({}));
    match step(claim) {
        Step::Idle => return None,
        Step::Requested => {
            status["allocatedResources"] =
                json!({"storage": storage_at(claim, "/spec/resources/requests/storage")});
            status["allocatedResourceStatuses"] = json!({"storage": CONTROLLER_IN_PROGRESS});
            status["conditions"] = json!([condition("Resizing", "")]);
        }
        Step::ControllerResizing if waited >= CONTROLLER_RESIZE => {
            status["allocatedResourceStatuses"] = json!({"storage": NODE_PENDING});
            status["conditions"] = json!([condition(
                FILE_SYSTEM_RESIZE_PENDING,
                "Waiting for user to (re-)start a pod to finish file system resize of volume on node."
            )]);
        }
        Step::FileSystemResizePending if mounted && waited >= NODE_RESIZE => {
            status["capacity"]["storage"] = status["allocatedResources"]["storage"].clone();
            if let Some(s) = status.as_object_mut() {
                s.remove("allocatedResourceStatuses");
                s.remove("conditions");
            }
        }
        _ => return None,
    }
    Some(status)
}

/// Whether a running pod of the claim's namespace mounts it.
fn mounted(claim: &Value, pods: &[Value]) -> bool {
    pods.iter().any(|p| {
        meta::namespace(p) == meta::namespace(claim)
            && !meta::is_deleting(p)
            && meta::str_at(p, "/status/phase") == Some("Running")
            && p.pointer("/spec/volumes")
                .and_then(Value::as_array)
                .is_some_and(|volumes| {
                    volumes.iter().any(|v| {
                        v.pointer("/persistentVolumeClaim/claimName")
                            .and_then(Value::as_str)
                            == Some(meta::name(claim))
                    })
                })
    })
}

/// The resizer and the kubelet's part, for every claim of the cluster.
#[derive(Default)]
pub struct Controller {
    /// Claim uid -> the step it was last seen at, and since when.
    at: HashMap<String, (Step, Instant)>,
}

impl Reconcile for Controller {
    fn reconcile(&mut self, ctx: &ControllerContext) {
        let rt = ctx.rt("persistentvolumeclaims");
        let claims = ctx.store.list(rt, None);
        let pods = ctx.store.list(ctx.rt("pods"), None);
        let mut seen = HashMap::new();
        for claim in claims {
            let now = step(&claim);
            if now == Step::Idle {
                continue;
            }
            let uid = meta::uid(&claim).to_string();
            let since = match self.at.get(&uid) {
                Some((was, since)) if *was == now => *since,
                _ => Instant::now(),
            };
            seen.insert(uid.clone(), (now, since));
            // Delays are cluster time: `waited` is scaled back up by the clock's speed.
            let waited = since.elapsed().mul_f64(ctx.clock.speed);
            let Some(status) = advance(&claim, waited, mounted(&claim, &pods)) else {
                continue;
            };
            let mut updated = claim.clone();
            updated["status"] = status;
            if ctx
                .update_status("persistentvolumeclaims", updated, "pvc expansion")
                .is_some()
            {
                let (component, reason, message) = match now {
                    Step::ControllerResizing => (
                        "external-resizer",
                        "FileSystemResizeRequired",
                        "Require file system resize of volume on node".to_string(),
                    ),
                    Step::FileSystemResizePending => (
                        "kubelet",
                        "FileSystemResizeSuccessful",
                        format!(
                            "MountVolume.NodeExpandVolume succeeded for volume \"{}\"",
                            meta::name(&claim)
                        ),
                    ),
                    _ => (
                        "external-resizer",
                        "Resizing",
                        format!("External resizer is resizing volume {}", meta::name(&claim)),
                    ),
                };
                events::record(ctx, &claim, events::NORMAL, reason, &message, component);
            }
        }
        self.at = seen;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(request: &str, capacity: &str) -> Value {
        json!({"metadata": {"name": "data-web-0", "namespace": "web", "uid": "c1"},
               "spec": {"resources": {"requests": {"storage": request}}},
               "status": {"phase": "Bound", "capacity": {"storage": capacity}}})
    }

    fn then(mut claim: Value, status: Option<Value>) -> Value {
        claim["status"] = status.expect("a next status");
        claim
    }

    #[test]
    fn a_grown_request_goes_through_the_resizer_then_the_kubelet() {
        let grown = claim("2Gi", "1Gi");
        assert_eq!(step(&grown), Step::Requested);
        let resizing = then(grown.clone(), advance(&grown, Duration::ZERO, true));
        assert_eq!(step(&resizing), Step::ControllerResizing);
        assert_eq!(resizing["status"]["allocatedResources"]["storage"], "2Gi");
        assert_eq!(resizing["status"]["capacity"]["storage"], "1Gi");
        assert_eq!(
            advance(&resizing, Duration::from_secs(1), true),
            None,
            "the disk takes time to grow"
        );
        let pending = then(
            resizing.clone(),
            advance(&resizing, CONTROLLER_RESIZE, true),
        );
        assert_eq!(step(&pending), Step::FileSystemResizePending);
        assert_eq!(
            pending["status"]["conditions"][0]["type"],
            FILE_SYSTEM_RESIZE_PENDING
        );
        assert_eq!(
            advance(&pending, Duration::from_secs(3600), false),
            None,
            "an unmounted claim waits for a pod"
        );
        let done = then(pending.clone(), advance(&pending, NODE_RESIZE, true));
        assert_eq!(done["status"]["capacity"]["storage"], "2Gi");
        assert!(done["status"].get("conditions").is_none());
        assert_eq!(step(&done), Step::Idle);
    }

    #[test]
    fn equal_sizes_in_other_units_and_unbound_claims_need_nothing() {
        assert_eq!(step(&claim("1024Mi", "1Gi")), Step::Idle);
        let mut pending = claim("2Gi", "1Gi");
        pending["status"] = json!({"phase": "Pending"});
        assert_eq!(step(&pending), Step::Idle);
    }

    #[test]
    fn a_request_raised_again_restarts_the_resize() {
        let grown = claim("2Gi", "1Gi");
        let mut resizing = then(grown.clone(), advance(&grown, Duration::ZERO, true));
        resizing["spec"]["resources"]["requests"]["storage"] = json!("3Gi");
        assert_eq!(step(&resizing), Step::Requested);
    }

    #[test]
    fn only_running_pods_that_mount_the_claim_count() {
        let c = claim("2Gi", "1Gi");
        let pod = |phase: &str, claim: &str| {
            json!({"metadata": {"name": "web-0", "namespace": "web"},
                   "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]},
                   "status": {"phase": phase}})
        };
        assert!(mounted(&c, &[pod("Running", "data-web-0")]));
        assert!(!mounted(&c, &[pod("Pending", "data-web-0")]));
        assert!(!mounted(&c, &[pod("Running", "data-web-1")]));
    }
}
