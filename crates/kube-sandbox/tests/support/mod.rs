//! In-process sandbox for controller tests: stores, world and controllers without the HTTP layer, plus what the
//! provider will create (PKI, secrets, services, StatefulSet, DNS load balancer and forwarding, init Job).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use kube_sandbox::bootstrap::bootstrap_named;
use kube_sandbox::clock::Clock;
use kube_sandbox::controllers::{spawn_all, ControllerContext};
use kube_sandbox::store::{resource_type, ResourceType, Store};
use kube_sandbox::world::{ClusterProfile, DnsFlavour, World};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::{json, Value};

pub const SPEED: f64 = 100.0;

pub struct Sim {
    pub world: Arc<World>,
    pub clusters: Vec<(String, Arc<Store>)>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        for h in &self.handles {
            h.abort();
        }
    }
}

pub fn rt(plural: &str) -> &'static ResourceType {
    resource_type(plural).unwrap()
}

impl Sim {
    pub fn start(clusters: &[(&str, ClusterProfile)]) -> Sim {
        let world = World::new();
        let mut out = Vec::new();
        let mut handles = Vec::new();
        for (i, (name, profile)) in clusters.iter().enumerate() {
            let store = Arc::new(Store::new(i as u64 + 1));
            bootstrap_named(&store, profile.dns, name);
            world.register_cluster(name, store.clone(), *profile);
            handles.extend(spawn_all(ControllerContext {
                upstream: None,
                cluster_name: name.to_string(),
                store: store.clone(),
                world: world.clone(),
                clock: Clock::new(SPEED),
            }));
            out.push((name.to_string(), store));
        }
        Sim {
            world,
            clusters: out,
            handles,
        }
    }

    /// The stores and world of a sandbox started with controllers, for the helpers below.
    pub fn of(sandbox: &kube_sandbox::Sandbox) -> Sim {
        Sim {
            world: sandbox.world().expect("controllers run").clone(),
            clusters: sandbox
                .clusters()
                .iter()
                .map(|c| (c.name.clone(), c.store().clone()))
                .collect(),
            handles: Vec::new(),
        }
    }

    pub fn store(&self, cluster: &str) -> &Store {
        &self.clusters.iter().find(|(n, _)| n == cluster).unwrap().1
    }

    pub fn get(&self, cluster: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        let r = rt(plural);
        self.store(cluster).get(r, r.namespaced.then_some(ns), name)
    }

    pub fn create(&self, cluster: &str, plural: &str, obj: Value) -> Value {
        self.store(cluster)
            .create(rt(plural), obj)
            .unwrap_or_else(|e| panic!("create {plural}: {e}"))
    }

    /// Read-modify-write with retries on conflict, like a client would.
    pub fn modify(
        &self,
        cluster: &str,
        plural: &str,
        ns: &str,
        name: &str,
        f: impl Fn(&mut Value),
    ) {
        for _ in 0..20 {
            let mut obj = self
                .get(cluster, plural, ns, name)
                .expect("object to modify");
            f(&mut obj);
            match self.store(cluster).update(rt(plural), obj) {
                Ok(_) => return,
                Err(e) if e.code == 409 => continue,
                Err(e) => panic!("update {plural}/{name}: {e}"),
            }
        }
        panic!("update {plural}/{name}: too many conflicts");
    }
}

pub fn gke() -> ClusterProfile {
    ClusterProfile {
        dns: DnsFlavour::KubeDns,
        lb_hostnames: false,
        ..ClusterProfile::default()
    }
}

/// GKE with Cloud DNS for GKE (Autopilot's default): no DNS pods.
pub fn cloud_dns() -> ClusterProfile {
    ClusterProfile {
        dns: DnsFlavour::CloudDns,
        lb_hostnames: false,
        ..ClusterProfile::default()
    }
}

pub fn eks_like() -> ClusterProfile {
    ClusterProfile {
        dns: DnsFlavour::CoreDns,
        lb_hostnames: false,
        ..ClusterProfile::default()
    }
}

/// Polls `f` until it holds or `secs` of wall time pass.
pub async fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// Waits `cluster_secs` of sandbox time.
pub async fn cluster_time(cluster_secs: u64) {
    tokio::time::sleep(Clock::new(SPEED).scaled(Duration::from_secs(cluster_secs))).await;
}

pub struct Pki {
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Pki {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(DnType::CommonName, "Cockroach CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Pki {
            ca_pem: cert.pem(),
            issuer: Issuer::new(p, key),
        }
    }

    fn leaf(
        &self,
        cn: &str,
        sans: Vec<String>,
        eku: Vec<ExtendedKeyUsagePurpose>,
    ) -> (String, String) {
        self.leaf_with(cn, sans, eku, |_| {})
    }

