//! Writing a link: the provider's own forwarding entries merged into the cluster's DNS
//! configuration with a guarded read-modify-write, CoreDNS restarted when it does not reload by
//! itself, and create waiting for the zone's nodes, which need their peers to resolve.
use super::model::DnsLinkModel;
use super::plan::{
    all_domains, corefile_reloads, edited_data, flavour_name, forwards_for, peer_addresses,
    protocols_of, retired_domains,
};
use super::read::DnsSnapshot;
use crate::cockroach::dns::{DnsFlavour, Forwards};
use crate::cockroach::manifests::names;
use crate::framework::diag::Diagnostics;
use crate::framework::{Attr, OperationContext};
use crate::kubernetes::{ClusterClient, Deadline};
use crate::resources::connection::connect_for_apply;
use crate::resources::zone_wait::wait_zone_ready;
use std::collections::BTreeMap;
use std::time::Duration;

/// Writes our entries (`forwards`) and removes the `retired` ones, re-merging on every conflict.
async fn write_forwards(
    client: &ClusterClient,
    flavour: DnsFlavour,
    forwards: &Forwards,
    retired: &[String],
) -> Result<(), Diagnostics> {
    client
        .edit_config_map(names::KUBE_SYSTEM, flavour.config_map(), |data| {
            edited_data(flavour, data, forwards, retired)
        })
        .await?;
    Ok(())
}

/// CoreDNS without the `reload` plugin reads its Corefile only at start: roll its pods, one by one.
async fn reload_dns(client: &ClusterClient, flavour: DnsFlavour) -> Result<(), Diagnostics> {
    if flavour != DnsFlavour::CoreDns {
        return Ok(());
    }
    let map = client
        .get::<k8s_openapi::api::core::v1::ConfigMap>(Some(names::KUBE_SYSTEM), "coredns")
        .await?;
    let corefile = map
        .and_then(|m| m.data?.get("Corefile").cloned())
        .unwrap_or_default();
    if !corefile_reloads(&corefile) {
        client
            .rollout_restart(names::KUBE_SYSTEM, "coredns")
            .await?;
    }
    Ok(())
}

/// Brings the cluster's forwarding to `state`'s peers, removing what `prior` forwarded and no
/// longer does. Fails before anything is written with the prior state kept.
pub(super) async fn converge(
    ctx: &OperationContext,
    prior: Option<&DnsLinkModel>,
    mut state: DnsLinkModel,
    limit: Duration,
) -> Result<(DnsLinkModel, Diagnostics), Diagnostics> {
    let deadline = Deadline::after(limit, &ctx.stop);
    let client = connect_for_apply(ctx, &state.kubernetes, "link", &deadline).await?;
    let zone = state.zone.known().cloned().unwrap_or_default();
    let domain = state.peers_cluster_domain();
    let snapshot = DnsSnapshot::fetch(&client).await?;
    let flavour = snapshot.flavour(&state.dns_provider_choice())?;
    let peers = peer_addresses(&state);
    // The edit keeps live TCP forwards of unlisted peers again against the data it writes over.
    let forwards =
        forwards_for(&state, flavour)?.keeping_live_tcp(snapshot.live_tcp_domains(flavour));
    let retired = retired_domains(prior, &peers, &domain);
    write_forwards(&client, flavour, &forwards, &retired).await?;
    reload_dns(&client, flavour).await?;
    state.id = Attr::Known(zone.clone());
    state.detected_dns_provider = Attr::Known(flavour_name(flavour).to_string());
    state.forwarded_zones = Attr::Known(peers.keys().cloned().collect());
    if state.peer_protocols.is_unknown() {
        state.peer_protocols = Attr::Known(protocols_of(&forwards));
    }
    let mut diags = Diagnostics::new();
    if state.wait_for_ready_replicas != Attr::Known(0) {
        if let Err(e) = wait_zone_ready(&client, &zone, &deadline).await {
            diags.extend(e);
        }
    }
    Ok((state, diags))
}

/// Removes every forwarding entry the link may have written.
pub(super) async fn remove(
    ctx: &OperationContext,
    model: &DnsLinkModel,
    limit: Duration,
) -> Result<(), Diagnostics> {
    let deadline = Deadline::after(limit, &ctx.stop);
    let client = connect_for_apply(ctx, &model.kubernetes, "link", &deadline).await?;
    let flavour = DnsSnapshot::fetch(&client)
        .await?
        .flavour(&model.dns_provider_choice())?;
    let zone = model.zone.known().cloned().unwrap_or_default();
    let domain = model.peers_cluster_domain();
    let retired = all_domains(model);
    let nothing = Forwards::new(&[zone.as_str()], &domain, &BTreeMap::new())
        .map_err(|e| Diagnostics::with_error("Invalid link", e.to_string()))?;
    write_forwards(&client, flavour, &nothing, &retired).await?;
    reload_dns(&client, flavour).await
}
