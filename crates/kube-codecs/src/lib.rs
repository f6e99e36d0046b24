//! The two formats the provider and kube-sandbox both read and write, kept in one place so that they cannot
//! disagree: Kubernetes resource quantities (`100Gi`, `500m`) and the DNS messages of an A-record lookup
//! (the provider asks a resolver for a load balancer's host name; the sandbox answers as a cloud's resolver).
//!
//! Pure and dependency-free: no I/O, nothing that panics on any input.

pub mod dns;
pub mod quantity;
