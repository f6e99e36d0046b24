//! `crdb_region`: one zone of a CockroachDB cluster in one Kubernetes cluster. Create applies every
//! object of the zone with server-side apply, waits for the DNS load balancer's address, and in the
//! init zone runs `cockroach init`; read reports drift; delete tears the zone down.
mod converge;
mod imported;
mod init;
mod read;
mod rollout;
mod scale;
pub mod schema;
mod storage;
mod teardown;
mod upgrade;

use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::timeouts::{self, Operation};
use crate::framework::{
    ApplyOutcome, Attr, OperationContext, PlanRequest, Resource, Schema, ToValue, Value,
};
use crate::kubernetes::connection;
use crate::resources::cluster_access::validate_connection;
use crate::resources::import_id::{self, ImportId};
use schema::{RegionModel, TYPE_NAME};
use std::time::Duration;

const CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

pub struct Region;

fn model_of(value: &Value, diags: &mut Diagnostics) -> Option<RegionModel> {
    crate::framework::model::decode_model(value, TYPE_NAME, diags)
}

fn known<'a, T>(attr: &'a Attr<T>, name: &str, diags: &mut Diagnostics) -> Option<&'a T> {
    let value = attr.known();
    if value.is_none() {
        diags.attribute_error(
            AttributePath::root(name),
            "Value not known at apply time",
            format!("{name} must be known when the region is applied."),
        );
    }
    value
}

/// The DNS server the user named for resolving a load balancer's host name, if any.
fn resolver(model: &RegionModel) -> Option<std::net::SocketAddr> {
    model.dns_resolver.known()?.parse().ok()
}

#[async_trait::async_trait]
impl Resource for Region {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn model_fields(&self) -> &'static [&'static str] {
        <RegionModel as crate::framework::model::Fields>::FIELDS
    }

    fn schema(&self) -> Schema {
        schema::schema(connection::block())
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(model) = model_of(config, diags) {
            schema::validate(&model, diags);
            validate_connection(&model.kubernetes, diags);
        }
    }

    fn modify_plan(&self, request: &PlanRequest<'_>, planned: &mut Value, diags: &mut Diagnostics) {
        let prior = if request.prior.is_null() {
            None
        } else {
            model_of(request.prior, diags)
        };
        let Some(mut model) = model_of(planned, diags) else {
            return;
        };
        if request.prior.is_null() || prior.as_ref().map(|p| &p.cluster) != Some(&model.cluster) {
            schema::check_zone_in_cluster(&model, diags);
        }
        storage::plan(prior.as_ref(), &mut model, diags);
        schema::plan(prior.as_ref(), &mut model);
        *planned = model.to_value();
    }

    fn check_destroy(&self, prior: &Value, diags: &mut Diagnostics) {
        if prior.attr("deletion_protection") != &Value::Bool(false) {
            let zone = prior.attr("zone").as_str().unwrap_or("?").to_string();
            diags.error(
                format!("crdb_region {zone:?} has deletion_protection enabled"),
                format!(
                    "Destroying or replacing this region deletes namespace {zone:?} with every node and its data \
                     volume. To proceed, set deletion_protection = false, run terraform apply, then destroy (or \
                     apply the change that replaces it)."
                ),
            );
        }
    }

    async fn create(&self, ctx: &OperationContext, planned: &Value) -> ApplyOutcome {
        let limit = timeouts::limit(planned.attr("timeouts"), Operation::Create, CREATE_TIMEOUT);
        Self::converge(ctx, None, planned, limit).await
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        state: &Value,
    ) -> Result<Option<Value>, Diagnostics> {
        read::read_zone(ctx, state).await
    }

    async fn update(&self, ctx: &OperationContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        let mut diags = Diagnostics::new();
        let Some(prior) = model_of(prior, &mut diags) else {
            return ApplyOutcome {
                diagnostics: diags,
                ..Default::default()
            };
        };
        let limit = timeouts::limit(planned.attr("timeouts"), Operation::Update, UPDATE_TIMEOUT);
        Self::converge(ctx, Some(&prior), planned, limit).await
    }

    async fn delete(&self, ctx: &OperationContext, prior: &Value) -> Diagnostics {
        teardown::delete_zone(ctx, prior).await
    }

    async fn import(&self, ctx: &OperationContext, id: &str) -> Result<Value, Diagnostics> {
        let ImportId { context, zone } = import_id::parse(id, TYPE_NAME)?;
        let Some(context) = context else {
            let model = RegionModel {
                id: Attr::Known(zone.clone()),
                zone: Attr::Known(zone.clone()),
                namespace: Attr::Known(zone),
                ..Default::default()
            };
            return Ok(model.to_value());
        };
        let client = import_id::connect(ctx, &context).await?;
        let live = imported::read_live_zone(&client, &zone).await?;
        Ok(imported::imported_model(&zone, &live).to_value())
    }
}
