//! What a node reports about its store and its view of the cluster, with CockroachDB's names and meaning:
//! `/_status/vars` in Prometheus text and `cockroach node status --format=csv`. Range-level counts are made by
//! the node CockroachDB makes them on (`replication::range_counter`), so summing `ranges_unavailable` over the
//! nodes gives the cluster's count, as dashboards and operators do.

use super::cluster::{CockroachCluster, Membership, NodeStatus};
use super::replication::{self, NodeId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreMetrics {
    pub ranges: u32,
    pub ranges_unavailable: u32,
    pub ranges_underreplicated: u32,
    pub ranges_overreplicated: u32,
    /// Ranges with a replica on a decommissioning node (`ranges.decommissioning`).
    pub ranges_decommissioning: u32,
    pub replicas: u32,
    pub replicas_leaders: u32,
    pub replicas_leaseholders: u32,
}

/// The store metrics of node `id` (one store per node, store ID = node ID) at `now`.
pub fn store_metrics(c: &CockroachCluster, id: NodeId, now: f64) -> StoreMetrics {
    let peers = c.peers(now);
    let needed = replication::Needed::new(&peers, c.ranges(), c.num_replicas());
    let live = peers.get(&id).is_some_and(|p| p.live);
    let decommissioning: Vec<NodeId> = c
        .nodes(now)
        .iter()
        .filter(|n| n.membership == Membership::Decommissioning)
        .map(|n| n.node_id)
        .collect();
    let mut m = StoreMetrics::default();
    for r in c.ranges().iter().filter(|r| r.replicas.contains(&id)) {
        m.replicas += 1;
        if live && r.leaseholder == Some(id) {
            m.replicas_leaseholders += 1;
            m.replicas_leaders += 1;
        }
        if replication::range_counter(&peers, r) == Some(id) {
            let h = replication::health(&peers, r, needed.of(r));
            m.ranges += 1;
            m.ranges_unavailable += u32::from(h.unavailable);
            m.ranges_underreplicated += u32::from(h.under_replicated);
            m.ranges_overreplicated += u32::from(h.over_replicated);
            let on_decommissioning = r.replicas.iter().any(|n| decommissioning.contains(n));
            m.ranges_decommissioning += u32::from(on_decommissioning);
        }
    }
    m
}

/// `liveness.livenodes`: live members, as a live node sees them (0 on a node that is not live itself).
pub fn live_nodes(c: &CockroachCluster, id: NodeId, now: f64) -> u32 {
    let nodes = c.nodes(now);
    if !nodes.iter().any(|n| n.node_id == id && n.live) {
        return 0;
    }
    nodes
        .iter()
        .filter(|n| n.live && n.membership != Membership::Decommissioned)
        .count() as u32
}

/// `/_status/vars` of node `id`.
pub fn prometheus(c: &CockroachCluster, id: NodeId, now: f64) -> String {
    let m = store_metrics(c, id, now);
    let store = [
        ("ranges", "Number of ranges", m.ranges),
        (
            "ranges_unavailable",
            "Number of ranges with fewer live replicas than needed for quorum",
            m.ranges_unavailable,
        ),
        (
            "ranges_underreplicated",
            "Number of ranges with fewer live replicas than the replication target",
            m.ranges_underreplicated,
        ),
        (
            "ranges_overreplicated",
            "Number of ranges with more live replicas than the replication target",
            m.ranges_overreplicated,
        ),
        (
            "ranges_decommissioning",
            "Number of ranges with at lease one replica on a decommissioning node",
            m.ranges_decommissioning,
        ),
        ("replicas", "Number of replicas", m.replicas),
        (
            "replicas_leaders",
            "Number of raft leaders",
            m.replicas_leaders,
        ),
        (
            "replicas_leaseholders",
            "Number of lease holders",
            m.replicas_leaseholders,
        ),
    ];
    let mut out = String::new();
    for (name, help, value) in store {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{store=\"{id}\",node_id=\"{id}\"}} {value}\n"
        ));
    }
    out.push_str(&format!(
        "# HELP liveness_livenodes Number of live nodes in the cluster (will be 0 if this node is not itself live)\n# TYPE liveness_livenodes gauge\nliveness_livenodes{{node_id=\"{id}\"}} {}\n",
        live_nodes(c, id, now)
    ));
    out
}

/// The columns `cockroach node status --all` prints (v23.1 and later), in order.
pub const NODE_STATUS_COLUMNS: [&str; 23] = [
    "id",
    "address",
    "sql_address",
    "build",
    "started_at",
    "updated_at",
    "locality",
    "is_available",
    "is_live",
    "replicas_leaders",
    "replicas_leaseholders",
    "ranges",
    "ranges_unavailable",
    "ranges_underreplicated",
    "live_bytes",
    "key_bytes",
    "value_bytes",
    "intent_bytes",
    "system_bytes",
    "gossiped_replicas",
    "is_decommissioning",
    "membership",
    "is_draining",
];

/// Which column groups `node status` shows: the base columns always, the others with their flag or `--all`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeStatusColumns {
    pub ranges: bool,
    pub stats: bool,
    pub decommission: bool,
}

impl NodeStatusColumns {
    fn shows(&self, column: usize) -> bool {
        match column {
            0..=8 => true,
            9..=13 => self.ranges,
            14..=18 => self.stats,
            _ => self.decommission,
        }
    }
}

/// A time `seconds_ago` before now as `node status` prints it (`2026-01-02 03:04:05.000000`, UTC).
fn node_status_time(seconds_ago: f64) -> String {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let at = (wall - seconds_ago.max(0.0)).max(0.0) as u64;
    crate::clocktime::format_unix(at)
        .replace('T', " ")
        .replace('Z', ".000000")
}

