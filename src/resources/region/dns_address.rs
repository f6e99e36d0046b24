//! The zone's DNS load balancer as the apply keeps it: the protocol its live Service serves, and the address peers
//! forward to once the cloud gave it one.
use super::model::RegionModel;
use super::spec::resolver;
use crate::cockroach::manifests::{self, names, DnsProtocol, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::{ClusterClient, Deadline};
use crate::resources::lb_resolver;
use k8s_openapi::api::core::v1::Service;

/// The one protocol the zone's live DNS load balancer serves, which apply keeps: its peers forward with it. None
/// when there is no such Service yet, or when it mixes UDP and TCP (made by earlier versions, and provisioned by
/// no cloud that refuses mixed protocols): it then gets its kind's protocol.
pub(super) async fn live_dns_protocol(
    client: &ClusterClient,
    spec: &ZoneSpec,
) -> Result<Option<DnsProtocol>, Diagnostics> {
    let lb_name = spec.layout.dns_load_balancer_name(&spec.zone);
    let live = client
        .get::<Service>(Some(names::KUBE_SYSTEM), &lb_name)
        .await?;
    Ok(live.as_ref().and_then(manifests::live_dns_protocol))
}

/// The DNS load balancer's address as the IP peers forward to.
pub(super) async fn await_dns_address(
    client: &ClusterClient,
    spec: &ZoneSpec,
    state: &RegionModel,
    deadline: &Deadline,
) -> Result<String, Diagnostics> {
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
