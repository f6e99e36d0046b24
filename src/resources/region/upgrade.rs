//! Major-version upgrades whose finalization the user keeps in hand (`upgrade_finalization = "manual"` on the
//! cluster): before this zone's nodes move to a new major version, `cluster.preserve_downgrade_option` is set to the
//! major version the cluster is finalized at, so that CockroachDB does not finalize and the old binary may come
//! back; switching to `"auto"` resets it and CockroachDB finalizes once every node runs the new binary. Both are
//! `cockroach sql` Jobs in the zone, run by every region (the statements are idempotent) through the edge's Job
//! runner, each awaited and deleted once it succeeded. Both run before the StatefulSet is applied, so a failure leaves the zone untouched and the
//! region's state as it was: the next apply runs them again. A rollback never finalizes in the same change (the
//! cluster's plan refuses it), which is what makes resetting before the rollout safe.
use super::model::{ClusterRef, RegionModel};
use super::step::Need;
use super::zone_run::ZoneRun;
use crate::cockroach::manifests::{self, names};
use crate::cockroach::upgrade::{self, Major};
use crate::cockroach::validate;
use crate::framework::diag::Diagnostics;
use crate::kubernetes::AfterSuccess;

/// What a region does about finalization before it applies its StatefulSet.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Hold the cluster at this major version (an unfinalized upgrade).
    Preserve(Major),
    /// Let CockroachDB finalize.
    Finalize,
}

fn manual(cluster: &ClusterRef) -> bool {
    cluster.upgrade_finalization.known().map(String::as_str) == Some("manual")
}

/// The step, if any, between the region's prior and planned states. A zone without nodes (before or after)
/// has no node to run the Job against and no pod to roll: the other regions take care of the cluster.
pub(super) fn step_before_rollout(
    prior: Option<&RegionModel>,
    planned: &RegionModel,
) -> Option<Step> {
    let prior = prior?;
    let (before, after) = (prior.cluster.known()?, planned.cluster.known()?);
    let has_nodes = |m: &RegionModel| m.replicas.known().copied().unwrap_or(3) > 0;
    if !has_nodes(prior) || !has_nodes(planned) {
        return None;
    }
    if manual(before) && !manual(after) {
        return Some(Step::Finalize);
    }
    if !manual(after) || before.image == after.image {
        return None;
    }
    let finalized = after
        .cluster_version
        .known()
        .and_then(|v| Major::parse(v))?;
    let running = after.image.known().and_then(|i| validate::image_major(i));
    (running != Some(finalized)).then_some(Step::Preserve(finalized))
}

/// Whether the region runs a finalization step before it writes its StatefulSet, and why: the step of
/// [`step_before_rollout`] between the prior and planned states.
pub(super) fn preparation_needed(prior: Option<&RegionModel>, planned: &RegionModel) -> Need {
    match step_before_rollout(prior, planned) {
        Some(Step::Preserve(major)) => Need::run(format!(
            "a major upgrade kept open by `upgrade_finalization = \"manual\"`: the cluster is held at {major}"
        )),
        Some(Step::Finalize) => {
            Need::run("`upgrade_finalization` leaves \"manual\": CockroachDB may finalize")
        }
        None => Need::skip("no major upgrade to hold open or finalize"),
    }
}

