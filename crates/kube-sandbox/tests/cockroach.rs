//! CockroachDB semantics across clusters: what the provider will do by hand for three clusters, and the
//! orchestration mistakes the sandbox must catch.

mod support;

use kube_sandbox::world::DnsFlavour;
use serde_json::{json, Value};
use support::*;

fn zone_pods_ready(sim: &Sim, cluster: &str, zone: &str) -> usize {
    pods_of(sim, cluster, zone)
        .iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "cockroachdb" && ready(p))
        .count()
}

fn live_nodes(sim: &Sim) -> usize {
    sim.world
        .cockroach()
        .nodes()
        .iter()
        .filter(|n| n.live)
        .count()
}

fn job_condition(sim: &Sim, cluster: &str, ns: &str, name: &str, t: &str) -> bool {
    sim.get(cluster, "jobs", ns, name)
        .and_then(|j| j["status"]["conditions"].as_array().cloned())
        .is_some_and(|c| c.iter().any(|c| c["type"] == t && c["status"] == "True"))
}

struct TwoZones {
    sim: Sim,
    ips: [String; 2],
}

/// Two GKE-like clusters `a` (zone `east`) and `b` (zone `west`) with valid certificates and DNS load balancers,
/// no DNS forwarding yet.
async fn two_zones() -> TwoZones {
    let sim = Sim::start(&[("a", gke()), ("b", gke())]);
    let pki = Pki::new();
    let zones = ["east", "west"];
    deploy_zone(&sim, "a", "east", &zones, &pki, &pki.node("east"));
    deploy_zone(&sim, "b", "west", &zones, &pki, &pki.node("west"));
    let ip_a = dns_lb(&sim, "a").await;
    let ip_b = dns_lb(&sim, "b").await;
    TwoZones {
        sim,
        ips: [ip_a, ip_b],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clusters_by_hand_become_nine_live_nodes() {
    let clusters = [
        ("gke-east", gke(), "us-east1"),
        ("gke-west", gke(), "us-west1"),
        ("eks-eu", eks_like(), "eu-west1"),
    ];
    let sim = Sim::start(
        &clusters
            .iter()
            .map(|(c, p, _)| (*c, *p))
            .collect::<Vec<_>>(),
    );
    let pki = Pki::new();
    let zones: Vec<&str> = clusters.iter().map(|(_, _, z)| *z).collect();
    for (cluster, _, zone) in &clusters {
        deploy_zone(&sim, cluster, zone, &zones, &pki, &pki.node(zone));
    }
    let mut ips = Vec::new();
    for (cluster, _, _) in &clusters {
        ips.push(dns_lb(&sim, cluster).await);
    }
    for (i, (cluster, profile, _)) in clusters.iter().enumerate() {
        let peers: Vec<(&str, &str)> = clusters
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, (_, _, z))| (*z, ips[j].as_str()))
            .collect();
        forward(&sim, cluster, profile.dns, &peers);
    }
    // Nodes run but wait for init.
    assert!(
        eventually(20, || {
            pods_of(&sim, "gke-east", "us-east1")
                .iter()
                .filter(|p| p["status"]["phase"] == "Running")
                .count()
                == 3
        })
        .await
    );
    assert_eq!(
        zone_pods_ready(&sim, "gke-east", "us-east1"),
        0,
        "nobody is ready before init"
    );
    init_job(&sim, "gke-east", "us-east1");

    let all_up = eventually(60, || {
        live_nodes(&sim) == 9
            && clusters
                .iter()
                .all(|(c, _, z)| zone_pods_ready(&sim, c, z) == 3)
    })
    .await;
    let nodes = sim.world.cockroach().nodes();
    assert!(
        all_up,
        "expected 9 live nodes, got {nodes:#?}\nlog of eu pod: {}",
        sim.world.pod_log("eks-eu", "eu-west1", "cockroachdb-0")
    );
    assert!(sim.world.cockroach().initialised());
    assert!(
        eventually(20, || job_condition(
            &sim,
            "gke-east",
            "us-east1",
            "cluster-init-secure",
            "Complete"
        ))
        .await
    );
    let mut ids: Vec<u32> = nodes.iter().map(|n| n.node_id).collect();
    ids.sort();
    assert_eq!(ids, (1..=9).collect::<Vec<_>>());
    let budget_settled = || {
        sim.get(
            "eks-eu",
            "poddisruptionbudgets",
            "eu-west1",
            "cockroachdb-budget",
        )
        .is_some_and(|p| {
            p["status"]["disruptionsAllowed"] == 1 && p["status"]["currentHealthy"] == 3
        })
    };
    assert!(eventually(10, budget_settled).await, "PDB status");
    let ep_ready = || {
        sim.get("eks-eu", "endpoints", "eu-west1", "cockroachdb-public")
            .and_then(|e| e["subsets"][0]["addresses"].as_array().map(Vec::len))
            == Some(3)
    };
    assert!(
        eventually(10, ep_ready).await,
        "public service endpoints list the ready pods"
    );
    let sts = sim
        .get("eks-eu", "statefulsets", "eu-west1", "cockroachdb")
        .unwrap();
    assert_eq!(sts["status"]["readyReplicas"], 3);

    // A second init reports what the real binary reports, with its exit code.
    sim.create("gke-west", "jobs", json!({"metadata": {"name": "again", "namespace": "us-west1"},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "init", "image": "cockroachdb/cockroach:v25.2.0",
                "command": ["/cockroach/cockroach", "init", "--certs-dir=/cockroach-certs", "--host=cockroachdb-0.cockroachdb"],
                "volumeMounts": [{"name": "c", "mountPath": "/cockroach-certs"}]}],
            "volumes": [{"name": "c", "secret": {"secretName": "cockroachdb.client.root", "defaultMode": 256}}]}}}}));
    assert!(
        eventually(20, || job_condition(
            &sim, "gke-west", "us-west1", "again", "Failed"
        ))
        .await
    );
    let pod = pods_of(&sim, "gke-west", "us-west1")
        .into_iter()
        .find(|p| p["metadata"]["labels"]["job-name"] == "again")
        .unwrap();
    let term = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 1);
    assert_eq!(
        term["message"],
        "ERROR: cluster has already been initialized"
    );

    // A node whose pod goes is dead, not decommissioned; a pod on the same PVC later is the same node.
    sim.modify("eks-eu", "statefulsets", "eu-west1", "cockroachdb", |s| {
        s["spec"]["replicas"] = json!(2)
    });
    let eu2 = |live: bool| {
        sim.world
            .cockroach()
            .nodes()
            .into_iter()
            .any(|n| n.zone == "eu-west1" && n.pod == "cockroachdb-2" && n.live == live)
    };
    assert!(
        eventually(20, || eu2(false)).await,
        "removed pod's node is not live"
    );
    assert_eq!(live_nodes(&sim), 8);
    sim.modify("eks-eu", "statefulsets", "eu-west1", "cockroachdb", |s| {
        s["spec"]["replicas"] = json!(3)
    });
    assert!(
        eventually(30, || eu2(true) && live_nodes(&sim) == 9).await,
        "the pod back on its PVC rejoins as the same node"
    );
    assert_eq!(sim.world.cockroach().nodes().len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_san_crash_loops_with_a_growing_restart_count() {
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    deploy_zone(&sim, "a", "east", &["east"], &pki, &pki.node("west"));
    let restarts = || {
        sim.get("a", "pods", "east", "cockroachdb-0")
            .and_then(|p| {
                p.pointer("/status/containerStatuses/0/restartCount")
                    .and_then(Value::as_i64)
            })
            .unwrap_or(0)
    };
    assert!(
        eventually(60, || restarts() >= 3).await,
        "restartCount should grow, is {}",
        restarts()
    );
    let pod = sim.get("a", "pods", "east", "cockroachdb-0").unwrap();
    let cs = &pod["status"]["containerStatuses"][0];
    assert!(!ready(&pod));
    let waiting = cs["state"]["waiting"]["reason"].as_str().unwrap_or("");
    assert!(
        waiting == "CrashLoopBackOff" || cs["state"]["running"].is_object(),
        "{cs}"
    );
    let msg = cs["lastState"]["terminated"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(
        msg.contains("not cockroachdb-0.cockroachdb.east"),
        "message says what is wrong: {msg}"
    );
    assert!(sim
        .world
        .pod_log("a", "east", "cockroachdb-0")
        .contains("problem with node certificate"));
    let ev = events_for(&sim, "a", "east", "cockroachdb-0");
    assert!(ev.iter().any(|(r, _)| r == "BackOff"), "{ev:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn world_readable_key_crash_loops() {
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    deploy_zone(&sim, "a", "east", &["east"], &pki, &pki.node("east"));
    sim.modify("a", "statefulsets", "east", "cockroachdb", |s| {
        s["spec"]["template"]["spec"]["volumes"][1]["secret"]
            .as_object_mut()
            .unwrap()
            .remove("defaultMode");
    });
    // The highest ordinal is the one on the new template whatever the controller made before the change: the
    // rolling update replaces it first, then waits on its unhealthy replacement; a pod recreated below it would
    // come back on the old revision, as in Kubernetes.
    let msg = || {
        sim.get("a", "pods", "east", "cockroachdb-2")
            .and_then(|p| {
                p.pointer("/status/containerStatuses/0/lastState/terminated/message")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .unwrap_or_default()
    };
    assert!(
        eventually(60, || msg().contains("exceeds -rwx------")).await,
        "{}\n{:#?}\n{:#?}",
        msg(),
        sim.get("a", "pods", "east", "cockroachdb-2"),
        sim.get("a", "statefulsets", "east", "cockroachdb")
            .map(|s| s["status"].clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_stub_domain_leaves_that_side_not_ready() {
    let t = two_zones().await;
    let sim = &t.sim;
    forward(sim, "a", DnsFlavour::KubeDns, &[("west", &t.ips[1])]);
    init_job(sim, "a", "east");
    assert!(
        eventually(60, || zone_pods_ready(sim, "a", "east") == 3).await,
        "the side that can resolve its peers comes up"
    );
    cluster_time(60).await;
    assert_eq!(
        zone_pods_ready(sim, "b", "west"),
        0,
        "west cannot resolve east: not Ready"
    );
    assert!(sim
        .world
        .pod_log("b", "west", "cockroachdb-0")
        .contains("zone east"));

    // Adding the stub domain later fixes it once kube-dns has picked the change up.
    forward(sim, "b", DnsFlavour::KubeDns, &[("east", &t.ips[0])]);
    assert!(eventually(60, || zone_pods_ready(sim, "b", "west") == 3).await);
    assert_eq!(live_nodes(sim), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_pointing_stub_domain_does_not_resolve() {
    let t = two_zones().await;
    let sim = &t.sim;
    forward(sim, "a", DnsFlavour::KubeDns, &[("west", &t.ips[1])]);
    forward(sim, "b", DnsFlavour::KubeDns, &[("east", &t.ips[1])]);
    init_job(sim, "a", "east");
    assert!(eventually(60, || zone_pods_ready(sim, "a", "east") == 3).await);
    cluster_time(60).await;
    assert_eq!(
        zone_pods_ready(sim, "b", "west"),
        0,
        "a stub domain pointing at its own cluster resolves nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_init_nothing_becomes_ready() {
    let t = two_zones().await;
    let sim = &t.sim;
    forward(sim, "a", DnsFlavour::KubeDns, &[("west", &t.ips[1])]);
    forward(sim, "b", DnsFlavour::KubeDns, &[("east", &t.ips[0])]);
    assert!(
        eventually(20, || {
            pods_of(sim, "a", "east")
                .iter()
                .filter(|p| p["status"]["phase"] == "Running")
                .count()
                == 3
        })
        .await
    );
    cluster_time(90).await;
    assert_eq!(
        zone_pods_ready(sim, "a", "east") + zone_pods_ready(sim, "b", "west"),
        0
    );
    assert!(!sim.world.cockroach().initialised());
    assert!(sim
        .world
        .pod_log("a", "east", "cockroachdb-1")
        .contains("wait for `cockroach init`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_with_a_foreign_root_certificate_fails() {
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    deploy_zone(&sim, "a", "east", &["east"], &pki, &pki.node("east"));
    let other = Pki::new();
    let (crt, key) = other.root();
    sim.modify("a", "secrets", "east", "cockroachdb.client.root", |s| {
        s["stringData"] =
            json!({"ca.crt": other.ca_pem, "client.root.crt": crt, "client.root.key": key});
    });
    init_job(&sim, "a", "east");
    let msg = || {
        pods_of(&sim, "a", "east")
            .into_iter()
            .find(|p| p["metadata"]["labels"]["job-name"] == "cluster-init-secure")
            .and_then(|p| {
                p.pointer("/status/containerStatuses/0/lastState/terminated/message")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .unwrap_or_default()
    };
    assert!(
        eventually(60, || msg().contains("unknown authority")).await,
        "{}",
        msg()
    );
    assert!(!sim.world.cockroach().initialised());
}

fn decommission_job(sim: &Sim, name: &str, id: u32) {
    sim.create("a", "jobs", json!({"metadata": {"name": name, "namespace": "east"},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "decommission", "image": "cockroachdb/cockroach:v25.2.0",
                "command": ["/cockroach/cockroach", "node", "decommission", id.to_string(), "--certs-dir=/cockroach-certs", "--host=cockroachdb-public"],
                "volumeMounts": [{"name": "c", "mountPath": "/cockroach-certs"}]}],
            "volumes": [{"name": "c", "secret": {"secretName": "cockroachdb.client.root", "defaultMode": 256}}]}}}}));
}

fn job_pods(sim: &Sim, name: &str) -> Vec<Value> {
    pods_of(sim, "a", "east")
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["job-name"] == name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_down_after_decommission_versus_without() {
    use kube_sandbox::world::Membership;
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    deploy_zone(&sim, "a", "east", &["east"], &pki, &pki.node("east"));
    init_job(&sim, "a", "east");
    assert!(eventually(60, || live_nodes(&sim) == 3).await);
    let node_of = |pod: &str| {
        sim.world
            .cockroach()
            .nodes()
            .into_iter()
            .find(|n| n.pod == pod)
            .unwrap()
    };
    // Three nodes and three replicas per range: nobody could take the leaving node's replicas.
    decommission_job(&sim, "refused", node_of("cockroachdb-2").node_id);
    assert!(eventually(20, || job_condition(&sim, "a", "east", "refused", "Failed")).await);
    let message = job_pods(&sim, "refused")[0]["status"]["containerStatuses"][0]["state"]
        ["terminated"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("ranges blocking decommission detected")
            && message.contains("ERROR: Cannot decommission nodes."),
        "{message}"
    );
    assert_eq!(node_of("cockroachdb-2").membership, Membership::Active);

    sim.modify("a", "statefulsets", "east", "cockroachdb", |s| {
        s["spec"]["replicas"] = json!(4)
    });
    assert!(eventually(60, || live_nodes(&sim) == 4).await);
    let id = node_of("cockroachdb-3").node_id;
    decommission_job(&sim, "decommission", id);
    let done = eventually(20, || {
        job_condition(&sim, "a", "east", "decommission", "Complete")
    })
    .await;
    assert!(
        done,
        "decommission job did not complete: {:#?}",
        job_pods(&sim, "decommission")
    );
    assert_eq!(
        node_of("cockroachdb-3").membership,
        Membership::Decommissioned
    );
    assert_eq!(
        sim.world
            .cockroach()
            .with(&node_of("cockroachdb-3").ca, |c, _| c.replica_count(id)),
        Some(0),
        "drained before it reported decommissioned"
    );

    sim.modify("a", "statefulsets", "east", "cockroachdb", |s| {
        s["spec"]["replicas"] = json!(2)
    });
    assert!(eventually(20, || live_nodes(&sim) == 2).await);
    let (n2, n3) = (node_of("cockroachdb-2"), node_of("cockroachdb-3"));
    assert!(
        !n2.live && n2.membership == Membership::Active,
        "removed without decommission: dead, {n2:?}"
    );
    assert!(
        !n3.live && n3.membership == Membership::Decommissioned,
        "{n3:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_loses_the_data_and_a_new_deployment_needs_init_again() {
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    deploy_zone(&sim, "a", "east", &["east"], &pki, &pki.node("east"));
    init_job(&sim, "a", "east");
    assert!(eventually(60, || live_nodes(&sim) == 3).await);

    sim.store("a")
        .delete(
            rt("namespaces"),
            None,
            "east",
            kube_sandbox::store::Propagation::Background,
        )
        .unwrap();
    assert!(
        eventually(30, || sim.get("a", "namespaces", "", "east").is_none()).await,
        "namespace teardown"
    );
    assert!(
        eventually(10, || !sim.world.cockroach().initialised()).await,
        "the PVCs went with the namespace: no cluster left"
    );
    assert!(sim.world.cockroach().nodes().is_empty());
    // The rest of the teardown: what lives outside the zone namespace.
    let bg = kube_sandbox::store::Propagation::Background;
    let store = sim.store("a");
    store
        .delete(
            rt("secrets"),
            Some("default"),
            "cockroachdb.client.root",
            bg,
        )
        .unwrap();
    store
        .delete(rt("services"), Some("default"), "cockroachdb-public", bg)
        .unwrap();

    deploy_zone(&sim, "a", "east", &["east"], &pki, &pki.node("east"));
    assert!(
        eventually(20, || {
            pods_of(&sim, "a", "east")
                .iter()
                .filter(|p| p["status"]["phase"] == "Running")
                .count()
                == 3
        })
        .await
    );
    cluster_time(60).await;
    assert_eq!(
        zone_pods_ready(&sim, "a", "east"),
        0,
        "fresh stores wait for a new init"
    );
    init_job(&sim, "a", "east");
    assert!(eventually(60, || live_nodes(&sim) == 3).await);
    let mut ids: Vec<u32> = sim
        .world
        .cockroach()
        .nodes()
        .iter()
        .map(|n| n.node_id)
        .collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2, 3], "a new cluster numbers its nodes from 1");
}

fn events_for(sim: &Sim, cluster: &str, ns: &str, name: &str) -> Vec<(String, String)> {
    sim.store(cluster)
        .list(rt("events"), Some(ns))
        .iter()
        .filter(|e| e["involvedObject"]["name"] == name)
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or("").to_string(),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_secret_keeps_pods_in_container_creating_and_events_say_why() {
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    deploy_zone(&sim, "a", "east", &["east"], &pki, &pki.node("east"));
    sim.store("a")
        .delete(
            rt("secrets"),
            Some("east"),
            "cockroachdb.node",
            kube_sandbox::store::Propagation::Background,
        )
        .unwrap();
    // Pods that raced the deletion and started anyway are replaced, so the ones checked never saw the secret.
    let bg = kube_sandbox::store::Propagation::Background;
    for n in 0..3 {
        let _ = sim
            .store("a")
            .delete(rt("pods"), Some("east"), &format!("cockroachdb-{n}"), bg);
    }
    let waiting = || {
        sim.get("a", "pods", "east", "cockroachdb-1").and_then(|p| {
            p.pointer("/status/containerStatuses/0/state/waiting/reason")
                .and_then(Value::as_str)
                .map(String::from)
        })
    };
    cluster_time(30).await;
    assert_eq!(waiting().as_deref(), Some("ContainerCreating"));
    let ev = events_for(&sim, "a", "east", "cockroachdb-1");
    assert!(ev.iter().any(|(r, m)| r == "FailedMount" && m.contains("secret \"cockroachdb.node\" not found")), "{ev:?}");
    assert!(ev.iter().any(|(r, _)| r == "Scheduled"), "{ev:?}");
    assert!(events_for(&sim, "a", "east", "cockroachdb")
        .iter()
        .any(|(r, _)| r == "SuccessfulCreate"));

    // Certificates without the client keys still start the node: the secret only needs what `start` reads.
    let (crt, key) = pki.node("east");
    sim.create(
        "a",
        "secrets",
        json!({"metadata": {"name": "cockroachdb.node", "namespace": "east"},
        "stringData": {"ca.crt": pki.ca_pem, "node.crt": crt, "node.key": key}}),
    );
    assert!(
        eventually(30, || {
            sim.get("a", "pods", "east", "cockroachdb-1")
                .is_some_and(|p| {
                    p["status"]["containerStatuses"][0]["state"]["running"].is_object()
                })
        })
        .await
    );
    let ev = events_for(&sim, "a", "east", "cockroachdb-1");
    assert!(ev.iter().any(|(r, _)| r == "Started"), "{ev:?}");
    cluster_time(20).await;
    let ev = events_for(&sim, "a", "east", "cockroachdb-1");
    assert!(
        ev.iter()
            .any(|(r, m)| r == "Unhealthy" && m.contains("503")),
        "a node waiting for init fails its readiness probe: {ev:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_with_different_cas_are_separate_cockroach_clusters() {
    let sim = Sim::start(&[("a", gke()), ("b", gke())]);
    let (pki1, pki2) = (Pki::new(), Pki::new());
    deploy_zone(&sim, "a", "one", &["one"], &pki1, &pki1.node("one"));
    deploy_zone(&sim, "b", "two", &["two"], &pki2, &pki2.node("two"));
    init_job(&sim, "a", "one");
    assert!(eventually(60, || zone_pods_ready(&sim, "a", "one") == 3).await);
    cluster_time(30).await;
    assert_eq!(
        zone_pods_ready(&sim, "b", "two"),
        0,
        "the other CA's cluster is not initialised by this init"
    );
    init_job(&sim, "b", "two");
    assert!(
        eventually(60, || zone_pods_ready(&sim, "b", "two") == 3).await,
        "its own init succeeds"
    );
    let nodes = sim.world.cockroach().nodes();
    for ca in nodes
        .iter()
        .map(|n| n.ca.clone())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let mut ids: Vec<u32> = nodes
            .iter()
            .filter(|n| n.ca == ca)
            .map(|n| n.node_id)
            .collect();
        ids.sort();
        assert_eq!(ids, vec![1, 2, 3], "each cluster numbers its own nodes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_ready_probe_pods_look_ready_before_init_as_on_a_real_cluster() {
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    let mut sts = statefulset("east", &["east"], "cockroachdb/cockroach:v25.2.0");
    sts["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] =
        json!("/health");
    sim.create("a", "namespaces", namespace("east"));
    let (crt, key) = pki.node("east");
    sim.create(
        "a",
        "secrets",
        json!({"metadata": {"name": "cockroachdb.node", "namespace": "east"},
        "stringData": {"ca.crt": pki.ca_pem, "node.crt": crt, "node.key": key}}),
    );
    sim.create("a", "services", json!({"metadata": {"name": "cockroachdb", "namespace": "east"},
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": true, "selector": {"app": "cockroachdb"}, "ports": [{"port": 26257}]}}));
    sim.create("a", "statefulsets", sts);
    assert!(
        eventually(30, || zone_pods_ready(&sim, "a", "east") == 3).await,
        "a liveness-style probe passes before init"
    );
    assert_eq!(live_nodes(&sim), 0, "but no node has joined anything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostname_load_balancers_need_their_addresses_in_the_forwarding() {
    use kube_sandbox::world::ClusterProfile;
    let aws = ClusterProfile {
        dns: DnsFlavour::CoreDns,
        lb_hostnames: true,
        ..ClusterProfile::default()
    };
    let sim = Sim::start(&[("a", gke()), ("b", aws)]);
    let pki = Pki::new();
    let zones = ["east", "west"];
    deploy_zone(&sim, "a", "east", &zones, &pki, &pki.node("east"));
    deploy_zone(&sim, "b", "west", &zones, &pki, &pki.node("west"));
    let ip_a = dns_lb(&sim, "a").await;
    sim.create("b", "services", json!({"metadata": {"name": "kube-dns-lb", "namespace": "kube-system",
        "annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}},
        "spec": {"type": "LoadBalancer", "selector": {"k8s-app": "kube-dns"}, "ports": [{"port": 53, "protocol": "UDP"}]}}));
    let mut host = String::new();
    assert!(
        eventually(20, || {
            let svc = sim
                .get("b", "services", "kube-system", "kube-dns-lb")
                .unwrap();
            svc.pointer("/status/loadBalancer/ingress/0/hostname")
                .and_then(Value::as_str)
                .map(|h| host = h.to_string())
                .is_some()
        })
        .await
    );
    assert!(host.starts_with("internal-"), "{host}");
    let ips = sim.world.resolve_lb_hostname(&host);
    assert_eq!(ips.len(), 1);
    forward(&sim, "a", DnsFlavour::KubeDns, &[("west", &ips[0])]);
    forward(&sim, "b", DnsFlavour::CoreDns, &[("east", &ip_a)]);
    init_job(&sim, "a", "east");
    assert!(
        eventually(60, || live_nodes(&sim) == 6).await,
        "forwarding to the hostname's address works"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_go_one_major_version_at_a_time() {
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    deploy_zone_image(
        &sim,
        "a",
        "east",
        &["east"],
        &pki,
        &pki.node("east"),
        "cockroachdb/cockroach:v24.1.5",
    );
    init_job(&sim, "a", "east");
    assert!(eventually(60, || live_nodes(&sim) == 3).await);
    let ca = sim.world.cockroach().nodes()[0].ca.clone();
    assert_eq!(
        sim.world.cockroach().cluster_version(&ca).as_deref(),
        Some("24.1")
    );
    let set_image = |image: &str| {
        let image = image.to_string();
        sim.modify("a", "statefulsets", "east", "cockroachdb", move |s| {
            s["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image)
        });
    };
    set_image("cockroachdb/cockroach:v24.2.3");
    assert!(
        eventually(60, || sim.world.cockroach().cluster_version(&ca).as_deref()
            == Some("24.2")
            && live_nodes(&sim) == 3)
        .await,
        "a one-step upgrade rolls through and finalizes"
    );

    // Skipping 24.3 and 25.1: the first upgraded node cannot join and crash-loops; the rollout stops there.
    set_image("cockroachdb/cockroach:v25.2.0");
    let msg = || {
        sim.get("a", "pods", "east", "cockroachdb-2")
            .and_then(|p| {
                p.pointer("/status/containerStatuses/0/lastState/terminated/message")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .unwrap_or_default()
    };
    assert!(
        eventually(60, || msg().contains("too old for running binary")).await,
        "{}",
        msg()
    );
    cluster_time(60).await;
    assert_eq!(
        sim.get("a", "pods", "east", "cockroachdb-1").unwrap()["spec"]["containers"][0]["image"],
        "cockroachdb/cockroach:v24.2.3"
    );
    assert_eq!(
        sim.world.cockroach().cluster_version(&ca).as_deref(),
        Some("24.2")
    );
}

/// A `cockroach sql -e` Job with the root client certificate, in zone `east` of cluster `a`.
fn sql_job(sim: &Sim, name: &str, statement: &str) {
    sim.create("a", "jobs", json!({"metadata": {"name": name, "namespace": "east"},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "sql", "image": "cockroachdb/cockroach:v24.1.5",
                "command": ["/cockroach/cockroach", "sql", "--certs-dir=/cockroach-certs", "--host=cockroachdb-public", "-e", statement],
                "volumeMounts": [{"name": "c", "mountPath": "/cockroach-certs"}]}],
            "volumes": [{"name": "c", "secret": {"secretName": "cockroachdb.client.root", "defaultMode": 256}}]}}}}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_downgrade_option_holds_an_upgrade_open_for_a_rollback_until_reset() {
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    deploy_zone_image(
        &sim,
        "a",
        "east",
        &["east"],
        &pki,
        &pki.node("east"),
        "cockroachdb/cockroach:v24.1.5",
    );
    init_job(&sim, "a", "east");
    assert!(eventually(60, || live_nodes(&sim) == 3).await);
    let status = || sim.world.cockroach().clusters().remove(0);
    let set_image = |image: &str| {
        let image = image.to_string();
        sim.modify("a", "statefulsets", "east", "cockroachdb", move |s| {
            s["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image)
        });
    };
    let all_on = |version: &str| {
        let nodes = sim.world.cockroach().nodes();
        nodes.len() == 3 && nodes.iter().all(|n| n.live && n.version == version)
    };

    sql_job(
        &sim,
        "preserve",
        "SET CLUSTER SETTING cluster.preserve_downgrade_option = '24.1';",
    );
    assert!(
        eventually(20, || job_condition(
            &sim, "a", "east", "preserve", "Complete"
        ))
        .await
    );
    assert_eq!(status().preserve_downgrade_option(), Some("24.1"));

    // 24.2 is an innovation release: 24.3 may follow 24.1 directly.
    set_image("cockroachdb/cockroach:v24.3.2");
    assert!(
        eventually(60, || all_on("24.3")).await,
        "{:?}",
        sim.world.cockroach().nodes()
    );
    cluster_time(10).await;
    assert_eq!(status().version.as_deref(), Some("24.1"), "not finalized");

    set_image("cockroachdb/cockroach:v24.1.5");
    assert!(
        eventually(60, || all_on("24.1")).await,
        "the old major rejoins an unfinalized cluster: {:?}",
        sim.world.cockroach().nodes()
    );
    set_image("cockroachdb/cockroach:v24.3.2");
    assert!(eventually(60, || all_on("24.3")).await);

    sql_job(
        &sim,
        "finalize",
        "RESET CLUSTER SETTING cluster.preserve_downgrade_option",
    );
    assert!(
        eventually(20, || job_condition(
            &sim, "a", "east", "finalize", "Complete"
        ))
        .await
    );
    assert_eq!(status().version.as_deref(), Some("24.3"));
    assert_eq!(status().preserve_downgrade_option(), None);

    sql_job(
        &sim,
        "stale",
        "SET CLUSTER SETTING cluster.preserve_downgrade_option = '24.1'",
    );
    assert!(eventually(20, || job_condition(&sim, "a", "east", "stale", "Failed")).await);
    let log: String = pods_of(&sim, "a", "east")
        .iter()
        .filter(|p| p["metadata"]["labels"]["job-name"] == "stale")
        .map(|p| {
            sim.world
                .pod_log("a", "east", p["metadata"]["name"].as_str().unwrap())
        })
        .collect();
    assert!(log.contains("cluster version is 24.3"), "{log}");
}

/// A `cockroach sql` Job that runs `args` after the connection flags, with the statements Secret `sql` mounted at
/// `/sql` next to the client certificates.
fn sql_file_job(sim: &Sim, name: &str, args: &[&str]) {
    let mut command = vec![
        "/cockroach/cockroach",
        "sql",
        "--certs-dir=/cockroach-certs",
        "--host=cockroachdb-public",
    ];
    command.extend(args);
    sim.create("a", "jobs", json!({"metadata": {"name": name, "namespace": "east"},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "sql", "image": "cockroachdb/cockroach:v24.1.5", "command": command,
                "volumeMounts": [{"name": "c", "mountPath": "/cockroach-certs"}, {"name": "s", "mountPath": "/sql"}]}],
            "volumes": [{"name": "c", "secret": {"secretName": "cockroachdb.client.root", "defaultMode": 256}},
                        {"name": "s", "secret": {"secretName": "sql", "optional": true}}]}}}}));
}

fn job_log(sim: &Sim, job: &str) -> String {
    pods_of(sim, "a", "east")
        .iter()
        .filter(|p| p["metadata"]["labels"]["job-name"] == job)
        .map(|p| {
            sim.world
                .pod_log("a", "east", p["metadata"]["name"].as_str().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_from_a_mounted_file_creates_a_user_whose_password_is_stored_hashed() {
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    deploy_zone(&sim, "a", "east", &["east"], &pki, &pki.node("east"));
    init_job(&sim, "a", "east");
    assert!(eventually(60, || live_nodes(&sim) == 3).await);
    sim.create("a", "secrets", json!({"metadata": {"name": "sql", "namespace": "east"},
        "stringData": {"statements.sql": "CREATE USER app WITH PASSWORD 'hunter2';\nGRANT admin TO app;"}}));
    sql_file_job(&sim, "create-user", &["--file=/sql/statements.sql"]);
    assert!(
        eventually(20, || job_condition(
            &sim,
            "a",
            "east",
            "create-user",
            "Complete"
        ))
        .await,
        "{}",
        job_log(&sim, "create-user")
    );
    let catalog = sim.world.cockroach().clusters().remove(0).catalog;
    let hash = catalog.roles["app"].hash.clone().unwrap();
    assert!(hash.starts_with("SCRAM-SHA-256$10610:"), "{hash}");
    assert!(kube_sandbox::cockroach::sql::scram::verify(
        &hash, "hunter2"
    ));
    assert_eq!(catalog.member_of("app"), vec!["admin"]);

    sql_file_job(
        &sim,
        "show",
        &[
            "--format=csv",
            "-e",
            "SHOW USERS; SHOW GRANTS ON ROLE FOR app",
        ],
    );
    assert!(eventually(20, || job_condition(&sim, "a", "east", "show", "Complete")).await);
    assert_eq!(
        job_log(&sim, "show").trim(),
        "username,options,member_of\nadmin,NOLOGIN,{}\napp,,{admin}\nroot,,{admin}\nrole_name,member,is_admin\nadmin,app,f"
    );

    sql_file_job(&sim, "again", &["-e", "CREATE USER app"]);
    assert!(eventually(20, || job_condition(&sim, "a", "east", "again", "Failed")).await);
    assert!(job_log(&sim, "again").contains("a role/user named app already exists"));
}

/// Replaces zone `east`'s node secret with `ca_pem` as `ca.crt` and the given node certificate.
fn replace_node_secret(sim: &Sim, ca_pem: &str, node: &(String, String)) {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    sim.modify("a", "secrets", "east", "cockroachdb.node", |s| {
        s["data"]["ca.crt"] = json!(b64(ca_pem));
        s["data"]["node.crt"] = json!(b64(&node.0));
        s["data"]["node.key"] = json!(b64(&node.1));
    });
}

fn restart(sim: &Sim, pod: &str) {
    sim.store("a")
        .delete(support::rt("pods"), Some("east"), pod, Default::default())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_peers_use_another_ca_cannot_rejoin_but_a_ca_bundle_rotates() {
    let sim = Sim::start(&[("a", gke())]);
    let (pki, other) = (Pki::new(), Pki::new());
    deploy_zone(&sim, "a", "east", &["east"], &pki, &pki.node("east"));
    init_job(&sim, "a", "east");
    assert!(eventually(60, || live_nodes(&sim) == 3).await);
    let node2 = || {
        sim.world
            .cockroach()
            .nodes()
            .into_iter()
            .find(|n| n.pod == "cockroachdb-2")
            .unwrap()
    };

    // Both CAs in ca.crt, the node certificate still from the first: peers and node trust each other.
    let bundle = format!("{}\n{}", pki.ca_pem, other.ca_pem);
    replace_node_secret(&sim, &bundle, &pki.node("east"));
    restart(&sim, "cockroachdb-2");
    assert!(eventually(20, || !node2().live).await);
    assert!(
        eventually(30, || node2().live).await,
        "a CA bundle holding the peers' CA rejoins: {}",
        sim.world.pod_log("a", "east", "cockroachdb-2")
    );

    // Another CA only: the running peers (still on the first CA) and the restarted node refuse each other.
    replace_node_secret(&sim, &other.ca_pem, &other.node("east"));
    restart(&sim, "cockroachdb-2");
    assert!(eventually(20, || !node2().live).await);
    // The restarted pod's own log (until it starts, the log read is its predecessor's).
    let log = || sim.world.pod_log("a", "east", "cockroachdb-2");
    assert!(
        eventually(20, || log()
            .contains("x509: certificate signed by unknown authority"))
        .await,
        "{}",
        log()
    );
    cluster_time(30).await;
    assert!(!node2().live, "joined peers that do not trust it");
    assert_eq!(live_nodes(&sim), 2);
    let pod = sim.get("a", "pods", "east", "cockroachdb-2").unwrap();
    assert!(!ready(&pod), "it cannot serve either");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_certificate_has_expired_cannot_join_or_serve_and_a_valid_one_brings_it_back()
{
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    deploy_zone(&sim, "a", "east", &["east"], &pki, &pki.node("east"));
    init_job(&sim, "a", "east");
    assert!(eventually(60, || live_nodes(&sim) == 3).await);
    let node2_live = || {
        sim.world
            .cockroach()
            .nodes()
            .into_iter()
            .any(|n| n.pod == "cockroachdb-2" && n.live)
    };

    replace_node_secret(&sim, &pki.ca_pem, &pki.expired_node("east"));
    restart(&sim, "cockroachdb-2");
    assert!(eventually(20, || !node2_live()).await);
    // The restarted pod's own log (until it starts, the log read is its predecessor's), then a while for it to
    // have joined, had it been able to.
    let log = || sim.world.pod_log("a", "east", "cockroachdb-2");
    assert!(
        eventually(20, || log().contains("certificate has expired")).await,
        "{}",
        log()
    );
    cluster_time(30).await;
    assert!(!node2_live(), "a node with an expired certificate joined");
    assert_eq!(live_nodes(&sim), 2);
    let pod = sim.get("a", "pods", "east", "cockroachdb-2").unwrap();
    assert!(!ready(&pod), "it cannot serve either");

    // A valid certificate again: the node rejoins on its own store.
    replace_node_secret(&sim, &pki.ca_pem, &pki.node("east"));
    restart(&sim, "cockroachdb-2");
    assert!(
        eventually(60, node2_live).await,
        "{}",
        sim.world.pod_log("a", "east", "cockroachdb-2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_node_whose_certificate_expires_stops_serving_until_restarted_with_a_valid_one() {
    let sim = Sim::start(&[("a", gke())]);
    let pki = Pki::new();
    deploy_zone(&sim, "a", "east", &["east"], &pki, &pki.node("east"));
    init_job(&sim, "a", "east");
    assert!(eventually(60, || live_nodes(&sim) == 3).await);
    let node2_live = || {
        sim.world
            .cockroach()
            .nodes()
            .into_iter()
            .any(|n| n.pod == "cockroachdb-2" && n.live)
    };

    // Restarted on a certificate with seconds to live: it rejoins, then drops out once it expires, still running.
    let expires = std::time::Instant::now() + std::time::Duration::from_secs(6);
    replace_node_secret(&sim, &pki.ca_pem, &pki.node_expiring_in("east", 6));
    restart(&sim, "cockroachdb-2");
    assert!(eventually(20, || !node2_live()).await);
    assert!(
        eventually(60, node2_live).await,
        "{}",
        sim.world.pod_log("a", "east", "cockroachdb-2")
    );
    assert!(
        std::time::Instant::now() < expires,
        "rejoined too late to watch it expire"
    );
    tokio::time::sleep(expires.saturating_duration_since(std::time::Instant::now())).await;
    assert!(
        eventually(20, || !node2_live()).await,
        "a node serving on an expired certificate"
    );
    assert_eq!(live_nodes(&sim), 2);
    let log = sim.world.pod_log("a", "east", "cockroachdb-2");
    assert!(log.contains("certificate has expired"), "{log}");
    let pod = sim.get("a", "pods", "east", "cockroachdb-2").unwrap();
    assert!(
        eventually(20, || !ready(
            &sim.get("a", "pods", "east", "cockroachdb-2").unwrap()
        ))
        .await
    );
    assert_eq!(
        pod["status"]["phase"], "Running",
        "the process keeps running, cut off"
    );

    replace_node_secret(&sim, &pki.ca_pem, &pki.node("east"));
    restart(&sim, "cockroachdb-2");
    assert!(
        eventually(60, node2_live).await,
        "{}",
        sim.world.pod_log("a", "east", "cockroachdb-2")
    );
}

fn block(sim: &Sim, from: &str, to: &str, blocked: bool) {
    let path = format!("{from}:{to}:26257").parse().expect("a path");
    sim.world.set_path_blocked(path, blocked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_cannot_join_across_a_blocked_port_and_log_their_timed_out_dials() {
    let t = two_zones().await;
    let sim = &t.sim;
    forward(sim, "a", DnsFlavour::KubeDns, &[("west", &t.ips[1])]);
    forward(sim, "b", DnsFlavour::KubeDns, &[("east", &t.ips[0])]);
    block(sim, "b", "a", true);
    init_job(sim, "a", "east");
    assert!(
        eventually(60, || zone_pods_ready(sim, "a", "east") == 3).await,
        "the init zone's own nodes reach each other"
    );
    cluster_time(60).await;
    assert_eq!(
        zone_pods_ready(sim, "b", "west"),
        0,
        "west's pods cannot dial east's nodes on 26257"
    );
    let log = sim.world.pod_log("b", "west", "cockroachdb-0");
    assert!(
        log.contains("outgoing join rpc to cockroachdb-0.cockroachdb.east:26257 unsuccessful")
            && log.contains(":26257: i/o timeout"),
        "{log}"
    );

    // Opening the path (the firewall rule added) lets them join without anything else changing.
    block(sim, "b", "a", false);
    assert!(eventually(60, || zone_pods_ready(sim, "b", "west") == 3).await);
    assert_eq!(live_nodes(sim), 6);

    // A restarted node finds its peers by gossip: across a path blocked since, it does not come back.
    block(sim, "b", "a", true);
    sim.store("b")
        .delete(
            support::rt("pods"),
            Some("west"),
            "cockroachdb-2",
            Default::default(),
        )
        .unwrap();
    // The new incarnation's gossip line, however long the machine takes to start it.
    let gossip_failure = || {
        sim.world
            .pod_log("b", "west", "cockroachdb-2")
            .lines()
            .rev()
            .find(|line| {
                line.contains("failed to start gossip client to cockroachdb-0.cockroachdb.east.svc.cluster.local:26257: ")
            })
            .map(str::to_string)
    };
    assert!(
        eventually(60, || gossip_failure().is_some()).await,
        "{}",
        sim.world.pod_log("b", "west", "cockroachdb-2")
    );
    assert!(
        gossip_failure().unwrap().ends_with("i/o timeout\""),
        "{:?}",
        gossip_failure()
    );
    cluster_time(30).await;
    assert_eq!(zone_pods_ready(sim, "b", "west"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_dns_cluster_ignores_stub_domains_and_serves_nothing_behind_its_dns_load_balancer()
{
    let sim = Sim::start(&[("a", gke()), ("b", cloud_dns())]);
    let pki = Pki::new();
    let zones = ["east", "west"];
    deploy_zone(&sim, "a", "east", &zones, &pki, &pki.node("east"));
    deploy_zone(&sim, "b", "west", &zones, &pki, &pki.node("west"));
    let (ip_a, ip_b) = (dns_lb(&sim, "a").await, dns_lb(&sim, "b").await);
    forward(&sim, "a", DnsFlavour::KubeDns, &[("west", &ip_b)]);
    forward(&sim, "b", DnsFlavour::CloudDns, &[("east", &ip_a)]);
    init_job(&sim, "a", "east");
    cluster_time(90).await;
    let dns_pods = pods_of(&sim, "b", "kube-system")
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["k8s-app"] == "kube-dns")
        .count();
    assert_eq!(dns_pods, 0, "the kube-dns Deployment runs nothing");
    assert!(
        sim.world.dns_loaded("b").forwards.is_empty(),
        "no kube-dns pod loads the stub domains written to the ConfigMap"
    );
    assert!(
        sim.world
            .dns_loaded("a")
            .forwards
            .contains_key("west.svc.cluster.local"),
        "the kube-dns side loads its stub domain"
    );
    assert!(
        zone_pods_ready(&sim, "a", "east") < 3,
        "east's nodes cannot resolve west (only the node init bootstrapped runs)"
    );
    assert_eq!(zone_pods_ready(&sim, "b", "west"), 0);
    let east = sim.world.pod_log("a", "east", "cockroachdb-2");
    assert!(
        east.contains("zone west") && east.contains("did not answer"),
        "nothing answers behind b's DNS load balancer: {east}"
    );
    let west = sim.world.pod_log("b", "west", "cockroachdb-0");
    assert!(west.contains("zone east"), "b cannot resolve east: {west}");
    assert!(
        !west.contains("no DNS pods running"),
        "b's own pods resolve through the platform: {west}"
    );
}
