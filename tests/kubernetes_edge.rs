//! The Kubernetes edge against emulated clusters: connecting the ways a `kubernetes { }` block
//! allows, server-side apply, errors worded as diagnostics, watch-based waits with their
//! timeouts and cancellation, and retries through injected faults.
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_sandbox::{Cluster, Sandbox, SandboxOptions};
use serde_json::json;
use std::time::{Duration, Instant};
use terraform_provider_crdb::framework::diag::AttributePath;
use terraform_provider_crdb::framework::{Attr, Diagnostics, OperationContext, ToValue};
use terraform_provider_crdb::kubernetes::error::Failure;
use terraform_provider_crdb::kubernetes::retry::RetryPolicy;
use terraform_provider_crdb::kubernetes::{
    ClusterClient, Deadline, Propagation, RemoteError, WaitError,
};
use terraform_provider_crdb::resources::connection::{self, ConnectionModel, ExecModel};
use tokio_util::sync::CancellationToken;

async fn sandbox(names: &[&str]) -> Sandbox {
    Sandbox::start(SandboxOptions::new(names))
        .await
        .expect("sandbox starts")
}

fn known(text: &str) -> Attr<String> {
    Attr::Known(text.to_string())
}

/// The block a user writes for a cluster: host, CA and token.
fn token_block(cluster: &Cluster, token: &str) -> ConnectionModel {
    ConnectionModel {
        host: known(&cluster.url()),
        cluster_ca_certificate: known(cluster.ca_pem()),
        token: known(token),
        ..Default::default()
    }
}

/// Resolves and connects exactly as a resource does, from the block's value.
async fn connect(block: &ConnectionModel) -> ClusterClient {
    let at = AttributePath::root(connection::BLOCK_NAME);
    let connection = connection::resolve(&block.to_value(), &at)
        .expect("a valid block")
        .expect("a known block");
    ClusterClient::connect(&connection).await.expect("a client")
}

async fn client(cluster: &Cluster) -> ClusterClient {
    connect(&token_block(cluster, cluster.token())).await
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(50),
        unreachable_grace: Duration::from_secs(2),
        ..RetryPolicy::default()
    }
}

fn namespace(name: &str) -> Namespace {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "crdb"}}})).unwrap()
}

fn config_map(namespace: &str, name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "crdb"}},
        "data": {"value": value}
    }))
    .unwrap()
}

fn load_balancer(namespace: &str, name: &str) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "LoadBalancer", "selector": {"k8s-app": "kube-dns"},
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}
    }))
    .unwrap()
}

fn statefulset(namespace: &str, name: &str, replicas: i32) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "serviceName": name, "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                {"name": "cockroachdb", "image": "cockroachdb/cockroach:v24.1.0"}
            ]}}
        }
    }))
    .unwrap()
}

