//! The table of resource types the sandbox serves.

/// One served resource type (a group/version/kind and its URL plural).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

impl ResourceType {
    /// `v1` for the core group, `apps/v1` otherwise: the object's `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods`, `statefulsets.apps`: unique key across groups.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }

    pub fn has_status(&self) -> bool {
        STATUS_KINDS.contains(&self.kind)
    }

    pub fn has_scale(&self) -> bool {
        matches!(self.kind, "StatefulSet" | "Deployment" | "ReplicaSet")
    }

    pub fn short_names(&self) -> &'static [&'static str] {
        match self.plural {
            "namespaces" => &["ns"],
            "configmaps" => &["cm"],
            "services" => &["svc"],
            "serviceaccounts" => &["sa"],
            "pods" => &["po"],
            "persistentvolumeclaims" => &["pvc"],
            "persistentvolumes" => &["pv"],
            "statefulsets" => &["sts"],
            "deployments" => &["deploy"],
            "replicasets" => &["rs"],
            "poddisruptionbudgets" => &["pdb"],
            "endpoints" => &["ep"],
            "events" => &["ev"],
            "nodes" => &["no"],
            "storageclasses" => &["sc"],
            _ => &[],
        }
    }
}

const STATUS_KINDS: &[&str] = &[
    "Namespace",
    "Service",
    "Pod",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "Node",
    "StatefulSet",
    "Deployment",
    "ReplicaSet",
    "Job",
    "PodDisruptionBudget",
];

macro_rules! rt {
    ($g:expr, $v:expr, $k:expr, $p:expr, $n:expr) => {
        ResourceType {
            group: $g,
            version: $v,
            kind: $k,
            plural: $p,
            namespaced: $n,
        }
    };
}

pub static RESOURCE_TYPES: &[ResourceType] = &[
    rt!("", "v1", "Namespace", "namespaces", false),
    rt!("", "v1", "Node", "nodes", false),
    rt!("", "v1", "PersistentVolume", "persistentvolumes", false),
    rt!("", "v1", "Secret", "secrets", true),
    rt!("", "v1", "ConfigMap", "configmaps", true),
    rt!("", "v1", "Service", "services", true),
    rt!("", "v1", "ServiceAccount", "serviceaccounts", true),
    rt!("", "v1", "Pod", "pods", true),
    rt!(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true
    ),
    rt!("", "v1", "Endpoints", "endpoints", true),
    rt!("", "v1", "Event", "events", true),
    rt!("apps", "v1", "StatefulSet", "statefulsets", true),
    rt!("apps", "v1", "Deployment", "deployments", true),
    rt!("apps", "v1", "ReplicaSet", "replicasets", true),
    rt!(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        true
    ),
    rt!("batch", "v1", "Job", "jobs", true),
    rt!(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true
    ),
    rt!(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false
    ),
    rt!("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    rt!(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true
    ),
    rt!(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false
    ),
    rt!(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false
    ),
];

/// Looks a type up by plural (`pods`), qualified plural (`statefulsets.apps`), kind or short name.
pub fn resource_type(name: &str) -> Option<&'static ResourceType> {
    let lower = name.to_ascii_lowercase();
    RESOURCE_TYPES.iter().find(|rt| {
        rt.plural == lower
            || rt.qualified() == lower
            || rt.singular() == lower
            || rt.short_names().contains(&lower.as_str())
    })
}

/// Looks a type up by its API group and URL plural.
pub fn resource_type_in(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCE_TYPES
        .iter()
        .find(|rt| rt.group == group && rt.version == version && rt.plural == plural)
}

/// Looks a type up by `apiVersion` and `kind`.
pub fn resource_type_of_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCE_TYPES
        .iter()
        .find(|rt| rt.api_version() == api_version && rt.kind == kind)
}
