//! The model and schema of `crdb_dns_link`: one Kubernetes cluster's forwarding of its peer zones'
//! DNS names to their clusters' DNS load balancers.
use crate::framework::schema::Block;
use crate::framework::timeouts::{self, Operation};
use crate::framework::{Attr, Attribute, Schema, Type, Value};
use crate::tf_model;
use std::collections::BTreeMap;

pub const TYPE_NAME: &str = "crdb_dns_link";
/// Detect the DNS server the cluster runs.
pub const DNS_PROVIDER_AUTO: &str = "auto";
pub const DNS_PROVIDERS: [&str; 3] = [DNS_PROVIDER_AUTO, "kube-dns", "coredns"];

tf_model! {
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct DnsLinkModel {
        pub id: Attr<String>,
        pub zone: Attr<String>,
        pub peers: Attr<BTreeMap<String, Attr<String>>>,
        pub peer_protocols: Attr<BTreeMap<String, Attr<String>>>,
        pub cluster_domain: Attr<String>,
        pub dns_provider: Attr<String>,
        pub detected_dns_provider: Attr<String>,
        pub forwarded_zones: Attr<Vec<String>>,
        pub wait_for_ready_replicas: Attr<i64>,
        pub kubernetes: Attr<Value>,
        pub timeouts: Attr<Value>,
    }
}

/// The cluster domain peers are assumed to use when `cluster_domain` is unset.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

impl DnsLinkModel {
    /// The DNS server the configuration names; `auto` (detect) when unset.
    pub fn dns_provider_choice(&self) -> String {
        self.dns_provider
            .known()
            .cloned()
            .unwrap_or_else(|| DNS_PROVIDER_AUTO.into())
    }

    /// The peers' cluster domain.
    pub fn peers_cluster_domain(&self) -> String {
        self.cluster_domain
            .known()
            .cloned()
            .unwrap_or_else(|| DEFAULT_CLUSTER_DOMAIN.into())
    }
}

pub fn schema(connection_block: Block) -> Schema {
    let s = || Type::String;
    Schema {
        version: 0,
        block: Block::new(
            "Cross-cluster DNS for one zone's Kubernetes cluster: forwards every peer zone's \
             `<zone>.svc.<cluster_domain>` names to that zone's DNS load balancer, merged into kube-dns \
             `stubDomains` or CoreDNS server blocks without touching anyone else's entries. Create waits until \
             the zone's CockroachDB nodes are ready, which needs their peers to resolve.",
        )
        .attribute(Attribute::computed("id", s(), "The zone.").keep_prior_value_when_unset())
        .attribute(
            Attribute::required(
                "zone",
                s(),
                "The zone whose Kubernetes cluster this link configures. Its own zone is never forwarded.",
            )
            .requires_replace(),
        )
        .attribute(Attribute::required(
            "peers",
            Type::map(s()),
            "DNS address of every zone, typically `{ for z, r in crdb_region.all : z => r.dns_address }`. The \
             entry for `zone` itself is ignored.",
        ))
        .attribute(
            Attribute::optional_computed(
            "peer_protocols",
            Type::map(s()),
            "The protocol each peer's DNS load balancer serves, `udp` or `tcp`, typically \
             `{ for z, r in crdb_region.all : z => r.dns_protocol }`. A peer not listed is `udp`, unless CoreDNS \
             forwards it with `force_tcp` already (as versions before this attribute wrote for every peer): that \
             forward is kept. A forward with the \
             other protocol gets no answer from a load balancer that serves one (which is all clouds provision \
             reliably): CoreDNS forwards a `tcp` peer with `force_tcp` and a `udp` one with `prefer_udp`; kube-dns \
             asks over UDP only, so a `tcp` peer is refused on a kube-dns cluster. Unset, it shows what the \
             link forwards with.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::optional("cluster_domain", s(), "The Kubernetes cluster DNS domain of the peers.")
                .default(Value::string(DEFAULT_CLUSTER_DOMAIN)),
        )
        .attribute(
            Attribute::optional(
                "dns_provider",
                s(),
                "`auto` (detect), `kube-dns` (stubDomains in `kube-system/kube-dns`) or `coredns` (server blocks in \
                 `kube-system/coredns`, or `coredns-custom` on AKS). `auto` refuses a cluster that runs no DNS pods \
                 (GKE Autopilot, Cloud DNS for GKE) before writing anything: nothing there would answer the peers.",
            )
            .default(Value::string(DNS_PROVIDER_AUTO)),
        )
        .attribute(
            Attribute::computed("detected_dns_provider", s(), "The DNS server found in the cluster.")
                .keep_prior_value_when_unset(),
        )
        .attribute(Attribute::computed(
            "forwarded_zones",
            Type::list(s()),
            "The peer zones this link forwards, as found in the cluster's DNS configuration.",
        ))
        .attribute(
            Attribute::optional(
                "wait_for_ready_replicas",
                Type::Number,
                "How many of the zone's CockroachDB nodes must be ready before create succeeds; 0 skips the wait. \
                 Defaults to every replica of the zone's StatefulSet.",
            ),
        )
        .single_block("kubernetes", connection_block)
        .single_block("timeouts", timeouts::block(&[Operation::Create, Operation::Update, Operation::Delete])),
    }
}
