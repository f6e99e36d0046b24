//! Which DNS add-on a cluster runs, from the names of what is in `kube-system`.

use std::collections::BTreeSet;

use super::error::DnsError;

/// The names of the Deployments and ConfigMaps in `kube-system`, and the `Corefile` of ConfigMap `coredns` if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeSystemInventory {
    pub deployments: BTreeSet<String>,
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
    if has_deployment("kube-dns") {
        return Ok(DnsFlavour::KubeDns);
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
    fn coredns_wins_over_leftovers_and_nothing_is_an_error() {
        let migrated = inventory(&["coredns", "kube-dns"], &["kube-dns", "coredns"]);
        assert_eq!(detect_dns_flavour(&migrated), Ok(DnsFlavour::CoreDns));
        let none = inventory(&["metrics-server"], &["kube-dns-autoscaler"]);
        assert_eq!(detect_dns_flavour(&none), Err(DnsError::NoDnsAddon));
    }
}