    fn leaf_with(
        &self,
        cn: &str,
        sans: Vec<String>,
        eku: Vec<ExtendedKeyUsagePurpose>,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> (String, String) {
        let mut p = CertificateParams::new(sans).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = eku;
        adjust(&mut p);
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// The node certificate for a zone, with the SANs the public scripts use.
    pub fn node(&self, zone: &str) -> (String, String) {
        self.node_with(zone, |_| {})
    }

    /// A node certificate for a zone that expired in 2021.
    pub fn expired_node(&self, zone: &str) -> (String, String) {
        self.node_with(zone, |p| {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        })
    }

    /// A node certificate for a zone that expires `secs` seconds of wall time from now (certificates are
    /// checked against the real clock, as TLS does).
    pub fn node_expiring_in(&self, zone: &str, secs: i64) -> (String, String) {
        self.node_with(zone, |p| {
            let now = time::OffsetDateTime::now_utc();
            p.not_before = now - time::Duration::hours(1);
            p.not_after = now + time::Duration::seconds(secs);
        })
    }

    fn node_with(
        &self,
        zone: &str,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> (String, String) {
        let sans = vec![
            "localhost".to_string(),
            "127.0.0.1".into(),
            "cockroachdb-public".into(),
            "cockroachdb-public.default".into(),
            format!("cockroachdb-public.{zone}"),
            format!("cockroachdb-public.{zone}.svc.cluster.local"),
            "*.cockroachdb".into(),
            format!("*.cockroachdb.{zone}"),
            format!("*.cockroachdb.{zone}.svc.cluster.local"),
        ];
        self.leaf_with(
            "node",
            sans,
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            adjust,
        )
    }

    pub fn root(&self) -> (String, String) {
        self.leaf(
            "root",
            Vec::new(),
            vec![ExtendedKeyUsagePurpose::ClientAuth],
        )
    }
}

pub fn namespace(name: &str) -> Value {
    json!({"metadata": {"name": name}})
}

/// Everything the provider creates for one zone (except DNS forwarding and init).
pub fn deploy_zone(
    sim: &Sim,
    cluster: &str,
    zone: &str,
    zones: &[&str],
    pki: &Pki,
    node_cert: &(String, String),
) {
    deploy_zone_image(
        sim,
        cluster,
        zone,
        zones,
        pki,
        node_cert,
        "cockroachdb/cockroach:v25.2.0",
    );
}

pub fn deploy_zone_image(
    sim: &Sim,
    cluster: &str,
    zone: &str,
    zones: &[&str],
    pki: &Pki,
    node_cert: &(String, String),
    image: &str,
) {
    let (root_crt, root_key) = pki.root();
    sim.create(cluster, "namespaces", namespace(zone));
    let client =
        json!({"ca.crt": pki.ca_pem, "client.root.crt": root_crt, "client.root.key": root_key});
    for ns in [zone, "default"] {
        sim.create(cluster, "secrets", json!({"metadata": {"name": "cockroachdb.client.root", "namespace": ns}, "stringData": client}));
    }
    let mut node = client.clone();
    node["node.crt"] = json!(node_cert.0);
    node["node.key"] = json!(node_cert.1);
    sim.create(
        cluster,
        "secrets",
        json!({"metadata": {"name": "cockroachdb.node", "namespace": zone}, "stringData": node}),
    );
    sim.create(cluster, "services", json!({"metadata": {"name": "cockroachdb-public", "namespace": zone, "labels": {"app": "cockroachdb"}},
        "spec": {"selector": {"app": "cockroachdb"}, "ports": [{"name": "grpc", "port": 26257}, {"name": "http", "port": 8080}]}}));
    sim.create(cluster, "services", json!({"metadata": {"name": "cockroachdb", "namespace": zone, "labels": {"app": "cockroachdb"}},
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": true, "selector": {"app": "cockroachdb"},
                 "ports": [{"name": "grpc", "port": 26257}, {"name": "http", "port": 8080}]}}));
    sim.create(cluster, "services", json!({"metadata": {"name": "cockroachdb-public", "namespace": "default"},
        "spec": {"type": "ExternalName", "externalName": format!("cockroachdb-public.{zone}.svc.cluster.local")}}));
    let budget = json!({"metadata": {"name": "cockroachdb-budget", "namespace": zone},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "cockroachdb"}}}});
    sim.create(cluster, "poddisruptionbudgets", budget);
    sim.create(cluster, "statefulsets", statefulset(zone, zones, image));
}

