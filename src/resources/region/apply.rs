//! Bringing a zone to its planned state: every object applied with server-side apply, the DNS
//! load balancer's address awaited, `cockroach init` run once in the init zone, and scale-downs
//! and rollouts followed to the end.
use super::dns_address::{await_dns_address, live_dns_protocol};
use super::identity::refuse_foreign_zone;
use super::init::{await_init, found_initialized, init_marker};
use super::lease::{ClusterLease, Leases};
use super::model::RegionModel;
use super::rollout::Rollout;
use super::rotation::Rotations;
use super::signing::{record_node_certificate, zone_certificates};
use super::spec::{node_resources_changed, zone_at_once, zone_layout, zone_spec};
use super::storage;
use super::workload::{
    certificates_changed, change_workload, desired_objects, live_replicas, revision_of,
    without_unchanged_statefulset, TemplateChange,
};
use super::zone_rotation::ZoneRotation;
use crate::cockroach::manifests::{names, ZoneObject, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::framework::{Applied, Attr, OperationContext, Shared};
use crate::kubernetes::{ClusterClient, Deadline};
use crate::resources::connection::connect_for_apply;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use std::time::Duration;

/// Why converging stopped, and the state to record: the prior one while nothing it holds has changed yet.
struct Stopped {
    diags: Diagnostics,
    keep: Option<RegionModel>,
    /// Stopped before any write: a create has nothing for the next apply to complete.
    made_nothing: bool,
}

impl Stopped {
    fn keeping(state: Option<&RegionModel>) -> impl FnOnce(Diagnostics) -> Stopped + '_ {
        move |diags| Stopped {
            diags,
            keep: state.cloned(),
            made_nothing: false,
        }
    }

    /// Stopped while only connecting and reading.
    fn before_any_write(state: Option<&RegionModel>) -> impl FnOnce(Diagnostics) -> Stopped + '_ {
        move |diags| Stopped {
            made_nothing: true,
            ..Stopped::keeping(state)(diags)
        }
    }
}

/// Brings the zone to the planned state; returns what now exists even on failure.
pub(super) async fn converge(
    ctx: &OperationContext,
    prior: Option<&RegionModel>,
    planned: RegionModel,
    limit: Duration,
) -> Applied<RegionModel> {
    match converge_zone(ctx, prior, planned, limit).await {
        Ok((state, diags)) => Applied::reached(Some(state), diags),
        Err(Stopped {
            diags,
            keep,
            made_nothing: true,
        }) => Applied::nothing_made(keep, diags),
        Err(Stopped { diags, keep, .. }) => Applied::reached(keep, diags),
    }
}