fn detail(diags: &Diagnostics) -> String {
    diags
        .0
        .iter()
        .map(|d| format!("{}: {}", d.summary, d.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn applies_are_idempotent_and_reads_deletes_and_lists_work() {
    let sandbox = sandbox(&["east"]).await;
    let client = client(&sandbox.clusters()[0]).await;

    let created = client.apply(&namespace("us-east1-b")).await.unwrap();
    let again = client.apply(&namespace("us-east1-b")).await.unwrap();
    assert_eq!(
        again.metadata.resource_version, created.metadata.resource_version,
        "re-applying the same namespace must change nothing"
    );

    let first = client
        .apply(&config_map("us-east1-b", "join", "a"))
        .await
        .unwrap();
    let managers: Vec<_> = first
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(managers, ["terraform-provider-crdb"]);
    // Applying the object as read back (with the server's bookkeeping) is a no-op too.
    let same = client.apply(&first).await.unwrap();
    assert_eq!(
        same.metadata.resource_version,
        first.metadata.resource_version
    );
    let changed = client
        .apply(&config_map("us-east1-b", "join", "b"))
        .await
        .unwrap();
    assert_ne!(
        changed.metadata.resource_version,
        first.metadata.resource_version
    );
    assert_eq!(changed.data.unwrap()["value"], "b");

    let read: Option<ConfigMap> = client.get(Some("us-east1-b"), "join").await.unwrap();
    assert_eq!(read.unwrap().data.unwrap()["value"], "b");
    let missing: Option<ConfigMap> = client.get(Some("us-east1-b"), "nope").await.unwrap();
    assert!(missing.is_none());
    let listed: Vec<ConfigMap> = client.list(Some("us-east1-b"), "app=crdb").await.unwrap();
    assert_eq!(listed.len(), 1);

    assert!(client
        .delete::<ConfigMap>(Some("us-east1-b"), "join", Propagation::Background)
        .await
        .unwrap());
    assert!(!client
        .delete::<ConfigMap>(Some("us-east1-b"), "join", Propagation::Background)
        .await
        .unwrap());
}

#[tokio::test]
async fn a_wrong_token_is_a_diagnostic_naming_the_cluster_the_object_and_the_call() {
    let sandbox = sandbox(&["east"]).await;
    let cluster = &sandbox.clusters()[0];
    let client = connect(&token_block(cluster, "expired-token")).await;
    let error = client
        .get::<Namespace>(None, "kube-system")
        .await
        .unwrap_err();
    assert_eq!(error.failure(), Failure::Unauthenticated);
    let diags: Diagnostics = error.into();
    assert_eq!(diags.0[0].summary, "Kubernetes credentials rejected");
    let text = detail(&diags);
    assert!(
        text.contains(&format!(
            "get Namespace kube-system on {}: 401",
            cluster.url()
        )),
        "{text}"
    );
    assert!(
        !text.contains("expired-token"),
        "the token must not be shown"
    );
}

#[tokio::test]
async fn another_clusters_ca_is_reported_as_an_untrusted_certificate() {
    let sandbox = sandbox(&["east", "west"]).await;
    let (east, west) = (&sandbox.clusters()[0], &sandbox.clusters()[1]);
    let block = ConnectionModel {
        cluster_ca_certificate: known(west.ca_pem()),
        ..token_block(east, east.token())
    };
    let client = connect(&block).await.with_retry(quick_retries());
    let error = client.list::<Namespace>(None, "").await.unwrap_err();
    assert_eq!(error.failure(), Failure::Tls, "{error}");
    assert!(error.hint().unwrap().contains("cluster_ca_certificate"));
}

#[tokio::test]
async fn an_unreachable_cluster_is_named_after_bounded_retries() {
    let sandbox = sandbox(&["east"]).await;
    let cluster = &sandbox.clusters()[0];
    let client = client(cluster).await.with_retry(quick_retries());
    sandbox.set_api_down("east", true).await.unwrap();
    let started = Instant::now();
    let error = client.apply(&namespace("us-east1-b")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    let diags = error.to_diagnostics();
    assert_eq!(diags.0[0].summary, "Kubernetes cluster unreachable");
    let text = detail(&diags);
    assert!(
        text.contains(&format!("apply Namespace us-east1-b on {}", cluster.url())),
        "{text}"
    );
}

#[tokio::test]
async fn a_wait_on_a_cluster_that_stops_answering_reports_it_after_the_grace_not_the_deadline() {
    let sandbox = sandbox(&["east"]).await;
    let cluster = &sandbox.clusters()[0];
    let client = client(cluster)
        .await
        .with_unreachable_grace(Duration::from_secs(3));
    client.apply(&namespace("us-east1-b")).await.unwrap();
    client
        .apply(&load_balancer("us-east1-b", "kube-dns-lb"))
        .await
        .unwrap();
    sandbox.set_api_down("east", true).await.unwrap();
    let started = Instant::now();
    let deadline = Deadline::after(Duration::from_secs(120), &CancellationToken::new());
    let error = client
        .wait_load_balancer("us-east1-b", "kube-dns-lb", &deadline)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(3)..Duration::from_secs(20)).contains(&waited),
        "reported after {waited:?}"
    );
    let diags = error.to_diagnostics();
    assert_eq!(diags.0[0].summary, "Kubernetes cluster unreachable");
    let text = detail(&diags);
    assert!(
        text.contains(&format!(
            "watch Service us-east1-b/kube-dns-lb on {}",
            cluster.url()
        )),
        "names the call and the cluster: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_shorter_than_the_grace_is_ridden_through_by_calls_and_waits() {
    let sandbox = sandbox(&["east"]).await;
    let cluster = &sandbox.clusters()[0];
    let client = client(cluster)
        .await
        .with_unreachable_grace(Duration::from_secs(30));
    client.apply(&namespace("us-east1-b")).await.unwrap();
    client
        .apply(&load_balancer("us-east1-b", "kube-dns-lb"))
        .await
        .unwrap();
    sandbox.set_api_down("east", true).await.unwrap();
    let kube = client.kube().clone();
    let back = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        sandbox.set_api_down("east", false).await.unwrap();
        assign_dns_lb_address(kube).await;
    };
    let deadline = Deadline::after(Duration::from_secs(60), &CancellationToken::new());
    let work = async {
        client
            .apply(&config_map("us-east1-b", "during", "outage"))
            .await
            .unwrap();
        client
            .wait_load_balancer("us-east1-b", "kube-dns-lb", &deadline)
            .await
            .unwrap()
    };
    let (address, ()) = tokio::join!(work, back);
    assert_eq!(address, "35.1.2.3");
}

/// An API server that accepts connections and never answers (a hung load balancer, a half-open tunnel): its
/// address, while the returned task holds the connections it accepted.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("https://{}", listener.local_addr().unwrap());
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (address, holding)
}

/// A client of the silent server as a resource's apply connects, with the block's `unreachable_timeout`
/// and the operation's `deadline`.
async fn client_of_silent(
    address: &str,
    unreachable_timeout: &str,
    deadline: &Deadline,
) -> ClusterClient {
    let block = ConnectionModel {
        host: known(address),
        insecure: Attr::Known(true),
        token: known("t0ken"),
        unreachable_timeout: known(unreachable_timeout),
        ..Default::default()
    };
    connection::connect_for_apply(
        &OperationContext::default(),
        &Attr::Known(block.to_value()),
        "region",
        deadline,
    )
    .await
    .expect("a client")
}

/// A failed call's diagnostic detail, after checking it says the cluster is unreachable.
fn unreachable_detail(error: RemoteError) -> String {
    assert_eq!(error.failure(), Failure::Unreachable, "{error}");
    let diags = error.to_diagnostics();
    assert_eq!(diags.0[0].summary, "Kubernetes cluster unreachable");
    detail(&diags)
}

#[tokio::test]
async fn a_call_that_is_never_answered_ends_at_the_unreachable_timeout_naming_cluster_and_call() {
    let (address, _server) = silent_server().await;
    let deadline = Deadline::after(Duration::from_secs(600), &CancellationToken::new());
    let client = client_of_silent(&address, "5s", &deadline).await;
    let text = unreachable_within_five_seconds(&client, "get", &deadline).await;
    assert!(
        text.contains(&format!("get Namespace us-east1-b on {address}")),
        "{text}"
    );
    assert!(
        text.contains("no answer within 5s (kubernetes.unreachable_timeout)"),
        "{text}"
    );

    // The pods proxy, which is not retried, and a watch are bounded the same way.
    let error = client
        .pod_https_get("us-east1-b", "cockroachdb-0", 8080, "/health?ready=1")
        .await
        .unwrap_err();
    assert!(unreachable_detail(error).contains("no answer within 5s"));
    let started = Instant::now();
    let error = client
        .wait_load_balancer("us-east1-b", "kube-dns-lb", &deadline)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(11), "{error}");
    let WaitError::Remote(error) = error else {
        panic!("not reported as unreachable: {error}");
    };
    assert!(unreachable_detail(error).contains(&format!(
        "watch Service us-east1-b/kube-dns-lb on {address}"
    )));
}

