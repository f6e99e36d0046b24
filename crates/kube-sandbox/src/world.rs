//! What all clusters of one sandbox share: the registry of clusters, the load-balancer address allocator
//! (TEST-NET addresses only: data, never connected to), what each cluster's DNS servers have loaded, and the
//! emulated CockroachDB cluster (initialisation, nodes, liveness, pod logs).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::cockroach::dns::DnsConfig;
use crate::store::Store;

/// Which DNS add-on a cluster runs, as a fresh cluster of that kind has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DnsFlavour {
    /// GKE: a `kube-dns` Deployment, stub domains in ConfigMap `kube-system/kube-dns`.
    #[default]
    KubeDns,
    /// EKS, kind, AKS: a `coredns` Deployment, a Corefile in ConfigMap `kube-system/coredns`.
    CoreDns,
}

impl std::str::FromStr for DnsFlavour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "kube-dns" | "kubedns" => Ok(DnsFlavour::KubeDns),
            "coredns" => Ok(DnsFlavour::CoreDns),
            other => Err(format!(
                "unknown DNS flavour {other:?} (kube-dns or coredns)"
            )),
        }
    }
}

/// How a cluster's cloud behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClusterProfile {
    pub dns: DnsFlavour,
    /// LoadBalancer Services get a hostname instead of an IP, as on AWS.
    pub lb_hostnames: bool,
}

#[derive(Clone)]
pub struct ClusterEntry {
    pub name: String,
    pub store: Arc<Store>,
    pub profile: ClusterProfile,
}

/// One load balancer the emulated cloud has provisioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub cluster: String,
    pub namespace: String,
    pub service: String,
    pub service_uid: String,
    pub ip: String,
    pub hostname: Option<String>,
    /// Provisioned as an internal load balancer (GKE/AWS/Azure annotations).
    pub internal: bool,
    /// The service's annotations at provisioning time, recorded for tests.
    pub annotations: BTreeMap<String, String>,
}

/// One CockroachDB node as the emulated cluster knows it; its identity lives in its store (the PVC), so a pod
/// recreated on the same PVC is the same node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// The CockroachDB cluster the node belongs to, named by its CA (nodes trusting one CA form one cluster).
    pub ca: String,
    pub node_id: u32,
    pub cluster: String,
    /// The namespace (zone) of the pod.
    pub zone: String,
    pub pod: String,
    /// The node's store: `<namespace>/<pvc>@<pvc uid>` or `pod:<uid>` for a pod without a PVC.
    pub store: String,
    /// The store is gone (PVC deleted, or the pod of a PVC-less node): the node can never come back.
    pub store_lost: bool,
    /// The node process is running and joined.
    pub live: bool,
    pub membership: Membership,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Active,
    Decommissioning,
    Decommissioned,
}

#[derive(Debug, Default)]
struct CockroachState {
    cluster_id: Option<String>,
    next_node_id: u32,
    nodes: BTreeMap<(String, String), NodeStatus>, // (cluster, store) -> node
}

#[derive(Default)]
struct State {
    clusters: BTreeMap<String, ClusterEntry>,
    next_lb: u32,
    lbs: BTreeMap<(String, String), LoadBalancer>, // (cluster, service uid)
    dns_loaded: BTreeMap<String, DnsConfig>,
    cockroach: BTreeMap<String, CockroachState>, // CA key -> cluster
    logs: BTreeMap<(String, String, String), String>, // (cluster, namespace, pod)
}

#[derive(Default)]
pub struct World {
    state: Mutex<State>,
}

/// Addresses a cloud would hand out, from the documentation ranges only: these are never reachable.
const EXTERNAL_RANGES: [[u8; 3]; 2] = [[203, 0, 113], [192, 0, 2]];
const INTERNAL_RANGE: [u8; 3] = [198, 51, 100];

