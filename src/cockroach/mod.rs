//! CockroachDB-specific logic that needs no Kubernetes server: certificates today; manifests, join lists and DNS
//! configuration belong here too. Everything is pure so that it is unit-tested without any cluster.

pub mod pki;
