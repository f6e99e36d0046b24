//! Workload controllers against in-process stores: namespaces, load balancers, StatefulSets, Deployments, Jobs.

mod support;

use kube_sandbox::store::Propagation;
use kube_sandbox::world::{ClusterProfile, DnsFlavour, LbRules};
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
    assert!(
        eventually(10, || sim
            .get("a", "serviceaccounts", "gone", "default")
            .is_some()
            && sim
                .get("a", "configmaps", "gone", "kube-root-ca.crt")
                .is_some())
        .await,
        "new namespaces get their default ServiceAccount and root CA ConfigMap"
    );
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

/// A DNS load balancer Service in kube-system with `annotations` and one port 53 per protocol.
fn dns_service(name: &str, annotations: Value, protocols: &[&str]) -> Value {
    let ports: Vec<Value> = protocols
        .iter()
        .map(|p| json!({"name": format!("dns-{}", p.to_lowercase()), "port": 53, "protocol": p}))
        .collect();
    json!({"metadata": {"name": name, "namespace": "kube-system", "annotations": annotations},
           "spec": {"type": "LoadBalancer", "selector": {"k8s-app": "kube-dns"}, "ports": ports}})
}

fn lb_ingress(sim: &Sim, cluster: &str, name: &str) -> Option<Value> {
    sim.get(cluster, "services", "kube-system", name)?
        .pointer("/status/loadBalancer/ingress/0")
        .cloned()
}

