use std::fmt;

/// Why a DNS configuration cannot be produced; worded for a Terraform diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// A link asked to forward a zone its own cluster serves.
    OwnZone(String),
    NoAddresses(String),
    InvalidZone {
        zone: String,
        reason: String,
    },
    InvalidClusterDomain {
        domain: String,
        reason: String,
    },
    /// The existing `stubDomains` value is not a JSON object; it is left as is rather than overwritten.
    UnparsableStubDomains(String),
    /// A server block for the domain exists that the provider did not write: a second one would stop CoreDNS.
    ForeignServerBlock(String),
    /// kube-system has neither kube-dns nor CoreDNS.
    NoDnsAddon,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::OwnZone(zone) => write!(
                f,
                "zone {zone:?} is served by this Kubernetes cluster itself; forwarding it to a peer would send its \
                 queries in a loop. List only the other clusters' zones"
            ),
            DnsError::NoAddresses(zone) => {
                write!(f, "zone {zone:?} has no DNS address to forward to")
            }
            DnsError::InvalidZone { zone, reason } => write!(f, "zone {zone:?}: {reason}"),
            DnsError::InvalidClusterDomain { domain, reason } => {
                write!(f, "cluster domain {domain:?}: {reason}")
            }
            DnsError::UnparsableStubDomains(reason) => write!(
                f,
                "the existing kube-system/kube-dns stubDomains is not a JSON object ({reason}); fix or remove it \
                 by hand, the provider will not overwrite it"
            ),
            DnsError::ForeignServerBlock(domain) => write!(
                f,
                "the CoreDNS configuration already has a server block for {domain} that terraform-provider-crdb \
                 did not write; remove it by hand (CoreDNS refuses two blocks for one zone)"
            ),
            DnsError::NoDnsAddon => write!(
                f,
                "kube-system has neither a kube-dns nor a CoreDNS deployment or ConfigMap; the cluster's DNS \
                 cannot be configured to forward peer zones"
            ),
        }
    }
}

impl std::error::Error for DnsError {}
