//! The statements a create or update of `crdb_database` runs, in one SQL Job (see `resources::sql_object`).
use super::model::DatabaseModel;
use super::plan;
use crate::framework::diag::Diagnostics;

/// The statements that bring the database from `prior` (nothing for a create) to `planned`.
pub(super) fn script(
    prior: Option<&DatabaseModel>,
    planned: &DatabaseModel,
) -> Result<String, Diagnostics> {
    Ok(match prior {
        None => plan::create_script(planned),
        Some(prior) => plan::update_script(prior, planned),
    })
}
