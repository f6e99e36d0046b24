//! The set of peer zones one cluster forwards, checked once so that every renderer can trust it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::error::DnsError;
use crate::cockroach::manifests::DnsProtocol;
use crate::cockroach::validate;

/// Domain -> nameserver addresses, as read back from a live configuration.
pub type ForwardMap = BTreeMap<String, Vec<String>>;

/// The DNS domain of a zone's services: `<zone>.svc.<cluster_domain>`.
pub fn forward_domain(zone: &str, cluster_domain: &str) -> String {
    format!("{zone}.svc.{cluster_domain}")
}

/// Peer zones and the DNS load balancer addresses to forward each to. kube-dns and CoreDNS both forward to IP
/// addresses only, so addresses are typed as such: a load balancer hostname (AWS) must be resolved first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwards {
    cluster_domain: String,
    /// zone -> addresses, without duplicates, in the order given.
    zones: BTreeMap<String, Vec<IpAddr>>,
    /// zone -> the one protocol its DNS load balancer serves, as configured; see [`Forwards::protocol`].
    protocols: BTreeMap<String, DnsProtocol>,
    /// Domains the live configuration forwards over TCP, for the zones whose protocol is not configured.
    live_tcp: std::collections::BTreeSet<String>,
}

impl Forwards {
    /// `local_zones` are the zones this Kubernetes cluster serves itself (usually one); none may be forwarded.
    pub fn new(
        local_zones: &[&str],
        cluster_domain: &str,
        peers: &BTreeMap<String, Vec<IpAddr>>,
    ) -> Result<Forwards, DnsError> {
        validate::dns1123_subdomain(cluster_domain).map_err(|reason| {
            DnsError::InvalidClusterDomain {
                domain: cluster_domain.to_owned(),
                reason: reason.into(),
            }
        })?;
        let mut zones = BTreeMap::new();
        for (zone, addresses) in peers {
            validate::dns1123_label(zone).map_err(|reason| DnsError::InvalidZone {
                zone: zone.clone(),
                reason: reason.into(),
            })?;
            if local_zones.contains(&zone.as_str()) {
                return Err(DnsError::OwnZone(zone.clone()));
            }
            let mut unique: Vec<IpAddr> = Vec::new();
            for address in addresses {
                if !unique.contains(address) {
                    unique.push(*address);
                }
            }
            if unique.is_empty() {
                return Err(DnsError::NoAddresses(zone.clone()));
            }
            zones.insert(zone.clone(), unique);
        }
        Ok(Forwards {
            cluster_domain: cluster_domain.to_owned(),
            zones,
            protocols: BTreeMap::new(),
            live_tcp: Default::default(),
        })
    }

    /// The protocol each peer's DNS load balancer serves (`public` and `gke-internal` ones UDP, `aws-internal` and
    /// `azure-internal` ones TCP): a forward must use it, since the other one gets no answer there.
    pub fn with_protocols(mut self, protocols: &BTreeMap<String, DnsProtocol>) -> Forwards {
        self.protocols = protocols
            .iter()
            .filter(|(zone, _)| self.zones.contains_key(*zone))
            .map(|(zone, protocol)| (zone.clone(), *protocol))
            .collect();
        self
    }

    /// What the live configuration forwards over TCP (`domains`): a zone whose protocol is not configured keeps
    /// forwarding that way, so that a configuration written before `peer_protocols` existed (every CoreDNS peer
    /// forced to TCP, as EKS's TCP load balancers need) is not turned to UDP under its peers.
    pub fn keeping_live_tcp(mut self, domains: std::collections::BTreeSet<String>) -> Forwards {
        self.live_tcp = domains;
        self
    }

    /// The protocol to forward `zone` with: as configured, else TCP where the live forward uses it, else UDP.
    pub fn protocol(&self, zone: &str) -> DnsProtocol {
        match self.protocols.get(zone) {
            Some(protocol) => *protocol,
            None if self
                .live_tcp
                .contains(&forward_domain(zone, &self.cluster_domain)) =>
            {
                DnsProtocol::Tcp
            }
            None => DnsProtocol::Udp,
        }
    }

    /// (zone, domain, addresses) for every peer, sorted by zone.
    pub fn entries(&self) -> impl Iterator<Item = (&str, String, &[IpAddr])> {
        self.zones.iter().map(|(zone, addresses)| {
            (
                zone.as_str(),
                forward_domain(zone, &self.cluster_domain),
                addresses.as_slice(),
            )
        })
    }

