//! Tearing a zone down: what lives outside its namespace first, then the namespace with its data.
use super::init::init_marker_name;
use super::lease::cluster_lease;
use super::lease::ClusterLease;
use super::members;
use super::model::RegionModel;
use super::scale::Leaving;
use super::spec::{zone_layout, zone_spec};
use crate::cockroach::health;
use crate::cockroach::manifests::{self, names, Layout};
use crate::framework::diag::Diagnostics;
use crate::framework::OperationContext;
use crate::kubernetes::{ClusterClient, Deadline, KubeObject, Propagation, RemoteError};
use crate::resources::connection::connect_for_apply;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use std::time::Duration;

/// How long a region's delete waits for the other regions of the same run to say they are going too.
const SIBLINGS_GRACE: Duration = Duration::from_secs(2);

/// A zone removed from a cluster that stays: its nodes are decommissioned, one at a time and gated, before its
/// namespace and volumes go, so that every replica they hold has moved away. Refused before anything is touched
/// when the nodes left could not hold every range, or when the zone has no running node to decommission.
async fn decommission_zone(
    client: &ClusterClient,
    spec: &manifests::ZoneSpec,
    lease: &ClusterLease,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    let refuse = |why: String| {
        Diagnostics::with_error(
            format!("Zone {} cannot leave the running cluster", spec.zone),
            format!("{why}. Nothing was changed."),
        )
    };
    let replicas = client
        .get::<StatefulSet>(Some(&spec.zone), names::STATEFULSET)
        .await?
        .and_then(|s| s.spec?.replicas)
        .unwrap_or(0);
    if replicas == 0 {
        return Err(refuse(format!(
            "zone {} runs no node, so its nodes cannot be decommissioned and their replicas would be lost with its \
             volumes; set its replicas back, apply, then remove it",
            spec.zone
        )));
    }
    let (rows, factor) = members::membership(client, spec, deadline).await?;
    if health::only_going_zones_live(&rows, &lease.going_zones()) {
        tracing::info!(zone = %spec.zone, "every live node is in a zone being deleted: tearing down, no decommission");
        return Ok(());
    }
    health::removal_allowed(&rows, |r| health::zone_of(r) == Some(&spec.zone), factor).map_err(
        |why| {
            refuse(format!(
                "removing zone {}: {why}. If the whole deployment is being destroyed, destroy with \
                 -parallelism of at least the number of regions (Terraform's default is 10): regions deleted \
                 together are torn down without decommissioning, while one deleted alone leaves a running cluster",
                spec.zone
            ))
        },
    )?;
    tracing::info!(zone = %spec.zone, "decommissioning the nodes of a zone leaving a running cluster");
    Leaving::every(client, spec, replicas)
        .decommission(lease, deadline)
        .await
}

pub(super) async fn delete_zone(
    ctx: &OperationContext,
    model: &RegionModel,
    limit: Duration,
) -> Result<(), Diagnostics> {
    let mut diags = Diagnostics::new();
    let Some(mut spec) = zone_spec(model, &mut diags) else {
        return Err(diags);
    };
    let deadline = Deadline::after(limit, &ctx.stop);
    let client = connect_for_apply(ctx, &model.kubernetes, "region", &deadline).await?;
    spec.layout = if model.layout.known().is_none() {
        // Imported and never applied: the live StatefulSet tells whose names the zone uses.
        let live = client
            .get::<StatefulSet>(Some(&spec.zone), names::STATEFULSET)
            .await?;
        zone_layout(model, live.as_ref())
    } else {
        zone_layout(model, None)
    };
    let lease = cluster_lease(&ctx.shared, model, &spec);
    lease.zone_going(&spec.zone);
    // Terraform deletes every region at once after the DNS links that depend on them all: a moment is enough for
    // the other regions of a whole teardown to say so.
    if let Err(stopped) = deadline.pause(SIBLINGS_GRACE).await {
        return Err(Diagnostics::with_error(
            format!("Zone {} was not deleted", spec.zone),
            format!("{stopped} before anything of the zone was touched."),
        ));
    }
    let zones = model
        .cluster
        .known()
        .and_then(|c| c.known_zones())
        .unwrap_or_default();
    if !lease.every_zone_going(&zones) {
        if let Err(refused) = decommission_zone(&client, &spec, &lease, &deadline).await {
            lease.zone_stays(&spec.zone);
            return Err(refused);
        }
    }
    for object in manifests::teardown_refs(&spec) {
        delete_object(&client, &spec.zone, &object).await?;
    }
    client.wait_namespace_deleted(&spec.zone, &deadline).await?;
    if spec.layout == Layout::SetupScript {
        delete_script_rbac(&client).await?;
    }
    // The zone's data is gone with its namespace: a new deployment may initialise again.
    if spec.runs_init {
        let marker = init_marker_name(&spec.cluster_name);
        client
            .delete::<ConfigMap>(Some(names::KUBE_SYSTEM), &marker, Propagation::Background)
            .await?;
    }
    Ok(())
}

/// Deletes one object of the zone's teardown list. The shared default/cockroachdb-public alias
/// is deleted only by the zone that holds it.
async fn delete_object(
    client: &ClusterClient,
    zone: &str,
    object: &manifests::ObjectRef,
) -> Result<bool, RemoteError> {
    let ns = object.namespace.as_deref();
    let name = object.name.as_str();
    let background = Propagation::Background;
    match object.kind {
        "Namespace" => client.delete::<Namespace>(None, name, background).await,
        "Secret" => client.delete::<Secret>(ns, name, background).await,
        "Service" if name == names::PUBLIC_SERVICE => {
            let live = client.get::<Service>(ns, name).await?;
            let ours = live.is_some_and(|live| {
                matches!(
                    manifests::alias_claim(live.metadata.labels.as_ref(), zone),
                    manifests::AliasClaim::Ours
                )
            });
            if !ours {
                return Ok(false);
            }
            client.delete::<Service>(ns, name, background).await
        }
        "Service" => client.delete::<Service>(ns, name, background).await,
        _ => Ok(false),
    }
}

/// The script also made a ServiceAccount, Role and RoleBinding `cockroachdb` in `default` (its teardown deletes
/// them) and a ClusterRole and ClusterRoleBinding `cockroachdb` (its teardown forgets them, leaving a grant to
/// create certificate signing requests behind). They go with the zone, if they still carry the script's label.
async fn delete_script_rbac(client: &ClusterClient) -> Result<(), RemoteError> {
    let default = Some(names::DEFAULT_NAMESPACE);
    delete_if_script_made::<ServiceAccount>(client, default).await?;
    delete_if_script_made::<Role>(client, default).await?;
    delete_if_script_made::<RoleBinding>(client, default).await?;
    delete_if_script_made::<ClusterRoleBinding>(client, None).await?;
    delete_if_script_made::<ClusterRole>(client, None).await
}

async fn delete_if_script_made<K: KubeObject>(
    client: &ClusterClient,
    namespace: Option<&str>,
) -> Result<(), RemoteError> {
    let name = names::SERVICE_ACCOUNT;
    let Some(live) = client.get::<K>(namespace, name).await? else {
        return Ok(());
    };
    if Layout::SetupScript.made(live.meta().labels.as_ref()) {
        client
            .delete::<K>(namespace, name, Propagation::Background)
            .await?;
    }
    Ok(())
}
