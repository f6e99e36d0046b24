//! Tearing a zone down: what lives outside its namespace first, then the namespace with its data.
use super::converge::{zone_layout, zone_spec};
use super::init::init_marker_name;
use super::{model_of, DELETE_TIMEOUT};
use crate::cockroach::manifests::{self, names};
use crate::framework::diag::Diagnostics;
use crate::framework::timeouts::{self, Operation};
use crate::framework::{OperationContext, Value};
use crate::kubernetes::{Deadline, Propagation};
use crate::resources::cluster_access::connect_for_apply;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};

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
