//! `crdb_region` and `crdb_dns_link` through the real CLI against kube-sandbox: three emulated
//! Kubernetes clusters, one CockroachDB cluster across them.
use crate::harness::Workspace;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use kube::api::{Api, ListParams, PostParams};
use kube_sandbox::{Sandbox, SandboxOptions};

const ZONES: [&str; 3] = ["us-east1-b", "us-west1-a", "europe-west1-c"];
/// Emulated controllers run this much faster than real ones (a DNS load balancer takes 20 s).
const SPEED: f64 = 40.0;

pub struct Clusters {
    pub runtime: tokio::runtime::Runtime,
    pub sandbox: Sandbox,
}

impl Clusters {
    pub fn start(dns: &[&str]) -> Clusters {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let mut options = SandboxOptions::new(&ZONES);
        for (cluster, flavour) in options.clusters.iter_mut().zip(dns) {
            cluster.dns = flavour.to_string();
        }
        options.speed = SPEED;
        options.controllers = true;
        let sandbox = runtime.block_on(Sandbox::start(options)).expect("sandbox starts");
        Clusters { runtime, sandbox }
    }

    /// A kube-rs client for one emulated cluster, for assertions.
    pub fn client(&self, name: &str) -> kube::Client {
        let cluster = self.sandbox.cluster(name).unwrap();
        let mut config = kube::Config::new(cluster.url().parse().unwrap());
        config.root_cert = Some(vec![rustls_pem_der(cluster.ca_pem())]);
        config.auth_info.token = Some(cluster.token().to_string().into());
        let _guard = self.runtime.enter();
        kube::Client::try_from(config).unwrap()
    }

    /// The `kubernetes {}` block that reaches cluster `name`, with its CA in a file beside the config.
    pub fn connection_block(&self, ws: &Workspace, name: &str) -> String {
        let cluster = self.sandbox.cluster(name).unwrap();
        let ca_file = format!("ca-{name}.pem");
        std::fs::write(ws.path().join(&ca_file), cluster.ca_pem()).unwrap();
        format!(
            "  kubernetes {{\n    host                   = \"{}\"\n    cluster_ca_certificate = file(\"${{path.module}}/{ca_file}\")\n    token                  = \"{}\"\n  }}\n",
            cluster.url(),
            cluster.token()
        )
    }
}

fn rustls_pem_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject as _;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap().to_vec()
}

/// A cluster, three regions and three links; `protect` sets deletion_protection.
fn configuration(clusters: &Clusters, ws: &Workspace, protect: bool, replicas: u32) -> String {
    let mut config = format!(
        "resource \"crdb_multiregion_cluster\" \"main\" {{\n  name  = \"main\"\n  image = \"cockroachdb/cockroach:v24.1.0\"\n  zones = [{}]\n}}\n",
        ZONES.iter().map(|z| format!("{z:?}")).collect::<Vec<_>>().join(", ")
    );
    for zone in ZONES {
        let key = zone.replace('-', "_");
        config.push_str(&format!(
            "\nresource \"crdb_region\" \"{key}\" {{\n  cluster             = crdb_multiregion_cluster.main\n  zone                = \"{zone}\"\n  region              = \"{}\"\n  replicas            = {replicas}\n  deletion_protection = {protect}\n{}  timeouts {{\n    create = \"5m\"\n    update = \"5m\"\n    delete = \"5m\"\n  }}\n}}\n",
            zone.rsplit_once('-').unwrap().0,
            clusters.connection_block(ws, zone)
        ));
    }
    let peers = ZONES
        .iter()
        .map(|z| format!("    \"{z}\" = crdb_region.{}.dns_address", z.replace('-', "_")))
        .collect::<Vec<_>>()
        .join("\n");
    for zone in ZONES {
        let key = zone.replace('-', "_");
        config.push_str(&format!(
            "\nresource \"crdb_dns_link\" \"{key}\" {{\n  zone  = \"{zone}\"\n  peers = {{\n{peers}\n  }}\n{}  timeouts {{\n    create = \"5m\"\n  }}\n}}\n",
            clusters.connection_block(ws, zone)
        ));
    }
    config
}