/// One call of kind `call` (`get`, `delete` or `wait`) that fails: its error, and how long it took.
async fn failed_call(
    client: &ClusterClient,
    call: &str,
    deadline: &Deadline,
) -> (RemoteError, Duration) {
    let started = Instant::now();
    let zone = "us-east1-b";
    let error = match call {
        "get" => client
            .get::<Namespace>(None, zone)
            .await
            .map(drop)
            .unwrap_err(),
        "delete" => client
            .delete::<Namespace>(
                None,
                zone,
                terraform_provider_crdb::kubernetes::Propagation::Background,
            )
            .await
            .map(drop)
            .unwrap_err(),
        _ => match client
            .wait_load_balancer(zone, "kube-dns-lb", deadline)
            .await
            .unwrap_err()
        {
            WaitError::Remote(error) => error,
            other => panic!("the wait did not report the cluster unreachable: {other}"),
        },
    };
    (error, started.elapsed())
}

/// The detail of call `call` against a cluster that answers nothing, after checking that it failed as unreachable
/// once the 5 s unreachable timeout had passed, and not much later.
async fn unreachable_within_five_seconds(
    client: &ClusterClient,
    call: &str,
    deadline: &Deadline,
) -> String {
    let (error, waited) = failed_call(client, call, deadline).await;
    assert!(
        (Duration::from_secs(5)..Duration::from_secs(11)).contains(&waited),
        "{call} ended after {waited:?}: {error}"
    );
    unreachable_detail(error)
}

/// A server that resets every connection as soon as it is accepted, as a proxy in front of a cut-off API server
/// does; its `https://` address.
async fn resetting_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("https://{}", listener.local_addr().unwrap());
    let resetting = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            // Closing with a zero linger sends RST instead of FIN.
            let _ = socket.set_zero_linger();
            drop(socket);
        }
    });
    (address, resetting)
}

#[tokio::test]
async fn a_cluster_resetting_every_connection_is_reported_unreachable_at_the_unreachable_timeout() {
    let (address, _server) = resetting_server().await;
    let deadline = Deadline::after(Duration::from_secs(600), &CancellationToken::new());
    let client = client_of_silent(&address, "5s", &deadline).await;
    for call in ["delete", "wait"] {
        let text = unreachable_within_five_seconds(&client, call, &deadline).await;
        assert!(text.contains(&format!("on {address}")), "{text}");
        assert!(
            text.contains(
                "within 5s (kubernetes.unreachable_timeout): every connection was dropped"
            ),
            "{text}"
        );
    }
}

/// An API server (plain HTTP on loopback, as `kubectl proxy` serves) that starts every answer, `200 OK` and part
/// of a body, then resets the connection: a proxy or load balancer dropping connections mid-stream.
async fn server_resetting_mid_answer() -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let resetting = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n\
                          {\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":",
                    )
                    .await;
                let _ = socket.flush().await;
                let _ = socket.set_zero_linger();
            });
        }
    });
    (address, resetting)
}

#[tokio::test]
async fn a_cluster_resetting_every_answer_mid_stream_is_reported_unreachable_at_the_unreachable_timeout(
) {
    let (address, _server) = server_resetting_mid_answer().await;
    let deadline = Deadline::after(Duration::from_secs(600), &CancellationToken::new());
    let block = ConnectionModel {
        host: known(&address),
        token: known("t0ken"),
        unreachable_timeout: known("5s"),
        ..Default::default()
    };
    let client = connection::connect_for_apply(
        &OperationContext::default(),
        &Attr::Known(block.to_value()),
        "region",
        &deadline,
    )
    .await
    .expect("a client");
    for call in ["get", "wait"] {
        let text = unreachable_within_five_seconds(&client, call, &deadline).await;
        assert!(text.contains(&format!("on {address}")), "{text}");
        assert!(
            text.contains("within 5s (kubernetes.unreachable_timeout)"),
            "{text}"
        );
    }
}

/// A host name no DNS server knows (`.invalid` never resolves) is an unreachable cluster, reported at the
/// unreachable timeout with the name: DNS outages end, and a misspelt name says so in the error.
#[tokio::test]
async fn a_host_name_that_does_not_resolve_is_reported_unreachable_naming_it() {
    let deadline = Deadline::after(Duration::from_secs(600), &CancellationToken::new());
    let address = "https://api.no-such-cluster.invalid:6443";
    let client = client_of_silent(address, "5s", &deadline).await;
    let text = unreachable_within_five_seconds(&client, "get", &deadline).await;
    assert!(
        text.contains(&format!("get Namespace us-east1-b on {address}")),
        "{text}"
    );
    assert!(
        text.contains("no attempt could connect, the last failed with: failed to lookup address"),
        "{text}"
    );
}

