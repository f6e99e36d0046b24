//! The provider's Kubernetes edge against a real kube-apiserver (built by `scripts/control-planes.sh`), and the
//! same requests sent to kube-sandbox: what a region apply does first — forced server-side apply of every object
//! of a zone, in the provider's order — then a read of what is not there, a create that finds its object there, and
//! a change the API refuses. Each server's answers are recorded the same way and compared; every difference must be
//! one `KNOWN_DIFFERENCES` lists (and crates/kube-sandbox/README.md explains), so a new one fails the test and a
//! fixed one asks to be struck off.
mod support {
    pub mod answers;
    #[allow(dead_code)]
    pub mod control_planes;
}

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube_sandbox::{Sandbox, SandboxOptions};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use support::answers::{
    comparable, differences, DNS_SERVICE_SELECTOR, JOIN_REF_KEY, JOIN_REF_NAME, JOIN_REF_OPTIONAL,
    MATCH_LABELS, ROLE_REF_API_GROUP, ROLE_REF_KIND, ROLE_REF_NAME, SERVICE_SELECTOR_COMPONENT,
    SERVICE_SELECTOR_NAME,
};
use support::control_planes::ControlPlanes;
use terraform_provider_crdb::cockroach::manifests::{
    self, DnsLoadBalancer, Layout, ZoneCertificates, ZoneObject, ZoneSpec,
};
use terraform_provider_crdb::framework::diag::AttributePath;
use terraform_provider_crdb::framework::{Attr, ToValue};
use terraform_provider_crdb::kubernetes::{
    ClusterClient, Deadline, Propagation, RemoteError, FIELD_MANAGER,
};
use terraform_provider_crdb::resources::connection::{self, ConnectionModel};
use tokio_util::sync::CancellationToken;

const ZONE: &str = "us-east1-b";

/// Differences between kube-apiserver and kube-sandbox that are known and explained in
/// crates/kube-sandbox/README.md ("Known differences from kube-apiserver"): `(step, path)` as `differences` words
/// them.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    // An empty list is stored as none.
    ("apply Role/us-east1-b/cockroachdb", ".rules"),
    // kube-apiserver 1.36 defaults `manualSelector` to false.
    (
        "apply Job/us-east1-b/cockroachdb-init",
        ".spec.manualSelector",
    ),
    // Atomic maps and structs are owned whole by kube-apiserver, field by field by the sandbox.
    (
        "apply RoleBinding/us-east1-b/cockroachdb",
        ROLE_REF_API_GROUP,
    ),
    ("apply RoleBinding/us-east1-b/cockroachdb", ROLE_REF_KIND),
    ("apply RoleBinding/us-east1-b/cockroachdb", ROLE_REF_NAME),
    (
        "apply Service/us-east1-b/cockroachdb",
        SERVICE_SELECTOR_COMPONENT,
    ),
    (
        "apply Service/us-east1-b/cockroachdb",
        SERVICE_SELECTOR_NAME,
    ),
    (
        "apply Service/us-east1-b/cockroachdb-public",
        SERVICE_SELECTOR_COMPONENT,
    ),
    (
        "apply Service/us-east1-b/cockroachdb-public",
        SERVICE_SELECTOR_NAME,
    ),
    (
        "apply Service/kube-system/crdb-dns-us-east1-b",
        DNS_SERVICE_SELECTOR,
    ),
    (
        "apply PodDisruptionBudget/us-east1-b/cockroachdb",
        MATCH_LABELS,
    ),
    ("apply StatefulSet/us-east1-b/cockroachdb", MATCH_LABELS),
    ("apply StatefulSet/us-east1-b/cockroachdb", JOIN_REF_KEY),
    ("apply StatefulSet/us-east1-b/cockroachdb", JOIN_REF_NAME),
    (
        "apply StatefulSet/us-east1-b/cockroachdb",
        JOIN_REF_OPTIONAL,
    ),
    ("apply the StatefulSet again", MATCH_LABELS),
    ("apply the StatefulSet again", JOIN_REF_KEY),
    ("apply the StatefulSet again", JOIN_REF_NAME),
    ("apply the StatefulSet again", JOIN_REF_OPTIONAL),
];
fn spec() -> ZoneSpec {
    ZoneSpec {
        cluster_name: "main".into(),
        zone: ZONE.into(),
        region: Some("us-east1".into()),
        image: "cockroachdb/cockroach:v25.2.0".into(),
        replicas: 3,
        join_addresses: (0..3)
            .map(|i| format!("cockroachdb-{i}.cockroachdb.{ZONE}"))
            .collect(),
        cluster_domain: "cluster.local".into(),
        storage_size: "10Gi".into(),
        storage_class: None,
        cpu_request: Some("1".into()),
        cpu_limit: Some("1".into()),
        memory_request: Some("2Gi".into()),
        memory_limit: Some("2Gi".into()),
        dns_load_balancer: DnsLoadBalancer::default(),
        runs_init: true,
        layout: Layout::Provider,
    }
}

