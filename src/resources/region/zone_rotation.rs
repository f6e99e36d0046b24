//! A zone's part in a CA rotation, run by the apply (the steps and their order are `rotation.rs`'s): the steps
//! this apply takes the zone through, from where its live Secrets stand; the first one written with the apply's
//! objects, each further one once every zone finished the one before, each rolled out one node at a time.
use super::lease::ClusterLease;
use super::model::RegionModel;
use super::rollout::Rollout;
use super::rotation::{self, Rotation, Rotations, Step};
use super::signing::record_node_certificate;
use super::spec::zone_at_once;
use super::workload::{apply_zone, desired_objects, live_replicas, revision_of, TemplateChange};
use crate::cockroach::manifests::{names, secret_files, ZoneCertificates, ZoneObject, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use crate::kubernetes::{ClusterClient, Deadline};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use std::sync::Arc;

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
    pub async fn of(
        rotations: Arc<Rotations>,
        client: &ClusterClient,
        spec: &ZoneSpec,
        state: &RegionModel,
        prior: Option<&RegionModel>,
        node_secret: Option<&Secret>,
    ) -> Result<Option<Self>, Diagnostics> {
        let Some((new_ca, previous_ca)) = rotation::pending(state, prior) else {
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
                rotations,
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
        client: &ClusterClient,
        spec: &ZoneSpec,
        state: &mut RegionModel,
        done: &ZoneCertificates,
        lease: &ClusterLease,
        deadline: &Deadline,
    ) -> Result<(), Diagnostics> {
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
            apply_zone(client, &objects, deadline).await?;
            record_node_certificate(state, &certs);
            Rollout {
                set: objects.iter().find_map(|o| match o {
                    ZoneObject::StatefulSet(set) => Some(set),
                    _ => None,
                }),
                held_below: live_set.as_ref().map_or(0, live_replicas),
                before: revision_of(live_set.as_ref()),
                lease: lease.clone(),
                zone_at_once: zone_at_once(state),
            }
            .follow(client, spec, deadline)
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
