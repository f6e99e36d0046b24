//! The cluster's members as `cockroach node status --all --decommission --ranges --format=csv` prints them (read
//! in a Job with the root client certificate, once per rollout when the disruption lease is taken, and before a
//! scale-down or a zone removal), and what they say: whether the cluster may lose a node (`judge`), which nodes
//! have been down for longer than a restart takes, whether nodes may leave. The health gate between two
//! disruptions reads the nodes' HTTP answers instead (`node_vars`) and reports through [`Unhealthy`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use time::PrimitiveDateTime;

/// The command line whose output [`parse_node_status`] reads.
pub const NODE_STATUS_ARGS: [&str; 6] = [
    "node",
    "status",
    "--all",
    "--decommission",
    "--ranges",
    "--format=csv",
];

/// One node as `node status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub id: String,
    pub address: String,
    pub locality: String,
    pub is_live: bool,
    pub ranges_unavailable: u64,
    pub ranges_underreplicated: u64,
    pub membership: String,
    /// Shutting down or being restarted: it sheds its leases and stops serving (false when the column is absent).
    pub is_draining: bool,
    /// When the node last recorded its status (`updated_at`, UTC): every 10 s or so while it runs, so a node that
    /// is down keeps the time it went down. None when the column is absent or unreadable.
    pub updated_at: Option<PrimitiveDateTime>,
}

impl NodeRow {
    /// `n3 (cockroachdb-1.cockroachdb.us-east1-b…, zone=us-east1-b)`: what an operator needs to find the node.
    fn name(&self) -> String {
        let zone = zone_of(self)
            .map(|z| format!(", zone={z}"))
            .unwrap_or_default();
        format!("n{} ({}{zone})", self.id, self.address)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeStatusError {
    #[error("`cockroach node status` printed no header")]
    Empty,
    #[error("`cockroach node status` printed no column {0:?}")]
    MissingColumn(&'static str),
    #[error("`cockroach node status` line {line}: {why}")]
    BadLine { line: usize, why: String },
}

/// Splits one CSV line as Go's csv writer quotes it: a field holding a comma or a quote is quoted, quotes doubled.
pub(crate) fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (_, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    fields.push(field);
    Ok(fields)
}

/// Reads `node status --all --decommission --ranges --format=csv` by column name (the order changed between
/// releases); lines other than the header and the rows (log noise) are not expected.
pub fn parse_node_status(text: &str) -> Result<Vec<NodeRow>, NodeStatusError> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let header = csv_fields(lines.next().ok_or(NodeStatusError::Empty)?)
        .map_err(|why| NodeStatusError::BadLine { line: 1, why })?;
    let column = |name: &'static str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or(NodeStatusError::MissingColumn(name))
    };
    let id = column("id")?;
    let address = column("address")?;
    let locality = column("locality")?;
    let is_live = column("is_live")?;
    let unavailable = column("ranges_unavailable")?;
    let underreplicated = column("ranges_underreplicated")?;
    let membership = column("membership")?;
    let draining = header.iter().position(|h| h == "is_draining");
    let updated_at = header.iter().position(|h| h == "updated_at");
    lines
        .enumerate()
        .map(|(i, line)| {
            let bad = |why: String| NodeStatusError::BadLine { line: i + 2, why };
            let cells = csv_fields(line).map_err(bad)?;
            if cells.len() != header.len() {
                return Err(bad(format!(
                    "{} fields where the header has {}",
                    cells.len(),
                    header.len()
                )));
            }
            let count = |at: usize| {
                cells[at]
                    .parse::<u64>()
                    .map_err(|_| bad(format!("{:?} is not a count", cells[at])))
            };
            Ok(NodeRow {
                id: cells[id].clone(),
                address: cells[address].clone(),
                locality: cells[locality].clone(),
                is_live: cells[is_live] == "true",
                ranges_unavailable: count(unavailable)?,
                ranges_underreplicated: count(underreplicated)?,
                membership: cells[membership].clone(),
                is_draining: draining.is_some_and(|at| cells[at] == "true"),
                updated_at: updated_at.and_then(|at| timestamp(&cells[at])),
            })
        })
        .collect()
}

/// A timestamp as `cockroach node status` prints it (`2024-05-16 13:52:00.123456`, UTC).
fn timestamp(text: &str) -> Option<PrimitiveDateTime> {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    PrimitiveDateTime::parse(text.trim(), format).ok()
}

/// How long a node may be down before a gate holding the disruption lease stops waiting for it: a node's own
/// restart brings it back well within this, and no run disrupts a node while another holds the lease.
pub const DOWN_TOO_LONG: Duration = Duration::from_secs(60);

/// Active members that have not been live for longer than `grace`, each named with how long, by the cluster's
/// own clock: a node's last status record (`updated_at`) behind the newest record of any live node. Seen by a gate
/// that holds the disruption lease, no rollout of any run explains them (a zone scaled to zero, a crash loop, a
/// lost machine), so waiting for them would only run out the timeout.
pub fn down_longer_than(rows: &[NodeRow], grace: Duration) -> Vec<String> {
    down_longer_than_rows(rows, grace)
        .into_iter()
        .map(|(_, said)| said)
        .collect()
}

/// [`down_longer_than`] with each node's row, for a caller that checks later whether it is back.
pub fn down_longer_than_rows(rows: &[NodeRow], grace: Duration) -> Vec<(NodeRow, String)> {
    let Some(newest) = rows
        .iter()
        .filter(|r| r.is_live)
        .filter_map(|r| r.updated_at)
        .max()
    else {
        return Vec::new();
    };
    rows.iter()
        .filter(|r| r.membership == "active" && !r.is_live)
        .filter_map(|r| {
            let down = newest - r.updated_at?;
            let down = Duration::try_from(down).ok()?;
            (down > grace).then(|| (r.clone(), format!("{} for {}s", r.name(), down.as_secs())))
        })
        .collect()
}

/// What keeps the cluster from losing a node now; empty means healthy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unhealthy {
    /// Active members that are not live (down, restarting, or crash-looping).
    pub not_live: Vec<String>,
    /// Nodes decommissioning that no one of ours is decommissioning.
    pub decommissioning: Vec<String>,
    pub ranges_unavailable: u64,
    pub ranges_underreplicated: u64,
    /// Under-replicated and unavailable ranges per zone of the node counting them.
    pub by_zone: BTreeMap<String, u64>,
    /// Fewer members live than expected, as the live nodes see them: (the fewest any live node sees, expected).
    pub live_members: Option<(u64, u64)>,
}

