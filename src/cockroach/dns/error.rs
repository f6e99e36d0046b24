/// Why a DNS configuration cannot be produced; worded for a Terraform diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// A link asked to forward a zone its own cluster serves.
    #[error(
        "zone {0:?} is served by this Kubernetes cluster itself; forwarding it to a peer would send its \
         queries in a loop. List only the other clusters' zones"
    )]
    OwnZone(String),
    /// kube-dns asks upstreams over UDP; a load balancer serving TCP only never answers it.
    #[error(
        "zone {0:?}'s DNS load balancer serves TCP only (dns_protocol \"tcp\": dns_load_balancer \"aws-internal\" or \
         \"azure-internal\"), and kube-dns forwards over UDP, so its queries would go unanswered. Give that zone a \
         load balancer serving UDP, or run CoreDNS in this cluster"
    )]
    TcpPeerForKubeDns(String),
    #[error("zone {0:?} has no DNS address to forward to")]
    NoAddresses(String),
    #[error("zone {zone:?}: {reason}")]
    InvalidZone { zone: String, reason: String },
    #[error("cluster domain {domain:?}: {reason}")]
    InvalidClusterDomain { domain: String, reason: String },
    /// The existing `stubDomains` value is not a JSON object; it is left as is rather than overwritten.
    #[error(
        "the existing kube-system/kube-dns stubDomains is not a JSON object ({0}); fix or remove it \
         by hand, the provider will not overwrite it"
    )]
    UnparsableStubDomains(String),
    /// A server block for the domain exists that the provider did not write: a second one would stop CoreDNS.
    #[error(
        "the CoreDNS configuration already has a server block for {0} that terraform-provider-crdb \
         did not write; remove it by hand (CoreDNS refuses two blocks for one zone)"
    )]
    ForeignServerBlock(String),
    /// kube-system has neither kube-dns nor CoreDNS.
    #[error(
        "kube-system has neither a kube-dns nor a CoreDNS deployment or ConfigMap; the cluster's DNS \
         cannot be configured to forward peer zones"
    )]
    NoDnsAddon,
    /// kube-dns is there but scaled to zero (or only its ConfigMap is): the cluster resolves through the platform.
    #[error(
        "no kube-dns or CoreDNS pod runs in kube-system (the kube-dns Deployment is scaled to zero or absent): the \
         cluster resolves through a managed DNS, as GKE Autopilot and clusters using Cloud DNS for GKE do. Stub \
         domains written to kube-system/kube-dns would not be served by kube-dns there (GKE hands them to Cloud DNS, \
         whose forwarded queries come from 35.199.192.0/19), and this zone's DNS load balancer, which selects \
         k8s-app=kube-dns pods, has nothing behind it: the other zones could not resolve this zone's nodes"
    )]
    NoDnsPods,
}
