//! A zone's part in a CA rotation, run by the apply (the steps and their order are `rotation.rs`'s): whether the
//! zone takes part, and the steps this apply takes it through, from where its live Secrets stand; the first one
//! written with the apply's objects, each further one once every zone finished the one before, each rolled out one
//! node at a time.
use super::model::RegionModel;
use super::rollout::Rollout;
use super::rotation::{self, Rotation, Step};
use super::signing::record_node_certificate;
use super::step::Need;
use super::workload::{apply_zone, desired_objects, TemplateChange};
use super::zone_run::ZoneRun;
use crate::cockroach::manifests::{names, secret_files, ZoneCertificates};
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;

/// Whether this apply takes the zone through a CA rotation: the cluster has a previous CA (its `ca_certificate`
/// changed) that this region has not yet seen every zone move away from (`ca_rotation_completed`). Pure: the
/// planned and prior states only; where the zone stands is read once it takes part.
pub(super) fn needed(planned: &RegionModel, prior: Option<&RegionModel>) -> Need {
    if rotation::pending(planned, prior).is_some() {
        return Need::run(
            "the cluster has a previous CA that this region has not yet seen every zone move away from",
        );
    }
    let cluster = planned.cluster.known();
    match cluster.and_then(|c| c.previous_ca_certificate.known()) {
        None => Need::skip("the cluster has no previous CA"),
        Some(previous) if cluster.and_then(|c| c.ca_certificate.known()) == Some(previous) => {
            Need::skip("the cluster's previous CA is its current one")
        }
        Some(_) => {
            Need::skip("this region saw every zone finish the rotation from the previous CA")
        }
    }
}

/// An unknown `ca_rotation_completed` (planned while a rotation is under way) is recorded as not completed until
/// [`ZoneRotation::finish`] sees every zone done.
pub(super) fn record_not_completed_yet(state: &mut RegionModel) {
    if state.ca_rotation_completed.is_unknown() {
        state.ca_rotation_completed = Attr::Null;
    }
}

/// The zone's part in a CA rotation (see `rotation.rs`): the steps this apply takes it through, from where its
/// live secrets stand.
pub(super) struct ZoneRotation {
    rotation: Rotation,
    steps: Vec<Step>,
    before: rotation::Before,
    previous_ca: String,
    /// Whether the zone runs nodes: one that runs none starts on the new CA and waits for nobody.
    runs_nodes: bool,
}

impl ZoneRotation {
    /// The zone's part, when [`needed`] said it takes part: reads its client Secret for what it ran before.
    pub async fn of(run: &ZoneRun<'_>, state: &RegionModel) -> Result<Option<Self>, Diagnostics> {
        let (client, spec, node_secret) = (&run.client, &run.spec, run.node_secret.as_ref());
        let Some((new_ca, previous_ca)) = rotation::pending(state, run.prior) else {
            return Ok(None);
        };
        let root_secret = client
            .get::<Secret>(Some(&spec.zone), names::CLIENT_ROOT_SECRET)
            .await?;
        let live = rotation::live_step(
            secret_files::text(node_secret, secret_files::CA_CRT),
            secret_files::text(node_secret, secret_files::NODE_CRT),
            &new_ca,
        );
        let zones = state
            .cluster
            .known()
            .and_then(|c| c.known_zones())
            .unwrap_or_default();
        tracing::info!(zone = %spec.zone, step = ?live, "taking part in a CA rotation");
        Ok(Some(ZoneRotation {
            rotation: Rotation::join(
                run.rotations.clone(),
                &spec.cluster_name,
                &new_ca,
                &previous_ca,
                &spec.zone,
                zones,
            ),
            steps: rotation::steps_from(live),
            before: rotation::before(node_secret, root_secret.as_ref()),
            previous_ca,
            runs_nodes: node_secret.is_some(),
        }))
    }

    /// The certificates the apply writes with the zone's objects: the first step's.
    pub fn first_certificates(&self, done: &ZoneCertificates) -> ZoneCertificates {
        self.certificates(self.steps[0], done)
    }

    fn certificates(&self, step: Step, done: &ZoneCertificates) -> ZoneCertificates {
        rotation::certificates_at(step, done, &self.before, &self.previous_ca)
    }

