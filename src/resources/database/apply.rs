//! Create, update and delete of `crdb_database`: one SQL Job each, in the configured zone.
use super::model::DatabaseModel;
use super::plan;
use crate::cockroach::manifests::names;
use crate::framework::diag::Diagnostics;
use crate::framework::{Attr, OperationContext};
use crate::kubernetes::Deadline;
use crate::resources::connection::connect_for_apply;
use crate::resources::sql_runner::SqlZone;
use std::time::Duration;

/// Brings the database from `prior` (nothing for a create) to `planned`.
pub(super) async fn converge(
    ctx: &OperationContext,
    prior: Option<&DatabaseModel>,
    mut planned: DatabaseModel,
    limit: Duration,
) -> Result<DatabaseModel, Diagnostics> {
    let script = match prior {
        None => plan::create_script(&planned),
        Some(prior) => plan::update_script(prior, &planned),
    };
    if !script.is_empty() {
        let deadline = Deadline::after(limit, &ctx.stop);
        let client = connect_for_apply(ctx, &planned.kubernetes, "database", &deadline).await?;
        let zone =
            SqlZone::find(&client, &planned.zone.known().cloned().unwrap_or_default()).await?;
        let name = planned.database();
        zone.run(
            &client,
            &names::sql_job_name("database", &name),
            &script,
            &format!("Changing database {name}"),
            &deadline,
        )
        .await?;
    }
    planned.id = Attr::Known(planned.database());
    Ok(planned)
}

pub(super) async fn remove(
    ctx: &OperationContext,
    state: &DatabaseModel,
    limit: Duration,
) -> Result<(), Diagnostics> {
    let deadline = Deadline::after(limit, &ctx.stop);
    let client = connect_for_apply(ctx, &state.kubernetes, "database", &deadline).await?;
    let zone = SqlZone::find(&client, &state.zone.known().cloned().unwrap_or_default()).await?;
    let name = state.database();
    zone.run(
        &client,
        &names::sql_job_name("database", &name),
        &plan::drop_script(state),
        &format!("Dropping database {name} (set force_destroy = true to drop it with its tables)"),
        &deadline,
    )
    .await
    .map(drop)
}
