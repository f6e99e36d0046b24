//! Cluster DNS as the pods see it: what each cluster's DNS servers have loaded (kube-dns stubDomains or CoreDNS
//! server blocks), what names each cluster answers for itself, and name resolution across clusters through the
//! DNS load balancers. Pure: the snapshots are built elsewhere from the stores.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// The forwarding a cluster's DNS servers have loaded: domain -> upstream addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsConfig {
    pub forwards: BTreeMap<String, Vec<String>>,
    /// Domains forwarded over TCP (CoreDNS `force_tcp`). Every other forward asks over UDP: kube-dns (dnsmasq)
    /// does, and so does CoreDNS for the pods' UDP queries (with `prefer_udp`, for their TCP ones too). Retries over
    /// TCP after a truncated UDP answer are not emulated: the emulated answers are never truncated.
    pub tcp_forwards: BTreeSet<String>,
    /// CoreDNS `reload` plugin present: the servers re-read their Corefile by themselves.
    pub reload_plugin: bool,
}

/// kube-dns: `stubDomains` is a JSON object of domain -> list of nameserver IPs. kube-dns rejects the whole
/// ConfigMap when the JSON is invalid or a nameserver is not an IP, keeping no stub domains.
pub fn kube_dns_config(configmap: Option<&Value>) -> Result<DnsConfig, String> {
    let mut cfg = DnsConfig::default();
    let Some(raw) = configmap
        .and_then(|cm| cm.pointer("/data/stubDomains"))
        .and_then(Value::as_str)
    else {
        return Ok(cfg);
    };
    let parsed: BTreeMap<String, Vec<String>> =
        serde_json::from_str(raw).map_err(|e| format!("invalid stubDomains JSON: {e}"))?;
    for (domain, servers) in parsed {
        for s in &servers {
            if host_part(s).parse::<std::net::IpAddr>().is_err() {
                return Err(format!(
                    "stubDomains[{domain}]: nameserver {s:?} is not an IP address"
                ));
            }
        }
        cfg.forwards.insert(
            normalise(&domain),
            servers.iter().map(|s| host_part(s).to_string()).collect(),
        );
    }
    Ok(cfg)
}

/// CoreDNS: the `Corefile` of ConfigMap `coredns`, plus every `*.server` key of `coredns-custom` (the AKS way of
/// adding server blocks). Each server block `<zone>[:53] { ... forward . <ip>... }` forwards that zone.
pub fn coredns_config(coredns: Option<&Value>, custom: Option<&Value>) -> DnsConfig {
    let mut cfg = DnsConfig::default();
    let mut texts = Vec::new();
    if let Some(core) = coredns
        .and_then(|cm| cm.pointer("/data/Corefile"))
        .and_then(Value::as_str)
    {
        texts.push(core.to_string());
    }
    // `coredns-custom` only matters where the Corefile imports it (AKS: `import custom/*.server`).
    let imports_custom = texts.first().is_some_and(|core| {
        core.lines().any(|l| {
            let l = l.trim();
            l.starts_with("import ") && l.contains("custom/") && l.contains(".server")
        })
    });
    if let Some(data) = custom
        .filter(|_| imports_custom)
        .and_then(|cm| cm.get("data"))
        .and_then(Value::as_object)
    {
        for (k, v) in data {
            if k.ends_with(".server") {
                texts.extend(v.as_str().map(str::to_string));
            }
        }
    }
    for text in texts {
        for block in server_blocks(&text) {
            if block
                .directives
                .iter()
                .any(|d| d.first().map(String::as_str) == Some("reload"))
            {
                cfg.reload_plugin = true;
            }
            let upstreams: Vec<String> = block
                .directives
                .iter()
                .filter(|d| d.first().map(String::as_str) == Some("forward") && d.len() >= 3)
                .flat_map(|d| {
                    d[2..]
                        .iter()
                        .map(|t| host_part(t.trim_start_matches("dns://")).to_string())
                })
                // CoreDNS forwards to IP addresses only; a hostname (or /etc/resolv.conf) is not a cluster DNS LB.
                .filter(|t| t.parse::<std::net::IpAddr>().is_ok())
                .collect();
            let force_tcp = block.options.iter().any(|w| w == "force_tcp");
            for zone in &block.zones {
                let zone = normalise(host_part(zone.trim_start_matches("dns://")));
                if zone.is_empty() || upstreams.is_empty() {
                    continue;
                }
                if force_tcp {
                    cfg.tcp_forwards.insert(zone.clone());
                }
                cfg.forwards
                    .entry(zone)
                    .or_default()
                    .extend(upstreams.iter().cloned());
            }
        }
    }
    cfg
}

