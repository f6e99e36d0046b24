//! What `crdb_sql_user` and `crdb_database` share: both are one named SQL object of the cluster, changed by one
//! script per apply and read from one [`SqlSnapshot`], both through SQL Jobs in one zone (`sql_runner`). Each
//! model says what differs ([`SqlObject`], implemented in its resource's `mod.rs`); [`SqlResource`] is the one
//! `ModelResource` of both, its operations the same for both.
use crate::cockroach::manifests::names;
use crate::cockroach::sql::SqlSnapshot;
use crate::framework::diag::Diagnostics;
use crate::framework::model::{Fields, FromValue, ToValue};
use crate::framework::timeouts::{self, Operation};
use crate::framework::{
    Applied, Attr, Attribute, ModelResource, OperationContext, Schema, Type, Value,
};
use crate::kubernetes::{ClusterClient, Deadline};
use crate::resources::connection::connect_for_apply;
use crate::resources::sql_runner::{self, ImportTarget, SqlZone};
use std::marker::PhantomData;
use std::time::Duration;

const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const READ_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The attributes every SQL object has, borrowed from its model.
pub struct Common<'a> {
    pub id: &'a mut Attr<String>,
    pub name: &'a mut Attr<String>,
    pub zone: &'a mut Attr<String>,
    pub kubernetes: &'a mut Attr<Value>,
    pub timeouts: &'a mut Attr<Value>,
}

impl Common<'_> {
    fn name(&self) -> String {
        self.name.known().cloned().unwrap_or_default()
    }

    fn zone(&self) -> String {
        self.zone.known().cloned().unwrap_or_default()
    }
}

/// The [`SqlObject`] items a resource folder provides under the entry names every resource has (`TEMPLATE.md`):
/// `model::schema`, `plan::validate`, `read::fold`, `apply::script`, `plan::drop_script`; and the attributes every
/// SQL object has (`id`, `name`, `zone`, `kubernetes`, `timeouts`). For inside an `impl SqlObject` in `mod.rs`.
macro_rules! from_resource_files {
    () => {
        fn common(&mut self) -> $crate::resources::sql_object::Common<'_> {
            $crate::resources::sql_object::Common {
                id: &mut self.id,
                name: &mut self.name,
                zone: &mut self.zone,
                kubernetes: &mut self.kubernetes,
                timeouts: &mut self.timeouts,
            }
        }

        fn schema() -> $crate::framework::Schema {
            model::schema($crate::resources::connection::block())
        }

        fn validate(config: &Self, diags: &mut $crate::framework::diag::Diagnostics) {
            plan::validate(config, diags);
        }

        fn fold(self, live: &$crate::cockroach::sql::SqlSnapshot) -> Option<Self> {
            read::fold(self, live)
        }

        fn change_script(
            prior: Option<&Self>,
            planned: &Self,
        ) -> Result<String, $crate::framework::diag::Diagnostics> {
            apply::script(prior, planned)
        }

        fn drop_script(&self) -> String {
            plan::drop_script(self)
        }
    };
}
pub(crate) use from_resource_files;

/// A model of a SQL object: what differs between a user and a database.
pub trait SqlObject:
    FromValue + ToValue + Fields + Default + Clone + Send + Sync + 'static
{
    const TYPE_NAME: &'static str;
    /// What the object is called in a connection error: `SQL user`.
    const KIND: &'static str;
    /// The purpose in the name of the Job that changes it, and of the one that reads it.
    const CHANGE_JOB: &'static str;
    const READ_JOB: &'static str;

    fn common(&mut self) -> Common<'_>;
    fn schema() -> Schema;
    fn validate(config: &Self, diags: &mut Diagnostics);
    /// `modify_plan`'s rules.
    fn plan(config: &Self, planned: &mut Self, diags: &mut Diagnostics);
    /// The state as the cluster has it; None when the object is gone.
    fn fold(self, live: &SqlSnapshot) -> Option<Self>;
    /// The statements that bring the object from `prior` (nothing for a create) to `planned`; empty when the
    /// change runs no SQL.
    fn change_script(prior: Option<&Self>, planned: &Self) -> Result<String, Diagnostics>;
    fn drop_script(&self) -> String;
    /// What a drop is called in its failure.
    fn dropping(name: &str) -> String;
}

/// The `zone` attribute every SQL resource has: where its Jobs run.
pub fn zone_attribute() -> Attribute {
    Attribute::required(
        "zone",
        Type::String,
        "The zone whose Kubernetes cluster runs this resource's SQL, as a Job next to its nodes: any zone of the \
         cluster, typically `crdb_region.<name>.zone` (which also orders this resource after the zone), with the \
         same `kubernetes` block as that region.",
    )
}

/// The `ModelResource` of the SQL object `M`.
pub struct SqlResource<M>(PhantomData<fn() -> M>);

impl<M> SqlResource<M> {
    pub const fn new() -> Self {
        SqlResource(PhantomData)
    }
}

#[async_trait::async_trait]
impl<M: SqlObject> ModelResource for SqlResource<M> {
    type Model = M;
    const TYPE_NAME: &'static str = M::TYPE_NAME;

    fn schema(&self) -> Schema {
        M::schema()
    }

    fn validate(&self, config: &M, diags: &mut Diagnostics) {
        M::validate(config, diags);
    }

    fn modify_plan(
        &self,
        _prior: Option<&M>,
        config: &M,
        planned: &mut M,
        diags: &mut Diagnostics,
    ) {
        M::plan(config, planned, diags);
    }

    async fn create(&self, ctx: &OperationContext, planned: M) -> Applied<M> {
        create(ctx, planned).await
    }

    async fn read(&self, ctx: &OperationContext, state: M) -> Result<Option<M>, Diagnostics> {
        read(ctx, state).await
    }

