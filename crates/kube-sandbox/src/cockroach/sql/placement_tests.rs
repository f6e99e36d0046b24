//! What SQL does to the emulated cluster's replicas: a database's regions and survival goal place them.
use super::{execute, parse_script};
use crate::cockroach::cluster::tests::{joined, nine, stop};
use crate::cockroach::cluster::{CockroachCluster, DATABASE_RANGES};
use std::collections::BTreeMap;

fn run(c: &mut CockroachCluster, text: &str, now: f64) -> Result<(), String> {
    for s in parse_script(text)? {
        execute(c, &s, now, b"salt")?;
    }
    Ok(())
}

/// Per range of database `db`: how many of its replicas sit in each region.
fn spread(c: &CockroachCluster, db: &str) -> Vec<BTreeMap<String, usize>> {
    c.database_ranges(db)
        .iter()
        .map(|r| {
            let mut m = BTreeMap::new();
            for id in &r.replicas {
                let region = c.locality_of(*id).unwrap().region.clone();
                *m.entry(region).or_default() += 1;
            }
            m
        })
        .collect()
}

#[test]
fn a_database_survival_goal_moves_its_replicas_and_region_survival_outlives_a_region() {
    let mut c = nine();
    run(
        &mut c,
        "CREATE DATABASE shop PRIMARY REGION a REGIONS b, c",
        100.0,
    )
    .unwrap();
    c.advance(200.0);
    let zone = spread(&c, "shop");
    assert_eq!(zone.len(), DATABASE_RANGES as usize);
    assert!(
        zone.iter().all(|m| m.len() == 1 && m.get("a") == Some(&3)),
        "zone survival keeps 3 voters in the primary region: {zone:?}"
    );
    run(&mut c, "ALTER DATABASE shop SURVIVE REGION FAILURE", 200.0).unwrap();
    c.advance(300.0);
    let region = spread(&c, "shop");
    assert!(
        region
            .iter()
            .all(|m| m.values().sum::<usize>() == 5 && m.len() == 3 && m.values().all(|n| *n <= 2)),
        "region survival spreads 5 voters, at most 2 a region: {region:?}"
    );
    c.reset_availability(300.0);
    for i in 0..3 {
        stop(&mut c, i, "a", 310.0);
    }
    assert_eq!(c.availability(320.0).max_unavailable_ranges, 0);
    for i in 0..3 {
        joined(&mut c, i, "a", 330.0);
    }
    run(&mut c, "ALTER DATABASE shop SURVIVE ZONE FAILURE", 340.0).unwrap();
    c.advance(440.0);
    assert_eq!(spread(&c, "shop"), zone);
    c.reset_availability(440.0);
    for i in 0..3 {
        stop(&mut c, i, "a", 450.0);
    }
    assert_eq!(
        c.availability(460.0).max_unavailable_ranges,
        DATABASE_RANGES,
        "with zone survival the primary region holds every voter of the database"
    );
}

#[test]
fn database_regions_must_be_regions_of_the_nodes() {
    let mut c = nine();
    let err = run(
        &mut c,
        "CREATE DATABASE shop PRIMARY REGION \"us-east1\"",
        100.0,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "ERROR: region \"us-east1\" does not exist\nSQLSTATE: 42602\nHINT: valid regions: a, b, c"
    );
    run(&mut c, "CREATE DATABASE shop; DROP DATABASE shop", 100.0).unwrap();
    assert!(c.database_ranges("shop").is_empty());
    assert_eq!(c.ranges().len(), 60);
}
