//! The Deployment controller: one ReplicaSet per pod-template hash (`<deployment>-<hash>`), rolling updates
//! bounded by maxSurge/maxUnavailable (so a changed `kubectl.kubernetes.io/restartedAt` annotation replaces pods a
//! few at a time), Recreate, and the status fields `kubectl rollout status` reads.

use serde_json::{json, Value};

use super::revision::template_hash;
use super::{log_err, meta, ControllerContext, Reconcile};

pub const HASH_LABEL: &str = "pod-template-hash";

#[derive(Debug, PartialEq)]
pub enum Action {
    CreateRs(Value),
    Scale { rs: String, replicas: i64 },
}

/// `25%` or `1` against a total; surge rounds up, unavailability down, as the real controller does.
pub fn int_or_percent(v: Option<&Value>, total: i64, default_percent: i64, round_up: bool) -> i64 {
    let pct = |p: i64| {
        if round_up {
            (p * total + 99) / 100
        } else {
            p * total / 100
        }
    };
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.trim_end_matches('%').parse().map(pct).unwrap_or(0),
        _ => pct(default_percent),
    }
}

pub fn plan(dep: &Value, replica_sets: &[Value]) -> (Vec<Action>, Value) {
    let name = meta::name(dep);
    let want = meta::i64_at(dep, "/spec/replicas").unwrap_or(1).max(0);
    let template = dep.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let hash = template_hash(&template);
    let rs_name = format!("{name}-{hash}");
    let recreate = meta::str_at(dep, "/spec/strategy/type") == Some("Recreate");
    let mut surge = int_or_percent(
        dep.pointer("/spec/strategy/rollingUpdate/maxSurge"),
        want,
        25,
        true,
    );
    let unavailable = int_or_percent(
        dep.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
        want,
        25,
        false,
    );
    if surge == 0 && unavailable == 0 {
        surge = 1;
    }
    let replicas = |rs: &Value| meta::i64_at(rs, "/spec/replicas").unwrap_or(0);
    let available = |rs: &Value| meta::i64_at(rs, "/status/availableReplicas").unwrap_or(0);
    let new_rs = replica_sets.iter().find(|rs| meta::name(rs) == rs_name);
    let old: Vec<&Value> = replica_sets
        .iter()
        .filter(|rs| meta::name(rs) != rs_name)
        .collect();
    let old_total: i64 = old.iter().map(|rs| replicas(rs)).sum();
    let old_pods: i64 = old
        .iter()
        .map(|rs| meta::i64_at(rs, "/status/replicas").unwrap_or(0))
        .sum();
    let mut actions = Vec::new();

    let new_target = if recreate {
        if old_total > 0 || old_pods > 0 {
            0
        } else {
            want
        }
    } else {
        let new_now = new_rs.map(replicas).unwrap_or(0);
        (want + surge - old_total).clamp(new_now.min(want), want)
    };
    match new_rs {
        None => actions.push(Action::CreateRs(new_replica_set(dep, &hash, new_target))),
        Some(rs) if replicas(rs) != new_target => actions.push(Action::Scale {
            rs: rs_name.clone(),
            replicas: new_target,
        }),
        Some(_) => {}
    }

    // Old ReplicaSets shrink only as far as availability allows (all at once for Recreate).
    let total_available: i64 = replica_sets.iter().map(available).sum();
    let mut can_remove = if recreate {
        old_total
    } else {
        (total_available - (want - unavailable)).max(0)
    };
    for rs in &old {
        let r = replicas(rs);
        if r == 0 {
            continue;
        }
        // Not-yet-available old pods can go regardless: they serve nothing.
        let unready = r - available(rs).min(r);
        let cut = (unready + can_remove).min(r);
        if cut > 0 {
            can_remove -= (cut - unready).max(0);
            actions.push(Action::Scale {
                rs: meta::name(rs).to_string(),
                replicas: r - cut,
            });
        }
    }

    let sum = |f: &dyn Fn(&Value) -> i64| replica_sets.iter().map(f).sum::<i64>();
    let total_replicas = sum(&|rs| meta::i64_at(rs, "/status/replicas").unwrap_or(0));
    let updated = new_rs
        .map(|rs| meta::i64_at(rs, "/status/replicas").unwrap_or(0))
        .unwrap_or(0);
    let ready = sum(&|rs| meta::i64_at(rs, "/status/readyReplicas").unwrap_or(0));
    let complete = updated == want && total_replicas == want && total_available == want;
    let now = meta::now_rfc3339();
    let prev = |t: &str| {
        dep.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == t).cloned())
    };
    let cond = |t: &str, ok: bool, reason: &str, message: String| {
        let status = if ok { "True" } else { "False" };
        let keep = prev(t).filter(|c| c["status"] == status && c["reason"] == reason);
        keep.unwrap_or_else(|| {
            json!({"type": t, "status": status, "reason": reason, "message": message,
                   "lastUpdateTime": now, "lastTransitionTime": now})
        })
    };
    let available_ok = total_available >= want - unavailable;
    let status = json!({
        "observedGeneration": meta::i64_at(dep, "/metadata/generation").unwrap_or(1),
        "replicas": total_replicas,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": total_available,
        "unavailableReplicas": (want - total_available).max(0),
        "conditions": [
            cond("Available", available_ok,
                 if available_ok { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                 if available_ok { "Deployment has minimum availability.".into() } else { "Deployment does not have minimum availability.".into() }),
            cond("Progressing", true,
                 if complete { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                 if complete { format!("ReplicaSet \"{rs_name}\" has successfully progressed.") }
                 else { format!("ReplicaSet \"{rs_name}\" is progressing.") }),
        ],
    });
    (actions, status)
}

fn new_replica_set(dep: &Value, hash: &str, replicas: i64) -> Value {
    let mut template = dep.pointer("/spec/template").cloned().unwrap_or(json!({}));
    if !template["metadata"].is_object() {
        template["metadata"] = json!({});
    }
    if !template["metadata"]["labels"].is_object() {
        template["metadata"]["labels"] = json!({});
    }
    template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut selector = dep
        .pointer("/spec/selector")
        .cloned()
        .unwrap_or(json!({"matchLabels": {}}));
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{}-{hash}", meta::name(dep)),
            "namespace": meta::namespace(dep),
            "labels": template["metadata"]["labels"].clone(),
            "ownerReferences": [meta::controller_ref(dep)],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": template},
    })
}

