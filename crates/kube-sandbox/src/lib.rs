//! kube-sandbox: emulated Kubernetes API servers for tests, the demo and benchmarks.

pub mod api;
pub mod cli;
pub mod clocktime;
pub mod defaults;
pub mod error;
pub mod faults;
pub mod kubeconfig;
pub mod resources;
pub mod sandbox;
pub mod store;
pub mod tls;
pub mod validate;

pub use sandbox::{Cluster, ClusterOptions, Sandbox, SandboxOptions};
