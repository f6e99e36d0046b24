//! Bringing a zone to its planned state, the director: the steps of an apply in order, each named, each run only
//! when the pure predicate of its topic file says it is needed (logged at DEBUG with why, see `step.rs`), and which
//! state a failure at each leaves. The steps work with the apply's `ZoneRun` (`zone_run.rs`), made once when it
//! connects; each lives in its topic's file.
use super::init::{self, Initialized};
use super::model::RegionModel;
use super::rollout::Rollout;
use super::storage::{self, VolumeGrowth};
use super::workload::{self, TemplateChange};
use super::zone_rotation::{self, ZoneRotation};
use super::zone_run::ZoneRun;
use super::{dns_address, identity, scale, signing, upgrade};
use crate::cockroach::manifests::{ZoneCertificates, ZoneObject};
use crate::framework::diag::Diagnostics;
use crate::framework::{Applied, Attr, OperationContext};
use std::time::Duration;

/// Brings the zone to the planned state; returns what now exists even on failure: the prior state until the
/// objects are written, then what was written, with what is still unknown cleared for the next plan to recompute.
/// What fails while following the write up (the rollout, a rotation's further steps, the volumes' growth) is
/// reported with the state as written.
pub(super) async fn converge(
    ctx: &OperationContext,
    prior: Option<&RegionModel>,
    mut state: RegionModel,
    limit: Duration,
) -> Applied<RegionModel> {
    let mut run = match ZoneRun::connect(ctx, prior, &state, limit).await {
        Ok(run) => run,
        // Only connected and read: a create has nothing for the next apply to complete.
        Err(diags) => return Applied::nothing_made(prior.cloned(), diags),
    };
    let written = match write(&mut run, &mut state).await {
        Ok(written) => written,
        Err(diags) => return Applied::reached(prior.cloned(), diags),
    };
    workload::record_written(&run, &mut state, &written.certs);
    if let Err(diags) = serve(&run, &mut state, written.initialized).await {
        return Applied::reached(Some(state_with_unknowns_cleared(state)), diags);
    }
    let diags = follow(&run, &mut state, written).await;
    Applied::reached(Some(state), diags)
}

/// What the write leaves for the steps after it.
struct Written {
    /// The zone's objects as they are to be (the StatefulSet held for the provider's rollout).
    objects: Vec<ZoneObject>,
    /// The certificates written (a CA rotation's first step's), and the ones the zone ends with.
    certs: ZoneCertificates,
    done_certs: ZoneCertificates,
    rotation: Option<ZoneRotation>,
    initialized: Initialized,
    growth: Option<VolumeGrowth>,
}

/// Checks the zone is ours, decides what to write and writes it: a scale-down's decommissions and a major
/// upgrade's preparation first, the removed nodes' volumes released after.
async fn write(run: &mut ZoneRun<'_>, state: &mut RegionModel) -> Result<Written, Diagnostics> {
    identity::refuse_foreign_zone(run, state)?;
    dns_address::keep_live_protocol(run).await?;
    let done_certs = signing::zone_certificates(run, state)?;
    let rotation = match run.runs("CA rotation", zone_rotation::needed(state, run.prior)) {
        true => ZoneRotation::of(run, state).await?,
        false => None,
    };
    let certs = rotation
        .as_ref()
        .map_or_else(|| done_certs.clone(), |r| r.first_certificates(&done_certs));
    zone_rotation::record_not_completed_yet(state);
    let initialized = init::found_initialized(run).await?;
    let claims = storage::data_claims(run).await?;
    let growth = match run.runs(
        "volume growth",
        storage::growth_needed(
            &run.spec.storage_size,
            run.live_set.as_ref(),
            claims.as_deref(),
        ),
    ) {
        true => Some(storage::grow_volumes(run, claims.as_deref().unwrap_or_default()).await?),
        false => None,
    };
    let objects = workload::desired_objects(
        &run.spec,
        &certs,
        initialized.already(),
        run.live_set.as_ref(),
        TemplateChange::of(run, state, &certs),
    );
    // Boxed: the apply's future is already large, and debug builds run it on a worker thread's stack.
    let would_be = match growth {
        Some(_) => None,
        None => Box::pin(workload::statefulset_dry_run(run, &objects)).await?,
    };
    let to_write = match run.runs(
        "StatefulSet write",
        workload::statefulset_write_needed(
            growth.is_some(),
            run.live_set.as_ref(),
            would_be.as_ref(),
        ),
    ) {
        true => objects.clone(),
        false => workload::without_statefulset(&objects),
    };
    let before = run.prior.and_then(|p| p.replicas.known().copied());
    let scales_down = run.runs(
        "decommission",
        scale::decommission_needed(before, run.spec.replicas),
    );
    if scales_down {
        scale::decommission(run).await?;
    }
    if run.runs(
        "upgrade preparation",
        upgrade::preparation_needed(run.prior, state),
    ) {
        upgrade::prepare_rollout(run, state).await?;
    }
    workload::apply_zone(run, &to_write).await?;
    if scales_down {
        scale::release_volumes(run).await?;
    }
    Ok(Written {
        objects,
        certs,
        done_certs,
        rotation,
        initialized,
        growth,
    })
}

/// The DNS load balancer's address, `cockroach init` in the init zone, and the record that it ran.
async fn serve(
    run: &ZoneRun<'_>,
    state: &mut RegionModel,
    initialized: Initialized,
) -> Result<(), Diagnostics> {
    state.dns_address = Attr::Known(dns_address::await_dns_address(run, state).await?);
    state.initialized = Attr::Known(initialized.already());
    if run.runs(
        "cockroach init",
        init::init_needed(run.spec.runs_init, initialized),
    ) {
        init::await_init(run).await?;
        state.initialized = Attr::Known(true);
    }
    if state.initialized == Attr::Known(true) {
        init::record_initialized(run).await?;
    }
    Ok(())
}

/// The rollout (`Rollout::follow` says whether it is needed), a CA rotation's further steps once it rolled, and
/// the grown volumes' new size.
async fn follow(run: &ZoneRun<'_>, state: &mut RegionModel, written: Written) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let rollout = Rollout::of(&written.objects, run.live_set.as_ref(), state);
    match rollout.follow(run).await {
        Err(d) => diags.extend(d),
        Ok(warnings) => {
            diags.extend(warnings);
            if let Some(rotation) = &written.rotation {
                if let Err(d) = rotation.finish(run, state, &written.done_certs).await {
                    diags.extend(d);
                }
            }
        }
    }
    if let Some(growth) = &written.growth {
        if run.runs("volume growth wait", growth.wait_needed()) {
            if let Err(d) = growth.wait(run, state).await {
                diags.extend(d);
            }
        }
    }
    diags
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
