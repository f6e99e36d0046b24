//! Validation and plan decisions of `crdb_dns_link`, and the pure edits of a DNS configuration that
//! apply writes: no I/O.
use super::model::{DnsLinkModel, DNS_PROVIDERS};
use crate::cockroach::dns::{
    self, DnsError, DnsFlavour, ForwardMap, Forwards, KubeSystemInventory,
};
use crate::cockroach::manifests::DnsProtocol;
use crate::cockroach::validate;
use crate::cockroach::validate::{refuse, Invalid};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::timeouts;
use crate::framework::Attr;
use crate::resources::{checks, connection};
use std::collections::BTreeMap;
use std::net::IpAddr;

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

pub(super) fn validate(config: &DnsLinkModel, diags: &mut Diagnostics) {
    diags.check_known(&config.zone, "zone", "Invalid zone", |v| {
        validate::zone_name(v)
    });
    if let Attr::Known(peers) = &config.peers {
        for (peer, address) in peers {
            let path = AttributePath::root("peers").key(peer);
            if let Err(why) = validate::zone_name(peer) {
                diags.attribute_error(path.clone(), "Invalid peer zone", why);
            }
            if let Attr::Known(address) = address {
                if let Err(why) = peer_address(address) {
                    diags.attribute_error(path, "Invalid DNS address", why);
                }
            }
        }
    }
    if let Attr::Known(protocols) = &config.peer_protocols {
        let kube_dns = config.dns_provider.known().map(String::as_str) == Some("kube-dns");
        for (peer, protocol) in protocols {
            let path = AttributePath::root("peer_protocols").key(peer);
            match protocol.known().map(|p| (p, DnsProtocol::parse_attribute(p))) {
                Some((text, None)) => diags.attribute_error(
                    path,
                    "Invalid DNS protocol",
                    format!("{text:?} is neither \"udp\" nor \"tcp\"; pass the region's `dns_protocol`."),
                ),
                Some((_, Some(DnsProtocol::Tcp))) if kube_dns => diags.attribute_error(
                    path,
                    "kube-dns cannot forward to this peer",
                    DnsError::TcpPeerForKubeDns(peer.clone()).to_string(),
                ),
                _ => {}
            }
        }
    }
    checks::cluster_domain(&config.cluster_domain, diags);
    diags.check_known(
        &config.dns_provider,
        "dns_provider",
        "Unknown DNS provider",
        |p| validate::one_of(p, &DNS_PROVIDERS),
    );
    diags.check_known(
        &config.wait_for_ready_replicas,
        "wait_for_ready_replicas",
        "Invalid replica count",
        |n| validate::within("wait_for_ready_replicas", *n, 0, validate::MAX_REPLICAS),
    );
    timeouts::validate(&config.timeouts, diags);
    connection::validate(&config.kubernetes, diags);
}

/// A peer's DNS server: an address a query can be sent to.
fn peer_address(address: &str) -> Result<IpAddr, Invalid> {
    let ip: IpAddr = address.parse().map_err(|_| {
        format!(
            "{address:?} is not an IP address. kube-dns and CoreDNS forward to IP addresses only; pass the \
             region's `dns_address`."
        )
    })?;
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if ip.is_unspecified() || ip.is_multicast() || broadcast {
        return refuse(format!(
            "{address:?} is not the address of one server (it is unspecified, multicast or broadcast); pass the \
             region's `dns_address`."
        ));
    }
    Ok(ip)
}

/// The values derived from the configuration, so that they show in the plan. `peer_protocols` left unset is
/// what apply writes: the prior value while the forwarded zones stay the same, else known after apply.
pub(super) fn plan(
    prior: Option<&DnsLinkModel>,
    config: &DnsLinkModel,
    planned: &mut DnsLinkModel,
) {
    planned.id = planned.zone.clone();
    planned.forwarded_zones = match (&planned.zone, &planned.peers) {
        (Attr::Known(zone), Attr::Known(peers)) if peers.values().all(|a| !a.is_unknown()) => {
            Attr::Known(forwarded_peers(zone, peers).into_keys().collect())
        }
        _ => Attr::Unknown,
    };
    let same_zones = prior.is_some_and(|p| p.forwarded_zones == planned.forwarded_zones);
    if config.peer_protocols.is_null() && !(same_zones && planned.peer_protocols.known().is_some())
    {
        planned.peer_protocols = Attr::Unknown;
    }
}

