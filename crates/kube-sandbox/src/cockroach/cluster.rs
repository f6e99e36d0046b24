//! One emulated CockroachDB cluster as state plus functions of `now` (cluster seconds): its nodes and their
//! liveness, settings and version, its ranges and the allocator moving their replicas at a bounded rate, and the
//! availability recorder fed at every change. No I/O and no clock of its own, so it is unit-tested directly.

use std::collections::{BTreeMap, BTreeSet};

use super::duration::parse_duration;
use super::lease_table::LeaseTables;
use super::recorder::{Availability, Counts, Recorder};
use super::replication::{self, Constraints, Locality, NodeId, Peer, Peers, Range};
use super::sql::{Catalog, Database, SurvivalGoal};
use super::version::{self, Major};

/// The cluster setting that keeps a major-version upgrade from finalizing while it holds the version
/// the cluster runs at.
pub const PRESERVE_DOWNGRADE_OPTION: &str = "cluster.preserve_downgrade_option";
/// The newer switch for the same: `false` keeps upgrades from finalizing by themselves.
pub const AUTO_UPGRADE_ENABLED: &str = "cluster.auto_upgrade.enabled";
/// How long a stopped node's liveness record still says it is live: CockroachDB's node liveness expiration (a
/// node heartbeats every 4.5 s for a 9 s record), during which `cockroach node status` still reports it live and
/// its ranges fully replicated.
pub const LIVENESS_EXPIRATION: f64 = 9.0;
/// How long a node may be down before its replicas are re-created elsewhere.
pub const TIME_UNTIL_STORE_DEAD: &str = "server.time_until_store_dead";
const DEFAULT_TIME_UNTIL_STORE_DEAD: f64 = 300.0;
/// The default zone's `num_replicas`.
pub const DEFAULT_NUM_REPLICAS: usize = 3;
/// Ranges a new cluster starts with (system and user data of a small database).
pub const DEFAULT_RANGES: u32 = 300;
/// Replica changes (snapshots) the whole cluster makes per second of cluster time: up-replication, repair,
/// decommissioning and rebalancing all share it.
pub const REPLICA_CHANGES_PER_SECOND: f64 = 25.0;

/// One CockroachDB node as the emulated cluster knows it; its identity lives in its store (the PVC), so a pod
/// recreated on the same PVC is the same node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStatus {
    /// The CockroachDB cluster the node belongs to, named by the CA it was first admitted with.
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
    /// From `--locality` (falling back to the Kubernetes cluster and namespace).
    pub locality: Locality,
    /// Cluster seconds at which the process stopped, while it is down.
    pub down_since: Option<f64>,
    /// Live, suspect (down for less than `server.time_until_store_dead`) or dead, as of the last look.
    pub liveness: Liveness,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Active,
    Decommissioning,
    Decommissioned,
}

impl Membership {
    pub fn as_str(self) -> &'static str {
        match self {
            Membership::Active => "active",
            Membership::Decommissioning => "decommissioning",
            Membership::Decommissioned => "decommissioned",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Live,
    Suspect,
    Dead,
}

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
    /// Users, roles and databases.
    pub catalog: Catalog,
    /// Per database, the localities of each of its ranges' replicas.
    pub database_replicas: BTreeMap<String, Vec<Vec<Locality>>>,
}

impl ClusterStatus {
    /// The value of `cluster.preserve_downgrade_option`, if set.
    pub fn preserve_downgrade_option(&self) -> Option<&str> {
        self.settings
            .get(PRESERVE_DOWNGRADE_OPTION)
            .map(String::as_str)
    }
}

type NodeKey = (String, String); // (Kubernetes cluster, store)

#[derive(Debug, Default, Clone)]
pub struct CockroachCluster {
    pub cluster_id: Option<String>,
    /// The finalized cluster version.
    pub cluster_version: Option<Major>,
    binaries: BTreeMap<NodeKey, Major>,
    next_node_id: u32,
    nodes: BTreeMap<NodeKey, NodeStatus>,
    pub settings: BTreeMap<String, String>,
    pub events: Vec<CockroachEvent>,
    /// How many ranges the cluster gets when its first node joins.
    pub range_count: u32,
    /// The default zone's `num_replicas`; 0 until set means the default.
    num_replicas: usize,
    ranges: Vec<Range>,
    /// Up to when the model has been advanced.
    at: f64,
    /// When the allocator may make its next change.
    next_change: f64,
    /// The allocator found nothing to do and nothing happened since.
    settled: bool,
    lost: BTreeSet<u32>,
    recorder: Recorder,
    /// The provider's disruption lease, kept in the database itself (`lease_table.rs`).
    pub lease_tables: LeaseTables,
    /// Users, roles and databases: what `cockroach sql` changes.
    pub catalog: Catalog,
    /// The ranges holding each database's tables.
    database_ranges: BTreeMap<String, Vec<u32>>,
}

