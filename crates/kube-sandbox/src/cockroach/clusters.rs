//! Every emulated CockroachDB cluster of a sandbox (keyed by the CA that admitted their first node), on the
//! sandbox's cluster clock. `World::cockroach()` hands this out; it locks on its own, apart from the shared
//! Kubernetes machinery.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::certs::CertsDir;
use super::cluster::{ClusterStatus, CockroachCluster, NodeStatus, DEFAULT_RANGES};
use super::recorder::Availability;
use super::replication::Locality;
use super::version::{self, Major};
use crate::clock::Clock;

/// Cluster time: wall time since the sandbox started, times its speed.
#[derive(Debug, Clone, Copy)]
struct TimeBase {
    base: f64,
    since: Instant,
    speed: f64,
}

impl TimeBase {
    fn now(&self) -> f64 {
        self.base + self.since.elapsed().as_secs_f64() * self.speed
    }
}

type PodKey = (String, String, String); // (Kubernetes cluster, namespace, pod)

struct Registry {
    clusters: BTreeMap<String, CockroachCluster>,
    /// The certificates each running node loaded when its process started (a node reads them once, so a secret
    /// replaced under a running pod changes nothing until it restarts).
    loaded_certs: BTreeMap<PodKey, CertsDir>,
    /// What the recorders of clusters that are gone (every store deleted) saw.
    retired: Availability,
    range_count: u32,
}

pub struct Cockroach {
    state: Mutex<Registry>,
    time: Mutex<TimeBase>,
}

impl Default for Cockroach {
    fn default() -> Self {
        Cockroach {
            state: Mutex::new(Registry {
                clusters: BTreeMap::new(),
                loaded_certs: BTreeMap::new(),
                retired: Availability::default(),
                range_count: DEFAULT_RANGES,
            }),
            time: Mutex::new(TimeBase {
                base: 0.0,
                since: Instant::now(),
                speed: 1.0,
            }),
        }
    }
}

/// A cluster's ID as `cockroach init` would have made it, stable for one CA.
fn cluster_id(ca: &str, n: u64) -> String {
    let f = fnv(ca);
    let h = u64::from(f) << 16 | n;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        f,
        h & 0xffff,
        (h >> 16) & 0xfff,
        (h >> 28) & 0xfff,
        h & 0xffff_ffff_ffff
    )
}

fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

impl Cockroach {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cluster seconds since the sandbox started.
    pub fn now(&self) -> f64 {
        self.time.lock().unwrap_or_else(|p| p.into_inner()).now()
    }

    /// The speed the controllers run at; time so far is kept.
    pub fn set_clock(&self, clock: Clock) {
        let mut t = self.time.lock().unwrap_or_else(|p| p.into_inner());
        if t.speed != clock.speed {
            *t = TimeBase {
                base: t.now(),
                since: Instant::now(),
                speed: clock.speed,
            };
        }
    }

    /// A node process started with these certificates.
    pub fn remember_certs(&self, cluster: &str, namespace: &str, pod: &str, certs: CertsDir) {
        let key = (cluster.to_string(), namespace.to_string(), pod.to_string());
        self.lock().loaded_certs.insert(key, certs);
    }

    /// The certificates the node process of a pod loaded at its start.
    pub fn certs_of(&self, cluster: &str, namespace: &str, pod: &str) -> Option<CertsDir> {
        let key = (cluster.to_string(), namespace.to_string(), pod.to_string());
        self.lock().loaded_certs.get(&key).cloned()
    }

    /// How many ranges clusters initialised from now on get.
    pub fn set_range_count(&self, ranges: u32) {
        self.lock().range_count = ranges;
    }

    /// Runs `f` on the cluster of CA `ca`, advanced to now.
    pub fn with<T>(&self, ca: &str, f: impl FnOnce(&mut CockroachCluster, f64) -> T) -> Option<T> {
        let now = self.now();
        let mut st = self.lock();
        let c = st.clusters.get_mut(ca)?;
        c.advance(now);
        Some(f(c, now))
    }

    fn find_node<T>(
        &self,
        cluster: &str,
        store: &str,
        f: impl FnOnce(&NodeStatus) -> T,
    ) -> Option<T> {
        self.lock()
            .clusters
            .values()
            .find_map(|c| c.node(cluster, store))
            .map(f)
    }

    /// Whether any CockroachDB cluster in the sandbox has been initialised.
    pub fn initialised(&self) -> bool {
        self.lock()
            .clusters
            .values()
            .any(|c| c.cluster_id.is_some())
    }

    /// Whether the CockroachDB cluster of CA `ca` has been initialised.
    pub fn initialised_for(&self, ca: &str) -> bool {
        self.lock()
            .clusters
            .get(ca)
            .is_some_and(|c| c.cluster_id.is_some())
    }

    /// The finalized cluster version of the CockroachDB cluster of CA `ca` (`24.2`).
    pub fn cluster_version(&self, ca: &str) -> Option<String> {
        self.cluster_version_of(ca).map(version::display)
    }

