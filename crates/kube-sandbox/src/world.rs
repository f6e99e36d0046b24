//! What all clusters of one sandbox share: the registry of clusters, the load-balancer address allocator
//! (TEST-NET addresses only: data, never connected to), what each cluster's DNS servers have loaded, pod logs,
//! and the emulated CockroachDB clusters behind `World::cockroach()` (their state lives in `cockroach/`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::cockroach::clusters::Cockroach;
use crate::cockroach::dns::DnsConfig;
use crate::store::Store;

pub use crate::cockroach::cluster::{
    ClusterStatus, CockroachEvent, Liveness, Membership, NodeStatus, AUTO_UPGRADE_ENABLED,
    PRESERVE_DOWNGRADE_OPTION,
};
pub use crate::cockroach::recorder::Availability;

/// Which DNS add-on a cluster runs, as a fresh cluster of that kind has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DnsFlavour {
    /// GKE: a `kube-dns` Deployment, stub domains in ConfigMap `kube-system/kube-dns`.
    #[default]
    KubeDns,
    /// EKS, kind, AKS: a `coredns` Deployment, a Corefile in ConfigMap `kube-system/coredns`.
    CoreDns,
    /// GKE with Cloud DNS for GKE (Autopilot's default): the cluster's own pods resolve through the platform, the
    /// `kube-dns` Deployment is kept at zero replicas, so nothing reads ConfigMap `kube-system/kube-dns` and no pod
    /// answers behind a load balancer selecting `k8s-app=kube-dns`.
    CloudDns,
}

impl std::str::FromStr for DnsFlavour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "kube-dns" | "kubedns" => Ok(DnsFlavour::KubeDns),
            "coredns" => Ok(DnsFlavour::CoreDns),
            "cloud-dns" => Ok(DnsFlavour::CloudDns),
            other => Err(format!(
                "unknown DNS flavour {other:?} (kube-dns, coredns or cloud-dns)"
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
    /// Which LoadBalancer Services the cloud's controller provisions.
    pub lb_rules: LbRules,
}

/// The rules a cloud's load balancer controller applies before provisioning anything (see
/// `controllers/service_lb.rs` for the texts of the events, taken from the controllers' sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LbRules {
    /// Every LoadBalancer Service gets an address, whatever its ports.
    #[default]
    Permissive,
    /// The in-tree AWS provider and cloud-provider-aws: no mixed protocols (kubernetes/kubernetes#105361), and
    /// UDP only on an NLB (`service.beta.kubernetes.io/aws-load-balancer-type: nlb`); the classic ELB is TCP only.
    /// Services handed to the AWS Load Balancer Controller (`aws-load-balancer-type: external`) are not judged.
    Eks,
    /// GKE's controller on a cluster created before 1.34: internal load balancers never mix protocols, nor do
    /// external ones there (mixed-protocol external load balancers need a new 1.34 cluster).
    Gke,
}

impl std::str::FromStr for LbRules {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "permissive" => Ok(LbRules::Permissive),
            "eks" => Ok(LbRules::Eks),
            "gke" => Ok(LbRules::Gke),
            other => Err(format!(
                "unknown load balancer rules {other:?} (permissive, eks or gke)"
            )),
        }
    }
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

#[derive(Default)]
struct State {
    clusters: BTreeMap<String, ClusterEntry>,
    next_lb: u32,
    lbs: BTreeMap<(String, String), LoadBalancer>, // (cluster, service uid)
    dns_loaded: BTreeMap<String, DnsConfig>,
    api_ca: BTreeMap<String, String>,
    logs: BTreeMap<(String, String, String), String>, // (cluster, namespace, pod)
    blocked: std::collections::BTreeSet<BlockedPath>,
}

/// TCP to one port from one cluster's pods to another's, dropped as by a missing firewall rule or security group
/// (connections time out rather than being refused).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockedPath {
    pub from: String,
    pub to: String,
    pub port: u16,
}

impl std::str::FromStr for BlockedPath {
    type Err = String;
    /// `FROM:TO:PORT`, e.g. `us-west1-a:us-east1-b:26257`.
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let [from, to, port] = parts[..] else {
            return Err(format!("{s:?} is not FROM:TO:PORT"));
        };
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or(format!("{s:?} has an invalid port"))?;
        if from.is_empty() || to.is_empty() || from == to {
            return Err(format!("{s:?} must name two different clusters"));
        }
        Ok(BlockedPath {
            from: from.into(),
            to: to.into(),
            port,
        })
    }
}

#[derive(Default)]
pub struct World {
    state: Mutex<State>,
    cockroach: Cockroach,
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

    /// Changes which LoadBalancer Services `cluster`'s cloud provisions, from the next reconcile on.
    pub fn set_lb_rules(&self, cluster: &str, rules: LbRules) {
        if let Some(entry) = self.lock().clusters.get_mut(cluster) {
            entry.profile.lb_rules = rules;
        }
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

    /// The emulated CockroachDB clusters: nodes, ranges, settings and the availability recorder.
    pub fn cockroach(&self) -> &Cockroach {
        &self.cockroach
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

    /// Drops (or, with `blocked` false, lets through again) TCP to `path.port` from `path.from`'s pods to
    /// `path.to`'s.
    pub fn set_path_blocked(&self, path: BlockedPath, blocked: bool) {
        let mut st = self.lock();
        if blocked {
            st.blocked.insert(path);
        } else {
            st.blocked.remove(&path);
        }
    }

    /// Whether a pod of cluster `from` can open a TCP connection to a pod of cluster `to` on `port`.
    pub fn path_open(&self, from: &str, to: &str, port: u16) -> bool {
        !self.lock().blocked.contains(&BlockedPath {
            from: from.into(),
            to: to.into(),
            port,
        })
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
    fn blocked_paths_are_one_way_per_port_and_can_be_opened_again() {
        let w = World::new();
        let path: BlockedPath = "a:b:26257".parse().unwrap();
        w.set_path_blocked(path.clone(), true);
        assert!(!w.path_open("a", "b", 26257));
        assert!(w.path_open("b", "a", 26257));
        assert!(w.path_open("a", "b", 8080));
        w.set_path_blocked(path, false);
        assert!(w.path_open("a", "b", 26257));
        for bad in ["a:b", "a:a:26257", "a:b:0", "a:b:x", ":b:1"] {
            assert!(bad.parse::<BlockedPath>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hostnames_resolve_to_their_address() {
        let w = World::new();
        let a = w.provision_lb(lb("u1", false), true);
        let host = a.hostname.clone().unwrap();
        assert!(host.ends_with(".elb.sandbox.invalid"));
        assert_eq!(w.resolve_lb_hostname(&host), vec![a.ip]);
    }
}
