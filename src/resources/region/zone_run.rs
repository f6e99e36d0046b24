//! One apply to one zone, step by step, for the director in `apply.rs`: the context every step works with, made
//! once when the apply connects (`ZoneRun`), and what the apply decides before its first write (`Writes`). Each
//! step calls into the file of its topic.
use super::dns_address::{await_dns_address, live_dns_protocol};
use super::identity::refuse_foreign_zone;
use super::init::{await_init, found_initialized, init_marker};
use super::lease::{cluster_lease, ClusterLease};
use super::model::RegionModel;
use super::rollout::Rollout;
use super::rotation::Rotations;
use super::signing::{record_node_certificate, zone_certificates};
use super::spec::{node_resources_changed, zone_at_once, zone_layout, zone_spec};
use super::storage::{self, VolumeGrowth};
use super::workload::{
    certificates_changed, change_workload, desired_objects, live_replicas, revision_of,
    without_unchanged_statefulset, TemplateChange,
};
use super::zone_rotation::ZoneRotation;
use crate::cockroach::manifests::{names, ZoneCertificates, ZoneObject, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::framework::{Attr, OperationContext};
use crate::kubernetes::{ClusterClient, Deadline};
use crate::resources::connection::connect_for_apply;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use std::time::Duration;

/// What every step of one apply to one zone works with, made once: the zone's client, its spec (with the live
/// layout and DNS protocol), the deadline, the cluster's lease, the prior state, and what the zone runs now.
pub(super) struct ZoneRun<'a> {
    client: ClusterClient,
    spec: ZoneSpec,
    deadline: Deadline,
    lease: ClusterLease,
    prior: Option<&'a RegionModel>,
    /// The zone's StatefulSet as found (or, after volumes grew, the object to create in its place).
    live_set: Option<StatefulSet>,
    node_secret: Option<Secret>,
}

/// What the apply decided before its first write.
pub(super) struct Writes {
    /// The zone's objects as they are to be (the StatefulSet held for the provider's rollout).
    objects: Vec<ZoneObject>,
    /// The ones to write: without a StatefulSet that would not change.
    to_write: Vec<ZoneObject>,
    /// The certificates written now (a CA rotation's first step), and the ones it ends with.
    certs: ZoneCertificates,
    done_certs: ZoneCertificates,
    rotation: Option<ZoneRotation>,
    pub already_initialized: bool,
    growth: Option<VolumeGrowth>,
    revision_before: Option<(Option<String>, Option<i64>)>,
}