    pub(crate) fn cluster_version_of(&self, ca: &str) -> Option<Major> {
        self.lock().clusters.get(ca).and_then(|c| c.cluster_version)
    }

    pub fn cluster_id(&self, ca: &str) -> Option<String> {
        self.lock()
            .clusters
            .get(ca)
            .and_then(|c| c.cluster_id.clone())
    }

    /// The value of a cluster setting of the cluster of CA `ca`, if set.
    pub fn cluster_setting(&self, ca: &str, name: &str) -> Option<String> {
        self.lock()
            .clusters
            .get(ca)
            .and_then(|c| c.settings.get(name).cloned())
    }

    /// Records the binary a node on `store` runs; once every remaining node runs a newer binary than the
    /// cluster version, the upgrade finalizes, unless `cluster.preserve_downgrade_option` is set.
    pub(crate) fn node_binary(&self, ca: &str, cluster: &str, store: &str, binary: Major) {
        self.with(ca, |c, _| c.node_binary(cluster, store, binary));
    }

    pub fn set_cluster_setting(&self, ca: &str, name: &str, value: &str) -> Result<(), String> {
        self.with(ca, |c, now| c.set_setting(name, value, now))
            .unwrap_or_else(|| Err("ERROR: cluster is not initialised".into()))
    }

    pub fn reset_cluster_setting(&self, ca: &str, name: &str) {
        self.with(ca, |c, now| c.reset_setting(name, now));
    }

    /// Every CockroachDB cluster: version, settings and what happened to it.
    pub fn clusters(&self) -> Vec<ClusterStatus> {
        self.lock()
            .clusters
            .iter()
            .map(|(ca, c)| c.status(ca))
            .collect()
    }

    /// Bootstraps the cluster of CA `ca`; false when it already was (what `cockroach init` reports as an error).
    pub fn init(&self, ca: &str) -> bool {
        self.init_at(ca, None)
    }

    /// Like `init`, recording the cluster version (the initialising node's binary).
    pub fn init_at(&self, ca: &str, version: Option<Major>) -> bool {
        let mut st = self.lock();
        let n = st.clusters.len() as u64;
        let ranges = st.range_count;
        let c = st
            .clusters
            .entry(ca.to_string())
            .or_insert_with(|| CockroachCluster::new(ranges));
        c.init(cluster_id(ca, n), version)
    }

    /// Every node of every CockroachDB cluster, live or not, with liveness as of now.
    pub fn nodes(&self) -> Vec<NodeStatus> {
        let now = self.now();
        let mut st = self.lock();
        st.clusters
            .values_mut()
            .flat_map(|c| {
                c.advance(now);
                c.nodes(now)
            })
            .collect()
    }

    /// Marks the node on `store` as live for `pod`, giving it a node ID on first join.
    pub fn node_joined(
        &self,
        ca: &str,
        at: (&str, &str, &str),
        store: &str,
        locality: Locality,
    ) -> u32 {
        let now = self.now();
        let mut st = self.lock();
        let ranges = st.range_count;
        st.clusters
            .entry(ca.to_string())
            .or_insert_with(|| CockroachCluster::new(ranges))
            .node_joined(ca, at, store, locality, now)
    }

    /// The node whose store this is, if it ever joined.
    pub fn node_of(&self, cluster: &str, store: &str) -> Option<NodeStatus> {
        self.find_node(cluster, store, NodeStatus::clone)
    }

    pub fn node_id_of(&self, cluster: &str, store: &str) -> Option<u32> {
        self.find_node(cluster, store, |n| n.node_id)
    }

    pub fn node_decommissioned(&self, cluster: &str, store: &str) -> bool {
        self.find_node(cluster, store, |n| {
            n.membership == super::cluster::Membership::Decommissioned
        })
        .unwrap_or(false)
    }

    fn ca_of(&self, cluster: &str, store: &str) -> Option<String> {
        self.find_node(cluster, store, |n| n.ca.clone())
    }

    /// The node process on `store` stopped (pod gone, crashed or replaced): it is no longer live.
    pub fn node_stopped(&self, cluster: &str, store: &str) {
        if let Some(ca) = self.ca_of(cluster, store) {
            self.with(&ca, |c, now| c.node_stopped(cluster, store, now));
        }
    }

    /// The node's store is gone. When no node of its CockroachDB cluster has its data any more, that cluster
    /// is gone: the next one on the same CA starts uninitialised, with new node IDs.
    pub fn node_store_deleted(&self, cluster: &str, store: &str) {
        let Some(ca) = self.ca_of(cluster, store) else {
            return;
        };
        let now = self.now();
        let mut st = self.lock();
        let Some(c) = st.clusters.get_mut(&ca) else {
            return;
        };
        if c.store_deleted(cluster, store, now) {
            let seen = c.availability(now);
            st.clusters.remove(&ca);
            st.retired = st.retired.merge(seen);
        }
    }

