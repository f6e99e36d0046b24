//! `application/json;as=Table;g=meta.k8s.io;v=v1`: the server-side columns `kubectl get` prints.

use serde_json::{json, Value};

use crate::resources::ResourceType;

pub fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

fn columns(rt: &ResourceType) -> Vec<(&'static str, &'static str)> {
    let mut cols = vec![("Name", "string")];
    match rt.kind {
        "Pod" => cols.extend([
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "string"),
        ]),
        "Service" => cols.extend([
            ("Type", "string"),
            ("Cluster-IP", "string"),
            ("External-IP", "string"),
            ("Port(s)", "string"),
        ]),
        "StatefulSet" => cols.push(("Ready", "string")),
        "Deployment" => cols.extend([
            ("Ready", "string"),
            ("Up-to-date", "string"),
            ("Available", "string"),
        ]),
        "Job" => cols.extend([("Status", "string"), ("Completions", "string")]),
        "Namespace" => cols.push(("Status", "string")),
        "PersistentVolumeClaim" => cols.extend([
            ("Status", "string"),
            ("Capacity", "string"),
            ("StorageClass", "string"),
        ]),
        "StorageClass" => cols.extend([
            ("Provisioner", "string"),
            ("ReclaimPolicy", "string"),
            ("VolumeBindingMode", "string"),
            ("AllowVolumeExpansion", "string"),
        ]),
        "Secret" => cols.extend([("Type", "string"), ("Data", "integer")]),
        "ConfigMap" => cols.push(("Data", "integer")),
        "PodDisruptionBudget" => cols.extend([
            ("Min Available", "string"),
            ("Max Unavailable", "string"),
            ("Allowed Disruptions", "integer"),
        ]),
        _ => {}
    }
    cols.push(("Age", "string"));
    cols
}

fn num(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "<none>".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn age(obj: &Value) -> String {
    crate::clocktime::age(obj["metadata"]["creationTimestamp"].as_str().unwrap_or(""))
}

fn cells(rt: &ResourceType, obj: &Value) -> Vec<Value> {
    let name = obj["metadata"]["name"].clone();
    let s = &obj["status"];
    let spec = &obj["spec"];
    let mut c = vec![name];
    match rt.kind {
        "Pod" => {
            let statuses = s["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = spec["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| num(&c["restartCount"])).sum();
            c.extend([
                json!(format!("{ready}/{total}")),
                json!(pod_status_column(obj)),
                json!(restarts.to_string()),
            ]);
        }
        "Service" => {
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p["nodePort"].as_i64() {
                    Some(np) => format!("{}:{np}/{}", num(&p["port"]), text(&p["protocol"])),
                    None => format!("{}/{}", num(&p["port"]), text(&p["protocol"])),
                })
                .collect();
            let ext: Vec<String> = s["loadBalancer"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    i["ip"]
                        .as_str()
                        .or(i["hostname"].as_str())
                        .map(String::from)
                })
                .collect();
            let external = if spec["type"] == "ExternalName" {
                text(&spec["externalName"])
            } else if ext.is_empty() {
                if spec["type"] == "LoadBalancer" {
                    "<pending>".into()
                } else {
                    "<none>".into()
                }
            } else {
                ext.join(",")
            };
            let ports = if ports.is_empty() {
                "<none>".to_string()
            } else {
                ports.join(",")
            };
            c.extend([
                spec["type"].clone(),
                json!(text(&spec["clusterIP"])),
                json!(external),
                json!(ports),
            ]);
        }
        "StatefulSet" => c.push(json!(format!(
            "{}/{}",
            num(&s["readyReplicas"]),
            num(&spec["replicas"])
        ))),
        "Deployment" => c.extend([
            json!(format!(
                "{}/{}",
                num(&s["readyReplicas"]),
                num(&spec["replicas"])
            )),
            json!(num(&s["updatedReplicas"])),
            json!(num(&s["availableReplicas"])),
        ]),
        "Job" => {
            let done = s["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["status"] == "True");
            let status = done
                .map(|c| text(&c["type"]))
                .unwrap_or_else(|| "Running".into());
            c.extend([
                json!(status),
                json!(format!(
                    "{}/{}",
                    num(&s["succeeded"]),
                    num(&spec["completions"])
                )),
            ]);
        }
        "Namespace" => c.push(json!(text(&s["phase"]))),
        "PersistentVolumeClaim" => c.extend([
            json!(text(&s["phase"])),
            json!(s["capacity"]["storage"].as_str().unwrap_or("")),
            json!(text(&spec["storageClassName"])),
        ]),
        "StorageClass" => {
            let default = obj["metadata"]["annotations"]
                [crate::admission::DEFAULT_CLASS_ANNOTATION]
                == "true";
            let name = text(&obj["metadata"]["name"]);
            c[0] = json!(if default {
                format!("{name} (default)")
            } else {
                name
            });
            c.extend([
                json!(text(&obj["provisioner"])),
                json!(text(&obj["reclaimPolicy"])),
                json!(text(&obj["volumeBindingMode"])),
                json!(obj["allowVolumeExpansion"] == true),
            ]);
        }
        "Secret" => c.extend([
            obj["type"].clone(),
            json!(obj["data"].as_object().map_or(0, |m| m.len())),
        ]),
        "ConfigMap" => c.push(json!(obj["data"].as_object().map_or(0, |m| m.len()))),
        "PodDisruptionBudget" => c.extend([
            json!(if spec["minAvailable"].is_null() {
                "N/A".into()
            } else {
                text(&spec["minAvailable"])
            }),
            json!(if spec["maxUnavailable"].is_null() {
                "N/A".into()
            } else {
                text(&spec["maxUnavailable"])
            }),
            json!(num(&s["disruptionsAllowed"])),
        ]),
        _ => {}
    }
    c.push(json!(age(obj)));
    c
}

