//! Reading a zone back: what the live objects say, as drift the next plan shows.
use super::converge::zone_layout;
use super::{model_of, resolver, storage};
use crate::cockroach::manifests::{self, names};
use crate::framework::diag::Diagnostics;
use crate::framework::{Attr, OperationContext, ToValue, Value};
use crate::resources::cluster_access::connect_for_read;
use crate::resources::lb_resolver;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};

pub(super) async fn read_zone(
    ctx: &OperationContext,
    state: &Value,
) -> Result<Option<Value>, Diagnostics> {
    let mut diags = Diagnostics::new();
    let Some(mut model) = model_of(state, &mut diags) else {
        return Err(diags);
    };
    let Some(client) = connect_for_read(ctx, &model.kubernetes).await? else {
        // Imported, or the connection is unknown: nothing to read until the next apply.
        return Ok(Some(state.clone()));
    };
    let Some(zone) = model.zone.known().cloned() else {
        return Ok(Some(state.clone()));
    };
    let namespace = client
        .get::<Namespace>(None, &zone)
        .await
        .map_err(|e| e.to_diagnostics())?;
    if namespace.is_none_or(|ns| ns.metadata.deletion_timestamp.is_some()) {
        return Ok(None);
    }
    let mut missing = Vec::new();
    let live_set = client
        .get::<StatefulSet>(Some(&zone), names::STATEFULSET)
        .await
        .map_err(|e| e.to_diagnostics())?;
    let layout = zone_layout(&model, live_set.as_ref());
    model.layout = Attr::Known(layout.as_str().to_owned());
    match live_set {
        None => {
            missing.push(format!("StatefulSet/{zone}/{}", names::STATEFULSET));
            model.replicas = Attr::Known(0);
        }
        Some(set) => {
            let observed = manifests::observe_nodes(&set);
            model.replicas = Attr::Known(i64::from(observed.replicas));
            if let (Some(image), Attr::Known(cluster)) = (observed.image, &mut model.cluster) {
                cluster.image = Attr::Known(image);
            }
            storage::read_volumes(&client, &zone, &set, &mut model).await?;
        }
    }
    let secrets = [
        (Some(zone.clone()), names::NODE_SECRET.to_string()),
        (Some(zone.clone()), names::CLIENT_ROOT_SECRET.to_string()),
        (
            Some(names::DEFAULT_NAMESPACE.to_string()),
            layout.default_client_root_secret_name(&zone),
        ),
    ];
    for (ns, name) in secrets {
        if client
            .get::<Secret>(ns.as_deref(), &name)
            .await
            .map_err(|e| e.to_diagnostics())?
            .is_none()
        {
            missing.push(format!("Secret/{}/{name}", ns.unwrap_or_default()));
        }
    }
    let lb_name = layout.dns_load_balancer_name(&zone);
    match client
        .get::<Service>(Some(names::KUBE_SYSTEM), &lb_name)
        .await
        .map_err(|e| e.to_diagnostics())?
    {
        None => {
            missing.push(format!("Service/{}/{lb_name}", names::KUBE_SYSTEM));
            model.dns_address = Attr::Null;
        }
        Some(service) => {
            // A host name resolves to the address apply recorded; if it cannot be resolved
            // right now, the recorded address stands rather than showing false drift.
            let live = crate::kubernetes::readiness::load_balancer_address(&service);
            match live {
                Some(address) => {
                    if let Ok(ip) = lb_resolver::dns_ip(&address, resolver(&model)).await {
                        model.dns_address = Attr::Known(ip);
                    }
                }
                None => model.dns_address = Attr::Null,
            }
        }
    }
    for service in [names::PUBLIC_SERVICE, names::HEADLESS_SERVICE] {
        if client
            .get::<Service>(Some(&zone), service)
            .await
            .map_err(|e| e.to_diagnostics())?
            .is_none()
        {
            missing.push(format!("Service/{zone}/{service}"));
        }
    }
    model.missing_objects = Attr::Known(missing);
    Ok(Some(model.to_value()))
}
