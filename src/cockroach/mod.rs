//! CockroachDB-specific logic that needs no Kubernetes server: certificates, the objects of one zone, resource
//! quantities and cross-cluster DNS configuration. Everything is pure so that it is unit-tested without any cluster.

pub mod dns;
pub mod manifests;
pub mod pki;
pub mod quantity;