/// One node's row; `address` is what the node advertises.
fn row(c: &CockroachCluster, n: &NodeStatus, address: &str, now: f64) -> Vec<String> {
    let m = store_metrics(c, n.node_id, now);
    let build = if n.version.is_empty() {
        "unknown".to_string()
    } else {
        format!("v{}.0", n.version)
    };
    // A running node records its status every 10 s or so; a stopped one keeps the record of when it went down,
    // as long ago in cluster seconds as the emulation has run since.
    let updated_at = node_status_time(n.down_since.map_or(0.0, |since| now - since));
    [
        n.node_id.to_string(),
        format!("{address}:26257"),
        format!("{address}:26257"),
        build,
        node_status_time(0.0),
        updated_at,
        n.locality.display(),
        n.live.to_string(),
        n.live.to_string(),
        m.replicas_leaders.to_string(),
        m.replicas_leaseholders.to_string(),
        m.ranges.to_string(),
        m.ranges_unavailable.to_string(),
        m.ranges_underreplicated.to_string(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        m.replicas.to_string(),
        (n.membership != Membership::Active).to_string(),
        n.membership.as_str().to_string(),
        "false".into(),
    ]
    .into()
}

/// `cockroach node status ... --format=csv|tsv`: a header line and one line per node.
pub fn node_status(
    c: &CockroachCluster,
    columns: NodeStatusColumns,
    separator: char,
    address: impl Fn(&NodeStatus) -> String,
    now: f64,
) -> String {
    let keep = |cells: Vec<String>| {
        cells
            .into_iter()
            .enumerate()
            .filter(|(i, _)| columns.shows(*i))
            .map(|(_, v)| {
                // As Go's csv writer does: a field holding the separator or a quote is quoted.
                if v.contains(separator) || v.contains('"') {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v
                }
            })
            .collect::<Vec<_>>()
            .join(&separator.to_string())
    };
    let mut lines = vec![keep(
        NODE_STATUS_COLUMNS.iter().map(|s| s.to_string()).collect(),
    )];
    for n in c.nodes(now) {
        lines.push(keep(row(c, &n, &address(&n), now)));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cockroach::replication::Locality;

    fn three_regions() -> CockroachCluster {
        let mut c = CockroachCluster::new(30);
        c.init("id".into(), None);
        for i in 0..3 {
            let region = ["a", "b", "c"][i];
            let locality = Locality {
                region: region.into(),
                zone: region.into(),
            };
            c.node_joined("ca", ("k", region, "p"), &format!("s{i}"), locality, 0.0);
        }
        c.advance(100.0);
        c
    }

    #[test]
    fn every_range_is_counted_once_and_a_down_node_moves_its_counts() {
        let mut c = three_regions();
        let sum = |c: &CockroachCluster| {
            (1..=3)
                .map(|id| store_metrics(c, id, 100.0))
                .fold((0, 0, 0), |a, m| {
                    (
                        a.0 + m.ranges,
                        a.1 + m.ranges_underreplicated,
                        a.2 + m.replicas,
                    )
                })
        };
        assert_eq!(sum(&c), (30, 0, 90));
        c.node_stopped("k", "s2", 100.0);
        assert_eq!(
            sum(&c).0,
            30,
            "the first live replica counts a range whose leaseholder is down"
        );
        assert_eq!(sum(&c).1, 30);
        let text = prometheus(&c, 1, 100.0);
        assert!(
            text.contains("\nranges_underreplicated{store=\"1\",node_id=\"1\"} "),
            "{text}"
        );
        assert!(
            text.contains("liveness_livenodes{node_id=\"1\"} 2\n"),
            "{text}"
        );
        assert!(prometheus(&c, 3, 100.0).contains("liveness_livenodes{node_id=\"3\"} 0\n"));
    }

    /// A stopped node keeps the status record of when it went down, as the real `updated_at` does; the gate reads
    /// how long a node has been down from it.
    #[test]
    fn a_stopped_node_keeps_the_time_it_last_recorded_its_status() {
        let mut c = three_regions();
        c.node_stopped("k", "s2", 100.0);
        let out = node_status(&c, NodeStatusColumns::default(), ',', |_| "x".into(), 250.0);
        let updated_at: Vec<u64> = out
            .lines()
            .skip(1)
            .map(|line| {
                let stamp = line.split(',').nth(5).unwrap();
                let (_, clock) = stamp.split_once(' ').unwrap();
                let hms: Vec<u64> = clock[..8].split(':').map(|p| p.parse().unwrap()).collect();
                hms[0] * 3600 + hms[1] * 60 + hms[2]
            })
            .collect();
        let behind = (updated_at[0] + 86_400 - updated_at[2]) % 86_400;
        assert!((149..=151).contains(&behind), "{out}");
        assert!(updated_at[0].abs_diff(updated_at[1]) <= 1, "{out}");
    }

    #[test]
    fn node_status_prints_the_real_columns_in_order() {
        let c = three_regions();
        let all = NodeStatusColumns {
            ranges: true,
            stats: true,
            decommission: true,
        };
        let out = node_status(&c, all, ',', |n| format!("p.{}", n.zone), 100.0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], NODE_STATUS_COLUMNS.join(","));
        assert_eq!(lines.len(), 4);
        assert!(
            lines[1].starts_with("1,p.a:26257,p.a:26257,unknown,"),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].contains(",\"region=a,zone=a\",true,true,"),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with(",30,false,active,false"), "{}", lines[1]);
        let base = node_status(
            &c,
            NodeStatusColumns::default(),
            '\t',
            |_| "x".into(),
            100.0,
        );
        assert_eq!(base.lines().next().unwrap().split('\t').count(), 9);
    }
}