#[tokio::test]
async fn a_call_that_is_never_answered_ends_with_the_operations_deadline_when_that_is_sooner() {
    let (address, _server) = silent_server().await;
    let deadline = Deadline::after(Duration::from_secs(2), &CancellationToken::new());
    let client = client_of_silent(&address, "10m", &deadline).await;
    let started = Instant::now();
    let error = client.apply(&namespace("us-east1-b")).await.unwrap_err();
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(8), "ended after {waited:?}");
    // Nothing refused a connection: the operation's time ran out, which is a timeout, not an outage.
    assert_eq!(error.failure(), Failure::OutOfTime, "{error}");
    let diags = error.to_diagnostics();
    assert_eq!(
        diags.0[0].summary,
        "Timed out waiting for the Kubernetes API server"
    );
    let text = detail(&diags);
    assert!(
        text.contains("raise the resource's `timeouts` block"),
        "{text}"
    );
    assert!(
        text.contains(&format!("apply Namespace us-east1-b on {address}")),
        "{text}"
    );
    assert!(
        text.contains("all that was left of the operation's timeout"),
        "{text}"
    );
}

#[tokio::test]
async fn kubeconfig_files_and_exec_plugins_connect() {
    let sandbox = sandbox(&["east", "west"]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    sandbox.write_kubeconfig(&path).unwrap();
    let block = ConnectionModel {
        config_path: known(path.to_str().unwrap()),
        config_context: known("west"),
        ..Default::default()
    };
    let client = connect(&block).await;
    let west = &sandbox.clusters()[1];
    assert!(client.label().contains(&west.url()), "{}", client.label());
    client.apply(&namespace("europe-west1-b")).await.unwrap();
    let namespaces = kube_sandbox::resources::resource_type("namespaces").unwrap();
    assert!(west
        .store()
        .get(namespaces, None, "europe-west1-b")
        .is_some());

    // A credential plugin that prints the cluster's token, as gke-gcloud-auth-plugin would.
    let east = &sandbox.clusters()[0];
    let plugin = dir.path().join("print-token");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\
             \"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
            east.token()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let block = ConnectionModel {
        token: Attr::Null,
        exec: Attr::Known(ExecModel {
            command: known(plugin.to_str().unwrap()),
            ..Default::default()
        }),
        ..token_block(east, "")
    };
    let client = connect(&block).await;
    let namespaces: Vec<Namespace> = client.list(None, "").await.unwrap();
    assert!(namespaces
        .iter()
        .any(|n| n.metadata.name.as_deref() == Some("kube-system")));
}

#[tokio::test]
async fn waits_for_a_load_balancer_address() {
    let sandbox = sandbox(&["east"]).await;
    let cluster = &sandbox.clusters()[0];
    let client = client(cluster).await;
    client.apply(&namespace("us-east1-b")).await.unwrap();
    client
        .apply(&load_balancer("us-east1-b", "kube-dns-lb"))
        .await
        .unwrap();

    // The cloud's load balancer controller, a little later.
    let kube = client.kube().clone();
    let assign = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assign_dns_lb_address(kube).await;
    });
    let deadline = Deadline::after(Duration::from_secs(20), &CancellationToken::new());
    let address = client
        .wait_load_balancer("us-east1-b", "kube-dns-lb", &deadline)
        .await
        .unwrap();
    assert_eq!(address, "35.1.2.3");
    assign.await.unwrap();
}

#[tokio::test]
async fn a_rollout_timeout_names_each_pod_that_is_not_ready() {
    let sandbox = sandbox(&["east"]).await;
    let cluster = &sandbox.clusters()[0];
    let client = client(cluster).await;
    client.apply(&namespace("us-east1-b")).await.unwrap();
    let set = client
        .apply(&statefulset("us-east1-b", "cockroachdb", 3))
        .await
        .unwrap();
    // No controllers run; this plays the StatefulSet controller having seen the spec, one pod
    // existing but crash-looping, and the others never created.
    let sets: Api<StatefulSet> = Api::namespaced(client.kube().clone(), "us-east1-b");
    sets.patch_status(
        "cockroachdb",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "observedGeneration": set.metadata.generation, "replicas": 1, "readyReplicas": 0
        }})),
    )
    .await
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.kube().clone(), "us-east1-b");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "cockroachdb-0", "labels": {"app": "cockroachdb"}},
        "spec": {"containers": [{"name": "cockroachdb", "image": "cockroachdb/cockroach:v24.1.0"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    pods.patch_status(
        "cockroachdb-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{
                "name": "cockroachdb", "image": "cockroachdb/cockroach:v24.1.0", "imageID": "",
                "ready": false, "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting failed container"}}
            }]
        }})),
    )
    .await
    .unwrap();

    let deadline = Deadline::after(Duration::from_secs(1), &CancellationToken::new());
    let started = Instant::now();
    let error = client
        .wait_rolled_out("us-east1-b", "cockroachdb", &deadline)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the deadline"
    );
    assert!(matches!(error, WaitError::TimedOut { .. }), "{error}");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "StatefulSet us-east1-b/cockroachdb on {}: 0 of 3 pods ready",
            cluster.url()
        )),
        "{text}"
    );
    assert!(text.contains("after 1s"), "{text}");
    assert!(
        text.contains("cockroachdb-0 (CrashLoopBackOff: back-off 1m20s restarting failed container; 4 restarts)"),
        "{text}"
    );
    assert!(text.contains("cockroachdb-1 (not created)"), "{text}");
    assert!(text.contains("cockroachdb-2 (not created)"), "{text}");
}

