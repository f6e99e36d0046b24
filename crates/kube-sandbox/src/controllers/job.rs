//! The Job controller: runs pods to `completions` successes, replacing failed pods (restartPolicy Never) or
//! letting the kubelet restart containers in place (OnFailure), until `backoffLimit` is passed; then the
//! conditions `SuccessCriteriaMet`+`Complete` or `FailureTarget`+`Failed` (reason BackoffLimitExceeded).

use serde_json::{json, Value};

use super::{log_err, meta, ControllerContext, Reconcile};
use crate::store::Propagation;

#[derive(Debug, PartialEq)]
pub enum Action {
    Create(Value),
    Delete(String),
}

fn has_condition(job: &Value, t: &str) -> bool {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == t && c["status"] == "True"))
}

fn restarts(pod: &Value) -> i64 {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

pub fn plan(job: &Value, pods: &[Value]) -> (Vec<Action>, Value) {
    let mut status = job
        .get("status")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or(json!({}));
    if has_condition(job, "Complete") || has_condition(job, "Failed") {
        return (Vec::new(), status);
    }
    let completions = meta::i64_at(job, "/spec/completions").unwrap_or(1);
    let parallelism = meta::i64_at(job, "/spec/parallelism").unwrap_or(1);
    let backoff_limit = meta::i64_at(job, "/spec/backoffLimit").unwrap_or(6);
    let on_failure = meta::str_at(job, "/spec/template/spec/restartPolicy") == Some("OnFailure");
    let phase = |p: &Value| {
        meta::str_at(p, "/status/phase")
            .unwrap_or("Pending")
            .to_string()
    };
    let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
    let failed = pods.iter().filter(|p| phase(p) == "Failed").count() as i64;
    let active: Vec<&Value> = pods
        .iter()
        .filter(|p| !meta::is_deleting(p) && !matches!(phase(p).as_str(), "Succeeded" | "Failed"))
        .collect();
    let ready = active.iter().filter(|p| meta::pod_is_ready(p)).count();
    let now = meta::now_rfc3339();
    let mut actions = Vec::new();

    // With OnFailure, container restarts count against the limit.
    let failures = failed
        + if on_failure {
            active.iter().map(|p| restarts(p)).sum::<i64>()
        } else {
            0
        };
    let cond = |t: &str, reason: &str, message: &str| {
        json!({"type": t, "status": "True", "reason": reason, "message": message,
               "lastProbeTime": now, "lastTransitionTime": now})
    };
    if status.get("startTime").is_none() {
        status["startTime"] = json!(now);
    }
    if succeeded >= completions {
        status["conditions"] = json!([
            cond(
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods"
            ),
            cond(
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods"
            ),
        ]);
        status["completionTime"] = json!(now);
        actions.extend(
            active
                .iter()
                .map(|p| Action::Delete(meta::name(p).to_string())),
        );
    } else if failures > backoff_limit {
        status["conditions"] = json!([
            cond(
                "FailureTarget",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit"
            ),
            cond(
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit"
            ),
        ]);
        actions.extend(
            active
                .iter()
                .map(|p| Action::Delete(meta::name(p).to_string())),
        );
    } else {
        let missing = (parallelism.min(completions - succeeded) - active.len() as i64).max(0);
        for _ in 0..missing {
            actions.push(Action::Create(new_pod(job)));
        }
    }
    let done = !actions.iter().all(|a| matches!(a, Action::Create(_)));
    status["active"] = json!(if done { 0 } else { active.len() });
    status["ready"] = json!(if done { 0 } else { ready });
    status["succeeded"] = json!(succeeded);
    status["failed"] = json!(failed);
    status["terminating"] = json!(0);
    status["uncountedTerminatedPods"] = json!({});
    for k in ["succeeded", "failed", "active"] {
        if status[k] == 0 {
            status.as_object_mut().expect("status").remove(k);
        }
    }
    (actions, status)
}

fn new_pod(job: &Value) -> Value {
    let template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let mut metadata = template
        .get("metadata")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or(json!({}));
    metadata["generateName"] = json!(format!("{}-", meta::name(job)));
    metadata["namespace"] = json!(meta::namespace(job));
    metadata["ownerReferences"] = json!([meta::controller_ref(job)]);
    if !metadata["labels"].is_object() {
        metadata["labels"] = json!({});
    }
    metadata["labels"]["job-name"] = json!(meta::name(job));
    metadata["labels"]["batch.kubernetes.io/job-name"] = json!(meta::name(job));
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template.get("spec").cloned().unwrap_or(json!({}))})
}

