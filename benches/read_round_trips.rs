//! How many sequential API round trips a refresh of one region and one DNS link costs: the wall
//! time of `read` (what every `terraform plan` calls) against an emulated cluster without added
//! latency and with 100 ms added to every request, and the sequential round trips that implies.
//! Prints numbers; asserts nothing about speed.
//!
//! Run with `cargo bench --bench read_round_trips`.
use std::time::{Duration, Instant};

use kube_sandbox::{Sandbox, SandboxOptions};
use terraform_provider_crdb::cockroach::manifests::{
    self, names, DnsLoadBalancer, Layout, ZoneCertificates, ZoneSpec,
};
use terraform_provider_crdb::framework::{Attr, OperationContext, Resource, ToValue, Value};
use terraform_provider_crdb::kubernetes::{ClusterClient, RemoteError};
use terraform_provider_crdb::resources::connection::{self, ConnectionModel};
use terraform_provider_crdb::resources::dns_link::{DnsLink, DnsLinkModel};
use terraform_provider_crdb::resources::region::{ClusterRef, Region, RegionModel};

const ZONE: &str = "us-east1-b";
const READS: usize = 5;
const LATENCY: Duration = Duration::from_millis(100);

fn spec() -> ZoneSpec {
    ZoneSpec {
        cluster_name: "main".into(),
        zone: ZONE.into(),
        region: Some("us-east1".into()),
        image: "cockroachdb/cockroach:v24.1.0".into(),
        replicas: 3,
        join_addresses: vec![format!("cockroachdb-0.cockroachdb.{ZONE}")],
        cluster_domain: "cluster.local".into(),
        storage_size: "100Gi".into(),
        storage_class: None,
        cpu_request: None,
        cpu_limit: None,
        memory_request: None,
        memory_limit: None,
        layout: Layout::Provider,
        dns_load_balancer: DnsLoadBalancer::default(),
        runs_init: false,
    }
}

/// Writes the objects of one zone a read looks at, as an apply leaves them (without controllers).
async fn deploy_zone(client: &ClusterClient) -> Result<(), RemoteError> {
    let spec = spec();
    let certs = ZoneCertificates {
        ca_crt: "CA".into(),
        node_crt: "NODE".into(),
        node_key: "KEY".into(),
        root_crt: "ROOT".into(),
        root_key: "KEY".into(),
    };
    client.apply(&manifests::namespace(&spec)).await?;
    client.apply(&manifests::stateful_set(&spec)).await?;
    client.apply(&manifests::node_secret(&spec, &certs)).await?;
    for namespace in [ZONE, names::DEFAULT_NAMESPACE] {
        client
            .apply(&manifests::client_root_secret(&spec, &certs, namespace))
            .await?;
    }
    client.apply(&manifests::public_service(&spec)).await?;
    client.apply(&manifests::headless_service(&spec)).await?;
    client.apply(&manifests::dns_load_balancer(&spec)).await?;
    Ok(())
}

/// Median wall time of `read` over a few runs.
async fn median_read(resource: &dyn Resource, state: &Value) -> Duration {
    let ctx = OperationContext::default();
    let mut times = Vec::new();
    for _ in 0..READS {
        let started = Instant::now();
        let read = resource.read(&ctx, state).await.expect("read");
        times.push(started.elapsed());
        assert!(read.is_some(), "the object is there");
    }
    times.sort();
    times[READS / 2]
}

async fn measure(latency: Duration) -> (Duration, Duration) {
    let mut options = SandboxOptions::new(&["east"]);
    options.latency = latency;
    let sandbox = Sandbox::start(options).await.expect("sandbox");
    let cluster = &sandbox.clusters()[0];
    let block = ConnectionModel {
        host: Attr::Known(cluster.url()),
        cluster_ca_certificate: Attr::Known(cluster.ca_pem().to_string()),
        token: Attr::Known(cluster.token().to_string()),
        ..Default::default()
    };
    let at = terraform_provider_crdb::framework::diag::AttributePath::root(connection::BLOCK_NAME);
    let resolved = connection::resolve(&block.to_value(), &at)
        .expect("valid")
        .expect("known");
    let client = ClusterClient::connect(&resolved).await.expect("client");
    deploy_zone(&client).await.expect("zone deployed");
    let region = RegionModel {
        id: Attr::Known(ZONE.into()),
        zone: Attr::Known(ZONE.into()),
        cluster: Attr::Known(ClusterRef {
            name: Attr::Known("main".into()),
            image: Attr::Known(spec().image),
            ..Default::default()
        }),
        layout: Attr::Known("provider".into()),
        kubernetes: Attr::Known(block.to_value()),
        ..Default::default()
    };
    let link = DnsLinkModel {
        id: Attr::Known(ZONE.into()),
        zone: Attr::Known(ZONE.into()),
        peers: Attr::Known(
            [(
                "europe-west1-c".to_string(),
                Attr::Known("192.0.2.2".into()),
            )]
            .into(),
        ),
        forwarded_zones: Attr::Known(vec!["europe-west1-c".into()]),
        // The API servers run without their bootstrapped kube-system: name the DNS server.
        dns_provider: Attr::Known("kube-dns".into()),
        kubernetes: Attr::Known(block.to_value()),
        ..Default::default()
    };
    (
        median_read(&Region, &region.to_value()).await,
        median_read(&DnsLink, &link.to_value()).await,
    )
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (region_fast, link_fast) = runtime.block_on(measure(Duration::ZERO));
    let (region_slow, link_slow) = runtime.block_on(measure(LATENCY));
    for (what, fast, slow) in [
        ("crdb_region read", region_fast, region_slow),
        ("crdb_dns_link read", link_fast, link_slow),
    ] {
        let trips = (slow.as_secs_f64() - fast.as_secs_f64()) / LATENCY.as_secs_f64();
        println!(
            "{what}: median {:.0} ms without added latency, {:.0} ms at {} ms per request: \
             {trips:.1} sequential round trips",
            fast.as_secs_f64() * 1000.0,
            slow.as_secs_f64() * 1000.0,
            LATENCY.as_millis()
        );
    }
}
