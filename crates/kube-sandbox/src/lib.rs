//! kube-sandbox: emulated Kubernetes API servers for tests, the demo and benchmarks.

pub mod admission;
pub mod api;
pub mod attach;
pub mod bootstrap;
pub mod cli;
pub mod clock;
pub mod clocktime;
pub mod cockroach;
pub mod controllers;
pub mod defaults;
pub mod error;
pub mod faults;
pub mod kubeconfig;
pub mod lb_dns;
pub mod resources;
pub mod sandbox;
pub mod store;
pub mod tls;
pub mod validate;
pub mod world;

pub use sandbox::{Cluster, ClusterOptions, Sandbox, SandboxOptions};
