//! Bringing a zone to its planned state, the director: connect and read the zone, check it is ours, decide what to
//! write (certificates, a CA rotation's step, init, volume growth, the objects), write it (decommissions first),
//! serve (the DNS load balancer's address, `cockroach init` once in the init zone), then follow (the rollout, the
//! rotation's further steps, the grown volumes). Each step is a method of `ZoneRun` (`zone_run.rs`) calling into
//! its topic's file; this file holds their order and which state a failure at each leaves.
use super::model::RegionModel;
use super::zone_run::ZoneRun;
use crate::framework::diag::Diagnostics;
use crate::framework::{Applied, Attr, OperationContext};
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

    /// Stopped after the write: the state as written, its unknowns cleared.
    fn partial(diags: Diagnostics, state: RegionModel) -> Stopped {
        Stopped {
            diags,
            keep: Some(state_with_unknowns_cleared(state)),
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

/// The steps of an apply, in order. Until the objects are written a failure keeps the prior state; after, the
/// state records what was written, with what is still unknown cleared for the next plan to recompute.
async fn converge_zone(
    ctx: &OperationContext,
    prior: Option<&RegionModel>,
    mut state: RegionModel,
    limit: Duration,
) -> Result<(RegionModel, Diagnostics), Stopped> {
    let mut run = ZoneRun::connect(ctx, prior, &state, limit)
        .await
        .map_err(Stopped::before_any_write(prior))?;
    run.check_zone(&state)
        .await
        .map_err(Stopped::keeping(prior))?;
    let writes = run
        .decide(ctx, &mut state)
        .await
        .map_err(Stopped::keeping(prior))?;
    run.write(&state, &writes)
        .await
        .map_err(Stopped::keeping(prior))?;
    run.record_written(&mut state, &writes);
    if let Err(diags) = run.serve(&mut state, writes.already_initialized).await {
        return Err(Stopped::partial(diags, state));
    }
    let diags = run.follow(&mut state, writes).await;
    Ok((state, diags))
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
