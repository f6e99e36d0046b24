//! The endpoints controller: one Endpoints object per selector Service, listing the pods behind it (not-ready
//! ones under notReadyAddresses unless the service publishes them anyway), so `kubectl describe svc` and clients
//! that check endpoints see what a real cluster shows.

use serde_json::{json, Value};

use super::{log_err, meta, ControllerContext, Reconcile};

/// Marks the Endpoints this controller owns (the real controller's trigger-time annotation).
const MANAGED: &str = "endpoints.kubernetes.io/last-change-trigger-time";

pub fn endpoints_for(svc: &Value, pods: &[Value]) -> Value {
    let selector = svc
        .pointer("/spec/selector")
        .cloned()
        .unwrap_or(Value::Null);
    let publish_all = svc.pointer("/spec/publishNotReadyAddresses") == Some(&Value::Bool(true));
    let mut ready = Vec::new();
    let mut not_ready = Vec::new();
    for p in pods
        .iter()
        .filter(|p| meta::labels_match(&selector, p) && !meta::is_deleting(p))
    {
        let Some(ip) = meta::str_at(p, "/status/podIP") else {
            continue;
        };
        let mut addr = json!({"ip": ip, "targetRef": {"kind": "Pod", "name": meta::name(p), "namespace": meta::namespace(p), "uid": meta::uid(p)}});
        if let Some(node) = meta::str_at(p, "/spec/nodeName") {
            addr["nodeName"] = json!(node);
        }
        if let (Some(h), Some(_)) = (
            meta::str_at(p, "/spec/hostname"),
            meta::str_at(p, "/spec/subdomain"),
        ) {
            addr["hostname"] = json!(h);
        }
        if publish_all || meta::pod_is_ready(p) {
            ready.push(addr);
        } else {
            not_ready.push(addr);
        }
    }
    let ports: Vec<Value> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let mut port = json!({"port": p.get("targetPort").filter(|t| t.is_number()).or(p.get("port")).cloned().unwrap_or(json!(0)),
                                  "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP"))});
            if let Some(n) = p.get("name") {
                port["name"] = n.clone();
            }
            port
        })
        .collect();
    let mut subset = json!({});
    if !ready.is_empty() {
        subset["addresses"] = json!(ready);
    }
    if !not_ready.is_empty() {
        subset["notReadyAddresses"] = json!(not_ready);
    }
    let subsets = if ready.is_empty() && not_ready.is_empty() {
        json!([])
    } else {
        subset["ports"] = json!(ports);
        json!([subset])
    };
    json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": meta::name(svc), "namespace": meta::namespace(svc),
                     "labels": svc.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
                     "annotations": {MANAGED: meta::now_rfc3339()}},
        "subsets": subsets,
    })
}

pub struct Controller;

impl Reconcile for Controller {
    fn reconcile(&mut self, ctx: &ControllerContext) {
        let ep_rt = ctx.rt("endpoints");
        let pods = ctx.store.list(ctx.rt("pods"), None);
        let services = ctx.store.list(ctx.rt("services"), None);
        // Endpoints of deleted (or selector-less) services go with them.
        for ep in ctx.store.list(ep_rt, None) {
            let has_service = services.iter().any(|s| {
                meta::name(s) == meta::name(&ep)
                    && meta::namespace(s) == meta::namespace(&ep)
                    && s.pointer("/spec/selector")
                        .and_then(Value::as_object)
                        .is_some_and(|m| !m.is_empty())
            });
            if !has_service && meta::annotation(&ep, MANAGED).is_some() {
                let r = ctx.store.delete(
                    ep_rt,
                    Some(meta::namespace(&ep)),
                    meta::name(&ep),
                    crate::store::Propagation::Background,
                );
                log_err("endpoints delete", r);
            }
        }
        for svc in services {
            if svc
                .pointer("/spec/selector")
                .is_none_or(|s| s.as_object().is_none_or(|m| m.is_empty()))
                || meta::is_deleting(&svc)
            {
                continue;
            }
            let ns = meta::namespace(&svc);
            let in_ns: Vec<Value> = pods
                .iter()
                .filter(|p| meta::namespace(p) == ns)
                .cloned()
                .collect();
            let want = endpoints_for(&svc, &in_ns);
            match ctx.store.get(ep_rt, Some(ns), meta::name(&svc)) {
                None => {
                    log_err("endpoints create", ctx.store.create(ep_rt, want));
                }
                Some(have) if have.get("subsets") != want.get("subsets") => {
                    let mut u = have.clone();
                    u["subsets"] = want["subsets"].clone();
                    log_err("endpoints update", ctx.store.update(ep_rt, u));
                }
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_ready_pods_are_listed_apart_unless_published() {
        let mut svc = json!({"metadata": {"name": "cockroachdb", "namespace": "east"},
                             "spec": {"selector": {"app": "db"}, "ports": [{"name": "grpc", "port": 26257}]}});
        let pod = json!({"metadata": {"name": "cockroachdb-0", "namespace": "east", "labels": {"app": "db"}},
                         "spec": {"hostname": "cockroachdb-0", "subdomain": "cockroachdb"},
                         "status": {"podIP": "10.64.0.2", "phase": "Running"}});
        let ep = endpoints_for(&svc, std::slice::from_ref(&pod));
        assert_eq!(
            ep["subsets"][0]["notReadyAddresses"][0]["hostname"],
            "cockroachdb-0"
        );
        svc["spec"]["publishNotReadyAddresses"] = json!(true);
        let ep = endpoints_for(&svc, &[pod]);
        assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "10.64.0.2");
        assert_eq!(ep["subsets"][0]["ports"][0]["port"], 26257);
    }
}
