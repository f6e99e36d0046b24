//! The StatefulSet controller: stable ordinal pods and their PVCs, Parallel or OrderedReady management, rolling
//! updates from the highest ordinal one pod at a time waiting for readiness, partitions, and every status field.
//! `plan` decides from observed objects; `run` applies decisions through the store.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::meta::{self, i64_at, str_at};
use super::revision::template_hash;

pub const REVISION_LABEL: &str = "controller-revision-hash";
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreatePvc(Value),
    CreatePod(Value),
    DeletePod(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub status: Value,
}

pub fn update_revision(sts: &Value) -> String {
    format!(
        "{}-{}",
        meta::name(sts),
        template_hash(sts.pointer("/spec/template").unwrap_or(&Value::Null))
    )
}

/// The ordinal of a pod named `<set>-<n>`.
pub fn ordinal(set_name: &str, pod_name: &str) -> Option<i64> {
    pod_name
        .strip_prefix(set_name)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

/// Decides the next actions for one StatefulSet from its pods (those it controls) and existing PVC names.
pub fn plan(sts: &Value, pods: &[Value], pvc_names: &BTreeSet<String>) -> Plan {
    plan_with_history(sts, pods, pvc_names, None)
}

/// Like `plan`, given the pod template of `status.currentRevision` (from its ControllerRevision): pods recreated
/// below the partition of an unfinished rollout get the current revision, as the real controller does.
pub fn plan_with_history(
    sts: &Value,
    pods: &[Value],
    pvc_names: &BTreeSet<String>,
    current_template: Option<&Value>,
) -> Plan {
    let set = meta::name(sts);
    let replicas = i64_at(sts, "/spec/replicas").unwrap_or(1).max(0);
    let parallel = str_at(sts, "/spec/podManagementPolicy") == Some("Parallel");
    let on_delete = str_at(sts, "/spec/updateStrategy/type") == Some("OnDelete");
    let partition = i64_at(sts, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
    let update_rev = update_revision(sts);
    let current_rev = str_at(sts, "/status/currentRevision")
        .map(str::to_string)
        .unwrap_or_else(|| update_rev.clone());

    let by_ordinal: BTreeMap<i64, &Value> = pods
        .iter()
        .filter_map(|p| ordinal(set, meta::name(p)).map(|o| (o, p)))
        .collect();
    let status = status_of(sts, &by_ordinal, replicas, &current_rev, &update_rev);
    let mut actions = Vec::new();

    // Failed or finished pods are replaced, as the real controller does.
    let mut dead = BTreeSet::new();
    for (o, p) in &by_ordinal {
        let phase = str_at(p, "/status/phase");
        if *o < replicas
            && !meta::is_deleting(p)
            && matches!(phase, Some("Failed") | Some("Succeeded"))
        {
            actions.push(Action::DeletePod(meta::name(p).to_string()));
            dead.insert(*o);
        }
    }

    // Creation: Parallel creates every missing ordinal; OrderedReady creates the lowest missing one only once
    // every lower ordinal is Running and Ready.
    for o in 0..replicas {
        match by_ordinal.get(&o) {
            None => {
                for claim in claims_for(sts, o) {
                    if !pvc_names.contains(meta::name(&claim)) {
                        actions.push(Action::CreatePvc(claim));
                    }
                }
                let held = !on_delete && o < partition && current_rev != update_rev;
                let pod = match current_template.filter(|_| held) {
                    Some(template) => {
                        let mut old = sts.clone();
                        old["spec"]["template"] = template.clone();
                        new_pod(&old, o, &current_rev)
                    }
                    None => new_pod(sts, o, &update_rev),
                };
                actions.push(Action::CreatePod(pod));
                if !parallel {
                    return Plan { actions, status };
                }
            }
            Some(p) if !parallel && (!meta::pod_is_ready(p) || dead.contains(&o)) => {
                return Plan { actions, status }
            }
            Some(_) => {}
        }
    }
    if !actions.is_empty() && !parallel {
        return Plan { actions, status };
    }

    let all_ready =
        (0..replicas).all(|o| by_ordinal.get(&o).is_some_and(|p| meta::pod_is_ready(p)));
    let any_terminating = by_ordinal.values().any(|p| meta::is_deleting(p));

    // Scale down: the highest ordinals go, all at once when Parallel, one at a time after the rest is healthy otherwise.
    let condemned: Vec<&Value> = by_ordinal
        .range(replicas..)
        .rev()
        .map(|(_, p)| *p)
        .filter(|p| !meta::is_deleting(p))
        .collect();
    if !condemned.is_empty() {
        if parallel {
            actions.extend(
                condemned
                    .iter()
                    .map(|p| Action::DeletePod(meta::name(p).to_string())),
            );
        } else if all_ready && !any_terminating {
            actions.push(Action::DeletePod(meta::name(condemned[0]).to_string()));
        }
        return Plan { actions, status };
    }

    // Rolling update: one pod at a time from the highest ordinal down to the partition, only while every pod is
    // Running and Ready and none is terminating.
    if !on_delete && actions.is_empty() && all_ready && !any_terminating {
        let stale = (partition.max(0)..replicas)
            .rev()
            .filter_map(|o| by_ordinal.get(&o))
            .find(|p| meta::label(p, REVISION_LABEL) != Some(update_rev.as_str()));
        if let Some(p) = stale {
            actions.push(Action::DeletePod(meta::name(p).to_string()));
        }
    }
    Plan { actions, status }
}

fn status_of(
    sts: &Value,
    pods: &BTreeMap<i64, &Value>,
    replicas: i64,
    current: &str,
    update: &str,
) -> Value {
    let live: Vec<&&Value> = pods.values().filter(|p| !meta::is_deleting(p)).collect();
    let count = |f: &dyn Fn(&Value) -> bool| live.iter().filter(|p| f(p)).count() as i64;
    let ready = count(&meta::pod_is_ready);
    let updated = count(&|p| meta::label(p, REVISION_LABEL) == Some(update));
    let mut current_rev = current.to_string();
    let mut current_count = count(&|p| meta::label(p, REVISION_LABEL) == Some(current));
    let n = live.len() as i64;
    let rolling = str_at(sts, "/spec/updateStrategy/type") != Some("OnDelete");
    if rolling && updated == n && ready == n && n == replicas {
        current_rev = update.to_string();
        current_count = updated;
    }
    json!({
        "observedGeneration": i64_at(sts, "/metadata/generation").unwrap_or(1),
        "replicas": n,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": current_count,
        "updatedReplicas": updated,
        "currentRevision": current_rev,
        "updateRevision": update,
        "collisionCount": 0,
    })
}

fn claims_for(sts: &Value, ordinal: i64) -> Vec<Value> {
    let set = meta::name(sts);
    let ns = meta::namespace(sts);
    let labels = sts
        .pointer("/spec/selector/matchLabels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    sts.pointer("/spec/volumeClaimTemplates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| {
            // A template without a class gets the default one from the API server's admission.
            let mut spec = t.get("spec").cloned().unwrap_or_else(|| json!({}));
            if spec.get("volumeMode").is_none() {
                spec["volumeMode"] = json!("Filesystem");
            }
            // No ownerReference: the default retention policy keeps claims on scale down and on set deletion.
            json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": format!("{}-{set}-{ordinal}", meta::name(t)),
                    "namespace": ns,
                    "labels": labels,
                },
                "spec": spec,
            })
        })
        .collect()
}