pub struct Controller;

impl Reconcile for Controller {
    fn reconcile(&mut self, ctx: &ControllerContext) {
        let rs_rt = ctx.rt("replicasets");
        for (dep, sets) in ctx.owners_and_children("deployments", "replicasets") {
            let (actions, status) = plan(&dep, &sets);
            for a in actions {
                match a {
                    Action::CreateRs(rs) => {
                        log_err("replicaset create", ctx.store.create(rs_rt, rs));
                    }
                    Action::Scale { rs, replicas } => {
                        if let Some(mut r) = sets.iter().find(|s| meta::name(s) == rs).cloned() {
                            r["spec"]["replicas"] = json!(replicas);
                            log_err("replicaset scale", ctx.store.update(rs_rt, r));
                        }
                    }
                }
            }
            ctx.write_status("deployments", &dep, status, "deployment status");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(restarted: &str) -> Value {
        json!({"metadata": {"name": "kube-dns", "namespace": "kube-system", "uid": "d1", "generation": 2},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        "template": {"metadata": {"labels": {"k8s-app": "kube-dns"},
                                                  "annotations": {"kubectl.kubernetes.io/restartedAt": restarted}},
                                     "spec": {"containers": [{"name": "kubedns", "image": "k8s-dns-kube-dns:1.23"}]}}}})
    }

    fn rs_from(action: &Action, available: i64) -> Value {
        let Action::CreateRs(rs) = action else {
            panic!("{action:?}")
        };
        let mut rs = rs.clone();
        let n = rs["spec"]["replicas"].as_i64().unwrap();
        rs["status"] =
            json!({"replicas": n, "readyReplicas": available, "availableReplicas": available});
        rs
    }

    #[test]
    fn first_rollout_creates_full_replica_set() {
        let (a, _) = plan(&dep("t0"), &[]);
        assert_eq!(a.len(), 1);
        assert_eq!(rs_from(&a[0], 0)["spec"]["replicas"], 2);
    }

    #[test]
    fn restart_surges_then_retires_old_pods_as_new_ones_become_available() {
        let (a, _) = plan(&dep("t0"), &[]);
        let old = rs_from(&a[0], 2);
        let (a, _) = plan(&dep("t1"), std::slice::from_ref(&old));
        let new = rs_from(&a[0], 0);
        assert_eq!(
            new["spec"]["replicas"], 1,
            "maxSurge 25% of 2 rounds up to 1"
        );
        assert!(
            !a.iter().any(|x| matches!(x, Action::Scale { .. })),
            "nothing old goes before something new is available"
        );
        let new = {
            let mut n = new;
            n["status"]["availableReplicas"] = json!(1);
            n
        };
        let (a, status) = plan(&dep("t1"), &[old, new]);
        assert!(a.contains(&Action::Scale {
            rs: meta::name(&rs_from(&plan(&dep("t0"), &[]).0[0], 0)).to_string(),
            replicas: 1
        }));
        assert_eq!(status["updatedReplicas"], 1);
    }

    #[test]
    fn percentages_round_like_kubernetes() {
        assert_eq!(int_or_percent(Some(&json!("25%")), 2, 0, true), 1);
        assert_eq!(int_or_percent(Some(&json!("25%")), 2, 0, false), 0);
        assert_eq!(int_or_percent(None, 10, 25, false), 2);
        assert_eq!(int_or_percent(Some(&json!(3)), 10, 25, false), 3);
    }
}
