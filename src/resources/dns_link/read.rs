//! Reading a link back: one fetch of kube-system's DNS objects (shared by read, import and apply),
//! and pure folds of what it shows into the model, so that drift is tested without a server.
use super::model::{DnsLinkModel, DEFAULT_CLUSTER_DOMAIN, DNS_PROVIDER_AUTO};
use super::plan::{flavour, flavour_name, live_tcp_domains, read_forwards};
use crate::cockroach::dns::{self, DnsFlavour, ForwardMap, KubeSystemInventory};
use crate::cockroach::manifests::{self, names, DnsProtocol, Layout};
use crate::cockroach::validate;
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use crate::kubernetes::readiness::load_balancer_address;
use crate::kubernetes::ClusterClient;
use crate::resources::lb_resolver;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use std::collections::{BTreeMap, BTreeSet};

/// kube-system's DNS objects as one read found them.
pub(super) struct DnsSnapshot {
    pub cluster: String,
    pub deployments: Vec<Deployment>,
    pub config_maps: Vec<ConfigMap>,
}

impl DnsSnapshot {
    /// Lists kube-system's Deployments and ConfigMaps, both at once.
    pub async fn fetch(client: &ClusterClient) -> Result<DnsSnapshot, Diagnostics> {
        let (deployments, config_maps) = futures_util::try_join!(
            client.list::<Deployment>(Some(names::KUBE_SYSTEM), ""),
            client.list::<ConfigMap>(Some(names::KUBE_SYSTEM), ""),
        )?;
        Ok(DnsSnapshot {
            cluster: client.label().to_string(),
            deployments,
            config_maps,
        })
    }

    fn config_map(&self, name: &str) -> Option<&ConfigMap> {
        self.config_maps
            .iter()
            .find(|m| m.metadata.name.as_deref() == Some(name))
    }

    fn inventory(&self) -> KubeSystemInventory {
        KubeSystemInventory {
            deployments: self
                .deployments
                .iter()
                .filter_map(|d| d.metadata.name.clone())
                .collect(),
            scaled_to_zero: self
                .deployments
                .iter()
                .filter(|d| d.spec.as_ref().and_then(|s| s.replicas) == Some(0))
                .filter_map(|d| d.metadata.name.clone())
                .collect(),
            config_maps: self
                .config_maps
                .iter()
                .filter_map(|m| m.metadata.name.clone())
                .collect(),
            corefile: self
                .config_map("coredns")
                .and_then(|m| m.data.as_ref()?.get("Corefile").cloned()),
        }
    }

    /// The DNS server `choice` names or detection finds.
    pub fn flavour(&self, choice: &str) -> Result<DnsFlavour, Diagnostics> {
        Ok(flavour(choice, &self.inventory(), &self.cluster)?)
    }

    /// The domains our entries forward over TCP now.
    pub fn live_tcp_domains(&self, flavour: DnsFlavour) -> BTreeSet<String> {
        let empty = BTreeMap::new();
        let data = self
            .config_map(flavour.config_map())
            .and_then(|m| m.data.as_ref())
            .unwrap_or(&empty);
        live_tcp_domains(flavour, data)
    }

    /// The DNS server, and what its configuration forwards now.
    pub fn forwards(&self, choice: &str) -> Result<(DnsFlavour, ForwardMap), Diagnostics> {
        let flavour = self.flavour(choice)?;
        let name = flavour.config_map();
        let empty = BTreeMap::new();
        let data = self
            .config_map(name)
            .and_then(|m| m.data.as_ref())
            .unwrap_or(&empty);
        let forwards = read_forwards(flavour, data).map_err(|why| {
            let mut d = Diagnostics::new();
            d.error(
                format!(
                    "Cannot read ConfigMap {}/{name} on {}",
                    names::KUBE_SYSTEM,
                    self.cluster
                ),
                why.to_string(),
            );
            d
        })?;
        Ok((flavour, forwards))
    }
}

