//! Defaulting the real API server does and clients rely on.

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::resources::ResourceType;

/// Sets defaults on `obj`; `old` is the stored object on updates (allocated values carry over).
pub fn apply(rt: &ResourceType, obj: &mut Value, old: Option<&Value>) {
    match rt.kind {
        "Namespace" => namespace(obj),
        "Service" => service(obj, old),
        "Secret" => secret(obj),
        "Pod" => {
            if let Some(spec) = obj.get_mut("spec") {
                pod_spec(spec, true);
            }
        }
        "PersistentVolumeClaim" => {
            if let Some(spec) = obj.get_mut("spec") {
                set(spec, "volumeMode", json!("Filesystem"));
            }
        }
        "StorageClass" => {
            set(obj, "reclaimPolicy", json!("Delete"));
            set(obj, "volumeBindingMode", json!("Immediate"));
        }
        "StatefulSet" => stateful_set(obj),
        "Deployment" => deployment(obj),
        "ReplicaSet" => {
            if let Some(spec) = obj.get_mut("spec") {
                set(spec, "replicas", json!(1));
                template(spec, true);
            }
        }
        "Job" => job(obj, old),
        _ => {}
    }
}

/// The status a new object starts with (whatever the client sent is dropped, as on a real server).
pub fn initial_status(rt: &ResourceType, obj: &Value) -> Value {
    match rt.kind {
        "Namespace" => json!({"phase": "Active"}),
        "Pod" => json!({"phase": "Pending", "qosClass": qos_class(obj)}),
        "PersistentVolumeClaim" => json!({"phase": "Pending"}),
        "Service" => json!({"loadBalancer": {}}),
        "StatefulSet" => json!({"replicas": 0, "availableReplicas": 0}),
        "PodDisruptionBudget" => {
            json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0})
        }
        "Node" => obj.get("status").cloned().unwrap_or(json!({})),
        _ => json!({}),
    }
}

/// Sets `obj[key]` unless it already has a non-null value.
fn set(obj: &mut Value, key: &str, value: Value) {
    if let Some(m) = obj.as_object_mut() {
        if m.get(key).is_none_or(Value::is_null) {
            m.insert(key.to_string(), value);
        }
    }
}

fn namespace(obj: &mut Value) {
    let name = obj["metadata"]["name"].clone();
    if !obj["metadata"]["labels"].is_object() {
        obj["metadata"]["labels"] = json!({});
    }
    obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
    if !obj["spec"].is_object() {
        obj["spec"] = json!({});
    }
    set(&mut obj["spec"], "finalizers", json!(["kubernetes"]));
}

fn secret(obj: &mut Value) {
    set(obj, "type", json!("Opaque"));
    // stringData is write-only: merged into data, never stored.
    if let Some(Value::Object(strings)) = obj.as_object_mut().and_then(|m| m.remove("stringData")) {
        if !obj["data"].is_object() {
            obj["data"] = json!({});
        }
        for (k, v) in strings {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or(""));
            obj["data"][k] = json!(encoded);
        }
    }
}

