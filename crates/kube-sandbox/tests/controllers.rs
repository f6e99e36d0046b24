//! Workload controllers against in-process stores: namespaces, load balancers, StatefulSets, Deployments, Jobs.

mod support;

use kube_sandbox::store::Propagation;
use kube_sandbox::world::{ClusterProfile, DnsFlavour};
use serde_json::{json, Value};
use support::*;

fn sts_status(sim: &Sim, field: &str) -> i64 {
    sim.get("a", "statefulsets", "web", "web")
        .and_then(|s| s["status"][field].as_i64())
        .unwrap_or(-1)
}

fn plain_sts(replicas: i64, image: &str, policy: &str) -> Value {
    json!({"metadata": {"name": "web", "namespace": "web"},
           "spec": {"serviceName": "web", "replicas": replicas, "podManagementPolicy": policy,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": image,
                                          "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_terminates_deletes_contents_and_can_stick() {
    let sim = Sim::start(&[("a", gke())]);
    sim.create("a", "namespaces", namespace("gone"));
    sim.create(
        "a",
        "configmaps",
        json!({"metadata": {"name": "c", "namespace": "gone"}}),
    );
    sim.store("a")
        .delete(rt("namespaces"), None, "gone", Propagation::Background)
        .unwrap();
    let ns = sim
        .get("a", "namespaces", "gone", "gone")
        .expect("still there while terminating");
    assert_eq!(ns["status"]["phase"], "Terminating");
    assert!(ns["metadata"]["deletionTimestamp"].is_string());
    assert!(
        eventually(20, || sim.get("a", "namespaces", "", "gone").is_none()).await,
        "namespace never went away"
    );
    assert!(sim.get("a", "configmaps", "gone", "c").is_none());

    sim.create("a", "namespaces", namespace("stuck"));
    sim.create("a", "configmaps", json!({"metadata": {"name": "held", "namespace": "stuck", "finalizers": ["example.com/keep"]}}));
    sim.store("a")
        .delete(rt("namespaces"), None, "stuck", Propagation::Background)
        .unwrap();
    let stuck_condition = || {
        sim.get("a", "namespaces", "", "stuck").is_some_and(|ns| {
            ns["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "NamespaceFinalizersRemaining" && c["status"] == "True")
            })
        })
    };
    assert!(
        eventually(20, stuck_condition).await,
        "no NamespaceFinalizersRemaining condition"
    );
    cluster_time(30).await;
    assert!(
        sim.get("a", "namespaces", "", "stuck").is_some(),
        "a held namespace must stay Terminating"
    );
    sim.modify("a", "configmaps", "stuck", "held", |cm| {
        cm["metadata"]["finalizers"] = json!([])
    });
    assert!(eventually(20, || sim.get("a", "namespaces", "", "stuck").is_none()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancers_get_addresses_after_a_delay() {
    let sim = Sim::start(&[
        ("a", gke()),
        (
            "b",
            ClusterProfile {
                dns: DnsFlavour::CoreDns,
                lb_hostnames: true,
            },
        ),
    ]);
    let svc = |internal: bool| {
        let mut s = json!({"metadata": {"name": "lb", "namespace": "default"},
                           "spec": {"type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"port": 53}]}});
        if internal {
            s["metadata"]["annotations"] = json!({"networking.gke.io/load-balancer-type": "Internal",
                                                   "networking.gke.io/internal-load-balancer-allow-global-access": "true"});
        }
        s
    };
    sim.create("a", "services", svc(true));
    sim.create("b", "services", svc(false));
    let ip = || {
        sim.get("a", "services", "default", "lb")
            .unwrap()
            .pointer("/status/loadBalancer/ingress/0/ip")
            .cloned()
    };
    assert!(ip().is_none(), "provisioning takes time");
    assert!(eventually(20, || ip().is_some()).await);
    assert!(
        ip().unwrap().as_str().unwrap().starts_with("198.51.100."),
        "internal LBs come from the internal range"
    );
    let lbs = sim.world.load_balancers();
    let rec = lbs.iter().find(|l| l.cluster == "a").unwrap();
    assert!(
        rec.internal
            && rec
                .annotations
                .contains_key("networking.gke.io/internal-load-balancer-allow-global-access")
    );
    let host = || {
        sim.get("b", "services", "default", "lb")
            .unwrap()
            .pointer("/status/loadBalancer/ingress/0/hostname")
            .cloned()
    };
    assert!(
        eventually(20, || host().is_some()).await,
        "hostname-style LB on an AWS-like cluster"
    );

    // Recreating a service gets a new address: forwarding to the old one is stale.
    let old = ip().unwrap();
    sim.store("a")
        .delete(
            rt("services"),
            Some("default"),
            "lb",
            Propagation::Background,
        )
        .unwrap();
    sim.create("a", "services", svc(true));
    assert!(eventually(20, || ip().is_some_and(|i| i != old)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_creates_scales_and_rolls() {
    let sim = Sim::start(&[("a", gke())]);
    sim.create("a", "namespaces", namespace("web"));
    sim.create(
        "a",
        "statefulsets",
        plain_sts(3, "nginx:1.27", "OrderedReady"),
    );
    assert!(
        eventually(30, || sts_status(&sim, "readyReplicas") == 3).await,
        "3 ready replicas"
    );
    let sts = sim.get("a", "statefulsets", "web", "web").unwrap();
    let st = &sts["status"];
    assert_eq!(st["replicas"], 3);
    assert_eq!(st["currentReplicas"], 3);
    assert_eq!(st["updatedReplicas"], 3);
    assert_eq!(st["availableReplicas"], 3);
    assert_eq!(st["currentRevision"], st["updateRevision"]);
    assert_eq!(st["observedGeneration"], sts["metadata"]["generation"]);
    let pod = sim.get("a", "pods", "web", "web-1").unwrap();
    assert_eq!(
        pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
        "web-1"
    );
    assert_eq!(
        pod["metadata"]["labels"]["controller-revision-hash"],
        st["updateRevision"]
    );
    assert_eq!(pod["spec"]["hostname"], "web-1");
    assert_eq!(pod["spec"]["subdomain"], "web");
    assert_eq!(
        pod["metadata"]["ownerReferences"][0]["uid"],
        sts["metadata"]["uid"]
    );
    assert!(pod["status"]["containerStatuses"][0]["state"]["running"].is_object());
    assert_eq!(
        sim.get("a", "persistentvolumeclaims", "web", "data-web-2")
            .unwrap()["status"]["phase"],
        "Bound"
    );

    // Rolling update from the highest ordinal, one at a time.
    let old_rev = st["updateRevision"].clone();
    sim.modify("a", "statefulsets", "web", "web", |s| {
        s["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28")
    });
    let mut order = Vec::new();
    let done = eventually(60, || {
        for i in (0..3).rev() {
            let name = format!("web-{i}");
            let updated = sim
                .get("a", "pods", "web", &name)
                .is_some_and(|p| p["metadata"]["labels"]["controller-revision-hash"] != old_rev);
            if updated && !order.contains(&name) {
                order.push(name);
            }
        }
        let s = sim.get("a", "statefulsets", "web", "web").unwrap();
        s["status"]["observedGeneration"] == s["metadata"]["generation"]
            && s["status"]["updateRevision"] != old_rev
            && s["status"]["updatedReplicas"] == 3
            && s["status"]["readyReplicas"] == 3
            && s["status"]["currentRevision"] == s["status"]["updateRevision"]
    })
    .await;
    assert!(done, "rolling update did not finish");
    assert_eq!(order, vec!["web-2", "web-1", "web-0"]);

    // Scale down removes the highest ordinals and keeps their claims.
    sim.modify("a", "statefulsets", "web", "web", |s| {
        s["spec"]["replicas"] = json!(1)
    });
    assert!(eventually(30, || pods_of(&sim, "a", "web").len() == 1).await);
    assert!(sim.get("a", "pods", "web", "web-0").is_some());
    assert!(sim
        .get("a", "persistentvolumeclaims", "web", "data-web-2")
        .is_some());
    // Deleting the set keeps the claims too.
    sim.store("a")
        .delete(
            rt("statefulsets"),
            Some("web"),
            "web",
            Propagation::Background,
        )
        .unwrap();
    assert!(eventually(10, || pods_of(&sim, "a", "web").is_empty()).await);
    assert_eq!(
        sim.store("a")
            .list(rt("persistentvolumeclaims"), Some("web"))
            .len(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_partition_holds_lower_ordinals() {
    let sim = Sim::start(&[("a", gke())]);
    sim.create("a", "namespaces", namespace("web"));
    sim.create("a", "statefulsets", plain_sts(3, "nginx:1.27", "Parallel"));
    assert!(eventually(30, || sts_status(&sim, "readyReplicas") == 3).await);
    sim.modify("a", "statefulsets", "web", "web", |s| {
        s["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}});
        s["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    });
    assert!(
        eventually(30, || sts_status(&sim, "updatedReplicas") == 1
            && sts_status(&sim, "readyReplicas") == 3)
        .await
    );
    cluster_time(20).await;
    assert_eq!(
        sts_status(&sim, "updatedReplicas"),
        1,
        "ordinals below the partition stay"
    );
    let s = sim.get("a", "statefulsets", "web", "web").unwrap();
    assert_ne!(
        s["status"]["currentRevision"],
        s["status"]["updateRevision"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_recreate_pods_and_honour_rollout_restart() {
    let sim = Sim::start(&[("a", gke())]);
    let dns_pods = || -> Vec<Value> {
        pods_of(&sim, "a", "kube-system")
            .into_iter()
            .filter(|p| p["metadata"]["labels"]["k8s-app"] == "kube-dns")
            .collect()
    };
    assert!(
        eventually(20, || dns_pods().len() == 2 && dns_pods().iter().all(ready)).await,
        "kube-dns runs"
    );
    let victim = dns_pods()[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    sim.store("a")
        .delete(
            rt("pods"),
            Some("kube-system"),
            &victim,
            Propagation::Background,
        )
        .unwrap();
    assert!(
        eventually(20, || {
            let p = dns_pods();
            p.len() == 2
                && p.iter().all(ready)
                && !p.iter().any(|p| p["metadata"]["name"] == victim.as_str())
        })
        .await
    );

    let before: Vec<String> = dns_pods()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    sim.modify("a", "deployments", "kube-system", "kube-dns", |d| {
        d["spec"]["template"]["metadata"]["annotations"] =
            json!({"kubectl.kubernetes.io/restartedAt": "2026-11-22T15:00:00Z"});
    });
    let mut max_pods = 0;
    let rolled = eventually(30, || {
        let p = dns_pods();
        max_pods = max_pods.max(p.len());
        let d = sim
            .get("a", "deployments", "kube-system", "kube-dns")
            .unwrap();
        p.len() == 2
            && p.iter()
                .all(|p| !before.contains(&p["metadata"]["name"].as_str().unwrap().to_string()))
            && d["status"]["updatedReplicas"] == 2
            && d["status"]["availableReplicas"] == 2
            && d["status"]["observedGeneration"] == d["metadata"]["generation"]
    })
    .await;
    assert!(rolled, "rollout restart replaced every pod");
    assert!(
        max_pods <= 3,
        "maxSurge bounds the rollout, saw {max_pods} pods"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_complete_or_fail_by_backoff_limit() {
    let sim = Sim::start(&[("a", gke())]);
    sim.create("a", "jobs", json!({"metadata": {"name": "ok", "namespace": "default"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}));
    let cond = |name: &str, t: &str| {
        sim.get("a", "jobs", "default", name)
            .and_then(|j| j["status"]["conditions"].as_array().cloned())
            .is_some_and(|c| c.iter().any(|c| c["type"] == t && c["status"] == "True"))
    };
    assert!(eventually(20, || cond("ok", "Complete")).await);
    assert_eq!(
        sim.get("a", "jobs", "default", "ok").unwrap()["status"]["succeeded"],
        1
    );

    // `cockroach init` against nothing fails; with Never each failure is a new pod until the limit.
    sim.create("a", "jobs", json!({"metadata": {"name": "bad", "namespace": "default"},
        "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "init",
            "image": "cockroachdb/cockroach:v25.2.0", "args": ["init", "--insecure", "--host=nowhere"]}]}}}}));
    assert!(eventually(30, || cond("bad", "Failed")).await);
    let j = sim.get("a", "jobs", "default", "bad").unwrap();
    assert_eq!(j["status"]["failed"], 2);
    let failed_pod = pods_of(&sim, "a", "default")
        .into_iter()
        .find(|p| p["status"]["phase"] == "Failed")
        .unwrap();
    let term = &failed_pod["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 1);
    assert!(
        term["message"].as_str().unwrap().contains("no such host"),
        "{term}"
    );
}