fn row(rt: &ResourceType, obj: &Value) -> Value {
    let partial = json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    });
    json!({"cells": cells(rt, obj), "object": partial})
}

pub fn table(
    rt: &ResourceType,
    items: &[Value],
    resource_version: u64,
    cont: Option<&str>,
) -> Value {
    let defs: Vec<Value> = columns(rt)
        .into_iter()
        .map(|(name, ty)| {
            json!({"name": name, "type": ty, "format": if name == "Name" { "name" } else { "" }, "description": name, "priority": 0})
        })
        .collect();
    let mut meta = json!({"resourceVersion": resource_version.to_string()});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": defs,
        "rows": items.iter().map(|o| row(rt, o)).collect::<Vec<_>>(),
    })
}

/// One object as a one-row table, for `get NAME` and watch events.
pub fn single(rt: &ResourceType, obj: &Value) -> Value {
    let rv = obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    table(rt, std::slice::from_ref(obj), rv, None)
}

/// A pod's STATUS as the API server's printer gives it: the phase (or the pod's reason), overridden by the first
/// container that waits or has terminated (CrashLoopBackOff, ImagePullBackOff, Completed, ExitCode:1), and
/// Terminating once deleted.
fn pod_status_column(pod: &Value) -> String {
    if pod["metadata"]["deletionTimestamp"].is_string() {
        return "Terminating".into();
    }
    let status = &pod["status"];
    let mut reason = match status["reason"].as_str() {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => text(&status["phase"]),
    };
    let mut running = false;
    let containers = status["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for container in containers.iter().rev() {
        let state = &container["state"];
        let terminated = &state["terminated"];
        if let Some(waiting) = state["waiting"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = waiting.to_string();
        } else if let Some(ended) = terminated["reason"].as_str().filter(|r| !r.is_empty()) {
            reason = ended.to_string();
        } else if terminated.is_object() {
            reason = match terminated["signal"].as_i64().filter(|s| *s != 0) {
                Some(signal) => format!("Signal:{signal}"),
                None => format!("ExitCode:{}", num(&terminated["exitCode"])),
            };
        } else if container["ready"] == true && state["running"].is_object() {
            running = true;
        }
    }
    if reason == "Completed" && running {
        let ready = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        reason = if ready { "Running" } else { "NotReady" }.into();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(phase: &str, states: Value) -> Value {
        let statuses: Vec<Value> = states
            .as_array()
            .unwrap()
            .iter()
            .map(|s| json!({"state": s, "ready": s.get("running").is_some()}))
            .collect();
        json!({"metadata": {}, "status": {"phase": phase, "containerStatuses": statuses,
            "conditions": [{"type": "Ready", "status": "False"}]}})
    }

    #[test]
    fn a_waiting_or_ended_container_names_the_pod_status() {
        let waiting = |r: &str| json!({"waiting": {"reason": r}});
        assert_eq!(
            pod_status_column(&pod("Pending", json!([waiting("ImagePullBackOff")]))),
            "ImagePullBackOff"
        );
        assert_eq!(
            pod_status_column(&pod("Running", json!([waiting("CrashLoopBackOff")]))),
            "CrashLoopBackOff"
        );
        assert_eq!(
            pod_status_column(&pod("Running", json!([{"running": {}}]))),
            "Running"
        );
        assert_eq!(
            pod_status_column(&pod("Failed", json!([{"terminated": {"exitCode": 1}}]))),
            "ExitCode:1"
        );
        assert_eq!(
            pod_status_column(&pod(
                "Running",
                json!([{"running": {}}, {"terminated": {"reason": "Completed"}}])
            )),
            "NotReady"
        );
        let mut gone = pod("Running", json!([{"running": {}}]));
        gone["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(pod_status_column(&gone), "Terminating");
    }
}
