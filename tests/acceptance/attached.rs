//! The core flows against real Kubernetes control planes: kube-apiservers with kube-controller-manager
//! (`scripts/control-planes.sh`), the sandbox's node side attached to them (`kube_sandbox::attach`: kubelets,
//! volumes, load balancers, cluster DNS and the emulated CockroachDB). Every request of the provider is answered by
//! kube-apiserver itself; StatefulSet, Job, ReplicaSet, Deployment, garbage-collector, namespace and endpoint
//! controllers are kube-controller-manager's; `pods/proxy` and `pods/log` go through the API server to the
//! sandbox's pods (through the CONNECT proxy each API server is started with) and kubelet endpoints. Run under
//! the newest client of the matrix only (`scripts/test.sh`): the flows are the same under every client, the
//! control planes are not cheap.
use crate::certificates::{expiries, sleep_until};
use crate::clusters::{configuration_of, connection_block, Connections, ZONES};
use crate::control_planes::ControlPlanes;
use crate::day2::{members_of, settle_world, with_image, with_replicas};
use crate::harness::{await_value, Workspace};
use crate::sql::sql_config;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube_sandbox::attach::{AttachOptions, Attached, AttachedCluster};

/// The emulated side's speed: kube-controller-manager's controllers run in real time.
const SPEED: f64 = 20.0;
/// The zone added, then removed.
const NEW_ZONE: &str = "asia-east1-a";

struct RealClusters {
    runtime: tokio::runtime::Runtime,
    planes: ControlPlanes,
    attached: Attached,
}

impl RealClusters {
    fn start() -> RealClusters {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let kubelet = kube_sandbox::tls::serving_pki("attached kubelets CA").unwrap();
        let pods = kube_sandbox::tls::serving_pki("attached pods CA").unwrap();
        let names = [ZONES[0], ZONES[1], ZONES[2], NEW_ZONE];
        let planes = runtime.block_on(ControlPlanes::start_for_attaching(&names, &kubelet.ca_pem));
        let attached = runtime.block_on(async {
            let mut clusters = Vec::new();
            for plane in planes.planes() {
                clusters.push(AttachedCluster {
                    name: plane.name.clone(),
                    client: planes.kube_client(&plane.name).await,
                    api_ca_pem: plane.ca_pem.clone(),
                    dns: kube_sandbox::world::DnsFlavour::KubeDns,
                    pod_proxy_port: plane.pod_proxy_port.expect("started for attaching"),
                });
            }
            Attached::start(AttachOptions {
                clusters,
                speed: SPEED,
                ranges: 300,
                kubelet_tls: kubelet.server_config().unwrap(),
                pod_tls: pods.server_config().unwrap(),
            })
            .await
            .unwrap_or_else(|e| panic!("the sandbox does not attach: {e}"))
        });
        RealClusters {
            runtime,
            planes,
            attached,
        }
    }

    fn client(&self, zone: &str) -> kube::Client {
        self.runtime.block_on(self.planes.kube_client(zone))
    }

    /// The database pods of every zone, as kube-apiserver lists them, with the image each runs.
    fn node_images(&self) -> Vec<(String, String)> {
        let mut all = Vec::new();
        for zone in ZONES.iter().chain([&NEW_ZONE]) {
            let api: Api<Pod> = Api::namespaced(self.client(zone), zone);
            let listed = self
                .runtime
                .block_on(
                    api.list(&ListParams::default().labels("app.kubernetes.io/component=database")),
                )
                .unwrap();
            for pod in listed {
                let image = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.containers.first())
                    .and_then(|c| c.image.clone())
                    .unwrap_or_default();
                all.push((
                    format!("{zone}/{}", pod.metadata.name.unwrap_or_default()),
                    image,
                ));
            }
        }
        all
    }
}

impl Drop for RealClusters {
    /// A failed flow shows what the control planes said last (a controller manager that exited, an API server
    /// that refused something).
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.planes.log_tails());
        }
    }
}

impl Connections for RealClusters {
    fn connection_block(&self, ws: &Workspace, name: &str) -> String {
        let plane = self
            .planes
            .planes()
            .iter()
            .find(|p| p.name == name)
            .unwrap();
        connection_block(ws, name, &plane.url, &plane.ca_pem, &plane.token)
    }
}

