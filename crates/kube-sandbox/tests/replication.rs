//! The replicated CockroachDB as a client sees it: ranges under-replicated or unavailable as regions go down,
//! dead nodes re-replicated, lost ranges recorded, and the metrics a node serves through the API server's pods
//! proxy (kube-rs and Debian's kubectl) equal to what the world records.

mod common;
mod support;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_sandbox::world::Liveness;
use kube_sandbox::{Sandbox, SandboxOptions};
use serde_json::{json, Value};
use support::*;

const REGIONS: [&str; 3] = ["a", "b", "c"];

async fn client(sb: &Sandbox, name: &str) -> kube::Client {
    let kc = Kubeconfig::from_yaml(&sb.kubeconfig().to_string()).unwrap();
    let opts = KubeConfigOptions {
        context: Some(name.into()),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .unwrap();
    kube::Client::try_from(cfg).unwrap()
}

/// Three Kubernetes clusters, one zone (`zone-<cluster>`) of three nodes each, forwarding DNS to each other,
/// initialised, every range fully replicated.
async fn three_regions() -> (Sandbox, Sim) {
    let mut opts = SandboxOptions::new(&REGIONS);
    opts.speed = SPEED;
    opts.controllers = true;
    let sb = Sandbox::start(opts).await.unwrap();
    let sim = Sim::of(&sb);
    let pki = Pki::new();
    let zones: Vec<String> = REGIONS.iter().map(|r| format!("zone-{r}")).collect();
    let zones: Vec<&str> = zones.iter().map(String::as_str).collect();
    for (cluster, zone) in REGIONS.iter().zip(&zones) {
        deploy_zone(&sim, cluster, zone, &zones, &pki, &pki.node(zone));
    }
    let mut ips = Vec::new();
    for cluster in REGIONS {
        ips.push(dns_lb(&sim, cluster).await);
    }
    for (i, cluster) in REGIONS.iter().enumerate() {
        let peers: Vec<(&str, &str)> = (0..3)
            .filter(|j| *j != i)
            .map(|j| (zones[j], ips[j].as_str()))
            .collect();
        forward(&sim, cluster, gke().dns, &peers);
    }
    init_job(&sim, "a", "zone-a");
    let healthy = eventually(60, || {
        let nodes = sim.world.cockroach().nodes();
        // Settled too: a replica the allocator is still moving can be counted on two nodes by the next scrape.
        let cockroach = sim.world.cockroach();
        let settled = cockroach
            .clusters()
            .first()
            .is_some_and(|status| cockroach.with(&status.ca, |c, _| c.settled()) == Some(true));
        nodes.len() == 9
            && nodes.iter().all(|n| n.live)
            && settled
            && cluster_metrics(&sim) == (300, 0, 0)
    })
    .await;
    assert!(healthy, "{:?}", cluster_metrics(&sim));
    (sb, sim)
}

/// (ranges, unavailable, under-replicated) summed over every node's store metrics, as the world has them.
fn cluster_metrics(sim: &Sim) -> (u32, u32, u32) {
    let cockroach = sim.world.cockroach();
    let Some(ca) = cockroach.clusters().first().map(|c| c.ca.clone()) else {
        return (0, 0, 0);
    };
    cockroach
        .with(&ca, |c, now| {
            c.node_ids()
                .into_iter()
                .map(|id| kube_sandbox::cockroach::metrics::store_metrics(c, id, now))
                .fold((0, 0, 0), |a, m| {
                    (
                        a.0 + m.ranges,
                        a.1 + m.ranges_unavailable,
                        a.2 + m.ranges_underreplicated,
                    )
                })
        })
        .unwrap_or_default()
}

fn metric(text: &str, name: &str) -> u32 {
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

fn vars_path(region: &str, pod: usize) -> String {
    format!("/api/v1/namespaces/zone-{region}/pods/https:cockroachdb-{pod}:8080/proxy/_status/vars")
}

/// (ranges, unavailable, under-replicated) summed over the `_status/vars` of every running node, through kube-rs.
async fn scraped(sb: &Sandbox, sim: &Sim) -> (u32, u32, u32) {
    let mut sum = (0, 0, 0);
    for region in REGIONS {
        let client = client(sb, region).await;
        for pod in 0..3 {
            if sim
                .get(
                    region,
                    "pods",
                    &format!("zone-{region}"),
                    &format!("cockroachdb-{pod}"),
                )
                .is_none()
            {
                continue;
            }
            let req = http::Request::get(vars_path(region, pod))
                .body(Vec::new())
                .unwrap();
            let text = client.request_text(req).await.unwrap();
            sum.0 += metric(&text, "ranges");
            sum.1 += metric(&text, "ranges_unavailable");
            sum.2 += metric(&text, "ranges_underreplicated");
        }
    }
    sum
}

/// [`scraped`], asked again for up to 30 cluster seconds until it is `want`; what it last said.
async fn scraped_once_it_is(sb: &Sandbox, sim: &Sim, want: (u32, u32, u32)) -> (u32, u32, u32) {
    let mut seen = scraped(sb, sim).await;
    for _ in 0..30 {
        if seen == want {
            break;
        }
        cluster_time(1).await;
        seen = scraped(sb, sim).await;
    }
    seen
}

fn scale(sim: &Sim, region: &str, replicas: i64) {
    sim.modify(
        region,
        "statefulsets",
        &format!("zone-{region}"),
        "cockroachdb",
        |s| s["spec"]["replicas"] = json!(replicas),
    );
}

fn live(sim: &Sim) -> usize {
    sim.world
        .cockroach()
        .nodes()
        .iter()
        .filter(|n| n.live)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_region_down_is_under_replicated_two_are_unavailable_and_the_proxy_says_so() {
    let (sb, sim) = three_regions().await;
    assert_eq!(scraped(&sb, &sim).await, (300, 0, 0));

    // Debian's kubectl reads the same through the same path, and the readiness endpoint answers 200.
    let kubectl = common::kubectl::debian_kubectl();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sb.write_kubeconfig(&kubeconfig).unwrap();
    let raw = |context: &str, path: &str| {
        let out = std::process::Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--context", context, "get", "--raw", path])
            .env("HOME", dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, vars, err) = raw("b", &vars_path("b", 1));
    assert!(ok, "{err}");
    assert!(
        vars.contains("# TYPE ranges_underreplicated gauge"),
        "{vars}"
    );
    assert_eq!(metric(&vars, "liveness_livenodes"), 9);
    let (ok, health, err) = raw(
        "a",
        "/api/v1/namespaces/zone-a/pods/https:cockroachdb-0:8080/proxy/health?ready=1",
    );
    assert!(ok && health.contains("\"nodeId\""), "{health}{err}");

    sim.world.cockroach().reset_availability();
    scale(&sim, "c", 0);
    assert!(eventually(20, || live(&sim) == 6).await);
    cluster_time(10).await;
    let seen = sim.world.cockroach().availability();
    assert_eq!(seen.unavailable_range_seconds, 0.0, "{seen:?}");
    assert_eq!(seen.max_nodes_down, 3);
    assert!(seen.under_replicated_range_seconds > 0.0);
    assert_eq!(cluster_metrics(&sim), (300, 0, 300));
    assert_eq!(scraped(&sb, &sim).await, cluster_metrics(&sim));
    client_job(
        &sim,
        "status",
        &[
            "node",
            "status",
            "--all",
            "--decommission",
            "--ranges",
            "--format=csv",
        ],
    );
    let csv = job_output(&sim, "status").await;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        kube_sandbox::cockroach::metrics::NODE_STATUS_COLUMNS.to_vec()
    );
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    // The locality column is quoted (it holds a comma): count cells from the end of each row.
    let from_end = |name: &str| header.len() - column(name);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 9);
    let cell = |row: &Vec<&str>, name: &str| row[row.len() - from_end(name)].to_string();
    let under: u32 = rows
        .iter()
        .map(|r| cell(r, "ranges_underreplicated").parse::<u32>().unwrap())
        .sum();
    assert_eq!(under, 300);
    assert_eq!(
        rows.iter()
            .filter(|r| cell(r, "is_live") == "false")
            .count(),
        3
    );
    let down = sim.world.cockroach().nodes();
    assert!(down
        .iter()
        .filter(|n| !n.live)
        .all(|n| n.liveness == Liveness::Suspect));

    scale(&sim, "b", 0);
    assert!(eventually(20, || live(&sim) == 3).await);
    let seen = sim.world.cockroach().availability();
    assert_eq!(seen.max_unavailable_ranges, 300, "{seen:?}");
    assert_eq!(seen.max_nodes_down, 6);
    // The nodes' own counts follow their liveness records, which expire a few cluster seconds after the nodes
    // stopped, as CockroachDB's do: the proxy says so once they have.
    assert_eq!(
        scraped_once_it_is(&sb, &sim, (300, 300, 300)).await,
        (300, 300, 300)
    );
    let (ok, record, err) = raw("c", "/sandbox/availability");
    assert!(ok, "{err}");
    let record: Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["max_unavailable_ranges"], 300);
    assert!(record["unavailable_range_seconds"].as_f64().unwrap() > 0.0);
    let (ok, _, err) = raw(
        "c",
        "/api/v1/namespaces/zone-c/pods/https:cockroachdb-0:8080/proxy/health?ready=1",
    );
    assert!(
        !ok && err.contains("NotFound"),
        "a stopped region's pods are gone: {err}"
    );

    scale(&sim, "b", 3);
    scale(&sim, "c", 3);
    assert!(
        eventually(30, || live(&sim) == 9
            && cluster_metrics(&sim) == (300, 0, 0))
        .await,
        "{:?}",
        cluster_metrics(&sim)
    );
    assert_eq!(sim.world.cockroach().availability().ranges_lost, 0);
}

/// A `cockroach <args>` Job in zone-a with the root client certificate.
fn client_job(sim: &Sim, name: &str, args: &[&str]) {
    let mut command = vec!["/cockroach/cockroach"];
    command.extend(args);
    command.extend(["--certs-dir=/cockroach-certs", "--host=cockroachdb-public"]);
    sim.create("a", "jobs", json!({"metadata": {"name": name, "namespace": "zone-a"},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "cockroach", "image": "cockroachdb/cockroach:v25.2.0", "command": command,
                "volumeMounts": [{"name": "c", "mountPath": "/cockroach-certs"}]}],
            "volumes": [{"name": "c", "secret": {"secretName": "cockroachdb.client.root", "defaultMode": 256}}]}}}}));
}

