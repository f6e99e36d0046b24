//! The controllers behind the real HTTPS API, driven through kube-rs as the provider will drive them.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube_sandbox::{ClusterOptions, Sandbox, SandboxOptions};
use serde_json::{json, Value};
use support::{join_list, statefulset, Pki, SPEED};

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

async fn sandbox(clusters: &[(&str, &str)]) -> Sandbox {
    let mut opts = SandboxOptions::new(&[]);
    opts.clusters = clusters
        .iter()
        .map(|(n, d)| ClusterOptions {
            name: n.to_string(),
            dns: d.to_string(),
        })
        .collect();
    opts.speed = SPEED;
    Sandbox::start(opts).await.unwrap()
}

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

async fn within<F: std::future::Future>(secs: u64, what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_rollout_seen_through_the_api() {
    let sb = sandbox(&[("east", "kube-dns")]).await;
    let _controllers = sb.start_controllers(SPEED, false);
    let c = client(&sb, "east").await;
    Api::<Namespace>::all(c.clone())
        .create(
            &PostParams::default(),
            &typed(json!({"metadata": {"name": "web"}})),
        )
        .await
        .unwrap();
    let sts_api: Api<StatefulSet> = Api::namespaced(c.clone(), "web");
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"}, "spec": {"serviceName": "web", "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}});
    sts_api
        .patch(
            "web",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&sts),
        )
        .await
        .unwrap();
    let ready = |s: Option<&StatefulSet>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|st| {
            st.ready_replicas == Some(2)
                && st.updated_replicas == Some(2)
                && st.current_revision == st.update_revision
        })
    };
    within(
        30,
        "statefulset ready",
        await_condition(sts_api.clone(), "web", ready),
    )
    .await
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(c.clone(), "web");
    let listed = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2);
    let p = &listed.items[0];
    assert!(p
        .metadata
        .labels
        .as_ref()
        .unwrap()
        .contains_key("controller-revision-hash"));
    assert_eq!(p.status.as_ref().unwrap().phase.as_deref(), Some("Running"));

    // kubectl rollout restart for a Deployment: kube-dns pods are replaced.
    let deps: Api<Deployment> = Api::namespaced(c.clone(), "kube-system");
    let restart = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-22T15:00:00Z"}}}}});
    let gen = deps
        .patch("kube-dns", &PatchParams::default(), &Patch::Merge(&restart))
        .await
        .unwrap()
        .metadata
        .generation;
    let rolled = move |d: Option<&Deployment>| {
        d.is_some_and(|d| {
            let st = d.status.clone().unwrap_or_default();
            st.observed_generation == gen
                && st.updated_replicas == Some(2)
                && st.available_replicas == Some(2)
                && st.replicas == Some(2)
        })
    };
    within(
        30,
        "kube-dns rollout",
        await_condition(deps, "kube-dns", rolled),
    )
    .await
    .unwrap();
}