/// Also the TTL-after-finished controller: a finished Job with `ttlSecondsAfterFinished` is deleted (with its
/// pods) that long after it finished.
#[derive(Default)]
pub struct Controller {
    finished_at: std::collections::HashMap<String, tokio::time::Instant>,
}

impl Reconcile for Controller {
    fn reconcile(&mut self, ctx: &ControllerContext) {
        let job_rt = ctx.rt("jobs");
        let pod_rt = ctx.rt("pods");
        let jobs = ctx.owners_and_children("jobs", "pods");
        self.finished_at
            .retain(|uid, _| jobs.iter().any(|(j, _)| meta::uid(j) == uid));
        for (job, pods) in jobs {
            if job.pointer("/spec/suspend") == Some(&json!(true)) {
                continue;
            }
            if has_condition(&job, "Complete") || has_condition(&job, "Failed") {
                let since = *self
                    .finished_at
                    .entry(meta::uid(&job).to_string())
                    .or_insert_with(tokio::time::Instant::now);
                if let Some(ttl) = meta::i64_at(&job, "/spec/ttlSecondsAfterFinished") {
                    let ttl = std::time::Duration::from_secs(ttl.max(0) as u64);
                    if since.elapsed() >= ctx.clock.scaled(ttl) {
                        let r = ctx.store.delete(
                            job_rt,
                            Some(meta::namespace(&job)),
                            meta::name(&job),
                            Propagation::Background,
                        );
                        log_err("job ttl delete", r);
                    }
                }
                continue;
            }
            let ns = meta::namespace(&job).to_string();
            let (actions, status) = plan(&job, &pods);
            for a in actions {
                match a {
                    Action::Create(p) => {
                        log_err("job pod create", ctx.store.create(pod_rt, p));
                    }
                    Action::Delete(n) => {
                        log_err(
                            "job pod delete",
                            ctx.store
                                .delete(pod_rt, Some(&ns), &n, Propagation::Background),
                        );
                    }
                }
            }
            let mut cmp_old = job.get("status").cloned().unwrap_or(json!({}));
            let mut cmp_new = status.clone();
            for v in [&mut cmp_old, &mut cmp_new] {
                if let Some(o) = v.as_object_mut() {
                    o.remove("startTime");
                }
            }
            if cmp_old != cmp_new || job.pointer("/status/startTime").is_none() {
                ctx.replace_status("jobs", &job, status, "job status");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(policy: &str, backoff: i64) -> Value {
        json!({"metadata": {"name": "cluster-init", "namespace": "east", "uid": "j1"},
               "spec": {"backoffLimit": backoff, "template": {"spec": {"restartPolicy": policy, "containers": []}}}})
    }

    fn pod(phase: &str, restarts: i64) -> Value {
        json!({"metadata": {"name": format!("p-{phase}-{restarts}")},
               "status": {"phase": phase, "containerStatuses": [{"restartCount": restarts}]}})
    }

    #[test]
    fn starts_one_pod() {
        let (a, s) = plan(&job("Never", 6), &[]);
        assert!(matches!(&a[..], [Action::Create(_)]));
        assert!(s.get("startTime").is_some());
    }

    #[test]
    fn success_completes() {
        let (a, s) = plan(&job("Never", 6), &[pod("Succeeded", 0)]);
        assert!(a.is_empty());
        assert_eq!(s["succeeded"], 1);
        assert!(s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Complete"));
    }

    #[test]
    fn never_replaces_failed_pods_until_the_limit() {
        let (a, s) = plan(&job("Never", 1), &[pod("Failed", 0)]);
        assert!(matches!(&a[..], [Action::Create(_)]));
        assert_eq!(s["failed"], 1);
        let (_, s) = plan(&job("Never", 1), &[pod("Failed", 0), pod("Failed", 1)]);
        assert!(s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Failed" && c["reason"] == "BackoffLimitExceeded"));
    }

    #[test]
    fn on_failure_counts_restarts() {
        let (a, _) = plan(&job("OnFailure", 2), &[pod("Running", 2)]);
        assert!(a.is_empty());
        let (a, s) = plan(&job("OnFailure", 2), &[pod("Running", 3)]);
        assert_eq!(a, vec![Action::Delete("p-Running-3".into())]);
        assert!(s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Failed"));
    }
}
