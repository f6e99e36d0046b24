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
    /// The major version of the binary the node last ran (`25.2`), empty when the image tag tells none.
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Active,
    Decommissioning,
    Decommissioned,
}

/// The cluster setting that keeps a major-version upgrade from finalizing while it holds the version
/// the cluster runs at.
pub const PRESERVE_DOWNGRADE_OPTION: &str = "cluster.preserve_downgrade_option";
/// The newer switch for the same: `false` keeps upgrades from finalizing by themselves.
pub const AUTO_UPGRADE_ENABLED: &str = "cluster.auto_upgrade.enabled";

/// What happened to one CockroachDB cluster, in order: for tests that check what came before what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CockroachEvent {
    /// A node joined running a binary of this major version (its first join, or its first after the binary
    /// changed).
    NodeRunning {
        node_id: u32,
        cluster: String,
        zone: String,
        pod: String,
        version: String,
    },
    /// `SET CLUSTER SETTING name = value` succeeded.
    SettingSet { name: String, value: String },
    /// `RESET CLUSTER SETTING name` ran.
    SettingReset { name: String },
    /// The cluster version moved to this major version: an upgrade finalized.
    Finalized { version: String },
}

/// One CockroachDB cluster as the emulation knows it, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStatus {
    /// The CA its nodes trust, which names the cluster.
    pub ca: String,
    pub cluster_id: Option<String>,
    /// The finalized cluster version (`24.1`): what `SHOW CLUSTER SETTING version` reports.
    pub version: Option<String>,
    /// The cluster settings set and not reset since.
    pub settings: BTreeMap<String, String>,
    pub events: Vec<CockroachEvent>,
}

impl ClusterStatus {
    /// The value of `cluster.preserve_downgrade_option`, if set.
    pub fn preserve_downgrade_option(&self) -> Option<&str> {
        self.settings
            .get(PRESERVE_DOWNGRADE_OPTION)
            .map(String::as_str)
    }
}

#[derive(Debug, Default)]
struct CockroachState {
    cluster_id: Option<String>,
    /// The finalized cluster version.
    cluster_version: Option<crate::cockroach::version::Major>,
    binaries: BTreeMap<(String, String), crate::cockroach::version::Major>, // (cluster, store) -> binary
    next_node_id: u32,
    nodes: BTreeMap<(String, String), NodeStatus>, // (cluster, store) -> node
    settings: BTreeMap<String, String>,
    events: Vec<CockroachEvent>,
}

impl CockroachState {
    /// Finalizes an upgrade once every active node is live on a binary newer than the cluster version, unless
    /// a setting holds it back: the cluster version moves to the oldest binary running.
    fn finalize_if_ready(&mut self) {
        let held = self.settings.contains_key(PRESERVE_DOWNGRADE_OPTION)
            || self
                .settings
                .get(AUTO_UPGRADE_ENABLED)
                .is_some_and(|v| v.eq_ignore_ascii_case("false"));
        if held {
            return;
        }
        let all: Option<Vec<_>> = self
            .nodes
            .values()
            .filter(|n| !n.store_lost && n.membership == Membership::Active)
            .map(|n| {
                if n.live {
                    self.binaries
                        .get(&(n.cluster.clone(), n.store.clone()))
                        .copied()
                } else {
                    None
                }
            })
            .collect();
        let Some(min) = all.and_then(|v| v.into_iter().min()) else {
            return;
        };
        match self.cluster_version {
            None => self.cluster_version = Some(min),
            Some(v) if min > v => {
                self.cluster_version = Some(min);
                self.events.push(CockroachEvent::Finalized {
                    version: crate::cockroach::version::display(min),
                });
            }
            Some(_) => {}
        }
    }
}

#[derive(Default)]
struct State {
    clusters: BTreeMap<String, ClusterEntry>,
    next_lb: u32,
    lbs: BTreeMap<(String, String), LoadBalancer>, // (cluster, service uid)
    dns_loaded: BTreeMap<String, DnsConfig>,
    api_ca: BTreeMap<String, String>,
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

    /// The API server's CA of a cluster (published in every namespace as `kube-root-ca.crt`).
    pub fn set_api_ca(&self, cluster: &str, pem: &str) {
        self.lock()
            .api_ca
            .insert(cluster.to_string(), pem.to_string());
    }

