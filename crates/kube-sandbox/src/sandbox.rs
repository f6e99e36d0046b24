//! `Sandbox::start`: N emulated clusters in-process, each its own HTTPS API server on loopback.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::server::ApiServer;
use crate::clock::Clock;
use crate::controllers::{self, ControllerContext, Running};
use crate::faults::Faults;
use crate::kubeconfig;
use crate::resources::resource_type;
use crate::store::Store;
use crate::world::{ClusterProfile, World};

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub name: String,
    /// `kube-dns` (GKE-like) or `coredns` (EKS/kind-like).
    pub dns: String,
}

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub clusters: Vec<ClusterOptions>,
    /// Added to every request (a cluster in a far region).
    pub latency: Duration,
    /// Share of requests answered 500/503/429 or reset.
    pub fault_rate: f64,
    pub seed: u64,
    /// How much faster than real time the emulated controllers run.
    pub speed: f64,
    /// LoadBalancer services get hostnames (AWS-like) instead of IPs.
    pub lb_hostnames: bool,
    /// Which LoadBalancer Services every cluster's cloud provisions (today's: all of them).
    pub lb_rules: crate::world::LbRules,
    /// Bootstrap each cluster and run the emulated controllers and CockroachDB
    /// (`Sandbox::start_controllers`). Off: API servers only, objects stay as written.
    pub controllers: bool,
    /// Ranges each emulated CockroachDB cluster holds once initialised.
    pub ranges: u32,
    /// Paths the emulated network drops from the start (with controllers on).
    pub blocked: Vec<crate::world::BlockedPath>,
}

impl SandboxOptions {
    pub fn new(names: &[&str]) -> SandboxOptions {
        SandboxOptions {
            clusters: names
                .iter()
                .map(|n| ClusterOptions {
                    name: n.to_string(),
                    dns: "kube-dns".into(),
                })
                .collect(),
            latency: Duration::ZERO,
            fault_rate: 0.0,
            seed: 0,
            speed: 1.0,
            lb_hostnames: false,
            lb_rules: crate::world::LbRules::default(),
            controllers: false,
            ranges: crate::cockroach::cluster::DEFAULT_RANGES,
            blocked: Vec::new(),
        }
    }
}

pub struct Cluster {
    pub name: String,
    pub dns: String,
    server: Arc<ApiServer>,
}

impl Cluster {
    pub fn url(&self) -> String {
        self.server.url()
    }
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }
    pub fn ca_pem(&self) -> &str {
        &self.server.ca_pem
    }
    pub fn token(&self) -> &str {
        &self.server.token
    }
    pub fn store(&self) -> &Arc<Store> {
        &self.server.store
    }
    pub fn faults(&self) -> &Arc<Faults> {
        &self.server.faults
    }
    /// Serves `pods/{name}/log` from `source` (set by `Sandbox::start` when controllers run).
    pub fn set_log_source(&self, source: crate::api::LogSource) {
        self.server.set_log_source(source);
    }
}

pub struct Sandbox {
    clusters: Vec<Cluster>,
    pub started_in: Duration,
    controllers: Option<crate::controllers::Running>,
    lb_dns: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
}