#[tokio::test]
async fn a_namespace_stuck_terminating_ends_in_a_timeout_that_says_why() {
    let sandbox = sandbox(&["east"]).await;
    let client = client(&sandbox.clusters()[0]).await;
    client.apply(&namespace("us-east1-b")).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.kube().clone(), "us-east1-b");
    let held: Pod = serde_json::from_value(json!({
        "metadata": {"name": "cockroachdb-0", "finalizers": ["example.com/hold"]},
        "spec": {"containers": [{"name": "cockroachdb", "image": "cockroachdb/cockroach:v24.1.0"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &held).await.unwrap();
    assert!(client
        .delete::<Pod>(Some("us-east1-b"), "cockroachdb-0", Propagation::Background)
        .await
        .unwrap());
    assert!(client
        .delete::<Namespace>(None, "us-east1-b", Propagation::Foreground)
        .await
        .unwrap());
    // Without the namespace controller nothing removes the `kubernetes` finalizer.
    let deadline = Deadline::after(Duration::from_millis(800), &CancellationToken::new());
    let error = client
        .wait_namespace_deleted("us-east1-b", &deadline)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("Namespace us-east1-b on "), "{text}");
    assert!(
        text.contains("still Terminating after 800ms; finalizers kubernetes; "),
        "{text}"
    );
    assert!(
        text.contains("remaining: Pod cockroachdb-0 (waiting for finalizers example.com/hold)"),
        "{text}"
    );

    // A namespace that is really gone ends the wait at once.
    let deadline = Deadline::after(Duration::from_secs(10), &CancellationToken::new());
    client
        .wait_namespace_deleted("never-existed", &deadline)
        .await
        .unwrap();
}

#[tokio::test]
async fn terraform_stop_ends_a_wait_promptly() {
    let sandbox = sandbox(&["east"]).await;
    let client = client(&sandbox.clusters()[0]).await;
    client.apply(&namespace("us-east1-b")).await.unwrap();
    client
        .apply(&load_balancer("us-east1-b", "kube-dns-lb"))
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let deadline = Deadline::after(Duration::from_secs(600), &stop);
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stopper.cancel();
    });
    let started = Instant::now();
    let error = client
        .wait_load_balancer("us-east1-b", "kube-dns-lb", &deadline)
        .await
        .unwrap_err();
    assert!(matches!(error, WaitError::Stopped { .. }), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn calls_and_waits_survive_an_injected_fault_rate() {
    let mut options = SandboxOptions::new(&["east"]);
    options.fault_rate = 0.3;
    options.seed = 7;
    let sandbox = Sandbox::start(options).await.unwrap();
    let client = client(&sandbox.clusters()[0]).await;
    client.apply(&namespace("us-east1-b")).await.unwrap();
    for i in 0..8 {
        let name = format!("cm-{i}");
        client
            .apply(&config_map("us-east1-b", &name, "v"))
            .await
            .unwrap();
        let read: Option<ConfigMap> = client.get(Some("us-east1-b"), &name).await.unwrap();
        assert!(read.is_some());
    }
    let listed: Vec<ConfigMap> = client.list(Some("us-east1-b"), "app=crdb").await.unwrap();
    assert_eq!(listed.len(), 8);

    // The watch behind a wait is cut by faults too, and resumes.
    client
        .apply(&load_balancer("us-east1-b", "kube-dns-lb"))
        .await
        .unwrap();
    let deadline = Deadline::after(Duration::from_secs(30), &CancellationToken::new());
    let assigner = client.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let services: Api<Service> = Api::namespaced(assigner.kube().clone(), "us-east1-b");
        let patch = Patch::Merge(
            json!({"status": {"loadBalancer": {"ingress": [{"hostname": "a1.elb.example"}]}}}),
        );
        let params = PatchParams::default();
        assigner
            .retry_policy()
            .run("patch status", || {
                services.patch_status("kube-dns-lb", &params, &patch)
            })
            .await
            .unwrap();
    });
    let address = client
        .wait_load_balancer("us-east1-b", "kube-dns-lb", &deadline)
        .await
        .unwrap();
    assert_eq!(address, "a1.elb.example");
}

/// With the emulated controllers running, the waits end when the cluster gets there: a
/// StatefulSet rolls out and rolls an image upgrade through, the cloud assigns a load balancer
/// address, and a deleted namespace disappears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_end_when_the_controllers_get_there() {
    let mut options = SandboxOptions::new(&["east"]);
    options.controllers = true;
    options.speed = 100.0;
    let sandbox = Sandbox::start(options).await.unwrap();
    let client = client(&sandbox.clusters()[0]).await;
    let stop = CancellationToken::new();
    client.apply(&namespace("us-east1-b")).await.unwrap();

    let mut set = statefulset("us-east1-b", "web", 2);
    client.apply(&set).await.unwrap();
    let deadline = Deadline::after(Duration::from_secs(60), &stop);
    let rolled = client
        .wait_rolled_out("us-east1-b", "web", &deadline)
        .await
        .unwrap();
    assert_eq!(rolled.status.as_ref().unwrap().ready_replicas, Some(2));

    let template = &mut set.spec.as_mut().unwrap().template;
    template.spec.as_mut().unwrap().containers[0].image =
        Some("cockroachdb/cockroach:v24.2.0".into());
    let applied = client.apply(&set).await.unwrap();
    let upgraded = client
        .wait_rolled_out("us-east1-b", "web", &deadline)
        .await
        .unwrap();
    let status = upgraded.status.unwrap();
    assert!(upgraded.metadata.generation >= applied.metadata.generation);
    assert_eq!(status.current_revision, status.update_revision);
    let pods: Vec<Pod> = client.list(Some("us-east1-b"), "app=web").await.unwrap();
    assert!(pods.iter().all(|p| {
        p.spec.as_ref().unwrap().containers[0].image.as_deref()
            == Some("cockroachdb/cockroach:v24.2.0")
    }));

    client
        .apply(&load_balancer("us-east1-b", "kube-dns-lb"))
        .await
        .unwrap();
    let address = client
        .wait_load_balancer("us-east1-b", "kube-dns-lb", &deadline)
        .await
        .unwrap();
    assert!(!address.is_empty());

    assert!(client
        .delete::<Namespace>(None, "us-east1-b", Propagation::Foreground)
        .await
        .unwrap());
    client
        .wait_namespace_deleted("us-east1-b", &deadline)
        .await
        .unwrap();
    assert!(client
        .get::<Namespace>(None, "us-east1-b")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_job_wait_reports_how_the_job_ended() {
    let sandbox = sandbox(&["east"]).await;
    let client = client(&sandbox.clusters()[0]).await;
    client.apply(&namespace("us-east1-b")).await.unwrap();
    let job: k8s_openapi::api::batch::v1::Job = serde_json::from_value(json!({
        "metadata": {"name": "cluster-init", "namespace": "us-east1-b"},
        "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "cluster-init", "image": "cockroachdb/cockroach:v24.1.0", "command": ["/cockroach/cockroach", "init"]}
        ]}}}
    }))
    .unwrap();
    client.apply(&job).await.unwrap();
    // The job controller, a little later: the init command failed twice.
    let jobs: Api<k8s_openapi::api::batch::v1::Job> =
        Api::namespaced(client.kube().clone(), "us-east1-b");
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        jobs.patch_status(
            "cluster-init",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"failed": 2, "conditions": [{
                "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit"
            }]}})),
        )
        .await
        .unwrap();
    });
    let deadline = Deadline::after(Duration::from_secs(20), &CancellationToken::new());
    let outcome = client
        .wait_job_finished("us-east1-b", "cluster-init", &deadline)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        terraform_provider_crdb::kubernetes::readiness::JobOutcome::Failed(
            "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
        )
    );

    // A job that never finishes: the timeout names its pod and why it is stuck.
    let mut stuck = job.clone();
    stuck.metadata.name = Some("stuck-init".into());
    client.apply(&stuck).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.kube().clone(), "us-east1-b");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "stuck-init-x7k2p", "labels": {"batch.kubernetes.io/job-name": "stuck-init"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "cluster-init", "image": "cockroachdb/cockroach:v99"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    pods.patch_status(
        "stuck-init-x7k2p",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Pending", "containerStatuses": [{
            "name": "cluster-init", "image": "cockroachdb/cockroach:v99", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff",
            "message": "Back-off pulling image \"cockroachdb/cockroach:v99\""}}
        }]}})),
    )
    .await
    .unwrap();
    let deadline = Deadline::after(Duration::from_millis(500), &CancellationToken::new());
    let error = client
        .wait_job_finished("us-east1-b", "stuck-init", &deadline)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("Job us-east1-b/stuck-init on ")
            && text.contains("0 active, 0 succeeded, 0 failed pods after 500ms; pods: stuck-init-x7k2p (ImagePullBackOff: Back-off pulling image"),
        "{text}"
    );
}

