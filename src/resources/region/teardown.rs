//! Tearing a zone down: what lives outside its namespace first, then the namespace with its data.
use super::converge::{zone_layout, zone_spec};
use super::init::init_marker_name;
use super::{model_of, DELETE_TIMEOUT};
use crate::cockroach::manifests::{self, names, Layout};
use crate::framework::diag::Diagnostics;
use crate::framework::timeouts::{self, Operation};
use crate::framework::{OperationContext, Value};
use crate::kubernetes::{ClusterClient, Deadline, KubeObject, Propagation, RemoteError};
use crate::resources::cluster_access::connect_for_apply;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};

pub(super) async fn delete_zone(ctx: &OperationContext, prior: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let Some(model) = model_of(prior, &mut diags) else {
        return diags;
    };
    let Some(mut spec) = zone_spec(&model, &mut diags) else {
        return diags;
    };
    let Some(client) = connect_for_apply(ctx, &model.kubernetes, "region", &mut diags).await else {
        return diags;
    };
    if model.layout.known().is_none() {
        // Imported and never applied: the live StatefulSet tells whose names the zone uses.
        match client
            .get::<StatefulSet>(Some(&spec.zone), names::STATEFULSET)
            .await
        {
            Ok(live) => spec.layout = zone_layout(&model, live.as_ref()),
            Err(e) => {
                diags.extend(e.to_diagnostics());
                return diags;
            }
        }
    } else {
        spec.layout = zone_layout(&model, None);
    }
    let limit = timeouts::limit(prior.attr("timeouts"), Operation::Delete, DELETE_TIMEOUT);
    let deadline = Deadline::after(limit, &ctx.stop);
    for object in manifests::teardown_refs(&spec) {
        let ns = object.namespace.as_deref();
        let result = match object.kind {
            "Namespace" => {
                client
                    .delete::<Namespace>(None, &object.name, Propagation::Background)
                    .await
            }
            "Secret" => {
                client
                    .delete::<Secret>(ns, &object.name, Propagation::Background)
                    .await
            }
            "Service" if object.name == names::PUBLIC_SERVICE => {
                // The shared default/cockroachdb-public alias is deleted only by the zone that holds it.
                match client.get::<Service>(ns, &object.name).await {
                    Ok(Some(live))
                        if matches!(
                            manifests::alias_claim(live.metadata.labels.as_ref(), &spec.zone),
                            manifests::AliasClaim::Ours
                        ) =>
                    {
                        client
                            .delete::<Service>(ns, &object.name, Propagation::Background)
                            .await
                    }
                    Ok(_) => Ok(false),
                    Err(e) => Err(e),
                }
            }
            "Service" => {
                client
                    .delete::<Service>(ns, &object.name, Propagation::Background)
                    .await
            }
            _ => Ok(false),
        };
        if let Err(e) = result {
            diags.extend(e.to_diagnostics());
            return diags;
        }
    }
    if let Err(e) = client.wait_namespace_deleted(&spec.zone, &deadline).await {
        diags.extend(e.to_diagnostics());
        return diags;
    }
    if spec.layout == Layout::SetupScript {
        if let Err(e) = delete_script_rbac(&client).await {
            diags.extend(e.to_diagnostics());
            return diags;
        }
    }
    // The zone's data is gone with its namespace: a new deployment may initialise again.
    if spec.runs_init {
        let marker = init_marker_name(&spec.cluster_name);
        if let Err(e) = client
            .delete::<ConfigMap>(Some(names::KUBE_SYSTEM), &marker, Propagation::Background)
            .await
        {
            diags.extend(e.to_diagnostics());
        }
    }
    diags
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
