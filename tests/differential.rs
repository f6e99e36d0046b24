//! The requests the provider makes in its flows, sent again to real kube-apiservers and compared with the
//! sandbox's answers. A three-region deployment goes through the real CLI against kube-sandbox (create with a SQL
//! user and a database, a fourth region added then removed, a patch upgrade, a certificate renewal, a CA rotation,
//! a scale-down, then destroy) with every write request to a resource kept whole (`Sandbox::capture_writes`:
//! server-side applies and their dry runs, Jobs, deletions). Then each zone's requests go, in their order, to a
//! real control plane of its own (`scripts/control-planes.sh`) and to a fresh sandbox, and the two answers are
//! compared: status code, reason and the fields the causes name, or the stored object (defaulted fields,
//! `managedFields`); and so are the watch events of the zone's ConfigMaps, Secrets, StatefulSets and Jobs up to
//! its namespace's deletion (`Watching`). Requests on what only a kubelet or a running node makes real are not
//! compared (`NOT_COMPARED`). Every difference must be one `KNOWN_DIFFERENCES` lists and
//! crates/kube-sandbox/README.md explains; a known one no longer seen fails too.
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

use clusters::{configuration_of, sandbox_client, Clusters, ZONES};
use harness::Workspace;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, WatchEvent, WatchParams};
use kube_sandbox::api::server::CapturedRequest;
use kube_sandbox::{Sandbox, SandboxOptions};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
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

/// A request's path with its query, as sent.
fn path_and_query(request: &CapturedRequest) -> String {
    match &request.query {
        Some(query) => format!("{}?{query}", request.path),
        None => request.path.clone(),
    }
}

/// A request's place in the comparison: method, path and query.
fn step(request: &CapturedRequest) -> String {
    format!("{} {}", request.method, path_and_query(request))
}

/// Where two answers differed: the request (or the watch events up to it), the resource its path names, the field
/// path and both values.
struct Difference {
    step: String,
    resource: String,
    path: String,
    what: String,
}

/// Every difference between the two answers, added to `found`.
fn compare(
    found: &mut Vec<Difference>,
    step: String,
    resource: &str,
    real: &Value,
    sandbox: &Value,
) {
    let mut paths = Vec::new();
    differences("", real, sandbox, &mut paths);
    found.extend(paths.into_iter().map(|(path, what)| Difference {
        step: step.clone(),
        resource: resource.to_string(),
        path,
        what,
    }));
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
    let mut builder = http::Request::builder()
        .method(request.method.clone())
        .uri(path_and_query(request));
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

/// A zone added to the running cluster, then removed.
const ADDED_ZONE: &str = "asia-east1-a";

/// Every zone of the flows, the added one last.
fn every_zone() -> Vec<&'static str> {
    let mut zones = ZONES.to_vec();
    zones.push(ADDED_ZONE);
    zones
}

