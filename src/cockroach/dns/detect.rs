//! Which DNS add-on a cluster runs, from what is in `kube-system`, and when none runs that would read what the
//! provider writes.
//!
//! What this rests on (GKE's documentation, read November 2026):
//! - "About Cloud DNS for GKE" (cloud.google.com/kubernetes-engine/docs/concepts/about-cloud-dns): with Cloud DNS
//!   as the DNS provider, Pod and Service names resolve "without requiring a cluster-hosted DNS provider"; it is
//!   Autopilot's default and Standard clusters can switch to it.
//! - "About kube-dns for GKE" (docs.cloud.google.com/kubernetes-engine/docs/concepts/kube-dns): its configuration
//!   methods, stub domains included, "don't apply" to Autopilot, which uses Cloud DNS.
//! - Cloud DNS forwarding zones (cloud.google.com/dns/docs/zones/zones-overview): Google's resolvers send forwarded
//!   queries from `35.199.192.0/19`.
//! - "Setting up NodeLocal DNSCache" (cloud.google.com/kubernetes-engine/docs/how-to/nodelocal-dns-cache): the
//!   node caches forward `cluster.local` to kube-dns and "automatically pick up stub domains ... specified in the
//!   kube-dns ConfigMap", so a `node-local-dns` DaemonSet in front of kube-dns (or CoreDNS) changes nothing here.
//! - AKS: CoreDNS reads extra server blocks from the `*.server` keys of ConfigMap `coredns-custom`, which its
//!   Corefile imports; `coredns` itself is reset by the add-on manager.
//!
//! A cluster with a `kube-dns` Deployment scaled to zero (or only its ConfigMap) and no CoreDNS has no DNS pods:
//! nothing there reads stub domains as kube-dns does, and the zone's DNS load balancer, which selects
//! `k8s-app=kube-dns` pods, has nothing behind it, so peers cannot resolve the zone. That is what a cluster
//! resolving through Cloud DNS looks like from the API, and a link there cannot work.

use std::collections::BTreeSet;

use super::error::DnsError;

/// The names of the Deployments and ConfigMaps in `kube-system`, and the `Corefile` of ConfigMap `coredns` if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeSystemInventory {
    pub deployments: BTreeSet<String>,
    /// Those of `deployments` scaled to zero replicas: present, running nothing.
    pub scaled_to_zero: BTreeSet<String>,
    pub config_maps: BTreeSet<String>,
    pub corefile: Option<String>,
}

/// Where a cluster's DNS forwarding is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsFlavour {
    /// GKE's kube-dns: key `stubDomains` of ConfigMap `kube-dns` (created if absent).
    KubeDns,
    /// CoreDNS (EKS, kind, kubeadm): server blocks in the `Corefile` key of ConfigMap `coredns`.
    CoreDns,
    /// CoreDNS on AKS: `*.server` keys of ConfigMap `coredns-custom` (created if absent), which the Corefile
    /// imports; the `coredns` ConfigMap itself is reset by the add-on manager.
    CoreDnsCustom,
}

impl DnsFlavour {
    pub fn config_map(self) -> &'static str {
        match self {
            DnsFlavour::KubeDns => "kube-dns",
            DnsFlavour::CoreDns => "coredns",
            DnsFlavour::CoreDnsCustom => "coredns-custom",
        }
    }
}

/// CoreDNS wins when both are present: clusters migrating from kube-dns keep a stale `kube-dns` Deployment or
/// ConfigMap around, and the Service both use is named `kube-dns` either way, so Services are not looked at.
/// `coredns-custom` is used only where the Corefile imports it: elsewhere its entries would be ignored.
pub fn detect_dns_flavour(inventory: &KubeSystemInventory) -> Result<DnsFlavour, DnsError> {
    let has_deployment = |name: &str| inventory.deployments.contains(name);
    let has_config_map = |name: &str| inventory.config_maps.contains(name);
    if has_deployment("coredns") || has_config_map("coredns") {
        if inventory
            .corefile
            .as_deref()
            .is_some_and(imports_custom_servers)
        {
            return Ok(DnsFlavour::CoreDnsCustom);
        }
        return Ok(DnsFlavour::CoreDns);
    }
    if has_deployment("kube-dns") && !inventory.scaled_to_zero.contains("kube-dns") {
        return Ok(DnsFlavour::KubeDns);
    }
    if has_deployment("kube-dns") || has_config_map("kube-dns") {
        return Err(DnsError::NoDnsPods);
    }
    Err(DnsError::NoDnsAddon)
}

