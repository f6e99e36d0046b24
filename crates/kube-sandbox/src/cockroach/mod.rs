//! CockroachDB emulation: what `cockroach start` and `cockroach init` would do inside the sandbox's pods, and the
//! cross-cluster DNS they depend on.

pub mod certs;
pub mod cluster;
pub mod clusters;
pub mod command;
pub mod dns;
pub mod duration;
pub mod http;
pub mod lease_table;
pub mod metrics;
pub mod mounts;
pub mod network;
pub mod node;
pub mod recorder;
pub mod replication;
pub mod sql;
pub mod version;

use serde_json::Value;

use crate::controllers::dns_reload::{is_dns_lb, DNS_LABEL};
use crate::controllers::meta;
use crate::store::resource_type;
use crate::world::World;
use dns::{ClusterDnsView, CLUSTER_DOMAIN};

/// DNS as every cluster of the world sees it right now.
pub fn dns_views(world: &World) -> Vec<ClusterDnsView> {
    let (Some(pods_rt), Some(svc_rt)) = (resource_type("pods"), resource_type("services")) else {
        return Vec::new();
    };
    world
        .clusters()
        .into_iter()
        .map(|c| {
            let pods = c.store.list(pods_rt, None);
            let services = c.store.list(svc_rt, None);
            let dns_serving = pods.iter().any(|p| {
                meta::namespace(p) == "kube-system"
                    && meta::label(p, DNS_LABEL.0) == Some(DNS_LABEL.1)
                    && meta::pod_is_ready(p)
            });
            let mut dns_lb_addresses = std::collections::BTreeMap::new();
            for svc in services.iter().filter(|s| is_dns_lb(s)) {
                let served: std::collections::BTreeSet<String> = meta::service_port_protocols(svc)
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                let mut addresses = Vec::new();
                for ing in svc
                    .pointer("/status/loadBalancer/ingress")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(ip) = ing.get("ip").and_then(Value::as_str) {
                        addresses.push(ip.to_string());
                    }
                    if let Some(h) = ing.get("hostname").and_then(Value::as_str) {
                        addresses.extend(world.resolve_lb_hostname(h));
                    }
                }
                for address in addresses {
                    dns_lb_addresses.insert(address, served.clone());
                }
            }
            let mut records = std::collections::BTreeMap::new();
            for svc in &services {
                let (name, ns) = (meta::name(svc), meta::namespace(svc));
                let fqdn = format!("{name}.{ns}.svc.{CLUSTER_DOMAIN}");
                if meta::str_at(svc, "/spec/type") == Some("ExternalName") {
                    records.insert(
                        fqdn,
                        meta::str_at(svc, "/spec/externalName").map(str::to_string),
                    );
                    continue;
                }
                records.insert(fqdn, None);
                let headless = meta::str_at(svc, "/spec/clusterIP") == Some("None");
                let Some(selector) = svc.pointer("/spec/selector").filter(|_| headless) else {
                    continue;
                };
                let not_ready_too =
                    svc.pointer("/spec/publishNotReadyAddresses") == Some(&Value::Bool(true));
                for p in pods
                    .iter()
                    .filter(|p| meta::namespace(p) == ns && meta::labels_match(selector, p))
                {
                    let has_ip = meta::str_at(p, "/status/podIP").is_some();
                    let serving = meta::pod_is_ready(p) || (not_ready_too && !meta::is_deleting(p));
                    if has_ip && serving && meta::str_at(p, "/spec/subdomain") == Some(name) {
                        let host = meta::str_at(p, "/spec/hostname").unwrap_or(meta::name(p));
                        records.insert(format!("{host}.{name}.{ns}.svc.{CLUSTER_DOMAIN}"), None);
                    }
                }
            }
            ClusterDnsView {
                name: c.name.clone(),
                loaded: world.dns_loaded(&c.name),
                dns_serving,
                platform_resolves: c.profile.dns == crate::world::DnsFlavour::CloudDns,
                dns_lb_addresses,
                records,
            }
        })
        .collect()
}
