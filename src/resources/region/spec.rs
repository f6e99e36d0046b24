//! What a region's model says about its zone, for the plan, the apply, the read and the teardown alike: the
//! zone's spec for the manifests, its layout, the certificate lifetimes, the names of its services. Pure, no I/O.
use super::model::{ClusterRef, RegionModel};
use crate::cockroach::manifests::{
    self, names, DnsLoadBalancer, Layout, LoadBalancerKind, ZoneSpec,
};
use crate::cockroach::validate::MAX_REPLICAS;
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::Attr;
use crate::resources::certificates::Lifetimes;
use k8s_openapi::api::apps::v1::StatefulSet;

/// The lifetimes the cluster issues certificates with (its defaults while it is unknown).
pub(super) fn lifetimes(model: &RegionModel) -> Lifetimes {
    let cluster = model.cluster.known();
    let setting =
        |pick: fn(&ClusterRef) -> &Attr<String>| cluster.map_or(Attr::Null, |c| pick(c).clone());
    Lifetimes::of(
        &setting(|c| &c.certificate_validity),
        &setting(|c| &c.certificate_renewal),
        &Attr::Null,
    )
}

/// A value apply needs, or an error on its attribute.
pub(super) fn known<'a, T>(
    attr: &'a Attr<T>,
    name: &str,
    diags: &mut Diagnostics,
) -> Option<&'a T> {
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

/// The zone's node count as a StatefulSet holds it; validation keeps it in range, this refuses rather than
/// truncates a value that slipped past.
fn replicas(model: &RegionModel, diags: &mut Diagnostics) -> Option<i32> {
    let wanted = model.replicas.known().copied().unwrap_or(3);
    match i32::try_from(wanted) {
        Ok(n) if wanted <= MAX_REPLICAS => Some(n),
        _ => {
            diags.attribute_error(
                AttributePath::root("replicas"),
                "Invalid replicas",
                format!("replicas must be {MAX_REPLICAS} or less, got {wanted}."),
            );
            None
        }
    }
}

/// The DNS server the user named for resolving a load balancer's host name, if any.
pub(super) fn resolver(model: &RegionModel) -> Option<std::net::SocketAddr> {
    model.dns_resolver.known()?.parse().ok()
}

/// Whether the configuration changed a node's requests or limits. A value set for the first time (after an
/// import that found none) describes the zone rather than asking for a change.
pub(super) fn node_resources_changed(prior: &RegionModel, planned: &RegionModel) -> bool {
    [
        (&prior.cpu_request, &planned.cpu_request),
        (&prior.cpu_limit, &planned.cpu_limit),
        (&prior.memory_request, &planned.memory_request),
        (&prior.memory_limit, &planned.memory_limit),
    ]
    .into_iter()
    .any(|(before, after)| before.known().is_some() && before != after)
}

/// The zone's layout: the one recorded in state, else the one its live StatefulSet shows (a zone adopted from the
/// setup script), else ours.
pub(super) fn zone_layout(state: &RegionModel, live_set: Option<&StatefulSet>) -> Layout {
    state
        .layout
        .known()
        .and_then(|l| Layout::parse(l))
        .unwrap_or_else(|| Layout::of_statefulset(live_set))
}

/// Everything about the zone that the manifests need, from a wholly known planned state.
pub(super) fn zone_spec(model: &RegionModel, diags: &mut Diagnostics) -> Option<ZoneSpec> {
    let cluster = known(&model.cluster, "cluster", diags)?;
    let zone = known(&model.zone, "zone", diags)?.clone();
    let join_addresses = cluster
        .join_addresses
        .known()
        .map(|list| list.iter().filter_map(|a| a.known().cloned()).collect())
        .unwrap_or_default();
    let kind = model
        .dns_load_balancer
        .known()
        .and_then(|k| LoadBalancerKind::parse(k))
        .unwrap_or_default();
    Some(ZoneSpec {
        cluster_name: cluster.name.known().cloned().unwrap_or_default(),
        runs_init: cluster.init_zone.known() == Some(&zone),
        zone,
        region: model.region.known().cloned(),
        image: cluster.image.known().cloned().unwrap_or_default(),
        replicas: replicas(model, diags)?,
        join_addresses,
        cluster_domain: cluster
            .cluster_domain
            .known()
            .cloned()
            .unwrap_or_else(|| "cluster.local".into()),
        storage_size: model
            .storage_size
            .known()
            .cloned()
            .unwrap_or_else(|| "100Gi".into()),
        storage_class: model.storage_class.known().cloned(),
        cpu_request: model.cpu_request.known().cloned(),
        cpu_limit: model.cpu_limit.known().cloned(),
        memory_request: model.memory_request.known().cloned(),
        memory_limit: model.memory_limit.known().cloned(),
        layout: manifests::Layout::Provider,
        dns_load_balancer: DnsLoadBalancer {
            kind,
            extra_annotations: model
                .dns_load_balancer_annotations
                .known()
                .cloned()
                .unwrap_or_default(),
            // Apply keeps what a live Service serves; the plan renders the kind's.
            protocol: None,
        },
    })
}

/// The addresses of the zone's services, which follow from the zone alone.
pub(super) fn set_service_addresses(model: &mut RegionModel, zone: &str) {
    model.sql_address = Attr::Known(names::sql_address(zone));
    model.http_address = Attr::Known(names::http_address(zone));
    model.connection_url = Attr::Known(names::root_connection_url(zone));
}

/// Whether the cluster's `disruption_budget` lets a rollout take down its whole zone at once.
pub(super) fn zone_at_once(state: &RegionModel) -> bool {
    state
        .cluster
        .known()
        .and_then(|c| c.disruption_budget.known())
        .is_some_and(|budget| budget == "zone")
}
