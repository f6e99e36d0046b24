//! `crdb_region`: one zone of a CockroachDB cluster in one Kubernetes cluster. Create applies every
//! object of the zone with server-side apply, waits for the DNS load balancer's address, and in the
//! init zone runs `cockroach init`; read reports drift; delete tears the zone down.
use super::cluster_access::{connect_for_apply, connect_for_read};
use super::lb_resolver;
use super::region_schema::{self, RegionModel, TYPE_NAME};
use crate::cockroach::manifests::{
    self, names, DnsLoadBalancer, LoadBalancerKind, ZoneCertificates, ZoneObject, ZoneSpec,
};
use crate::cockroach::pki::{self, CertificateAuthority};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::timeouts::{self, Operation};
use crate::framework::{
    ApplyOutcome, Attr, OperationContext, PlanRequest, Resource, Schema, ToValue, Value,
};
use crate::kubernetes::readiness::JobOutcome;
use crate::kubernetes::{connection, ClusterClient, Deadline, Propagation};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Pod, Secret, Service,
};
use std::time::Duration;

const CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const NODE_CERT_VALIDITY: time::Duration = time::Duration::days(1825);

pub struct Region;

fn model_of(value: &Value, diags: &mut Diagnostics) -> Option<RegionModel> {
    crate::framework::model::decode_model(value, TYPE_NAME, diags)
}

fn known<'a, T>(attr: &'a Attr<T>, name: &str, diags: &mut Diagnostics) -> Option<&'a T> {
    let value = attr.known();
    if value.is_none() {
        diags.attribute_error(
            AttributePath::root(name),
            "Value not known at apply time",
            format!("{name} must be known when the region is applied."),
        );
    }
    value
}

/// Everything about the zone that the manifests need, from a wholly known planned state.
fn zone_spec(model: &RegionModel, diags: &mut Diagnostics) -> Option<ZoneSpec> {
    let cluster = known(&model.cluster, "cluster", diags)?;
    let zone = known(&model.zone, "zone", diags)?.clone();
    let join_addresses = cluster
        .join_addresses
        .known()
        .map(|list| list.iter().filter_map(|a| a.known().cloned()).collect())
        .unwrap_or_default();
    let kind = match model.dns_load_balancer.known().map(String::as_str) {
        Some("gke-internal") => LoadBalancerKind::GkeInternal,
        Some("aws-internal") => LoadBalancerKind::AwsInternal,
        Some("azure-internal") => LoadBalancerKind::AzureInternal,
        _ => LoadBalancerKind::Public,
    };
    Some(ZoneSpec {
        cluster_name: cluster.name.known().cloned().unwrap_or_default(),
        runs_init: cluster.init_zone.known() == Some(&zone),
        zone,
        region: model.region.known().cloned(),
        image: cluster.image.known().cloned().unwrap_or_default(),
        replicas: model.replicas.known().copied().unwrap_or(3) as i32,
        join_addresses,
        cluster_domain: cluster
            .cluster_domain
            .known()
            .cloned()
            .unwrap_or_else(|| "cluster.local".into()),
        storage_size: model
            .storage_size
            .known()
            .cloned()
            .unwrap_or_else(|| "100Gi".into()),
        storage_class: model.storage_class.known().cloned(),
        cpu_request: model.cpu_request.known().cloned(),
        cpu_limit: model.cpu_limit.known().cloned(),
        memory_request: model.memory_request.known().cloned(),
        memory_limit: model.memory_limit.known().cloned(),
        dns_load_balancer: DnsLoadBalancer {
            kind,
            extra_annotations: model
                .dns_load_balancer_annotations
                .known()
                .cloned()
                .unwrap_or_default(),
        },
    })
}

