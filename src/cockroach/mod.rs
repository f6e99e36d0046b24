//! CockroachDB-specific logic that needs no Kubernetes server: certificates, the objects of one zone, resource
//! quantities, cross-cluster DNS configuration and the version upgrade
//! rules. Everything is pure so that it is unit-tested without any cluster.

pub mod dns;
pub mod manifests;
pub mod pki;
pub mod quantity;
pub mod upgrade;
