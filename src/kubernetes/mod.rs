//! The Kubernetes edge of the provider: the `kubernetes { }` connection block, a client built
//! from it, server-side apply and reads of typed objects, watch-based waits bounded by the
//! operation's timeout and Terraform's stop signal, and API errors worded as diagnostics.
//!
//! A resource's apply typically runs:
//! `connection::resolve` -> `ClusterClient::connect` -> `apply` of each object ->
//! `wait_rolled_out` / `wait_load_balancer`, turning any error into diagnostics with `into()`.
pub mod apply;
pub mod client;
pub mod connection;
pub mod error;
pub mod readiness;
pub mod retry;
pub mod validate;
pub mod wait;

pub use apply::{KubeObject, Propagation, FIELD_MANAGER};
pub use client::{ClusterClient, ConnectError};
pub use connection::Connection;
pub use error::{Call, RemoteError};
pub use wait::{Deadline, WaitError};
