//! The `kubernetes { }` block that `crdb_region` and `crdb_dns_link` nest to reach their cluster,
//! with the attribute names users know from the kubernetes provider: its schema, model and
//! validation, and its resolution into the edge's [`Connection`].
//!
//! The block lives on the resource, not on the provider, so that a connection built from a
//! cluster created in the same apply (all unknown at plan time) still plans.
mod access;
mod model;
mod resolve;
mod validate;

pub use access::{connect_for_apply, connect_for_read, validate};
pub use model::{block, ConnectionModel, ExecModel, BLOCK_NAME, DEFAULT_EXEC_API_VERSION};
pub use resolve::{is_wholly_known, resolve, validate_block};
pub use validate::{certificates, private_key, server_url};
