//! Checks of attributes that several resources share, worded the same everywhere.
use crate::cockroach::validate;
use crate::framework::{Attr, Diagnostics};

/// `cluster_domain`: the Kubernetes cluster DNS domain, a DNS subdomain.
pub fn cluster_domain(attr: &Attr<String>, diags: &mut Diagnostics) {
    diags.check_known(attr, "cluster_domain", "Invalid cluster domain", |domain| {
        validate::dns1123_subdomain(domain)
    });
}