fn new_pod(sts: &Value, ordinal: i64, revision: &str) -> Value {
    let set = meta::name(sts);
    let name = format!("{set}-{ordinal}");
    let template = sts
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut metadata = template
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata["name"] = json!(name);
    metadata["namespace"] = json!(meta::namespace(sts));
    if !metadata.get("labels").is_some_and(Value::is_object) {
        metadata["labels"] = json!({});
    }
    metadata["labels"][REVISION_LABEL] = json!(revision);
    metadata["labels"][POD_NAME_LABEL] = json!(name);
    metadata["labels"][POD_INDEX_LABEL] = json!(ordinal.to_string());
    metadata["ownerReferences"] = json!([meta::controller_ref(sts)]);
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    spec["hostname"] = json!(name);
    if let Some(svc) = str_at(sts, "/spec/serviceName") {
        spec["subdomain"] = json!(svc);
    }
    let mut volumes: Vec<Value> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for t in sts
        .pointer("/spec/volumeClaimTemplates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let claim = meta::name(t).to_string();
        volumes.retain(|v| v.get("name").and_then(Value::as_str) != Some(claim.as_str()));
        volumes.push(json!({"name": claim, "persistentVolumeClaim": {"claimName": format!("{claim}-{set}-{ordinal}")}}));
    }
    if !volumes.is_empty() {
        spec["volumes"] = json!(volumes);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

/// Applies `plan` to every StatefulSet of the cluster.
pub struct Controller;

impl super::Reconcile for Controller {
    fn reconcile(&mut self, ctx: &super::ControllerContext) {
        let sts_rt = ctx.rt("statefulsets");
        let pod_rt = ctx.rt("pods");
        let pvc_rt = ctx.rt("persistentvolumeclaims");
        for sts in ctx.store.list(sts_rt, None) {
            if meta::is_deleting(&sts) {
                continue;
            }
            let ns = meta::namespace(&sts).to_string();
            let pods: Vec<Value> = ctx
                .store
                .list(pod_rt, Some(&ns))
                .into_iter()
                .filter_map(|p| {
                    if adoptable(&sts, &p) {
                        adopt(ctx, pod_rt, &sts, &p)
                    } else {
                        Some(p)
                    }
                })
                .filter(|p| meta::controlled_by(p, meta::uid(&sts)))
                .collect();
            let claims = ctx.store.list(pvc_rt, Some(&ns));
            apply_retention_policy(ctx, &sts, &pods, &claims);
            let pvc_names: BTreeSet<String> =
                claims.iter().map(|c| meta::name(c).to_string()).collect();
            let history = revisions(ctx, &sts);
            let current = meta::str_at(&sts, "/status/currentRevision")
                .and_then(|name| history.iter().find(|r| meta::name(r) == name))
                .and_then(|r| r.pointer("/data/spec/template"))
                .cloned()
                .map(|mut t| {
                    if let Some(o) = t.as_object_mut() {
                        o.remove("$patch");
                    }
                    t
                });
            let plan = plan_with_history(&sts, &pods, &pvc_names, current.as_ref());
            for action in plan.actions {
                match action {
                    Action::CreatePvc(c) => {
                        super::log_err("pvc create", ctx.store.create(pvc_rt, c));
                    }
                    Action::CreatePod(p) => {
                        let msg = format!(
                            "create Pod {} in StatefulSet {} successful",
                            meta::name(&p),
                            meta::name(&sts)
                        );
                        if super::log_err("pod create", ctx.store.create(pod_rt, p)).is_some() {
                            super::events::record(
                                ctx,
                                &sts,
                                "Normal",
                                "SuccessfulCreate",
                                &msg,
                                "statefulset-controller",
                            );
                        }
                    }
                    Action::DeletePod(name) => {
                        let r = ctx.store.delete(
                            pod_rt,
                            Some(&ns),
                            &name,
                            crate::store::Propagation::Background,
                        );
                        if super::log_err("pod delete", r).is_some() {
                            let msg = format!(
                                "delete Pod {name} in StatefulSet {} successful",
                                meta::name(&sts)
                            );
                            super::events::record(
                                ctx,
                                &sts,
                                "Normal",
                                "SuccessfulDelete",
                                &msg,
                                "statefulset-controller",
                            );
                        }
                    }
                }
            }
            ctx.write_status("statefulsets", &sts, plan.status, "statefulset status");
        }
    }
}

/// Whether `obj` (a pod or ControllerRevision of the set's namespace) is an orphan the set adopts: no controller,
/// not being deleted, labels matching the set's selector and, for pods, a name of the set's ordinals. A set deleted
/// with `propagationPolicy: Orphan` leaves its pods running; a new set with a matching selector takes them over
/// without restarting them, and since the same template hashes to the same revision, without rolling them either.
pub fn adoptable(sts: &Value, obj: &Value) -> bool {
    let has_controller = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| r["controller"] == true));
    let named_as_member =
        obj["kind"] != "Pod" || ordinal(meta::name(sts), meta::name(obj)).is_some();
    !has_controller
        && !meta::is_deleting(obj)
        && !meta::is_deleting(sts)
        && meta::namespace(obj) == meta::namespace(sts)
        && named_as_member
        && crate::validate::selector_matches_labels(
            sts.pointer("/spec/selector").unwrap_or(&Value::Null),
            obj.pointer("/metadata/labels").unwrap_or(&Value::Null),
        )
}

