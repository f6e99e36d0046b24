//! The health gate's judgement from what the nodes answer over HTTP (through the API server's pods proxy, so no
//! Job and no SQL): each node's `/health?ready=1` (200 only while it is live and not draining) and its
//! `/_status/vars` in Prometheus text. Those two are the endpoints a secure node serves without a login.
//!
//! A node that is down cannot answer for itself: the others' `liveness_livenodes` ("Number of live nodes in the
//! cluster (will be 0 if this node is not itself live)", `kv/kvserver/liveness`) says how many members they see
//! live, which the gate compares with the members it knows of. The `ranges_*` gauges are counted per store by the
//! replica that counts each range (its leaseholder), so the cluster's count is their sum over the live nodes.
//!
//! The gate reaches the nodes of the zones this provider process applies (it has their clients), which in a run
//! that changes one region is that region's nodes: the ranges counted on other zones' nodes are then not in the
//! sum. What guards them is the liveness view, which every live node has of the whole cluster: a range is
//! unavailable or under-replicated in CockroachDB only while a replica of it sits on a member that is not live
//! (or is being replaced), and the gate passes only when every member it expects is live.
use super::health::Unhealthy;

/// The metrics the gate reads, with the names `/_status/vars` gives them (CockroachDB's `ranges.unavailable`
/// etc. with dots as underscores).
pub const LIVE_NODES: &str = "liveness_livenodes";
pub const RANGES_UNAVAILABLE: &str = "ranges_unavailable";
pub const RANGES_UNDERREPLICATED: &str = "ranges_underreplicated";
/// Ranges with a replica on a decommissioning node (`kv/kvserver/metrics.go`).
pub const RANGES_DECOMMISSIONING: &str = "ranges_decommissioning";

/// What one node's `/_status/vars` says, summed over its stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeVars {
    pub live_nodes: u64,
    pub ranges_unavailable: u64,
    pub ranges_underreplicated: u64,
    pub ranges_decommissioning: u64,
}

/// Sums every sample of `name` (one per store, whatever the labels) in Prometheus text; None when none is there.
fn sum_of(text: &str, name: &str) -> Option<u64> {
    let mut total = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        // `ranges` must not match `ranges_unavailable`: the name ends at a label set or a space.
        let value = match rest.chars().next() {
            Some('{') => rest.split_once('}').map(|(_, v)| v),
            Some(' ') => Some(rest),
            _ => None,
        };
        let Some(value) = value.and_then(|v| v.split_whitespace().next()) else {
            continue;
        };
        // Gauges print as floats (`3` or `3e+00`).
        if let Ok(v) = value.parse::<f64>() {
            *total.get_or_insert(0) += v.max(0.0) as u64;
        }
    }
    total
}

/// A metric the gate reads that an answer lacks: the answer is not a node's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingMetric(pub &'static str);

impl std::fmt::Display for MissingMetric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no {} in /_status/vars", self.0)
    }
}

/// Reads the gate's metrics; the error names the first one missing.
pub fn parse_vars(text: &str) -> Result<NodeVars, MissingMetric> {
    let need = |name: &'static str| sum_of(text, name).ok_or(MissingMetric(name));
    Ok(NodeVars {
        live_nodes: need(LIVE_NODES)?,
        ranges_unavailable: need(RANGES_UNAVAILABLE)?,
        ranges_underreplicated: need(RANGES_UNDERREPLICATED)?,
        // Older releases lack it; absent means no decommissioning replica is counted.
        ranges_decommissioning: sum_of(text, RANGES_DECOMMISSIONING).unwrap_or(0),
    })
}

/// One node's two answers in one look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAnswer {
    /// `us-east1-b/cockroachdb-2`: where an operator finds it.
    pub name: String,
    pub zone: String,
    /// None when `/health?ready=1` answered 200; else what it answered, or why it could not be asked.
    pub not_ready: Option<String>,
    /// The body `/_status/vars` answered with (asked only of a ready node).
    pub vars: Option<String>,
}