/// The zone's own DNS load balancer as its peers see it.
pub(super) struct OwnDnsLoadBalancer {
    pub address: Option<String>,
    /// `udp` or `tcp`, when the Service serves one protocol.
    pub protocol: Option<String>,
}

/// The address and protocol of the zone's DNS load balancer, under the name either layout gives it.
pub(super) async fn own_dns_load_balancer(
    client: &ClusterClient,
    zone: &str,
) -> Result<OwnDnsLoadBalancer, Diagnostics> {
    for layout in Layout::ALL {
        let service = client
            .get::<Service>(
                Some(names::KUBE_SYSTEM),
                &layout.dns_load_balancer_name(zone),
            )
            .await?;
        if let Some(service) = service.filter(|s| load_balancer_address(s).is_some()) {
            return Ok(OwnDnsLoadBalancer {
                address: lb_resolver::service_dns_ip(Some(&service)).await,
                protocol: manifests::live_dns_protocol(&service)
                    .map(|p| p.attribute_value().to_owned()),
            });
        }
    }
    Ok(OwnDnsLoadBalancer {
        address: None,
        protocol: None,
    })
}

/// A peer's protocol as the live forwarding shows it.
fn live_protocol(domain: &str, over_tcp: &BTreeSet<String>) -> String {
    let protocol = if over_tcp.contains(domain) {
        DnsProtocol::Tcp
    } else {
        DnsProtocol::Udp
    };
    protocol.attribute_value().to_owned()
}

/// The link as the live forwarding shows it: peers whose forwarding is gone or points elsewhere
/// show as drift on `peers`, and `forwarded_zones` keeps only what this link forwarded and still
/// finds.
pub(super) fn fold(
    mut model: DnsLinkModel,
    flavour: DnsFlavour,
    forwards: &ForwardMap,
    over_tcp: &BTreeSet<String>,
) -> DnsLinkModel {
    let domain = model.peers_cluster_domain();
    let zone = model.zone.known().cloned().unwrap_or_default();
    // A forward written with the other protocol (by hand, or before `peer_protocols`) shows as drift.
    if let Attr::Known(protocols) = &mut model.peer_protocols {
        for (peer, protocol) in protocols.iter_mut() {
            let forward = dns::forward_domain(peer, &domain);
            if *peer != zone && forwards.contains_key(&forward) && protocol.known().is_some() {
                *protocol = Attr::Known(live_protocol(&forward, over_tcp));
            }
        }
    }
    if let Attr::Known(peers) = &mut model.peers {
        for (peer, address) in peers.iter_mut() {
            if *peer == zone {
                continue;
            }
            let live_addresses = forwards.get(&dns::forward_domain(peer, &domain));
            match live_addresses {
                Some(list) if address.known().is_some_and(|a| list.contains(a)) => {}
                Some(list) => *address = list.first().cloned().into(),
                None => *address = Attr::Null,
            }
        }
        peers.retain(|peer, address| *peer == zone || !address.is_null());
    }
    let mut forwarded: Vec<String> = forwards
        .keys()
        .filter_map(|d| {
            d.strip_suffix(&format!(".svc.{domain}"))
                .map(str::to_string)
        })
        .filter(|z| {
            model
                .forwarded_zones
                .known()
                .is_some_and(|ours| ours.contains(z))
        })
        .collect();
    forwarded.sort();
    model.forwarded_zones = Attr::Known(forwarded);
    model.detected_dns_provider = Attr::Known(flavour_name(flavour).to_string());
    model
}