    pub fn api_ca(&self, cluster: &str) -> Option<String> {
        self.lock().api_ca.get(cluster).cloned()
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

    /// The finalized cluster version of the CockroachDB cluster of CA `ca` (`24.2`).
    pub fn cockroach_cluster_version(&self, ca: &str) -> Option<String> {
        self.lock()
            .cockroach
            .get(ca)
            .and_then(|c| c.cluster_version)
            .map(crate::cockroach::version::display)
    }

    pub(crate) fn cluster_version_of(&self, ca: &str) -> Option<crate::cockroach::version::Major> {
        self.lock()
            .cockroach
            .get(ca)
            .and_then(|c| c.cluster_version)
    }

    /// Records the binary a node on `store` runs; once every remaining node runs a newer binary than the
    /// cluster version, the upgrade finalizes, unless `cluster.preserve_downgrade_option` is set.
    pub(crate) fn node_binary(
        &self,
        ca: &str,
        cluster: &str,
        store: &str,
        binary: crate::cockroach::version::Major,
    ) {
        let mut st = self.lock();
        let Some(c) = st.cockroach.get_mut(ca) else {
            return;
        };
        let key = (cluster.to_string(), store.to_string());
        let changed = c.binaries.insert(key.clone(), binary) != Some(binary);
        let version = crate::cockroach::version::display(binary);
        if let Some(n) = c.nodes.get_mut(&key) {
            n.version = version.clone();
            if changed {
                let event = CockroachEvent::NodeRunning {
                    node_id: n.node_id,
                    cluster: n.cluster.clone(),
                    zone: n.zone.clone(),
                    pod: n.pod.clone(),
                    version,
                };
                c.events.push(event);
            }
        }
        c.finalize_if_ready();
    }

    /// `SET CLUSTER SETTING name = value`. `cluster.preserve_downgrade_option` takes only the current cluster
    /// version, as in CockroachDB; Err is what the SQL client prints.
    pub fn set_cluster_setting(&self, ca: &str, name: &str, value: &str) -> Result<(), String> {
        let mut st = self.lock();
        let Some(c) = st.cockroach.get_mut(ca) else {
            return Err("ERROR: cluster is not initialised".into());
        };
        if name == PRESERVE_DOWNGRADE_OPTION {
            let Some(wanted) = crate::cockroach::version::parse(value) else {
                return Err(format!("ERROR: invalid version {value}"));
            };
            if let Some(current) = c.cluster_version.filter(|v| *v != wanted) {
                return Err(format!(
                    "ERROR: cannot set {name} to {value} (cluster version is {})",
                    crate::cockroach::version::display(current)
                ));
            }
        }
        c.settings.insert(name.to_string(), value.to_string());
        c.events.push(CockroachEvent::SettingSet {
            name: name.to_string(),
            value: value.to_string(),
        });
        c.finalize_if_ready();
        Ok(())
    }

    /// `RESET CLUSTER SETTING name`: back to the default; with `cluster.preserve_downgrade_option` gone, an
    /// upgrade every node already runs finalizes at once.
    pub fn reset_cluster_setting(&self, ca: &str, name: &str) {
        let mut st = self.lock();
        let Some(c) = st.cockroach.get_mut(ca) else {
            return;
        };
        c.settings.remove(name);
        c.events.push(CockroachEvent::SettingReset {
            name: name.to_string(),
        });
        c.finalize_if_ready();
    }

    /// The value of a cluster setting of the cluster of CA `ca`, if set.
    pub fn cockroach_cluster_setting(&self, ca: &str, name: &str) -> Option<String> {
        self.lock()
            .cockroach
            .get(ca)
            .and_then(|c| c.settings.get(name).cloned())
    }

    /// Every CockroachDB cluster: version, settings and what happened to it.
    pub fn cockroach_clusters(&self) -> Vec<ClusterStatus> {
        self.lock()
            .cockroach
            .iter()
            .map(|(ca, c)| ClusterStatus {
                ca: ca.clone(),
                cluster_id: c.cluster_id.clone(),
                version: c.cluster_version.map(crate::cockroach::version::display),
                settings: c.settings.clone(),
                events: c.events.clone(),
            })
            .collect()
    }

    pub fn cockroach_cluster_id(&self, ca: &str) -> Option<String> {
        self.lock()
            .cockroach
            .get(ca)
            .and_then(|c| c.cluster_id.clone())
    }

    /// Bootstraps the cluster of CA `ca`; false when it already was (what `cockroach init` reports as an error).
    pub fn cockroach_init(&self, ca: &str) -> bool {
        self.cockroach_init_at(ca, None)
    }

    /// Like `cockroach_init`, recording the cluster version (the initialising node's binary).
    pub fn cockroach_init_at(
        &self,
        ca: &str,
        version: Option<crate::cockroach::version::Major>,
    ) -> bool {
        let mut st = self.lock();
        let n = st.cockroach.len() as u64;
        let c = st.cockroach.entry(ca.to_string()).or_default();
        if c.cluster_id.is_some() {
            return false;
        }
        c.cluster_version = version;
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
                version: String::new(),
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

    fn three_nodes_at(w: &World, version: crate::cockroach::version::Major) {
        for i in 0..3 {
            let store = format!("east/datadir-cockroachdb-{i}");
            w.node_joined("ca1", "a", "east", &format!("cockroachdb-{i}"), &store);
            w.node_binary("ca1", "a", &store, version);
        }
    }

    fn run_all(w: &World, version: crate::cockroach::version::Major) {
        for i in 0..3 {
            w.node_binary(
                "ca1",
                "a",
                &format!("east/datadir-cockroachdb-{i}"),
                version,
            );
        }
    }

    #[test]
    fn every_node_on_the_new_major_finalizes_unless_the_downgrade_option_holds_it() {
        let w = World::new();
        assert!(w.cockroach_init_at("ca1", Some((24, 1))));
        three_nodes_at(&w, (24, 1));
        run_all(&w, (24, 3));
        assert_eq!(w.cockroach_cluster_version("ca1").as_deref(), Some("24.3"));

        let w = World::new();
        assert!(w.cockroach_init_at("ca1", Some((24, 1))));
        three_nodes_at(&w, (24, 1));
        let refused = w
            .set_cluster_setting("ca1", PRESERVE_DOWNGRADE_OPTION, "24.3")
            .unwrap_err();
        assert!(refused.contains("cluster version is 24.1"), "{refused}");
        w.set_cluster_setting("ca1", PRESERVE_DOWNGRADE_OPTION, "24.1")
            .unwrap();
        run_all(&w, (24, 3));
        assert_eq!(
            w.cockroach_cluster_version("ca1").as_deref(),
            Some("24.1"),
            "held while the option is set"
        );
        // Rolling back: the old binary still fits the unfinalized cluster, and nothing finalizes.
        assert!(crate::cockroach::version::check_join(
            w.cluster_version_of("ca1").unwrap(),
            (24, 1)
        )
        .is_ok());
        run_all(&w, (24, 1));
        run_all(&w, (24, 3));
        w.set_cluster_setting("ca1", PRESERVE_DOWNGRADE_OPTION, "24.1")
            .unwrap();
        w.reset_cluster_setting("ca1", PRESERVE_DOWNGRADE_OPTION);
        let status = &w.cockroach_clusters()[0];
        assert_eq!(status.version.as_deref(), Some("24.3"), "a reset finalizes");
        assert_eq!(status.preserve_downgrade_option(), None);
        let last = status.events.last().unwrap();
        assert_eq!(
            last,
            &CockroachEvent::Finalized {
                version: "24.3".into()
            }
        );
        assert!(crate::cockroach::version::check_join(
            w.cluster_version_of("ca1").unwrap(),
            (24, 1)
        )
        .is_err());
    }

    #[test]
    fn events_tell_what_ran_before_what() {
        let w = World::new();
        assert!(w.cockroach_init_at("ca1", Some((24, 1))));
        three_nodes_at(&w, (24, 1));
        w.set_cluster_setting("ca1", PRESERVE_DOWNGRADE_OPTION, "24.1")
            .unwrap();
        run_all(&w, (24, 3));
        run_all(&w, (24, 3));
        let events = w.cockroach_clusters()[0].events.clone();
        let running = |v: &str| {
            events
                .iter()
                .filter(
                    |e| matches!(e, CockroachEvent::NodeRunning { version, .. } if version == v),
                )
                .count()
        };
        assert_eq!(running("24.1"), 3);
        assert_eq!(
            running("24.3"),
            3,
            "a rejoin on the same binary is no event"
        );
        assert_eq!(
            events[3],
            CockroachEvent::SettingSet {
                name: PRESERVE_DOWNGRADE_OPTION.into(),
                value: "24.1".into()
            }
        );
    }
}
