//! Events the real components record, so `kubectl describe` and a provider's diagnostics can say why something
//! is not ready (FailedMount, BackOff, Unhealthy, SuccessfulCreate, EnsuredLoadBalancer, ...).

use serde_json::{json, Value};

use super::{log_err, meta, ControllerContext};

pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

/// Records one event about `involved`, as `component` would.
pub fn record(
    ctx: &ControllerContext,
    involved: &Value,
    kind: &str,
    reason: &str,
    message: &str,
    component: &str,
) {
    let ns = match meta::namespace(involved) {
        "" => "default",
        ns => ns,
    };
    let now = meta::now_rfc3339();
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{}.{:016x}", meta::name(involved), meta::fresh_seed()), "namespace": ns},
        "involvedObject": {
            "apiVersion": involved.get("apiVersion").cloned().unwrap_or(Value::Null),
            "kind": involved.get("kind").cloned().unwrap_or(Value::Null),
            "name": meta::name(involved), "namespace": meta::namespace(involved), "uid": meta::uid(involved),
            "resourceVersion": involved.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
        },
        "reason": reason, "message": message, "type": kind,
        "source": {"component": component},
        "reportingComponent": component, "reportingInstance": format!("{component}-{}", ctx.cluster_name),
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    });
    if let Some(created) = log_err("event", ctx.store.create(ctx.rt("events"), event)) {
        if let Some(upstream) = &ctx.upstream {
            upstream.event(&created);
        }
    }
}