fn sql_job(sim: &Sim, name: &str, statement: &str) {
    client_job(sim, name, &["sql", "-e", statement]);
}

/// The output of a finished Job's pod.
async fn job_output(sim: &Sim, name: &str) -> String {
    let done = || {
        pods_of(sim, "a", "zone-a").into_iter().find(|p| {
            p["metadata"]["labels"]["job-name"] == name && p["status"]["phase"] == "Succeeded"
        })
    };
    assert!(
        eventually(20, || done().is_some()).await,
        "job {name} did not succeed"
    );
    let pod = done().unwrap();
    sim.world
        .pod_log("a", "zone-a", pod["metadata"]["name"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_re_replicated_and_a_deleted_zone_holding_the_only_replicas_is_lost() {
    let (_sb, sim) = three_regions().await;
    sql_job(
        &sim,
        "dead-sooner",
        "SET CLUSTER SETTING server.time_until_store_dead = '1m15s'",
    );
    let settled = || {
        sim.world.cockroach().clusters()[0]
            .settings
            .contains_key("server.time_until_store_dead")
    };
    assert!(eventually(20, settled).await);
    sim.world.cockroach().reset_availability();
    // The last pod of zone-c goes for good (scale down without decommission): suspect, then dead, then its
    // replicas move to the two nodes left in its region.
    scale(&sim, "c", 2);
    let node = || {
        sim.world
            .cockroach()
            .nodes()
            .into_iter()
            .find(|n| n.zone == "zone-c" && n.pod == "cockroachdb-2")
            .unwrap()
    };
    assert!(eventually(20, || node().liveness == Liveness::Suspect).await);
    assert!(eventually(20, || node().liveness == Liveness::Dead).await);
    let id = node().node_id;
    let drained = || {
        let ca = node().ca;
        sim.world.cockroach().with(&ca, |c, _| c.replica_count(id)) == Some(0)
    };
    assert!(eventually(20, || drained() && cluster_metrics(&sim) == (300, 0, 0)).await);
    let seen = sim.world.cockroach().availability();
    assert!(seen.window_seconds >= 75.0, "{seen:?}");
    assert_eq!((seen.unavailable_range_seconds, seen.ranges_lost), (0.0, 0));

    // One replica per range: deleting zone-b's namespace loses the ranges only its nodes held.
    sql_job(
        &sim,
        "one-replica",
        "ALTER RANGE default CONFIGURE ZONE USING num_replicas = 1",
    );
    // Settled too: no rebalancing may move a range between counting zone-b's and deleting it.
    let single = || {
        let ca = node().ca;
        sim.world.cockroach().with(&ca, |c, _| {
            c.ranges().iter().all(|r| r.replicas.len() == 1) && c.settled()
        }) == Some(true)
    };
    assert!(eventually(30, single).await);
    let held_by_b = {
        let ca = node().ca;
        let b: Vec<u32> = sim
            .world
            .cockroach()
            .nodes()
            .iter()
            .filter(|n| n.zone == "zone-b")
            .map(|n| n.node_id)
            .collect();
        sim.world
            .cockroach()
            .with(&ca, |c, _| {
                c.ranges()
                    .iter()
                    .filter(|r| b.contains(&r.replicas[0]))
                    .count() as u32
            })
            .unwrap()
    };
    assert!(held_by_b > 0);
    sim.world.cockroach().reset_availability();
    sim.store("b")
        .delete(rt("namespaces"), None, "zone-b", Default::default())
        .unwrap();
    assert!(
        eventually(30, || sim.world.cockroach().availability().ranges_lost
            == held_by_b)
        .await,
        "{:?}",
        sim.world.cockroach().availability()
    );
    assert!(
        sim.world.cockroach().initialised(),
        "zones a and c still hold the rest"
    );
}