/// Drives the flows through the CLI against the sandbox; each zone's captured write requests.
fn captured_flows() -> BTreeMap<String, Vec<CapturedRequest>> {
    let zones = every_zone();
    let clusters = Clusters::start_zones(&zones);
    for zone in &zones {
        clusters.sandbox.capture_writes(zone, true).unwrap();
    }
    let ws = Workspace::new("");
    let connection = clusters.connection_block(&ws, ZONES[0]);
    let sql = format!(
        "\nresource \"crdb_sql_user\" \"app\" {{\n  name     = \"app\"\n  password = \"not-a-real-one\"\n  zone     = crdb_region.us_east1_b.zone\n{connection}}}\n\nresource \"crdb_database\" \"shop\" {{\n  name            = \"shop\"\n  cluster_regions = [crdb_region.us_east1_b.region, crdb_region.us_west1_a.region, crdb_region.europe_west1_c.region]\n  zone            = crdb_region.us_east1_b.zone\n  depends_on      = [crdb_dns_link.us_east1_b, crdb_dns_link.us_west1_a, crdb_dns_link.europe_west1_c]\n{connection}}}\n"
    );
    let three = format!("{}{sql}", configuration_of(&clusters, &ws, &ZONES));
    let four = format!("{}{sql}", configuration_of(&clusters, &ws, &zones));
    let image_line = "  image = \"cockroachdb/cockroach:v24.1.0\"\n";
    let name_line = "  name  = \"main\"\n";
    assert!(three.contains(image_line) && three.contains(name_line));
    let cluster_setting = |config: &str, setting: &str| {
        config.replacen(name_line, &format!("{name_line}{setting}"), 1)
    };
    let upgraded = three.replacen(
        image_line,
        "  image = \"cockroachdb/cockroach:v24.1.1\"\n",
        1,
    );
    // Every certificate inside its renewal window: each node's Secret is written again and the node restarts.
    let renewing = cluster_setting(
        &upgraded,
        "  certificate_validity = \"8760h\"\n  certificate_renewal  = \"8759h59m58s\"\n",
    );
    let rotated = cluster_setting(&renewing, "  pki_generation = 2\n");
    let scaled = rotated.replacen("  replicas = 3\n", "  replicas = 2\n", 1);
    assert!(renewing != upgraded && rotated != renewing && scaled != rotated);
    for config in [
        &three, &four, &three, &upgraded, &renewing, &rotated, &scaled,
    ] {
        ws.write_config(config);
        ws.apply();
    }
    ws.destroy();
    zones
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
        let planes = ControlPlanes::start(&every_zone()).await;
        let sandbox = Sandbox::start(SandboxOptions::new(&every_zone()))
            .await
            .expect("the sandbox starts");
        (planes, sandbox)
    });
    let mut found: Vec<Difference> = Vec::new();
    let (mut compared, mut watched) = (0, 0);
    for zone in every_zone() {
        let requests = &captured[zone];
        assert!(!requests.is_empty(), "zone {zone}: nothing was captured");
        runtime.block_on(async {
            let real = planes.kube_client(zone).await;
            let emulated = sandbox_client(&sandbox, zone);
            let mut watching = Some((
                Watching::start(&real, zone),
                Watching::start(&emulated, zone),
            ));
            let namespace = format!("/api/v1/namespaces/{zone}");
            for request in requests {
                if NOT_COMPARED.iter().any(|p| request.path.contains(p)) {
                    continue;
                }
                // Up to the namespace's deletion, whose cascade a controller of the real control plane runs in its
                // own time.
                let last_write =
                    request.method == http::Method::DELETE && request.path == namespace;
                if let Some((on_real, on_sandbox)) = watching.take_if(|_| last_write) {
                    let (from_real, from_sandbox) = (on_real.stop().await, on_sandbox.stop().await);
                    assert!(!from_real.is_empty(), "zone {zone}: no watch event came");
                    watched += from_real.len();
                    compare(
                        &mut found,
                        format!("{zone}: watch events up to {}", step(request)),
                        "watch events",
                        &json!(from_real),
                        &json!(from_sandbox),
                    );
                }
                compared += 1;
                let (from_real, from_sandbox) =
                    (send(&real, request).await, send(&emulated, request).await);
                compare(
                    &mut found,
                    format!("{zone}: {}", step(request)),
                    resource(&request.path),
                    &from_real,
                    &from_sandbox,
                );
            }
        });
    }
    eprintln!(
        "{compared} requests and {watched} watch events compared, {} differences",
        found.len()
    );
    let known =
        |d: &Difference| KNOWN_DIFFERENCES.contains(&(d.resource.as_str(), d.path.as_str()));
    let unexplained: Vec<String> = found
        .iter()
        .filter(|d| !known(d))
        .map(|d| format!("{}: {}: {}", d.step, d.path, d.what))
        .collect();
    let gone: Vec<&(&str, &str)> = KNOWN_DIFFERENCES
        .iter()
        .filter(|(resource, path)| {
            !found
                .iter()
                .any(|d| d.resource == *resource && d.path == *path)
        })
        .collect();
    assert!(
        unexplained.is_empty() && gone.is_empty(),
        "kube-sandbox answers the provider's requests differently from kube-apiserver:\n{}\nknown differences no longer seen: {gone:?}",
        unexplained.join("\n")
    );
}

/// The watch events of a zone's objects the provider writes, in the order a server sent them, each kind apart:
/// ADDED and DELETED, and MODIFIED where the object's spec changed (its generation; ConfigMaps and Secrets have
/// none, so each change counts); a status a controller writes is not the provider's doing.
struct Watching {
    seen: Arc<Mutex<Vec<(String, String)>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Watching {
    fn start(client: &kube::Client, zone: &str) -> Watching {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (c, z, s) = (client, zone.to_string(), &seen);
        let tasks = vec![
            tokio::spawn(watch::<ConfigMap>(c.clone(), z.clone(), s.clone())),
            tokio::spawn(watch::<Secret>(c.clone(), z.clone(), s.clone())),
            tokio::spawn(watch::<StatefulSet>(c.clone(), z.clone(), s.clone())),
            tokio::spawn(watch::<Job>(c.clone(), z, s.clone())),
        ];
        Watching { seen, tasks }
    }

    /// Once no event has come for half a second: every kind's events, kind by kind.
    async fn stop(self) -> Vec<String> {
        let count = || {
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
        };
        let mut last = usize::MAX;
        while count() != last {
            last = count();
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.tasks.iter().for_each(|t| t.abort());
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        seen.into_iter()
            .map(|(kind, event)| format!("{kind} {event}"))
            .collect()
    }
}

async fn watch<K>(client: kube::Client, zone: String, seen: Arc<Mutex<Vec<(String, String)>>>)
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K: Send + 'static,
{
    use futures_util::{StreamExt, TryStreamExt};
    let api: Api<K> = Api::all(client);
    let params = WatchParams::default().fields(&format!("metadata.namespace={zone}"));
    let stream = api.watch(&params, "0").await.expect("a watch");
    let mut stream = stream.boxed();
    let mut generations: BTreeMap<String, Option<i64>> = BTreeMap::new();
    while let Ok(Some(event)) = stream.try_next().await {
        let (what, object) = match event {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            WatchEvent::Deleted(o) => ("DELETED", o),
            WatchEvent::Bookmark(_) | WatchEvent::Error(_) => continue,
        };
        let name = object.meta().name.clone().unwrap_or_default();
        let generation = object.meta().generation;
        if what == "MODIFIED" && generation.is_some() && generations.get(&name) == Some(&generation)
        {
            continue;
        }
        generations.insert(name.clone(), generation);
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((K::kind(&()).to_string(), format!("{what} {name}")));
    }
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
