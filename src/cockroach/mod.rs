//! CockroachDB-specific logic that needs no Kubernetes server: certificates, the objects of one zone, resource
//! quantities, cross-cluster DNS configuration and the version upgrade
//! rules, and the checks of names, images and quantities they rest on. Everything is pure so that it is unit-tested
//! without any cluster, and imports nothing above `framework`.

pub mod critical_zones;
pub mod disruption_lease;
pub mod dns;
pub mod health;
pub mod manifests;
pub mod node_vars;
pub mod pki;
pub mod quantity;
pub mod reachability;
pub mod sql;
pub mod upgrade;
pub mod validate;
