//! Whether every node of one zone may be down at once: CockroachDB's own replica placement, read through SQL,
//! says for every range how many of its voting replicas each locality holds; a zone is critical when, for some
//! range, the voters outside it are not a quorum (a majority) of all its voters. This is what the critical
//! localities report computed (`system.replication_critical_localities`), which CockroachDB deprecated, read
//! live from the range descriptors instead (`crdb_internal.ranges_no_leases`: `replicas`, `replica_localities`,
//! `voting_replicas`), so it needs no report interval and no HTTP login, only the root client the lease Job runs.

use std::collections::BTreeMap;
use std::fmt;

/// For each locality and each voter count, the most voters of one range that locality holds: one row per
/// (locality, voter count), so the output stays small however many ranges the cluster has. Non-voting replicas
/// and learners are left out: they do not count towards quorum.
pub const VOTERS_BY_LOCALITY: &str = "SELECT locality, voters, max(here) AS most_voters_here FROM (SELECT \
     r.range_id, l.locality, array_length(r.voting_replicas, 1) AS voters, count(*) AS here FROM \
     crdb_internal.ranges_no_leases AS r, unnest(r.replicas, r.replica_localities) AS l (replica, locality) WHERE \
     l.replica = ANY (r.voting_replicas) GROUP BY r.range_id, l.locality, array_length(r.voting_replicas, 1)) AS \
     per_range GROUP BY locality, voters ORDER BY locality, voters";

/// The header `cockroach sql --format=csv` prints above the rows of [`VOTERS_BY_LOCALITY`].
const HEADER: &str = "locality,voters,most_voters_here";

/// One row of [`VOTERS_BY_LOCALITY`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterRow {
    /// `region=...,zone=...` as the nodes were started.
    pub locality: String,
    /// How many voting replicas the ranges of this row have.
    pub voters: u32,
    /// The most of them one range keeps in this locality.
    pub most_here: u32,
}

/// Why a zone may not go down at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Critical {
    /// Some range keeps `here` of its `voters` voters in the zone: the rest are no majority.
    Quorum { here: u32, voters: u32 },
    /// Voters live on nodes started without a `zone=` locality, which may be in the zone.
    Unplaced { locality: String },
    /// The placement was not read (no rows, or output that could not be read).
    Unread(String),
}

impl fmt::Display for Critical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Critical::Quorum { here, voters } => write!(
                f,
                "some ranges keep {here} of their {voters} voting replicas in it, so without it they would lose \
                 quorum"
            ),
            Critical::Unplaced { locality } => write!(
                f,
                "nodes with the locality {locality:?} (no zone tier) hold voting replicas, so where they are cannot \
                 be judged"
            ),
            Critical::Unread(why) => write!(f, "the replica placement was not read: {why}"),
        }
    }
}

/// The rows under [`HEADER`] in what `cockroach sql` printed, up to the first line that is not one.
pub fn parse(sql_output: &str) -> Result<Vec<VoterRow>, String> {
    let mut lines = sql_output.lines().skip_while(|l| l.trim() != HEADER);
    if lines.next().is_none() {
        return Err(format!("no `{HEADER}` header in the SQL output"));
    }
    let mut rows = Vec::new();
    for line in lines.take_while(|l| !l.trim().is_empty()) {
        let fields = crate::cockroach::health::csv_fields(line.trim_end())?;
        let [locality, voters, most_here] = fields.as_slice() else {
            return Err(format!("a voters row of {} fields: {line:?}", fields.len()));
        };
        let number = |text: &str| {
            text.parse::<u32>()
                .map_err(|_| format!("{text:?} is not a count in {line:?}"))
        };
        rows.push(VoterRow {
            locality: locality.clone(),
            voters: number(voters)?,
            most_here: number(most_here)?,
        });
    }
    Ok(rows)
}

fn zone_tier(locality: &str) -> Option<&str> {
    locality
        .split(',')
        .find_map(|tier| tier.trim().strip_prefix("zone="))
}

/// Every zone some range cannot lose, with the worst reason found for it (the most voters kept there), from
/// the rows of [`VOTERS_BY_LOCALITY`]. A zone absent from the result is safe to take down at once, given every
/// node of the other zones is live (the health gate's business).
pub fn critical_zones(rows: &[VoterRow]) -> BTreeMap<String, Critical> {
    rows.iter().fold(BTreeMap::new(), |mut critical, row| {
        if row.voters == 0 || row.most_here * 2 < row.voters {
            return critical;
        }
        if let Some(zone) = zone_tier(&row.locality) {
            let worse = match critical.get(zone) {
                Some(Critical::Quorum { here, voters }) => {
                    row.most_here * voters > here * row.voters
                }
                _ => true,
            };
            if worse {
                critical.insert(
                    zone.to_owned(),
                    Critical::Quorum {
                        here: row.most_here,
                        voters: row.voters,
                    },
                );
            }
        }
        critical
    })
}

