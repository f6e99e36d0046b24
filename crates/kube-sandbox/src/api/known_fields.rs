//! The fields the real API types declare, for the parts of objects clients write most: the top
//! level, metadata, workload/service specs, pod templates and containers. A real server drops
//! unknown fields (with a warning) or rejects them (`fieldValidation=Strict`, server-side apply);
//! keeping them would let a misspelt field pass in the sandbox and vanish on a real cluster.

use serde_json::Value;

const METADATA: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

const POD_SPEC: &[&str] = &[
    "volumes",
    "initContainers",
    "containers",
    "ephemeralContainers",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "dnsPolicy",
    "nodeSelector",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "nodeName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "shareProcessNamespace",
    "securityContext",
    "imagePullSecrets",
    "hostname",
    "subdomain",
    "affinity",
    "schedulerName",
    "tolerations",
    "hostAliases",
    "priorityClassName",
    "priority",
    "dnsConfig",
    "readinessGates",
    "runtimeClassName",
    "enableServiceLinks",
    "preemptionPolicy",
    "overhead",
    "topologySpreadConstraints",
    "setHostnameAsFQDN",
    "os",
    "hostUsers",
    "schedulingGates",
    "resourceClaims",
    "resources",
];

const CONTAINER: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
];

fn top_level(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Secret" => &[
            "apiVersion",
            "kind",
            "metadata",
            "data",
            "stringData",
            "type",
            "immutable",
        ],
        "ConfigMap" => &[
            "apiVersion",
            "kind",
            "metadata",
            "data",
            "binaryData",
            "immutable",
        ],
        "ServiceAccount" => &[
            "apiVersion",
            "kind",
            "metadata",
            "secrets",
            "imagePullSecrets",
            "automountServiceAccountToken",
        ],
        "Role" => &["apiVersion", "kind", "metadata", "rules"],
        "ClusterRole" => &["apiVersion", "kind", "metadata", "rules", "aggregationRule"],
        "RoleBinding" | "ClusterRoleBinding" => {
            &["apiVersion", "kind", "metadata", "roleRef", "subjects"]
        }
        "Endpoints" => &["apiVersion", "kind", "metadata", "subsets"],
        "ControllerRevision" => &["apiVersion", "kind", "metadata", "data", "revision"],
        "StorageClass" => &[
            "apiVersion",
            "kind",
            "metadata",
            "provisioner",
            "parameters",
            "reclaimPolicy",
            "mountOptions",
            "allowVolumeExpansion",
            "volumeBindingMode",
            "allowedTopologies",
        ],
        "Event" => return None,
        _ => &["apiVersion", "kind", "metadata", "spec", "status"],
    })
}

fn spec(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "StatefulSet" => &[
            "replicas",
            "selector",
            "template",
            "volumeClaimTemplates",
            "serviceName",
            "podManagementPolicy",
            "updateStrategy",
            "revisionHistoryLimit",
            "minReadySeconds",
            "persistentVolumeClaimRetentionPolicy",
            "ordinals",
        ],
        "Deployment" => &[
            "replicas",
            "selector",
            "template",
            "strategy",
            "minReadySeconds",
            "revisionHistoryLimit",
            "paused",
            "progressDeadlineSeconds",
        ],
        "ReplicaSet" => &["replicas", "minReadySeconds", "selector", "template"],
        "Job" => &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "podFailurePolicy",
            "successPolicy",
            "backoffLimit",
            "backoffLimitPerIndex",
            "maxFailedIndexes",
            "selector",
            "manualSelector",
            "template",
            "ttlSecondsAfterFinished",
            "completionMode",
            "suspend",
            "podReplacementPolicy",
            "managedBy",
        ],
        "Service" => &[
            "ports",
            "selector",
            "clusterIP",
            "clusterIPs",
            "type",
            "externalIPs",
            "sessionAffinity",
            "loadBalancerIP",
            "loadBalancerSourceRanges",
            "externalName",
            "externalTrafficPolicy",
            "healthCheckNodePort",
            "publishNotReadyAddresses",
            "sessionAffinityConfig",
            "ipFamilies",
            "ipFamilyPolicy",
            "allocateLoadBalancerNodePorts",
            "loadBalancerClass",
            "internalTrafficPolicy",
            "trafficDistribution",
        ],
        "PodDisruptionBudget" => &[
            "minAvailable",
            "selector",
            "maxUnavailable",
            "unhealthyPodEvictionPolicy",
        ],
        "PersistentVolumeClaim" => &[
            "accessModes",
            "selector",
            "resources",
            "volumeName",
            "storageClassName",
            "volumeMode",
            "dataSource",
            "dataSourceRef",
            "volumeAttributesClassName",
        ],
        "Namespace" => &["finalizers"],
        "Pod" => POD_SPEC,
        _ => return None,
    })
}

/// Removes fields the type does not declare; returns their paths (`spec.replica`).
pub fn prune(kind: &str, obj: &mut Value) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(known) = top_level(kind) {
        prune_map(obj, "", known, &mut found);
    }
    prune_map(&mut obj["metadata"], "metadata.", METADATA, &mut found);
    if obj.get("spec").is_none_or(Value::is_null) {
        return found;
    }
    if let Some(known) = spec(kind) {
        prune_map(&mut obj["spec"], "spec.", known, &mut found);
    }
    if kind == "Pod" {
        containers(&mut obj["spec"], "spec.", &mut found);
    } else if obj["spec"]["template"].is_object() {
        let t = &mut obj["spec"]["template"];
        prune_map(t, "spec.template.", &["metadata", "spec"], &mut found);
        if t["metadata"].is_object() {
            prune_map(
                &mut t["metadata"],
                "spec.template.metadata.",
                METADATA,
                &mut found,
            );
        }
        if t["spec"].is_object() {
            prune_map(&mut t["spec"], "spec.template.spec.", POD_SPEC, &mut found);
            containers(&mut t["spec"], "spec.template.spec.", &mut found);
        }
    }
    found
}

fn containers(pod_spec: &mut Value, prefix: &str, found: &mut Vec<String>) {
    for list in ["containers", "initContainers"] {
        if let Some(cs) = pod_spec.get_mut(list).and_then(Value::as_array_mut) {
            for (i, c) in cs.iter_mut().enumerate() {
                prune_map(c, &format!("{prefix}{list}[{i}]."), CONTAINER, found);
            }
        }
    }
}

fn prune_map(v: &mut Value, prefix: &str, known: &[&str], found: &mut Vec<String>) {
    let Some(m) = v.as_object_mut() else { return };
    let unknown: Vec<String> = m
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .cloned()
        .collect();
    for k in unknown {
        m.remove(&k);
        found.push(format!("{prefix}{k}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_misspelt_fields() {
        let mut sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "a", "label": {}},
            "spec": {"replica": 3, "template": {"spec": {"containers": [{"name": "c", "image": "i", "imagePullPolcy": "x"}]}}}});
        let found = prune("StatefulSet", &mut sts);
        assert_eq!(
            found,
            [
                "metadata.label",
                "spec.replica",
                "spec.template.spec.containers[0].imagePullPolcy"
            ]
        );
        assert!(sts["spec"].get("replica").is_none());
    }
}
