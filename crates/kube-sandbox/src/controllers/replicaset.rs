//! The ReplicaSet controller: keeps `spec.replicas` pods from the template, recreating deleted ones and removing
//! extra ones (not-ready pods first).

use serde_json::{json, Value};

use super::{log_err, meta, ControllerContext, Reconcile};
use crate::store::Propagation;

#[derive(Debug, PartialEq)]
pub enum Action {
    Create(Value),
    Delete(String),
}

pub fn plan(rs: &Value, pods: &[Value]) -> (Vec<Action>, Value) {
    let want = meta::i64_at(rs, "/spec/replicas").unwrap_or(1).max(0) as usize;
    let mut alive: Vec<&Value> = pods
        .iter()
        .filter(|p| {
            !meta::is_deleting(p)
                && !matches!(
                    meta::str_at(p, "/status/phase"),
                    Some("Failed") | Some("Succeeded")
                )
        })
        .collect();
    let mut actions: Vec<Action> = pods
        .iter()
        .filter(|p| {
            matches!(
                meta::str_at(p, "/status/phase"),
                Some("Failed") | Some("Succeeded")
            )
        })
        .map(|p| Action::Delete(meta::name(p).to_string()))
        .collect();
    if alive.len() < want {
        for _ in alive.len()..want {
            actions.push(Action::Create(new_pod(rs)));
        }
    } else if alive.len() > want {
        alive.sort_by_key(|p| meta::pod_is_ready(p));
        for p in &alive[..alive.len() - want] {
            actions.push(Action::Delete(meta::name(p).to_string()));
        }
    }
    let ready = pods.iter().filter(|p| meta::pod_is_ready(p)).count();
    let status = json!({
        "replicas": alive.len(),
        "fullyLabeledReplicas": alive.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": meta::i64_at(rs, "/metadata/generation").unwrap_or(1),
    });
    (actions, status)
}

fn new_pod(rs: &Value) -> Value {
    let template = rs
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut metadata = template
        .get("metadata")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    metadata["generateName"] = json!(format!("{}-", meta::name(rs)));
    metadata["namespace"] = json!(meta::namespace(rs));
    metadata["ownerReferences"] = json!([meta::controller_ref(rs)]);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template.get("spec").cloned().unwrap_or(json!({}))})
}

pub struct Controller;

impl Reconcile for Controller {
    fn reconcile(&mut self, ctx: &ControllerContext) {
        let pod_rt = ctx.rt("pods");
        for (rs, pods) in ctx.owners_and_children("replicasets", "pods") {
            let ns = meta::namespace(&rs).to_string();
            let (actions, status) = plan(&rs, &pods);
            for a in actions {
                match a {
                    Action::Create(p) => {
                        log_err("pod create", ctx.store.create(pod_rt, p));
                    }
                    Action::Delete(n) => {
                        log_err(
                            "pod delete",
                            ctx.store
                                .delete(pod_rt, Some(&ns), &n, Propagation::Background),
                        );
                    }
                }
            }
            ctx.write_status("replicasets", &rs, status, "replicaset status");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(n: i64) -> Value {
        json!({"metadata": {"name": "kube-dns-abc", "namespace": "kube-system", "uid": "r1"},
               "spec": {"replicas": n, "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}}, "spec": {}}}})
    }

    #[test]
    fn recreates_missing_and_removes_extra_pods() {
        let (a, _) = plan(&rs(2), &[]);
        assert_eq!(a.len(), 2);
        let pods = vec![
            json!({"metadata": {"name": "p1"}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
            json!({"metadata": {"name": "p2"}, "status": {"phase": "Pending"}}),
        ];
        let (a, _) = plan(&rs(1), &pods);
        assert_eq!(a, vec![Action::Delete("p2".into())]);
    }
}
