//! The emulated Kubernetes clusters of the acceptance tests (kube-sandbox, one per zone, controllers at the tests'
//! speed) and the configuration of a cluster across them; also included by `tests/differential.rs`.
use crate::harness::Workspace;
use kube_sandbox::{Sandbox, SandboxOptions};

pub const ZONES: [&str; 3] = ["us-east1-b", "us-west1-a", "europe-west1-c"];
/// Emulated controllers run this much faster than real ones (a DNS load balancer takes 20 s).
const SPEED: f64 = 40.0;

pub struct Clusters {
    pub runtime: tokio::runtime::Runtime,
    pub sandbox: Sandbox,
}

impl Clusters {
    pub fn start(dns: &[&str]) -> Clusters {
        Self::start_with(dns, false)
    }

    /// With `lb_hostnames`, load balancers get AWS-like host names, resolvable only through the
    /// sandbox's DNS server.
    pub fn start_with(dns: &[&str], lb_hostnames: bool) -> Clusters {
        Self::start_seeded(dns, lb_hostnames, 0)
    }

    /// With `seed` for the faults the test injects later (`Sandbox::set_fault_rate`).
    pub fn start_seeded(dns: &[&str], lb_hostnames: bool, seed: u64) -> Clusters {
        let mut options = SandboxOptions::new(&ZONES);
        for (cluster, flavour) in options.clusters.iter_mut().zip(dns) {
            cluster.dns = flavour.to_string();
        }
        options.lb_hostnames = lb_hostnames;
        options.seed = seed;
        Self::started(options, SPEED)
    }

    /// One emulated cluster (kube-dns) per zone of `zones`.
    pub fn start_zones(zones: &[&str]) -> Clusters {
        Self::started(SandboxOptions::new(zones), SPEED)
    }

    /// [`Clusters::start_zones`] with the controllers at `speed` (the benchmarks').
    pub fn start_zones_at(zones: &[&str], speed: f64) -> Clusters {
        Self::started(SandboxOptions::new(zones), speed)
    }

    /// The sandbox of `options`, its controllers running at `speed` on a runtime of its own.
    fn started(mut options: SandboxOptions, speed: f64) -> Clusters {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        options.speed = speed;
        options.controllers = true;
        let sandbox = runtime
            .block_on(Sandbox::start(options))
            .expect("sandbox starts");
        Clusters { runtime, sandbox }
    }

    /// A kube-rs client for one emulated cluster, for assertions.
    pub fn client(&self, name: &str) -> kube::Client {
        let _guard = self.runtime.enter();
        sandbox_client(&self.sandbox, name)
    }

    /// The `kubernetes {}` block that reaches cluster `name`, with its CA in a file beside the config.
    pub fn connection_block(&self, ws: &Workspace, name: &str) -> String {
        let cluster = self.sandbox.cluster(name).unwrap();
        connection_block(ws, name, &cluster.url(), cluster.ca_pem(), cluster.token())
    }
}

/// Kubernetes clusters a configuration can name: the sandbox's, or real control planes (`attached::`).
pub trait Connections {
    /// The `kubernetes {}` block that reaches cluster `name`.
    fn connection_block(&self, ws: &Workspace, name: &str) -> String;
}

impl Connections for Clusters {
    fn connection_block(&self, ws: &Workspace, name: &str) -> String {
        Clusters::connection_block(self, ws, name)
    }
}

/// A `kubernetes {}` block for an API server at `url`, with its CA in a file beside the config.
pub fn connection_block(
    ws: &Workspace,
    name: &str,
    url: &str,
    ca_pem: &str,
    token: &str,
) -> String {
    let ca_file = format!("ca-{name}.pem");
    std::fs::write(ws.path().join(&ca_file), ca_pem).unwrap();
    format!(
        "  kubernetes {{\n    host                   = \"{url}\"\n    cluster_ca_certificate = file(\"${{path.module}}/{ca_file}\")\n    token                  = \"{token}\"\n  }}\n"
    )
}

/// A kube-rs client for cluster `name` of `sandbox`; made inside a Tokio runtime.
pub fn sandbox_client(sandbox: &Sandbox, name: &str) -> kube::Client {
    use rustls::pki_types::pem::PemObject as _;
    let cluster = sandbox.cluster(name).unwrap();
    let mut config = kube::Config::new(cluster.url().parse().unwrap());
    let ca =
        rustls::pki_types::CertificateDer::from_pem_slice(cluster.ca_pem().as_bytes()).unwrap();
    config.root_cert = Some(vec![ca.to_vec()]);
    config.auth_info.token = Some(cluster.token().to_string().into());
    kube::Client::try_from(config).unwrap()
}

/// A cluster, three regions and three links; `protect` sets deletion_protection.
pub fn configuration(
    clusters: &impl Connections,
    ws: &Workspace,
    protect: bool,
    replicas: u32,
) -> String {
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
        .map(|z| {
            format!(
                "    \"{z}\" = crdb_region.{}.dns_address",
                z.replace('-', "_")
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let protocols = peers.replace(".dns_address", ".dns_protocol");
    for zone in ZONES {
        let key = zone.replace('-', "_");
        config.push_str(&format!(
            "\nresource \"crdb_dns_link\" \"{key}\" {{\n  zone  = \"{zone}\"\n  peers = {{\n{peers}\n  }}\n  peer_protocols = {{\n{protocols}\n  }}\n{}  timeouts {{\n    create = \"5m\"\n  }}\n}}\n",
            clusters.connection_block(ws, zone)
        ));
    }
    config
}

/// `configuration` for any list of zones (one emulated Kubernetes cluster each), without deletion protection.
pub fn configuration_of(clusters: &impl Connections, ws: &Workspace, zones: &[&str]) -> String {
    let quoted: Vec<String> = zones.iter().map(|z| format!("{z:?}")).collect();
    let mut config = format!(
        "resource \"crdb_multiregion_cluster\" \"main\" {{\n  name  = \"main\"\n  image = \"cockroachdb/cockroach:v24.1.0\"\n  zones = [{}]\n}}\n",
        quoted.join(", ")
    );
    let key = |z: &str| z.replace('-', "_");
    for zone in zones {
        config.push_str(&format!(
            "\nresource \"crdb_region\" \"{}\" {{\n  cluster  = crdb_multiregion_cluster.main\n  zone     = \"{zone}\"\n  region   = \"{}\"\n  replicas = 3\n  deletion_protection = false\n{}  timeouts {{\n    create = \"5m\"\n    update = \"5m\"\n  }}\n}}\n",
            key(zone),
            zone.rsplit_once('-').unwrap().0,
            clusters.connection_block(ws, zone)
        ));
    }
    let peers: Vec<String> = zones
        .iter()
        .map(|z| format!("    \"{z}\" = crdb_region.{}.dns_address", key(z)))
        .collect();
    for zone in zones {
        config.push_str(&format!(
            "\nresource \"crdb_dns_link\" \"{}\" {{\n  zone  = \"{zone}\"\n  peers = {{\n{}\n  }}\n{}}}\n",
            key(zone),
            peers.join("\n"),
            clusters.connection_block(ws, zone)
        ));
    }
    config
}