impl Unhealthy {
    pub fn is_healthy(&self) -> bool {
        *self == Unhealthy::default()
    }
}

impl fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.not_live.is_empty() {
            parts.push(format!("not live: {}", self.not_live.join(", ")));
        }
        if let Some((seen, expected)) = self.live_members {
            parts.push(format!(
                "{seen} of {expected} members live as the live nodes see them (liveness_livenodes)"
            ));
        }
        if !self.decommissioning.is_empty() {
            parts.push(format!(
                "decommissioning: {}",
                self.decommissioning.join(", ")
            ));
        }
        if self.ranges_unavailable > 0 || self.ranges_underreplicated > 0 {
            let zones = self
                .by_zone
                .iter()
                .map(|(zone, n)| format!("{zone}: {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            parts.push(format!(
                "{} ranges unavailable and {} under-replicated (counted by zone: {zones})",
                self.ranges_unavailable, self.ranges_underreplicated
            ));
        }
        if parts.is_empty() {
            return f.write_str("healthy");
        }
        f.write_str(&parts.join("; "))
    }
}

/// The gate: every active member live, none decommissioning unless `leaving` (node IDs being decommissioned on
/// purpose), and no range unavailable or under-replicated as the live nodes count them (each range is counted
/// by one live node, its leaseholder). Decommissioned nodes are gone on purpose and do not count.
pub fn judge(rows: &[NodeRow], leaving: &[String]) -> Unhealthy {
    let mut unhealthy = Unhealthy::default();
    for row in rows {
        match row.membership.as_str() {
            "decommissioned" => continue,
            "decommissioning" if !leaving.contains(&row.id) => {
                unhealthy.decommissioning.push(row.name())
            }
            _ => {}
        }
        if !row.is_live || row.is_draining {
            // A draining node still looks live until its liveness record expires, but it is going down.
            if row.membership == "active" {
                let draining = if row.is_live { " (draining)" } else { "" };
                unhealthy.not_live.push(format!("{}{draining}", row.name()));
            }
            continue;
        }
        unhealthy.ranges_unavailable += row.ranges_unavailable;
        unhealthy.ranges_underreplicated += row.ranges_underreplicated;
        let troubled = row.ranges_unavailable + row.ranges_underreplicated;
        if troubled > 0 {
            let zone = zone_of(row).unwrap_or("unknown zone").to_string();
            *unhealthy.by_zone.entry(zone).or_default() += troubled;
        }
    }
    unhealthy
}

