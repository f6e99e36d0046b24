//! The sandbox's node side attached to real control planes, the way KWOK attaches fake nodes: each cluster is a
//! real kube-apiserver with kube-controller-manager running the workload, garbage-collector and namespace
//! controllers, and the sandbox runs what a cluster's nodes and cloud do against it: the kubelets (scheduling,
//! pod status, restarts, logs), volume binding and expansion, load balancer addresses, the cluster's DNS and the
//! emulated CockroachDB. Its stores only mirror the real servers (`mirror.rs`); what its controllers write goes
//! to them (`upstream.rs`); the pods are served through a CONNECT proxy each API server is started with, and the
//! kubelets at an endpoint every Node names, so the API server's `pods/proxy` and `pods/log` reach them
//! (`pod_network.rs`).
//!
//! Not emulated when attached: a StorageClass's PersistentVolumes (a claim is bound by its status alone, no
//! volume object is made), graceful termination (a terminating pod's containers stop at once and the pod is
//! deleted for good), the scheduler's filters (pods go to the cluster's nodes in turn).

mod mirror;
mod pod_network;
mod upstream;

use std::sync::Arc;
use std::time::Duration;

use kube::api::{ApiResource, GroupVersionKind, PostParams};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::controllers::{self, meta, ControllerContext, Running};
use crate::store::{ResourceType, Store};
use crate::world::{ClusterProfile, DnsFlavour, World};

/// How long the mirrors may take to list a fresh control plane.
const SYNC_WITHIN: Duration = Duration::from_secs(60);

/// One real control plane to attach to.
pub struct AttachedCluster {
    pub name: String,
    pub client: kube::Client,
    /// Its API server's CA, as pods find it in `kube-root-ca.crt`.
    pub api_ca_pem: String,
    pub dns: DnsFlavour,
    /// The loopback port its kube-apiserver's `HTTPS_PROXY` names: the sandbox serves the pods there
    /// (`pod_network.rs`).
    pub pod_proxy_port: u16,
}

pub struct AttachOptions {
    pub clusters: Vec<AttachedCluster>,
    /// Cluster time per wall second of the emulated kubelets and CockroachDB (kube-controller-manager runs at 1).
    pub speed: f64,
    pub ranges: u32,
    /// What the kubelet endpoints present: a certificate for 127.0.0.1 signed by the CA the API servers were
    /// started with (`--kubelet-certificate-authority`), as `pods/log` checks it.
    pub kubelet_tls: Arc<rustls::ServerConfig>,
    /// What the pods' HTTPS ports present (the API server's `pods/proxy` does not check it).
    pub pod_tls: Arc<rustls::ServerConfig>,
}

/// The node side of attached clusters, stopped when dropped.
pub struct Attached {
    running: Running,
    tasks: Vec<JoinHandle<()>>,
}

