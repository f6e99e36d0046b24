//! The wall time of a no-op `terraform plan` of three regions and their DNS links against emulated clusters,
//! without added latency and with 100 ms added to every request, and the sequential round trips that implies:
//! Terraform refreshes the regions concurrently, then the links (whose peers are the regions' addresses), so
//! the added time over the latency is the round trips of one region's read plus one link's. Prints numbers;
//! asserts nothing about speed.
//!
//! Run with `cargo bench --bench plan_round_trips`.
#[path = "../tests/acceptance/clusters.rs"]
#[allow(dead_code)]
mod clusters;
#[path = "../tests/acceptance/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "../tests/acceptance/regions.rs"]
#[allow(dead_code, unused_imports)]
mod regions;

use std::time::{Duration, Instant};

const PLANS: usize = 3;
const LATENCY: Duration = Duration::from_millis(100);

/// Median wall time of a `terraform plan` that must find nothing to change.
fn median_noop_plan(ws: &harness::Workspace) -> Duration {
    let mut samples: Vec<Duration> = (0..PLANS)
        .map(|_| {
            let began = Instant::now();
            let (code, run) = ws.plan_exit_code();
            assert_eq!(code, 0, "the plan is not a no-op:\n{}", run.stdout);
            began.elapsed()
        })
        .collect();
    samples.sort();
    samples[PLANS / 2]
}

fn main() {
    let clusters = regions::Clusters::start(&["kube-dns", "coredns", "kube-dns"]);
    let ws = harness::Workspace::new("");
    ws.write_config(&regions::configuration(&clusters, &ws, false, 1));
    ws.apply();
    let latency = |added: Duration| {
        for zone in regions::ZONES {
            clusters
                .sandbox
                .set_latency(zone, added)
                .expect("latency set");
        }
    };
    // Terraform's own start-up warms its caches on the first plan; it is not counted.
    median_noop_plan(&ws);
    let fast = median_noop_plan(&ws);
    latency(LATENCY);
    let slow = median_noop_plan(&ws);
    latency(Duration::ZERO);
    let trips = (slow.as_secs_f64() - fast.as_secs_f64()) / LATENCY.as_secs_f64();
    println!(
        "no-op terraform plan of 3 regions and 3 DNS links: median {:.0} ms without added latency, {:.0} ms at {} ms \
         per request: {trips:.1} sequential round trips (one region's refresh, then one link's)",
        fast.as_secs_f64() * 1000.0,
        slow.as_secs_f64() * 1000.0,
        LATENCY.as_millis()
    );
    ws.destroy();
}
