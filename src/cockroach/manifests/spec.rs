//! What one zone is made of, as the `crdb_region` resource hands it over, and the checks it must pass before any
//! object is rendered.

use std::collections::BTreeMap;
use std::fmt;

use super::layout::Layout;
use crate::cockroach::quantity::Quantity;
use crate::cockroach::validate::{self, Invalid};

/// Everything that shapes the objects of one zone (one namespace in one Kubernetes cluster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSpec {
    pub cluster_name: String,
    /// Also the namespace.
    pub zone: String,
    pub region: Option<String>,
    pub image: String,
    pub replicas: i32,
    /// `host[:port]` of nodes in every zone of the cluster, this one included.
    pub join_addresses: Vec<String>,
    pub cluster_domain: String,
    pub storage_size: String,
    pub storage_class: Option<String>,
    pub cpu_request: Option<String>,
    pub cpu_limit: Option<String>,
    pub memory_request: Option<String>,
    pub memory_limit: Option<String>,
    pub dns_load_balancer: DnsLoadBalancer,
    /// This zone runs `cockroach init` (exactly one zone of a cluster does).
    pub runs_init: bool,
    /// Whose names and selector the zone's objects have.
    pub layout: Layout,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsLoadBalancer {
    pub kind: LoadBalancerKind,
    /// Applied after the kind's own annotations, so a user can override them.
    pub extra_annotations: BTreeMap<String, String>,
    /// The one protocol the Service carries when it is not the kind's: a live load balancer that already serves
    /// one protocol keeps it (see [`DnsProtocol::keep_live`]), since its peers forward with that protocol.
    pub protocol: Option<DnsProtocol>,
}

impl DnsLoadBalancer {
    /// The protocol the Service carries.
    pub fn protocol(&self) -> DnsProtocol {
        self.protocol.unwrap_or(self.kind.dns_protocol())
    }
}

/// The one protocol a DNS load balancer Service carries. One, not both: cloud controllers provision nothing for a
/// LoadBalancer Service that mixes UDP and TCP in several cases (cloud-provider-aws and the in-tree AWS provider
/// refuse it with "mixed protocol is not supported for LoadBalancer", kubernetes/kubernetes#105361; GKE's
/// controller refuses it with the event `LoadBalancerMixedProtocolNotSupported` except for external load
/// balancers of clusters created at 1.34 or later), and the address never appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsProtocol {
    /// What kube-dns (dnsmasq) stub domains forward with, and what the original procedure's `dns-lb.yaml` served;
    /// CoreDNS links forward to it with `prefer_udp`.
    Udp,
    /// What the original EKS procedure's NLB served; CoreDNS links forward to it with `force_tcp`, kube-dns ones
    /// cannot.
    Tcp,
}

impl DnsProtocol {
    /// The Kubernetes `protocol` of a Service port.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsProtocol::Udp => "UDP",
            DnsProtocol::Tcp => "TCP",
        }
    }

    /// As `crdb_region.dns_protocol` and `crdb_dns_link.peer_protocols` spell it.
    pub fn attribute_value(self) -> &'static str {
        match self {
            DnsProtocol::Udp => "udp",
            DnsProtocol::Tcp => "tcp",
        }
    }

    pub fn parse_attribute(text: &str) -> Option<DnsProtocol> {
        [DnsProtocol::Udp, DnsProtocol::Tcp]
            .into_iter()
            .find(|p| p.attribute_value() == text)
    }

    /// The protocol of a live Service's ports when they all carry the same one (None: no ports, or mixed, which
    /// is what versions before this rule made and what apply replaces). A Service that serves one protocol
    /// already keeps it, whatever the kind says: its peers forward with it, and turning it over would cut them
    /// off from this zone until every link changed too (a setup-script zone on EKS serves TCP, for example).
    pub fn keep_live(protocols: &[&str]) -> Option<DnsProtocol> {
        let first = *protocols.first()?;
        if protocols.iter().any(|p| *p != first) {
            return None;
        }
        [DnsProtocol::Udp, DnsProtocol::Tcp]
            .into_iter()
            .find(|p| p.as_str() == first)
    }
}

/// Where the DNS load balancer is reachable from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LoadBalancerKind {
    /// A public address, as the original procedure used: anyone can query the cluster's DNS.
    #[default]
    Public,
    /// A GKE internal load balancer with global access, so that clusters in other regions of the VPC reach it.
    GkeInternal,
    /// An internal AWS Network Load Balancer, TCP only (the classic ELB serves TCP only as well).
    AwsInternal,
    AzureInternal,
}

impl LoadBalancerKind {
    pub const ALL: [LoadBalancerKind; 4] = [
        LoadBalancerKind::Public,
        LoadBalancerKind::GkeInternal,
        LoadBalancerKind::AwsInternal,
        LoadBalancerKind::AzureInternal,
    ];