    /// What the availability recorders saw since the sandbox started or the last reset, every cluster together.
    pub fn availability(&self) -> Availability {
        let now = self.now();
        let mut st = self.lock();
        let mut seen = st.retired;
        for c in st.clusters.values_mut() {
            c.advance(now);
            seen = seen.merge(c.availability(now));
        }
        seen
    }

    /// Starts a new availability window now.
    pub fn reset_availability(&self) {
        let now = self.now();
        let mut st = self.lock();
        st.retired = Availability::default();
        for c in st.clusters.values_mut() {
            c.advance(now);
            c.reset_availability(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cockroach::cluster::{CockroachEvent, PRESERVE_DOWNGRADE_OPTION};

    fn loc() -> Locality {
        Locality {
            region: "a".into(),
            zone: "east".into(),
        }
    }

    fn join(w: &Cockroach, pod: &str, store: &str) -> u32 {
        w.node_joined("ca1", ("a", "east", pod), store, loc())
    }

    #[test]
    fn init_happens_once_and_nodes_keep_ids_per_store() {
        let w = Cockroach::default();
        assert!(w.init("ca1"));
        assert!(!w.init("ca1"));
        assert!(!w.initialised_for("ca2"), "another CA is another cluster");
        let id = join(&w, "cockroachdb-0", "east/datadir-cockroachdb-0");
        join(&w, "cockroachdb-9", "pod:x");
        w.node_store_deleted("a", "pod:x");
        assert!(
            w.initialised(),
            "one lost store is a dead node, not a lost cluster"
        );
        w.node_stopped("a", "east/datadir-cockroachdb-0");
        assert!(!w.nodes()[0].live);
        assert_eq!(join(&w, "cockroachdb-0", "east/datadir-cockroachdb-0"), id);
        assert_eq!(
            join(&w, "cockroachdb-1", "east/datadir-cockroachdb-1"),
            id + 2
        );
        for store in ["east/datadir-cockroachdb-0", "east/datadir-cockroachdb-1"] {
            w.node_store_deleted("a", store);
        }
        assert!(
            !w.initialised() && w.nodes().is_empty(),
            "all data gone: a new cluster needs init"
        );
        assert!(
            w.availability().ranges_lost > 0,
            "the ranges only pod:x held were lost, and the record outlives the cluster"
        );
    }

    fn three_nodes_at(w: &Cockroach, version: Major) {
        for i in 0..3 {
            let store = format!("east/datadir-cockroachdb-{i}");
            join(w, &format!("cockroachdb-{i}"), &store);
            w.node_binary("ca1", "a", &store, version);
        }
    }

    fn run_all(w: &Cockroach, version: Major) {
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
        let w = Cockroach::default();
        assert!(w.init_at("ca1", Some((24, 1))));
        three_nodes_at(&w, (24, 1));
        run_all(&w, (24, 3));
        assert_eq!(w.cluster_version("ca1").as_deref(), Some("24.3"));

        let w = Cockroach::default();
        assert!(w.init_at("ca1", Some((24, 1))));
        three_nodes_at(&w, (24, 1));
        let refused = w
            .set_cluster_setting("ca1", PRESERVE_DOWNGRADE_OPTION, "24.3")
            .unwrap_err();
        assert!(refused.contains("cluster version is 24.1"), "{refused}");
        w.set_cluster_setting("ca1", PRESERVE_DOWNGRADE_OPTION, "24.1")
            .unwrap();
        run_all(&w, (24, 3));
        assert_eq!(
            w.cluster_version("ca1").as_deref(),
            Some("24.1"),
            "held while the option is set"
        );
        // Rolling back: the old binary still fits the unfinalized cluster, and nothing finalizes.
        assert!(version::check_join(w.cluster_version_of("ca1").unwrap(), (24, 1)).is_ok());
        run_all(&w, (24, 1));
        run_all(&w, (24, 3));
        w.set_cluster_setting("ca1", PRESERVE_DOWNGRADE_OPTION, "24.1")
            .unwrap();
        w.reset_cluster_setting("ca1", PRESERVE_DOWNGRADE_OPTION);
        let status = &w.clusters()[0];
        assert_eq!(status.version.as_deref(), Some("24.3"), "a reset finalizes");
        assert_eq!(status.preserve_downgrade_option(), None);
        assert_eq!(
            status.events.last().unwrap(),
            &CockroachEvent::Finalized {
                version: "24.3".into()
            }
        );
        assert!(version::check_join(w.cluster_version_of("ca1").unwrap(), (24, 1)).is_err());
    }

    #[test]
    fn events_tell_what_ran_before_what() {
        let w = Cockroach::default();
        assert!(w.init_at("ca1", Some((24, 1))));
        three_nodes_at(&w, (24, 1));
        w.set_cluster_setting("ca1", PRESERVE_DOWNGRADE_OPTION, "24.1")
            .unwrap();
        run_all(&w, (24, 3));
        run_all(&w, (24, 3));
        let events = w.clusters()[0].events.clone();
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