/// The zone's node certificate: the planned one when the plan kept it, a new one otherwise.
fn node_certificate(
    model: &RegionModel,
    spec: &ZoneSpec,
    diags: &mut Diagnostics,
) -> Option<(String, String)> {
    if let (Attr::Known(cert), Attr::Known(key)) =
        (&model.node_certificate, &model.node_private_key)
    {
        return Some((cert.clone(), key.clone()));
    }
    let cluster = model.cluster.known()?;
    let (Attr::Known(ca_cert), Attr::Known(ca_key)) =
        (&cluster.ca_certificate, &cluster.ca_private_key)
    else {
        diags.attribute_error(
            AttributePath::root("cluster"),
            "Cluster CA not known",
            "The cluster's CA must be known to sign the zone's node certificate.",
        );
        return None;
    };
    let now = time::OffsetDateTime::now_utc();
    let issued = CertificateAuthority::from_pem(ca_cert, ca_key, now)
        .map_err(|e| e.to_string())
        .and_then(|ca| {
            pki::issue_node_certificate(
                &ca,
                &spec.zone,
                &spec.cluster_domain,
                NODE_CERT_VALIDITY,
                now,
            )
            .map_err(|e| e.to_string())
        });
    match issued {
        Ok(pair) => Some((pair.cert_pem.clone(), pair.key_pem.clone())),
        Err(why) => {
            diags.attribute_error(
                AttributePath::root("cluster"),
                "Cannot issue the node certificate",
                why,
            );
            None
        }
    }
}

async fn apply_object(client: &ClusterClient, object: &ZoneObject) -> Result<(), Diagnostics> {
    let applied = match object {
        ZoneObject::Namespace(o) => client.apply(o).await.map(drop),
        ZoneObject::Secret(o) => client.apply(o).await.map(drop),
        ZoneObject::ServiceAccount(o) => client.apply(o).await.map(drop),
        ZoneObject::Service(o) => client.apply(o).await.map(drop),
        ZoneObject::PodDisruptionBudget(o) => client.apply(o).await.map(drop),
        ZoneObject::StatefulSet(o) => client.apply(o).await.map(drop),
        ZoneObject::Job(o) => client.apply(o).await.map(drop),
    };
    applied.map_err(|e| e.to_diagnostics())
}