#[tokio::test]
async fn a_job_left_finished_is_started_afresh_and_a_running_one_is_left_alone() {
    use k8s_openapi::api::batch::v1::Job;
    let sandbox = sandbox(&["east"]).await;
    let client = client(&sandbox.clusters()[0]).await;
    client.apply(&namespace("us-east1-b")).await.unwrap();
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "decommission-2", "namespace": "us-east1-b"},
        "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "decommission", "image": "cockroachdb/cockroach:v24.1.0",
             "command": ["/cockroach/cockroach", "node", "decommission", "--self"]}
        ]}}}
    }))
    .unwrap();
    let jobs: Api<Job> = Api::namespaced(client.kube().clone(), "us-east1-b");
    let deadline = Deadline::after(Duration::from_secs(20), &CancellationToken::new());
    let uid = |job: Option<Job>| job.and_then(|j| j.metadata.uid).unwrap();

    client.start_job(&job, &deadline).await.unwrap();
    let first = uid(jobs.get_opt("decommission-2").await.unwrap());
    client.start_job(&job, &deadline).await.unwrap();
    assert_eq!(
        uid(jobs.get_opt("decommission-2").await.unwrap()),
        first,
        "a Job still running is not restarted"
    );

    jobs.patch_status(
        "decommission-2",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"failed": 2, "conditions": [{
            "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"
        }]}})),
    )
    .await
    .unwrap();
    client.start_job(&job, &deadline).await.unwrap();
    let again = jobs.get_opt("decommission-2").await.unwrap().unwrap();
    assert_ne!(
        again.metadata.uid.as_deref(),
        Some(first.as_str()),
        "a new Job"
    );
    assert!(
        !terraform_provider_crdb::kubernetes::readiness::job_has_failed(&again),
        "the new Job starts without the old failure: {:?}",
        again.status
    );

    // A succeeded Job left behind is no run of the Job asked for now.
    let second = again.metadata.uid.unwrap();
    jobs.patch_status(
        "decommission-2",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"succeeded": 1, "conditions": [{
            "type": "Complete", "status": "True"
        }]}})),
    )
    .await
    .unwrap();
    client.start_job(&job, &deadline).await.unwrap();
    let third = jobs.get_opt("decommission-2").await.unwrap().unwrap();
    assert_ne!(
        third.metadata.uid.as_deref(),
        Some(second.as_str()),
        "a new Job"
    );
    assert!(terraform_provider_crdb::kubernetes::readiness::job_outcome(&third).is_none());
}

