//! `crdb_database`: a database, its regions and its survival goal, changed with `CREATE`/`ALTER DATABASE` and read
//! with `SHOW DATABASES` through SQL Jobs in one zone (see `resources::sql_object`).
mod apply;
mod model;
#[cfg(test)]
mod oracle;
mod plan;
mod read;

pub use model::{DatabaseModel, TYPE_NAME};

use crate::framework::diag::Diagnostics;
use crate::resources::sql_object::{self, SqlObject, SqlResource};

pub type Database = SqlResource<DatabaseModel>;

impl SqlObject for DatabaseModel {
    const TYPE_NAME: &'static str = TYPE_NAME;
    const KIND: &'static str = "database";
    const CHANGE_JOB: &'static str = "database";
    const READ_JOB: &'static str = "read-database";

    sql_object::from_resource_files!();

    fn plan(config: &Self, planned: &mut Self, diags: &mut Diagnostics) {
        plan::plan(config, planned, diags);
    }

    fn dropping(name: &str) -> String {
        format!("Dropping database {name} (set force_destroy = true to drop it with its tables)")
    }
}