/// Ranges a new database gets (split off the first range, so they start where it is).
pub const DATABASE_RANGES: u32 = 10;

/// The zone configuration CockroachDB derives from a multi-region database: with zone survival 3 voters in
/// the primary region, with region survival 5 voters spread over the database's regions (so no region holds a
/// majority). Non-voting replicas in the other regions are not emulated: they do not count for availability.
pub fn database_constraints(db: &Database) -> Constraints {
    let Some(primary) = &db.primary_region else {
        return Constraints::default();
    };
    match db.survival {
        SurvivalGoal::Zone => Constraints {
            num_replicas: 3,
            regions: [primary.clone()].into(),
        },
        SurvivalGoal::Region => Constraints {
            num_replicas: 5,
            regions: db.regions.clone(),
        },
    }
}

impl CockroachCluster {
    pub fn new(range_count: u32) -> CockroachCluster {
        CockroachCluster {
            range_count,
            ..CockroachCluster::default()
        }
    }

    pub fn time_until_store_dead(&self) -> f64 {
        self.settings
            .get(TIME_UNTIL_STORE_DEAD)
            .and_then(|v| parse_duration(v))
            .unwrap_or(DEFAULT_TIME_UNTIL_STORE_DEAD)
    }

    pub fn num_replicas(&self) -> usize {
        if self.num_replicas == 0 {
            DEFAULT_NUM_REPLICAS
        } else {
            self.num_replicas
        }
    }

    /// Whether the allocator has nothing left to do (no replica to add, remove or move) as of the last advance.
    pub fn settled(&self) -> bool {
        self.settled
    }

    pub fn ranges(&self) -> &[Range] {
        &self.ranges
    }

    /// What the allocator and the metrics see of every node at `now`.
    pub fn peers(&self, now: f64) -> Peers {
        let dead_after = self.time_until_store_dead();
        self.nodes
            .values()
            .map(|n| {
                let peer = Peer {
                    id: n.node_id,
                    locality: n.locality.clone(),
                    live: n.live,
                    dead: n.down_since.is_some_and(|t| now >= t + dead_after),
                    leaving: n.membership != Membership::Active,
                    store_lost: n.store_lost,
                };
                (n.node_id, peer)
            })
            .collect()
    }

    /// The nodes with their liveness as of `now`.
    pub fn nodes(&self, now: f64) -> Vec<NodeStatus> {
        let dead_after = self.time_until_store_dead();
        self.nodes
            .values()
            .map(|n| {
                let mut n = n.clone();
                n.liveness = match n.down_since {
                    None if n.live => Liveness::Live,
                    Some(t) if now < t + dead_after => Liveness::Suspect,
                    _ => Liveness::Dead,
                };
                n
            })
            .collect()
    }

    /// The cluster as the liveness records show it at `now` (what `cockroach node status` reads): a node stopped
    /// less than `LIVENESS_EXPIRATION` ago still counts as live.
    pub fn as_liveness_shows(&self, now: f64) -> CockroachCluster {
        let mut seen = self.clone();
        for n in seen.nodes.values_mut() {
            let recent = n.down_since.is_some_and(|t| now < t + LIVENESS_EXPIRATION);
            if !n.live && !n.store_lost && recent {
                n.live = true;
                n.down_since = None;
            }
        }
        seen
    }

    pub fn node(&self, cluster: &str, store: &str) -> Option<&NodeStatus> {
        self.nodes.get(&(cluster.to_string(), store.to_string()))
    }

