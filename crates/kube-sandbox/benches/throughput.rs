//! Prints requests per second per cluster over loopback HTTPS and the start-up time of three clusters.
//! Run: cargo bench -p kube-sandbox --bench throughput

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_sandbox::{Sandbox, SandboxOptions};
use serde_json::json;

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