/// Certificates are opaque to the API server: PEM-shaped text is all a Secret needs.
fn certificates() -> ZoneCertificates {
    let pem = |what: &str| format!("-----BEGIN {what}-----\nAAAA\n-----END {what}-----\n");
    ZoneCertificates {
        ca_crt: pem("CERTIFICATE"),
        node_crt: pem("CERTIFICATE"),
        node_key: pem("PRIVATE KEY"),
        root_crt: pem("CERTIFICATE"),
        root_key: pem("PRIVATE KEY"),
    }
}

/// Connects as a resource does, from a `kubernetes {}` block's value.
async fn connect(block: ConnectionModel) -> ClusterClient {
    let at = AttributePath::root(connection::BLOCK_NAME);
    let connection = connection::resolve(&block.to_value(), &at)
        .expect("a valid block")
        .expect("a known block");
    ClusterClient::connect(&connection).await.expect("a client")
}

/// The real control plane, reached the way a user with a kubeconfig reaches a cluster: path and context.
async fn real_client(planes: &ControlPlanes, name: &str) -> ClusterClient {
    connect(ConnectionModel {
        config_path: Attr::Known(planes.kubeconfig_path().display().to_string()),
        config_context: Attr::Known(name.to_string()),
        ..Default::default()
    })
    .await
}

async fn sandbox_client(sandbox: &Sandbox, name: &str) -> ClusterClient {
    let cluster = sandbox.cluster(name).expect("the sandbox cluster");
    connect(ConnectionModel {
        host: Attr::Known(cluster.url()),
        cluster_ca_certificate: Attr::Known(cluster.ca_pem().to_string()),
        token: Attr::Known(cluster.token().to_string()),
        ..Default::default()
    })
    .await
}

/// What the server answered, in the terms the comparison uses: the stored object, or the error's code, reason
/// and the fields its causes name.
fn answer<K: serde::Serialize>(result: Result<K, RemoteError>) -> Value {
    match result {
        Ok(object) => serde_json::to_value(object).expect("an object serializes"),
        Err(error) => error_answer(&error),
    }
}

fn error_answer(error: &RemoteError) -> Value {
    match &error.source {
        kube::Error::Api(status) => json!({
            "error": {
                "code": status.code,
                "reason": status.reason,
                "failure": format!("{:?}", error.failure()),
                "causes": status.details.as_ref().map(|d| {
                    d.causes.iter().map(|c| c.field.clone()).collect::<Vec<_>>()
                }),
            }
        }),
        other => panic!("{} answered no status: {other}", error.cluster),
    }
}

async fn apply(client: &ClusterClient, object: &ZoneObject) -> Value {
    match object {
        ZoneObject::Namespace(o) => answer(client.apply(o).await),
        ZoneObject::Secret(o) => answer(client.apply(o).await),
        ZoneObject::ConfigMap(o) => answer(client.apply(o).await),
        ZoneObject::ServiceAccount(o) => answer(client.apply(o).await),
        ZoneObject::Role(o) => answer(client.apply(o).await),
        ZoneObject::RoleBinding(o) => answer(client.apply(o).await),
        ZoneObject::Service(o) => answer(client.apply(o).await),
        ZoneObject::PodDisruptionBudget(o) => answer(client.apply(o).await),
        ZoneObject::StatefulSet(o) => answer(client.apply(o).await),
        ZoneObject::Job(o) => answer(client.apply(o).await),
    }
}

