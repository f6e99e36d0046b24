//! Rollouts of three and of nine regions of three nodes by the provider, one node at a time across the cluster
//! and gated: a patch upgrade and a certificate renewal (every node certificate inside its renewal window). Each
//! is measured against its physical limit, measured in the same run: the sum of the nodes' own restart times
//! (the sandbox's node-down seconds, cluster time, divided by the speed), which no rollout of one node at a time
//! can beat. Then the same image change done as the original procedure does it (every StatefulSet patched at
//! once, each rolled by its controller). Prints wall time, the limit, their ratio, unavailable range-seconds and
//! the most nodes down at once for each; asserts nothing about speed.
//!
//! The sandbox runs faster than a real cluster (`--speed`): a node's restart, about 8 cluster-seconds, takes 0.2 s
//! of wall time at `--speed 40`, less than Terraform takes to start, while the provider's own costs (Terraform,
//! the API calls, the health gates' looks) stay wall time. The ratio at a speed is the one a real cluster would
//! show if its nodes restarted that much faster; `--speed 10` is still four times faster than real nodes.
//!
//! Run with `cargo bench --bench rolling_upgrade` (speeds 40 and 10); `cargo test` runs it at speed 40 only;
//! `BENCH_SPEEDS=40,10,5` chooses; `BENCH_REGIONS=3` runs one
//! size; `BENCH_PROVIDER_LOG_DIR=dir` keeps the provider's debug log of each run there.
#[path = "../tests/acceptance/clusters.rs"]
#[allow(dead_code)]
mod clusters;
#[path = "../tests/acceptance/harness.rs"]
#[allow(dead_code)]
mod harness;

use clusters::{configuration_of, Clusters};
use harness::Workspace;
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Api, Patch, PatchParams};
use kube_sandbox::world::Availability;
use kube_sandbox::Sandbox;
use std::time::{Duration, Instant};

/// The speeds `cargo bench` runs at; `cargo test` runs the first alone.
const SPEEDS: [f64; 2] = [40.0, 10.0];

fn speeds() -> Vec<f64> {
    if let Ok(chosen) = std::env::var("BENCH_SPEEDS") {
        return chosen
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("BENCH_SPEEDS: numbers, comma-separated")
            })
            .collect();
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not.
    match std::env::args().any(|a| a == "--bench") {
        true => SPEEDS.to_vec(),
        false => SPEEDS[..1].to_vec(),
    }
}
const FROM: &str = "cockroachdb/cockroach:v24.1.0";
/// The patch the one-node-at-a-time upgrade goes to, and the one the zone-at-once upgrade goes to after it.
const MID: &str = "cockroachdb/cockroach:v24.1.25";
const TO: &str = "cockroachdb/cockroach:v24.1.26";

fn zones(regions: usize) -> Vec<String> {
    (1..=regions).map(|i| format!("region{i}-a")).collect()
}

/// What a run changes in the cluster's settings.
struct Settings {
    image: &'static str,
    /// `certificate_renewal`: a window as long as the validity puts every certificate inside it.
    renewal: &'static str,
    /// `disruption_budget`: `node` or `zone`.
    budget: &'static str,
}

const VALIDITY: &str = "8760h";
const USUAL_RENEWAL: &str = "720h";
/// Two seconds short of the validity: every certificate issued before the run before is inside it.
const RENEW_NOW: &str = "8759h59m58s";

fn configuration(
    clusters: &Clusters,
    ws: &Workspace,
    zones: &[&str],
    settings: &Settings,
) -> String {
    let image_line = "  image = \"cockroachdb/cockroach:v24.1.0\"\n";
    let base = configuration_of(clusters, ws, zones);
    assert!(base.contains(image_line));
    base.replacen(
        image_line,
        &format!(
            "  image = \"{}\"\n  certificate_validity = \"{VALIDITY}\"\n  certificate_renewal  = \"{}\"\n  disruption_budget    = \"{}\"\n",
            settings.image, settings.renewal, settings.budget
        ),
        1,
    )
    // Nine regions at a low speed take longer than the acceptance tests' timeouts allow.
    .replace("update = \"5m\"", "update = \"20m\"")
}