    /// The `crdb_region.dns_load_balancer` value that asks for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadBalancerKind::Public => "public",
            LoadBalancerKind::GkeInternal => "gke-internal",
            LoadBalancerKind::AwsInternal => "aws-internal",
            LoadBalancerKind::AzureInternal => "azure-internal",
        }
    }

    pub fn parse(text: &str) -> Option<LoadBalancerKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The protocol a new load balancer of this kind serves. GKE runs kube-dns, whose stub domains ask over UDP
    /// (and a public UDP load balancer is what the original procedure made on GKE). On AWS, TCP: the classic ELB
    /// serves nothing else, and an NLB's UDP target group still needs a TCP health check the Service does not
    /// offer, as the original EKS procedure (CoreDNS with `force_tcp`) had it. AKS runs CoreDNS, which forwards
    /// either way; TCP, as on EKS. kube-dns clusters can forward to UDP load balancers only.
    pub fn dns_protocol(self) -> DnsProtocol {
        match self {
            LoadBalancerKind::Public | LoadBalancerKind::GkeInternal => DnsProtocol::Udp,
            LoadBalancerKind::AwsInternal | LoadBalancerKind::AzureInternal => DnsProtocol::Tcp,
        }
    }
}

/// The PEM files a zone's pods need. The CA and the `root` client certificate are the cluster's; the node
/// certificate is this zone's.
#[derive(Clone, PartialEq, Eq)]
pub struct ZoneCertificates {
    pub ca_crt: String,
    pub node_crt: String,
    pub node_key: String,
    pub root_crt: String,
    pub root_key: String,
}

impl fmt::Debug for ZoneCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZoneCertificates")
            .field("ca_crt", &self.ca_crt)
            .field("node_crt", &self.node_crt)
            .field("node_key", &"<redacted>")
            .field("root_crt", &self.root_crt)
            .field("root_key", &"<redacted>")
            .finish()
    }
}

/// A problem with one attribute of the spec: `attribute` names the resource attribute the diagnostic points at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{attribute}: {message}")]
pub struct SpecError {
    pub attribute: &'static str,
    pub message: String,
}

/// The resources of a zone's nodes, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeResources {
    pub cpu_request: Option<Quantity>,
    pub cpu_limit: Option<Quantity>,
    pub memory_request: Option<Quantity>,
    pub memory_limit: Option<Quantity>,
}