/// Makes the set the controller of `obj`; the object as stored, or `None` if the write failed (retried on the
/// next pass).
fn adopt(
    ctx: &super::ControllerContext,
    rt: &'static crate::store::ResourceType,
    sts: &Value,
    obj: &Value,
) -> Option<Value> {
    let mut adopted = obj.clone();
    let mut refs = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    refs.push(meta::controller_ref(sts));
    adopted["metadata"]["ownerReferences"] = json!(refs);
    super::log_err("adopt orphan", ctx.store.update(rt, adopted))
}

/// The ordinal of a claim `<template>-<set>-<n>` made from one of the set's volumeClaimTemplates.
pub fn claim_ordinal(sts: &Value, claim: &str) -> Option<i64> {
    let set = meta::name(sts);
    sts.pointer("/spec/volumeClaimTemplates")?
        .as_array()?
        .iter()
        .find_map(|t| {
            let prefix = format!("{}-{set}-", meta::name(t));
            claim.strip_prefix(&prefix)?.parse().ok()
        })
}

/// `persistentVolumeClaimRetentionPolicy`: `whenDeleted: Delete` makes the set an owner of its claims (the
/// garbage collector removes them with it); `whenScaled: Delete` removes the claims of ordinals scaled away
/// once their pods are gone. The default, Retain for both, keeps the data.
fn apply_retention_policy(
    ctx: &super::ControllerContext,
    sts: &Value,
    pods: &[Value],
    claims: &[Value],
) {
    let pvc_rt = ctx.rt("persistentvolumeclaims");
    let policy = |k: &str| {
        meta::str_at(
            sts,
            &format!("/spec/persistentVolumeClaimRetentionPolicy/{k}"),
        ) == Some("Delete")
    };
    let replicas = meta::i64_at(sts, "/spec/replicas").unwrap_or(1);
    for claim in claims {
        let Some(o) = claim_ordinal(sts, meta::name(claim)) else {
            continue;
        };
        if policy("whenScaled")
            && o >= replicas
            && !pods
                .iter()
                .any(|p| ordinal(meta::name(sts), meta::name(p)) == Some(o))
        {
            let r = ctx.store.delete(
                pvc_rt,
                Some(meta::namespace(claim)),
                meta::name(claim),
                crate::store::Propagation::Background,
            );
            super::log_err("pvc delete (whenScaled)", r);
            continue;
        }
        let owned = claim
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| refs.iter().any(|r| r["uid"] == meta::uid(sts)));
        if policy("whenDeleted") && !owned {
            let mut c = claim.clone();
            let mut refs = c
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut r = meta::controller_ref(sts);
            r["controller"] = json!(false);
            refs.push(r);
            c["metadata"]["ownerReferences"] = json!(refs);
            super::log_err("pvc owner (whenDeleted)", ctx.store.update(pvc_rt, c));
        }
    }
}

