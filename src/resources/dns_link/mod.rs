//! `crdb_dns_link`: one Kubernetes cluster forwards its peer zones' service names to their DNS
//! load balancers. Only the provider's own entries are ever written or removed, with
//! resourceVersion-guarded updates so that a concurrent edit by anyone else is never lost.
mod apply;
mod model;
mod plan;
mod read;

pub use model::{DnsLinkModel, DNS_PROVIDERS, DNS_PROVIDER_AUTO, TYPE_NAME};

use crate::framework::diag::Diagnostics;
use crate::framework::timeouts::{self, Operation};
use crate::framework::{Applied, ModelResource, OperationContext, Schema};
use crate::resources::connection::{self, connect_for_read};
use crate::resources::import_id::{self, ImportId};
use read::DnsSnapshot;
use std::time::Duration;

const CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub struct DnsLink;

/// The outcome of an apply: the prior state while nothing was written.
fn applied(
    prior: Option<DnsLinkModel>,
    result: Result<(DnsLinkModel, Diagnostics), Diagnostics>,
) -> Applied<DnsLinkModel> {
    match result {
        Ok((state, diags)) => Applied::reached(Some(state), diags),
        Err(diags) => Applied::reached(prior, diags),
    }
}

#[async_trait::async_trait]
impl ModelResource for DnsLink {
    type Model = DnsLinkModel;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn schema(&self) -> Schema {
        model::schema(connection::block())
    }

    fn validate(&self, config: &DnsLinkModel, diags: &mut Diagnostics) {
        plan::validate(config, diags);
    }

    fn modify_plan(
        &self,
        prior: Option<&DnsLinkModel>,
        config: &DnsLinkModel,
        planned: &mut DnsLinkModel,
        _diags: &mut Diagnostics,
    ) {
        plan::plan(prior, config, planned);
    }

    async fn create(&self, ctx: &OperationContext, planned: DnsLinkModel) -> Applied<DnsLinkModel> {
        let limit = timeouts::limit(&planned.timeouts, Operation::Create, CREATE_TIMEOUT);
        applied(None, apply::converge(ctx, None, planned, limit).await)
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        state: DnsLinkModel,
    ) -> Result<Option<DnsLinkModel>, Diagnostics> {
        let Some(client) = connect_for_read(ctx, &state.kubernetes).await? else {
            // Imported, or the connection is unknown: nothing to read until the next apply.
            return Ok(Some(state));
        };
        let snapshot = DnsSnapshot::fetch(&client).await?;
        let (flavour, forwards) = snapshot.forwards(&state.dns_provider_choice())?;
        let over_tcp = snapshot.live_tcp_domains(flavour);
        Ok(Some(read::fold(state, flavour, &forwards, &over_tcp)))
    }

    async fn update(
        &self,
        ctx: &OperationContext,
        prior: DnsLinkModel,
        planned: DnsLinkModel,
    ) -> Applied<DnsLinkModel> {
        let limit = timeouts::limit(&planned.timeouts, Operation::Update, UPDATE_TIMEOUT);
        let result = apply::converge(ctx, Some(&prior), planned, limit).await;
        applied(Some(prior), result)
    }

    async fn delete(&self, ctx: &OperationContext, prior: DnsLinkModel) -> Result<(), Diagnostics> {
        let limit = timeouts::limit(&prior.timeouts, Operation::Delete, DELETE_TIMEOUT);
        apply::remove(ctx, &prior, limit).await
    }

    async fn import(&self, ctx: &OperationContext, id: &str) -> Result<DnsLinkModel, Diagnostics> {
        let ImportId { context, zone } = import_id::parse(id, TYPE_NAME)?;
        let Some(context) = context else {
            return Ok(DnsLinkModel {
                id: crate::framework::Attr::Known(zone.clone()),
                zone: crate::framework::Attr::Known(zone),
                ..Default::default()
            });
        };
        let client = import_id::connect(ctx, &context).await?;
        let (snapshot, own) = futures_util::try_join!(
            DnsSnapshot::fetch(&client),
            read::own_dns_load_balancer(&client, &zone),
        )?;
        let (flavour, forwards) = snapshot.forwards(DNS_PROVIDER_AUTO)?;
        let over_tcp = snapshot.live_tcp_domains(flavour);
        Ok(read::imported_link(
            &zone, own, flavour, &forwards, &over_tcp,
        ))
    }
}
