//! The requests the provider makes in its flows, sent again to real kube-apiservers and compared with the
//! sandbox's answers: a three-region deployment through the real CLI (create, a SQL user and a database, a patch
//! upgrade, a certificate renewal, a scale-down, then destroy) against kube-sandbox, every
//! write request to a resource kept whole (`Sandbox::capture_writes`: server-side applies and their dry runs,
//! Jobs, deletions); then each zone's requests, in their order, to a real control plane of its own
//! (`scripts/control-planes.sh`) and to a fresh sandbox, and the two answers compared: status code, reason and
//! the fields the causes name, or the stored object (defaulted fields, `managedFields`). Requests on what only a
//! kubelet or a running node makes real are not compared (see `NOT_COMPARED`). Every difference must be one
//! `KNOWN_DIFFERENCES` lists and crates/kube-sandbox/README.md explains; a known one no longer seen fails too.
#[path = "acceptance/clusters.rs"]
#[allow(dead_code)]
mod clusters;
#[path = "acceptance/harness.rs"]
#[allow(dead_code)]
mod harness;
mod support {
    pub mod answers;
    #[allow(dead_code)]
    pub mod control_planes;
}

use clusters::{configuration, Clusters, ZONES};
use harness::Workspace;
use kube_sandbox::api::server::CapturedRequest;
use kube_sandbox::{Sandbox, SandboxOptions};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use support::answers::{
    comparable, differences, DNS_SERVICE_SELECTOR, JOIN_REF_KEY, JOIN_REF_NAME, JOIN_REF_OPTIONAL,
    MATCH_LABELS, ROLE_REF_API_GROUP, ROLE_REF_KIND, ROLE_REF_NAME, SERVICE_SELECTOR_COMPONENT,
    SERVICE_SELECTOR_NAME,
};
use support::control_planes::ControlPlanes;

/// Paths whose requests are not compared: pods (made by the StatefulSet and Job controllers from what the
/// provider wrote, and deleted by the provider as its rollout's turns come; with no kubelet the real ones never
/// run) and claims (made by the StatefulSet controller, bound by a provisioner the real control plane lacks).
const NOT_COMPARED: &[&str] = &["/pods", "/persistentvolumeclaims"];

/// Differences between kube-apiserver and kube-sandbox that are known and explained in
/// crates/kube-sandbox/README.md ("Known differences from kube-apiserver"): the kind of the request's object (its
/// path's resource) and the field path `differences` names.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    // kube-apiserver 1.36 defaults `manualSelector` to false.
    ("jobs", ".spec.manualSelector"),
    // An empty list is stored as none.
    ("roles", ".rules"),
    // Atomic maps and structs are owned whole by kube-apiserver, field by field by the sandbox.
    ("poddisruptionbudgets", MATCH_LABELS),
    ("statefulsets", MATCH_LABELS),
    ("statefulsets", JOIN_REF_KEY),
    ("statefulsets", JOIN_REF_NAME),
    ("statefulsets", JOIN_REF_OPTIONAL),
    ("services", SERVICE_SELECTOR_COMPONENT),
    ("services", SERVICE_SELECTOR_NAME),
    ("services", DNS_SERVICE_SELECTOR),
    ("rolebindings", ROLE_REF_API_GROUP),
    ("rolebindings", ROLE_REF_KIND),
    ("rolebindings", ROLE_REF_NAME),
];

/// A request's place in the comparison: method, path and query.
fn step(request: &CapturedRequest) -> String {
    let query = request
        .query
        .as_deref()
        .map_or(String::new(), |q| format!("?{q}"));
    format!("{} {}{query}", request.method, request.path)
}

/// The resource a request's path names (`statefulsets`), for the known differences.
fn resource(path: &str) -> &str {
    let parts: Vec<&str> = path.split('/').collect();
    let at = parts
        .iter()
        .rposition(|p| *p == "namespaces")
        .map_or(parts.len().saturating_sub(2), |i| i + 2);
    match parts.get(at) {
        // `/api/v1/namespaces/x`: the namespace itself.
        None if path.contains("/namespaces/") => "namespaces",
        Some(resource) => resource,
        None => parts.last().copied().unwrap_or_default(),
    }
}