pub fn join_list(zones: &[&str]) -> String {
    zones
        .iter()
        .flat_map(|z| (0..3).map(move |i| format!("cockroachdb-{i}.cockroachdb.{z}")))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn statefulset(zone: &str, zones: &[&str], image: &str) -> Value {
    let cmd = format!(
        "exec /cockroach/cockroach start --logtostderr --certs-dir /cockroach/cockroach-certs --advertise-host $(hostname -f) \
         --http-addr 0.0.0.0 --join {} --locality=zone={zone} --cache 25% --max-sql-memory 25%",
        join_list(zones)
    );
    json!({
        "metadata": {"name": "cockroachdb", "namespace": zone, "labels": {"app": "cockroachdb"}},
        "spec": {
            "serviceName": "cockroachdb", "replicas": 3, "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            "selector": {"matchLabels": {"app": "cockroachdb"}},
            "template": {
                "metadata": {"labels": {"app": "cockroachdb"}},
                "spec": {
                    "terminationGracePeriodSeconds": 60,
                    "containers": [{
                        "name": "cockroachdb", "image": image,
                        "ports": [{"containerPort": 26257, "name": "grpc"}, {"containerPort": 8080, "name": "http"}],
                        "readinessProbe": {"httpGet": {"path": "/health?ready=1", "port": "http", "scheme": "HTTPS"}},
                        "volumeMounts": [{"name": "datadir", "mountPath": "/cockroach/cockroach-data"},
                                         {"name": "certs", "mountPath": "/cockroach/cockroach-certs"}],
                        "command": ["/bin/bash", "-ecx", cmd],
                    }],
                    "volumes": [{"name": "datadir", "persistentVolumeClaim": {"claimName": "datadir"}},
                                {"name": "certs", "secret": {"secretName": "cockroachdb.node", "defaultMode": 256}}],
                },
            },
            "volumeClaimTemplates": [{"metadata": {"name": "datadir"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "100Gi"}}}}],
        },
    })
}

/// The DNS load balancer of a cluster, and its address once the cloud has provisioned it.
pub async fn dns_lb(sim: &Sim, cluster: &str) -> String {
    sim.create(cluster, "services", json!({"metadata": {"name": "kube-dns-lb", "namespace": "kube-system"},
        "spec": {"type": "LoadBalancer", "selector": {"k8s-app": "kube-dns"}, "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}}));
    let mut ip = String::new();
    assert!(
        eventually(20, || {
            let svc = sim
                .get(cluster, "services", "kube-system", "kube-dns-lb")
                .unwrap();
            match svc
                .pointer("/status/loadBalancer/ingress/0/ip")
                .and_then(Value::as_str)
            {
                Some(a) => {
                    ip = a.to_string();
                    true
                }
                None => false,
            }
        })
        .await,
        "DNS load balancer of {cluster} got no address"
    );
    ip
}

/// Forwards each `(zone, ip)` from `cluster`'s DNS, merged into what its DNS add-on reads.
pub fn forward(sim: &Sim, cluster: &str, flavour: DnsFlavour, peers: &[(&str, &str)]) {
    match flavour {
        DnsFlavour::KubeDns | DnsFlavour::CloudDns => {
            let stub: serde_json::Map<String, Value> = peers
                .iter()
                .map(|(z, ip)| (format!("{z}.svc.cluster.local"), json!([ip])))
                .collect();
            let text = serde_json::to_string(&stub).unwrap();
            sim.modify(cluster, "configmaps", "kube-system", "kube-dns", |cm| {
                cm["data"] = json!({"stubDomains": text})
            });
        }
        DnsFlavour::CoreDns => {
            let blocks: String = peers
                .iter()
                .map(|(z, ip)| format!("{z}.svc.cluster.local:53 {{\n    errors\n    cache 30\n    forward . {ip} {{\n        prefer_udp\n    }}\n}}\n"))
                .collect();
            sim.modify(cluster, "configmaps", "kube-system", "coredns", |cm| {
                cm["data"]["Corefile"] =
                    json!(format!("{}{blocks}", kube_sandbox::bootstrap::COREFILE));
            });
        }
    }
}

pub fn init_job(sim: &Sim, cluster: &str, zone: &str) {
    sim.create(cluster, "jobs", json!({
        "metadata": {"name": "cluster-init-secure", "namespace": zone},
        "spec": {"backoffLimit": 20, "template": {"spec": {
            "restartPolicy": "OnFailure",
            "containers": [{"name": "cluster-init", "image": "cockroachdb/cockroach:v25.2.0",
                "command": ["/cockroach/cockroach", "init", "--certs-dir=/cockroach-certs", "--host=cockroachdb-0.cockroachdb"],
                "volumeMounts": [{"name": "client-certs", "mountPath": "/cockroach-certs"}]}],
            "volumes": [{"name": "client-certs", "secret": {"secretName": "cockroachdb.client.root", "defaultMode": 256}}],
        }}},
    }));
}

pub fn pods_of(sim: &Sim, cluster: &str, ns: &str) -> Vec<Value> {
    sim.store(cluster).list(rt("pods"), Some(ns))
}

pub fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}