/// Three clusters, two GKE-like and one EKS-like, set up the way the provider will, all through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clusters_through_the_api_become_nine_live_nodes() {
    let sb = sandbox(&[
        ("gke", "kube-dns"),
        ("gke-west", "kube-dns"),
        ("eks", "coredns"),
    ])
    .await;
    let controllers = sb.start_controllers(SPEED, false);
    let zones = [
        ("gke", "us-east1"),
        ("gke-west", "us-west1"),
        ("eks", "eu-west1"),
    ];
    let zone_names: Vec<&str> = zones.iter().map(|(_, z)| *z).collect();
    let pki = Pki::new();
    let (root_crt, root_key) = pki.root();
    let ssa = PatchParams::apply("terraform-provider-crdb").force();
    let mut lb_ips = Vec::new();
    for (cluster, zone) in zones {
        let c = client(&sb, cluster).await;
        Api::<Namespace>::all(c.clone())
            .patch(
                zone,
                &ssa,
                &Patch::Apply(
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": zone}}),
                ),
            )
            .await
            .unwrap();
        let (node_crt, node_key) = pki.node(zone);
        let client_data =
            json!({"ca.crt": pki.ca_pem, "client.root.crt": root_crt, "client.root.key": root_key});
        let mut node_data = client_data.clone();
        node_data["node.crt"] = json!(node_crt);
        node_data["node.key"] = json!(node_key);
        for (ns, name, data) in [
            (zone, "cockroachdb.client.root", &client_data),
            ("default", "cockroachdb.client.root", &client_data),
            (zone, "cockroachdb.node", &node_data),
        ] {
            let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "stringData": data});
            Api::<Secret>::namespaced(c.clone(), ns)
                .patch(name, &ssa, &Patch::Apply(secret))
                .await
                .unwrap();
        }
        let svc: Api<Service> = Api::namespaced(c.clone(), zone);
        let headless = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "cockroachdb", "namespace": zone},
            "spec": {"clusterIP": "None", "publishNotReadyAddresses": true, "selector": {"app": "cockroachdb"},
                     "ports": [{"name": "grpc", "port": 26257}]}});
        svc.patch("cockroachdb", &ssa, &Patch::Apply(headless))
            .await
            .unwrap();
        let mut sts = statefulset(zone, &zone_names, "cockroachdb/cockroach:v25.2.0");
        sts["apiVersion"] = json!("apps/v1");
        sts["kind"] = json!("StatefulSet");
        Api::<StatefulSet>::namespaced(c.clone(), zone)
            .patch("cockroachdb", &ssa, &Patch::Apply(sts))
            .await
            .unwrap();
        let lb = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns-lb", "namespace": "kube-system",
            "annotations": {"networking.gke.io/load-balancer-type": "Internal"}},
            "spec": {"type": "LoadBalancer", "selector": {"k8s-app": "kube-dns"}, "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}});
        let sys: Api<Service> = Api::namespaced(c.clone(), "kube-system");
        sys.patch("kube-dns-lb", &ssa, &Patch::Apply(lb))
            .await
            .unwrap();
        let has_ip = |s: Option<&Service>| {
            s.and_then(|s| {
                s.status
                    .as_ref()?
                    .load_balancer
                    .as_ref()?
                    .ingress
                    .as_ref()?
                    .first()?
                    .ip
                    .clone()
            })
            .is_some()
        };
        let svc = within(
            20,
            "DNS LB address",
            await_condition(sys, "kube-dns-lb", has_ip),
        )
        .await
        .unwrap()
        .unwrap();
        lb_ips.push(
            svc.status.unwrap().load_balancer.unwrap().ingress.unwrap()[0]
                .ip
                .clone()
                .unwrap(),
        );
    }
    // DNS forwarding of every other zone, each cluster in its own dialect, merged into what is there.
    for (i, (cluster, _)) in zones.iter().enumerate() {
        let peers: Vec<(&str, &String)> = zones
            .iter()
            .zip(&lb_ips)
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, ((_, z), ip))| (*z, ip))
            .collect();
        let cms: Api<ConfigMap> = Api::namespaced(client(&sb, cluster).await, "kube-system");
        let data = if sb.cluster(cluster).unwrap().dns == "coredns" {
            let corefile = cms.get("coredns").await.unwrap().data.unwrap()["Corefile"].clone();
            let blocks: String = peers
                .iter()
                .map(|(z, ip)| format!("{z}.svc.cluster.local:53 {{\n    errors\n    cache 30\n    forward . {ip} {{\n        prefer_udp\n    }}\n}}\n"))
                .collect();
            (
                "coredns",
                json!({"Corefile": format!("{corefile}{blocks}")}),
            )
        } else {
            let stub: serde_json::Map<String, Value> = peers
                .iter()
                .map(|(z, ip)| (format!("{z}.svc.cluster.local"), json!([ip])))
                .collect();
            (
                "kube-dns",
                json!({"stubDomains": Value::Object(stub).to_string()}),
            )
        };
        cms.patch(
            data.0,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": data.1})),
        )
        .await
        .unwrap();
    }
    let gke = client(&sb, "gke").await;

    let init = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "cluster-init-secure", "namespace": "us-east1"},
        "spec": {"template": {"spec": {"restartPolicy": "OnFailure",
            "containers": [{"name": "cluster-init", "image": "cockroachdb/cockroach:v25.2.0",
                "command": ["/cockroach/cockroach", "init", "--certs-dir=/cockroach-certs", "--host=cockroachdb-0.cockroachdb"],
                "volumeMounts": [{"name": "client-certs", "mountPath": "/cockroach-certs"}]}],
            "volumes": [{"name": "client-certs", "secret": {"secretName": "cockroachdb.client.root", "defaultMode": 256}}]}}}});
    let jobs: Api<Job> = Api::namespaced(gke.clone(), "us-east1");
    jobs.patch("cluster-init-secure", &ssa, &Patch::Apply(init))
        .await
        .unwrap();
    within(
        60,
        "init job",
        await_condition(jobs, "cluster-init-secure", conditions::is_job_completed()),
    )
    .await
    .unwrap();
    for (cluster, zone) in zones {
        let api: Api<StatefulSet> = Api::namespaced(client(&sb, cluster).await, zone);
        let all_ready = |s: Option<&StatefulSet>| {
            s.and_then(|s| s.status.as_ref())
                .is_some_and(|st| st.ready_replicas == Some(3))
        };
        within(
            60,
            "cockroach ready",
            await_condition(api, "cockroachdb", all_ready),
        )
        .await
        .unwrap();
    }
    let nodes = controllers.world.cockroach().nodes();
    assert_eq!(nodes.iter().filter(|n| n.live).count(), 9, "{nodes:#?}");
    assert_eq!(join_list(&zone_names).split(',').count(), 9);
}