/// Sends one captured request as it was sent; the answer in the comparison's terms.
async fn send(client: &kube::Client, request: &CapturedRequest) -> Value {
    let query = request
        .query
        .as_deref()
        .map_or(String::new(), |q| format!("?{q}"));
    let mut builder = http::Request::builder()
        .method(request.method.clone())
        .uri(format!("{}{query}", request.path));
    if let Some(content_type) = &request.content_type {
        builder = builder.header(http::header::CONTENT_TYPE, content_type);
    }
    let sent = builder
        .body(request.body.to_vec())
        .expect("a captured request is a request");
    match client.request_text(sent).await {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(object) if object["kind"] == "Status" => json!({"status": object["status"]}),
            Ok(object) => without_secret_data(comparable(&object)),
            Err(_) => json!({ "text": text }),
        },
        Err(kube::Error::Api(status)) => json!({
            "error": {
                "code": status.code,
                "reason": status.reason,
                "causes": status.details.as_ref().map(|d| {
                    d.causes.iter().map(|c| c.field.clone()).collect::<Vec<_>>()
                }),
            }
        }),
        Err(other) => panic!("{}: no answer: {other}", step(request)),
    }
}

/// The same keys are sent to both servers; what they hold stays out of a failure's message.
fn without_secret_data(mut object: Value) -> Value {
    if object["kind"] == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(data) = object.get_mut(field).and_then(Value::as_object_mut) {
                data.values_mut().for_each(|v| *v = json!("(data)"));
            }
        }
    }
    object
}