/// Waits until every range is fully replicated and every node live, then opens a new recording window.
fn settle(sandbox: &Sandbox) {
    let cockroach = sandbox.world().unwrap().cockroach();
    loop {
        cockroach.reset_availability();
        std::thread::sleep(Duration::from_millis(300));
        let seen = cockroach.availability();
        if seen.under_replicated_range_seconds == 0.0 && seen.max_nodes_down == 0 {
            cockroach.reset_availability();
            return;
        }
    }
}

/// The original procedure: every zone's StatefulSet patched at once, then waited for.
async fn patch_every_statefulset(clusters: &Clusters, zones: &[&str], image: &str) {
    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [
        {"name": "cockroachdb", "image": image}
    ]}}}});
    let patches = zones.iter().map(|zone| {
        let api: Api<StatefulSet> = Api::namespaced(clusters.client(zone), zone);
        let patch = patch.clone();
        async move {
            api.patch(
                "cockroachdb",
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await
            .unwrap();
        }
    });
    futures_util::future::join_all(patches).await;
    for zone in zones {
        let api: Api<StatefulSet> = Api::namespaced(clusters.client(zone), zone);
        loop {
            let set = api.get("cockroachdb").await.unwrap();
            let status = set.status.clone().unwrap_or_default();
            let done = set.metadata.generation == status.observed_generation
                && status.updated_replicas == Some(3)
                && status.ready_replicas == Some(3)
                && status.current_revision == status.update_revision;
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn line(what: &str, wall: Duration, seen: &Availability) {
    println!(
        "  {what:<36} wall {:>7.2} s   unavailable range-seconds {:>7.1}   most nodes down at once {}   ranges lost {}",
        wall.as_secs_f64(),
        seen.unavailable_range_seconds,
        seen.max_nodes_down,
        seen.ranges_lost
    );
}

/// What a rollout restarts at once, and so what its limit sums: the nodes' own restart times, or the zones'.
#[derive(Clone, Copy)]
enum Per {
    Node,
    Zone,
}

/// A rollout next to its limit: the nodes' (or zones') own restart times, summed (cluster seconds back to wall
/// seconds); and the same without `floor`, what an apply that changes nothing costs (Terraform and the provider
/// starting, the refresh and the plan), which a rollout pays once whatever its length.
fn against_limit(
    what: &str,
    wall: Duration,
    floor: Duration,
    seen: &Availability,
    per: Per,
    speed: f64,
) {
    line(what, wall, seen);
    let (limit, of) = match per {
        Per::Node => (seen.node_down_seconds / speed, "nodes'"),
        Per::Zone => (seen.zone_down_seconds / speed, "zones'"),
    };
    let rollout = wall.saturating_sub(floor).as_secs_f64();
    println!(
        "  {:<36} sum of the {of} own restart times {limit:>6.2} s   ratio {:.2}   without the no-op floor {:.2}   most zones down at once {}",
        "",
        wall.as_secs_f64() / limit,
        rollout / limit,
        seen.max_zones_down
    );
}

/// Applies `settings`, timed, with the availability record of that apply alone.
fn timed_apply(
    clusters: &Clusters,
    ws: &Workspace,
    zones: &[&str],
    settings: &Settings,
) -> (Duration, Availability) {
    let sandbox = &clusters.sandbox;
    settle(sandbox);
    ws.write_config(&configuration(clusters, ws, zones, settings));
    let started = Instant::now();
    ws.apply();
    let wall = started.elapsed();
    (wall, sandbox.world().unwrap().cockroach().availability())
}

fn run(regions: usize, speed: f64) {
    let zones = zones(regions);
    let names: Vec<&str> = zones.iter().map(String::as_str).collect();
    let clusters = Clusters::start_zones_at(&names, speed);
    let _guard = clusters.runtime.enter();
    let cockroach = clusters.sandbox.world().unwrap().cockroach();
    let mut ws = Workspace::new("");
    // Where the provider's debug log goes, to see where a rollout's time went.
    if let Ok(dir) = std::env::var("BENCH_PROVIDER_LOG_DIR") {
        let log = format!("{dir}/rolling_upgrade-{regions}-regions-speed-{speed}.log");
        ws = ws
            .with_env("TF_LOG_PROVIDER", "debug")
            .with_env("TF_LOG_PATH", &log);
    }
    let settings = |image, renewal, budget| Settings {
        image,
        renewal,
        budget,
    };
    let deployed = settings(FROM, USUAL_RENEWAL, "node");
    ws.write_config(&configuration(&clusters, &ws, &names, &deployed));
    ws.apply();
    let (floor, _) = timed_apply(&clusters, &ws, &names, &deployed);
    let (upgrade_wall, upgrade) = timed_apply(
        &clusters,
        &ws,
        &names,
        &settings(MID, USUAL_RENEWAL, "node"),
    );
    let (renewal_wall, renewal) =
        timed_apply(&clusters, &ws, &names, &settings(MID, RENEW_NOW, "node"));
    // The budget changed alone restarts nothing; the renewal window back to its usual length renews nothing.
    let (_, switched) = timed_apply(
        &clusters,
        &ws,
        &names,
        &settings(MID, USUAL_RENEWAL, "zone"),
    );
    assert_eq!(switched.max_nodes_down, 0, "{switched:?}");
    let (zone_upgrade_wall, zone_upgrade) =
        timed_apply(&clusters, &ws, &names, &settings(TO, USUAL_RENEWAL, "zone"));
    let (zone_renewal_wall, zone_renewal) =
        timed_apply(&clusters, &ws, &names, &settings(TO, RENEW_NOW, "zone"));

    settle(&clusters.sandbox);
    let started = Instant::now();
    clusters
        .runtime
        .block_on(patch_every_statefulset(&clusters, &names, FROM));
    // Done once every node is live again, as an operator watching the procedure would wait.
    while cockroach.nodes().iter().any(|n| !n.live) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let at_once_wall = started.elapsed();
    let at_once = cockroach.availability();

    println!("{regions} regions of 3 nodes, --speed {speed}:");
    println!(
        "  {:<36} wall {:>7.2} s",
        "no-op apply (the floor)",
        floor.as_secs_f64()
    );
    let rows = [
        (
            "patch upgrade, one node at a time",
            upgrade_wall,
            &upgrade,
            Per::Node,
        ),
        (
            "certificate renewal, one at a time",
            renewal_wall,
            &renewal,
            Per::Node,
        ),
        (
            "patch upgrade, a zone at a time",
            zone_upgrade_wall,
            &zone_upgrade,
            Per::Zone,
        ),
        (
            "certificate renewal, zone at a time",
            zone_renewal_wall,
            &zone_renewal,
            Per::Zone,
        ),
    ];
    for (what, wall, seen, per) in rows {
        against_limit(what, wall, floor, seen, per, speed);
    }
    line("patch, every StatefulSet at once", at_once_wall, &at_once);
    println!(
        "  wall time ratio provider's upgrade / at once: {:.2}",
        upgrade_wall.as_secs_f64() / at_once_wall.as_secs_f64()
    );
}

fn main() {
    let regions_chosen = std::env::var("BENCH_REGIONS").map(|r| {
        r.split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("BENCH_REGIONS: numbers, comma-separated")
            })
            .collect::<Vec<usize>>()
    });
    for speed in speeds() {
        for &regions in regions_chosen.as_deref().unwrap_or(&[3, 9]) {
            run(regions, speed);
        }
    }
}