/// The set's ControllerRevisions, recording the update revision's template first if it is new (what
/// `kubectl rollout history statefulset` lists).
fn revisions(ctx: &super::ControllerContext, sts: &Value) -> Vec<Value> {
    let cr_rt = ctx.rt("controllerrevisions");
    let ns = meta::namespace(sts);
    let mut history: Vec<Value> = ctx
        .store
        .list(cr_rt, Some(ns))
        .into_iter()
        .filter_map(|r| {
            if adoptable(sts, &r) {
                adopt(ctx, cr_rt, sts, &r)
            } else {
                Some(r)
            }
        })
        .filter(|r| meta::controlled_by(r, meta::uid(sts)))
        .collect();
    let update = update_revision(sts);
    if !history.iter().any(|r| meta::name(r) == update) {
        let next = history
            .iter()
            .filter_map(|r| r.get("revision").and_then(Value::as_i64))
            .max()
            .unwrap_or(0)
            + 1;
        let mut template = sts.pointer("/spec/template").cloned().unwrap_or(json!({}));
        template["$patch"] = json!("replace");
        let mut labels = sts
            .pointer("/spec/selector/matchLabels")
            .cloned()
            .unwrap_or(json!({}));
        let hash = update.rsplit('-').next().unwrap_or("").to_string();
        labels["controller.kubernetes.io/hash"] = json!(hash);
        let cr = json!({
            "apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": update, "namespace": ns, "labels": labels, "ownerReferences": [meta::controller_ref(sts)]},
            "data": {"spec": {"template": template}},
            "revision": next,
        });
        if let Some(created) =
            super::log_err("controllerrevision create", ctx.store.create(cr_rt, cr))
        {
            history.push(created);
        }
    }
    history
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(replicas: i64, policy: &str, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "cockroachdb", "namespace": "east", "uid": "u1", "generation": 3},
            "spec": {
                "replicas": replicas, "serviceName": "cockroachdb", "podManagementPolicy": policy,
                "selector": {"matchLabels": {"app": "cockroachdb"}},
                "updateStrategy": {"type": "RollingUpdate"},
                "template": {"metadata": {"labels": {"app": "cockroachdb"}},
                             "spec": {"containers": [{"name": "db", "image": image}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "datadir"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "100Gi"}}}}]
            }
        })
    }

    fn pod(set: &Value, ordinal: i64, ready: bool) -> Value {
        let mut p = new_pod(set, ordinal, &update_revision(set));
        p["status"] = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]});
        p
    }

    fn created(plan: &Plan) -> Vec<String> {
        plan.actions
            .iter()
            .filter_map(|a| match a {
                Action::CreatePod(p) => Some(meta::name(p).to_string()),
                _ => None,
            })
            .collect()
    }

    fn deleted(plan: &Plan) -> Vec<String> {
        plan.actions
            .iter()
            .filter_map(|a| match a {
                Action::DeletePod(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn parallel_creates_all_pods_and_claims() {
        let s = sts(3, "Parallel", "c:1");
        let plan = plan(&s, &[], &BTreeSet::new());
        assert_eq!(
            created(&plan),
            vec!["cockroachdb-0", "cockroachdb-1", "cockroachdb-2"]
        );
        let claims: Vec<&str> = plan
            .actions
            .iter()
            .filter_map(|a| {
                if let Action::CreatePvc(c) = a {
                    Some(meta::name(c))
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(
            claims,
            vec![
                "datadir-cockroachdb-0",
                "datadir-cockroachdb-1",
                "datadir-cockroachdb-2"
            ]
        );
    }

    #[test]
    fn existing_claims_are_reused() {
        let s = sts(1, "Parallel", "c:1");
        let have: BTreeSet<String> = ["datadir-cockroachdb-0".to_string()].into();
        let p = plan(&s, &[], &have);
        assert!(!p.actions.iter().any(|a| matches!(a, Action::CreatePvc(_))));
    }

    #[test]
    fn ordered_ready_waits_for_each_pod() {
        let s = sts(3, "OrderedReady", "c:1");
        assert_eq!(
            created(&plan(&s, &[], &BTreeSet::new())),
            vec!["cockroachdb-0"]
        );
        let not_ready = vec![pod(&s, 0, false)];
        assert!(created(&plan(&s, &not_ready, &BTreeSet::new())).is_empty());
        let ready = vec![pod(&s, 0, true)];
        assert_eq!(
            created(&plan(&s, &ready, &BTreeSet::new())),
            vec!["cockroachdb-1"]
        );
    }

    #[test]
    fn pods_carry_identity_labels_and_claims() {
        let s = sts(1, "Parallel", "c:1");
        let p = new_pod(&s, 0, "cockroachdb-abc");
        assert_eq!(meta::label(&p, POD_NAME_LABEL), Some("cockroachdb-0"));
        assert_eq!(meta::label(&p, REVISION_LABEL), Some("cockroachdb-abc"));
        assert_eq!(str_at(&p, "/spec/hostname"), Some("cockroachdb-0"));
        assert_eq!(str_at(&p, "/spec/subdomain"), Some("cockroachdb"));
        assert_eq!(
            str_at(&p, "/spec/volumes/0/persistentVolumeClaim/claimName"),
            Some("datadir-cockroachdb-0")
        );
        assert!(meta::controlled_by(&p, "u1"));
    }

    #[test]
    fn rolling_update_replaces_highest_stale_pod_only_when_all_ready() {
        let old = sts(3, "Parallel", "c:1");
        let pods: Vec<Value> = (0..3).map(|o| pod(&old, o, true)).collect();
        let new = sts(3, "Parallel", "c:2");
        assert_eq!(
            deleted(&plan(&new, &pods, &BTreeSet::new())),
            vec!["cockroachdb-2"]
        );

        let mut pods2 = pods.clone();
        pods2[2] = pod(&new, 2, false);
        assert!(
            deleted(&plan(&new, &pods2, &BTreeSet::new())).is_empty(),
            "waits for the updated pod to be ready"
        );
        pods2[2] = pod(&new, 2, true);
        assert_eq!(
            deleted(&plan(&new, &pods2, &BTreeSet::new())),
            vec!["cockroachdb-1"]
        );
    }

    #[test]
    fn partition_is_respected() {
        let old = sts(3, "Parallel", "c:1");
        let mut new = sts(3, "Parallel", "c:2");
        new["spec"]["updateStrategy"]["rollingUpdate"] = json!({"partition": 2});
        let mut pods: Vec<Value> = (0..3).map(|o| pod(&old, o, true)).collect();
        assert_eq!(
            deleted(&plan(&new, &pods, &BTreeSet::new())),
            vec!["cockroachdb-2"]
        );
        pods[2] = pod(&new, 2, true);
        assert!(deleted(&plan(&new, &pods, &BTreeSet::new())).is_empty());
    }

    #[test]
    fn pods_recreated_below_the_partition_keep_the_current_revision() {
        let old = sts(3, "Parallel", "c:1");
        let mut new = sts(3, "Parallel", "c:2");
        new["spec"]["updateStrategy"]["rollingUpdate"] = json!({"partition": 2});
        new["status"] = json!({"currentRevision": update_revision(&old)});
        let pods = vec![pod(&old, 1, true), pod(&new, 2, true)];
        let old_template = old["spec"]["template"].clone();
        let p = plan_with_history(&new, &pods, &BTreeSet::new(), Some(&old_template));
        let Some(Action::CreatePod(p0)) =
            p.actions.iter().find(|a| matches!(a, Action::CreatePod(_)))
        else {
            panic!()
        };
        assert_eq!(
            meta::label(p0, REVISION_LABEL),
            Some(update_revision(&old).as_str())
        );
        assert_eq!(str_at(p0, "/spec/containers/0/image"), Some("c:1"));
    }

    #[test]
    fn on_delete_never_replaces() {
        let old = sts(2, "Parallel", "c:1");
        let mut new = sts(2, "Parallel", "c:2");
        new["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        let pods: Vec<Value> = (0..2).map(|o| pod(&old, o, true)).collect();
        assert!(deleted(&plan(&new, &pods, &BTreeSet::new())).is_empty());
    }

    #[test]
    fn scale_down_removes_highest_ordinals() {
        let s3 = sts(3, "Parallel", "c:1");
        let pods: Vec<Value> = (0..3).map(|o| pod(&s3, o, true)).collect();
        let s1 = sts(1, "Parallel", "c:1");
        assert_eq!(
            deleted(&plan(&s1, &pods, &BTreeSet::new())),
            vec!["cockroachdb-2", "cockroachdb-1"]
        );
        let o1 = sts(1, "OrderedReady", "c:1");
        assert_eq!(
            deleted(&plan(&o1, &pods, &BTreeSet::new())),
            vec!["cockroachdb-2"]
        );
    }

    #[test]
    fn status_counts_and_revisions() {
        let old = sts(3, "Parallel", "c:1");
        let mut pods: Vec<Value> = (0..3).map(|o| pod(&old, o, true)).collect();
        let p = plan(&old, &pods, &BTreeSet::new());
        assert_eq!(p.status["readyReplicas"], 3);
        assert_eq!(p.status["currentRevision"], p.status["updateRevision"]);
        assert_eq!(p.status["observedGeneration"], 3);

        let mut new = sts(3, "Parallel", "c:2");
        new["status"] = p.status.clone();
        pods[2] = pod(&new, 2, true);
        let p2 = plan(&new, &pods, &BTreeSet::new());
        assert_eq!(p2.status["updatedReplicas"], 1);
        assert_eq!(p2.status["currentReplicas"], 2);
        assert_ne!(p2.status["currentRevision"], p2.status["updateRevision"]);
    }

    #[test]
    fn orphans_matching_the_selector_and_named_as_members_are_adopted() {
        let s = sts(3, "Parallel", "c:1");
        let mut orphan = pod(&s, 1, true);
        orphan["kind"] = json!("Pod");
        assert!(
            !adoptable(&s, &orphan),
            "a pod with a controller is not an orphan"
        );
        orphan["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("ownerReferences");
        assert!(adoptable(&s, &orphan));
        let mut stranger = orphan.clone();
        stranger["metadata"]["name"] = json!("other-1");
        assert!(!adoptable(&s, &stranger), "not one of the set's ordinals");
        let mut unlabelled = orphan.clone();
        unlabelled["metadata"]["labels"]["app"] = json!("else");
        assert!(!adoptable(&s, &unlabelled), "outside the selector");
        let mut elsewhere = orphan.clone();
        elsewhere["metadata"]["namespace"] = json!("west");
        assert!(!adoptable(&s, &elsewhere), "another namespace");
        let mut leaving = orphan.clone();
        leaving["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
        assert!(!adoptable(&s, &leaving));
        let revision = json!({"kind": "ControllerRevision",
            "metadata": {"name": update_revision(&s), "namespace": "east",
                         "labels": {"app": "cockroachdb", "controller.kubernetes.io/hash": "x"}}});
        assert!(
            adoptable(&s, &revision),
            "revisions are adopted whatever their name"
        );
    }

    #[test]
    fn failed_pods_are_replaced() {
        let s = sts(1, "Parallel", "c:1");
        let mut p = pod(&s, 0, false);
        p["status"]["phase"] = json!("Failed");
        assert_eq!(
            deleted(&plan(&s, &[p], &BTreeSet::new())),
            vec!["cockroachdb-0"]
        );
    }
}
