//! Which DNS add-on a cluster runs, from the names of what is in `kube-system`.

use std::collections::BTreeSet;

use super::error::DnsError;

/// The names of the Deployments and ConfigMaps in `kube-system`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeSystemInventory {
    pub deployments: BTreeSet<String>,
    pub config_maps: BTreeSet<String>,
}

/// Where a cluster's DNS forwarding is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsFlavour {
    /// GKE's kube-dns: key `stubDomains` of ConfigMap `kube-dns` (created if absent).
    KubeDns,
    /// CoreDNS (EKS, kind, kubeadm): server blocks in the `Corefile` key of ConfigMap `coredns`.
    CoreDns,
    /// CoreDNS on AKS: `*.server` keys of ConfigMap `coredns-custom`; the `coredns` ConfigMap itself is reset by
    /// the add-on manager.
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
pub fn detect_dns_flavour(inventory: &KubeSystemInventory) -> Result<DnsFlavour, DnsError> {
    let has_deployment = |name: &str| inventory.deployments.contains(name);
    let has_config_map = |name: &str| inventory.config_maps.contains(name);
    if has_deployment("coredns") || has_config_map("coredns") {
        if has_config_map("coredns-custom") {
            return Ok(DnsFlavour::CoreDnsCustom);
        }
        return Ok(DnsFlavour::CoreDns);
    }
    if has_deployment("kube-dns") {
        return Ok(DnsFlavour::KubeDns);
    }
    Err(DnsError::NoDnsAddon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory(deployments: &[&str], config_maps: &[&str]) -> KubeSystemInventory {
        let set = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        KubeSystemInventory {
            deployments: set(deployments),
            config_maps: set(config_maps),
        }
    }

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
        let aks = inventory(
            &["coredns", "coredns-autoscaler"],
            &["coredns", "coredns-custom"],
        );
        assert_eq!(detect_dns_flavour(&aks), Ok(DnsFlavour::CoreDnsCustom));
        assert_eq!(DnsFlavour::CoreDnsCustom.config_map(), "coredns-custom");
    }

    #[test]
    fn coredns_wins_over_leftovers_and_nothing_is_an_error() {
        let migrated = inventory(&["coredns", "kube-dns"], &["kube-dns", "coredns"]);
        assert_eq!(detect_dns_flavour(&migrated), Ok(DnsFlavour::CoreDns));
        let none = inventory(&["metrics-server"], &["kube-dns-autoscaler"]);
        assert_eq!(detect_dns_flavour(&none), Err(DnsError::NoDnsAddon));
    }
}
