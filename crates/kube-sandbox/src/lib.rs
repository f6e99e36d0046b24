//! kube-sandbox: emulated Kubernetes API servers for tests, the demo and benchmarks.

pub mod clocktime;
pub mod defaults;
pub mod error;
pub mod resources;
pub mod store;
pub mod validate;