/// The replication factor of CockroachDB's default zone configuration, when the cluster says none.
pub const DEFAULT_REPLICATION_FACTOR: usize = 3;

/// The statement whose output [`replication_factor`] reads.
pub const SHOW_DEFAULT_ZONE: &str = "SHOW ZONE CONFIGURATION FOR RANGE default";

/// The default zone's `num_replicas` from what `SHOW ZONE CONFIGURATION FOR RANGE default` printed (its
/// `raw_config_sql` holds `num_replicas = 3,`).
pub fn replication_factor(sql_output: &str) -> Option<usize> {
    let (_, after) = sql_output.split_once("num_replicas")?;
    let value = after.trim_start().strip_prefix('=')?.trim_start();
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|n| *n > 0)
}

/// The StatefulSet ordinal of a node, from its address (`cockroachdb-2.cockroachdb.<zone>...`).
pub fn ordinal_of(row: &NodeRow) -> Option<i32> {
    let host = row.address.split('.').next()?;
    host.rsplit_once('-')?.1.parse().ok()
}

/// Why nodes may not leave (`removal_allowed`), with the numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemovalRefused {
    TooFewNodes {
        staying: usize,
        factor: usize,
    },
    TooFewZones {
        left: usize,
        now: usize,
        factor: usize,
    },
}

impl fmt::Display for RemovalRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemovalRefused::TooFewNodes { staying, factor } => write!(
                f,
                "{staying} live node(s) would stay, fewer than the {factor} replicas of each range (the \
                 cluster's replication factor): some ranges would have nowhere to keep their replicas"
            ),
            RemovalRefused::TooFewZones { left, now, factor } => write!(
                f,
                "the nodes left would be in {left} zone(s), fewer than the {factor} replicas of each range \
                 (the cluster's replication factor) where they are in {now} now: one zone would hold a majority \
                 of some ranges' replicas, and losing it would make them unavailable"
            ),
        }
    }
}

