//! The zone's DNS load balancer as the apply keeps it: the protocol its live Service serves, and the address peers
//! forward to once the cloud gave it one.
use super::model::RegionModel;
use super::spec::resolver;
use super::zone_run::ZoneRun;
use crate::cockroach::manifests::{self, names};
use crate::framework::diag::Diagnostics;
use crate::resources::lb_resolver;
use k8s_openapi::api::core::v1::Service;

/// The one protocol the zone's live DNS load balancer serves, which apply keeps: its peers forward with it. None
/// when there is no such Service yet, or when it mixes UDP and TCP (made by earlier versions, and provisioned by
/// no cloud that refuses mixed protocols): it then gets its kind's protocol. Needs the zone's layout.
pub(super) async fn keep_live_protocol(run: &mut ZoneRun<'_>) -> Result<(), Diagnostics> {
    let spec = &run.spec;
    let lb_name = spec.layout.dns_load_balancer_name(&spec.zone);
    let live = run
        .client
        .get::<Service>(Some(names::KUBE_SYSTEM), &lb_name)
        .await?;
    run.spec.dns_load_balancer.protocol = live.as_ref().and_then(manifests::live_dns_protocol);
    Ok(())
}

/// The DNS load balancer's address as the IP peers forward to.
pub(super) async fn await_dns_address(
    run: &ZoneRun<'_>,
    state: &RegionModel,
) -> Result<String, Diagnostics> {
    let (client, spec, deadline) = (&run.client, &run.spec, &run.deadline);
    let lb_name = spec.layout.dns_load_balancer_name(&spec.zone);
    let address = client
        .wait_load_balancer(names::KUBE_SYSTEM, &lb_name, deadline)
        .await?;
    lb_resolver::dns_ip(&address, resolver(state))
        .await
        .map_err(|why| {
            Diagnostics::with_error(
                format!("Cannot resolve the DNS load balancer of zone {}", spec.zone),
                format!(
                    "Service {}/{lb_name} on {} has the address {address:?}: {why}",
                    names::KUBE_SYSTEM,
                    client.label()
                ),
            )
        })
}