fn live_nodes(clusters: &Clusters) -> (usize, usize) {
    let world = clusters.sandbox.world().expect("controllers run");
    let nodes = world.cockroach_nodes();
    (nodes.len(), nodes.iter().filter(|n| n.live).count())
}

/// Puts a stub domain of someone else's into a cluster's kube-dns ConfigMap.
fn add_foreign_stub_domain(clusters: &Clusters, name: &str) {
    let api: Api<ConfigMap> = Api::namespaced(clusters.client(name), "kube-system");
    clusters.runtime.block_on(async {
        let mut map = api.get("kube-dns").await.unwrap();
        map.data.get_or_insert_with(Default::default).insert(
            "stubDomains".into(),
            r#"{"corp.example": ["192.0.2.250"]}"#.into(),
        );
        api.replace("kube-dns", &PostParams::default(), &map).await.unwrap();
    });
}

fn stub_domains(clusters: &Clusters, name: &str) -> String {
    let api: Api<ConfigMap> = Api::namespaced(clusters.client(name), "kube-system");
    clusters.runtime.block_on(async {
        let map = api.get("kube-dns").await.unwrap();
        map.data.and_then(|d| d.get("stubDomains").cloned()).unwrap_or_default()
    })
}

/// Objects labelled as the provider's, in every namespace of cluster `name`.
fn our_objects(clusters: &Clusters, name: &str) -> Vec<String> {
    let client = clusters.client(name);
    let ours = ListParams::default().labels("app.kubernetes.io/managed-by=terraform-provider-crdb");
    clusters.runtime.block_on(async {
        let mut found = Vec::new();
        for ns in Api::<Namespace>::all(client.clone()).list(&ours).await.unwrap() {
            found.push(format!("Namespace/{}", ns.metadata.name.unwrap()));
        }
        for s in Api::<Service>::all(client.clone()).list(&ours).await.unwrap() {
            found.push(format!("Service/{}/{}", s.metadata.namespace.unwrap(), s.metadata.name.unwrap()));
        }
        for s in Api::<Secret>::all(client.clone()).list(&ours).await.unwrap() {
            found.push(format!("Secret/{}/{}", s.metadata.namespace.unwrap(), s.metadata.name.unwrap()));
        }
        found
    })
}

#[test]
fn three_kube_dns_regions_form_one_live_cluster_and_destroy_leaves_nothing() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    add_foreign_stub_domain(&clusters, ZONES[1]);
    let ws = Workspace::new("");
    ws.write_config(&configuration(&clusters, &ws, true, 3));
    ws.apply();
    let (nodes, live) = live_nodes(&clusters);
    assert_eq!((nodes, live), (9, 9), "every node of the three zones is live after apply");
    assert!(clusters.sandbox.world().unwrap().cockroach_initialised());
    ws.assert_plan_empty("apply");

    let stub = stub_domains(&clusters, ZONES[1]);
    assert!(stub.contains("corp.example"), "a foreign stub domain survives the merge: {stub}");
    assert!(stub.contains("us-east1-b.svc.cluster.local") && !stub.contains("us-west1-a.svc"), "{stub}");

    // Protected regions refuse destroy, saying how to proceed.
    let refused = ws.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("deletion_protection"), "{}", refused.stderr);
    assert_eq!(live_nodes(&clusters).1, 9, "a refused destroy touches nothing");

    ws.write_config(&configuration(&clusters, &ws, false, 3));
    ws.apply();
    ws.destroy();
    for zone in ZONES {
        assert_eq!(our_objects(&clusters, zone), Vec::<String>::new(), "objects of ours left in {zone}");
    }
    let stub = stub_domains(&clusters, ZONES[1]);
    assert!(stub.contains("corp.example") && !stub.contains("svc.cluster.local"), "{stub}");
}