impl World {
    pub fn new() -> Arc<World> {
        Arc::new(World::default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register_cluster(&self, name: &str, store: Arc<Store>, profile: ClusterProfile) {
        self.lock().clusters.insert(
            name.to_string(),
            ClusterEntry {
                name: name.to_string(),
                store,
                profile,
            },
        );
    }

    pub fn cluster(&self, name: &str) -> Option<ClusterEntry> {
        self.lock().clusters.get(name).cloned()
    }

    pub fn clusters(&self) -> Vec<ClusterEntry> {
        self.lock().clusters.values().cloned().collect()
    }

    /// The load balancer for a service, provisioning one if there is none yet. Addresses are never reused, so a
    /// recreated service gets a new one and stale DNS forwarding stays wrong, as with a real cloud.
    pub fn provision_lb(&self, mut lb: LoadBalancer, with_hostname: bool) -> LoadBalancer {
        let mut st = self.lock();
        let key = (lb.cluster.clone(), lb.service_uid.clone());
        if let Some(existing) = st.lbs.get(&key) {
            return existing.clone();
        }
        let n = st.next_lb;
        st.next_lb += 1;
        let (prefix, host) = if lb.internal {
            (INTERNAL_RANGE, n % 253 + 1)
        } else {
            (EXTERNAL_RANGES[(n / 253 % 2) as usize], n % 253 + 1)
        };
        lb.ip = format!("{}.{}.{}.{host}", prefix[0], prefix[1], prefix[2]);
        if with_hostname {
            let scheme = if lb.internal { "internal-" } else { "" };
            let short: String = lb
                .service
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect();
            lb.hostname = Some(format!(
                "{scheme}a{n:04x}{short}-{:08x}.elb.sandbox.invalid",
                fnv(&lb.service_uid)
            ));
        }
        st.lbs.insert(key, lb.clone());
        lb
    }

    pub fn release_lb(&self, cluster: &str, service_uid: &str) {
        self.lock()
            .lbs
            .remove(&(cluster.to_string(), service_uid.to_string()));
    }

    pub fn load_balancers(&self) -> Vec<LoadBalancer> {
        self.lock().lbs.values().cloned().collect()
    }

    /// The addresses an LB hostname stands for (what a DNS lookup of an ELB name would return).
    pub fn resolve_lb_hostname(&self, hostname: &str) -> Vec<String> {
        self.lock()
            .lbs
            .values()
            .filter(|lb| lb.hostname.as_deref() == Some(hostname))
            .map(|lb| lb.ip.clone())
            .collect()
    }

    pub fn dns_loaded(&self, cluster: &str) -> DnsConfig {
        self.lock()
            .dns_loaded
            .get(cluster)
            .cloned()
            .unwrap_or_default()
    }

    pub fn set_dns_loaded(&self, cluster: &str, cfg: DnsConfig) {
        self.lock().dns_loaded.insert(cluster.to_string(), cfg);
    }

    /// Whether any CockroachDB cluster in the sandbox has been initialised.
    pub fn cockroach_initialised(&self) -> bool {
        self.lock()
            .cockroach
            .values()
            .any(|c| c.cluster_id.is_some())
    }

    /// Whether the CockroachDB cluster of CA `ca` has been initialised.
    pub fn cockroach_initialised_for(&self, ca: &str) -> bool {
        self.lock()
            .cockroach
            .get(ca)
            .is_some_and(|c| c.cluster_id.is_some())
    }

    pub fn cockroach_cluster_id(&self, ca: &str) -> Option<String> {
        self.lock()
            .cockroach
            .get(ca)
            .and_then(|c| c.cluster_id.clone())
    }

    /// Bootstraps the cluster of CA `ca`; false when it already was (what `cockroach init` reports as an error).
    pub fn cockroach_init(&self, ca: &str) -> bool {
        let mut st = self.lock();
        let n = st.cockroach.len() as u64;
        let c = st.cockroach.entry(ca.to_string()).or_default();
        if c.cluster_id.is_some() {
            return false;
        }
        let h = u64::from(fnv(ca)) << 16 | n;
        c.cluster_id = Some(format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            fnv(ca),
            h & 0xffff,
            (h >> 16) & 0xfff,
            (h >> 28) & 0xfff,
            h & 0xffff_ffff_ffff
        ));
        true
    }

    /// Every node of every CockroachDB cluster, live or not.
    pub fn cockroach_nodes(&self) -> Vec<NodeStatus> {
        self.lock()
            .cockroach
            .values()
            .flat_map(|c| c.nodes.values().cloned())
            .collect()
    }

    /// Marks the node on `store` as live for `pod`, giving it a node ID on first join.
    pub fn node_joined(&self, ca: &str, cluster: &str, zone: &str, pod: &str, store: &str) -> u32 {
        let mut st = self.lock();
        let c = st.cockroach.entry(ca.to_string()).or_default();
        let key = (cluster.to_string(), store.to_string());
        if let Some(n) = c.nodes.get_mut(&key) {
            n.live = true;
            n.pod = pod.to_string();
            return n.node_id;
        }
        c.next_node_id += 1;
        let node_id = c.next_node_id;
        c.nodes.insert(
            key,
            NodeStatus {
                ca: ca.to_string(),
                node_id,
                cluster: cluster.to_string(),
                zone: zone.to_string(),
                pod: pod.to_string(),
                store: store.to_string(),
                live: true,
                store_lost: false,
                membership: Membership::Active,
            },
        );
        node_id
    }

    fn with_node<T>(
        &self,
        cluster: &str,
        store: &str,
        f: impl FnOnce(&mut NodeStatus) -> T,
    ) -> Option<T> {
        let key = (cluster.to_string(), store.to_string());
        self.lock()
            .cockroach
            .values_mut()
            .find_map(|c| c.nodes.get_mut(&key))
            .map(f)
    }

    pub fn node_id_of(&self, cluster: &str, store: &str) -> Option<u32> {
        self.with_node(cluster, store, |n| n.node_id)
    }

    pub fn node_decommissioned(&self, cluster: &str, store: &str) -> bool {
        self.with_node(cluster, store, |n| {
            n.membership == Membership::Decommissioned
        })
        .unwrap_or(false)
    }

    /// The node process on `store` stopped (pod gone, crashed or replaced): it is no longer live.
    pub fn node_stopped(&self, cluster: &str, store: &str) {
        self.with_node(cluster, store, |n| n.live = false);
    }

    /// The node's store is gone. When no node of its CockroachDB cluster has its data any more, that cluster
    /// is gone: the next one on the same CA starts uninitialised, with new node IDs.
    pub fn node_store_deleted(&self, cluster: &str, store: &str) {
        let ca = self.with_node(cluster, store, |n| {
            n.live = false;
            n.store_lost = true;
            n.ca.clone()
        });
        let mut st = self.lock();
        if let Some(ca) = ca {
            if st
                .cockroach
                .get(&ca)
                .is_some_and(|c| c.nodes.values().all(|n| n.store_lost))
            {
                st.cockroach.remove(&ca);
            }
        }
    }

    /// `cockroach node decommission`: the node drains its replicas and leaves; once done, its pod going away
    /// is not a loss.
    pub fn decommission(&self, ca: &str, node_ids: &[u32]) -> Result<(), String> {
        let mut st = self.lock();
        let Some(c) = st.cockroach.get_mut(ca) else {
            return Err("cluster is not initialised".into());
        };
        for id in node_ids {
            if !c.nodes.values().any(|n| n.node_id == *id) {
                return Err(format!("node {id} does not exist"));
            }
        }
        for n in c.nodes.values_mut() {
            if node_ids.contains(&n.node_id) {
                n.membership = Membership::Decommissioned;
            }
        }
        Ok(())
    }

    pub fn append_log(&self, cluster: &str, namespace: &str, pod: &str, line: &str) {
        let mut st = self.lock();
        let log = st
            .logs
            .entry((cluster.into(), namespace.into(), pod.into()))
            .or_default();
        log.push_str(line);
        if !line.ends_with('\n') {
            log.push('\n');
        }
    }

    /// What `kubectl logs` would show for the pod (all containers, all restarts).
    pub fn pod_log(&self, cluster: &str, namespace: &str, pod: &str) -> String {
        self.lock()
            .logs
            .get(&(cluster.into(), namespace.into(), pod.into()))
            .cloned()
            .unwrap_or_default()
    }
}

fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(uid: &str, internal: bool) -> LoadBalancer {
        LoadBalancer {
            cluster: "a".into(),
            namespace: "kube-system".into(),
            service: "kube-dns-lb".into(),
            service_uid: uid.into(),
            ip: String::new(),
            hostname: None,
            internal,
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn addresses_are_test_net_stable_and_never_reused() {
        let w = World::new();
        let a = w.provision_lb(lb("u1", false), false);
        assert!(a.ip.starts_with("203.0.113."));
        assert_eq!(w.provision_lb(lb("u1", false), false).ip, a.ip);
        w.release_lb("a", "u1");
        let b = w.provision_lb(lb("u1", false), false);
        assert_ne!(a.ip, b.ip);
        assert!(w
            .provision_lb(lb("u2", true), false)
            .ip
            .starts_with("198.51.100."));
    }

    #[test]
    fn hostnames_resolve_to_their_address() {
        let w = World::new();
        let a = w.provision_lb(lb("u1", false), true);
        let host = a.hostname.clone().unwrap();
        assert!(host.ends_with(".elb.sandbox.invalid"));
        assert_eq!(w.resolve_lb_hostname(&host), vec![a.ip]);
    }

    #[test]
    fn init_happens_once_and_nodes_keep_ids_per_store() {
        let w = World::new();
        assert!(w.cockroach_init("ca1"));
        assert!(!w.cockroach_init("ca1"));
        assert!(
            !w.cockroach_initialised_for("ca2"),
            "another CA is another cluster"
        );
        let id = w.node_joined(
            "ca1",
            "a",
            "east",
            "cockroachdb-0",
            "east/datadir-cockroachdb-0",
        );
        w.node_joined("ca1", "a", "east", "cockroachdb-9", "pod:x");
        w.node_store_deleted("a", "pod:x");
        assert!(
            w.cockroach_initialised(),
            "one lost store is a dead node, not a lost cluster"
        );
        w.node_stopped("a", "east/datadir-cockroachdb-0");
        assert!(!w.cockroach_nodes()[0].live);
        assert_eq!(
            w.node_joined(
                "ca1",
                "a",
                "east",
                "cockroachdb-0",
                "east/datadir-cockroachdb-0"
            ),
            id
        );
        assert_eq!(
            w.node_joined(
                "ca1",
                "a",
                "east",
                "cockroachdb-1",
                "east/datadir-cockroachdb-1"
            ),
            id + 2
        );
        for store in ["east/datadir-cockroachdb-0", "east/datadir-cockroachdb-1"] {
            w.node_store_deleted("a", store);
        }
        assert!(
            !w.cockroach_initialised() && w.cockroach_nodes().is_empty(),
            "all data gone: a new cluster needs init"
        );
    }
}
