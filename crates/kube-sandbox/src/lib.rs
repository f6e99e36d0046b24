//! kube-sandbox: emulated Kubernetes API servers for tests, the demo and benchmarks.

pub mod bootstrap;
pub mod clock;
pub mod clocktime;
pub mod cockroach;
pub mod controllers;
pub mod defaults;
pub mod error;
pub mod resources;
pub mod store;
pub mod validate;
pub mod world;