fn service(obj: &mut Value, old: Option<&Value>) {
    if !obj["spec"].is_object() {
        obj["spec"] = json!({});
    }
    let spec = &mut obj["spec"];
    set(spec, "type", json!("ClusterIP"));
    let svc_type = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
    set(spec, "sessionAffinity", json!("None"));
    if svc_type != "ExternalName" {
        set(spec, "ipFamilies", json!(["IPv4"]));
        set(spec, "ipFamilyPolicy", json!("SingleStack"));
        set(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if svc_type == "LoadBalancer" || svc_type == "NodePort" {
        set(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if svc_type == "LoadBalancer" {
        set(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut() {
            set(p, "protocol", json!("TCP"));
            let port = p["port"].clone();
            set(p, "targetPort", port);
        }
    }
    // Updates that leave out allocated values keep them (the server patches them back in).
    if let Some(old) = old {
        for k in ["clusterIP", "clusterIPs"] {
            if spec.get(k).is_none_or(|v| v.is_null() || v == "") {
                if let Some(v) = old["spec"].get(k) {
                    spec[k] = v.clone();
                }
            }
        }
        if let (Some(ports), Some(old_ports)) = (
            spec.get_mut("ports").and_then(Value::as_array_mut),
            old["spec"]["ports"].as_array(),
        ) {
            for p in ports.iter_mut() {
                if p.get("nodePort").is_none_or(Value::is_null) {
                    if let Some(np) = old_ports
                        .iter()
                        .find(|o| o["port"] == p["port"])
                        .and_then(|o| o.get("nodePort"))
                    {
                        p["nodePort"] = np.clone();
                    }
                }
            }
        }
    }
}

fn stateful_set(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set(spec, "replicas", json!(1));
    set(spec, "podManagementPolicy", json!("OrderedReady"));
    set(spec, "updateStrategy", json!({"type": "RollingUpdate"}));
    // As kube-apiserver: a partition only inside a `rollingUpdate` the writer gave, none made up.
    if spec["updateStrategy"]["type"] == "RollingUpdate"
        && spec["updateStrategy"]["rollingUpdate"].is_object()
    {
        set(
            &mut spec["updateStrategy"]["rollingUpdate"],
            "partition",
            json!(0),
        );
    }
    set(spec, "revisionHistoryLimit", json!(10));
    set(
        spec,
        "persistentVolumeClaimRetentionPolicy",
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
    );
    if let Some(claims) = spec
        .get_mut("volumeClaimTemplates")
        .and_then(Value::as_array_mut)
    {
        for c in claims {
            set(c, "apiVersion", json!("v1"));
            set(c, "kind", json!("PersistentVolumeClaim"));
            if c["spec"].is_object() {
                set(&mut c["spec"], "volumeMode", json!("Filesystem"));
            }
            set(c, "status", json!({"phase": "Pending"}));
        }
    }
    template(spec, true);
}

fn deployment(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set(spec, "replicas", json!(1));
    set(
        spec,
        "strategy",
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
    );
    set(spec, "revisionHistoryLimit", json!(10));
    set(spec, "progressDeadlineSeconds", json!(600));
    template(spec, true);
}

fn job(obj: &mut Value, old: Option<&Value>) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set(spec, "parallelism", json!(1));
    set(spec, "completions", json!(1));
    set(spec, "backoffLimit", json!(6));
    set(spec, "completionMode", json!("NonIndexed"));
    set(spec, "suspend", json!(false));
    set(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    set(spec, "manualSelector", Value::Null);
    if let Some(old) = old {
        // The generated selector and its template labels carry over on updates.
        for k in ["selector", "manualSelector"] {
            if spec.get(k).is_none_or(Value::is_null) {
                if let Some(v) = old["spec"].get(k) {
                    spec[k] = v.clone();
                }
            }
        }
    }
    if spec.get("manualSelector") == Some(&Value::Null) {
        spec.as_object_mut().expect("spec").remove("manualSelector");
    }
    template(spec, false);
}

/// Generates a Job's selector and template labels from its uid (called once the uid exists).
pub fn job_selector(obj: &mut Value) {
    let uid = obj["metadata"]["uid"].clone();
    let name = obj["metadata"]["name"].clone();
    let spec = &mut obj["spec"];
    if spec["manualSelector"] == json!(true) || spec.get("selector").is_some_and(|s| !s.is_null()) {
        return;
    }
    spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    if !spec["template"]["metadata"].is_object() {
        spec["template"]["metadata"] = json!({});
    }
    if !spec["template"]["metadata"]["labels"].is_object() {
        spec["template"]["metadata"]["labels"] = json!({});
    }
    let labels = &mut spec["template"]["metadata"]["labels"];
    labels["batch.kubernetes.io/controller-uid"] = uid.clone();
    labels["batch.kubernetes.io/job-name"] = name.clone();
    labels["controller-uid"] = uid;
    labels["job-name"] = name;
}

fn template(spec: &mut Value, default_restart: bool) {
    if let Some(tpl) = spec.get_mut("template").filter(|t| t.is_object()) {
        if let Some(ps) = tpl.get_mut("spec").filter(|s| s.is_object()) {
            pod_spec(ps, default_restart);
        }
    }
}

/// Pod spec defaults, for pods and for pod templates.
pub fn pod_spec(spec: &mut Value, default_restart: bool) {
    if !spec.is_object() {
        return;
    }
    if default_restart {
        set(spec, "restartPolicy", json!("Always"));
    }
    set(spec, "dnsPolicy", json!("ClusterFirst"));
    set(spec, "schedulerName", json!("default-scheduler"));
    set(spec, "securityContext", json!({}));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    // `serviceAccount` is the deprecated alias kube-apiserver still fills in from `serviceAccountName`.
    if let Some(account) = spec
        .get("serviceAccountName")
        .filter(|a| a.is_string())
        .cloned()
    {
        set(spec, "serviceAccount", account);
    }
    for key in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(key).and_then(Value::as_array_mut) {
            for c in cs {
                container(c);
            }
        }
    }
    if let Some(vols) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in vols {
            for src in ["secret", "configMap"] {
                if v[src].is_object() {
                    set(&mut v[src], "defaultMode", json!(420));
                }
            }
            if v["projected"].is_object() {
                set(&mut v["projected"], "defaultMode", json!(420));
            }
        }
    }
}

fn container(c: &mut Value) {
    set(c, "terminationMessagePath", json!("/dev/termination-log"));
    set(c, "terminationMessagePolicy", json!("File"));
    let image = c["image"].as_str().unwrap_or("").to_string();
    let tag = image.rsplit('/').next().unwrap_or("");
    let pull = if image.contains('@') || (tag.contains(':') && !tag.ends_with(":latest")) {
        "IfNotPresent"
    } else {
        "Always"
    };
    set(c, "imagePullPolicy", json!(pull));
    set(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            set(p, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).filter(|p| p.is_object()) {
            set(p, "timeoutSeconds", json!(1));
            set(p, "periodSeconds", json!(10));
            set(p, "successThreshold", json!(1));
            set(p, "failureThreshold", json!(3));
            if p["httpGet"].is_object() {
                set(&mut p["httpGet"], "scheme", json!("HTTP"));
            }
        }
    }
    if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
        for e in env {
            if let Some(fr) = e
                .pointer_mut("/valueFrom/fieldRef")
                .filter(|f| f.is_object())
            {
                set(fr, "apiVersion", json!("v1"));
            }
        }
    }
}

fn qos_class(obj: &Value) -> &'static str {
    let containers = obj["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has_any = containers.iter().any(|c| {
        let r = &c["resources"];
        r["requests"]
            .as_object()
            .is_some_and(|m: &Map<String, Value>| !m.is_empty())
            || r["limits"].as_object().is_some_and(|m| !m.is_empty())
    });
    if has_any {
        "Burstable"
    } else {
        "BestEffort"
    }
}
