//! The statements a create or update of `crdb_sql_user` runs (in one SQL Job, see `resources::sql_object`), with
//! the new password hashed here, from a fresh salt.
use super::model::SqlUserModel;
use super::plan;
use crate::cockroach::sql::scram;
use crate::framework::diag::Diagnostics;

/// The statements that bring the user from `prior` (nothing for a create) to `planned`.
pub(super) fn script(
    prior: Option<&SqlUserModel>,
    planned: &SqlUserModel,
) -> Result<String, Diagnostics> {
    let hash = match plan::password_change(prior, planned) {
        Some(Some(password)) => {
            let salt = scram::salt().map_err(|_| {
                Diagnostics::with_error(
                    "No randomness for a password salt",
                    "The system random source failed.",
                )
            })?;
            Some(Some(scram::hash(&password, &salt)))
        }
        Some(None) => Some(None),
        None => None,
    };
    Ok(plan::script(
        prior,
        planned,
        hash.as_ref().map(|h| h.as_deref()),
    ))
}