/// The peers to forward, with their addresses.
pub(super) fn peer_addresses(model: &DnsLinkModel) -> BTreeMap<String, Vec<IpAddr>> {
    let zone = model.zone.known().cloned().unwrap_or_default();
    let peers = model.peers.known().cloned().unwrap_or_default();
    forwarded_peers(&zone, &peers)
        .into_iter()
        .filter_map(|(peer, address)| Some((peer, vec![address.parse().ok()?])))
        .collect()
}

/// The protocol of every peer whose `peer_protocols` entry is known and valid; the rest forward over UDP.
pub(super) fn peer_protocols(model: &DnsLinkModel) -> BTreeMap<String, DnsProtocol> {
    model
        .peer_protocols
        .known()
        .into_iter()
        .flatten()
        .filter_map(|(peer, p)| Some((peer.clone(), DnsProtocol::parse_attribute(p.known()?)?)))
        .collect()
}

/// The link's forwards, refused where a peer's load balancer cannot answer the cluster's DNS server: the
/// diagnostic names the peer's `peer_protocols` entry.
pub(super) fn forwards_for(
    model: &DnsLinkModel,
    flavour: DnsFlavour,
) -> Result<Forwards, Diagnostics> {
    let zone = model.zone.known().cloned().unwrap_or_default();
    let peers = peer_addresses(model);
    let mut diags = Diagnostics::new();
    let forwards = match Forwards::new(&[zone.as_str()], &model.peers_cluster_domain(), &peers) {
        Ok(forwards) => forwards.with_protocols(&peer_protocols(model)),
        Err(e) => {
            diags.attribute_error(AttributePath::root("peers"), "Invalid peers", e.to_string());
            return Err(diags);
        }
    };
    if flavour == DnsFlavour::KubeDns {
        for (peer, _, _) in forwards.entries() {
            if forwards.protocol(peer) == DnsProtocol::Tcp {
                diags.attribute_error(
                    AttributePath::root("peer_protocols").key(peer),
                    "kube-dns cannot forward to this peer",
                    format!(
                        "{}. Nothing was written.",
                        DnsError::TcpPeerForKubeDns(peer.to_owned())
                    ),
                );
            }
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(forwards)
}

/// The forward domains of the zones this link forwarded before (`prior`) and no longer does.
pub(super) fn retired_domains(
    prior: Option<&DnsLinkModel>,
    peers: &BTreeMap<String, Vec<IpAddr>>,
    domain: &str,
) -> Vec<String> {
    prior
        .and_then(|p| p.forwarded_zones.known().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|z| !peers.contains_key(z))
        .map(|z| dns::forward_domain(&z, domain))
        .collect()
}

/// Every forward domain a link being destroyed may have written: what it forwarded and what its
/// peers name, never its own zone.
pub(super) fn all_domains(model: &DnsLinkModel) -> Vec<String> {
    let zone = model.zone.known().cloned().unwrap_or_default();
    let domain = model.peers_cluster_domain();
    let mut zones: Vec<String> = model.forwarded_zones.known().cloned().unwrap_or_default();
    zones.extend(peer_addresses(model).into_keys());
    zones.retain(|z| *z != zone);
    zones.sort();
    zones.dedup();
    zones
        .iter()
        .map(|z| dns::forward_domain(z, &domain))
        .collect()
}

/// Why the DNS server cannot be told: nothing recognisable in kube-system and no choice made.
#[derive(Debug, thiserror::Error)]
#[error("Cannot tell which DNS server {cluster} runs")]
pub(super) struct UndetectedDns {
    pub cluster: String,
    pub source: DnsError,
}

impl From<UndetectedDns> for Diagnostics {
    fn from(e: UndetectedDns) -> Self {
        let (summary, fix) = match e.source {
            DnsError::NoDnsPods => (
                format!("{} has no DNS pods to forward peer zones", e.cluster),
                "Run the cluster with kube-dns: on GKE Standard, `dns_config { cluster_dns = \"KUBE_DNS\" }` \
                 on the google_container_cluster (Autopilot clusters cannot, use Standard ones); see \
                 docs/guides/gke.md. Nothing was written. If DNS pods do run under other names, set dns_provider to \
                 \"kube-dns\" or \"coredns\" to write there anyway."
                    .to_string(),
            ),
            _ => (
                e.to_string(),
                "Set dns_provider to \"kube-dns\" or \"coredns\".".to_string(),
            ),
        };
        Diagnostics::with_attribute_error(
            AttributePath::root("dns_provider"),
            summary,
            format!("{}. {fix}", e.source),
        )
    }
}

/// Which DNS server the cluster runs: as configured (`choice`), or detected from kube-system.
pub(super) fn flavour(
    choice: &str,
    inventory: &KubeSystemInventory,
    cluster: &str,
) -> Result<DnsFlavour, UndetectedDns> {
    match (choice, dns::detect_dns_flavour(inventory)) {
        ("kube-dns", _) => Ok(DnsFlavour::KubeDns),
        ("coredns", Ok(flavour @ (DnsFlavour::CoreDns | DnsFlavour::CoreDnsCustom))) => Ok(flavour),
        ("coredns", _) => Ok(DnsFlavour::CoreDns),
        (_, Ok(flavour)) => Ok(flavour),
        (_, Err(source)) => Err(UndetectedDns {
            cluster: cluster.to_string(),
            source,
        }),
    }
}

pub(super) fn flavour_name(flavour: DnsFlavour) -> &'static str {
    match flavour {
        DnsFlavour::KubeDns => "kube-dns",
        DnsFlavour::CoreDns | DnsFlavour::CoreDnsCustom => "coredns",
    }
}

/// What a DNS configuration's data forwards now, domain by domain.
pub(super) fn read_forwards(
    flavour: DnsFlavour,
    data: &BTreeMap<String, String>,
) -> Result<ForwardMap, DnsError> {
    match flavour {
        DnsFlavour::KubeDns => {
            dns::read_stub_domains(data.get(dns::STUB_DOMAINS_KEY).map(String::as_str))
        }
        DnsFlavour::CoreDns => Ok(dns::read_corefile_forwards(
            data.get("Corefile").map(String::as_str).unwrap_or(""),
        )),
        DnsFlavour::CoreDnsCustom => Ok(dns::read_coredns_custom_forwards(data)),
    }
}

/// The ConfigMap's data with our entries set to `forwards` and the domains in `retired` removed.
pub(super) fn edited_data(
    flavour: DnsFlavour,
    data: &BTreeMap<String, String>,
    forwards: &Forwards,
    retired: &[String],
) -> Result<BTreeMap<String, String>, DnsError> {
    let mut data = data.clone();
    match flavour {
        DnsFlavour::KubeDns => {
            let existing = data.get(dns::STUB_DOMAINS_KEY).cloned();
            let kept = dns::remove_stub_domains(existing.as_deref(), retired)?;
            let merged = if forwards.is_empty() {
                kept
            } else {
                Some(dns::merge_stub_domains(kept.as_deref(), forwards)?)
            };
            match merged {
                Some(json) => data.insert(dns::STUB_DOMAINS_KEY.to_string(), json),
                None => data.remove(dns::STUB_DOMAINS_KEY),
            };
        }
        DnsFlavour::CoreDns => {
            let corefile = data.get("Corefile").cloned().unwrap_or_default();
            let forwards = forwards
                .clone()
                .keeping_live_tcp(live_tcp_domains(flavour, &data));
            let kept = dns::remove_from_corefile(&corefile, retired);
            let merged = dns::merge_corefile(&kept, &forwards)?;
            data.insert("Corefile".to_string(), merged);
        }
        DnsFlavour::CoreDnsCustom => {
            let forwards = forwards
                .clone()
                .keeping_live_tcp(live_tcp_domains(flavour, &data));
            data.retain(|key, _| !(key.starts_with("crdb-") && key.ends_with(".server")));
            data.extend(dns::coredns_custom_entries(&forwards));
        }
    }
    Ok(data)
}

/// The domains our entries in a DNS configuration's data forward over TCP (CoreDNS `force_tcp`; kube-dns never).
pub(super) fn live_tcp_domains(
    flavour: DnsFlavour,
    data: &BTreeMap<String, String>,
) -> std::collections::BTreeSet<String> {
    match flavour {
        DnsFlavour::KubeDns => Default::default(),
        DnsFlavour::CoreDns => {
            dns::domains_forwarded_over_tcp(data.get("Corefile").map(String::as_str).unwrap_or(""))
        }
        DnsFlavour::CoreDnsCustom => data
            .iter()
            .filter(|(key, _)| key.starts_with("crdb-") && key.ends_with(".server"))
            .flat_map(|(_, text)| dns::domains_forwarded_over_tcp(text))
            .collect(),
    }
}

/// `peer_protocols` as a forwarding shows it: each forwarded zone's protocol.
pub(super) fn protocols_of(forwards: &Forwards) -> BTreeMap<String, Attr<String>> {
    forwards
        .entries()
        .map(|(zone, _, _)| {
            let protocol = forwards.protocol(zone).attribute_value().to_owned();
            (zone.to_owned(), Attr::Known(protocol))
        })
        .collect()
}

/// Whether a Corefile has CoreDNS reload it by itself when it changes.
pub(super) fn corefile_reloads(corefile: &str) -> bool {
    corefile
        .lines()
        .any(|line| line.trim() == "reload" || line.trim().starts_with("reload "))
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
    fn a_cluster_without_dns_pods_fails_with_the_fix_unless_a_provider_is_named() {
        let mut cloud_dns = KubeSystemInventory {
            deployments: ["kube-dns".to_string()].into(),
            config_maps: ["kube-dns".to_string()].into(),
            ..Default::default()
        };
        cloud_dns.scaled_to_zero.insert("kube-dns".into());
        let diags: Diagnostics = flavour("auto", &cloud_dns, "autopilot-east")
            .unwrap_err()
            .into();
        let d = &diags.0[0];
        assert_eq!(
            d.summary,
            "autopilot-east has no DNS pods to forward peer zones"
        );
        for needed in [
            "Cloud DNS for GKE",
            "35.199.192.0/19",
            "KUBE_DNS",
            "Nothing was written",
        ] {
            assert!(d.detail.contains(needed), "{needed}: {}", d.detail);
        }
        assert_eq!(
            flavour("kube-dns", &cloud_dns, "autopilot-east").unwrap(),
            DnsFlavour::KubeDns
        );
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
                ("d", Attr::Known("0.0.0.0".into())),
                ("e", Attr::Known("224.0.0.251".into())),
                ("f", Attr::Known("255.255.255.255".into())),
                ("g", Attr::Known("fd00::53".into())),
            ])),
            dns_provider: Attr::Known("bind".into()),
            wait_for_ready_replicas: Attr::Known(1_000_000_000_000),
            ..Default::default()
        };
        let paths = Diagnostics::of_check(|diags| validate(&config, diags)).attribute_paths();
        assert_eq!(
            paths,
            [
                "peers[\"B\"]",
                "peers[\"c\"]",
                "peers[\"d\"]",
                "peers[\"e\"]",
                "peers[\"f\"]",
                "dns_provider",
                "wait_for_ready_replicas",
                "kubernetes"
            ]
        );
    }

    #[test]
    fn peer_protocols_are_checked_and_kube_dns_refuses_a_tcp_only_peer() {
        let mut config = DnsLinkModel {
            zone: Attr::Known("a".into()),
            peers: Attr::Known(peers(&[
                ("b", Attr::Known("192.0.2.2".into())),
                ("c", Attr::Known("192.0.2.3".into())),
            ])),
            peer_protocols: Attr::Known(peers(&[
                ("b", Attr::Known("tcp".into())),
                ("c", Attr::Known("sctp".into())),
            ])),
            dns_provider: Attr::Known("kube-dns".into()),
            ..Default::default()
        };
        let paths = Diagnostics::of_check(|diags| validate(&config, diags)).attribute_paths();
        assert_eq!(
            paths,
            [
                "peer_protocols[\"b\"]",
                "peer_protocols[\"c\"]",
                "kubernetes"
            ]
        );
        let refused = forwards_for(&config, DnsFlavour::KubeDns).unwrap_err();
        assert_eq!(refused.attribute_paths(), ["peer_protocols[\"b\"]"]);
        assert!(
            refused.0[0].detail.contains("serves TCP only"),
            "{refused:?}"
        );
        let forwards = forwards_for(&config, DnsFlavour::CoreDns).unwrap();
        assert_eq!(forwards.protocol("b"), DnsProtocol::Tcp);
        assert_eq!(
            forwards.protocol("c"),
            DnsProtocol::Udp,
            "invalid or unset: UDP"
        );
        config.dns_provider = Attr::Known("coredns".into());
        let paths = Diagnostics::of_check(|diags| validate(&config, diags)).attribute_paths();
        assert_eq!(paths, ["peer_protocols[\"c\"]", "kubernetes"]);
    }

    #[test]
    fn a_coredns_forward_left_over_tcp_stays_tcp_until_peer_protocols_says_otherwise() {
        let peers = BTreeMap::from([("b".to_string(), vec!["192.0.2.2".parse().unwrap()])]);
        let forwards = Forwards::new(&["a"], "cluster.local", &peers).unwrap();
        // What versions before peer_protocols wrote for every peer.
        let corefile = ".:53 {\n    forward . /etc/resolv.conf\n}\n\n# terraform-provider-crdb: forwards b.svc.cluster.local\nb.svc.cluster.local:53 {\n    errors\n    cache 30\n    forward . 192.0.2.2 {\n        force_tcp\n    }\n}\n";
        let data = BTreeMap::from([("Corefile".to_string(), corefile.to_string())]);
        let kept = edited_data(DnsFlavour::CoreDns, &data, &forwards, &[]).unwrap();
        assert_eq!(
            kept, data,
            "unconfigured: the live TCP forward is kept as it is"
        );
        let udp = BTreeMap::from([("b".to_string(), DnsProtocol::Udp)]);
        let turned = edited_data(
            DnsFlavour::CoreDns,
            &data,
            &forwards.with_protocols(&udp),
            &[],
        )
        .unwrap();
        assert!(
            turned["Corefile"].contains("prefer_udp") && !turned["Corefile"].contains("force_tcp")
        );
    }

    #[test]
    fn an_edit_keeps_other_entries_and_drops_only_retired_ones() {
        let peers = BTreeMap::from([("b".to_string(), vec!["192.0.2.2".parse().unwrap()])]);
        let forwards = Forwards::new(&["a"], "cluster.local", &peers).unwrap();
        let data = BTreeMap::from([(
            dns::STUB_DOMAINS_KEY.to_string(),
            r#"{"corp.example":["192.0.2.250"],"c.svc.cluster.local":["192.0.2.3"]}"#.to_string(),
        )]);
        let retired = vec![dns::forward_domain("c", "cluster.local")];
        let edited = edited_data(DnsFlavour::KubeDns, &data, &forwards, &retired).unwrap();
        let live = read_forwards(DnsFlavour::KubeDns, &edited).unwrap();
        assert_eq!(
            live.keys().collect::<Vec<_>>(),
            ["b.svc.cluster.local", "corp.example"]
        );
        let unparsable = BTreeMap::from([(dns::STUB_DOMAINS_KEY.to_string(), "[".to_string())]);
        assert!(matches!(
            edited_data(DnsFlavour::KubeDns, &unparsable, &forwards, &retired),
            Err(DnsError::UnparsableStubDomains(_))
        ));
    }

    #[test]
    fn the_dns_server_is_the_one_named_or_else_the_one_found() {
        let nothing = KubeSystemInventory::default();
        assert_eq!(
            flavour("kube-dns", &nothing, "c").unwrap(),
            DnsFlavour::KubeDns
        );
        assert_eq!(
            flavour("coredns", &nothing, "c").unwrap(),
            DnsFlavour::CoreDns
        );
        let undetected = flavour("auto", &nothing, "https://10.0.0.1").unwrap_err();
        let diags = Diagnostics::from(undetected);
        assert_eq!(
            diags.0[0].summary,
            "Cannot tell which DNS server https://10.0.0.1 runs"
        );
        assert_eq!(
            diags.0[0].path.as_ref().unwrap().to_string(),
            "dns_provider"
        );
    }

    #[test]
    fn coredns_restarts_only_without_reload() {
        assert!(corefile_reloads(".:53 {\n    errors\n    reload\n}\n"));
        assert!(corefile_reloads(".:53 {\n    reload 10s\n}\n"));
        assert!(!corefile_reloads(".:53 {\n    errors\n}\n"));
    }
}