/// Whether the cluster can let the nodes `removing` picks go (decommissioned, one at a time) and still hold
/// every range: at least `replication_factor` live, active nodes must stay (one replica per node), and the
/// zones they are in must still be at least as many as the replication factor whenever they are now (else some
/// zone would hold a majority of a range's replicas, and losing that zone would make the range unavailable).
pub fn removal_allowed(
    rows: &[NodeRow],
    removing: impl Fn(&NodeRow) -> bool,
    replication_factor: usize,
) -> Result<(), RemovalRefused> {
    let serving = |r: &&NodeRow| r.membership == "active" && r.is_live;
    let zones = |rows: &[&NodeRow]| {
        rows.iter()
            .filter_map(|r| zone_of(r))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let now: Vec<&NodeRow> = rows.iter().filter(serving).collect();
    let staying: Vec<&NodeRow> = now.iter().copied().filter(|r| !removing(r)).collect();
    if staying.len() < replication_factor {
        return Err(RemovalRefused::TooFewNodes {
            staying: staying.len(),
            factor: replication_factor,
        });
    }
    let (zones_now, zones_left) = (zones(&now), zones(&staying));
    if zones_left < replication_factor.min(zones_now) {
        return Err(RemovalRefused::TooFewZones {
            left: zones_left,
            now: zones_now,
            factor: replication_factor,
        });
    }
    Ok(())
}

/// The `zone=` tier of a node's locality.
pub fn zone_of(row: &NodeRow) -> Option<&str> {
    row.locality
        .split(',')
        .find_map(|tier| tier.strip_prefix("zone="))
}

/// Whether every live, active node runs in one of `going` (the zones whose regions are being deleted): then
/// nothing stays to take their replicas, and the deployment is being torn down rather than a zone removed, as
/// when a destroy that failed part-way (some zones already gone) is run again.
pub fn only_going_zones_live(rows: &[NodeRow], going: &std::collections::BTreeSet<String>) -> bool {
    rows.iter()
        .filter(|r| r.membership == "active" && r.is_live)
        .all(|r| zone_of(r).is_some_and(|z| going.contains(z)))
}

#[cfg(test)]
mod teardown_tests {
    use super::*;

    fn row(id: u32, zone: &str, live: bool) -> NodeRow {
        NodeRow {
            id: id.to_string(),
            address: format!("cockroachdb-{id}.cockroachdb.{zone}:26257"),
            locality: format!("region=r,zone={zone}"),
            is_live: live,
            ranges_unavailable: 0,
            ranges_underreplicated: 0,
            membership: "active".into(),
            is_draining: false,
            updated_at: None,
        }
    }

    #[test]
    fn a_teardown_is_recognised_by_every_live_node_being_in_a_going_zone() {
        let going: std::collections::BTreeSet<String> = ["a".into(), "b".into()].into();
        // Zone c already gone (a destroy run again): its nodes are not live.
        let rows = vec![row(1, "a", true), row(2, "b", true), row(3, "c", false)];
        assert!(only_going_zones_live(&rows, &going));
        // Zone c still serving: a and b are being removed from a cluster that stays.
        let rows = vec![row(1, "a", true), row(2, "b", true), row(3, "c", true)];
        assert!(!only_going_zones_live(&rows, &going));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "id,address,sql_address,build,started_at,updated_at,locality,is_available,is_live,\
replicas_leaders,replicas_leaseholders,ranges,ranges_unavailable,ranges_underreplicated,live_bytes,key_bytes,\
value_bytes,intent_bytes,system_bytes,gossiped_replicas,is_decommissioning,membership,is_draining";

    fn line(
        id: u32,
        zone: &str,
        live: bool,
        unavailable: u32,
        under: u32,
        membership: &str,
    ) -> String {
        format!(
            "{id},cockroachdb-0.cockroachdb.{zone}:26257,cockroachdb-0.cockroachdb.{zone}:26257,v24.1.0,\
2026-01-01 00:00:00.000000,2026-01-01 00:00:00.000000,\"region=r,zone={zone}\",{live},{live},1,1,100,\
{unavailable},{under},0,0,0,0,0,100,{},{membership},false",
            membership != "active"
        )
    }

    fn status(lines: &[String]) -> Vec<NodeRow> {
        let text = format!("{HEADER}\n{}\n", lines.join("\n"));
        parse_node_status(&text).unwrap()
    }

    /// `line` with the node's last status record at `updated_at`.
    fn line_updated(id: u32, zone: &str, live: bool, updated_at: &str) -> String {
        line(id, zone, live, 0, 0, "active").replacen(
            "2026-01-01 00:00:00.000000,2026-01-01 00:00:00.000000",
            &format!("2026-01-01 00:00:00.000000,{updated_at}"),
            1,
        )
    }

    #[test]
    fn nodes_down_longer_than_the_grace_by_the_clusters_own_clock_are_named() {
        let rows = status(&[
            line_updated(1, "a", true, "2026-01-01 10:05:00.500000"),
            line_updated(2, "a", true, "2026-01-01 10:04:55"),
            // Down for 2m30.5s before the newest record of a live node: a zone scaled to zero.
            line_updated(3, "b", false, "2026-01-01 10:02:30.000000"),
            // Down for 30s: a restart under way, waited for.
            line_updated(4, "c", false, "2026-01-01 10:04:30.500000"),
        ]);
        assert_eq!(
            rows[1].updated_at,
            Some(time::macros::datetime!(2026-01-01 10:04:55))
        );
        assert_eq!(
            down_longer_than(&rows, DOWN_TOO_LONG),
            ["n3 (cockroachdb-0.cockroachdb.b:26257, zone=b) for 150s"]
        );
        assert!(down_longer_than(&rows, Duration::from_secs(200)).is_empty());
        // A decommissioned node is gone for good, not down; without timestamps nothing can be judged.
        let gone = status(&[
            line_updated(1, "a", true, "2026-01-01 10:05:00"),
            line(3, "b", false, 0, 0, "decommissioned"),
        ]);
        assert!(down_longer_than(&gone, DOWN_TOO_LONG).is_empty());
        let unstamped = status(&[
            line_updated(1, "a", true, "not a time"),
            line_updated(3, "b", false, "2026-01-01 10:02:30"),
        ]);
        assert!(down_longer_than(&unstamped, DOWN_TOO_LONG).is_empty());
    }

    #[test]
    fn a_cluster_of_live_nodes_and_replicated_ranges_is_healthy() {
        let rows = status(&[
            line(1, "a", true, 0, 0, "active"),
            line(2, "b", true, 0, 0, "active"),
            line(3, "c", true, 0, 0, "decommissioned"),
        ]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].locality, "region=r,zone=a");
        assert!(judge(&rows, &[]).is_healthy());
    }

    #[test]
    fn a_node_down_and_the_ranges_it_leaves_short_are_named_with_their_zones() {
        let rows = status(&[
            line(1, "a", true, 0, 40, "active"),
            line(2, "b", false, 0, 0, "active"),
            line(3, "c", true, 2, 30, "active"),
        ]);
        let verdict = judge(&rows, &[]);
        assert!(!verdict.is_healthy());
        assert_eq!(verdict.ranges_underreplicated, 70);
        assert_eq!(verdict.ranges_unavailable, 2);
        let said = verdict.to_string();
        assert!(
            said.contains("not live: n2 (cockroachdb-0.cockroachdb.b:26257, zone=b)"),
            "{said}"
        );
        assert!(
            said.contains("2 ranges unavailable and 70 under-replicated"),
            "{said}"
        );
        assert!(said.contains("a: 40, c: 32"), "{said}");
    }

    #[test]
    fn a_draining_node_is_not_taken_for_a_serving_one() {
        let draining = line(2, "b", true, 0, 0, "active").replace(",active,false", ",active,true");
        let rows = status(&[line(1, "a", true, 0, 0, "active"), draining]);
        assert!(rows[1].is_draining);
        let verdict = judge(&rows, &[]);
        assert_eq!(verdict.not_live.len(), 1, "{verdict}");
        assert!(
            verdict.to_string().contains("zone=b) (draining)"),
            "{verdict}"
        );
        let without =
            "id,address,locality,is_live,ranges_unavailable,ranges_underreplicated,membership
                       1,a,zone=a,true,0,0,active
";
        assert!(!parse_node_status(without).unwrap()[0].is_draining);
    }

    #[test]
    fn only_the_nodes_we_decommission_may_be_decommissioning() {
        let rows = status(&[
            line(1, "a", true, 0, 0, "active"),
            line(2, "b", true, 0, 0, "decommissioning"),
        ]);
        assert!(judge(&rows, &["2".into()]).is_healthy());
        let surprise = judge(&rows, &[]);
        assert_eq!(surprise.decommissioning.len(), 1, "{surprise}");
    }

    #[test]
    fn a_dead_node_that_is_decommissioning_is_not_also_reported_not_live() {
        let rows = status(&[line(4, "a", false, 0, 0, "decommissioning")]);
        assert!(judge(&rows, &["4".into()]).is_healthy());
    }

    #[test]
    fn output_that_is_not_node_status_is_refused_not_taken_for_healthy() {
        assert_eq!(parse_node_status(""), Err(NodeStatusError::Empty));
        assert_eq!(
            parse_node_status("id,address\n1,x"),
            Err(NodeStatusError::MissingColumn("locality"))
        );
        let short = format!("{HEADER}\n1,x,y");
        assert!(matches!(
            parse_node_status(&short),
            Err(NodeStatusError::BadLine { line: 2, .. })
        ));
        let bad_count = format!(
            "{HEADER}\n{}",
            line(1, "a", true, 0, 0, "active").replace(",100,0,0,", ",100,x,0,")
        );
        assert!(parse_node_status(&bad_count).is_err());
        assert!(csv_fields("\"a,b").is_err());
        assert_eq!(
            csv_fields("\"say \"\"hi\"\"\",b").unwrap(),
            vec!["say \"hi\"", "b"]
        );
    }

    #[test]
    fn nodes_may_leave_only_when_enough_live_nodes_and_zones_stay() {
        let rows = status(&[
            line(1, "a", true, 0, 0, "active"),
            line(2, "b", true, 0, 0, "active"),
            line(3, "c", true, 0, 0, "active"),
            line(4, "d", true, 0, 0, "active"),
        ]);
        let in_zone = |zone: &'static str| move |r: &NodeRow| zone_of(r) == Some(zone);
        assert_eq!(removal_allowed(&rows, in_zone("d"), 3), Ok(()));
        let said = removal_allowed(&rows[..3], in_zone("c"), 3)
            .unwrap_err()
            .to_string();
        assert!(
            said.contains("2 live node(s) would stay, fewer than the 3 replicas"),
            "{said}"
        );
        assert_eq!(
            removal_allowed(&rows[..3], in_zone("c"), 1),
            Ok(()),
            "one replica per range fits anywhere"
        );
        let down = status(&[
            line(1, "a", true, 0, 0, "active"),
            line(2, "b", false, 0, 0, "active"),
            line(3, "c", true, 0, 0, "decommissioned"),
            line(4, "d", true, 0, 0, "active"),
            line(5, "e", true, 0, 0, "active"),
        ]);
        assert!(
            removal_allowed(&down, in_zone("e"), 3).is_err(),
            "dead and decommissioned nodes hold nothing"
        );
    }

    #[test]
    fn a_removal_may_not_leave_fewer_zones_than_replicas_where_there_were_enough() {
        let mut lines = Vec::new();
        for (id, zone) in (1..).zip(["a", "a", "b", "b", "c", "c"]) {
            lines.push(line(id, zone, true, 0, 0, "active"));
        }
        let rows = status(&lines);
        let said = removal_allowed(&rows, |r| zone_of(r) == Some("c"), 3)
            .unwrap_err()
            .to_string();
        assert!(
            said.contains("in 2 zone(s), fewer than the 3 replicas"),
            "{said}"
        );
        assert!(said.contains("in 3 now"), "{said}");
        assert_eq!(
            removal_allowed(&rows, |r| r.id == "6", 3),
            Ok(()),
            "zone c keeps a node"
        );
        // One zone from the start (a single-zone cluster): only the node count matters.
        let single = status(&[
            line(1, "a", true, 0, 0, "active"),
            line(2, "a", true, 0, 0, "active"),
            line(3, "a", true, 0, 0, "active"),
            line(4, "a", true, 0, 0, "active"),
        ]);
        assert_eq!(removal_allowed(&single, |r| r.id == "4", 3), Ok(()));
        assert!(removal_allowed(&single, |r| r.id != "1", 3).is_err());
    }

    #[test]
    fn the_replication_factor_is_read_from_the_default_zone_configuration() {
        let csv = "target,raw_config_sql\nRANGE default,\"ALTER RANGE default CONFIGURE ZONE USING\n\
                   \trange_min_bytes = 134217728,\n\trange_max_bytes = 536870912,\n\tgc.ttlseconds = 14400,\n\
                   \tnum_replicas = 5,\n\tconstraints = '[]',\n\tlease_preferences = '[]'\"\n";
        assert_eq!(replication_factor(csv), Some(5));
        assert_eq!(replication_factor("num_replicas = 0"), None);
        assert_eq!(replication_factor("holder\nabc"), None);
        let row = status(&[line(1, "a", true, 0, 0, "active")]).remove(0);
        assert_eq!(ordinal_of(&row), Some(0));
    }
}