    /// After the first step's rollout: every further step once every zone finished the one before, each rolled
    /// out one node at a time; then, once every zone is done, the rotation is recorded as completed.
    pub async fn finish(
        &self,
        run: &ZoneRun<'_>,
        state: &mut RegionModel,
        done: &ZoneCertificates,
    ) -> Result<(), Diagnostics> {
        let (client, spec, deadline) = (&run.client, &run.spec, &run.deadline);
        self.rotation.finished(self.steps[0]);
        let mut previous = self.steps[0];
        for step in self.steps.iter().copied().skip(1) {
            if self.runs_nodes {
                self.rotation
                    .wait_for_every_zone(previous, deadline)
                    .await?;
            }
            let certs = self.certificates(step, done);
            let live_set = client
                .get::<StatefulSet>(Some(&spec.zone), names::STATEFULSET)
                .await?;
            let objects = desired_objects(
                spec,
                &certs,
                true,
                live_set.as_ref(),
                TemplateChange {
                    resources: false,
                    certificates: true,
                },
            );
            apply_zone(run, &objects).await?;
            record_node_certificate(state, &certs);
            Rollout::of(&objects, live_set.as_ref(), state)
                .follow(run)
                .await?
                .0
                .iter()
                .for_each(|warning| {
                    tracing::warn!(zone = %spec.zone, "{}: {}", warning.summary, warning.detail)
                });
            tracing::info!(zone = %spec.zone, step = ?step, "CA rotation step rolled out");
            self.rotation.finished(step);
            previous = step;
        }
        // A zone found done already (imported, or an apply stopped after its last step) waits for nobody: no
        // zone drops the previous CA before every zone was reissued by the new one.
        if self.runs_nodes && self.steps[0] != Step::Done {
            self.rotation
                .wait_for_every_zone(Step::Done, deadline)
                .await?;
        }
        state.ca_rotation_completed = Attr::Known(rotation::completed_marker(&self.previous_ca));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cockroach::pki::CertificateAuthority;
    use crate::resources::region::model::ClusterRef;

    fn ca(name: &str) -> String {
        let now = time::OffsetDateTime::now_utc();
        CertificateAuthority::generate(name, time::Duration::days(30), now)
            .unwrap()
            .cert_pem()
            .to_owned()
    }

    fn region(ca: &str, previous: Option<&str>, completed: Option<&str>) -> RegionModel {
        RegionModel {
            cluster: Attr::Known(ClusterRef {
                ca_certificate: Attr::Known(ca.into()),
                previous_ca_certificate: previous.map_or(Attr::Null, |p| Attr::Known(p.into())),
                ..Default::default()
            }),
            ca_rotation_completed: completed.map_or(Attr::Null, |c| Attr::Known(c.into())),
            ..Default::default()
        }
    }

    #[test]
    fn a_zone_takes_part_until_its_region_saw_every_zone_leave_the_previous_ca() {
        let (old, new) = (ca("old"), ca("new"));
        let planned = region(&new, Some(&old), None);
        assert!(needed(&planned, Some(&region(&old, None, None))).is_run());
        assert!(
            needed(&planned, None).is_run(),
            "a zone created mid-rotation"
        );
        let done = region(&new, Some(&old), Some(&rotation::completed_marker(&old)));
        assert_eq!(
            needed(&planned, Some(&done)),
            Need::skip("this region saw every zone finish the rotation from the previous CA")
        );
        let other = region(&new, Some(&new), Some(&rotation::completed_marker(&old)));
        assert!(
            needed(&region(&new, Some(&ca("older")), None), Some(&other)).is_run(),
            "a later rotation starts again"
        );
        assert_eq!(
            needed(&region(&new, None, None), Some(&done)),
            Need::skip("the cluster has no previous CA")
        );
        assert!(!needed(&region(&new, Some(&new), None), None).is_run());
    }

    #[test]
    fn the_completion_stays_unrecorded_until_the_rotation_finishes() {
        let mut state = RegionModel {
            ca_rotation_completed: Attr::Unknown,
            ..Default::default()
        };
        record_not_completed_yet(&mut state);
        assert_eq!(state.ca_rotation_completed, Attr::Null);
        state.ca_rotation_completed = Attr::Known("DONE".into());
        record_not_completed_yet(&mut state);
        assert_eq!(state.ca_rotation_completed, Attr::Known("DONE".into()));
    }
}