impl ZoneSpec {
    /// Every problem with the spec, each on its attribute; empty when the objects can be rendered.
    pub fn problems(&self) -> Vec<SpecError> {
        let mut problems = Vec::new();
        let mut check = |attribute: &'static str, result: Result<(), Invalid>| {
            if let Err(Invalid(message)) = result {
                problems.push(SpecError { attribute, message });
            }
        };
        check("cluster_name", validate::label_value(&self.cluster_name));
        check("zone", validate::zone_name(&self.zone));
        if let Some(region) = &self.region {
            check("region", validate::locality_value(region));
        }
        check("image", validate::parse_image(&self.image).map(drop));
        if self.replicas < 0 {
            check(
                "replicas",
                Err(Invalid(format!("{} must not be negative", self.replicas))),
            );
        } else if self.runs_init && self.replicas == 0 {
            check(
                "replicas",
                Err(Invalid(
                    "the zone that initialises the cluster needs at least one node".to_owned(),
                )),
            );
        }
        if self.join_addresses.is_empty() {
            check(
                "join_addresses",
                Err(Invalid("at least one join address is needed".to_owned())),
            );
        }
        for address in &self.join_addresses {
            check("join_addresses", validate::join_address(address));
        }
        check(
            "cluster_domain",
            validate::dns1123_subdomain(&self.cluster_domain),
        );
        check(
            "storage_size",
            validate::quantity(&self.storage_size).and_then(|q| match q.bytes() {
                Ok(0) => Err(Invalid(format!(
                    "{:?} must be larger than zero",
                    self.storage_size
                ))),
                Ok(_) => Ok(()),
                Err(e) => Err(Invalid(e.to_string())),
            }),
        );
        if let Some(class) = &self.storage_class {
            check("storage_class", validate::dns1123_subdomain(class));
        }
        for (attribute, value) in [
            ("cpu_request", &self.cpu_request),
            ("cpu_limit", &self.cpu_limit),
            ("memory_request", &self.memory_request),
            ("memory_limit", &self.memory_limit),
        ] {
            if let Some(value) = value {
                check(attribute, validate::quantity(value).map(drop));
            }
        }
        check(
            "cpu_request",
            validate::request_within_limit(self.cpu_request.as_deref(), self.cpu_limit.as_deref()),
        );
        check(
            "memory_request",
            validate::request_within_limit(
                self.memory_request.as_deref(),
                self.memory_limit.as_deref(),
            ),
        );
        for key in self.dns_load_balancer.extra_annotations.keys() {
            check(
                "dns_load_balancer.annotations",
                validate::annotation_key(key),
            );
        }
        problems
    }

    /// The attributes whose change cannot be applied to the live objects in place: the zone is the namespace, and
    /// no volume moves to another class. (A bigger `storage_size` is applied in place: each claim is expanded and
    /// the StatefulSet, whose claim templates are immutable, re-created around its running pods.)
    pub fn changes_requiring_replacement(&self, new: &ZoneSpec) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.zone != new.zone {
            changed.push("zone");
        }
        if self.storage_class != new.storage_class {
            changed.push("storage_class");
        }
        changed
    }

    /// The spec's quantities, parsed. Only meaningful once `problems()` is empty; unparsable values read as unset.
    pub fn node_resources(&self) -> NodeResources {
        let parse = |value: &Option<String>| value.as_deref().and_then(|v| Quantity::parse(v).ok());
        NodeResources {
            cpu_request: parse(&self.cpu_request),
            cpu_limit: parse(&self.cpu_limit),
            memory_request: parse(&self.memory_request),
            memory_limit: parse(&self.memory_limit),
        }
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn spec() -> ZoneSpec {
        ZoneSpec {
            cluster_name: "main".into(),
            zone: "us-east1-b".into(),
            region: Some("us-east1".into()),
            image: "cockroachdb/cockroach:v25.2.0".into(),
            replicas: 3,
            join_addresses: ["us-east1-b", "europe-west1-c"]
                .iter()
                .flat_map(|z| (0..3).map(move |i| format!("cockroachdb-{i}.cockroachdb.{z}")))
                .collect(),
            cluster_domain: "cluster.local".into(),
            storage_size: "100Gi".into(),
            storage_class: None,
            cpu_request: Some("2".into()),
            cpu_limit: Some("2".into()),
            memory_request: Some("8Gi".into()),
            memory_limit: Some("8Gi".into()),
            dns_load_balancer: DnsLoadBalancer::default(),
            runs_init: true,
            layout: Layout::Provider,
        }
    }

    pub fn certificates() -> ZoneCertificates {
        ZoneCertificates {
            ca_crt: "CA PEM".into(),
            node_crt: "NODE PEM".into(),
            node_key: "NODE KEY".into(),
            root_crt: "ROOT PEM".into(),
            root_key: "ROOT KEY".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    fn attributes(spec: &ZoneSpec) -> Vec<&'static str> {
        spec.problems().iter().map(|p| p.attribute).collect()
    }

    #[test]
    fn the_fixture_is_valid() {
        assert_eq!(spec().problems(), vec![]);
    }

    #[test]
    fn each_problem_names_its_attribute() {
        let mut s = spec();
        s.zone = "kube-system".into();
        s.region = Some("us east".into());
        s.replicas = -1;
        s.storage_size = "lots".into();
        s.memory_request = Some("16Gi".into());
        s.cpu_limit = Some("2 cores".into());
        s.join_addresses = vec!["a,b".into()];
        s.dns_load_balancer
            .extra_annotations
            .insert("bad key!".into(), "x".into());
        assert_eq!(
            attributes(&s),
            vec![
                "zone",
                "region",
                "replicas",
                "join_addresses",
                "storage_size",
                "cpu_limit",
                "memory_request",
                "dns_load_balancer.annotations"
            ]
        );
        let memory = s
            .problems()
            .into_iter()
            .find(|p| p.attribute == "memory_request")
            .unwrap();
        assert!(
            memory.message.contains("exceeds the limit"),
            "{}",
            memory.message
        );
    }

    #[test]
    fn the_init_zone_needs_a_node_and_storage_is_not_empty() {
        let mut s = spec();
        s.replicas = 0;
        assert_eq!(attributes(&s), vec!["replicas"]);
        s.runs_init = false;
        assert_eq!(
            attributes(&s),
            Vec::<&str>::new(),
            "a drained zone is allowed"
        );
        s.storage_size = "0Gi".into();
        assert_eq!(attributes(&s), vec!["storage_size"]);
        s.storage_size = "100Gi".into();
        s.join_addresses.clear();
        assert_eq!(attributes(&s), vec!["join_addresses"]);
    }

    #[test]
    fn only_the_namespace_and_the_storage_class_force_replacement() {
        let old = spec();
        let mut new = spec();
        new.image = "cockroachdb/cockroach:v25.3.0".into();
        new.replicas = 5;
        new.memory_limit = Some("16Gi".into());
        new.cluster_name = "renamed".into();
        new.storage_size = "200Gi".into();
        assert_eq!(
            old.changes_requiring_replacement(&new),
            Vec::<&str>::new(),
            "volumes grow in place"
        );
        new.storage_class = Some("ssd".into());
        new.zone = "us-east1-c".into();
        assert_eq!(
            old.changes_requiring_replacement(&new),
            vec!["zone", "storage_class"]
        );
    }

    #[test]
    fn private_keys_stay_out_of_debug_output() {
        let shown = format!("{:?}", certificates());
        assert!(
            !shown.contains("NODE KEY") && !shown.contains("ROOT KEY"),
            "{shown}"
        );
        assert!(shown.contains("NODE PEM"));
    }
}
