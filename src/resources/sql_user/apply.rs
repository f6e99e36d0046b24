//! Create, update and delete of `crdb_sql_user`: one SQL Job each, in the configured zone.
use super::model::SqlUserModel;
use super::plan;
use crate::cockroach::manifests::names;
use crate::cockroach::sql::scram;
use crate::framework::diag::Diagnostics;
use crate::framework::{Attr, OperationContext};
use crate::kubernetes::Deadline;
use crate::resources::connection::connect_for_apply;
use crate::resources::sql_runner::SqlZone;
use std::time::Duration;

/// Brings the user from `prior` to `planned`.
pub(super) async fn converge(
    ctx: &OperationContext,
    prior: Option<&SqlUserModel>,
    mut planned: SqlUserModel,
    limit: Duration,
) -> Result<SqlUserModel, Diagnostics> {
    let deadline = Deadline::after(limit, &ctx.stop);
    let client = connect_for_apply(ctx, &planned.kubernetes, "SQL user", &deadline).await?;
    let zone = SqlZone::find(&client, &planned.zone.known().cloned().unwrap_or_default()).await?;
    let hash = match plan::password_change(prior, &planned) {
        Some(Some(password)) => {
            let salt = scram::salt().map_err(|_| {
                let mut diags = Diagnostics::new();
                diags.error(
                    "No randomness for a password salt",
                    "The system random source failed.",
                );
                diags
            })?;
            Some(Some(scram::hash(&password, &salt)))
        }
        Some(None) => Some(None),
        None => None,
    };
    let script = plan::script(prior, &planned, hash.as_ref().map(|h| h.as_deref()));
    if !script.is_empty() {
        let user = planned.user();
        zone.run(
            &client,
            &names::sql_job_name("user", &user),
            &script,
            &format!("Changing SQL user {user}"),
            &deadline,
        )
        .await?;
    }
    planned.id = Attr::Known(planned.user());
    Ok(planned)
}

pub(super) async fn remove(
    ctx: &OperationContext,
    state: &SqlUserModel,
    limit: Duration,
) -> Result<(), Diagnostics> {
    let deadline = Deadline::after(limit, &ctx.stop);
    let client = connect_for_apply(ctx, &state.kubernetes, "SQL user", &deadline).await?;
    let zone = SqlZone::find(&client, &state.zone.known().cloned().unwrap_or_default()).await?;
    let user = state.user();
    zone.run(
        &client,
        &names::sql_job_name("user", &user),
        &plan::drop_script(state),
        &format!("Dropping SQL user {user}"),
        &deadline,
    )
    .await
    .map(drop)
}