#[tokio::test]
async fn a_failed_job_is_explained_by_what_its_last_failed_attempt_said() {
    let sandbox = sandbox(&["east"]).await;
    let client = client(&sandbox.clusters()[0]).await;
    client.apply(&namespace("us-east1-b")).await.unwrap();
    assert_eq!(
        client
            .job_failure_message("us-east1-b", "cockroachdb-init")
            .await,
        None,
        "no pods, nothing to quote"
    );
    let pods: Api<Pod> = Api::namespaced(client.kube().clone(), "us-east1-b");
    for (name, exit_code, finished, message) in [
        (
            "cockroachdb-init-a",
            1,
            "2026-01-01T00:00:01Z",
            "ERROR: cannot dial server",
        ),
        (
            "cockroachdb-init-b",
            1,
            "2026-01-01T00:00:09Z",
            "ERROR: x509: certificate signed by unknown authority\n",
        ),
        ("cockroachdb-init-c", 0, "2026-01-01T00:00:20Z", "done"),
    ] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"job-name": "cockroachdb-init"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "cluster-init", "image": "cockroachdb/cockroach:v24.1.0"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        pods.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Failed", "containerStatuses": [{
                "name": "cluster-init", "image": "cockroachdb/cockroach:v24.1.0", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"terminated": {"exitCode": exit_code, "reason": "Error",
                "finishedAt": finished, "message": message}}
            }]}})),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        client
            .job_failure_message("us-east1-b", "cockroachdb-init")
            .await
            .as_deref(),
        Some("ERROR: x509: certificate signed by unknown authority"),
        "the latest failed attempt, trimmed; a successful exit is no failure"
    );
}

#[tokio::test]
async fn a_failing_credential_plugin_is_reported_as_such() {
    let sandbox = sandbox(&["east"]).await;
    let east = &sandbox.clusters()[0];
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("not-logged-in");
    std::fs::write(
        &plugin,
        "#!/bin/sh\necho 'ERROR: (gcloud) You do not currently have an active account selected.' >&2\nexit 1\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let block = ConnectionModel {
        token: Attr::Null,
        exec: Attr::Known(ExecModel {
            command: known(plugin.to_str().unwrap()),
            ..Default::default()
        }),
        ..token_block(east, "")
    };
    let at = AttributePath::root(connection::BLOCK_NAME);
    let connection = connection::resolve(&block.to_value(), &at)
        .unwrap()
        .unwrap();
    let error = ClusterClient::connect(&connection).await.unwrap_err();
    let diags = error.to_diagnostics(&at);
    assert_eq!(
        diags.0[0].path.as_ref().unwrap().to_string(),
        "kubernetes.exec"
    );
    assert_eq!(
        diags.0[0].detail,
        format!(
            "cannot connect to {}: the credential plugin failed (exit status: 1): ERROR: (gcloud) You do not \
             currently have an active account selected.",
            east.url()
        )
    );
}

#[tokio::test]
async fn terraform_stop_abandons_a_slow_call() {
    let sandbox = sandbox(&["east"]).await;
    let stop = CancellationToken::new();
    let client = client(&sandbox.clusters()[0]).await.with_stop(&stop);
    sandbox
        .set_latency("east", Duration::from_secs(20))
        .unwrap();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stopper.cancel();
    });
    let started = Instant::now();
    let error = client.apply(&namespace("us-east1-b")).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(error.failure(), Failure::Stopped);
    assert_eq!(error.summary(), "Stopped");
}

#[tokio::test]
async fn tls_server_name_is_the_name_the_certificate_is_checked_against() {
    let sandbox = sandbox(&["east"]).await;
    let east = &sandbox.clusters()[0];
    let named = |name: &str| ConnectionModel {
        tls_server_name: known(name),
        ..token_block(east, east.token())
    };
    let client = connect(&named("kubernetes.default.svc")).await;
    client.get::<Namespace>(None, "default").await.unwrap();
    let client = connect(&named("api.elsewhere.example"))
        .await
        .with_retry(quick_retries());
    let error = client.get::<Namespace>(None, "default").await.unwrap_err();
    assert_eq!(error.failure(), Failure::Tls, "{error}");
}