/// Runs the region's finalization step, if any, and waits for it; Err names the cluster, the Job and what
/// CockroachDB answered.
pub(super) async fn prepare_rollout(
    run: &ZoneRun<'_>,
    planned: &RegionModel,
) -> Result<(), Diagnostics> {
    let (client, spec, deadline) = (&run.client, &run.spec, &run.deadline);
    let Some(step) = step_before_rollout(run.prior, planned) else {
        return Ok(());
    };
    let (name, statement, what) = match step {
        Step::Preserve(major) => (
            names::PRESERVE_DOWNGRADE_JOB,
            upgrade::preserve_statement(major),
            format!("Setting cluster.preserve_downgrade_option to {major}"),
        ),
        Step::Finalize => (
            names::FINALIZE_UPGRADE_JOB,
            upgrade::FINALIZE_STATEMENT.to_string(),
            "Resetting cluster.preserve_downgrade_option to finalize the upgrade".to_string(),
        ),
    };
    tracing::info!(zone = %spec.zone, job = name, statement = %statement, "{what}");
    let job = manifests::sql_job(spec, name, &statement);
    client
        .run_job(&job, AfterSuccess::Delete, deadline)
        .await
        .map_err(|e| {
            e.to_diagnostics(
                format!("{what} failed in zone {} on {}", spec.zone, client.label()),
                "The StatefulSet was not changed.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Attr;

    fn region(image: &str, mode: &str, cluster_version: &str, replicas: i64) -> RegionModel {
        RegionModel {
            cluster: Attr::Known(ClusterRef {
                image: Attr::Known(format!("cockroachdb/cockroach:{image}")),
                upgrade_finalization: Attr::Known(mode.into()),
                cluster_version: Attr::Known(cluster_version.into()),
                ..Default::default()
            }),
            replicas: Attr::Known(replicas),
            ..Default::default()
        }
    }

    #[test]
    fn a_manual_major_upgrade_preserves_the_finalized_major_first() {
        let prior = region("v24.1.2", "manual", "24.1", 3);
        assert_eq!(
            step_before_rollout(Some(&prior), &region("v24.3.0", "manual", "24.1", 3)),
            Some(Step::Preserve(Major::new(24, 1)))
        );
        let open = region("v24.3.0", "manual", "24.1", 3);
        assert_eq!(
            step_before_rollout(Some(&open), &region("v24.3.1", "manual", "24.1", 3)),
            Some(Step::Preserve(Major::new(24, 1))),
            "a patch while open keeps it open (idempotent)"
        );
        for (planned, why) in [
            (
                region("v24.1.2", "manual", "24.1", 3),
                "a rollback needs nothing set",
            ),
            (region("v24.3.0", "manual", "24.1", 3), "no image change"),
        ] {
            assert_eq!(step_before_rollout(Some(&open), &planned), None, "{why}");
        }
        assert_eq!(
            step_before_rollout(Some(&prior), &region("v24.1.5", "manual", "24.1", 3)),
            None,
            "a patch of a finalized cluster"
        );
        assert_eq!(
            step_before_rollout(Some(&prior), &region("v24.3.0", "auto", "24.3", 3)),
            Some(Step::Finalize),
            "leaving manual always resets, whatever else changes"
        );
    }

    #[test]
    fn auto_does_nothing_and_zones_without_nodes_leave_it_to_the_others() {
        let prior = region("v24.1.2", "auto", "24.1", 3);
        assert_eq!(
            step_before_rollout(Some(&prior), &region("v24.3.0", "auto", "24.3", 3)),
            None
        );
        let open = region("v24.3.0", "manual", "24.1", 3);
        assert_eq!(
            step_before_rollout(Some(&open), &region("v24.3.0", "auto", "24.3", 3)),
            Some(Step::Finalize)
        );
        assert_eq!(
            step_before_rollout(Some(&open), &region("v24.3.0", "auto", "24.3", 0)),
            None
        );
        let stopped = region("v24.1.2", "manual", "24.1", 0);
        assert_eq!(
            step_before_rollout(Some(&stopped), &region("v24.3.0", "manual", "24.1", 3)),
            None
        );
        assert_eq!(
            step_before_rollout(None, &region("v24.3.0", "manual", "24.1", 3)),
            None,
            "a new region runs nothing"
        );
    }

    #[test]
    fn the_preparation_says_which_major_it_holds_or_that_it_finalizes() {
        let prior = region("v24.1.2", "manual", "24.1", 3);
        assert_eq!(
            preparation_needed(Some(&prior), &region("v24.3.0", "manual", "24.1", 3)),
            Need::run(
                "a major upgrade kept open by `upgrade_finalization = \"manual\"`: the cluster is held at 24.1"
            )
        );
        assert_eq!(
            preparation_needed(Some(&prior), &region("v24.3.0", "auto", "24.3", 3)),
            Need::run("`upgrade_finalization` leaves \"manual\": CockroachDB may finalize")
        );
        assert_eq!(
            preparation_needed(Some(&prior), &region("v24.1.5", "manual", "24.1", 3)),
            Need::skip("no major upgrade to hold open or finalize")
        );
    }
}
