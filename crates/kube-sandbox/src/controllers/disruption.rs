//! The disruption controller: PodDisruptionBudget status (expected and healthy pods, allowed disruptions), which
//! `kubectl get pdb` shows and evictions obey.

use serde_json::{json, Value};

use super::{meta, ControllerContext, Reconcile};

/// `n` or `"n%"` of `total`, rounded up as the disruption controller does.
fn scaled(v: &Value, total: i64) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s
            .trim_end_matches('%')
            .parse::<i64>()
            .ok()
            .map(|p| (p * total + 99) / 100),
        _ => None,
    }
}

pub fn status_of(pdb: &Value, pods: &[Value], prev: &Value) -> Value {
    let selector = pdb
        .pointer("/spec/selector/matchLabels")
        .cloned()
        .unwrap_or(Value::Null);
    let matching: Vec<&Value> = pods
        .iter()
        .filter(|p| meta::labels_match(&selector, p) && !meta::is_deleting(p))
        .collect();
    let expected = matching.len() as i64;
    let healthy = matching.iter().filter(|p| meta::pod_is_ready(p)).count() as i64;
    let desired = if let Some(max) = pdb
        .pointer("/spec/maxUnavailable")
        .and_then(|v| scaled(v, expected))
    {
        (expected - max).max(0)
    } else {
        pdb.pointer("/spec/minAvailable")
            .and_then(|v| scaled(v, expected))
            .unwrap_or(0)
    };
    let allowed = (healthy - desired).max(0);
    let now = meta::now_rfc3339();
    let (status, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let old = prev
        .pointer("/conditions/0")
        .filter(|c| c["status"] == status)
        .cloned();
    json!({
        "observedGeneration": meta::i64_at(pdb, "/metadata/generation").unwrap_or(1),
        "expectedPods": expected,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "disruptionsAllowed": allowed,
        "conditions": [old.unwrap_or_else(|| json!({"type": "DisruptionAllowed", "status": status, "reason": reason,
                                                     "message": "", "lastTransitionTime": now,
                                                     "observedGeneration": meta::i64_at(pdb, "/metadata/generation").unwrap_or(1)}))],
    })
}

pub struct Controller;

impl Reconcile for Controller {
    fn reconcile(&mut self, ctx: &ControllerContext) {
        let rt = ctx.rt("poddisruptionbudgets");
        for pdb in ctx.store.list(rt, None) {
            let pods = ctx.store.list(ctx.rt("pods"), Some(meta::namespace(&pdb)));
            let prev = pdb.get("status").cloned().unwrap_or(json!({}));
            let status = status_of(&pdb, &pods, &prev);
            if status != prev {
                ctx.replace_status("poddisruptionbudgets", &pdb, status, "pdb status");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ready: bool) -> Value {
        json!({"metadata": {"labels": {"app": "db"}},
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    #[test]
    fn max_unavailable_one_allows_one_disruption_when_all_healthy() {
        let pdb =
            json!({"spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "db"}}}});
        let s = status_of(&pdb, &[pod(true), pod(true), pod(true)], &json!({}));
        assert_eq!(
            (
                s["expectedPods"].as_i64(),
                s["desiredHealthy"].as_i64(),
                s["disruptionsAllowed"].as_i64()
            ),
            (Some(3), Some(2), Some(1))
        );
        let s = status_of(&pdb, &[pod(true), pod(true), pod(false)], &json!({}));
        assert_eq!(s["disruptionsAllowed"], 0);
    }
}