    pub fn status(&self, ca: &str) -> ClusterStatus {
        ClusterStatus {
            ca: ca.to_string(),
            cluster_id: self.cluster_id.clone(),
            version: self.cluster_version.map(version::display),
            settings: self.settings.clone(),
            events: self.events.clone(),
            catalog: self.catalog.clone(),
            database_replicas: self
                .database_ranges
                .keys()
                .map(|db| {
                    let ranges = self.database_ranges(db);
                    let localities = ranges
                        .iter()
                        .map(|r| {
                            r.replicas
                                .iter()
                                .filter_map(|id| self.locality_of(*id).cloned())
                                .collect()
                        })
                        .collect();
                    (db.clone(), localities)
                })
                .collect(),
        }
    }

    fn counts(&self, now: f64) -> Counts {
        let peers = self.peers(now);
        let gone = |n: &&NodeStatus| n.membership == Membership::Decommissioned;
        let count = |pred: fn(&NodeStatus) -> bool| {
            self.nodes.values().filter(|n| !gone(n) && pred(n)).count() as u32
        };
        let mut c = Counts {
            nodes_down: count(|n| !n.live),
            nodes_disrupted: count(|n| !n.live || n.membership == Membership::Decommissioning),
            zones_down: self
                .nodes
                .values()
                .filter(|n| !gone(n) && !n.live)
                .map(|n| &n.locality.zone)
                .collect::<BTreeSet<_>>()
                .len() as u32,
            ..Counts::default()
        };
        let needed = replication::Needed::new(&peers, &self.ranges, self.num_replicas());
        for r in &self.ranges {
            let h = replication::health(&peers, r, needed.of(r));
            c.unavailable += u32::from(h.unavailable);
            c.under_replicated += u32::from(h.under_replicated);
        }
        c
    }

    /// Something changed at `now`: leases follow, the allocator looks again, the recorder integrates up to here
    /// and lost ranges are counted once.
    fn changed(&mut self, now: f64) {
        let peers = self.peers(now);
        replication::place_leases(&peers, &mut self.ranges);
        self.settled = false;
        let newly_lost: Vec<u32> = self
            .ranges
            .iter()
            .filter(|r| !self.lost.contains(&r.id) && replication::health(&peers, r, 0).lost)
            .map(|r| r.id)
            .collect();
        self.recorder.ranges_lost(newly_lost.len() as u32);
        self.lost.extend(newly_lost);
        let counts = self.counts(now);
        self.recorder.observe(now, counts);
    }

    /// Plays every timed transition up to `now` in order: nodes turning dead (which lets the allocator replace
    /// their replicas) and allocator changes at `REPLICA_CHANGES_PER_SECOND`.
    pub fn advance(&mut self, now: f64) {
        let dead_after = self.time_until_store_dead();
        loop {
            let dead_at = self
                .nodes
                .values()
                .filter_map(|n| n.down_since.map(|t| t + dead_after))
                .filter(|t| *t > self.at)
                .min_by(f64::total_cmp);
            let change_at = (!self.settled).then(|| self.next_change.max(self.at));
            let Some(t) = [dead_at, change_at]
                .into_iter()
                .flatten()
                .min_by(f64::total_cmp)
                .filter(|t| *t <= now)
            else {
                break;
            };
            self.at = t;
            if dead_at.is_some_and(|d| d <= t) {
                self.settled = false;
                continue;
            }
            let peers = self.peers(t);
            match replication::next_action(&peers, &self.ranges, self.num_replicas()) {
                Some(action) => {
                    replication::apply(&mut self.ranges, action);
                    self.next_change = t + 1.0 / REPLICA_CHANGES_PER_SECOND;
                    self.changed(t);
                }
                None => self.settled = true,
            }
        }
        self.at = self.at.max(now);
    }

    pub fn availability(&self, now: f64) -> Availability {
        self.recorder.report(now)
    }

