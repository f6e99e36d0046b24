//! The little list schema that strategic merge patch and server-side apply need:
//! which lists merge by key, which are sets, which are replaced whole.
//! `path` is the chain of object keys from the root to the list (list items do not add a step).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Items are merged by these key fields.
    Map(&'static [&'static str]),
    /// Items are scalars merged as a set.
    Set,
    /// The list is replaced as a whole.
    Atomic,
}

fn in_pod_spec_container(path: &[&str]) -> bool {
    path.iter()
        .any(|p| matches!(*p, "containers" | "initContainers" | "ephemeralContainers"))
}

/// Lists as server-side apply sees them (`+listType`/`+listMapKey` in the API types).
pub fn apply_list_kind(kind: &str, path: &[&str], field: &str) -> ListKind {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "imagePullSecrets" => ListKind::Map(&["name"]),
        "env" if in_pod_spec_container(path) => ListKind::Map(&["name"]),
        "volumeMounts" => ListKind::Map(&["mountPath"]),
        "volumeDevices" => ListKind::Map(&["devicePath"]),
        "ports" if in_pod_spec_container(path) => ListKind::Map(&["containerPort", "protocol"]),
        "ports" if kind == "Service" && path == ["spec"] => ListKind::Map(&["port", "protocol"]),
        "hostAliases" => ListKind::Map(&["ip"]),
        "topologySpreadConstraints" => ListKind::Map(&["topologyKey", "whenUnsatisfiable"]),
        "conditions" => ListKind::Map(&["type"]),
        "ownerReferences" if path == ["metadata"] => ListKind::Map(&["uid"]),
        "finalizers" if path == ["metadata"] => ListKind::Set,
        "clusterIPs" | "ipFamilies" => ListKind::Atomic,
        _ => ListKind::Atomic,
    }
}

/// Lists as strategic merge patch sees them (`patchStrategy`/`patchMergeKey`): the same lists, merged on the first
/// key of server-side apply's (`containerPort`, not `containerPort` and `protocol`).
pub fn patch_list_kind(kind: &str, path: &[&str], field: &str) -> ListKind {
    match apply_list_kind(kind, path, field) {
        ListKind::Map(keys) => ListKind::Map(&keys[..keys.len().min(1)]),
        other => other,
    }
}