/// The steps of a region's first apply and of the errors the edge must classify, each with what the server
/// answered. The same function runs against both servers.
async fn first_apply(client: &ClusterClient) -> Vec<(String, Value)> {
    let mut steps = Vec::new();
    for object in manifests::zone_objects(&spec(), &certificates()) {
        steps.push((
            format!("apply {}", object.reference()),
            apply(client, &object).await,
        ));
    }
    let again = manifests::zone_objects(&spec(), &certificates());
    let set = again
        .iter()
        .find(|o| matches!(o, ZoneObject::StatefulSet(_)))
        .expect("a zone has a StatefulSet");
    steps.push((
        "apply the StatefulSet again".into(),
        apply(client, set).await,
    ));

    let missing = client.get::<ConfigMap>(Some(ZONE), "no-such-config").await;
    steps.push((
        "get a missing ConfigMap".into(),
        json!({"found": missing.expect("a missing object is an answer, not an error").is_some()}),
    ));
    let deleted = client
        .delete::<ConfigMap>(Some(ZONE), "no-such-config", Propagation::Background)
        .await;
    steps.push((
        "delete a missing ConfigMap".into(),
        json!({"deleted": deleted.expect("deleting nothing is an answer, not an error")}),
    ));

    // A create that finds its object there: the edge's `create` hands the existing one back; the bare call
    // shows the 409 it stands on.
    let api: Api<ConfigMap> = Api::namespaced(client.kube().clone(), ZONE);
    let join = manifests::join_config_map(&spec());
    let name = join.metadata.name.clone().expect("a named ConfigMap");
    let created = api.create(&PostParams::default(), &join).await;
    let created = created.map_err(|source| RemoteError {
        cluster: client.label().to_string(),
        object: format!("ConfigMap {ZONE}/{name}"),
        call: terraform_provider_crdb::kubernetes::Call::Update,
        source,
    });
    steps.push(("create an existing ConfigMap".into(), answer(created)));

    // A StatefulSet's selector is immutable: the apply that changes it is refused as invalid.
    let mut changed = manifests::stateful_set(&spec());
    let selector = changed
        .spec
        .as_mut()
        .expect("a spec")
        .selector
        .match_labels
        .as_mut();
    selector
        .expect("labels")
        .insert("changed".into(), "yes".into());
    let template_labels = changed.spec.as_mut().unwrap().template.metadata.as_mut();
    template_labels
        .and_then(|m| m.labels.as_mut())
        .expect("template labels")
        .insert("changed".into(), "yes".into());
    steps.push((
        "apply a StatefulSet with a changed selector".into(),
        answer(client.apply(&changed).await),
    ));

    // A name no DNS label allows.
    let mut bad = manifests::join_config_map(&spec());
    bad.metadata.name = Some("Not_A_Name".into());
    steps.push((
        "apply a ConfigMap with an invalid name".into(),
        answer(client.apply(&bad).await),
    ));
    steps
}