/// The steps of an apply, in order. Until the objects are applied a failure keeps the prior state; after, the
/// state records what was applied, with what is still unknown cleared for the next plan to recompute.
async fn converge_zone(
    ctx: &OperationContext,
    prior: Option<&RegionModel>,
    mut state: RegionModel,
    limit: Duration,
) -> Result<(RegionModel, Diagnostics), Stopped> {
    let deadline = Deadline::after(limit, &ctx.stop);
    let (client, mut spec) = connect_zone(ctx, &state, &deadline)
        .await
        .map_err(Stopped::before_any_write(prior))?;
    let lease = cluster_lease(&ctx.shared, &state, &spec);
    let (live_set, node_secret) = futures_util::future::join(
        client.get::<StatefulSet>(Some(&spec.zone), names::STATEFULSET),
        client.get::<Secret>(Some(&spec.zone), names::NODE_SECRET),
    )
    .await;
    let (mut live_set, node_secret) = live_set
        .and_then(|set| Ok((set, node_secret?)))
        .map_err(|e| Stopped::before_any_write(prior)(e.into()))?;
    refuse_foreign_zone(
        client.label(),
        &spec,
        &state,
        prior,
        node_secret.as_ref(),
        live_set.as_ref(),
    )
    .map_err(Stopped::keeping(prior))?;
    spec.layout = zone_layout(&state, live_set.as_ref());
    spec.dns_load_balancer.protocol = live_dns_protocol(&client, &spec)
        .await
        .map_err(Stopped::keeping(prior))?;
    let done_certs =
        zone_certificates(&state, &spec, node_secret.as_ref()).map_err(Stopped::keeping(prior))?;
    let rotation = ZoneRotation::of(
        ctx.shared.get::<Rotations>(),
        &client,
        &spec,
        &state,
        prior,
        node_secret.as_ref(),
    )
    .await
    .map_err(Stopped::keeping(prior))?;
    let certs = match &rotation {
        Some(rotation) => rotation.first_certificates(&done_certs),
        None => done_certs.clone(),
    };
    if state.ca_rotation_completed.is_unknown() {
        state.ca_rotation_completed = Attr::Null;
    }
    let already_initialized = found_initialized(&client, &spec, prior, live_set.as_ref())
        .await
        .map_err(Stopped::keeping(prior))?;
    // storage.rs: growing the data volumes may delete the StatefulSet (keeping its pods) for the apply below to
    // re-create it, so it runs before the StatefulSet is built; `live_set` then holds the object to create in
    // its place.
    let growth = match prior {
        Some(prior) => storage::grow_volumes(&client, &spec, prior, &mut live_set, &deadline)
            .await
            .map_err(Stopped::keeping(Some(prior)))?,
        None => None,
    };
    let resources_changed = prior.is_some_and(|p| node_resources_changed(p, &state));
    let certificates_changed = certificates_changed(node_secret.as_ref(), &certs);
    let objects = desired_objects(
        &spec,
        &certs,
        already_initialized,
        live_set.as_ref(),
        TemplateChange {
            resources: resources_changed,
            certificates: certificates_changed,
        },
    );
    let revision_before = revision_of(live_set.as_ref());
    let to_write = match growth {
        // Growing volumes deleted the StatefulSet: it is always created again.
        Some(_) => objects.clone(),
        // Boxed: the apply's future is already large, and debug builds run it on a worker thread's stack.
        None => Box::pin(without_unchanged_statefulset(
            &client,
            &objects,
            live_set.as_ref(),
        ))
        .await
        .map_err(|e| Stopped::keeping(prior)(e.into()))?,
    };
    change_workload(&client, &spec, prior, &state, &to_write, &lease, &deadline)
        .await
        .map_err(Stopped::keeping(prior))?;

    state.id = Attr::Known(spec.zone.clone());
    state.namespace = Attr::Known(spec.zone.clone());
    record_node_certificate(&mut state, &certs);
    state.missing_objects = Attr::Known(Vec::new());
    state.layout = Attr::Known(spec.layout.as_str().to_owned());
    let partial = |diags: Diagnostics, state: RegionModel| Stopped {
        diags,
        keep: Some(state_with_unknowns_cleared(state)),
        made_nothing: false,
    };
    state.dns_protocol = Attr::Known(
        spec.dns_load_balancer
            .protocol()
            .attribute_value()
            .to_owned(),
    );
    match await_dns_address(&client, &spec, &state, &deadline).await {
        Ok(ip) => state.dns_address = Attr::Known(ip),
        Err(d) => return Err(partial(d, state)),
    }
    state.initialized = Attr::Known(already_initialized);
    if spec.runs_init && !already_initialized {
        match await_init(&client, &spec, &deadline).await {
            Ok(()) => state.initialized = Attr::Known(true),
            Err(d) => return Err(partial(d, state)),
        }
    }
    if state.initialized == Attr::Known(true) {
        if let Err(e) = client.apply(&init_marker(&spec)).await {
            return Err(partial(e.into(), state));
        }
    }

    let mut diags = Diagnostics::new();
    let rollout = Rollout {
        set: objects.iter().find_map(|o| match o {
            ZoneObject::StatefulSet(set) => Some(set),
            _ => None,
        }),
        held_below: live_set.as_ref().map_or(0, live_replicas),
        before: revision_before,
        lease: lease.clone(),
        zone_at_once: zone_at_once(&state),
    };
    match rollout.follow(&client, &spec, &deadline).await {
        Err(d) => diags.extend(d),
        Ok(warnings) => {
            diags.extend(warnings);
            if let Some(rotation) = &rotation {
                if let Err(d) = rotation
                    .finish(&client, &spec, &mut state, &done_certs, &lease, &deadline)
                    .await
                {
                    diags.extend(d);
                }
            }
        }
    }
    // storage.rs: the grown volumes report their new size; until they do, the state keeps the prior one so that
    // the next apply waits again.
    if let Some(growth) = growth {
        if let Err(d) = growth.wait(&client, spec.replicas, &deadline).await {
            diags.extend(d);
            state.storage_size = prior.map_or(Attr::Null, |p| p.storage_size.clone());
        }
    }
    Ok((state, diags))
}

/// The zone's spec from the planned state, and a client for its cluster.
async fn connect_zone(
    ctx: &OperationContext,
    state: &RegionModel,
    deadline: &Deadline,
) -> Result<(ClusterClient, ZoneSpec), Diagnostics> {
    let mut diags = Diagnostics::new();
    let Some(spec) = zone_spec(state, &mut diags) else {
        return Err(diags);
    };
    let client = connect_for_apply(ctx, &state.kubernetes, "region", deadline).await?;
    Ok((client, spec))
}

/// The one-disruption-at-a-time lease of the zone's CockroachDB cluster in this provider process (see `lease.rs`).
pub(super) fn cluster_lease(shared: &Shared, state: &RegionModel, spec: &ZoneSpec) -> ClusterLease {
    let fingerprint = state
        .cluster
        .known()
        .and_then(|c| c.ca_fingerprint_sha256.known().cloned())
        .unwrap_or_default();
    shared.get::<Leases>().of(&fingerprint, &spec.cluster_name)
}

/// A partial state Terraform can store: unknowns become nulls, which the next plan recomputes.
fn state_with_unknowns_cleared(mut state: RegionModel) -> RegionModel {
    for attr in [&mut state.dns_address, &mut state.dns_protocol] {
        if attr.is_unknown() {
            *attr = Attr::Null;
        }
    }
    if state.initialized.is_unknown() {
        state.initialized = Attr::Null;
    }
    state
}
