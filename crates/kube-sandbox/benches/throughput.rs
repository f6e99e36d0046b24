//! Prints requests per second per cluster over loopback HTTPS and the start-up time of three clusters, then the
//! cost of the emulated CockroachDB's range model and availability recorder: GET/s against a sandbox running nine
//! CockroachDB nodes that restart one after another, with the default ranges and with none, and the model's own
//! time per replica change.
//! Run: cargo bench -p kube-sandbox --bench throughput

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_sandbox::cockroach::cluster::CockroachCluster;
use kube_sandbox::cockroach::replication::Locality;
use kube_sandbox::{Sandbox, SandboxOptions};
use serde_json::json;

#[path = "../tests/support/mod.rs"]
mod support;

const CLUSTERS: [&str; 3] = ["us-east1", "europe-west1", "asia-east1"];
const CONCURRENCY: usize = 16;
const RUN_FOR: Duration = Duration::from_secs(3);

async fn client(sb: &Sandbox, name: &str) -> kube::Client {
    let kc = Kubeconfig::from_yaml(&serde_json::to_string(&sb.kubeconfig()).unwrap()).unwrap();
    let opts = KubeConfigOptions {
        context: Some(name.into()),
        ..Default::default()
    };
    kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &opts)
            .await
            .unwrap(),
    )
    .unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Get,
    List,
    Create,
}

async fn drive(api: Api<ConfigMap>, op: Op, worker: usize, count: Arc<AtomicU64>, until: Instant) {
    let mut i = 0u64;
    while Instant::now() < until {
        let ok = match op {
            Op::Get => api.get("bench").await.is_ok(),
            Op::List => api.list(&ListParams::default().limit(50)).await.is_ok(),
            Op::Create => {
                let cm: ConfigMap = serde_json::from_value(
                    json!({"metadata": {"name": format!("w{worker}-{i}")}, "data": {"k": "v"}}),
                )
                .unwrap();
                api.create(&PostParams::default(), &cm).await.is_ok()
            }
        };
        assert!(ok, "{op:?} failed");
        count.fetch_add(1, Ordering::Relaxed);
        i += 1;
    }
}