/// Applies the zone's objects: the namespace first, everything independent of each other at
/// once, and the init Job last (it needs the secrets and the nodes).
async fn apply_zone(client: &ClusterClient, objects: &[ZoneObject]) -> Result<(), Diagnostics> {
    let (first, rest): (Vec<&ZoneObject>, Vec<&ZoneObject>) = objects
        .iter()
        .partition(|o| matches!(o, ZoneObject::Namespace(_)));
    let (jobs, parallel): (Vec<&ZoneObject>, Vec<&ZoneObject>) = rest
        .into_iter()
        .partition(|o| matches!(o, ZoneObject::Job(_)));
    for object in first {
        apply_object(client, object).await?;
    }
    let results =
        futures_util::future::join_all(parallel.into_iter().map(|o| apply_object(client, o))).await;
    let mut diags = Diagnostics::new();
    for result in results {
        if let Err(d) = result {
            diags.extend(d);
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    for job in jobs {
        apply_object(client, job).await?;
    }
    Ok(())
}

impl Region {
    /// Brings the zone to the planned state; returns what now exists even on failure.
    async fn converge(
        ctx: &OperationContext,
        prior: Option<&RegionModel>,
        planned: &Value,
        limit: Duration,
    ) -> ApplyOutcome {
        let mut diags = Diagnostics::new();
        let Some(mut state) = model_of(planned, &mut diags) else {
            return ApplyOutcome {
                diagnostics: diags,
                ..Default::default()
            };
        };
        let fail = |diags: Diagnostics, state: Option<&RegionModel>| ApplyOutcome {
            state: state.map(ToValue::to_value).unwrap_or(Value::Null),
            private: Vec::new(),
            diagnostics: diags,
        };
        let Some(spec) = zone_spec(&state, &mut diags) else {
            return fail(diags, prior);
        };
        let Some((node_crt, node_key)) = node_certificate(&state, &spec, &mut diags) else {
            return fail(diags, prior);
        };
        let Some(cluster) = state.cluster.known().cloned() else {
            return fail(diags, prior);
        };
        let Some(client) = connect_for_apply(ctx, &state.kubernetes, "region", &mut diags).await
        else {
            return fail(diags, prior);
        };
        let certs = ZoneCertificates {
            ca_crt: cluster.ca_certificate.known().cloned().unwrap_or_default(),
            node_crt: node_crt.clone(),
            node_key: node_key.clone(),
            root_crt: cluster
                .root_client_certificate
                .known()
                .cloned()
                .unwrap_or_default(),
            root_key: cluster
                .root_client_private_key
                .known()
                .cloned()
                .unwrap_or_default(),
        };
        let mut already_initialized = prior.is_some_and(|p| p.initialized == Attr::Known(true));
        if spec.runs_init && !already_initialized {
            match client
                .get::<ConfigMap>(
                    Some(names::KUBE_SYSTEM),
                    &init_marker_name(&spec.cluster_name),
                )
                .await
            {
                Ok(marker) => already_initialized = marker.is_some(),
                Err(e) => {
                    diags.extend(e.to_diagnostics());
                    return fail(diags, prior);
                }
            }
        }
        let objects: Vec<ZoneObject> = manifests::zone_objects(&spec, &certs)
            .into_iter()
            .filter(|o| !(already_initialized && matches!(o, ZoneObject::Job(_))))
            .collect();
        let deadline = Deadline::after(limit, &ctx.stop);
        // Scaling to zero stops the zone and keeps its nodes' data (an outage drill); any other
        // scale-down first moves the data off the nodes that will go.
        let leaving = match prior.and_then(|p| p.replicas.known().copied()) {
            Some(before) if spec.replicas > 0 && i64::from(spec.replicas) < before => {
                spec.replicas..before as i32
            }
            _ => 0..0,
        };
        if let Err(d) = decommission_nodes(&client, &spec, leaving.clone(), &deadline).await {
            diags.extend(d);
            return fail(diags, prior);
        }
        if let Err(d) = apply_zone(&client, &objects).await {
            diags.extend(d);
            return fail(diags, prior);
        }
        if let Err(d) = release_volumes(&client, &spec.zone, leaving, &deadline).await {
            diags.extend(d);
            return fail(diags, prior);
        }
        state.id = Attr::Known(spec.zone.clone());
        state.namespace = Attr::Known(spec.zone.clone());
        state.node_certificate = Attr::Known(node_crt);
        state.node_private_key = Attr::Known(node_key);
        state.missing_objects = Attr::Known(Vec::new());

        let lb_name = names::dns_load_balancer_name(&spec.zone);
        match client
            .wait_load_balancer(names::KUBE_SYSTEM, &lb_name, &deadline)
            .await
        {
            Ok(address) => match lb_resolver::dns_ip(&address, resolver(&state)).await {
                Ok(ip) => state.dns_address = Attr::Known(ip),
                Err(why) => {
                    diags.error(
                        format!("Cannot resolve the DNS load balancer of zone {}", spec.zone),
                        format!(
                            "Service {}/{lb_name} on {} has the address {address:?}: {why}",
                            names::KUBE_SYSTEM,
                            client.label()
                        ),
                    );
                    return fail(diags, Some(&state_with_unknowns_cleared(state)));
                }
            },
            Err(e) => {
                diags.extend(e.to_diagnostics());
                return fail(diags, Some(&state_with_unknowns_cleared(state)));
            }
        }

        state.initialized = Attr::Known(already_initialized);
        if spec.runs_init && !already_initialized {
            match client
                .wait_job_finished(&spec.zone, names::INIT_JOB, &deadline)
                .await
            {
                Ok(JobOutcome::Succeeded) => state.initialized = Attr::Known(true),
                Ok(JobOutcome::Failed(why)) => {
                    if init_reported_already_done(&client, &spec.zone).await {
                        state.initialized = Attr::Known(true);
                    } else {
                        diags.error(
                            format!(
                                "cockroach init failed in zone {} on {}",
                                spec.zone,
                                client.label()
                            ),
                            format!(
                                "Job {}/{} failed: {why}. See `kubectl logs job/{} -n {}`.",
                                spec.zone,
                                names::INIT_JOB,
                                names::INIT_JOB,
                                spec.zone
                            ),
                        );
                        return fail(diags, Some(&state_with_unknowns_cleared(state)));
                    }
                }
                Err(e) => {
                    diags.extend(e.to_diagnostics());
                    return fail(diags, Some(&state_with_unknowns_cleared(state)));
                }
            }
        }

        if state.initialized == Attr::Known(true) {
            if let Err(e) = client.apply(&init_marker(&spec)).await {
                diags.extend(e.to_diagnostics());
                return fail(diags, Some(&state));
            }
        }

        let rolled = prior.is_some_and(|p| {
            p.replicas != state.replicas
                || p.cluster.known().map(|c| &c.image) != state.cluster.known().map(|c| &c.image)
        });
        if rolled {
            if let Err(d) = replace_pods_stuck_on_old_revision(&client, &spec.zone, &deadline).await
            {
                diags.extend(d);
            } else if let Err(e) = client
                .wait_rolled_out(&spec.zone, names::STATEFULSET, &deadline)
                .await
            {
                diags.extend(e.to_diagnostics());
            }
        }
        ApplyOutcome {
            state: state.to_value(),
            private: Vec::new(),
            diagnostics: diags,
        }
    }
}

/// Decommissions the nodes of `ordinals`, highest first, one Job each: a node's pod goes only once
/// CockroachDB has moved every replica it held. The Jobs are removed once they succeeded.
async fn decommission_nodes(
    client: &ClusterClient,
    spec: &ZoneSpec,
    ordinals: std::ops::Range<i32>,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    for ordinal in ordinals.rev() {
        let job = manifests::decommission_job(spec, ordinal);
        let name = manifests::decommission_job_name(ordinal);
        client.apply(&job).await.map_err(|e| e.to_diagnostics())?;
        match client.wait_job_finished(&spec.zone, &name, deadline).await {
            Ok(JobOutcome::Succeeded) => {}
            Ok(JobOutcome::Failed(why)) => {
                let mut diags = Diagnostics::new();
                diags.error(
                    format!("Decommissioning node {}-{ordinal} in zone {} failed on {}", names::STATEFULSET, spec.zone, client.label()),
                    format!(
                        "Job {}/{name} failed: {why}. The StatefulSet was not scaled down; see `kubectl logs job/{name} -n {}`.",
                        spec.zone, spec.zone
                    ),
                );
                return Err(diags);
            }
            Err(e) => return Err(e.to_diagnostics()),
        }
        client
            .delete::<Job>(Some(&spec.zone), &name, Propagation::Background)
            .await
            .map_err(|e| e.to_diagnostics())?;
    }
    Ok(())
}

/// Deletes the data volumes of decommissioned nodes once their pods are gone: a decommissioned
/// node can never rejoin, so a later scale-up must start those ordinals on empty volumes.
async fn release_volumes(
    client: &ClusterClient,
    zone: &str,
    ordinals: std::ops::Range<i32>,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    for ordinal in ordinals {
        let pod = format!("{}-{ordinal}", names::STATEFULSET);
        client
            .wait_deleted::<Pod>(Some(zone), &pod, deadline)
            .await
            .map_err(|e| e.to_diagnostics())?;
        let claim = format!("{}-{pod}", names::DATA_VOLUME);
        client
            .delete::<PersistentVolumeClaim>(Some(zone), &claim, Propagation::Background)
            .await
            .map_err(|e| e.to_diagnostics())?;
    }
    Ok(())
}

/// The StatefulSet controller never replaces a pod that crash-loops on an old revision: a rollout
/// that reached a broken image stays stuck even after the image is fixed. Such pods are not
/// serving anyway, so deleting them lets the controller recreate them on the new revision.
async fn replace_pods_stuck_on_old_revision(
    client: &ClusterClient,
    zone: &str,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    use crate::kubernetes::readiness::Progress;
    // The new revision is known once the controller has seen the applied template.
    let set = client
        .wait_for::<StatefulSet, _>(Some(zone), names::STATEFULSET, deadline, |set| match set {
            Some(set) if manifests::observe_nodes(set).observed_current_spec => Progress::Done,
            _ => {
                Progress::Pending("the StatefulSet controller has not seen the new template".into())
            }
        })
        .await
        .map_err(|e| e.to_diagnostics())?;
    let Some(update_revision) = set.and_then(|s| s.status?.update_revision) else {
        return Ok(());
    };
    let pods = client
        .list::<Pod>(
            Some(zone),
            &format!("{}={}", names::LABEL_COMPONENT, names::COMPONENT_DATABASE),
        )
        .await
        .map_err(|e| e.to_diagnostics())?;
    for pod in pods {
        let revision = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("controller-revision-hash"));
        let crash_looping = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|statuses| {
                statuses.iter().any(|c| {
                    c.state
                        .as_ref()
                        .and_then(|s| s.waiting.as_ref())
                        .and_then(|w| w.reason.as_deref())
                        == Some("CrashLoopBackOff")
                })
            });
        if crash_looping && revision != Some(&update_revision) {
            let name = pod.metadata.name.clone().unwrap_or_default();
            tracing::info!(zone, pod = %name, "replacing a pod stuck on an old revision");
            client
                .delete::<Pod>(Some(zone), &name, Propagation::Background)
                .await
                .map_err(|e| e.to_diagnostics())?;
        }
    }
    Ok(())
}