/// A link as a cluster's live DNS configuration shows it: every `<zone>.svc.<domain>` it forwards is a peer, and
/// the link owns those entries from now on (a peer the configuration leaves out shows as a removal in the plan).
/// `own_address` is the zone's own DNS address: configurations list every zone in `peers`, their own included
/// (it is never forwarded).
pub(super) fn imported_link(
    zone: &str,
    own: OwnDnsLoadBalancer,
    flavour: DnsFlavour,
    forwards: &ForwardMap,
    over_tcp: &BTreeSet<String>,
) -> DnsLinkModel {
    let domain = DEFAULT_CLUSTER_DOMAIN;
    let mut peers: BTreeMap<String, Attr<String>> = forwards
        .iter()
        .filter_map(|(forwarded, addresses)| {
            let peer = forwarded.strip_suffix(&format!(".svc.{domain}"))?;
            let is_zone = !peer.contains('.') && validate::zone_name(peer).is_ok();
            (is_zone && peer != zone).then(|| (peer.to_string(), addresses.first().cloned().into()))
        })
        .collect();
    let forwarded_zones = peers.keys().cloned().collect();
    let mut protocols: BTreeMap<String, Attr<String>> = peers
        .keys()
        .map(|peer| {
            let forward = dns::forward_domain(peer, domain);
            (peer.clone(), Attr::Known(live_protocol(&forward, over_tcp)))
        })
        .collect();
    if let Some(address) = own.address {
        peers.insert(zone.to_string(), Attr::Known(address));
    }
    if let Some(protocol) = own.protocol {
        protocols.insert(zone.to_string(), Attr::Known(protocol));
    }
    DnsLinkModel {
        id: Attr::Known(zone.to_string()),
        zone: Attr::Known(zone.to_string()),
        forwarded_zones: Attr::Known(forwarded_zones),
        peers: Attr::Known(peers),
        peer_protocols: Attr::Known(protocols),
        cluster_domain: Attr::Known(domain.to_string()),
        dns_provider: Attr::Known(DNS_PROVIDER_AUTO.to_string()),
        detected_dns_provider: Attr::Known(flavour_name(flavour).to_string()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_read_costs_one_round_trip() {
        let (snapshot, rounds) = crate::kubernetes::rounds::count_rounds(|client| async move {
            DnsSnapshot::fetch(&client).await
        })
        .await;
        assert!(snapshot.unwrap().deployments.is_empty());
        assert_eq!(rounds.len(), 1, "{rounds:#?}");
        assert_eq!(rounds[0].len(), 2, "{rounds:#?}");
    }

    fn forwards(entries: &[(&str, &str)]) -> ForwardMap {
        entries
            .iter()
            .map(|(domain, ip)| (domain.to_string(), vec![ip.to_string()]))
            .collect()
    }

    /// The state of the link of zone `a` forwarding `b` and `c`.
    fn linked() -> DnsLinkModel {
        DnsLinkModel {
            zone: Attr::Known("a".into()),
            peers: Attr::Known(
                [("a", "192.0.2.1"), ("b", "192.0.2.2"), ("c", "192.0.2.3")]
                    .into_iter()
                    .map(|(z, ip)| (z.to_string(), Attr::Known(ip.to_string())))
                    .collect(),
            ),
            forwarded_zones: Attr::Known(vec!["b".into(), "c".into()]),
            detected_dns_provider: Attr::Known("kube-dns".into()),
            ..Default::default()
        }
    }

    fn peer(model: &DnsLinkModel, zone: &str) -> Option<Attr<String>> {
        model.peers.known()?.get(zone).cloned()
    }

    #[test]
    fn forwarding_as_written_reads_back_without_drift() {
        let live = forwards(&[
            ("b.svc.cluster.local", "192.0.2.2"),
            ("c.svc.cluster.local", "192.0.2.3"),
            ("corp.example", "192.0.2.250"),
        ]);
        assert_eq!(
            fold(linked(), DnsFlavour::KubeDns, &live, &BTreeSet::new()),
            linked()
        );
    }

    #[test]
    fn forwarding_edited_or_removed_by_hand_shows_on_peers() {
        let live = forwards(&[("b.svc.cluster.local", "198.51.100.7")]);
        let read = fold(linked(), DnsFlavour::CoreDns, &live, &BTreeSet::new());
        assert_eq!(peer(&read, "b"), Some(Attr::Known("198.51.100.7".into())));
        assert_eq!(peer(&read, "c"), None, "a removed entry is a peer to add");
        assert_eq!(
            peer(&read, "a"),
            Some(Attr::Known("192.0.2.1".into())),
            "its own zone stays"
        );
        assert_eq!(read.forwarded_zones, Attr::Known(vec!["b".to_string()]));
        assert_eq!(read.detected_dns_provider, Attr::Known("coredns".into()));
    }

    #[test]
    fn forwarding_someone_else_wrote_is_not_claimed() {
        let live = forwards(&[
            ("b.svc.cluster.local", "192.0.2.2"),
            ("c.svc.cluster.local", "192.0.2.3"),
            ("d.svc.cluster.local", "192.0.2.4"),
        ]);
        let read = fold(linked(), DnsFlavour::KubeDns, &live, &BTreeSet::new());
        assert_eq!(read.forwarded_zones, linked().forwarded_zones);
        assert_eq!(peer(&read, "d"), None);
    }

    #[test]
    fn an_imported_link_claims_the_zone_forwards_it_finds_and_nothing_else() {
        let forwards: ForwardMap = [
            (
                "us-west1-a.svc.cluster.local",
                vec!["192.0.2.1".to_string()],
            ),
            (
                "us-east1-b.svc.cluster.local",
                vec!["192.0.2.2".to_string()],
            ),
            ("corp.example", vec!["192.0.2.250".to_string()]),
            ("db.team.svc.cluster.local", vec!["192.0.2.9".to_string()]),
        ]
        .into_iter()
        .map(|(d, a)| (d.to_string(), a))
        .collect();
        let own = OwnDnsLoadBalancer {
            address: Some("192.0.2.2".into()),
            protocol: Some("udp".into()),
        };
        let over_tcp = BTreeSet::from(["us-west1-a.svc.cluster.local".to_string()]);
        let link = imported_link("us-east1-b", own, DnsFlavour::CoreDns, &forwards, &over_tcp);
        assert_eq!(
            link.peers,
            Attr::Known(
                [
                    (
                        "us-east1-b".to_string(),
                        Attr::Known("192.0.2.2".to_string())
                    ),
                    (
                        "us-west1-a".to_string(),
                        Attr::Known("192.0.2.1".to_string())
                    )
                ]
                .into()
            ),
            "its own zone from its load balancer, never from its forwarding"
        );
        assert_eq!(
            link.forwarded_zones,
            Attr::Known(vec!["us-west1-a".to_string()])
        );
        assert_eq!(
            link.peer_protocols,
            Attr::Known(
                [("us-east1-b", "udp"), ("us-west1-a", "tcp")]
                    .map(|(z, p)| (z.to_string(), Attr::Known(p.to_string())))
                    .into()
            ),
            "its own protocol from its load balancer, the peers' from their forwards"
        );
        assert_eq!(link.detected_dns_provider, Attr::Known("coredns".into()));
        assert!(link.kubernetes.is_null());
    }

    #[test]
    fn a_forward_with_the_other_protocol_shows_as_drift_on_peer_protocols() {
        let mut state = linked();
        state.detected_dns_provider = Attr::Known("coredns".into());
        state.peer_protocols = Attr::Known(
            [("a", "udp"), ("b", "tcp"), ("c", "udp")]
                .map(|(z, p)| (z.to_string(), Attr::Known(p.to_string())))
                .into(),
        );
        let live = forwards(&[
            ("b.svc.cluster.local", "192.0.2.2"),
            ("c.svc.cluster.local", "192.0.2.3"),
        ]);
        let as_written = BTreeSet::from(["b.svc.cluster.local".to_string()]);
        assert_eq!(
            fold(state.clone(), DnsFlavour::CoreDns, &live, &as_written),
            state
        );
        let read = fold(state, DnsFlavour::CoreDns, &live, &BTreeSet::new());
        let protocols = read.peer_protocols.known().unwrap();
        assert_eq!(
            protocols["b"],
            Attr::Known("udp".into()),
            "forced TCP no more"
        );
        assert_eq!(protocols["a"], Attr::Known("udp".into()));
    }
}
