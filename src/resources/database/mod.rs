//! `crdb_database`: a database, its regions and its survival goal, changed with `CREATE`/`ALTER DATABASE` and read
//! with `SHOW DATABASES` through SQL Jobs in one zone (see `resources::sql_runner`).
mod apply;
mod model;
mod plan;
mod read;

pub use model::{DatabaseModel, TYPE_NAME};

use crate::cockroach::manifests::names;
use crate::framework::diag::Diagnostics;
use crate::framework::timeouts::{self, Operation};
use crate::framework::{Applied, Attr, ModelResource, OperationContext, Schema};
use crate::resources::connection;
use crate::resources::sql_runner;
use std::time::Duration;

const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const READ_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub struct Database;

#[async_trait::async_trait]
impl ModelResource for Database {
    type Model = DatabaseModel;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn schema(&self) -> Schema {
        model::schema(connection::block())
    }

    fn validate(&self, config: &DatabaseModel, diags: &mut Diagnostics) {
        plan::validate(config, diags);
    }

    fn modify_plan(
        &self,
        _prior: Option<&DatabaseModel>,
        config: &DatabaseModel,
        planned: &mut DatabaseModel,
        diags: &mut Diagnostics,
    ) {
        plan::plan(config, planned, diags);
    }

    async fn create(
        &self,
        ctx: &OperationContext,
        planned: DatabaseModel,
    ) -> Applied<DatabaseModel> {
        let limit = timeouts::limit(&planned.timeouts, Operation::Create, CREATE_TIMEOUT);
        match apply::converge(ctx, None, planned, limit).await {
            Ok(state) => Applied::reached(Some(state), Diagnostics::new()),
            Err(diags) => Applied::reached(None, diags),
        }
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        state: DatabaseModel,
    ) -> Result<Option<DatabaseModel>, Diagnostics> {
        let limit = timeouts::limit(&state.timeouts, Operation::Read, READ_TIMEOUT);
        let job = names::sql_job_name("read-database", &state.database());
        let Some(live) = sql_runner::read(ctx, &state.kubernetes, &state.zone, &job, limit).await?
        else {
            return Ok(Some(state));
        };
        Ok(read::fold(state, &live))
    }

    async fn update(
        &self,
        ctx: &OperationContext,
        prior: DatabaseModel,
        planned: DatabaseModel,
    ) -> Applied<DatabaseModel> {
        let limit = timeouts::limit(&planned.timeouts, Operation::Update, UPDATE_TIMEOUT);
        match apply::converge(ctx, Some(&prior), planned, limit).await {
            Ok(state) => Applied::reached(Some(state), Diagnostics::new()),
            Err(diags) => Applied::reached(Some(prior), diags),
        }
    }

    async fn delete(
        &self,
        ctx: &OperationContext,
        prior: DatabaseModel,
    ) -> Result<(), Diagnostics> {
        let limit = timeouts::limit(&prior.timeouts, Operation::Delete, DELETE_TIMEOUT);
        apply::remove(ctx, &prior, limit).await
    }

    async fn import(&self, ctx: &OperationContext, id: &str) -> Result<DatabaseModel, Diagnostics> {
        let target = sql_runner::ImportTarget::parse(id, TYPE_NAME)?;
        let mut state = DatabaseModel {
            id: Attr::Known(target.name.clone()),
            name: Attr::Known(target.name.clone()),
            ..Default::default()
        };
        let Some(live) = target.snapshot(ctx, "read-database", READ_TIMEOUT).await? else {
            return Ok(state);
        };
        state.zone = Attr::Known(target.zone.clone().unwrap_or_default());
        read::fold(state, &live).ok_or_else(|| sql_runner::not_found(TYPE_NAME, &target.name))
    }
}
