//! `crdb_region`: one zone of a CockroachDB cluster in one Kubernetes cluster. Create applies every
//! object of the zone with server-side apply, waits for the DNS load balancer's address, and in the
//! init zone runs `cockroach init`; read reports drift; delete tears the zone down.
mod apply;
mod db_lease;
mod dns_address;
mod gate;
mod identity;
mod imported;
mod init;
mod lease;
mod members;
mod model;
mod plan;
mod read;
mod rollout;
mod rotation;
mod scale;
mod signing;
mod spec;
mod step;
mod storage;
mod teardown;
mod upgrade;
mod workload;
mod zone_rotation;
mod zone_run;

pub use model::{cluster_type, ClusterRef, RegionModel, TYPE_NAME};

use crate::cockroach::manifests::Layout;
use crate::framework::diag::Diagnostics;
use crate::framework::timeouts::{self, Operation};
use crate::framework::{Applied, Attr, ModelResource, OperationContext, Schema};
use crate::resources::connection::{self, connect_for_read};
use crate::resources::import_id::{self, ImportId};
use read::ZoneSnapshot;
use std::time::Duration;

const CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

pub struct Region;

#[async_trait::async_trait]
impl ModelResource for Region {
    type Model = RegionModel;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn schema(&self) -> Schema {
        model::schema(connection::block())
    }

    fn validate(&self, config: &RegionModel, diags: &mut Diagnostics) {
        plan::validate(config, diags);
    }

    fn modify_plan(
        &self,
        prior: Option<&RegionModel>,
        config: &RegionModel,
        planned: &mut RegionModel,
        diags: &mut Diagnostics,
    ) {
        if prior.map(|p| &p.cluster) != Some(&planned.cluster) {
            plan::check_zone_in_cluster(planned, diags);
        }
        plan::check_scale_down(prior, planned, diags);
        plan::check_restart_while_stopped(prior, planned, diags);
        storage::plan(prior, planned, diags);
        plan::plan(prior, planned);
        plan::renew_within_window(planned, time::OffsetDateTime::now_utc(), diags);
        signing::plan(prior, config, planned, diags);
        plan::take_part_in_ca_rotation(prior, planned, diags);
    }

    fn check_destroy(&self, prior: &RegionModel, diags: &mut Diagnostics) {
        plan::check_destroy(prior, diags);
    }

    async fn create(&self, ctx: &OperationContext, planned: RegionModel) -> Applied<RegionModel> {
        let limit = timeouts::limit(&planned.timeouts, Operation::Create, CREATE_TIMEOUT);
        apply::converge(ctx, None, planned, limit).await
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        state: RegionModel,
    ) -> Result<Option<RegionModel>, Diagnostics> {
        let Some(client) = connect_for_read(ctx, &state.kubernetes).await? else {
            // Imported, or the connection is unknown: nothing to read until the next apply.
            return Ok(Some(state));
        };
        let Some(zone) = state.zone.known() else {
            return Ok(Some(state));
        };
        let layout = state.layout.known().and_then(|l| Layout::parse(l));
        let live =
            ZoneSnapshot::fetch(&client, zone, layout, spec::resolver(&state), false).await?;
        Ok(read::fold(state, &live))
    }

    async fn update(
        &self,
        ctx: &OperationContext,
        prior: RegionModel,
        planned: RegionModel,
    ) -> Applied<RegionModel> {
        let limit = timeouts::limit(&planned.timeouts, Operation::Update, UPDATE_TIMEOUT);
        apply::converge(ctx, Some(&prior), planned, limit).await
    }

    async fn delete(&self, ctx: &OperationContext, prior: RegionModel) -> Result<(), Diagnostics> {
        let limit = timeouts::limit(&prior.timeouts, Operation::Delete, DELETE_TIMEOUT);
        teardown::delete_zone(ctx, &prior, limit).await
    }

    async fn import(&self, ctx: &OperationContext, id: &str) -> Result<RegionModel, Diagnostics> {
        let ImportId { context, zone } = import_id::parse(id, TYPE_NAME)?;
        let Some(context) = context else {
            let mut model = RegionModel {
                id: Attr::Known(zone.clone()),
                zone: Attr::Known(zone.clone()),
                namespace: Attr::Known(zone.clone()),
                ..Default::default()
            };
            spec::set_service_addresses(&mut model, &zone);
            return Ok(model);
        };
        let client = import_id::connect(ctx, &context).await?;
        let live = ZoneSnapshot::fetch(&client, &zone, None, None, true).await?;
        imported::imported(&live, client.label())
    }
}