    pub fn domains(&self) -> Vec<String> {
        self.entries().map(|(_, domain, _)| domain).collect()
    }

    pub fn cluster_domain(&self) -> &str {
        &self.cluster_domain
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }
}

/// The zones behind the `<zone>.svc.<cluster_domain>` entries of a configuration read back, for comparing with the
/// zones a link is configured with; other domains are left out.
pub fn zones_of(forwards: &ForwardMap, cluster_domain: &str) -> BTreeMap<String, Vec<String>> {
    let suffix = format!(".svc.{cluster_domain}");
    forwards
        .iter()
        .filter_map(|(domain, addresses)| {
            let zone = domain.strip_suffix(&suffix)?;
            validate::dns1123_label(zone).ok()?;
            Some((zone.to_owned(), addresses.clone()))
        })
        .collect()
}

/// Forwards from zone `north` to the given peers and their addresses, for the renderers' tests.
#[cfg(test)]
pub(super) mod for_tests {
    use super::*;

    pub fn forwards(peers: &[(&str, &[&str])]) -> Forwards {
        let peers: BTreeMap<String, Vec<IpAddr>> = peers
            .iter()
            .map(|(zone, ips)| {
                (
                    (*zone).to_owned(),
                    ips.iter().map(|ip| ip.parse().unwrap()).collect(),
                )
            })
            .collect();
        Forwards::new(&["north"], "cluster.local", &peers).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn peers_become_domains_with_unique_addresses() {
        let peers = BTreeMap::from([
            (
                "west".to_owned(),
                vec![ip("203.0.113.1"), ip("203.0.113.1"), ip("203.0.113.9")],
            ),
            ("east".to_owned(), vec![ip("198.51.100.2")]),
        ]);
        let forwards = Forwards::new(&["north"], "cluster.local", &peers).unwrap();
        let entries: Vec<_> = forwards
            .entries()
            .map(|(z, d, a)| (z.to_owned(), d, a.to_vec()))
            .collect();
        assert_eq!(
            entries,
            vec![
                (
                    "east".into(),
                    "east.svc.cluster.local".into(),
                    vec![ip("198.51.100.2")]
                ),
                (
                    "west".into(),
                    "west.svc.cluster.local".into(),
                    vec![ip("203.0.113.1"), ip("203.0.113.9")]
                ),
            ]
        );
    }

    #[test]
    fn read_back_domains_map_to_zones() {
        let read = BTreeMap::from([
            (
                "east.svc.cluster.local".to_owned(),
                vec!["203.0.113.2".to_owned()],
            ),
            ("corp.example".to_owned(), vec!["10.0.0.1".to_owned()]),
            (
                "a.b.svc.cluster.local".to_owned(),
                vec!["10.0.0.2".to_owned()],
            ),
            (
                "west.svc.other.domain".to_owned(),
                vec!["10.0.0.3".to_owned()],
            ),
        ]);
        assert_eq!(
            zones_of(&read, "cluster.local"),
            BTreeMap::from([("east".to_owned(), vec!["203.0.113.2".to_owned()])])
        );
    }

    #[test]
    fn the_own_zone_empty_addresses_and_bad_names_are_rejected() {
        let one =
            |zone: &str, addresses: Vec<IpAddr>| BTreeMap::from([(zone.to_owned(), addresses)]);
        assert_eq!(
            Forwards::new(
                &["north", "east"],
                "cluster.local",
                &one("east", vec![ip("10.0.0.1")])
            ),
            Err(DnsError::OwnZone("east".into()))
        );
        assert!(DnsError::OwnZone("east".into())
            .to_string()
            .contains("loop"));
        assert_eq!(
            Forwards::new(&["north"], "cluster.local", &one("east", vec![])),
            Err(DnsError::NoAddresses("east".into()))
        );
        assert!(matches!(
            Forwards::new(
                &["north"],
                "cluster.local",
                &one("East", vec![ip("10.0.0.1")])
            ),
            Err(DnsError::InvalidZone { .. })
        ));
        assert!(matches!(
            Forwards::new(&["north"], "cluster..local", &BTreeMap::new()),
            Err(DnsError::InvalidClusterDomain { .. })
        ));
    }
}