/// The DNS server the user named for resolving a load balancer's host name, if any.
fn resolver(model: &RegionModel) -> Option<std::net::SocketAddr> {
    model.dns_resolver.known()?.parse().ok()
}

/// Names the record, kept in kube-system outside the zone's namespace, that this cluster was
/// initialised from this Kubernetes cluster. Running `cockroach init` again on a zone re-created
/// with empty volumes could bootstrap a second, separate cluster if the node cannot reach its
/// peers yet; the record survives the namespace and prevents that.
fn init_marker_name(cluster_name: &str) -> String {
    format!("crdb-initialized-{cluster_name}")
}

fn init_marker(spec: &ZoneSpec) -> ConfigMap {
    let mut marker = ConfigMap::default();
    marker.metadata.name = Some(init_marker_name(&spec.cluster_name));
    marker.metadata.namespace = Some(names::KUBE_SYSTEM.to_string());
    marker.metadata.labels = Some(names::common_labels(&spec.cluster_name, &spec.zone));
    marker.data = Some(
        [
            ("cluster".to_string(), spec.cluster_name.clone()),
            ("zone".to_string(), spec.zone.clone()),
        ]
        .into_iter()
        .collect(),
    );
    marker
}

/// Whether the init Job's pods ended with the message `cockroach init` prints for a cluster that
/// is already initialised: a success for a region re-created into a running cluster.
async fn init_reported_already_done(client: &ClusterClient, zone: &str) -> bool {
    let selector = format!("job-name={}", names::INIT_JOB);
    let Ok(pods) = client.list::<Pod>(Some(zone), &selector).await else {
        return false;
    };
    let already_done = pods
        .iter()
        .filter_map(|pod| pod.status.as_ref()?.container_statuses.as_ref())
        .flatten()
        .flat_map(|status| {
            let current = status.state.as_ref().and_then(|s| s.terminated.as_ref());
            let last = status
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref());
            [current, last]
        })
        .flatten()
        .filter_map(|terminated| terminated.message.as_deref())
        .any(manifests::init_already_done);
    already_done
}

