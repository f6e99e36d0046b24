//! `crdb_sql_user`: a SQL user of the cluster, its password (hashed in the provider) and its role memberships,
//! changed and read through SQL Jobs in one zone (see `resources::sql_runner`).
mod apply;
mod model;
mod plan;
mod read;

pub use model::{zone_attribute, SqlUserModel, TYPE_NAME};

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

pub struct SqlUser;

#[async_trait::async_trait]
impl ModelResource for SqlUser {
    type Model = SqlUserModel;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn schema(&self) -> Schema {
        model::schema(connection::block())
    }

    fn validate(&self, config: &SqlUserModel, diags: &mut Diagnostics) {
        plan::validate(config, diags);
    }

    fn modify_plan(
        &self,
        _prior: Option<&SqlUserModel>,
        _config: &SqlUserModel,
        planned: &mut SqlUserModel,
        _diags: &mut Diagnostics,
    ) {
        plan::plan(planned);
    }

    async fn create(&self, ctx: &OperationContext, planned: SqlUserModel) -> Applied<SqlUserModel> {
        let limit = timeouts::limit(&planned.timeouts, Operation::Create, CREATE_TIMEOUT);
        match apply::converge(ctx, None, planned, limit).await {
            Ok(state) => Applied::reached(Some(state), Diagnostics::new()),
            Err(diags) => Applied::reached(None, diags),
        }
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        state: SqlUserModel,
    ) -> Result<Option<SqlUserModel>, Diagnostics> {
        let limit = timeouts::limit(&state.timeouts, Operation::Read, READ_TIMEOUT);
        let job = names::sql_job_name("read-user", &state.user());
        let Some(live) = sql_runner::read(ctx, &state.kubernetes, &state.zone, &job, limit).await?
        else {
            return Ok(Some(state));
        };
        Ok(read::fold(state, &live))
    }

    async fn update(
        &self,
        ctx: &OperationContext,
        prior: SqlUserModel,
        planned: SqlUserModel,
    ) -> Applied<SqlUserModel> {
        let limit = timeouts::limit(&planned.timeouts, Operation::Update, UPDATE_TIMEOUT);
        match apply::converge(ctx, Some(&prior), planned, limit).await {
            Ok(state) => Applied::reached(Some(state), Diagnostics::new()),
            Err(diags) => Applied::reached(Some(prior), diags),
        }
    }

    async fn delete(&self, ctx: &OperationContext, prior: SqlUserModel) -> Result<(), Diagnostics> {
        let limit = timeouts::limit(&prior.timeouts, Operation::Delete, DELETE_TIMEOUT);
        apply::remove(ctx, &prior, limit).await
    }

    async fn import(&self, ctx: &OperationContext, id: &str) -> Result<SqlUserModel, Diagnostics> {
        let target = sql_runner::ImportTarget::parse(id, TYPE_NAME)?;
        let mut state = SqlUserModel {
            id: Attr::Known(target.name.clone()),
            name: Attr::Known(target.name.clone()),
            ..Default::default()
        };
        let Some(live) = target.snapshot(ctx, "read-user", READ_TIMEOUT).await? else {
            return Ok(state);
        };
        state.zone = Attr::Known(target.zone.clone().unwrap_or_default());
        read::fold(state, &live).ok_or_else(|| sql_runner::not_found(TYPE_NAME, &target.name))
    }
}
