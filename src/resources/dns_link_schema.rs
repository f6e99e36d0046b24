//! The schema and typed model of `crdb_dns_link`: one Kubernetes cluster's forwarding of its peer
//! zones' DNS names to their clusters' DNS load balancers.
use super::validate;
use crate::framework::diag::{AttributePath, Diagnostics};
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
            Attribute::optional("cluster_domain", s(), "The Kubernetes cluster DNS domain of the peers.")
                .default(Value::string(DEFAULT_CLUSTER_DOMAIN)),
        )
        .attribute(
            Attribute::optional(
                "dns_provider",
                s(),
                "`auto` (detect), `kube-dns` (stubDomains in `kube-system/kube-dns`) or `coredns` (server blocks in \
                 `kube-system/coredns`, or `coredns-custom` on AKS).",
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

/// The peers a link forwards: every known entry but its own zone.
pub fn forwarded_peers(
    zone: &str,
    peers: &BTreeMap<String, Attr<String>>,
) -> BTreeMap<String, String> {
    peers
        .iter()
        .filter(|(peer, _)| peer.as_str() != zone)
        .filter_map(|(peer, address)| Some((peer.clone(), address.known()?.clone())))
        .collect()
}

pub fn validate(config: &DnsLinkModel, diags: &mut Diagnostics) {
    if let Attr::Known(zone) = &config.zone {
        if let Err(why) = validate::zone_name(zone) {
            diags.attribute_error(AttributePath::root("zone"), "Invalid zone", why);
        }
    }
    if let Attr::Known(peers) = &config.peers {
        for (peer, address) in peers {
            let path = AttributePath::root("peers").key(peer);
            if let Err(why) = validate::zone_name(peer) {
                diags.attribute_error(path.clone(), "Invalid peer zone", why);
            }
            if let Attr::Known(address) = address {
                if address.parse::<std::net::IpAddr>().is_err() {
                    diags.attribute_error(
                        path,
                        "Invalid DNS address",
                        format!(
                            "{address:?} is not an IP address. kube-dns and CoreDNS forward to IP addresses only; \
                             pass the region's `dns_address`."
                        ),
                    );
                }
            }
        }
    }
    if let Attr::Known(domain) = &config.cluster_domain {
        if let Err(why) = validate::dns1123_subdomain(domain) {
            diags.attribute_error(
                AttributePath::root("cluster_domain"),
                "Invalid cluster domain",
                why,
            );
        }
    }
    if let Attr::Known(provider) = &config.dns_provider {
        if !DNS_PROVIDERS.contains(&provider.as_str()) {
            diags.attribute_error(
                AttributePath::root("dns_provider"),
                "Unknown DNS provider",
                format!("{provider:?} is not one of {DNS_PROVIDERS:?}."),
            );
        }
    }
    if let Attr::Known(replicas) = config.wait_for_ready_replicas {
        if replicas < 0 {
            diags.attribute_error(
                AttributePath::root("wait_for_ready_replicas"),
                "Invalid replica count",
                format!("wait_for_ready_replicas must be 0 or more, got {replicas}."),
            );
        }
    }
    timeouts::validate(config.timeouts.known().unwrap_or(&Value::Null), diags);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(entries: &[(&str, Attr<String>)]) -> BTreeMap<String, Attr<String>> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn a_link_never_forwards_its_own_zone_or_unknown_addresses() {
        let all = peers(&[
            ("a", Attr::Known("192.0.2.1".into())),
            ("b", Attr::Known("192.0.2.2".into())),
            ("c", Attr::Unknown),
        ]);
        let forwarded = forwarded_peers("a", &all);
        assert_eq!(
            forwarded.into_iter().collect::<Vec<_>>(),
            vec![("b".to_string(), "192.0.2.2".to_string())]
        );
    }

    #[test]
    fn bad_peers_are_reported_under_their_key() {
        let config = DnsLinkModel {
            zone: Attr::Known("a".into()),
            peers: Attr::Known(peers(&[
                ("B", Attr::Known("192.0.2.1".into())),
                ("c", Attr::Known("dns.example".into())),
            ])),
            dns_provider: Attr::Known("bind".into()),
            ..Default::default()
        };
        let mut diags = Diagnostics::new();
        validate(&config, &mut diags);
        let paths: Vec<String> = diags
            .0
            .iter()
            .map(|d| d.path.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(paths, ["peers[\"B\"]", "peers[\"c\"]", "dns_provider"]);
    }
}
