//! `crdb_sql_user`: a SQL user of the cluster, its password (hashed in the provider) and its role memberships,
//! changed and read through SQL Jobs in one zone (see `resources::sql_object`).
mod apply;
mod model;
#[cfg(test)]
mod oracle;
mod plan;
mod read;

pub use model::{SqlUserModel, TYPE_NAME};

use crate::framework::diag::Diagnostics;
use crate::resources::sql_object::{self, SqlObject, SqlResource};

pub type SqlUser = SqlResource<SqlUserModel>;

impl SqlObject for SqlUserModel {
    const TYPE_NAME: &'static str = TYPE_NAME;
    const KIND: &'static str = "SQL user";
    const CHANGE_JOB: &'static str = "user";
    const READ_JOB: &'static str = "read-user";

    sql_object::from_resource_files!();

    fn plan(_config: &Self, planned: &mut Self, _diags: &mut Diagnostics) {
        plan::plan(planned);
    }

    fn dropping(name: &str) -> String {
        format!("Dropping SQL user {name}")
    }
}
