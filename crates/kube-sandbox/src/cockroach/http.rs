//! A node's HTTP port (8080) as reached through the API server's pods proxy: `/health`, `/health?ready=1` and
//! `/_status/vars`, answered from the emulated cluster's state the way the real node answers them.

use serde_json::{json, Value};

use super::command::{invocation, Invocation};
use super::metrics;
use super::node::node_store;
use crate::api::proxy::{HttpAnswer, ProxyTarget};
use crate::controllers::meta;
use crate::error::ApiError;
use crate::world::World;

/// The port CockroachDB serves HTTP on (`--http-addr`, default :8080).
pub const HTTP_PORT: &str = "8080";

fn text(status: u16, content_type: &'static str, body: String) -> HttpAnswer {
    HttpAnswer {
        status,
        content_type,
        body,
    }
}

/// A gRPC-gateway error body with code 14 (Unavailable), as the node's health endpoint returns it.
fn unavailable(message: &str) -> HttpAnswer {
    let body = json!({"error": message, "code": 14, "message": message, "details": []});
    text(503, "application/json", format!("{body:#}\n"))
}

/// Answers a proxied request to a pod of `cluster`.
pub fn serve(world: &World, cluster: &str, target: &ProxyTarget) -> Result<HttpAnswer, ApiError> {
    let pods = crate::store::resource_type("pods")
        .ok_or_else(|| ApiError::new(500, "InternalError", "no pods type"))?;
    let pod = world
        .cluster(cluster)
        .and_then(|c| c.store.get(pods, Some(&target.namespace), &target.pod))
        .ok_or_else(|| ApiError::not_found("", "pods", &target.pod))?;
    let ip = meta::str_at(&pod, "/status/podIP")
        .unwrap_or("")
        .to_string();
    let port = target.port.clone().unwrap_or_else(|| "80".into());
    let refused = || {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!(
                "error trying to reach service: dial tcp {ip}:{port}: connect: connection refused"
            ),
        )
    };
    let start = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|c| match invocation(c) {
            Invocation::Start(args) => Some(args),
            _ => None,
        });
    let running = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c.pointer("/state/running").is_some()));
    let Some(args) = start.filter(|_| running && (port == HTTP_PORT || port == "http")) else {
        return Err(refused());
    };
    if !args.insecure && target.scheme.as_deref() != Some("https") {
        return Ok(text(
            400,
            "text/plain; charset=utf-8",
            "Client sent an HTTP request to an HTTPS server.\n".into(),
        ));
    }
    let store = node_store(world, cluster, &pod);
    let cockroach = world.cockroach();
    let node = cockroach
        .nodes()
        .into_iter()
        .find(|n| n.cluster == cluster && n.store == store && n.pod == target.pod);
    let ready = target
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv == "ready=1" || kv == "ready=true");
    match target.path.trim_end_matches('/') {
        "/health" => Ok(match &node {
            Some(n) if ready && n.membership != super::cluster::Membership::Active => {
                unavailable("node is decommissioning or has been decommissioned")
            }
            Some(n) if n.live => text(
                200,
                "application/json",
                format!(
                    "{:#}\n",
                    json!({"nodeId": n.node_id, "address": {"networkField": "tcp",
                    "addressField": format!("{}.{}:26257", target.pod, n.zone)}})
                ),
            ),
            None if ready => unavailable("node is waiting for cluster initialization"),
            _ if ready => unavailable("node is not healthy"),
            _ => text(200, "application/json", "{\n}\n".into()),
        }),
        "/_status/vars" => {
            let body = node
                .and_then(|n| {
                    // As the node's gossiped liveness records show the cluster: a node stopped moments ago still
                    // counts as live until its record expires.
                    cockroach.with(&n.ca, |c, now| {
                        metrics::prometheus(&c.as_liveness_shows(now), n.node_id, now)
                    })
                })
                .unwrap_or_default();
            Ok(text(200, "text/plain; version=0.0.4; charset=utf-8", body))
        }
        _ => Ok(text(
            404,
            "text/plain; charset=utf-8",
            "404 page not found\n".into(),
        )),
    }
}