fn cluster_seed(seed: u64, name: &str) -> u64 {
    let mut h = DefaultHasher::new();
    name.hash(&mut h);
    seed ^ h.finish()
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("system randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a fresh cluster holds before the controllers' bootstrap adds its parts.
fn base_namespaces(store: &Store) {
    let ns = resource_type("namespaces").expect("namespaces type");
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let _ = store.create(ns, json!({"metadata": {"name": name}}));
    }
}

impl Sandbox {
    /// Bootstraps every cluster (DNS add-on, nodes) and starts its controllers, all sharing one world. For
    /// `Sandbox::start` (or a test of a sandbox started without them) to call once the API servers are up.
    pub fn start_controllers(&self, speed: f64, lb_hostnames: bool) -> Running {
        let world = World::new();
        let mut handles = Vec::new();
        for c in self.clusters() {
            let dns = c.dns.parse().unwrap_or_default();
            crate::bootstrap::bootstrap_named(c.store(), dns, &c.name);
            world.register_cluster(
                &c.name,
                c.store().clone(),
                ClusterProfile {
                    dns,
                    lb_hostnames,
                    ..ClusterProfile::default()
                },
            );
            world.set_api_ca(&c.name, c.ca_pem());
            handles.extend(controllers::spawn_all(ControllerContext {
                cluster_name: c.name.clone(),
                store: c.store().clone(),
                world: world.clone(),
                clock: Clock::new(speed),
                upstream: None,
            }));
        }
        Running::new(world, handles)
    }

    pub async fn start(opts: SandboxOptions) -> std::io::Result<Sandbox> {
        let t0 = Instant::now();
        let mut names = std::collections::HashSet::new();
        for c in &opts.clusters {
            if crate::validate::dns1123_label(&c.name).is_some() || !names.insert(c.name.clone()) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("cluster name {:?} must be a unique DNS label", c.name),
                ));
            }
        }
        let starts = opts.clusters.iter().map(|c| {
            let seed = cluster_seed(opts.seed, &c.name);
            let store = Arc::new(Store::new(seed));
            base_namespaces(&store);
            let faults = Arc::new(Faults::new(opts.latency, opts.fault_rate, seed));
            let name = c.name.clone();
            let dns = c.dns.clone();
            async move {
                let addr: SocketAddr = "127.0.0.1:0".parse().expect("loopback address");
                let server = ApiServer::start(&name, addr, store, random_token(), faults).await?;
                Ok::<_, std::io::Error>(Cluster { name, dns, server })
            }
        });
        let mut clusters = Vec::new();
        for started in futures_util::future::join_all(starts).await {
            clusters.push(started?);
        }
        let mut sandbox = Sandbox {
            clusters,
            started_in: Duration::ZERO,
            controllers: None,
            lb_dns: None,
        };
        if opts.controllers {
            let running = sandbox.start_controllers(opts.speed, opts.lb_hostnames);
            running.world.cockroach().set_range_count(opts.ranges);
            for c in &sandbox.clusters {
                running.world.set_lb_rules(&c.name, opts.lb_rules);
            }
            for path in &opts.blocked {
                running.world.set_path_blocked(path.clone(), true);
            }
            for c in &sandbox.clusters {
                let world = running.world.clone();
                let cluster = c.name.clone();
                c.server
                    .set_log_source(Arc::new(move |ns: &str, pod: &str| {
                        world.pod_log(&cluster, ns, pod)
                    }));
                let (world, cluster) = (running.world.clone(), c.name.clone());
                c.server.set_proxy_source(Arc::new(move |target| {
                    crate::cockroach::http::serve(&world, &cluster, target)
                }));
                let world = running.world.clone();
                c.server
                    .set_availability_source(Arc::new(move |reset: bool| {
                        let seen = world.cockroach().availability();
                        if reset {
                            world.cockroach().reset_availability();
                        }
                        serde_json::to_value(seen).unwrap_or_default()
                    }));
            }
            if opts.lb_hostnames {
                sandbox.lb_dns = Some(crate::lb_dns::start(running.world.clone()).await?);
            }
            sandbox.controllers = Some(running);
        }
        sandbox.started_in = t0.elapsed();
        Ok(sandbox)
    }

    /// The loopback DNS server that resolves load balancer host names (with `lb_hostnames` and
    /// controllers on), as a cloud's resolver would.
    pub fn lb_dns_addr(&self) -> Option<SocketAddr> {
        self.lb_dns.as_ref().map(|(addr, _)| *addr)
    }

    /// The shared world (clusters, LB addresses, CockroachDB state) when controllers run.
    pub fn world(&self) -> Option<&std::sync::Arc<crate::world::World>> {
        self.controllers.as_ref().map(|r| &r.world)
    }

    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    pub fn kubeconfig(&self) -> Value {
        let urls: Vec<String> = self.clusters.iter().map(Cluster::url).collect();
        let entries: Vec<kubeconfig::Entry> = self
            .clusters
            .iter()
            .zip(&urls)
            .map(|(c, url)| kubeconfig::Entry {
                name: &c.name,
                server: url,
                ca_pem: c.ca_pem(),
                token: c.token(),
            })
            .collect();
        kubeconfig::render(&entries)
    }

    pub fn write_kubeconfig(&self, path: &std::path::Path) -> std::io::Result<()> {
        kubeconfig::write(path, &self.kubeconfig())
    }

    fn server(&self, name: &str) -> std::io::Result<&Arc<ApiServer>> {
        self.cluster(name).map(|c| &c.server).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no cluster named {name}"),
            )
        })
    }

    /// Takes a cluster's API down (connections refused) or brings it back on the same address.
    pub async fn set_api_down(&self, name: &str, down: bool) -> std::io::Result<()> {
        self.server(name)?.set_down(down).await
    }

    pub fn set_latency(&self, name: &str, latency: Duration) -> std::io::Result<()> {
        self.server(name)?.faults.set_latency(latency);
        Ok(())
    }

    /// Drops TCP to `port` from cluster `from`'s pods to cluster `to`'s (a missing firewall rule or security
    /// group), or lets it through again; needs controllers. CockroachDB nodes cannot join across a dropped path.
    pub fn set_path_blocked(
        &self,
        from: &str,
        to: &str,
        port: u16,
        blocked: bool,
    ) -> std::io::Result<()> {
        self.server(from)?;
        self.server(to)?;
        let world = self.world().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "paths between clusters need controllers",
            )
        })?;
        let path = crate::world::BlockedPath {
            from: from.into(),
            to: to.into(),
            port,
        };
        world.set_path_blocked(path, blocked);
        Ok(())
    }

    /// From now on (`on`), cluster `name` keeps every write request to a resource whole, for
    /// [`Sandbox::take_captured`].
    pub fn capture_writes(&self, name: &str, on: bool) -> std::io::Result<()> {
        self.server(name)?.capture_writes(on);
        Ok(())
    }

    /// The write requests cluster `name` kept whole since the last call, oldest first.
    pub fn take_captured(
        &self,
        name: &str,
    ) -> std::io::Result<Vec<crate::api::server::CapturedRequest>> {
        Ok(self.server(name)?.take_captured())
    }

    /// The write requests (POST, PUT, PATCH, DELETE) cluster `name` served since the last call: `PATCH <path>`.
    pub fn take_writes(&self, name: &str) -> std::io::Result<Vec<String>> {
        Ok(self.server(name)?.take_writes())
    }

    pub fn set_fault_rate(&self, name: &str, rate: f64) -> std::io::Result<()> {
        self.server(name)?.faults.set_fault_rate(rate);
        Ok(())
    }
}

impl Drop for Sandbox {
    /// Dropping the sandbox stops its servers; the accept loops would otherwise keep them alive.
    fn drop(&mut self) {
        for c in &self.clusters {
            c.server.shutdown();
        }
        if let Some((_, task)) = &self.lb_dns {
            task.abort();
        }
    }
}