/// The waiting reason and message of a pod's only container, if it waits.
fn waiting(pod: &Pod) -> Option<(String, String)> {
    let state = pod.status.as_ref()?.container_statuses.as_ref()?[0]
        .state
        .as_ref()?;
    let waiting = state.waiting.as_ref()?;
    Some((waiting.reason.clone()?, waiting.message.clone()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreleased_cockroach_tag_is_not_pulled_and_a_mirrored_release_starts() {
    use futures_util::StreamExt;
    use k8s_openapi::api::core::v1::Event;
    use kube::api::WatchParams;
    let sb = sandbox(&[("east", "kube-dns")]).await;
    let _controllers = sb.start_controllers(SPEED, false);
    let c = client(&sb, "east").await;
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    let pod = |name: &str, image: &str| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"containers": [{"name": "cockroachdb", "image": image}]}}))
        .unwrap()
    };
    let unreleased = "cockroachdb/cockroach:v99.1.0";
    let created = pods
        .create(&PostParams::default(), &pod("unreleased", unreleased))
        .await
        .unwrap();
    pods.create(
        &PostParams::default(),
        &pod("mirrored", "registry.local:5000/mirror/cockroach:v24.1.0"),
    )
    .await
    .unwrap();

    // Every status the pod goes through, as a watch sees it.
    let rv = created.metadata.resource_version.unwrap();
    let params = WatchParams::default();
    let mut stream = pods.watch(&params, &rv).await.unwrap().boxed();
    let mut reasons: Vec<String> = Vec::new();
    let mut last = None;
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = stream.next().await {
            let p = match event.unwrap() {
                kube::api::WatchEvent::Added(p) | kube::api::WatchEvent::Modified(p) => p,
                kube::api::WatchEvent::Bookmark(_) => continue,
                other => panic!("unexpected {other:?}"),
            };
            if p.metadata.name.as_deref() != Some("unreleased") {
                continue;
            }
            if let Some((reason, message)) = waiting(&p) {
                if reasons.last() != Some(&reason) {
                    reasons.push(reason.clone());
                }
                if reason == "ErrImagePull" {
                    assert_eq!(
                        message,
                        "rpc error: code = NotFound desc = failed to pull and unpack image \
                         \"docker.io/cockroachdb/cockroach:v99.1.0\": failed to resolve reference \
                         \"docker.io/cockroachdb/cockroach:v99.1.0\": \
                         docker.io/cockroachdb/cockroach:v99.1.0: not found"
                    );
                }
            }
            last = Some(p);
            // Back-off, a second pull, back-off again.
            if reasons.iter().filter(|r| *r == "ImagePullBackOff").count() == 2 {
                return;
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "reasons so far: {reasons:?}");
    reasons.retain(|r| r != "ContainerCreating");
    assert_eq!(
        reasons,
        [
            "ErrImagePull",
            "ImagePullBackOff",
            "ErrImagePull",
            "ImagePullBackOff"
        ]
    );
    let last = last.unwrap();
    assert_eq!(
        waiting(&last).unwrap().1,
        "Back-off pulling image \"cockroachdb/cockroach:v99.1.0\""
    );
    let status = last.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    let container = &status.container_statuses.unwrap()[0];
    assert!(!container.ready && container.started == Some(false));
    assert_eq!(container.restart_count, 0);
    assert_eq!(
        container.container_id, None,
        "the container was never created"
    );

    // The kubelet's events, as `kubectl describe` lists them.
    let events: Api<Event> = Api::namespaced(c.clone(), "default");
    let described: Vec<(String, String, String)> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some("unreleased"))
        .map(|e| {
            (
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default(),
            )
        })
        .collect();
    let has = |kind: &str, reason: &str, message: &str| {
        described
            .iter()
            .filter(|(k, r, m)| k == kind && r == reason && m.starts_with(message))
            .count()
    };
    assert!(
        has(
            "Normal",
            "Pulling",
            "Pulling image \"cockroachdb/cockroach:v99.1.0\""
        ) >= 2
    );
    assert!(
        has(
            "Warning",
            "Failed",
            "Failed to pull image \"cockroachdb/cockroach:v99.1.0\": rpc error: code = NotFound"
        ) >= 2
    );
    assert!(has("Warning", "Failed", "Error: ErrImagePull") >= 2);
    assert!(
        has(
            "Normal",
            "BackOff",
            "Back-off pulling image \"cockroachdb/cockroach:v99.1.0\""
        ) >= 2
    );
    assert!(has("Warning", "Failed", "Error: ImagePullBackOff") >= 2);
    assert_eq!(has("Normal", "Started", ""), 0, "{described:?}");

    // A released version under another registry path is pulled and runs.
    let running = await_condition(pods.clone(), "mirrored", conditions::is_pod_running());
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the mirrored release starts")
        .unwrap();
}