#[derive(Debug, Default)]
struct ServerBlock {
    zones: Vec<String>,
    /// Top-level directives of the block, each as its words (nested `{}` option blocks dropped).
    directives: Vec<Vec<String>>,
    /// The words of the nested option blocks (`force_tcp` inside `forward . ip { }`).
    options: Vec<String>,
}

fn server_blocks(text: &str) -> Vec<ServerBlock> {
    let mut tokens: Vec<Vec<String>> = Vec::new(); // tokens per line, braces split out
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let spaced = line.replace('{', " { ").replace('}', " } ");
        let words: Vec<String> = spaced.split_whitespace().map(str::to_string).collect();
        if !words.is_empty() {
            tokens.push(words);
        }
    }
    let mut blocks = Vec::new();
    let mut depth = 0usize;
    let mut cur = ServerBlock::default();
    for line in tokens {
        let mut words = Vec::new();
        for w in line {
            match w.as_str() {
                "{" => {
                    if depth == 0 {
                        cur.zones = std::mem::take(&mut words);
                    } else if depth == 1 && !words.is_empty() {
                        cur.directives.push(std::mem::take(&mut words));
                    }
                    depth += 1;
                }
                "}" => {
                    if depth == 1 && !words.is_empty() {
                        cur.directives.push(std::mem::take(&mut words));
                    }
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        blocks.push(std::mem::take(&mut cur));
                    }
                }
                _ if depth <= 1 => words.push(w),
                _ => cur.options.push(w),
            }
        }
        if depth == 1 && !words.is_empty() {
            cur.directives.push(words);
        }
    }
    blocks
}

fn host_part(s: &str) -> &str {
    crate::cockroach::command::host_only(s)
}

