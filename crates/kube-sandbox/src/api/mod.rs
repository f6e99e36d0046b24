//! The HTTPS API server of one emulated cluster.

mod body;
mod discovery;
mod fields;
mod handlers;
mod known_fields;
mod managed;
mod patch;
pub mod proxy;
mod query;
mod route;
mod schema;
mod selector;
mod table;
mod watch;

pub mod server;

pub use discovery::SERVER_VERSION;
pub use handlers::LogSource;
pub use managed::{apply as server_side_apply, record_update};
pub use patch::{merge_patch, strategic_merge_patch};
pub use selector::{FieldSelector, LabelSelector};