impl Attached {
    /// Bootstraps every control plane as a fresh cluster of its kind (its nodes, naming this sandbox's kubelet
    /// endpoint; the DNS add-on; the default StorageClass), mirrors it, and starts the node-side controllers.
    pub async fn start(options: AttachOptions) -> Result<Attached, String> {
        let world = World::new();
        world.cockroach().set_range_count(options.ranges);
        let mut tasks = Vec::new();
        let mut contexts = Vec::new();
        // Each API server was started naming its port: bound first, so that nothing else takes it meanwhile.
        let mut pod_proxies = Vec::new();
        for cluster in &options.clusters {
            let port = cluster.pod_proxy_port;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(|e| {
                    format!(
                        "{}: the pod proxy does not start on port {port}: {e}",
                        cluster.name
                    )
                })?;
            pod_proxies.push(listener);
        }
        for (index, (cluster, pod_proxy)) in
            options.clusters.into_iter().zip(pod_proxies).enumerate()
        {
            let store = Arc::new(Store::new(index as u64));
            world.register_cluster(
                &cluster.name,
                store.clone(),
                ClusterProfile {
                    dns: cluster.dns,
                    ..ClusterProfile::default()
                },
            );
            world.set_api_ca(&cluster.name, &cluster.api_ca_pem);
            let (kubelet, task) = pod_network::serve_kubelet(
                &cluster.name,
                world.clone(),
                options.kubelet_tls.clone(),
            )
            .await
            .map_err(|e| format!("{}: the kubelet endpoint does not start: {e}", cluster.name))?;
            tasks.push(task);
            bootstrap(&cluster, kubelet.port()).await?;
            let (mirrors, mut synced) =
                mirror::start(&cluster.name, cluster.client.clone(), store.clone());
            tasks.extend(mirrors);
            let waited = tokio::time::timeout(SYNC_WITHIN, async {
                for listed in &mut synced {
                    let _ = listed.wait_for(|done| *done).await;
                }
            })
            .await;
            if waited.is_err() {
                return Err(format!(
                    "{}: the mirror did not list the control plane within {SYNC_WITHIN:?}",
                    cluster.name
                ));
            }
            tasks.push(pod_network::serve_pods(
                &cluster.name,
                world.clone(),
                pod_proxy,
                options.pod_tls.clone(),
            ));
            contexts.push(ControllerContext {
                cluster_name: cluster.name.clone(),
                store,
                world: world.clone(),
                clock: Clock::new(options.speed),
                upstream: Some(Arc::new(upstream::ClusterUpstream::start(
                    &cluster.name,
                    cluster.client.clone(),
                ))),
            });
        }
        let handles = contexts
            .into_iter()
            .flat_map(controllers::spawn_node_side)
            .collect();
        Ok(Attached {
            running: Running::new(world, handles),
            tasks,
        })
    }

    /// The emulated CockroachDB and what the clusters share.
    pub fn world(&self) -> &Arc<World> {
        &self.running.world
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// How kube-rs names `rt` for a dynamic API.
fn api_resource(rt: &ResourceType) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(rt.group, rt.version, rt.kind),
        rt.plural,
    )
}

/// Creates what a fresh cluster of the kind holds (namespaces, nodes, StorageClass, DNS add-on and its service
/// account), each node naming the sandbox's kubelet endpoint, as the kubelets register themselves.
async fn bootstrap(cluster: &AttachedCluster, kubelet_port: u16) -> Result<(), String> {
    let mut objects = crate::bootstrap::fresh_objects(cluster.dns, &cluster.name);
    let accounts: Vec<(&'static str, Value)> = objects
        .iter()
        .filter(|(plural, _)| *plural == "deployments")
        .filter_map(|(_, d)| meta::str_at(d, "/spec/template/spec/serviceAccountName"))
        .map(|account| {
            (
                "serviceaccounts",
                json!({"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": account, "namespace": "kube-system"}}),
            )
        })
        .collect();
    objects.extend(accounts);
    for (plural, mut object) in objects {
        if plural == "nodes" {
            object["status"]["addresses"] = json!([
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": meta::name(&object)},
            ]);
            object["status"]["daemonEndpoints"] =
                json!({"kubeletEndpoint": {"Port": kubelet_port}});
        }
        create(cluster, plural, object).await?;
    }
    Ok(())
}

async fn create(cluster: &AttachedCluster, plural: &str, object: Value) -> Result<(), String> {
    let api = upstream::api_for(&cluster.client, plural, meta::namespace(&object));
    let name = meta::name(&object).to_string();
    let status = object.get("status").cloned();
    let body = serde_json::from_value(object).map_err(|e| e.to_string())?;
    let failed = |e: kube::Error| format!("{}: creating {plural} {name}: {e}", cluster.name);
    match api.create(&PostParams::default(), &body).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => return Ok(()),
        Err(e) => return Err(failed(e)),
    }
    // A node's status is its kubelet's to write, through the subresource.
    if let (Some(status), "nodes") = (status, plural) {
        let mut live = api.get(&name).await.map_err(failed)?;
        live.data["status"] = status;
        api.replace_status(&name, &PostParams::default(), &live)
            .await
            .map_err(failed)?;
    }
    Ok(())
}
