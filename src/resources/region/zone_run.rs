//! The context of one apply to one zone, made once when the apply connects: what every step of the director
//! (`apply.rs`) works with. The steps live in their topic files and take it borrowed.
use super::lease::{cluster_lease, ClusterLease};
use super::model::RegionModel;
use super::rotation::Rotations;
use super::spec::{zone_layout, zone_spec};
use super::step::{self, Need};
use crate::cockroach::manifests::{names, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::framework::OperationContext;
use crate::kubernetes::{ClusterClient, Deadline};
use crate::resources::connection::connect_for_apply;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use std::sync::Arc;
use std::time::Duration;

/// What every step of one apply to one zone works with: the zone's client, its spec (the live layout and DNS
/// protocol taken in once read), the deadline, the cluster's coordination handles (the lease, the rotations), the
/// prior state, and what the zone runs now.
pub(super) struct ZoneRun<'a> {
    pub client: ClusterClient,
    pub spec: ZoneSpec,
    pub deadline: Deadline,
    pub lease: ClusterLease,
    pub rotations: Arc<Rotations>,
    pub prior: Option<&'a RegionModel>,
    /// The zone's StatefulSet as found (or, after volumes grew, the object to create in its place).
    pub live_set: Option<StatefulSet>,
    pub node_secret: Option<Secret>,
}

impl<'a> ZoneRun<'a> {
    /// Connects and reads what the zone runs, and takes the zone's layout as it lives; nothing is written.
    pub async fn connect(
        ctx: &OperationContext,
        prior: Option<&'a RegionModel>,
        state: &RegionModel,
        limit: Duration,
    ) -> Result<ZoneRun<'a>, Diagnostics> {
        let deadline = Deadline::after(limit, &ctx.stop);
        let mut diags = Diagnostics::new();
        let Some(mut spec) = zone_spec(state, &mut diags) else {
            return Err(diags);
        };
        let client = connect_for_apply(ctx, &state.kubernetes, "region", &deadline).await?;
        let lease = cluster_lease(&ctx.shared, state, &spec);
        let (live_set, node_secret) = futures_util::future::join(
            client.get::<StatefulSet>(Some(&spec.zone), names::STATEFULSET),
            client.get::<Secret>(Some(&spec.zone), names::NODE_SECRET),
        )
        .await;
        let live_set = live_set?;
        spec.layout = zone_layout(state, live_set.as_ref());
        Ok(ZoneRun {
            live_set,
            node_secret: node_secret?,
            client,
            spec,
            deadline,
            lease,
            rotations: ctx.shared.get::<Rotations>(),
            prior,
        })
    }

    /// Logs at DEBUG whether `step` runs in this zone, and why; true when it runs.
    pub fn runs(&self, step: &str, need: Need) -> bool {
        step::runs(&self.spec.zone, step, need)
    }
}