/// Drives the flows through the CLI against the sandbox; each zone's captured write requests.
fn captured_flows() -> BTreeMap<String, Vec<CapturedRequest>> {
    let clusters = Clusters::start(&["kube-dns", "coredns", "kube-dns"]);
    for zone in ZONES {
        clusters.sandbox.capture_writes(zone, true).unwrap();
    }
    let ws = Workspace::new("");
    let image_line = "  image = \"cockroachdb/cockroach:v24.1.0\"\n";
    let base = configuration(&clusters, &ws, false, 3);
    assert!(base.contains(image_line));
    let with_sql = format!(
        "{base}\nresource \"crdb_sql_user\" \"app\" {{\n  name     = \"app\"\n  password = \"not-a-real-one\"\n  zone     = crdb_region.us_east1_b.zone\n{}}}\n\nresource \"crdb_database\" \"shop\" {{\n  name            = \"shop\"\n  cluster_regions = [crdb_region.us_east1_b.region, crdb_region.us_west1_a.region, crdb_region.europe_west1_c.region]\n  zone            = crdb_region.us_east1_b.zone\n  depends_on      = [crdb_dns_link.us_east1_b, crdb_dns_link.us_west1_a, crdb_dns_link.europe_west1_c]\n{}}}\n",
        clusters.connection_block(&ws, ZONES[0]),
        clusters.connection_block(&ws, ZONES[0]),
    );
    ws.write_config(&with_sql);
    ws.apply();
    let upgraded = with_sql.replacen(
        image_line,
        "  image = \"cockroachdb/cockroach:v24.1.1\"\n",
        1,
    );
    ws.write_config(&upgraded);
    ws.apply();
    // Every certificate inside its renewal window: each node's Secret is written again and the node restarts.
    let renewing = upgraded.replacen(
        "  image = \"cockroachdb/cockroach:v24.1.1\"\n",
        "  image = \"cockroachdb/cockroach:v24.1.1\"\n  certificate_validity = \"8760h\"\n  certificate_renewal  = \"8759h59m58s\"\n",
        1,
    );
    ws.write_config(&renewing);
    ws.apply();
    let scaled = renewing.replacen(
        "  replicas            = 3\n",
        "  replicas            = 2\n",
        1,
    );
    assert_ne!(scaled, renewing);
    ws.write_config(&scaled);
    ws.apply();
    ws.destroy();
    ZONES
        .iter()
        .map(|zone| {
            (
                zone.to_string(),
                clusters.sandbox.take_captured(zone).unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_provider_s_requests_in_its_flows_get_the_same_answers_from_kube_apiserver() {
    let captured = captured_flows();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (planes, sandbox) = runtime.block_on(async {
        let planes = ControlPlanes::start(&ZONES).await;
        let sandbox = Sandbox::start(SandboxOptions::new(&ZONES))
            .await
            .expect("the sandbox starts");
        (planes, sandbox)
    });
    let mut found: Vec<(String, String, String)> = Vec::new();
    let mut compared = 0;
    for zone in ZONES {
        let requests = &captured[zone];
        assert!(!requests.is_empty(), "zone {zone}: nothing was captured");
        runtime.block_on(async {
            let real = planes.kube_client(zone).await;
            let emulated = sandbox_client(&sandbox, zone);
            for request in requests {
                if NOT_COMPARED.iter().any(|p| request.path.contains(p)) {
                    continue;
                }
                compared += 1;
                let (from_real, from_sandbox) =
                    (send(&real, request).await, send(&emulated, request).await);
                let mut paths = Vec::new();
                differences("", &from_real, &from_sandbox, &mut paths);
                found.extend(
                    paths
                        .into_iter()
                        .map(|(path, what)| (format!("{zone}: {}", step(request)), path, what)),
                );
            }
        });
    }
    eprintln!("{compared} requests compared, {} differences", found.len());
    let known = |step: &str, path: &str| {
        let path_and_query = step.split(' ').nth(2).unwrap_or_default();
        let resource = resource(path_and_query.split('?').next().unwrap_or_default());
        KNOWN_DIFFERENCES.contains(&(resource, path))
    };
    let unexplained: Vec<String> = found
        .iter()
        .filter(|(step, path, _)| !known(step, path))
        .map(|(step, path, what)| format!("{step}: {path}: {what}"))
        .collect();
    let gone: Vec<&(&str, &str)> = KNOWN_DIFFERENCES
        .iter()
        .filter(|(resource, path)| {
            !found
                .iter()
                .any(|(s, p, _)| p == path && s.contains(resource))
        })
        .collect();
    assert!(
        unexplained.is_empty() && gone.is_empty(),
        "kube-sandbox answers the provider's requests differently from kube-apiserver:\n{}\nknown differences no longer seen: {gone:?}",
        unexplained.join("\n")
    );
}

fn sandbox_client(sandbox: &Sandbox, name: &str) -> kube::Client {
    use rustls::pki_types::pem::PemObject as _;
    let cluster = sandbox.cluster(name).expect("the sandbox cluster");
    let mut config = kube::Config::new(cluster.url().parse().expect("a URL"));
    let ca = rustls::pki_types::CertificateDer::from_pem_slice(cluster.ca_pem().as_bytes())
        .expect("a CA");
    config.root_cert = Some(vec![ca.to_vec()]);
    config.auth_info.token = Some(cluster.token().to_string().into());
    kube::Client::try_from(config).expect("a client")
}

#[test]
fn a_request_s_resource_is_named_by_its_path() {
    assert_eq!(
        resource("/apis/apps/v1/namespaces/us-east1-b/statefulsets/cockroachdb"),
        "statefulsets"
    );
    assert_eq!(
        resource("/api/v1/namespaces/us-east1-b/configmaps"),
        "configmaps"
    );
    assert_eq!(resource("/api/v1/namespaces/us-east1-b"), "namespaces");
    assert_eq!(
        resource("/apis/rbac.authorization.k8s.io/v1/clusterroles/x"),
        "clusterroles"
    );
}
