//! The zone's Services: the public and headless services of the nodes, the ExternalName alias in `default`, and
//! the DNS load balancer that lets peer clusters resolve this zone's names.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::names::{self, common_labels, component_labels};
use super::spec::{DnsProtocol, LoadBalancerKind, ZoneSpec};

/// SQL and inter-node traffic share 26257; the DB Console and health checks use 8080.
fn node_ports() -> Vec<ServicePort> {
    vec![
        port("grpc", names::GRPC_PORT, "TCP"),
        port("http", names::HTTP_PORT, "TCP"),
    ]
}

fn port(name: &str, number: i32, protocol: &str) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port: number,
        target_port: Some(IntOrString::Int(number)),
        protocol: Some(protocol.to_owned()),
        ..ServicePort::default()
    }
}

fn metadata(spec: &ZoneSpec, name: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(common_labels(&spec.cluster_name, &spec.zone)),
        ..ObjectMeta::default()
    }
}

/// What clients in the zone connect to; only ready nodes are behind it.
pub fn public_service(spec: &ZoneSpec) -> Service {
    Service {
        metadata: metadata(spec, names::PUBLIC_SERVICE, &spec.zone),
        spec: Some(ServiceSpec {
            selector: Some(spec.layout.node_selector()),
            ports: Some(node_ports()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Gives each node its stable DNS name. Not-ready nodes are published too: before `cockroach init` no node is
/// ready, yet they must find each other (and the init Job must reach `cockroachdb-0`) to become ready.
pub fn headless_service(spec: &ZoneSpec) -> Service {
    Service {
        metadata: metadata(spec, names::HEADLESS_SERVICE, &spec.zone),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            publish_not_ready_addresses: Some(true),
            selector: Some(spec.layout.node_selector()),
            ports: Some(node_ports()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// `cockroachdb-public` in `default`, a CNAME to the zone's public service, so that applications in `default`
/// reach the cluster under a name the node certificate covers (`cockroachdb-public.default`). Renaming it per zone
/// would break TLS hostname verification, so two zones sharing a Kubernetes cluster share this one name: the
/// resource must leave it alone when `alias_claim` says another zone holds it (either target reaches the same
/// CockroachDB cluster).
pub fn external_name_alias(spec: &ZoneSpec) -> Service {
    Service {
        metadata: metadata(spec, names::PUBLIC_SERVICE, names::DEFAULT_NAMESPACE),
        spec: Some(ServiceSpec {
            type_: Some("ExternalName".to_owned()),
            external_name: Some(names::service_fqdn(
                names::PUBLIC_SERVICE,
                &spec.zone,
                &spec.cluster_domain,
            )),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Who holds the shared `default/cockroachdb-public` alias, from the labels of the live object (None: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasClaim {
    /// Nobody: create it.
    Free,
    /// This zone: keep applying it.
    Ours,
    /// Another zone of the provider: leave it, and do not delete it on teardown.
    OtherZone(String),
    /// Not created by the provider: leave it and tell the user.
    Foreign,
}

pub fn alias_claim(live_labels: Option<&BTreeMap<String, String>>, zone: &str) -> AliasClaim {
    let Some(labels) = live_labels else {
        return AliasClaim::Free;
    };
    if labels.get(names::LABEL_MANAGED_BY).map(String::as_str) != Some(names::MANAGER) {
        return AliasClaim::Foreign;
    }
    match labels.get(names::LABEL_ZONE) {
        Some(owner) if owner == zone => AliasClaim::Ours,
        Some(owner) => AliasClaim::OtherZone(owner.clone()),
        None => AliasClaim::Foreign,
    }
}

/// The cluster's DNS servers behind a load balancer that peer clusters forward this zone's names to, on one
/// protocol (see [`super::spec::DnsProtocol`]): UDP where peers run kube-dns, TCP where they run CoreDNS.
pub fn dns_load_balancer(spec: &ZoneSpec) -> Service {
    let mut meta = metadata(
        spec,
        &spec.layout.dns_load_balancer_name(&spec.zone),
        names::KUBE_SYSTEM,
    );
    meta.labels = Some(component_labels(
        &spec.cluster_name,
        &spec.zone,
        names::COMPONENT_DNS,
    ));
    let mut annotations: BTreeMap<String, String> = kind_annotations(spec.dns_load_balancer.kind)
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    annotations.extend(spec.dns_load_balancer.extra_annotations.clone());
    meta.annotations = (!annotations.is_empty()).then_some(annotations);
    let (label, value) = names::DNS_POD_LABEL;
    Service {
        metadata: meta,
        spec: Some(ServiceSpec {
            type_: Some("LoadBalancer".to_owned()),
            selector: Some([(label.to_owned(), value.to_owned())].into()),
            ports: Some(vec![dns_port(spec.dns_load_balancer.protocol())]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Port 53 on one protocol, named as the original procedure named it (`dns`) for UDP.
fn dns_port(protocol: DnsProtocol) -> ServicePort {
    let name = match protocol {
        DnsProtocol::Udp => "dns",
        DnsProtocol::Tcp => "dns-tcp",
    };
    port(name, names::DNS_PORT, protocol.as_str())
}

/// The protocols of a live Service's ports, in order (a port without one is TCP, Kubernetes' default).
pub fn service_protocols(service: &Service) -> Vec<&str> {
    service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .map(|ports| {
            ports
                .iter()
                .map(|p| p.protocol.as_deref().unwrap_or("TCP"))
                .collect()
        })
        .unwrap_or_default()
}

/// The one protocol a live DNS load balancer serves, which apply keeps (None: no ports, or several protocols).
pub fn live_dns_protocol(service: &Service) -> Option<DnsProtocol> {
    DnsProtocol::keep_live(&service_protocols(service))
}

/// Whether a live DNS load balancer mixes protocols, as versions before one protocol per Service made it: the
/// next apply gives it one.
pub fn mixes_protocols(service: &Service) -> bool {
    let protocols = service_protocols(service);
    protocols.iter().any(|p| Some(p) != protocols.first())
}

/// The annotations that make each cloud's load balancer internal.
pub fn kind_annotations(kind: LoadBalancerKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        LoadBalancerKind::Public => &[],
        LoadBalancerKind::GkeInternal => &[
            ("networking.gke.io/load-balancer-type", "Internal"),
            (
                "networking.gke.io/internal-load-balancer-allow-global-access",
                "true",
            ),
        ],
        // The classic ELB cannot carry UDP, which DNS needs: an NLB. `scheme` is how the AWS Load Balancer
        // Controller reads "internal", `internal` how the in-tree controller does; a cluster may run either.
        LoadBalancerKind::AwsInternal => &[
            ("service.beta.kubernetes.io/aws-load-balancer-type", "nlb"),
            (
                "service.beta.kubernetes.io/aws-load-balancer-scheme",
                "internal",
            ),
            (
                "service.beta.kubernetes.io/aws-load-balancer-internal",
                "true",
            ),
        ],
        LoadBalancerKind::AzureInternal => &[(
            "service.beta.kubernetes.io/azure-load-balancer-internal",
            "true",
        )],
    }
}