    async fn update(&self, ctx: &OperationContext, prior: M, planned: M) -> Applied<M> {
        update(ctx, prior, planned).await
    }

    async fn delete(&self, ctx: &OperationContext, prior: M) -> Result<(), Diagnostics> {
        delete(ctx, prior).await
    }

    async fn import(&self, ctx: &OperationContext, id: &str) -> Result<M, Diagnostics> {
        import(ctx, id).await
    }
}

async fn create<M: SqlObject>(ctx: &OperationContext, planned: M) -> Applied<M> {
    match converge(ctx, None, planned, Operation::Create, CREATE_TIMEOUT).await {
        Ok(state) => Applied::reached(Some(state), Diagnostics::new()),
        // The change runs as one statement or one transaction: a failure leaves nothing behind.
        Err(diags) => Applied::nothing_made(None, diags),
    }
}

async fn update<M: SqlObject>(ctx: &OperationContext, prior: M, planned: M) -> Applied<M> {
    match converge(
        ctx,
        Some(&prior),
        planned,
        Operation::Update,
        UPDATE_TIMEOUT,
    )
    .await
    {
        Ok(state) => Applied::reached(Some(state), Diagnostics::new()),
        Err(diags) => Applied::reached(Some(prior), diags),
    }
}

async fn read<M: SqlObject>(
    ctx: &OperationContext,
    mut state: M,
) -> Result<Option<M>, Diagnostics> {
    let common = state.common();
    let limit = timeouts::limit(common.timeouts, Operation::Read, READ_TIMEOUT);
    let job = names::sql_job_name(M::READ_JOB, &common.name());
    let name = common.name();
    let Some(live) = sql_runner::read(ctx, common.kubernetes, common.zone, &job, limit).await?
    else {
        return Ok(Some(state));
    };
    match state.fold(&live) {
        None if !live.unreadable.is_empty() => Err(sql_runner::unreadable_error(
            M::KIND,
            &name,
            &live.unreadable,
        )),
        found => Ok(found),
    }
}

async fn delete<M: SqlObject>(ctx: &OperationContext, mut prior: M) -> Result<(), Diagnostics> {
    let script = prior.drop_script();
    let common = prior.common();
    let limit = timeouts::limit(common.timeouts, Operation::Delete, DELETE_TIMEOUT);
    let deadline = Deadline::after(limit, &ctx.stop);
    let (zone, client) = find_zone::<M>(ctx, &common, &deadline).await?;
    let name = common.name();
    zone.run(
        &client,
        &names::sql_job_name(M::CHANGE_JOB, &name),
        &script,
        &M::dropping(&name),
        &deadline,
    )
    .await
    .map(drop)
}

/// An import by `<name>` reads nothing yet; one by `<kubeconfig context>/<zone>/<name>` reads the object there.
async fn import<M: SqlObject>(ctx: &OperationContext, id: &str) -> Result<M, Diagnostics> {
    let target = ImportTarget::parse(id, M::TYPE_NAME)?;
    let mut state = M::default();
    let common = state.common();
    *common.id = Attr::Known(target.name.clone());
    *common.name = Attr::Known(target.name.clone());
    let Some(live) = target.snapshot(ctx, M::READ_JOB, READ_TIMEOUT).await? else {
        return Ok(state);
    };
    *state.common().zone = Attr::Known(target.zone.clone().unwrap_or_default());
    state
        .fold(&live)
        .ok_or_else(|| sql_runner::not_found(M::TYPE_NAME, &target.name))
}

/// Brings the object from `prior` (nothing for a create) to `planned`: one Job, when there is SQL to run.
async fn converge<M: SqlObject>(
    ctx: &OperationContext,
    prior: Option<&M>,
    mut planned: M,
    operation: Operation,
    default: Duration,
) -> Result<M, Diagnostics> {
    // Values unknown at plan (a name or role from another resource) get the plan's checks now, before any Job.
    let invalid = Diagnostics::of_check(|diags| M::validate(&planned, diags));
    if invalid.has_errors() {
        return Err(invalid);
    }
    let script = M::change_script(prior, &planned)?;
    let common = planned.common();
    let limit = timeouts::limit(common.timeouts, operation, default);
    let deadline = Deadline::after(limit, &ctx.stop);
    // The zone is found even when no statement runs, so that a `zone` or `kubernetes` block that leads nowhere
    // fails this apply rather than the next read.
    let (zone, client) = find_zone::<M>(ctx, &common, &deadline).await?;
    if !script.is_empty() {
        let name = common.name();
        let job = names::sql_job_name(M::CHANGE_JOB, &name);
        match zone.execute(&client, &job, &script, &deadline).await {
            Ok(_) => {}
            Err(e) if prior.is_none() && sql_runner::already_exists(&e) => {
                return Err(sql_runner::exists_error(
                    M::TYPE_NAME,
                    M::KIND,
                    &name,
                    &zone.zone,
                    client.label(),
                ));
            }
            Err(e) => {
                let what = format!("Changing {} {name}", M::KIND);
                return Err(zone.failure(&client, &what, &e));
            }
        }
    }
    *common.id = Attr::Known(common.name());
    Ok(planned)
}

/// The client of the object's `kubernetes` block and the zone its Jobs run in.
async fn find_zone<M: SqlObject>(
    ctx: &OperationContext,
    common: &Common<'_>,
    deadline: &Deadline,
) -> Result<(SqlZone, ClusterClient), Diagnostics> {
    let client = connect_for_apply(ctx, common.kubernetes, M::KIND, deadline).await?;
    let zone = SqlZone::find(&client, &common.zone()).await?;
    Ok((zone, client))
}
