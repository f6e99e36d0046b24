//! The Kubernetes edge of the provider: every call the provider makes to a Kubernetes cluster goes
//! through here. A client built from a resolved [`Connection`], server-side apply and reads of typed
//! objects, a guarded read-modify-write of shared ConfigMaps, rollout restarts, one Job runner, and
//! watch-based waits bounded by the operation's timeout and Terraform's stop signal; every call is
//! retried per [`retry::RetryPolicy`], ends within the unreachable grace and the operation's deadline, and is
//! abandoned on Stop. Errors are typed ([`RemoteError`],
//! [`WaitError`], [`JobError`], [`EditError`], [`ConnectError`]) and convert into diagnostics with `?`.
//!
//! How a resource uses it (the `kubernetes {}` block itself lives in `resources::connection`):
//!
//! ```text
//! let deadline = Deadline::after(limit, &ctx.stop);       // one per operation
//! let client = connection::connect_for_apply(ctx, &model.kubernetes, "region", &deadline).await?;
//! client.apply(&namespace).await?;                        // RemoteError -> Diagnostics
//! client.wait_rolled_out(zone, "cockroachdb", &deadline).await?;   // WaitError -> Diagnostics
//! client.run_job(&job, AfterSuccess::Delete, &deadline).await      // JobError: what cockroach said
//!     .map_err(|e| e.to_diagnostics(summary, "The StatefulSet was not changed."))?;
//! client.edit_config_map("kube-system", "kube-dns", |data| edit(data)).await?;
//! client.delete::<Namespace>(None, zone, Propagation::Foreground).await?;
//! client.wait_namespace_deleted(zone, &deadline).await?;
//! ```
pub mod apply;
pub mod client;
pub mod config_map;
pub mod connection;
pub mod deadline;
pub mod error;
pub mod job;
pub mod logs;
pub mod proxy;
pub mod readiness;
pub mod retry;
#[cfg(test)]
pub(crate) mod rounds;
pub mod wait;

pub use apply::{KubeObject, Propagation, FIELD_MANAGER};
pub use client::{check_kubeconfig, ClusterClient, ConnectError};
pub use config_map::EditError;
pub use connection::Connection;
pub use deadline::{Deadline, Look, Unmet};
pub use error::{Call, RemoteError};
pub use job::{AfterSuccess, JobError, JobFailure};
pub use logs::PodLog;
pub use proxy::ProxyAnswer;
pub use wait::WaitError;
