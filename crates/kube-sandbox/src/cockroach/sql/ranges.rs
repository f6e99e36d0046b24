//! The one query over range descriptors the emulation answers: per locality and voter count, the most voting
//! replicas one range keeps there, as CockroachDB answers the provider's statement over
//! `crdb_internal.ranges_no_leases` (`replicas`, `replica_localities`, `voting_replicas`) from its range
//! descriptors. Recognised as a whole text, like the lease statements: the emulation has no general SELECT.

use super::super::cluster::CockroachCluster;
use super::{columns, text, Output};
use std::collections::BTreeMap;

/// The statement's rows: every replica of the emulation is a voter; a replica on a node the cluster no longer
/// lists has no locality (CockroachDB prints an empty one).
pub fn voters_by_locality(c: &CockroachCluster) -> Output {
    let mut most: BTreeMap<(String, usize), usize> = BTreeMap::new();
    for range in c.ranges() {
        let mut here: BTreeMap<String, usize> = BTreeMap::new();
        for id in &range.replicas {
            let locality = c.locality_of(*id).map(|l| l.display()).unwrap_or_default();
            *here.entry(locality).or_default() += 1;
        }
        for (locality, n) in here {
            let seen = most.entry((locality, range.replicas.len())).or_default();
            *seen = (*seen).max(n);
        }
    }
    Output::Rows {
        columns: columns(&["locality", "voters", "most_voters_here"]),
        rows: most
            .into_iter()
            .map(|((locality, voters), n)| {
                vec![
                    text(locality),
                    text(voters.to_string()),
                    text(n.to_string()),
                ]
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_script, run_script, Format};
    use super::*;
    use crate::cockroach::cluster::tests::{nine, stop};

    fn voters(c: &mut CockroachCluster) -> String {
        let statements =
            parse_script(&super::super::parse::VOTERS_BY_LOCALITY.to_uppercase()).unwrap();
        let (code, said) = run_script(c, &statements, 200.0, b"salt", Format::Csv);
        assert_eq!(code, 0, "{said}");
        said
    }

    #[test]
    fn three_regions_keep_one_voter_of_each_range_and_a_zone_survival_database_keeps_all_three_in_one(
    ) {
        let mut c = nine();
        c.advance(100.0);
        assert_eq!(
            voters(&mut c),
            "locality,voters,most_voters_here\n\"region=a,zone=a\",3,1\n\"region=b,zone=b\",3,1\n\
             \"region=c,zone=c\",3,1"
        );
        let create = parse_script("CREATE DATABASE shop PRIMARY REGION a REGIONS b, c").unwrap();
        run_script(&mut c, &create, 100.0, b"salt", Format::Csv);
        c.advance(200.0);
        let said = voters(&mut c);
        assert!(said.contains("\"region=a,zone=a\",3,3"), "{said}");
        assert!(said.contains("\"region=b,zone=b\",3,1"), "{said}");
    }

    #[test]
    fn a_stopped_node_still_holds_its_voters_as_the_descriptors_say() {
        let mut c = nine();
        c.advance(100.0);
        stop(&mut c, 0, "a", 110.0);
        let said = voters(&mut c);
        assert!(said.contains("\"region=a,zone=a\",3,1"), "{said}");
    }
}