/// The guarded read-modify-write of a shared ConfigMap: an edit applies to what is there, a
/// concurrent write by someone else is re-read and kept, and every call rides the retry policy
/// through injected faults (as crdb_dns_link's writes to kube-dns and CoreDNS do).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_map_edits_keep_concurrent_writes_and_survive_faults() {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut options = SandboxOptions::new(&["east"]);
    options.fault_rate = 0.3;
    options.seed = 11;
    let sandbox = Sandbox::start(options).await.unwrap();
    let client = client(&sandbox.clusters()[0])
        .await
        .with_retry(RetryPolicy {
            attempts: 8,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        });
    let add = |key: &'static str| {
        move |data: &BTreeMap<String, String>| {
            let mut data = data.clone();
            data.insert(key.to_string(), "ours".to_string());
            Ok::<_, std::convert::Infallible>(data)
        }
    };
    // Absent at first: created.
    client
        .edit_config_map("kube-system", "shared", add("first"))
        .await
        .unwrap();
    // Someone else writes between our read and our write, once: the edit runs again on their
    // version and both entries survive.
    let meddled = AtomicUsize::new(0);
    let other = client.clone();
    client
        .edit_config_map("kube-system", "shared", |data| {
            if meddled.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(async {
                        other
                            .merge_patch::<ConfigMap>(
                                Some("kube-system"),
                                "shared",
                                &json!({"data": {"value": "theirs"}}),
                            )
                            .await
                            .unwrap();
                    })
                });
            }
            add("second")(data)
        })
        .await
        .unwrap();
    assert!(meddled.load(Ordering::SeqCst) >= 2, "the edit ran again");
    let live: ConfigMap = client
        .get(Some("kube-system"), "shared")
        .await
        .unwrap()
        .unwrap();
    let data = live.data.unwrap();
    assert_eq!(data.get("value").map(String::as_str), Some("theirs"));
    assert_eq!(data.get("first").map(String::as_str), Some("ours"));
    assert_eq!(data.get("second").map(String::as_str), Some("ours"));

    // An edit that refuses what it finds says so, naming the object and the cluster.
    let refused = client
        .edit_config_map("kube-system", "shared", |_| {
            Err(std::io::Error::other("not a JSON object"))
        })
        .await
        .unwrap_err();
    let diags = Diagnostics::from(refused);
    assert!(
        diags.0[0]
            .summary
            .starts_with("Cannot merge into ConfigMap kube-system/shared on "),
        "{diags:?}"
    );
}

#[tokio::test]
async fn the_pods_proxy_returns_what_the_node_answered_even_when_it_is_not_2xx() {
    let mut options = SandboxOptions::new(&["east"]);
    options.controllers = true;
    let sandbox = Sandbox::start(options).await.expect("sandbox starts");
    let cluster = &sandbox.clusters()[0];
    let client = client(cluster).await;
    client.apply(&namespace("us-east1-b")).await.unwrap();
    let missing = client
        .pod_https_get("us-east1-b", "cockroachdb-0", 8080, "/health?ready=1")
        .await
        .unwrap();
    assert_eq!(missing.status, 404, "{missing:?}");
    assert!(!missing.is_success());
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "cockroachdb-0", "namespace": "us-east1-b"},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    }))
    .unwrap();
    client.apply(&pod).await.unwrap();
    let not_running = client
        .pod_https_get("us-east1-b", "cockroachdb-0", 8080, "/health?ready=1")
        .await
        .unwrap();
    assert_eq!(not_running.status, 503, "{not_running:?}");
    assert!(
        not_running.body.contains("connection refused"),
        "{not_running:?}"
    );
}

/// What the cloud's load balancer controller does for `us-east1-b/kube-dns-lb`: gives it the address 35.1.2.3.
async fn assign_dns_lb_address(kube: kube::Client) {
    let services: Api<Service> = Api::namespaced(kube, "us-east1-b");
    services
        .patch_status(
            "kube-dns-lb",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"loadBalancer": {"ingress": [{"ip": "35.1.2.3"}]}}})),
        )
        .await
        .unwrap();
}

/// Under an EKS-like cloud the provider's old DNS load balancer (UDP and TCP on one Service) never gets an address:
/// the wait says so as soon as the controller's event appears, naming the Service and the event, instead of
/// waiting out its deadline. The Service given one protocol then gets its address through the same wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_balancer_the_cloud_refuses_ends_the_wait_early_naming_the_service_and_the_event() {
    let mut options = SandboxOptions::new(&["east"]);
    options.controllers = true;
    options.speed = 100.0;
    options.lb_hostnames = true;
    options.lb_rules = kube_sandbox::world::LbRules::Eks;
    let sandbox = Sandbox::start(options).await.unwrap();
    let client = client(&sandbox.clusters()[0]).await;
    client.apply(&namespace("us-east1-b")).await.unwrap();
    let service = |ports: serde_json::Value| -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "crdb-dns-us-east1-b", "namespace": "us-east1-b", "annotations": {
                "service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}},
            "spec": {"type": "LoadBalancer", "selector": {"k8s-app": "kube-dns"}, "ports": ports}
        }))
        .unwrap()
    };
    client
        .apply(&service(json!([
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        ])))
        .await
        .unwrap();
    let deadline = Deadline::after(Duration::from_secs(120), &CancellationToken::new());
    let started = Instant::now();
    let error = client
        .wait_load_balancer("us-east1-b", "crdb-dns-us-east1-b", &deadline)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "ended early: {:?}",
        started.elapsed()
    );
    let text = error.to_string();
    assert!(matches!(error, WaitError::CannotEnd { .. }), "{text}");
    for part in [
        "Service us-east1-b/crdb-dns-us-east1-b",
        "SyncLoadBalancerFailed",
        "mixed protocol is not supported for LoadBalancer",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }

    // One protocol: the event left from before no longer counts, and the address comes.
    client
        .apply(&service(
            json!([{"name": "dns-tcp", "port": 53, "protocol": "TCP"}]),
        ))
        .await
        .unwrap();
    let address = client
        .wait_load_balancer("us-east1-b", "crdb-dns-us-east1-b", &deadline)
        .await
        .unwrap();
    assert!(
        address.ends_with(".invalid") || !address.is_empty(),
        "{address}"
    );
}