/// The managers of an object's fields after a forced apply, but for its status: the provider's, as an Apply.
fn managers(answer: &Value) -> Vec<(String, String)> {
    answer["metadata"]["managedFields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter(|f| f["subresource"] != "status")
                .map(|f| {
                    let text = |key: &str| f[key].as_str().unwrap_or_default().to_string();
                    (text("manager"), text("operation"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What the edge expects of any server, checked on each one's own answers.
fn check_edge_expectations(server: &str, steps: &[(String, Value)]) {
    let step = |name: &str| -> &Value {
        &steps
            .iter()
            .find(|(step, _)| step == name)
            .unwrap_or_else(|| panic!("no step {name}"))
            .1
    };
    for (name, answer) in steps.iter().filter(|(name, _)| name.starts_with("apply ")) {
        if name.contains("changed selector") || name.contains("invalid name") {
            continue;
        }
        assert!(answer.get("error").is_none(), "{server}: {name}: {answer}");
        assert_eq!(
            managers(answer),
            vec![(FIELD_MANAGER.to_string(), "Apply".to_string())],
            "{server}: {name}: the provider alone owns what it applied"
        );
    }
    let first = &steps
        .iter()
        .find(|(name, _)| name.starts_with("apply StatefulSet/"))
        .expect("the StatefulSet was applied")
        .1;
    let again = step("apply the StatefulSet again");
    assert_eq!(
        (&first["metadata"]["generation"], &first["spec"]),
        (&again["metadata"]["generation"], &again["spec"]),
        "{server}: applying the same StatefulSet again changes nothing (its status may: a controller writes it)"
    );
    assert_eq!(step("get a missing ConfigMap"), &json!({"found": false}));
    assert_eq!(
        step("delete a missing ConfigMap"),
        &json!({"deleted": false})
    );
    let conflict = &step("create an existing ConfigMap")["error"];
    assert_eq!(
        (
            conflict["code"].as_u64(),
            conflict["reason"].as_str(),
            conflict["failure"].as_str()
        ),
        (Some(409), Some("AlreadyExists"), Some("Conflict")),
        "{server}"
    );
    for refused in [
        "apply a StatefulSet with a changed selector",
        "apply a ConfigMap with an invalid name",
    ] {
        let error = &step(refused)["error"];
        assert_eq!(
            (
                error["code"].as_u64(),
                error["reason"].as_str(),
                error["failure"].as_str()
            ),
            (Some(422), Some("Invalid"), Some("Invalid")),
            "{server}: {refused}: {error}"
        );
    }
}

fn deadline(limit: Duration) -> Deadline {
    Deadline::after(limit, &CancellationToken::new())
}

#[tokio::test]
async fn a_zone_applied_to_kube_apiserver_and_to_the_sandbox_gets_the_same_answers() {
    let planes = ControlPlanes::start(&["real"]).await;
    let sandbox = Sandbox::start(SandboxOptions::new(&["sandbox"]))
        .await
        .expect("the sandbox starts");
    let real = first_apply(&real_client(&planes, "real").await).await;
    let emulated = first_apply(&sandbox_client(&sandbox, "sandbox").await).await;
    check_edge_expectations("kube-apiserver", &real);
    check_edge_expectations("kube-sandbox", &emulated);

    let mut found = Vec::new();
    for ((step, real), (same_step, emulated)) in real.iter().zip(&emulated) {
        assert_eq!(step, same_step);
        let mut paths = Vec::new();
        differences("", &comparable(real), &comparable(emulated), &mut paths);
        found.extend(
            paths
                .into_iter()
                .map(|(path, what)| (step.clone(), path, what)),
        );
    }
    let unexplained: Vec<String> = found
        .iter()
        .filter(|(step, path, _)| !KNOWN_DIFFERENCES.contains(&(step.as_str(), path.as_str())))
        .map(|(step, path, what)| format!("{step}: {path}: {what}"))
        .collect();
    let gone: Vec<&(&str, &str)> = KNOWN_DIFFERENCES
        .iter()
        .filter(|(step, path)| !found.iter().any(|(s, p, _)| s == step && p == path))
        .collect();
    assert!(
        unexplained.is_empty() && gone.is_empty(),
        "kube-sandbox answers differently from kube-apiserver:\n{}\nknown differences no longer seen: {gone:?}",
        unexplained.join("\n")
    );
}

/// The controllers a zone relies on run in the real control plane: the StatefulSet's and the Job's pods are
/// created (none runs: there is no node), and deleting the namespace takes everything in it, the way the
/// provider's teardown waits for.
#[tokio::test]
async fn the_real_controllers_make_a_zones_pods_and_delete_its_namespace() {
    let planes = ControlPlanes::start(&["real"]).await;
    let client = real_client(&planes, "real").await;
    for object in manifests::zone_objects(&spec(), &certificates()) {
        let answer = apply(&client, &object).await;
        assert!(
            answer.get("error").is_none(),
            "{}: {answer}",
            object.reference()
        );
    }
    let pods: Api<Pod> = Api::namespaced(planes.kube_client("real").await, ZONE);
    // Parallel pod management: the StatefulSet controller creates every node's pod at once.
    let nodes: Vec<String> = (0..spec().replicas)
        .map(|i| format!("cockroachdb-{i}"))
        .collect();
    let mut owned: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for _ in 0..300 {
        owned.clear();
        for pod in pods
            .list(&ListParams::default())
            .await
            .expect("pods list")
            .items
        {
            let owner = pod
                .metadata
                .owner_references
                .as_ref()
                .and_then(|o| o.first());
            if let (Some(owner), Some(name)) = (owner, pod.metadata.name.clone()) {
                owned.entry(owner.kind.clone()).or_default().push(name);
            }
        }
        owned.values_mut().for_each(|names| names.sort());
        if owned.get("StatefulSet") == Some(&nodes) && owned.contains_key("Job") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        owned.get("StatefulSet"),
        Some(&nodes),
        "the StatefulSet controller creates the nodes' pods: {owned:?}"
    );
    assert_eq!(
        owned.get("Job").map(Vec::len),
        Some(1),
        "the Job controller creates the init Job's pod: {owned:?}"
    );
    let sets: Api<StatefulSet> = Api::namespaced(planes.kube_client("real").await, ZONE);
    assert_eq!(
        sets.get("cockroachdb").await.unwrap().metadata.generation,
        Some(1)
    );
    let jobs: Api<Job> = Api::namespaced(planes.kube_client("real").await, ZONE);
    assert!(jobs.list(&ListParams::default()).await.unwrap().items.len() == 1);

    assert!(client
        .delete::<Namespace>(None, ZONE, Propagation::Foreground)
        .await
        .expect("the namespace's deletion is accepted"));
    client
        .wait_namespace_deleted(ZONE, &deadline(Duration::from_secs(120)))
        .await
        .expect("the namespace controller empties and removes the namespace");
}

#[tokio::test]
async fn stopping_the_control_planes_ends_every_process() {
    let planes = ControlPlanes::start(&["one", "two"]).await;
    let pids: Vec<(&str, u32)> = planes.planes().iter().flat_map(|p| p.pids()).collect();
    assert_eq!(
        pids.len(),
        6,
        "etcd, kube-apiserver and kube-controller-manager each: {pids:?}"
    );
    let running = |pid: u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(pids.iter().all(|(_, pid)| running(*pid)), "{pids:?}");
    drop(planes);
    let left: Vec<_> = pids.iter().filter(|(_, pid)| running(*pid)).collect();
    assert!(left.is_empty(), "still running after the drop: {left:?}");
}