/// Whether `zone` may go down at once; Err says why not. A locality without a zone tier holding voters makes
/// every zone unjudgeable, and so does an empty read (every cluster has ranges).
pub fn zone_may_go_down(rows: &[VoterRow], zone: &str) -> Result<(), Critical> {
    if rows.is_empty() {
        return Err(Critical::Unread("no range was listed".into()));
    }
    if let Some(row) = rows.iter().find(|r| zone_tier(&r.locality).is_none()) {
        return Err(Critical::Unplaced {
            locality: row.locality.clone(),
        });
    }
    match critical_zones(rows).remove(zone) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(locality: &str, voters: u32, most_here: u32) -> VoterRow {
        VoterRow {
            locality: locality.into(),
            voters,
            most_here,
        }
    }

    #[test]
    fn one_voter_of_three_per_zone_leaves_every_zone_safe() {
        let rows = [
            row("region=a,zone=a1", 3, 1),
            row("region=b,zone=b1", 3, 1),
            row("region=c,zone=c1", 3, 1),
            row("region=a,zone=a1", 5, 2),
            row("region=b,zone=b1", 5, 2),
            row("region=c,zone=c1", 5, 1),
        ];
        assert!(critical_zones(&rows).is_empty());
        for zone in ["a1", "b1", "c1"] {
            assert_eq!(zone_may_go_down(&rows, zone), Ok(()), "{zone}");
        }
    }

    #[test]
    fn a_zone_holding_half_or_more_of_a_ranges_voters_is_critical_for_the_worst_range() {
        // A zone-survival database whose three voters all live in its primary region's one zone.
        let rows = [
            row("region=a,zone=a1", 3, 3),
            row("region=a,zone=a1", 5, 2),
            row("region=b,zone=b1", 3, 1),
            row("region=b,zone=b1", 4, 2),
            row("region=c,zone=c1", 5, 2),
        ];
        let critical = critical_zones(&rows);
        assert_eq!(
            critical.get("a1"),
            Some(&Critical::Quorum { here: 3, voters: 3 })
        );
        assert_eq!(
            critical.get("b1"),
            Some(&Critical::Quorum { here: 2, voters: 4 }),
            "two of four voters outside are no majority"
        );
        assert_eq!(critical.get("c1"), None, "three of five stay");
        let why = zone_may_go_down(&rows, "a1").unwrap_err().to_string();
        assert!(why.contains("3 of their 3 voting replicas"), "{why}");
    }

    #[test]
    fn voters_without_a_zone_tier_or_no_rows_make_no_zone_safe() {
        let rows = [row("region=a,zone=a1", 3, 1), row("region=a", 3, 1)];
        assert!(matches!(
            zone_may_go_down(&rows, "a1"),
            Err(Critical::Unplaced { .. })
        ));
        assert!(matches!(
            zone_may_go_down(&[], "a1"),
            Err(Critical::Unread(_))
        ));
    }

    #[test]
    fn the_rows_are_read_from_under_their_header_in_the_lease_jobs_output() {
        let printed =
            "CREATE DATABASE\nCREATE TABLE\nholder\nabc\n\nlocality,voters,most_voters_here\n\
                       \"region=a,zone=a1\",3,1\n\"region=b,zone=b1\",3,2\n";
        assert_eq!(
            parse(printed),
            Ok(vec![
                row("region=a,zone=a1", 3, 1),
                row("region=b,zone=b1", 3, 2)
            ])
        );
        assert_eq!(
            parse("locality,voters,most_voters_here\n"),
            Ok(vec![]),
            "a header and no rows: nothing listed"
        );
        assert!(parse("holder\nabc\n").is_err());
        assert!(parse("locality,voters,most_voters_here\n\"region=a,zone=a1\",x,1\n").is_err());
    }

    #[test]
    fn the_sandbox_answers_this_very_statement() {
        use kube_sandbox::cockroach::sql::{parse_statement, Statement};
        assert_eq!(
            parse_statement(VOTERS_BY_LOCALITY),
            Ok(Statement::VotersByLocality)
        );
    }
}
