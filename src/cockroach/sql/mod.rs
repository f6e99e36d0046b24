//! The provider's SQL layer, pure: SCRAM password hashes made inside the provider (`scram`), identifiers and
//! string constants quoted for CockroachDB (`quote`), the names it accepts and reserves (`names`), and the `SHOW` results that reads parse (`snapshot`).
//! Statements run as a Job in one zone (see `resources::sql_runner` and `docs/design/sql.md`).

pub mod names;
pub mod quote;
pub mod scram;
pub mod snapshot;

pub use names::username;
pub use snapshot::{DatabaseRow, SqlSnapshot, READ_SCRIPT};