/// An `import` of `custom/*.server` (AKS mounts `coredns-custom` at `custom/`).
fn imports_custom_servers(corefile: &str) -> bool {
    corefile.lines().any(|line| {
        let mut words = line.split('#').next().unwrap_or("").split_whitespace();
        words.next() == Some("import")
            && words.any(|w| w.contains("custom/") && w.ends_with(".server"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory(deployments: &[&str], config_maps: &[&str]) -> KubeSystemInventory {
        let set = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        KubeSystemInventory {
            deployments: set(deployments),
            scaled_to_zero: BTreeSet::new(),
            config_maps: set(config_maps),
            corefile: None,
        }
    }

    const AKS_COREFILE: &str = ".:53 {\n    errors\n    forward . /etc/resolv.conf\n    import custom/*.override\n}\nimport custom/*.server\n";

    #[test]
    fn each_provider_layout_is_recognised() {
        let gke = inventory(&["kube-dns", "kube-dns-autoscaler"], &["kube-dns"]);
        assert_eq!(detect_dns_flavour(&gke), Ok(DnsFlavour::KubeDns));
        let gke_without_map = inventory(&["kube-dns"], &[]);
        assert_eq!(
            detect_dns_flavour(&gke_without_map),
            Ok(DnsFlavour::KubeDns)
        );
        let eks = inventory(&["coredns"], &["coredns", "kube-proxy"]);
        assert_eq!(detect_dns_flavour(&eks), Ok(DnsFlavour::CoreDns));
        let mut aks = inventory(
            &["coredns", "coredns-autoscaler"],
            &["coredns", "coredns-custom"],
        );
        aks.corefile = Some(AKS_COREFILE.to_owned());
        assert_eq!(detect_dns_flavour(&aks), Ok(DnsFlavour::CoreDnsCustom));
        let mut not_imported = aks.clone();
        not_imported.corefile =
            Some(AKS_COREFILE.replace("import custom/*.server", "# import custom/*.server"));
        assert_eq!(detect_dns_flavour(&not_imported), Ok(DnsFlavour::CoreDns));
        let mut only_override = aks.clone();
        only_override.corefile = Some(AKS_COREFILE.replace("import custom/*.server\n", ""));
        assert_eq!(detect_dns_flavour(&only_override), Ok(DnsFlavour::CoreDns));
        let mut map_not_created_yet = aks.clone();
        map_not_created_yet.config_maps.remove("coredns-custom");
        assert_eq!(
            detect_dns_flavour(&map_not_created_yet),
            Ok(DnsFlavour::CoreDnsCustom)
        );
        assert_eq!(DnsFlavour::CoreDnsCustom.config_map(), "coredns-custom");
    }

    #[test]
    fn kube_dns_scaled_to_zero_or_only_its_config_map_is_a_cluster_without_dns_pods() {
        let mut cloud_dns = inventory(&["kube-dns", "kube-dns-autoscaler"], &["kube-dns"]);
        cloud_dns.scaled_to_zero.insert("kube-dns".into());
        assert_eq!(detect_dns_flavour(&cloud_dns), Err(DnsError::NoDnsPods));
        let only_the_map = inventory(&["metrics-server"], &["kube-dns"]);
        assert_eq!(detect_dns_flavour(&only_the_map), Err(DnsError::NoDnsPods));
        let mut autoscaler_idle = inventory(&["kube-dns", "kube-dns-autoscaler"], &["kube-dns"]);
        autoscaler_idle
            .scaled_to_zero
            .insert("kube-dns-autoscaler".into());
        assert_eq!(
            detect_dns_flavour(&autoscaler_idle),
            Ok(DnsFlavour::KubeDns)
        );
        let mut coredns_beside = cloud_dns.clone();
        coredns_beside.deployments.insert("coredns".into());
        assert_eq!(detect_dns_flavour(&coredns_beside), Ok(DnsFlavour::CoreDns));
    }

    #[test]
    fn coredns_wins_over_leftovers_and_nothing_is_an_error() {
        let migrated = inventory(&["coredns", "kube-dns"], &["kube-dns", "coredns"]);
        assert_eq!(detect_dns_flavour(&migrated), Ok(DnsFlavour::CoreDns));
        let none = inventory(&["metrics-server"], &["kube-dns-autoscaler"]);
        assert_eq!(detect_dns_flavour(&none), Err(DnsError::NoDnsAddon));
    }
}