/// The gate over one look at every node it reaches: each of them ready, every member the live nodes know of live
/// (`expected_live`: the active members not leaving on purpose), no range unavailable or under-replicated, and,
/// unless nodes are leaving on purpose (`leaving_on_purpose`), no range with a replica on a decommissioning node.
/// A look that reached no ready node knows nothing and is never healthy.
pub fn judge(answers: &[NodeAnswer], expected_live: u64, leaving_on_purpose: bool) -> Unhealthy {
    let mut unhealthy = Unhealthy::default();
    let mut fewest_live: Option<u64> = None;
    let mut decommissioning = 0;
    for answer in answers {
        if let Some(why) = &answer.not_ready {
            unhealthy.not_live.push(format!("{} ({why})", answer.name));
            continue;
        }
        let vars = match answer.vars.as_deref().map(parse_vars) {
            Some(Ok(vars)) => vars,
            Some(Err(why)) => {
                unhealthy.not_live.push(format!("{} ({why})", answer.name));
                continue;
            }
            None => {
                let why = "no /_status/vars answer";
                unhealthy.not_live.push(format!("{} ({why})", answer.name));
                continue;
            }
        };
        fewest_live = Some(fewest_live.map_or(vars.live_nodes, |f| f.min(vars.live_nodes)));
        unhealthy.ranges_unavailable += vars.ranges_unavailable;
        unhealthy.ranges_underreplicated += vars.ranges_underreplicated;
        decommissioning += vars.ranges_decommissioning;
        let troubled = vars.ranges_unavailable + vars.ranges_underreplicated;
        if troubled > 0 {
            *unhealthy.by_zone.entry(answer.zone.clone()).or_default() += troubled;
        }
    }
    let seen = fewest_live.unwrap_or(0);
    if seen < expected_live {
        unhealthy.live_members = Some((seen, expected_live));
    }
    if decommissioning > 0 && !leaving_on_purpose {
        unhealthy.decommissioning.push(format!(
            "{decommissioning} ranges have a replica on a node no one of ours is decommissioning"
        ));
    }
    unhealthy
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/_status/vars` as a v24 node prints it: HELP and TYPE lines, store gauges labelled by store.
    fn vars(live: u64, unavailable: u64, under: u64, decommissioning: u64) -> String {
        format!(
            "# HELP ranges Number of ranges\n# TYPE ranges gauge\nranges{{store=\"1\",node_id=\"1\"}} 40\n\
             # HELP ranges_unavailable Number of ranges with fewer live replicas than needed for quorum\n\
             ranges_unavailable{{store=\"1\",node_id=\"1\"}} {unavailable}\n\
             ranges_underreplicated{{store=\"1\",node_id=\"1\"}} {under}\n\
             ranges_decommissioning{{store=\"1\",node_id=\"1\"}} {decommissioning}\n\
             liveness_livenodes{{node_id=\"1\"}} {live}\n"
        )
    }

    fn ready(name: &str, zone: &str, body: String) -> NodeAnswer {
        NodeAnswer {
            name: format!("{zone}/{name}"),
            zone: zone.into(),
            not_ready: None,
            vars: Some(body),
        }
    }

    #[test]
    fn metrics_are_read_by_their_whole_name_and_summed_over_stores() {
        let text = format!(
            "{}ranges_unavailable{{store=\"2\"}} 2e+00\n",
            vars(3, 1, 4, 0)
        );
        let read = parse_vars(&text).unwrap();
        assert_eq!(
            read,
            NodeVars {
                live_nodes: 3,
                ranges_unavailable: 3,
                ranges_underreplicated: 4,
                ranges_decommissioning: 0
            }
        );
        assert_eq!(sum_of("ranges 7\nranges_x 9\n", "ranges"), Some(7));
        let said = parse_vars("ranges{store=\"1\"} 4\n")
            .unwrap_err()
            .to_string();
        assert!(said.contains("no liveness_livenodes"), "{said}");
    }

    #[test]
    fn every_node_ready_every_member_live_and_every_range_replicated_is_healthy() {
        let answers = [
            ready("cockroachdb-0", "a", vars(3, 0, 0, 0)),
            ready("cockroachdb-1", "a", vars(3, 0, 0, 0)),
        ];
        assert!(judge(&answers, 3, false).is_healthy());
    }

    #[test]
    fn a_member_the_live_nodes_miss_and_the_ranges_it_leaves_short_keep_the_gate_closed() {
        // A node of a zone the gate cannot reach is down: only the others' view shows it.
        let answers = [
            ready("cockroachdb-0", "a", vars(2, 0, 30, 0)),
            ready("cockroachdb-1", "b", vars(2, 1, 10, 0)),
        ];
        let verdict = judge(&answers, 3, false);
        assert_eq!(verdict.live_members, Some((2, 3)));
        assert_eq!(
            (verdict.ranges_unavailable, verdict.ranges_underreplicated),
            (1, 40)
        );
        let said = verdict.to_string();
        assert!(said.contains("2 of 3 members live"), "{said}");
        assert!(said.contains("a: 30, b: 11"), "{said}");
    }

    #[test]
    fn a_node_not_ready_or_unreadable_is_named_and_its_counts_are_not_taken() {
        let mut down = ready("cockroachdb-2", "a", vars(0, 9, 9, 0));
        down.not_ready = Some("/health?ready=1 answered 503: node is not healthy".into());
        let mut garbled = ready("cockroachdb-1", "a", "<html>".into());
        garbled.name = "a/cockroachdb-1".into();
        let answers = [ready("cockroachdb-0", "a", vars(3, 0, 0, 0)), down, garbled];
        let verdict = judge(&answers, 3, false);
        assert_eq!(
            verdict.ranges_unavailable, 0,
            "a node not ready counts nothing"
        );
        let said = verdict.to_string();
        assert!(
            said.contains("a/cockroachdb-2 (/health?ready=1 answered 503"),
            "{said}"
        );
        assert!(
            said.contains("a/cockroachdb-1 (no liveness_livenodes"),
            "{said}"
        );
    }

    #[test]
    fn a_look_that_reached_no_live_node_is_never_healthy() {
        let verdict = judge(&[], 3, false);
        assert_eq!(verdict.live_members, Some((0, 3)));
        assert!(!verdict.is_healthy());
    }

    #[test]
    fn decommissioning_replicas_keep_the_gate_closed_unless_ours_are_leaving() {
        let answers = [ready("cockroachdb-0", "a", vars(3, 0, 0, 12))];
        assert!(judge(&answers, 3, true).is_healthy());
        let surprise = judge(&answers, 3, false);
        assert!(
            surprise.to_string().contains("decommissioning: 12 ranges"),
            "{surprise}"
        );
    }
}