impl<'a> ZoneRun<'a> {
    /// Connects and reads what the zone runs; nothing is written.
    pub async fn connect(
        ctx: &OperationContext,
        prior: Option<&'a RegionModel>,
        state: &RegionModel,
        limit: Duration,
    ) -> Result<ZoneRun<'a>, Diagnostics> {
        let deadline = Deadline::after(limit, &ctx.stop);
        let mut diags = Diagnostics::new();
        let Some(spec) = zone_spec(state, &mut diags) else {
            return Err(diags);
        };
        let client = connect_for_apply(ctx, &state.kubernetes, "region", &deadline).await?;
        let lease = cluster_lease(&ctx.shared, state, &spec);
        let (live_set, node_secret) = futures_util::future::join(
            client.get::<StatefulSet>(Some(&spec.zone), names::STATEFULSET),
            client.get::<Secret>(Some(&spec.zone), names::NODE_SECRET),
        )
        .await;
        Ok(ZoneRun {
            live_set: live_set?,
            node_secret: node_secret?,
            client,
            spec,
            deadline,
            lease,
            prior,
        })
    }

    /// Refuses a zone another cluster owns, and takes the zone's layout and DNS protocol as they live.
    pub async fn check_zone(&mut self, state: &RegionModel) -> Result<(), Diagnostics> {
        refuse_foreign_zone(
            self.client.label(),
            &self.spec,
            state,
            self.prior,
            self.node_secret.as_ref(),
            self.live_set.as_ref(),
        )?;
        self.spec.layout = zone_layout(state, self.live_set.as_ref());
        self.spec.dns_load_balancer.protocol = live_dns_protocol(&self.client, &self.spec).await?;
        Ok(())
    }

    /// The certificates, a CA rotation's part, whether init ran, the volumes grown (which may delete the
    /// StatefulSet, keeping its pods, for the write to re-create it), and the objects to write.
    pub async fn decide(
        &mut self,
        ctx: &OperationContext,
        state: &mut RegionModel,
    ) -> Result<Writes, Diagnostics> {
        let (client, spec, prior) = (&self.client, &self.spec, self.prior);
        let done_certs = zone_certificates(state, spec, self.node_secret.as_ref())?;
        let rotation = ZoneRotation::of(
            ctx.shared.get::<Rotations>(),
            client,
            spec,
            state,
            prior,
            self.node_secret.as_ref(),
        )
        .await?;
        let certs = match &rotation {
            Some(rotation) => rotation.first_certificates(&done_certs),
            None => done_certs.clone(),
        };
        if state.ca_rotation_completed.is_unknown() {
            state.ca_rotation_completed = Attr::Null;
        }
        let already_initialized =
            found_initialized(client, spec, prior, self.live_set.as_ref()).await?;
        let growth = match prior {
            Some(prior) => {
                storage::grow_volumes(client, spec, prior, &mut self.live_set, &self.deadline)
                    .await?
            }
            None => None,
        };
        let objects = desired_objects(
            spec,
            &certs,
            already_initialized,
            self.live_set.as_ref(),
            TemplateChange {
                resources: prior.is_some_and(|p| node_resources_changed(p, state)),
                certificates: certificates_changed(self.node_secret.as_ref(), &certs),
            },
        );
        let to_write = match growth {
            // Growing volumes deleted the StatefulSet: it is always created again.
            Some(_) => objects.clone(),
            // Boxed: the apply's future is already large, and debug builds run it on a worker thread's stack.
            None => {
                Box::pin(without_unchanged_statefulset(
                    client,
                    &objects,
                    self.live_set.as_ref(),
                ))
                .await?
            }
        };
        Ok(Writes {
            revision_before: revision_of(self.live_set.as_ref()),
            objects,
            to_write,
            certs,
            done_certs,
            rotation,
            already_initialized,
            growth,
        })
    }

    /// A scale-down's decommissions, a major upgrade's preparation, the objects, the removed nodes' volumes.
    pub async fn write(&self, state: &RegionModel, writes: &Writes) -> Result<(), Diagnostics> {
        let (client, spec) = (&self.client, &self.spec);
        change_workload(
            client,
            spec,
            self.prior,
            state,
            &writes.to_write,
            &self.lease,
            &self.deadline,
        )
        .await
    }

    /// What the write made is now the state.
    pub fn record_written(&self, state: &mut RegionModel, writes: &Writes) {
        let spec = &self.spec;
        state.id = Attr::Known(spec.zone.clone());
        state.namespace = Attr::Known(spec.zone.clone());
        record_node_certificate(state, &writes.certs);
        state.missing_objects = Attr::Known(Vec::new());
        state.layout = Attr::Known(spec.layout.as_str().to_owned());
        state.dns_protocol = Attr::Known(
            spec.dns_load_balancer
                .protocol()
                .attribute_value()
                .to_owned(),
        );
    }

    /// The DNS load balancer's address, `cockroach init` in the init zone, and the record that it ran.
    pub async fn serve(
        &self,
        state: &mut RegionModel,
        already_initialized: bool,
    ) -> Result<(), Diagnostics> {
        let (client, spec, deadline) = (&self.client, &self.spec, &self.deadline);
        state.dns_address = Attr::Known(await_dns_address(client, spec, state, deadline).await?);
        state.initialized = Attr::Known(already_initialized);
        if spec.runs_init && !already_initialized {
            await_init(client, spec, deadline).await?;
            state.initialized = Attr::Known(true);
        }
        if state.initialized == Attr::Known(true) {
            client.apply(&init_marker(spec)).await?;
        }
        Ok(())
    }

    /// The rollout, a CA rotation's further steps, and the grown volumes' new size (until they report it, the
    /// state keeps the prior size, so that the next apply waits again). What fails here is reported with the
    /// state as written.
    pub async fn follow(&self, state: &mut RegionModel, writes: Writes) -> Diagnostics {
        let (client, spec, deadline) = (&self.client, &self.spec, &self.deadline);
        let mut diags = Diagnostics::new();
        let rollout = Rollout {
            set: writes.objects.iter().find_map(|o| match o {
                ZoneObject::StatefulSet(set) => Some(set),
                _ => None,
            }),
            held_below: self.live_set.as_ref().map_or(0, live_replicas),
            before: writes.revision_before,
            lease: self.lease.clone(),
            zone_at_once: zone_at_once(state),
        };
        match rollout.follow(client, spec, deadline).await {
            Err(d) => diags.extend(d),
            Ok(warnings) => {
                diags.extend(warnings);
                if let Some(rotation) = &writes.rotation {
                    let finished = rotation
                        .finish(
                            client,
                            spec,
                            state,
                            &writes.done_certs,
                            &self.lease,
                            deadline,
                        )
                        .await;
                    if let Err(d) = finished {
                        diags.extend(d);
                    }
                }
            }
        }
        if let Some(growth) = writes.growth {
            if let Err(d) = growth.wait(client, spec.replicas, deadline).await {
                diags.extend(d);
                state.storage_size = self.prior.map_or(Attr::Null, |p| p.storage_size.clone());
            }
        }
        diags
    }
}
