//! `disruption_budget = "zone"`: a rollout restarts every node of a zone at once where CockroachDB's replica
//! placement says no range would lose quorum without it, one zone at a time, and falls back to one node at a time,
//! with a warning, in a zone a database keeps every voter of its ranges in; held to the availability record.
use crate::day2::{settle, with_image};
use crate::harness::Workspace;
use crate::regions::{configuration, live_nodes, Clusters};
use crate::sql::{by_hand, until_placed};
use kube_sandbox::world::Availability;

const BUDGET_LINE: &str = "  upgrade_finalization = \"auto\"\n";

fn with_budget(config: &str, budget: &str) -> String {
    assert!(config.contains(BUDGET_LINE));
    config.replacen(
        BUDGET_LINE,
        &format!("{BUDGET_LINE}  disruption_budget = \"{budget}\"\n"),
        1,
    )
}

/// What the recorder saw since the last `settle`: never unavailable, nothing lost, one zone down at most.
fn assert_one_zone_at_a_time(clusters: &Clusters, what: &str) -> Availability {
    let seen = clusters.sandbox.world().unwrap().cockroach().availability();
    eprintln!("{what}: {seen:?}");
    assert_eq!(seen.unavailable_range_seconds, 0.0, "{what}: {seen:?}");
    assert_eq!(seen.ranges_lost, 0, "{what}: {seen:?}");
    assert!(seen.max_nodes_down <= 3, "{what}: {seen:?}");
    assert!(
        seen.max_zones_down <= 1,
        "{what}: never two zones down at once: {seen:?}"
    );
    seen
}

#[test]
fn a_zone_budget_restarts_a_zone_at_once_and_one_node_at_a_time_where_a_database_keeps_its_voters()
{
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let base = with_image(&configuration(&clusters, &ws, false, 3), "v24.1.0", "auto");
    ws.write_config(&base);
    ws.apply();

    // Switching the budget restarts nothing and leaves nothing to plan.
    settle(&clusters);
    let zoned = with_budget(&base, "zone");
    ws.write_config(&zoned);
    ws.apply();
    let seen = assert_one_zone_at_a_time(&clusters, "switching to the zone budget");
    assert_eq!(seen.max_nodes_down, 0, "nothing restarted: {seen:?}");
    ws.assert_plan_empty("switching to the zone budget");

    // Every range keeps one voter per zone: each zone restarts its three nodes at once, one zone at a time.
    settle(&clusters);
    let patched = zoned.replacen("cockroach:v24.1.0\"", "cockroach:v24.1.26\"", 1);
    assert_ne!(patched, zoned);
    ws.write_config(&patched);
    let applied = ws.apply();
    let seen = assert_one_zone_at_a_time(&clusters, "the patch upgrade by zones");
    assert_eq!(
        seen.max_nodes_down, 3,
        "a zone's three nodes were down together: {seen:?}"
    );
    assert!(
        !applied.stdout.contains("one node at a time")
            && !applied.stderr.contains("one node at a time"),
        "no zone is critical: {}\n{}",
        applied.stdout,
        applied.stderr
    );
    assert_eq!(live_nodes(&clusters), (9, 9));
    ws.assert_plan_empty("the patch upgrade by zones");

    // A database surviving zone failures keeps all three voters of its ranges in its primary region's one zone:
    // that zone cannot go down at once, and restarts one node at a time, saying so.
    by_hand(
        &clusters,
        "CREATE DATABASE shop PRIMARY REGION \"us-east1\" REGIONS \"us-west1\", \"europe-west1\"",
    );
    until_placed(&clusters, "zone survival keeps 3 voters in us-east1", |s| {
        s.iter()
            .all(|m| m.len() == 1 && m.get("us-east1") == Some(&3))
    });
    settle(&clusters);
    // Only us-east1-b's nodes restart (its region block comes first).
    let requests = patched.replacen(
        "  replicas            = 3\n",
        "  replicas            = 3\n  cpu_request         = \"500m\"\n",
        1,
    );
    assert!(
        requests.find("cpu_request") < requests.find("zone                = \"us-west1-a\""),
        "{requests}"
    );
    ws.write_config(&requests);
    let applied = ws.apply();
    let seen = assert_one_zone_at_a_time(&clusters, "a restart of the critical zone");
    assert_eq!(
        seen.max_nodes_down, 1,
        "the critical zone restarted one node at a time: {seen:?}"
    );
    // Terraform wraps a diagnostic's detail.
    let said = format!("{} {}", applied.stdout, applied.stderr)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        said.contains("Zone us-east1-b restarted one node at a time")
            && said.contains("3 of their 3 voting replicas"),
        "the apply warns, naming the zone and why: {said}"
    );
    assert_eq!(live_nodes(&clusters), (9, 9));
    ws.assert_plan_empty("a restart of the critical zone");
}
