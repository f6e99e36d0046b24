//! The Kubernetes edge of the provider: the `kubernetes { }` connection block, a client built
//! from it, server-side apply and reads of typed objects, watch-based waits bounded by the
//! operation's timeout and Terraform's stop signal, and API errors worded as diagnostics.
//!
//! How a resource uses it:
//!
//! ```text
//! // schema: Block::new(..).single_block(connection::BLOCK_NAME, connection::block())
//! // validate (plan time; unknowns are never judged):
//! connection::validate_block(config.attr("kubernetes"), &AttributePath::root("kubernetes"), diags);
//! // read/plan: skip remote reads while !connection::is_wholly_known(config.attr("kubernetes"))
//! // apply:
//! let at = AttributePath::root("kubernetes");
//! let connection = connection::resolve(config.attr("kubernetes"), &at)?   // Diagnostics
//!     .expect("known at apply");
//! let client = ClusterClient::connect(&connection).await.map_err(|e| e.to_diagnostics(&at))?
//!     .with_stop(&ctx.stop);                       // Ctrl-C abandons calls and their retries
//! let deadline = Deadline::after(timeouts::limit(..), &ctx.stop);   // one per operation
//! client.apply(&namespace).await?;                // RemoteError -> Diagnostics via `?`/into()
//! client.apply(&statefulset).await?;
//! client.wait_rolled_out(zone, "cockroachdb", &deadline).await?;   // WaitError -> Diagnostics
//! let address = client.wait_load_balancer(zone, "kube-dns-lb", &deadline).await?;
//! // delete:
//! client.delete::<Namespace>(None, zone, Propagation::Foreground).await?;
//! client.wait_namespace_deleted(zone, &deadline).await?;
//! ```
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