/// A partial state Terraform can store: unknowns become nulls, which the next plan recomputes.
fn state_with_unknowns_cleared(mut state: RegionModel) -> RegionModel {
    for attr in [&mut state.dns_address] {
        if attr.is_unknown() {
            *attr = Attr::Null;
        }
    }
    if state.initialized.is_unknown() {
        state.initialized = Attr::Null;
    }
    state
}

#[async_trait::async_trait]
impl Resource for Region {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        region_schema::schema(connection::block())
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(model) = model_of(config, diags) {
            region_schema::validate(&model, diags);
            if let Attr::Known(block) = &model.kubernetes {
                if let Err(d) = connection::resolve(block, &AttributePath::root("kubernetes")) {
                    diags.extend(d);
                }
            }
        }
    }

    fn modify_plan(&self, request: &PlanRequest<'_>, planned: &mut Value, diags: &mut Diagnostics) {
        let prior = if request.prior.is_null() {
            None
        } else {
            model_of(request.prior, diags)
        };
        let Some(mut model) = model_of(planned, diags) else {
            return;
        };
        if request.prior.is_null() || prior.as_ref().map(|p| &p.cluster) != Some(&model.cluster) {
            region_schema::check_zone_in_cluster(&model, diags);
        }
        region_schema::plan(prior.as_ref(), &mut model);
        *planned = model.to_value();
    }

    fn check_destroy(&self, prior: &Value, diags: &mut Diagnostics) {
        if prior.attr("deletion_protection") != &Value::Bool(false) {
            let zone = prior.attr("zone").as_str().unwrap_or("?").to_string();
            diags.error(
                format!("crdb_region {zone:?} has deletion_protection enabled"),
                format!(
                    "Destroying or replacing this region deletes namespace {zone:?} with every node and its data \
                     volume. To proceed, set deletion_protection = false, run terraform apply, then destroy (or \
                     apply the change that replaces it)."
                ),
            );
        }
    }

    async fn create(&self, ctx: &OperationContext, planned: &Value) -> ApplyOutcome {
        let limit = timeouts::limit(planned.attr("timeouts"), Operation::Create, CREATE_TIMEOUT);
        Self::converge(ctx, None, planned, limit).await
    }

    async fn read(
        &self,
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
        match client
            .get::<StatefulSet>(Some(&zone), names::STATEFULSET)
            .await
            .map_err(|e| e.to_diagnostics())?
        {
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
            }
        }
        let secrets = [
            (Some(zone.clone()), names::NODE_SECRET.to_string()),
            (Some(zone.clone()), names::CLIENT_ROOT_SECRET.to_string()),
            (
                Some(names::DEFAULT_NAMESPACE.to_string()),
                names::default_client_root_secret_name(&zone),
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
        let lb_name = names::dns_load_balancer_name(&zone);
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

    async fn update(&self, ctx: &OperationContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        let mut diags = Diagnostics::new();
        let Some(prior) = model_of(prior, &mut diags) else {
            return ApplyOutcome {
                diagnostics: diags,
                ..Default::default()
            };
        };
        let limit = timeouts::limit(planned.attr("timeouts"), Operation::Update, UPDATE_TIMEOUT);
        Self::converge(ctx, Some(&prior), planned, limit).await
    }

    async fn delete(&self, ctx: &OperationContext, prior: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(model) = model_of(prior, &mut diags) else {
            return diags;
        };
        let Some(spec) = zone_spec(&model, &mut diags) else {
            return diags;
        };
        let Some(client) = connect_for_apply(ctx, &model.kubernetes, "region", &mut diags).await
        else {
            return diags;
        };
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

    async fn import(&self, _ctx: &OperationContext, id: &str) -> Result<Value, Diagnostics> {
        let mut diags = Diagnostics::new();
        if let Err(why) = super::validate::zone_name(id) {
            diags.error(
                "Invalid import ID",
                format!("Import a crdb_region by its zone: {why}."),
            );
            return Err(diags);
        }
        let model = RegionModel {
            id: Attr::Known(id.to_string()),
            zone: Attr::Known(id.to_string()),
            namespace: Attr::Known(id.to_string()),
            ..Default::default()
        };
        Ok(model.to_value())
    }
}