    pub fn reset_availability(&mut self, now: f64) {
        self.recorder.reset(now);
    }

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
            .iter()
            .filter(|(_, n)| !n.store_lost && n.membership == Membership::Active)
            .map(|(key, n)| {
                if n.live {
                    self.binaries.get(key).copied()
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
                    version: version::display(min),
                });
            }
            Some(_) => {}
        }
    }

    /// Records the binary a node runs; may finalize an upgrade.
    pub fn node_binary(&mut self, cluster: &str, store: &str, binary: Major) {
        let key = (cluster.to_string(), store.to_string());
        let changed = self.binaries.insert(key.clone(), binary) != Some(binary);
        let version = version::display(binary);
        if let Some(n) = self.nodes.get_mut(&key) {
            n.version = version.clone();
            if changed {
                let event = CockroachEvent::NodeRunning {
                    node_id: n.node_id,
                    cluster: n.cluster.clone(),
                    zone: n.zone.clone(),
                    pod: n.pod.clone(),
                    version,
                };
                self.events.push(event);
            }
        }
        self.finalize_if_ready();
    }

    /// `SET CLUSTER SETTING name = value`. `cluster.preserve_downgrade_option` takes only the current cluster
    /// version, as in CockroachDB; Err is what the SQL client prints.
    pub fn set_setting(&mut self, name: &str, value: &str, now: f64) -> Result<(), String> {
        if name == PRESERVE_DOWNGRADE_OPTION {
            let Some(wanted) = version::parse(value) else {
                return Err(format!("ERROR: invalid version {value}"));
            };
            if let Some(current) = self.cluster_version.filter(|v| *v != wanted) {
                return Err(format!(
                    "ERROR: cannot set {name} to {value} (cluster version is {})",
                    version::display(current)
                ));
            }
        }
        if name == TIME_UNTIL_STORE_DEAD && parse_duration(value).is_none() {
            return Err(format!(
                "ERROR: invalid value for {name}: could not parse {value:?} as a duration"
            ));
        }
        self.advance(now);
        self.settings.insert(name.to_string(), value.to_string());
        self.events.push(CockroachEvent::SettingSet {
            name: name.to_string(),
            value: value.to_string(),
        });
        self.finalize_if_ready();
        self.changed(now);
        Ok(())
    }

    /// `RESET CLUSTER SETTING name`: back to the default; with `cluster.preserve_downgrade_option` gone, an
    /// upgrade every node already runs finalizes at once.
    pub fn reset_setting(&mut self, name: &str, now: f64) {
        self.advance(now);
        self.settings.remove(name);
        self.events.push(CockroachEvent::SettingReset {
            name: name.to_string(),
        });
        self.finalize_if_ready();
        self.changed(now);
    }

    /// `ALTER RANGE default CONFIGURE ZONE USING num_replicas = n`.
    pub fn configure_default_zone(&mut self, num_replicas: usize, now: f64) -> Result<(), String> {
        if num_replicas == 0 {
            return Err("ERROR: num_replicas must be positive".into());
        }
        self.advance(now);
        self.num_replicas = num_replicas;
        self.changed(now);
        Ok(())
    }

    /// The regions of the members' localities: the regions a database may use.
    pub fn cluster_regions(&self, now: f64) -> BTreeSet<String> {
        self.region_zones(now).into_keys().collect()
    }

    /// Each region of the members' localities with its zones.
    pub fn region_zones(&self, now: f64) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for p in self.peers(now).values().filter(|p| !p.leaving) {
            out.entry(p.locality.region.clone())
                .or_default()
                .insert(p.locality.zone.clone());
        }
        out
    }

    /// A database was created: its ranges split off the first range and follow its zone configuration.
    pub fn database_created(&mut self, name: &str, now: f64) {
        self.advance(now);
        let Some(first) = self.ranges.first().cloned() else {
            return;
        };
        let next = self.ranges.iter().map(|r| r.id).max().unwrap_or(0) + 1;
        let ids: Vec<u32> = (next..next + DATABASE_RANGES).collect();
        for id in &ids {
            self.ranges.push(Range {
                id: *id,
                constraints: Constraints::default(),
                ..first.clone()
            });
        }
        self.database_ranges.insert(name.to_string(), ids);
        self.database_changed(name, now);
    }

    /// A database's regions or survival goal changed: its ranges take the new zone configuration, and the
    /// allocator moves their replicas.
    pub fn database_changed(&mut self, name: &str, now: f64) {
        self.advance(now);
        let Some(db) = self.catalog.databases.get(name) else {
            return;
        };
        let constraints = database_constraints(db);
        let ids = self.database_ranges.get(name).cloned().unwrap_or_default();
        for r in self.ranges.iter_mut().filter(|r| ids.contains(&r.id)) {
            r.constraints = constraints.clone();
        }
        self.changed(now);
    }

    /// A database was dropped: its ranges are garbage-collected.
    pub fn database_dropped(&mut self, name: &str, now: f64) {
        self.advance(now);
        let ids = self.database_ranges.remove(name).unwrap_or_default();
        self.ranges.retain(|r| !ids.contains(&r.id));
        self.changed(now);
    }

    /// The ranges of a database, empty when it has none.
    pub fn database_ranges(&self, name: &str) -> Vec<&Range> {
        let ids = self.database_ranges.get(name).cloned().unwrap_or_default();
        self.ranges.iter().filter(|r| ids.contains(&r.id)).collect()
    }

    /// The locality of node `id`.
    pub fn locality_of(&self, id: NodeId) -> Option<&Locality> {
        self.nodes
            .values()
            .find(|n| n.node_id == id)
            .map(|n| &n.locality)
    }

    /// Bootstraps the cluster; false when it already was.
    pub fn init(&mut self, cluster_id: String, version: Option<Major>) -> bool {
        if self.cluster_id.is_some() {
            return false;
        }
        self.cluster_version = version;
        self.cluster_id = Some(cluster_id);
        true
    }

    /// The node on `store` runs and has joined, getting a node ID on its first join. The first node of an
    /// initialised cluster holds every range, as after `cockroach init`.
    pub fn node_joined(
        &mut self,
        ca: &str,
        at: (&str, &str, &str),
        store: &str,
        locality: Locality,
        now: f64,
    ) -> u32 {
        let (cluster, zone, pod) = at;
        self.advance(now);
        let key = (cluster.to_string(), store.to_string());
        let id = match self.nodes.get_mut(&key) {
            Some(n) => {
                n.live = true;
                n.down_since = None;
                n.pod = pod.to_string();
                n.locality = locality;
                n.node_id
            }
            None => {
                self.next_node_id += 1;
                let node_id = self.next_node_id;
                self.nodes.insert(
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
                        locality,
                        down_since: None,
                        liveness: Liveness::Live,
                    },
                );
                node_id
            }
        };
        if self.cluster_id.is_some() && self.ranges.is_empty() && self.lost.is_empty() {
            self.ranges = (1..=self.range_count)
                .map(|rid| Range {
                    id: rid,
                    replicas: vec![id],
                    leaseholder: Some(id),
                    constraints: Constraints::default(),
                })
                .collect();
        }
        self.changed(now);
        id
    }

    /// The node process on `store` stopped (pod gone, crashed or replaced): it is no longer live.
    pub fn node_stopped(&mut self, cluster: &str, store: &str, now: f64) {
        self.advance(now);
        let key = (cluster.to_string(), store.to_string());
        let Some(n) = self.nodes.get_mut(&key).filter(|n| n.live) else {
            return;
        };
        n.live = false;
        n.down_since = Some(now);
        self.changed(now);
    }

    /// The node's store is gone; true when no node of the cluster has its data any more (the cluster is gone).
    pub fn store_deleted(&mut self, cluster: &str, store: &str, now: f64) -> bool {
        self.advance(now);
        let key = (cluster.to_string(), store.to_string());
        if let Some(n) = self.nodes.get_mut(&key) {
            if n.live {
                n.down_since = Some(now);
            }
            n.live = false;
            n.store_lost = true;
        }
        self.changed(now);
        self.nodes.values().all(|n| n.store_lost)
    }

    pub fn node_ids(&self) -> BTreeSet<u32> {
        self.nodes.values().map(|n| n.node_id).collect()
    }

    /// `cockroach node decommission`, first call: the pre-flight checks, then the nodes start handing their
    /// replicas over. Err is what the CLI prints.
    pub fn start_decommission(&mut self, ids: &[u32], now: f64) -> Result<(), String> {
        self.advance(now);
        let known = self.node_ids();
        if let Some(id) = ids.iter().find(|id| !known.contains(id)) {
            return Err(format!("ERROR: node {id} does not exist"));
        }
        let fresh: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|id| {
                self.nodes
                    .values()
                    .any(|n| n.node_id == *id && n.membership == Membership::Active)
            })
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let blockers = replication::decommission_blockers(
            &self.peers(now),
            &self.ranges,
            self.num_replicas(),
            &fresh,
        );
        if !blockers.is_empty() {
            return Err(format!(
                "ranges blocking decommission detected\n{}\n\nERROR: Cannot decommission nodes.\nFailed running \"node decommission\"",
                blockers.join("\n")
            ));
        }
        for n in self.nodes.values_mut() {
            if fresh.contains(&n.node_id) {
                n.membership = Membership::Decommissioning;
            }
        }
        self.changed(now);
        Ok(())
    }

    /// Replicas each node still holds.
    pub fn replica_count(&self, id: NodeId) -> usize {
        self.ranges
            .iter()
            .filter(|r| r.replicas.contains(&id))
            .count()
    }

    /// Once the decommissioning nodes hold no replica, they are decommissioned; true when that is done.
    pub fn finish_decommission(&mut self, ids: &[u32], now: f64) -> bool {
        self.advance(now);
        if ids.iter().any(|id| self.replica_count(*id) > 0) {
            return false;
        }
        for n in self.nodes.values_mut() {
            if ids.contains(&n.node_id) {
                n.membership = Membership::Decommissioned;
            }
        }
        self.changed(now);
        true
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn joined(c: &mut CockroachCluster, i: u32, region: &str, now: f64) -> u32 {
        let store = format!("{region}/datadir-{i}");
        let locality = Locality {
            region: region.into(),
            zone: region.into(),
        };
        c.node_joined("ca", ("k", region, &format!("p{i}")), &store, locality, now)
    }

    /// Nine nodes over three regions, settled.
    pub(crate) fn nine() -> CockroachCluster {
        let mut c = CockroachCluster::new(60);
        assert!(c.init("id".into(), None));
        for i in 0..9 {
            joined(&mut c, i, ["a", "b", "c"][i as usize / 3], 0.0);
        }
        c.advance(100.0);
        c.reset_availability(100.0);
        c
    }

    pub(crate) fn stop(c: &mut CockroachCluster, i: u32, region: &str, now: f64) {
        c.node_stopped("k", &format!("{region}/datadir-{i}"), now);
    }

    #[test]
    fn a_stopped_node_is_suspect_then_dead_and_without_a_spare_region_stays_under_replicated() {
        let mut c = nine();
        stop(&mut c, 8, "c", 100.0);
        c.advance(399.0);
        let n = c.nodes(399.0).into_iter().find(|n| n.pod == "p8").unwrap();
        assert_eq!(n.liveness, Liveness::Suspect);
        c.advance(401.0);
        let n = c.nodes(401.0).into_iter().find(|n| n.pod == "p8").unwrap();
        assert_eq!(n.liveness, Liveness::Dead);
        c.advance(1000.0);
        let a = c.availability(1000.0);
        assert_eq!(a.unavailable_range_seconds, 0.0);
        assert_eq!(a.max_nodes_down, 1);
        assert!(a.under_replicated_range_seconds > 0.0);
        // Region c still has two live nodes: the dead node's replicas move there.
        assert_eq!(c.replica_count(9), 0);
        assert_eq!(c.counts(1000.0).under_replicated, 0);
    }

    #[test]
    fn a_shorter_time_until_store_dead_repairs_sooner() {
        let mut c = nine();
        c.set_setting(TIME_UNTIL_STORE_DEAD, "1m15s", 100.0)
            .unwrap();
        stop(&mut c, 8, "c", 100.0);
        c.advance(200.0);
        assert_eq!(c.replica_count(9), 0);
    }

    #[test]
    fn the_record_counts_zones_with_a_node_down_at_once() {
        let mut c = nine();
        for i in 0..3 {
            stop(&mut c, i, "a", 110.0);
        }
        for i in 0..3 {
            joined(&mut c, i, "a", 115.0);
        }
        let a = c.availability(120.0);
        assert_eq!((a.max_nodes_down, a.max_zones_down), (3, 1), "{a:?}");
        stop(&mut c, 3, "b", 121.0);
        stop(&mut c, 6, "c", 121.0);
        assert_eq!(c.availability(122.0).max_zones_down, 2);
    }

    #[test]
    fn restart_outage_is_integrated_exactly() {
        let mut c = nine();
        let before = c.replica_count(1) as f64;
        stop(&mut c, 0, "a", 110.0);
        joined(&mut c, 0, "a", 112.5);
        let a = c.availability(120.0);
        assert_eq!(a.unavailable_range_seconds, 0.0);
        assert!(
            (a.under_replicated_range_seconds - 2.5 * before).abs() < 1e-6,
            "{a:?}"
        );
        assert_eq!(a.max_nodes_down, 1);
    }

    #[test]
    fn two_regions_down_make_ranges_unavailable() {
        let mut c = nine();
        for (i, r) in [(3, "b"), (4, "b"), (5, "b"), (6, "c"), (7, "c"), (8, "c")] {
            stop(&mut c, i, r, 110.0);
        }
        let a = c.availability(111.0);
        assert_eq!(a.max_unavailable_ranges, 60);
        assert_eq!(a.max_nodes_down, 6);
        assert!((a.unavailable_range_seconds - 60.0).abs() < 1e-6);
    }

    #[test]
    fn deleting_every_volume_of_a_range_loses_it_and_is_recorded_once() {
        let mut c = nine();
        c.configure_default_zone(3, 100.0).unwrap();
        for i in 0..6 {
            let region = ["a", "b"][i as usize / 3];
            c.store_deleted("k", &format!("{region}/datadir-{i}"), 100.0);
        }
        assert_eq!(
            c.availability(101.0).ranges_lost,
            0,
            "region c holds a replica of each"
        );
        let mut c = CockroachCluster::new(10);
        c.init("id".into(), None);
        joined(&mut c, 0, "a", 0.0);
        joined(&mut c, 1, "b", 0.0);
        assert!(!c.store_deleted("k", "a/datadir-0", 0.01));
        assert!(
            c.availability(1.0).ranges_lost > 0,
            "ranges not yet up-replicated are lost"
        );
        let lost = c.availability(1.0).ranges_lost;
        c.advance(50.0);
        assert_eq!(c.availability(50.0).ranges_lost, lost);
    }

    #[test]
    fn decommission_moves_replicas_at_a_bounded_rate_then_completes() {
        let mut c = nine();
        c.start_decommission(&[1], 100.0).unwrap();
        let held = c.replica_count(1);
        assert!(held > 0);
        assert!(!c.finish_decommission(&[1], 100.0 + 1.0 / REPLICA_CHANGES_PER_SECOND));
        let enough = 100.0 + (held as f64 + 1.0) / REPLICA_CHANGES_PER_SECOND;
        assert!(c.finish_decommission(&[1], enough + 1.0));
        assert_eq!(
            c.availability(enough + 1.0).under_replicated_range_seconds,
            0.0
        );
        let mut small = CockroachCluster::new(10);
        small.init("id".into(), None);
        for i in 0..3 {
            joined(&mut small, i, "a", 0.0);
        }
        small.advance(100.0);
        let refused = small.start_decommission(&[3], 100.0).unwrap_err();
        assert!(
            refused.contains("ERROR: Cannot decommission nodes."),
            "{refused}"
        );
        assert!(refused.contains("n3 has 10 replicas blocked"), "{refused}");
    }

    #[test]
    fn a_decommissioning_node_counts_as_disrupted_until_it_is_decommissioned() {
        let mut c = nine();
        c.start_decommission(&[1], 100.0).unwrap();
        c.start_decommission(&[4], 100.0).unwrap();
        let a = c.availability(100.5);
        assert_eq!((a.max_nodes_down, a.max_nodes_disrupted), (0, 2), "{a:?}");
        c.advance(1000.0);
        assert!(c.finish_decommission(&[1, 4], 1000.0));
        c.reset_availability(1000.0);
        stop(&mut c, 7, "c", 1001.0);
        let a = c.availability(1002.0);
        assert_eq!(
            (a.max_nodes_down, a.max_nodes_disrupted),
            (1, 1),
            "decommissioned nodes are not disrupted, a node down is: {a:?}"
        );
    }

    #[test]
    fn a_stopped_node_looks_live_until_its_liveness_record_expires() {
        let mut c = nine();
        stop(&mut c, 8, "c", 100.0);
        let live = |c: &CockroachCluster, now: f64| {
            c.as_liveness_shows(now)
                .nodes(now)
                .iter()
                .filter(|n| n.live)
                .count()
        };
        assert_eq!(live(&c, 100.0 + LIVENESS_EXPIRATION - 0.1), 9);
        assert_eq!(live(&c, 100.0 + LIVENESS_EXPIRATION), 8);
        assert_eq!(
            c.nodes(100.0).iter().filter(|n| n.live).count(),
            8,
            "the node itself is down at once"
        );
    }

    #[test]
    fn a_new_node_receives_replicas_by_rebalancing() {
        let mut c = nine();
        let id = joined(&mut c, 9, "a", 100.0);
        c.advance(200.0);
        assert!(c.replica_count(id) >= 60 / 4 - 2, "{}", c.replica_count(id));
    }
}