/// `(reason, message)` of the Warning events about Service `name`.
fn warnings(sim: &Sim, cluster: &str, name: &str) -> Vec<(String, String)> {
    sim.store(cluster)
        .list(rt("events"), Some("kube-system"))
        .into_iter()
        .filter(|e| e["involvedObject"]["name"] == name && e["type"] == "Warning")
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clouds_that_refuse_mixed_protocols_provision_nothing_for_them_and_say_why() {
    let eks = ClusterProfile {
        dns: DnsFlavour::CoreDns,
        lb_hostnames: true,
        lb_rules: LbRules::Eks,
    };
    let gke = ClusterProfile {
        lb_rules: LbRules::Gke,
        ..gke()
    };
    let sim = Sim::start(&[("a", eks), ("b", gke)]);
    let nlb = json!({"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                     "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"});
    let ilb = json!({"networking.gke.io/load-balancer-type": "Internal"});
    // The provider's old manifest (UDP and TCP), its new one (one protocol), and UDP on a classic ELB.
    sim.create(
        "a",
        "services",
        dns_service("mixed", nlb.clone(), &["UDP", "TCP"]),
    );
    sim.create("a", "services", dns_service("tcp", nlb.clone(), &["TCP"]));
    sim.create("a", "services", dns_service("elb-udp", json!({}), &["UDP"]));
    sim.create(
        "b",
        "services",
        dns_service("mixed", ilb.clone(), &["UDP", "TCP"]),
    );
    sim.create("b", "services", dns_service("udp", ilb, &["UDP"]));
    assert!(
        eventually(20, || lb_ingress(&sim, "a", "tcp").is_some()
            && lb_ingress(&sim, "b", "udp").is_some())
        .await
    );
    // Well past the provisioning delay, the refused ones still have nothing, as on the real clouds.
    cluster_time(3 * 20).await;
    for (cluster, name) in [("a", "mixed"), ("a", "elb-udp"), ("b", "mixed")] {
        assert_eq!(lb_ingress(&sim, cluster, name), None, "{cluster}/{name}");
    }
    assert!(sim
        .world
        .load_balancers()
        .iter()
        .all(|lb| lb.service != "mixed" && lb.service != "elb-udp"));
    let sync_failed = |error: &str| {
        (
            "SyncLoadBalancerFailed".to_string(),
            format!("Error syncing load balancer: failed to ensure load balancer: {error}"),
        )
    };
    assert_eq!(
        warnings(&sim, "a", "mixed"),
        [sync_failed(
            "mixed protocol is not supported for LoadBalancer"
        )],
        "written once, not every reconcile"
    );
    assert_eq!(
        warnings(&sim, "a", "elb-udp"),
        [sync_failed("Protocol UDP not supported by LoadBalancer")]
    );
    let gke_warnings = warnings(&sim, "b", "mixed");
    assert!(gke_warnings.contains(&(
        "LoadBalancerMixedProtocolNotSupported".into(),
        "LoadBalancer with multiple protocols are not supported.".into()
    )));
    assert!(gke_warnings.contains(&sync_failed(
        "mixed protocol is not supported for LoadBalancer"
    )));
    assert!(warnings(&sim, "a", "tcp").is_empty() && warnings(&sim, "b", "udp").is_empty());
    // Given one protocol, the refused Service is provisioned.
    sim.modify("a", "services", "kube-system", "mixed", |svc| {
        svc["spec"]["ports"] = json!([{"name": "dns-tcp", "port": 53, "protocol": "TCP"}]);
    });
    assert!(eventually(20, || lb_ingress(&sim, "a", "mixed").is_some()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_cloud_provisions_mixed_protocols_as_before() {
    let sim = Sim::start(&[("a", gke())]);
    sim.create(
        "a",
        "services",
        dns_service("mixed", json!({}), &["UDP", "TCP"]),
    );
    assert!(eventually(20, || lb_ingress(&sim, "a", "mixed").is_some()).await);
    assert!(warnings(&sim, "a", "mixed").is_empty());
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
                ..ClusterProfile::default()
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

    // Endpoints follow their service; a deleted service leaves none behind.
    assert!(eventually(10, || sim.get("a", "endpoints", "default", "lb").is_some()).await);
    sim.store("a")
        .delete(
            rt("services"),
            Some("default"),
            "lb",
            Propagation::Background,
        )
        .unwrap();
    assert!(eventually(10, || sim.get("a", "endpoints", "default", "lb").is_none()).await);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_with_a_ttl_are_deleted_with_their_pods() {
    let sim = Sim::start(&[("a", gke())]);
    sim.create(
        "a",
        "jobs",
        json!({"metadata": {"name": "short", "namespace": "default"},
        "spec": {"ttlSecondsAfterFinished": 5, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}),
    );
    assert!(
        eventually(20, || {
            sim.get("a", "jobs", "default", "short")
                .is_some_and(|j| j["status"]["succeeded"] == 1)
        })
        .await
    );
    assert!(
        eventually(20, || sim.get("a", "jobs", "default", "short").is_none()).await,
        "TTL controller deletes the Job"
    );
    assert!(
        eventually(10, || pods_of(&sim, "a", "default").is_empty()).await,
        "its pods go with it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pvc_retention_policy_delete_removes_claims() {
    let sim = Sim::start(&[("a", gke())]);
    sim.create("a", "namespaces", namespace("web"));
    let mut sts = plain_sts(3, "nginx:1.27", "Parallel");
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] =
        json!({"whenDeleted": "Delete", "whenScaled": "Delete"});
    sim.create("a", "statefulsets", sts);
    let claims = || {
        sim.store("a")
            .list(rt("persistentvolumeclaims"), Some("web"))
            .len()
    };
    assert!(
        eventually(30, || sts_status(&sim, "readyReplicas") == 3
            && claims() == 3)
        .await
    );
    sim.modify("a", "statefulsets", "web", "web", |s| {
        s["spec"]["replicas"] = json!(1)
    });
    assert!(
        eventually(30, || claims() == 1).await,
        "whenScaled: Delete removes the scaled-away claims"
    );
    assert!(sim
        .get("a", "persistentvolumeclaims", "web", "data-web-0")
        .is_some());
    sim.store("a")
        .delete(
            rt("statefulsets"),
            Some("web"),
            "web",
            Propagation::Background,
        )
        .unwrap();
    assert!(
        eventually(30, || claims() == 0).await,
        "whenDeleted: Delete removes the rest with the set"
    );
}

/// Pod uids and container restart counts, by pod name.
fn pod_identities(sim: &Sim, ns: &str) -> Vec<(String, String, i64)> {
    pods_of(sim, "a", ns)
        .iter()
        .map(|p| {
            let restarts = p["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum();
            (
                p["metadata"]["name"].as_str().unwrap().to_string(),
                p["metadata"]["uid"].as_str().unwrap().to_string(),
                restarts,
            )
        })
        .collect()
}

fn claim_capacity(sim: &Sim, name: &str) -> String {
    sim.get("a", "persistentvolumeclaims", "web", name)
        .and_then(|c| {
            c["status"]["capacity"]["storage"]
                .as_str()
                .map(String::from)
        })
        .unwrap_or_default()
}

/// What growing a StatefulSet's volumes takes on a real cluster: each claim's request raised (the default class
/// allows expansion), the set deleted with propagation Orphan and created again with the new claim template. Its
/// pods keep running throughout, are adopted by the new set without a restart or a rollout, and the claims report
/// the new capacity once their mounted file systems have grown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphaned_pods_are_adopted_by_a_recreated_statefulset_and_claims_grow_in_place() {
    let sim = Sim::start(&[("a", gke())]);
    sim.create("a", "namespaces", namespace("web"));
    sim.create("a", "statefulsets", plain_sts(3, "nginx:1.27", "Parallel"));
    assert!(eventually(30, || sts_status(&sim, "readyReplicas") == 3).await);
    let before = pod_identities(&sim, "web");
    let claims: Vec<String> = (0..3).map(|o| format!("data-web-{o}")).collect();
    for claim in &claims {
        let c = sim
            .get("a", "persistentvolumeclaims", "web", claim)
            .unwrap();
        assert_eq!(
            c["spec"]["storageClassName"], "standard",
            "the default class is filled in"
        );
        assert_eq!(claim_capacity(&sim, claim), "1Gi");
    }

    for claim in &claims {
        sim.modify("a", "persistentvolumeclaims", "web", claim, |c| {
            c["spec"]["resources"]["requests"]["storage"] = json!("2Gi")
        });
    }
    let mut shrunk = sim
        .get("a", "persistentvolumeclaims", "web", "data-web-0")
        .unwrap();
    shrunk["spec"]["resources"]["requests"]["storage"] = json!("512Mi");
    let refused = sim
        .store("a")
        .update(rt("persistentvolumeclaims"), shrunk)
        .unwrap_err();
    assert_eq!(refused.code, 422, "{refused}");

    let old_uid = sim.get("a", "statefulsets", "web", "web").unwrap()["metadata"]["uid"].clone();
    sim.store("a")
        .delete(rt("statefulsets"), Some("web"), "web", Propagation::Orphan)
        .unwrap();
    assert!(sim.get("a", "statefulsets", "web", "web").is_none());
    cluster_time(15).await;
    assert_eq!(
        pod_identities(&sim, "web"),
        before,
        "orphaned pods keep running"
    );
    assert!(pods_of(&sim, "a", "web")
        .iter()
        .all(|p| p["metadata"].get("ownerReferences").is_none()));

    let mut bigger = plain_sts(3, "nginx:1.27", "Parallel");
    bigger["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] =
        json!("2Gi");
    let new_uid = sim.create("a", "statefulsets", bigger)["metadata"]["uid"].clone();
    assert_ne!(new_uid, old_uid);
    let settled = || {
        let s = sim.get("a", "statefulsets", "web", "web").unwrap();
        s["status"]["readyReplicas"] == 3
            && s["status"]["updatedReplicas"] == 3
            && s["status"]["currentRevision"] == s["status"]["updateRevision"]
            && pods_of(&sim, "a", "web")
                .iter()
                .all(|p| p["metadata"]["ownerReferences"][0]["uid"] == new_uid)
    };
    assert!(eventually(30, settled).await, "the new set adopts the pods");
    assert!(
        eventually(30, || claims
            .iter()
            .all(|c| claim_capacity(&sim, c) == "2Gi"))
        .await
    );
    cluster_time(15).await;
    assert_eq!(
        pod_identities(&sim, "web"),
        before,
        "no pod restarted or replaced"
    );
    let revisions = sim.store("a").list(rt("controllerrevisions"), Some("web"));
    assert_eq!(revisions.len(), 1, "the same template is the same revision");
    assert_eq!(
        revisions[0]["metadata"]["ownerReferences"][0]["uid"],
        new_uid
    );

    // A class that does not allow expansion: the API server refuses to grow its claims.
    sim.create(
        "a",
        "storageclasses",
        json!({"metadata": {"name": "fixed"}, "provisioner": "example.com/fixed", "allowVolumeExpansion": false}),
    );
    sim.create(
        "a",
        "persistentvolumeclaims",
        json!({"metadata": {"name": "fixed-0", "namespace": "web"},
               "spec": {"storageClassName": "fixed", "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}}}}),
    );
    assert!(
        eventually(10, || sim
            .get("a", "persistentvolumeclaims", "web", "fixed-0")
            .is_some_and(|c| c["status"]["phase"] == "Bound"))
        .await
    );
    let mut grown = sim
        .get("a", "persistentvolumeclaims", "web", "fixed-0")
        .unwrap();
    grown["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
    let forbidden = sim
        .store("a")
        .update(rt("persistentvolumeclaims"), grown)
        .unwrap_err();
    assert_eq!(forbidden.code, 403);
    assert!(
        forbidden
            .message
            .contains("storageclass that provisions the pvc must support resize"),
        "{forbidden}"
    );
}
