//! Image pulls as a kubelet on containerd reports them, against a registry that holds every image except
//! CockroachDB tags that were never released (`cockroach::version` keeps the releases). A missing image leaves its
//! container waiting in `ErrImagePull`, then `ImagePullBackOff` until the kubelet's back-off lets it try again;
//! it never starts.

use serde_json::Value;

use super::{events, ControllerContext};
use crate::cockroach::version;

pub const ERR_IMAGE_PULL: &str = "ErrImagePull";
pub const IMAGE_PULL_BACK_OFF: &str = "ImagePullBackOff";
const DEFAULT_REGISTRY: &str = "docker.io";

/// Why the image cannot be pulled, as containerd answers the kubelet; `None` when the registry has it.
pub fn pull_error(image: &str) -> Option<String> {
    if version::registry_has(image) {
        return None;
    }
    let reference = fully_qualified(image);
    Some(format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{reference}\": failed to resolve \
         reference \"{reference}\": {reference}: not found"
    ))
}

/// The reference containerd resolves: Docker Hub and `library/` for short names, `:latest` when untagged
/// (`cockroachdb/cockroach:v99` -> `docker.io/cockroachdb/cockroach:v99`).
pub fn fully_qualified(image: &str) -> String {
    let (first, rest) = image.split_once('/').unwrap_or(("", image));
    let is_registry = first.contains(['.', ':']) || first == "localhost";
    let mut reference = match (first, is_registry) {
        ("", _) => format!("{DEFAULT_REGISTRY}/library/{rest}"),
        (_, true) => image.to_string(),
        (_, false) => format!("{DEFAULT_REGISTRY}/{image}"),
    };
    let name = reference.rsplit('/').next().unwrap_or("");
    if !name.contains([':', '@']) {
        reference.push_str(":latest");
    }
    reference
}

/// The waiting message while the kubelet backs off from pulling `image`.
pub fn back_off_message(image: &str) -> String {
    format!("Back-off pulling image \"{image}\"")
}

/// The events of one failed pull attempt, in the kubelet's order.
pub fn record_failed_pull(ctx: &ControllerContext, pod: &Value, image: &str, error: &str) {
    let pulling = format!("Pulling image \"{image}\"");
    events::record(ctx, pod, events::NORMAL, "Pulling", &pulling, "kubelet");
    let failed = format!("Failed to pull image \"{image}\": {error}");
    events::record(ctx, pod, events::WARNING, "Failed", &failed, "kubelet");
    let error = format!("Error: {ERR_IMAGE_PULL}");
    events::record(ctx, pod, events::WARNING, "Failed", &error, "kubelet");
}

/// The events of a pod sync that finds the image in back-off.
pub fn record_back_off(ctx: &ControllerContext, pod: &Value, image: &str) {
    let back_off = back_off_message(image);
    events::record(ctx, pod, events::NORMAL, "BackOff", &back_off, "kubelet");
    let error = format!("Error: {IMAGE_PULL_BACK_OFF}");
    events::record(ctx, pod, events::WARNING, "Failed", &error, "kubelet");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_qualified_as_containerd_resolves_them() {
        assert_eq!(
            fully_qualified("cockroachdb/cockroach:v99"),
            "docker.io/cockroachdb/cockroach:v99"
        );
        assert_eq!(
            fully_qualified("cockroach:1"),
            "docker.io/library/cockroach:1"
        );
        assert_eq!(
            fully_qualified("registry.local:5000/mirror/cockroach"),
            "registry.local:5000/mirror/cockroach:latest"
        );
        assert_eq!(
            fully_qualified("localhost/cockroach:v1"),
            "localhost/cockroach:v1"
        );
    }

    #[test]
    fn only_unreleased_cockroach_tags_fail_with_containerds_not_found() {
        assert_eq!(pull_error("cockroachdb/cockroach:v25.2.0"), None);
        assert_eq!(
            pull_error("busybox:nonexistent"),
            None,
            "only CockroachDB's tags are checked"
        );
        assert_eq!(
            pull_error("cockroachdb/cockroach:v99.1.0").as_deref(),
            Some(
                "rpc error: code = NotFound desc = failed to pull and unpack image \
                 \"docker.io/cockroachdb/cockroach:v99.1.0\": failed to resolve reference \
                 \"docker.io/cockroachdb/cockroach:v99.1.0\": docker.io/cockroachdb/cockroach:v99.1.0: not found"
            )
        );
        assert_eq!(
            back_off_message("cockroachdb/cockroach:v99.1.0"),
            "Back-off pulling image \"cockroachdb/cockroach:v99.1.0\""
        );
    }
}
