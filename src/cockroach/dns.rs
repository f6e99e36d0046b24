//! Cross-cluster DNS for the `crdb_dns_link` resource: each Kubernetes cluster forwards the `<zone>.svc.<domain>`
//! names of the peer zones to those zones' DNS load balancers, in kube-dns `stubDomains` or CoreDNS server blocks.
//!
//! The configuration is shared with whoever else runs the cluster, so every function here edits only the provider's
//! own entries: merging adds or replaces them, removing takes exactly them out, and what anyone else wrote is kept.
//! A link never forwards a zone of its own cluster (the cluster would forward queries to itself).

mod corefile;
mod detect;
mod error;
mod forwards;
mod kube_dns;

pub use corefile::{
    coredns_custom_entries, coredns_custom_key, domains_forwarded_over_tcp, merge_corefile,
    read_coredns_custom_forwards, read_corefile_forwards, remove_from_corefile, server_block,
    BLOCK_MARKER,
};
pub use detect::{detect_dns_flavour, DnsFlavour, KubeSystemInventory};
pub use error::DnsError;
pub use forwards::{forward_domain, zones_of, ForwardMap, Forwards};
pub use kube_dns::{merge_stub_domains, read_stub_domains, remove_stub_domains, STUB_DOMAINS_KEY};