fn normalise(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// What one cluster looks like to DNS at one moment.
#[derive(Debug, Clone, Default)]
pub struct ClusterDnsView {
    pub name: String,
    /// The configuration its DNS servers have LOADED (not necessarily what the ConfigMap says now).
    pub loaded: DnsConfig,
    /// At least one DNS pod running: without it nothing resolves in this cluster, and nothing is served to others.
    pub dns_serving: bool,
    /// The platform resolves the cluster's own names for its pods without DNS pods (Cloud DNS for GKE); it still
    /// serves nothing to other clusters through a load balancer, and loads no stub domains.
    pub platform_resolves: bool,
    /// Current addresses of the LoadBalancer Services in kube-system selecting the DNS pods, each with the
    /// protocols its Service's ports serve (`UDP`, `TCP`): a forward asking with another one gets no answer, as
    /// from a cloud load balancer that has no listener for it.
    pub dns_lb_addresses: BTreeMap<String, BTreeSet<String>>,
    /// Fully qualified names this cluster answers itself, mapped to a CNAME target for ExternalName services.
    pub records: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Answered by the pod's own cluster; the fully qualified name found.
    Local(String),
    /// Answered by another cluster's DNS through forwarding; that cluster's name and the fully qualified name.
    Remote {
        cluster: String,
        fqdn: String,
    },
    NotFound(String),
}

impl Resolution {
    pub fn is_found(&self) -> bool {
        !matches!(self, Resolution::NotFound(_))
    }

    pub fn fqdn(&self) -> Option<&str> {
        match self {
            Resolution::Local(f) | Resolution::Remote { fqdn: f, .. } => Some(f),
            Resolution::NotFound(_) => None,
        }
    }

    /// The cluster that holds the answer, given the asking cluster.
    pub fn cluster<'a>(&'a self, asking: &'a str) -> Option<&'a str> {
        match self {
            Resolution::Local(_) => Some(asking),
            Resolution::Remote { cluster, .. } => Some(cluster),
            Resolution::NotFound(_) => None,
        }
    }
}

/// Resolves `name` as a pod in namespace `namespace` of cluster `from` would: search path
/// `<ns>.svc.cluster.local svc.cluster.local cluster.local` (ndots 5), forwarding zones before local answers
/// (a more specific CoreDNS server block / kube-dns stub domain wins), one forwarding hop, a self-pointing or
/// unknown upstream answers nothing.
pub fn resolve(clusters: &[ClusterDnsView], from: &str, namespace: &str, name: &str) -> Resolution {
    let Some(me) = clusters.iter().find(|c| c.name == from) else {
        return Resolution::NotFound(format!("unknown cluster {from}"));
    };
    if !me.dns_serving && !me.platform_resolves {
        return Resolution::NotFound(format!("no DNS pods running in cluster {from}"));
    }
    let name = normalise(name);
    let mut candidates = Vec::new();
    if name.matches('.').count() < 5 {
        for suffix in [
            format!("{namespace}.svc.{CLUSTER_DOMAIN}"),
            format!("svc.{CLUSTER_DOMAIN}"),
            CLUSTER_DOMAIN.to_string(),
        ] {
            candidates.push(format!("{name}.{suffix}"));
        }
    }
    candidates.push(name.clone());
    let mut why = Vec::new();
    for fqdn in candidates {
        match lookup(clusters, me, &fqdn, 0) {
            Ok(Some(found)) => return found,
            Ok(None) => {}
            Err(reason) => why.push(reason),
        }
    }
    let reason = if why.is_empty() {
        format!("{name}: no such host (NXDOMAIN in cluster {from})")
    } else {
        why.join("; ")
    };
    Resolution::NotFound(reason)
}

fn lookup(
    clusters: &[ClusterDnsView],
    me: &ClusterDnsView,
    fqdn: &str,
    depth: u8,
) -> Result<Option<Resolution>, String> {
    if depth > 3 {
        return Err(format!("{fqdn}: CNAME chain too long"));
    }
    let forward = me
        .loaded
        .forwards
        .iter()
        .filter(|(domain, _)| fqdn == domain.as_str() || fqdn.ends_with(&format!(".{domain}")))
        .max_by_key(|(domain, _)| domain.len());
    if let Some((domain, upstreams)) = forward {
        let asks = if me.loaded.tcp_forwards.contains(domain) {
            "TCP"
        } else {
            "UDP"
        };
        let mut unanswered = Vec::new();
        for ip in upstreams {
            let Some((target, served)) = clusters
                .iter()
                .find_map(|c| Some((c, c.dns_lb_addresses.get(ip)?)))
            else {
                continue;
            };
            if !served.contains(asks) {
                unanswered.push(format!(
                    "{ip} in cluster {} serves {} only and the forward asks over {asks}",
                    target.name,
                    served.iter().cloned().collect::<Vec<_>>().join(" and ")
                ));
                continue;
            }
            if target.name == me.name {
                // The cluster would forward the query to itself again: a loop CoreDNS/dnsmasq answer with SERVFAIL.
                continue;
            }
            if !target.dns_serving {
                continue;
            }
            if let Some(found) = answer(clusters, target, fqdn, depth)? {
                return Ok(Some(match found {
                    Resolution::Local(f) => Resolution::Remote {
                        cluster: target.name.clone(),
                        fqdn: f,
                    },
                    other => other,
                }));
            }
        }
        if !unanswered.is_empty() {
            return Err(format!(
                "{fqdn}: forwarded for {domain} in cluster {}, unanswered: {}",
                me.name,
                unanswered.join("; ")
            ));
        }
        return Err(format!(
            "{fqdn}: forwarded for {domain} to {upstreams:?} in cluster {}, which did not answer (no other cluster's current DNS load balancer has that address, it points back at this cluster, or the name does not exist there)",
            me.name
        ));
    }
    answer(clusters, me, fqdn, depth)
}

/// The cluster's own (kubernetes plugin) answer, following an ExternalName CNAME inside the asking cluster.
fn answer(
    clusters: &[ClusterDnsView],
    c: &ClusterDnsView,
    fqdn: &str,
    depth: u8,
) -> Result<Option<Resolution>, String> {
    match c.records.get(fqdn) {
        None => Ok(None),
        Some(None) => Ok(Some(Resolution::Local(fqdn.to_string()))),
        Some(Some(target)) => lookup(clusters, c, &normalise(target), depth + 1),
    }
}

/// The namespace a `*.svc.cluster.local` name points into (`a.b.<ns>.svc.cluster.local` -> `<ns>`).
pub fn namespace_of(fqdn: &str) -> Option<&str> {
    let rest = fqdn.strip_suffix(&format!(".svc.{CLUSTER_DOMAIN}"))?;
    rest.rsplit('.').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(name: &str, lb: &str, forwards: &[(&str, &str)], records: &[&str]) -> ClusterDnsView {
        ClusterDnsView {
            name: name.into(),
            loaded: DnsConfig {
                forwards: forwards
                    .iter()
                    .map(|(d, ip)| (d.to_string(), vec![ip.to_string()]))
                    .collect(),
                tcp_forwards: BTreeSet::new(),
                reload_plugin: false,
            },
            dns_serving: true,
            platform_resolves: false,
            dns_lb_addresses: [(
                lb.to_string(),
                ["UDP".to_string(), "TCP".to_string()].into(),
            )]
            .into(),
            records: records.iter().map(|r| (r.to_string(), None)).collect(),
        }
    }

    fn three() -> Vec<ClusterDnsView> {
        vec![
            view(
                "a",
                "203.0.113.1",
                &[("east.svc.cluster.local", "203.0.113.2")],
                &["cockroachdb-0.cockroachdb.west.svc.cluster.local"],
            ),
            view(
                "b",
                "203.0.113.2",
                &[("west.svc.cluster.local", "203.0.113.1")],
                &["cockroachdb-0.cockroachdb.east.svc.cluster.local"],
            ),
            view(
                "c",
                "203.0.113.3",
                &[("east.svc.cluster.local", "203.0.113.3")],
                &[],
            ),
        ]
    }

    #[test]
    fn same_namespace_names_resolve_locally() {
        let r = resolve(&three(), "a", "west", "cockroachdb-0.cockroachdb.west");
        assert_eq!(
            r,
            Resolution::Local("cockroachdb-0.cockroachdb.west.svc.cluster.local".into())
        );
        assert!(resolve(&three(), "a", "west", "cockroachdb-0.cockroachdb").is_found());
    }

    #[test]
    fn other_zones_resolve_through_the_peer_dns_lb() {
        let r = resolve(&three(), "a", "west", "cockroachdb-0.cockroachdb.east");
        assert_eq!(
            r,
            Resolution::Remote {
                cluster: "b".into(),
                fqdn: "cockroachdb-0.cockroachdb.east.svc.cluster.local".into()
            }
        );
    }

    #[test]
    fn a_forward_asking_with_a_protocol_the_load_balancer_does_not_serve_gets_no_answer() {
        let name = "cockroachdb-0.cockroachdb.west";
        let only = |p: &str| [p.to_string()].into_iter().collect::<BTreeSet<_>>();
        let mut cs = three();
        cs[0].dns_lb_addresses = [("203.0.113.1".to_string(), only("UDP"))].into();
        assert!(resolve(&cs, "b", "default", name).is_found(), "UDP to UDP");
        cs[1]
            .loaded
            .tcp_forwards
            .insert("west.svc.cluster.local".into());
        let Resolution::NotFound(why) = resolve(&cs, "b", "default", name) else {
            panic!("force_tcp to a UDP-only load balancer answered");
        };
        assert!(
            why.contains("serves UDP only and the forward asks over TCP"),
            "{why}"
        );
        cs[0].dns_lb_addresses = [("203.0.113.1".to_string(), only("TCP"))].into();
        assert!(resolve(&cs, "b", "default", name).is_found(), "TCP to TCP");
        cs[1].loaded.tcp_forwards.clear();
        assert!(
            !resolve(&cs, "b", "default", name).is_found(),
            "UDP to TCP-only"
        );
    }

    #[test]
    fn missing_stub_domain_does_not_resolve() {
        assert!(!resolve(&three(), "b", "east", "cockroachdb-0.cockroachdb.north").is_found());
    }

    #[test]
    fn self_pointing_entry_does_not_resolve() {
        let r = resolve(&three(), "c", "north", "cockroachdb-0.cockroachdb.east");
        assert!(!r.is_found(), "{r:?}");
    }

    #[test]
    fn stale_address_does_not_resolve() {
        let mut cs = three();
        cs[1].dns_lb_addresses = [("203.0.113.9".to_string(), ["UDP".to_string()].into())].into();
        assert!(!resolve(&cs, "a", "west", "cockroachdb-0.cockroachdb.east").is_found());
    }

    #[test]
    fn dns_pods_down_means_nothing_resolves() {
        let mut cs = three();
        cs[1].dns_serving = false;
        assert!(!resolve(&cs, "a", "west", "cockroachdb-0.cockroachdb.east").is_found());
        assert!(!resolve(&cs, "b", "east", "cockroachdb-0.cockroachdb.east").is_found());
    }

    #[test]
    fn a_platform_resolving_cluster_answers_its_own_pods_but_not_peers_through_its_load_balancer() {
        let mut cs = three();
        cs[1].dns_serving = false;
        cs[1].platform_resolves = true;
        assert!(resolve(&cs, "b", "east", "cockroachdb-0.cockroachdb.east").is_found());
        assert!(!resolve(&cs, "a", "west", "cockroachdb-0.cockroachdb.east").is_found());
    }

    #[test]
    fn external_name_follows_into_the_zone() {
        let mut cs = three();
        cs[1].records.insert(
            "cockroachdb-0.cockroachdb.east.svc.cluster.local".into(),
            None,
        );
        cs[0].records.insert(
            "cockroachdb-public.default.svc.cluster.local".into(),
            Some("cockroachdb-0.cockroachdb.east.svc.cluster.local".into()),
        );
        assert!(resolve(&cs, "a", "default", "cockroachdb-public").is_found());
    }

    #[test]
    fn kube_dns_stub_domains_parse_and_reject_hostnames() {
        let cm =
            json!({"data": {"stubDomains": "{\"east.svc.cluster.local\": [\"203.0.113.2\"]}"}});
        let cfg = kube_dns_config(Some(&cm)).unwrap();
        assert_eq!(cfg.forwards["east.svc.cluster.local"], vec!["203.0.113.2"]);
        let bad =
            json!({"data": {"stubDomains": "{\"east.svc.cluster.local\": [\"lb.example.com\"]}"}});
        assert!(kube_dns_config(Some(&bad)).is_err());
        assert!(kube_dns_config(Some(&json!({"data": {"stubDomains": "{"}}))).is_err());
        assert_eq!(kube_dns_config(None).unwrap(), DnsConfig::default());
    }

    #[test]
    fn corefile_server_blocks_parse() {
        let corefile = r#"
.:53 {
    errors
    health { lameduck 5s }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
}
east.svc.cluster.local:53 {
    errors
    cache 30
    forward . 203.0.113.2 198.51.100.7 {
        force_tcp
    }
}
west.svc.cluster.local:53 { forward . lb.example.com }
"#;
        let cm = json!({"data": {"Corefile": format!("import custom/*.server\n{corefile}")}});
        let custom = json!({"data": {"north.server": "north.svc.cluster.local:53 {\n forward . 192.0.2.5\n}\n"}});
        let cfg = coredns_config(Some(&cm), Some(&custom));
        assert!(cfg.reload_plugin);
        assert_eq!(
            cfg.forwards["east.svc.cluster.local"],
            vec!["203.0.113.2", "198.51.100.7"]
        );
        assert_eq!(cfg.forwards["north.svc.cluster.local"], vec!["192.0.2.5"]);
        assert!(
            !cfg.forwards.contains_key("west.svc.cluster.local"),
            "hostnames are not forwarded to"
        );
        assert!(!cfg.forwards.contains_key("."));
        assert_eq!(
            cfg.tcp_forwards.iter().collect::<Vec<_>>(),
            ["east.svc.cluster.local"],
            "force_tcp read from the forward's options"
        );
        let eks = json!({"data": {"Corefile": corefile}});
        let cfg = coredns_config(Some(&eks), Some(&custom));
        assert!(
            !cfg.forwards.contains_key("north.svc.cluster.local"),
            "coredns-custom is ignored unless imported"
        );
    }

    #[test]
    fn namespace_of_service_names() {
        assert_eq!(
            namespace_of("cockroachdb-0.cockroachdb.east.svc.cluster.local"),
            Some("east")
        );
        assert_eq!(namespace_of("example.com"), None);
    }
}