#[tokio::main]
async fn main() {
    for controllers in [false, true] {
        let mut startups = Vec::new();
        for _ in 0..5 {
            let mut opts = SandboxOptions::new(&CLUSTERS);
            opts.controllers = controllers;
            let t = Instant::now();
            let sb = Sandbox::start(opts).await.unwrap();
            startups.push(t.elapsed());
            drop(sb);
        }
        startups.sort();
        let what = if controllers {
            "API servers + bootstrap + controllers"
        } else {
            "API servers: CA, serving cert, listener each"
        };
        println!(
            "start-up of {} clusters ({what}): median {:.1} ms, min {:.1} ms, max {:.1} ms",
            CLUSTERS.len(),
            startups[2].as_secs_f64() * 1e3,
            startups[0].as_secs_f64() * 1e3,
            startups[4].as_secs_f64() * 1e3
        );
    }
    for speed in [1.0, 20.0] {
        let mut opts = SandboxOptions::new(&CLUSTERS);
        opts.controllers = true;
        opts.speed = speed;
        let t = Instant::now();
        let sb = Sandbox::start(opts).await.unwrap();
        let deployments = kube_sandbox::store::resource_type("deployments").unwrap();
        let dns_ready = |c: &kube_sandbox::Cluster| {
            c.store()
                .list(deployments, Some("kube-system"))
                .iter()
                .any(|d| {
                    d["status"]["availableReplicas"].as_i64().unwrap_or(0) >= 1
                        && d["status"]["availableReplicas"] == d["spec"]["replicas"]
                })
        };
        while !sb.clusters().iter().all(dns_ready) {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "cluster DNS never became available"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        println!(
            "3 clusters with controllers at speed {speed}: cluster DNS Deployment available in all after {:.0} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }

    model_cost();
    // Alternated, three runs each, so that load from elsewhere on the machine falls on both sides; medians.
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        without.push(gets_with_cockroach(0).await);
        with.push(gets_with_cockroach(kube_sandbox::cockroach::cluster::DEFAULT_RANGES).await);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let runs = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (w, wo) = (median(&mut with), median(&mut without));
    println!(
        "GET/s on one cluster while 9 CockroachDB nodes restart in turn (median of 3): {w:.0} with {} ranges [{}], {wo:.0} without [{}]; with/without = {:.3}",
        kube_sandbox::cockroach::cluster::DEFAULT_RANGES,
        runs(&with),
        runs(&without),
        w / wo
    );

    let sb = Sandbox::start(SandboxOptions::new(&CLUSTERS))
        .await
        .unwrap();
    for op in [Op::Get, Op::List, Op::Create] {
        // All three clusters loaded at once, like a provider applying three regions in parallel.
        let until = Instant::now() + RUN_FOR;
        let mut counters = Vec::new();
        let mut tasks = Vec::new();
        for name in CLUSTERS {
            let api: Api<ConfigMap> = Api::namespaced(client(&sb, name).await, "default");
            if matches!(op, Op::Get) {
                let cm: ConfigMap =
                    serde_json::from_value(json!({"metadata": {"name": "bench"}})).unwrap();
                let _ = api.create(&PostParams::default(), &cm).await;
            }
            let count = Arc::new(AtomicU64::new(0));
            for w in 0..CONCURRENCY {
                tasks.push(tokio::spawn(drive(
                    api.clone(),
                    op,
                    w,
                    count.clone(),
                    until,
                )));
            }
            counters.push((name, count));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let per: Vec<String> = counters
            .iter()
            .map(|(n, c)| {
                format!(
                    "{n} {:.0}/s",
                    c.load(Ordering::Relaxed) as f64 / RUN_FOR.as_secs_f64()
                )
            })
            .collect();
        println!(
            "{op:?} ({CONCURRENCY} concurrent clients per cluster, 3 clusters at once): {}",
            per.join(", ")
        );
    }
}

/// The range model alone: nine nodes in three regions join a fresh cluster and the allocator spreads every
/// range; prints the time per replica change.
fn model_cost() {
    let mut c = CockroachCluster::new(kube_sandbox::cockroach::cluster::DEFAULT_RANGES);
    c.init("bench".into(), None);
    let t = Instant::now();
    for i in 0..9 {
        let region = ["a", "b", "c"][i / 3];
        let locality = Locality {
            region: region.into(),
            zone: region.into(),
        };
        c.node_joined("ca", ("k", region, "p"), &format!("s{i}"), locality, 0.0);
    }
    let mut changes = 0;
    let mut now = 0.0;
    while now < 600.0 {
        now += 1.0;
        let before: Vec<_> = c.ranges().to_vec();
        c.advance(now);
        changes += before
            .iter()
            .zip(c.ranges())
            .filter(|(a, b)| a.replicas != b.replicas)
            .count();
    }
    let spent = t.elapsed();
    println!(
        "range model: 9 nodes, {} ranges settled in {changes} replica changes, {:.1} µs per change ({:.1} ms in all)",
        kube_sandbox::cockroach::cluster::DEFAULT_RANGES,
        spent.as_secs_f64() * 1e6 / changes.max(1) as f64,
        spent.as_secs_f64() * 1e3
    );
    // Then 200 node restarts (6 s down each, looked at every 0.1 s): what the world pays per restart.
    let t = Instant::now();
    for i in 0..200u32 {
        let n = (i % 3) * 3 + (i / 3) % 3;
        let region = ["a", "b", "c"][n as usize / 3];
        let locality = Locality {
            region: region.into(),
            zone: region.into(),
        };
        c.node_stopped("k", &format!("s{n}"), now);
        for _ in 0..60 {
            now += 0.1;
            c.advance(now);
        }
        c.node_joined("ca", ("k", region, "p"), &format!("s{n}"), locality, now);
    }
    println!(
        "range model: {:.0} µs per node restart followed through 60 looks ({} ranges, 9 nodes)",
        t.elapsed().as_secs_f64() * 1e6 / 200.0,
        kube_sandbox::cockroach::cluster::DEFAULT_RANGES
    );
}

/// GET/s against one cluster of a sandbox at speed 20 running nine CockroachDB nodes (three regions), while one
/// node restarts every 300 ms: every restart is a liveness change the model and recorder follow.
async fn gets_with_cockroach(ranges: u32) -> f64 {
    use support::*;
    let mut opts = SandboxOptions::new(&CLUSTERS);
    opts.controllers = true;
    opts.speed = 20.0;
    opts.ranges = ranges;
    let sb = Sandbox::start(opts).await.unwrap();
    let sim = Sim::of(&sb);
    let pki = Pki::new();
    let zones: Vec<String> = CLUSTERS.iter().map(|c| format!("zone-{c}")).collect();
    let zones: Vec<&str> = zones.iter().map(String::as_str).collect();
    for (cluster, zone) in CLUSTERS.iter().zip(&zones) {
        deploy_zone(&sim, cluster, zone, &zones, &pki, &pki.node(zone));
    }
    let mut ips = Vec::new();
    for cluster in CLUSTERS {
        ips.push(dns_lb(&sim, cluster).await);
    }
    for (i, cluster) in CLUSTERS.iter().enumerate() {
        let peers: Vec<(&str, &str)> = (0..3)
            .filter(|j| *j != i)
            .map(|j| (zones[j], ips[j].as_str()))
            .collect();
        forward(&sim, cluster, gke().dns, &peers);
    }
    init_job(&sim, CLUSTERS[0], zones[0]);
    let live = || {
        sim.world
            .cockroach()
            .nodes()
            .iter()
            .filter(|n| n.live)
            .count()
    };
    assert!(eventually(120, || live() == 9).await, "nine live nodes");
    let spread = || {
        sim.world.cockroach().clusters().iter().all(|c| {
            sim.world
                .cockroach()
                .with(&c.ca, |c, _| {
                    c.ranges().iter().all(|r| r.replicas.len() == 3)
                })
                .unwrap_or(false)
        })
    };
    assert!(eventually(120, spread).await, "every range on three nodes");
    sim.world.cockroach().reset_availability();
    let churn = {
        let stores: Vec<_> = sb
            .clusters()
            .iter()
            .map(|c| (c.name.clone(), c.store().clone()))
            .collect();
        let zones: Vec<String> = zones.iter().map(|z| z.to_string()).collect();
        tokio::spawn(async move {
            let pods = kube_sandbox::store::resource_type("pods").unwrap();
            for i in 0.. {
                let (_, store) = &stores[i % 3];
                let pod = format!("cockroachdb-{}", (i / 3) % 3);
                let _ = store.delete(pods, Some(&zones[i % 3]), &pod, Default::default());
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let api: Api<ConfigMap> = Api::namespaced(client(&sb, CLUSTERS[1]).await, "default");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "bench"}})).unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap();
    let until = Instant::now() + RUN_FOR;
    let count = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|w| tokio::spawn(drive(api.clone(), Op::Get, w, count.clone(), until)))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    churn.abort();
    let seen = sim.world.cockroach().availability();
    println!("  ({ranges} ranges) {}", seen.line());
    count.load(Ordering::Relaxed) as f64 / RUN_FOR.as_secs_f64()
}