#[test]
fn the_core_flows_pass_on_real_control_planes() {
    let clusters = RealClusters::start();
    let cockroach = clusters.attached.world().cockroach();
    let ws = Workspace::new("");
    let sql = sql_config(
        &clusters.connection_block(&ws, ZONES[0]),
        "Corr3ct-h0rse-battery",
        "  survival_goal = \"zone\"",
    );
    // Certificates of ten minutes: renewed from 10 s after they are issued, then (`renewal` of one minute) only
    // nine minutes after the renewal, well after the flows that follow it.
    let config = |zones: &[&str], tag: &str, renewal: &str| {
        let regions = with_image(&configuration_of(&clusters, &ws, zones), tag, "auto").replacen(
            "  zones = [",
            &format!(
                "  certificate_validity = \"10m\"\n  certificate_renewal  = \"{renewal}\"\n  zones = ["
            ),
            1,
        );
        format!("{regions}{sql}")
    };
    let all_zones = [ZONES[0], ZONES[1], ZONES[2], NEW_ZONE];

    // Three regions, a SQL user and a database.
    ws.write_config(&config(&ZONES, "v24.1.0", "9m50s"));
    ws.apply();
    assert!(
        cockroach.initialised(),
        "cockroach init ran through a Job of the real control plane"
    );
    assert_eq!(
        members_of(clusters.attached.world()),
        (9, 0),
        "every node of the three zones is live after apply"
    );
    let catalog = cockroach.clusters().remove(0).catalog;
    assert_eq!(
        catalog.member_of("app"),
        vec!["admin"],
        "the SQL user, made by a Job"
    );
    assert!(
        catalog.databases.contains_key("shop"),
        "the database, made by a Job"
    );

    // Certificate renewal: inside every certificate's window, the configuration unchanged.
    settle_world(clusters.attached.world());
    let issued = expiries(&ws);
    let latest = issued.iter().map(|(_, at)| *at).max().unwrap();
    sleep_until(latest - time::Duration::seconds(9 * 60 + 50) + time::Duration::seconds(1));
    ws.apply();
    let seen = assert_available(&clusters, "the certificate renewal");
    assert_eq!(
        seen.max_nodes_down, 1,
        "the renewal restarts nodes, one at a time: {seen:?}"
    );
    for ((what, before), (_, after)) in issued.iter().zip(expiries(&ws)) {
        assert!(
            after > *before,
            "the {what} certificate was renewed: {before} -> {after}"
        );
    }
    let renewed = config(&ZONES, "v24.1.0", "1m");
    ws.write_config(&renewed);
    ws.apply();
    ws.assert_plan_empty("the certificate renewal on real control planes");

    // A patch upgrade.
    settle_world(clusters.attached.world());
    let patched = config(&ZONES, "v24.1.26", "1m");
    ws.write_config(&patched);
    ws.apply();
    let seen = assert_available(&clusters, "the patch upgrade");
    assert_eq!(
        seen.max_nodes_down, 1,
        "the patch upgrade restarts nodes, one at a time: {seen:?}"
    );
    let images = clusters.node_images();
    assert_eq!(images.len(), 9, "{images:?}");
    assert!(
        images.iter().all(|(_, image)| image.ends_with(":v24.1.26")),
        "every node runs the new patch: {images:?}"
    );
    ws.assert_plan_empty("the patch upgrade on real control planes");

    // A region added, then removed: its nodes are decommissioned before its namespace goes.
    settle_world(clusters.attached.world());
    ws.write_config(&config(&all_zones, "v24.1.26", "1m"));
    ws.apply();
    await_value(
        "the new zone's nodes joining",
        std::time::Duration::from_secs(60),
        (12, 0),
        || members_of(clusters.attached.world()),
    );
    ws.assert_plan_empty("the region added on real control planes");
    settle_world(clusters.attached.world());
    ws.write_config(&patched);
    ws.apply();
    assert_available(&clusters, "the region removed");
    assert_eq!(
        members_of(clusters.attached.world()),
        (9, 3),
        "the removed zone's three nodes were decommissioned"
    );
    ws.assert_plan_empty("the region removed on real control planes");

    // A scale-down: one node decommissioned, then its pod removed by the StatefulSet controller.
    settle_world(clusters.attached.world());
    ws.write_config(&with_replicas(&patched, ZONES[0], 2));
    ws.apply();
    assert_available(&clusters, "the scale-down");
    assert_eq!(
        members_of(clusters.attached.world()),
        (8, 4),
        "the scale-down decommissioned one node first"
    );
    assert_eq!(
        clusters.node_images().len(),
        8,
        "the StatefulSet controller removed the pod"
    );
    ws.assert_plan_empty("the scale-down on real control planes");

    ws.destroy();
    for zone in all_zones {
        let api: Api<Pod> = Api::namespaced(clusters.client(zone), zone);
        let left = clusters
            .runtime
            .block_on(api.list(&ListParams::default()))
            .map(|l| l.items.len())
            .unwrap_or(0);
        assert_eq!(left, 0, "pods of ours left in {zone}");
    }
}

/// What the recorder saw since the last settle: no range unavailable or lost, at most one node down or leaving.
fn assert_available(clusters: &RealClusters, what: &str) -> kube_sandbox::world::Availability {
    let seen = clusters.attached.world().cockroach().availability();
    assert_eq!(seen.unavailable_range_seconds, 0.0, "{what}: {seen:?}");
    assert_eq!(seen.ranges_lost, 0, "{what}: {seen:?}");
    assert!(
        seen.max_nodes_disrupted <= 1,
        "{what}: at most one node down or leaving at once: {seen:?}"
    );
    eprintln!("{what} on real control planes: {seen:?}");
    seen
}
