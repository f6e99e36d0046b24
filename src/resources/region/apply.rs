//! Bringing a zone to its planned state: every object applied with server-side apply, the DNS
//! load balancer's address awaited, `cockroach init` run once in the init zone, and scale-downs
//! and rollouts followed to the end.
use super::identity;
use super::init::{init_marker, init_marker_name, init_reported_already_done};
use super::lease::{ClusterLease, Leases};
use super::model::RegionModel;
use super::plan::{known, lifetimes, node_resources_changed, resolver, zone_layout, zone_spec};
use super::rollout::PacedRollout;
use super::rotation::{self, Rotation, Rotations, Step};
use super::scale::Leaving;
use super::signing::{self, node_certificate, root_client, Signer};
use super::storage;
use crate::cockroach::manifests::{
    self, names, secret_files, DnsProtocol, TemplateFit, ZoneCertificates, ZoneObject, ZoneSpec,
};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::{Applied, Attr, OperationContext, Shared};
use crate::kubernetes::{AfterSuccess, ClusterClient, Deadline, JobError};
use crate::resources::certificates;
use crate::resources::connection::connect_for_apply;
use crate::resources::lb_resolver;
use crate::resources::zone_wait::wait_zone_ready;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use std::sync::Arc;
use std::time::Duration;

/// Refuses, before anything is touched, a zone whose running nodes belong to another CockroachDB cluster.
fn refuse_foreign_zone(
    client: &ClusterClient,
    spec: &ZoneSpec,
    planned: &RegionModel,
    prior: Option<&RegionModel>,
    node_secret: Option<&Secret>,
    live_set: Option<&StatefulSet>,
) -> Result<(), Diagnostics> {
    let file = |name: &str| secret_files::text(node_secret, name);
    let live = identity::LiveZone {
        ca: file(secret_files::CA_CRT),
        node_certificate: file(secret_files::NODE_CRT),
        cluster_name: live_set
            .and_then(|set| set.metadata.labels.as_ref()?.get(names::LABEL_PART_OF))
            .map(String::as_str),
    };
    let Some(foreign) = identity::foreign(planned, prior, &live) else {
        return Ok(());
    };
    let (summary, detail) = identity::refusal(&foreign, &spec.zone, client.label());
    Err(Diagnostics::with_attribute_error(
        AttributePath::root("zone"),
        summary,
        detail,
    ))
}

async fn apply_object(client: &ClusterClient, object: &ZoneObject) -> Result<(), Diagnostics> {
    let applied = match object {
        ZoneObject::Namespace(o) => client.apply(o).await.map(drop),
        ZoneObject::Secret(o) => client.apply(o).await.map(drop),
        ZoneObject::ConfigMap(o) => client.apply(o).await.map(drop),
        ZoneObject::ServiceAccount(o) => client.apply(o).await.map(drop),
        ZoneObject::Role(o) => client.apply(o).await.map(drop),
        ZoneObject::RoleBinding(o) => client.apply(o).await.map(drop),
        ZoneObject::Service(o) => client.apply(o).await.map(drop),
        ZoneObject::PodDisruptionBudget(o) => client.apply(o).await.map(drop),
        ZoneObject::StatefulSet(o) => client.apply(o).await.map(drop),
        ZoneObject::Job(o) => client.apply(o).await.map(drop),
    };
    Ok(applied?)
}

/// Applies the zone's objects: the namespace first, everything independent of each other at
/// once, and the init Job last (it needs the secrets and the nodes).
async fn apply_zone(
    client: &ClusterClient,
    objects: &[ZoneObject],
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    // The join ConfigMap goes before the StatefulSet: the kubelet reads it when it creates a node's container.
    let (first, rest): (Vec<&ZoneObject>, Vec<&ZoneObject>) = objects
        .iter()
        .partition(|o| matches!(o, ZoneObject::Namespace(_) | ZoneObject::ConfigMap(_)));
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
        match job {
            ZoneObject::Job(job) => client.start_job(job, deadline).await?,
            other => apply_object(client, other).await?,
        }
    }
    Ok(())
}

/// Why converging stopped, and the state to record: the prior one while nothing it holds has changed yet.
struct Stopped {
    diags: Diagnostics,
    keep: Option<RegionModel>,
    /// Stopped before any write: a create has nothing for the next apply to complete.
    made_nothing: bool,
}

impl Stopped {
    fn keeping(state: Option<&RegionModel>) -> impl FnOnce(Diagnostics) -> Stopped + '_ {
        move |diags| Stopped {
            diags,
            keep: state.cloned(),
            made_nothing: false,
        }
    }

    /// Stopped while only connecting and reading.
    fn before_any_write(state: Option<&RegionModel>) -> impl FnOnce(Diagnostics) -> Stopped + '_ {
        move |diags| Stopped {
            made_nothing: true,
            ..Stopped::keeping(state)(diags)
        }
    }
}

/// Brings the zone to the planned state; returns what now exists even on failure.
pub(super) async fn converge(
    ctx: &OperationContext,
    prior: Option<&RegionModel>,
    planned: RegionModel,
    limit: Duration,
) -> Applied<RegionModel> {
    match converge_zone(ctx, prior, planned, limit).await {
        Ok((state, diags)) => Applied::reached(Some(state), diags),
        Err(Stopped {
            diags,
            keep,
            made_nothing: true,
        }) => Applied::nothing_made(keep, diags),
        Err(Stopped { diags, keep, .. }) => Applied::reached(keep, diags),
    }
}

/// The steps of an apply, in order. Until the objects are applied a failure keeps the prior state; after, the
/// state records what was applied, with what is still unknown cleared for the next plan to recompute.
async fn converge_zone(
    ctx: &OperationContext,
    prior: Option<&RegionModel>,
    mut state: RegionModel,
    limit: Duration,
) -> Result<(RegionModel, Diagnostics), Stopped> {
    let deadline = Deadline::after(limit, &ctx.stop);
    let (client, mut spec) = connect_zone(ctx, &state, &deadline)
        .await
        .map_err(Stopped::before_any_write(prior))?;
    let lease = cluster_lease(&ctx.shared, &state, &spec);
    let (live_set, node_secret) = futures_util::future::join(
        client.get::<StatefulSet>(Some(&spec.zone), names::STATEFULSET),
        client.get::<Secret>(Some(&spec.zone), names::NODE_SECRET),
    )
    .await;
    let (mut live_set, node_secret) = live_set
        .and_then(|set| Ok((set, node_secret?)))
        .map_err(|e| Stopped::before_any_write(prior)(e.into()))?;
    refuse_foreign_zone(
        &client,
        &spec,
        &state,
        prior,
        node_secret.as_ref(),
        live_set.as_ref(),
    )
    .map_err(Stopped::keeping(prior))?;
    spec.layout = zone_layout(&state, live_set.as_ref());
    spec.dns_load_balancer.protocol = live_dns_protocol(&client, &spec)
        .await
        .map_err(Stopped::keeping(prior))?;
    let done_certs =
        zone_certificates(&state, &spec, node_secret.as_ref()).map_err(Stopped::keeping(prior))?;
    let rotation = ZoneRotation::of(
        ctx.shared.get::<Rotations>(),
        &client,
        &spec,
        &state,
        prior,
        node_secret.as_ref(),
    )
    .await
    .map_err(Stopped::keeping(prior))?;
    let certs = match &rotation {
        Some(rotation) => rotation.certificates(rotation.steps[0], &done_certs),
        None => done_certs.clone(),
    };
    if state.ca_rotation_completed.is_unknown() {
        state.ca_rotation_completed = Attr::Null;
    }
    let already_initialized = found_initialized(&client, &spec, prior, live_set.as_ref())
        .await
        .map_err(Stopped::keeping(prior))?;
    // storage.rs: growing the data volumes may delete the StatefulSet (keeping its pods) for the apply below to
    // re-create it, so it runs before the StatefulSet is built; `live_set` then holds the object to create in
    // its place.
    let growth = match prior {
        Some(prior) => storage::grow_volumes(&client, &spec, prior, &mut live_set, &deadline)
            .await
            .map_err(Stopped::keeping(Some(prior)))?,
        None => None,
    };
    let resources_changed = prior.is_some_and(|p| node_resources_changed(p, &state));
    let certificates_changed = certificates_changed(node_secret.as_ref(), &certs);
    let objects = desired_objects(
        &spec,
        &certs,
        already_initialized,
        live_set.as_ref(),
        TemplateChange {
            resources: resources_changed,
            certificates: certificates_changed,
        },
    );
    let revision_before = revision_of(live_set.as_ref());
    let to_write = match growth {
        // Growing volumes deleted the StatefulSet: it is always created again.
        Some(_) => objects.clone(),
        // Boxed: the apply's future is already large, and debug builds run it on a worker thread's stack.
        None => Box::pin(without_unchanged_statefulset(
            &client,
            &objects,
            live_set.as_ref(),
        ))
        .await
        .map_err(|e| Stopped::keeping(prior)(e.into()))?,
    };
    change_workload(&client, &spec, prior, &state, &to_write, &lease, &deadline)
        .await
        .map_err(Stopped::keeping(prior))?;

    state.id = Attr::Known(spec.zone.clone());
    state.namespace = Attr::Known(spec.zone.clone());
    record_node_certificate(&mut state, &certs);
    state.missing_objects = Attr::Known(Vec::new());
    state.layout = Attr::Known(spec.layout.as_str().to_owned());
    let partial = |diags: Diagnostics, state: RegionModel| Stopped {
        diags,
        keep: Some(state_with_unknowns_cleared(state)),
        made_nothing: false,
    };
    state.dns_protocol = Attr::Known(
        spec.dns_load_balancer
            .protocol()
            .attribute_value()
            .to_owned(),
    );
    match await_dns_address(&client, &spec, &state, &deadline).await {
        Ok(ip) => state.dns_address = Attr::Known(ip),
        Err(d) => return Err(partial(d, state)),
    }
    state.initialized = Attr::Known(already_initialized);
    if spec.runs_init && !already_initialized {
        match await_init(&client, &spec, &deadline).await {
            Ok(()) => state.initialized = Attr::Known(true),
            Err(d) => return Err(partial(d, state)),
        }
    }
    if state.initialized == Attr::Known(true) {
        if let Err(e) = client.apply(&init_marker(&spec)).await {
            return Err(partial(e.into(), state));
        }
    }

    let mut diags = Diagnostics::new();
    let rollout = Rollout {
        set: objects.iter().find_map(|o| match o {
            ZoneObject::StatefulSet(set) => Some(set),
            _ => None,
        }),
        held_below: live_set.as_ref().map_or(0, live_replicas),
        before: revision_before,
        lease: lease.clone(),
        zone_at_once: zone_at_once(&state),
    };
    match rollout.follow(&client, &spec, &deadline).await {
        Err(d) => diags.extend(d),
        Ok(warnings) => {
            diags.extend(warnings);
            if let Some(rotation) = &rotation {
                if let Err(d) = rotation
                    .finish(&client, &spec, &mut state, &done_certs, &lease, &deadline)
                    .await
                {
                    diags.extend(d);
                }
            }
        }
    }
    // storage.rs: the grown volumes report their new size; until they do, the state keeps the prior one so that
    // the next apply waits again.
    if let Some(growth) = growth {
        if let Err(d) = growth.wait(&client, spec.replicas, &deadline).await {
            diags.extend(d);
            state.storage_size = prior.map_or(Attr::Null, |p| p.storage_size.clone());
        }
    }
    Ok((state, diags))
}

/// The zone's spec from the planned state, and a client for its cluster.
async fn connect_zone(
    ctx: &OperationContext,
    state: &RegionModel,
    deadline: &Deadline,
) -> Result<(ClusterClient, ZoneSpec), Diagnostics> {
    let mut diags = Diagnostics::new();
    let Some(spec) = zone_spec(state, &mut diags) else {
        return Err(diags);
    };
    let client = connect_for_apply(ctx, &state.kubernetes, "region", deadline).await?;
    Ok((client, spec))
}

/// The files of the zone's secrets: the cluster's CA, the `root` client, and the zone's node certificate.
fn zone_certificates(
    state: &RegionModel,
    spec: &ZoneSpec,
    node_secret: Option<&Secret>,
) -> Result<ZoneCertificates, Diagnostics> {
    let mut diags = Diagnostics::new();
    let Some(cluster) = known(&state.cluster, "cluster", &mut diags) else {
        return Err(diags);
    };
    let signer = Signer::of(state, lifetimes(state))?;
    let (node_crt, node_key) = node_certificate(
        state,
        spec,
        secret_files::pair(node_secret, secret_files::NODE_CRT, secret_files::NODE_KEY),
        &signer,
    )?;
    let (root_crt, root_key) = root_client(
        cluster,
        secret_files::pair(node_secret, secret_files::ROOT_CRT, secret_files::ROOT_KEY),
        &node_crt,
        &signer,
        &spec.zone,
    )?;
    Ok(ZoneCertificates {
        ca_crt: signer.ca_certificate.to_owned(),
        node_crt,
        node_key,
        root_crt,
        root_key,
    })
}

/// Records the zone's node certificate in the state; its key only when the CA key is kept there too (with a
/// write-only CA key it lives only in the zone's Secret) and the plan left it to this apply.
fn record_node_certificate(state: &mut RegionModel, certs: &ZoneCertificates) {
    state.node_certificate = Attr::Known(certs.node_crt.clone());
    state.node_certificate_expires_at = certificates::expires_at(&certs.node_crt).into();
    if signing::home(state) == signing::KeyHome::WriteOnly {
        state.node_private_key = Attr::Null;
    } else if !state.node_private_key.is_null() {
        state.node_private_key = Attr::Known(certs.node_key.clone());
    }
}

/// Whether the cluster is known to be initialised already, so this zone runs no init: its nodes are ready
/// (nodes are ready only in an initialised cluster: an adopted zone, or one repaired after a failed apply), the
/// state says so, or the record in kube-system does.
async fn found_initialized(
    client: &ClusterClient,
    spec: &ZoneSpec,
    prior: Option<&RegionModel>,
    live_set: Option<&StatefulSet>,
) -> Result<bool, Diagnostics> {
    if !spec.runs_init {
        return Ok(prior.is_some_and(|p| p.initialized == Attr::Known(true)));
    }
    let serving = live_set.is_some_and(|set| manifests::observe_nodes(set).ready_replicas > 0);
    if serving || prior.is_some_and(|p| p.initialized == Attr::Known(true)) {
        return Ok(true);
    }
    let marker = client
        .get::<ConfigMap>(
            Some(names::KUBE_SYSTEM),
            &init_marker_name(&spec.cluster_name),
        )
        .await?;
    Ok(marker.is_some())
}

/// Whether the node secret's `ca.crt` or `node.crt` differ from what is to be applied: the running nodes then
/// need a restart to load them (a missing secret counts as changed).
fn certificates_changed(node_secret: Option<&Secret>, certs: &ZoneCertificates) -> bool {
    let file = |name: &str| secret_files::text(node_secret, name);
    file(secret_files::CA_CRT) != Some(certs.ca_crt.as_str())
        || file(secret_files::NODE_CRT) != Some(certs.node_crt.as_str())
}

/// What the configuration changes that the running nodes' template must carry.
#[derive(Clone, Copy)]
struct TemplateChange {
    /// Requests or limits.
    resources: bool,
    /// The certificates the nodes load (`ca.crt`, `node.crt`).
    certificates: bool,
}

/// The zone's objects as they are to be applied: no init Job once initialised, and the StatefulSet fitted to
/// the live one (see `manifests::fit_to_live`). A live template made before the certificates annotation existed
/// gets it only with new certificates, so that the nodes restart when they have something new to load.
fn desired_objects(
    spec: &ZoneSpec,
    certs: &ZoneCertificates,
    already_initialized: bool,
    live_set: Option<&StatefulSet>,
    change: TemplateChange,
) -> Vec<ZoneObject> {
    manifests::zone_objects(spec, certs)
        .into_iter()
        .filter(|o| !(already_initialized && matches!(o, ZoneObject::Job(_))))
        .map(|object| match (object, live_set) {
            (ZoneObject::StatefulSet(mut set), Some(live)) => {
                if !change.certificates && manifests::certificates_annotation(live).is_none() {
                    manifests::drop_certificates_annotation(&mut set);
                }
                let change_requested = change.resources || change.certificates;
                if manifests::fit_to_live(&mut set, live, spec, change_requested)
                    == TemplateFit::KeptLive
                {
                    tracing::info!(
                        zone = %spec.zone,
                        "keeping the adopted pod template until the image or locality changes"
                    );
                }
                // rollout.rs: the running pods keep their revision until the provider lets each one go.
                manifests::hold_rollout(&mut set, live_replicas(live));
                ZoneObject::StatefulSet(set)
            }
            (object, _) => object,
        })
        .collect()
}

/// `objects` without the StatefulSet when writing it would change nothing the API server stores beyond the
/// partition that holds a rollout: a dry run of it at the live partition keeps the live object's generation, which
/// the API server raises for every change of its spec. Then nothing rolls, and no partition is raised only to be
/// lowered again; a rollout an earlier apply left part-way still goes on (`Rollout::follow`).
async fn without_unchanged_statefulset(
    client: &ClusterClient,
    objects: &[ZoneObject],
    live: Option<&StatefulSet>,
) -> Result<Vec<ZoneObject>, crate::kubernetes::RemoteError> {
    let desired = objects.iter().find_map(|o| match o {
        ZoneObject::StatefulSet(set) => Some(set),
        _ => None,
    });
    let (Some(desired), Some(live)) = (desired, live) else {
        return Ok(objects.to_vec());
    };
    // The desired set as the live one holds its rollout: with no `rollingUpdate` at all when it has none (the API
    // server defaults none), since adding one would itself be a change.
    let probe = match manifests::held_partition(live) {
        Some(partition) => super::rollout::held_at(desired, partition),
        None => manifests::without_partition(desired),
    };
    let would_be = client.apply_dry_run(&probe).await?;
    let unchanged = would_be.metadata.uid == live.metadata.uid
        && would_be.metadata.generation == live.metadata.generation;
    Ok(objects
        .iter()
        .filter(|o| !(unchanged && matches!(o, ZoneObject::StatefulSet(_))))
        .cloned()
        .collect())
}

/// Decommissions the nodes a scale-down removes, prepares a major upgrade, applies the objects, and releases
/// the removed nodes' volumes (see `scale.rs`).
async fn change_workload(
    client: &ClusterClient,
    spec: &ZoneSpec,
    prior: Option<&RegionModel>,
    planned: &RegionModel,
    objects: &[ZoneObject],
    lease: &ClusterLease,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    let leaving = Leaving::between(client, spec, prior);
    leaving.refuse_unless_allowed(deadline).await?;
    leaving.decommission(lease, deadline).await?;
    super::upgrade::prepare_rollout(client, spec, prior, planned, deadline).await?;
    apply_zone(client, objects, deadline).await?;
    leaving.release_volumes(deadline).await
}

/// The one protocol the zone's live DNS load balancer serves, which apply keeps: its peers forward with it. None
/// when there is no such Service yet, or when it mixes UDP and TCP (made by earlier versions, and provisioned by
/// no cloud that refuses mixed protocols): it then gets its kind's protocol.
async fn live_dns_protocol(
    client: &ClusterClient,
    spec: &ZoneSpec,
) -> Result<Option<DnsProtocol>, Diagnostics> {
    let lb_name = spec.layout.dns_load_balancer_name(&spec.zone);
    let live = client
        .get::<Service>(Some(names::KUBE_SYSTEM), &lb_name)
        .await?;
    Ok(live.as_ref().and_then(manifests::live_dns_protocol))
}

/// The DNS load balancer's address as the IP peers forward to.
async fn await_dns_address(
    client: &ClusterClient,
    spec: &ZoneSpec,
    state: &RegionModel,
    deadline: &Deadline,
) -> Result<String, Diagnostics> {
    let lb_name = spec.layout.dns_load_balancer_name(&spec.zone);
    let address = client
        .wait_load_balancer(names::KUBE_SYSTEM, &lb_name, deadline)
        .await?;
    lb_resolver::dns_ip(&address, resolver(state))
        .await
        .map_err(|why| {
            Diagnostics::with_error(
                format!("Cannot resolve the DNS load balancer of zone {}", spec.zone),
                format!(
                    "Service {}/{lb_name} on {} has the address {address:?}: {why}",
                    names::KUBE_SYSTEM,
                    client.label()
                ),
            )
        })
}

/// Waits for the init Job; a cluster that reports itself initialised already counts as success.
async fn await_init(
    client: &ClusterClient,
    spec: &ZoneSpec,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    let finished = client
        .finish_job(&spec.zone, names::INIT_JOB, AfterSuccess::Keep, deadline)
        .await;
    match finished {
        Ok(()) => Ok(()),
        Err(JobError::Failed(_)) if init_reported_already_done(client, &spec.zone).await => Ok(()),
        Err(e) => Err(e.to_diagnostics(
            format!(
                "cockroach init failed in zone {} on {}",
                spec.zone,
                client.label()
            ),
            "",
        )),
    }
}

/// Which StatefulSet object at which generation: a different one after the apply means the controller has pods
/// to roll (a new template or replica count) or to adopt (a StatefulSet re-created to grow its volumes).
fn revision_of(set: Option<&StatefulSet>) -> Option<(Option<String>, Option<i64>)> {
    set.map(|s| (s.metadata.uid.clone(), s.metadata.generation))
}

/// The replicas a live StatefulSet runs (the API server defaults an absent count to one).
fn live_replicas(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// The one-disruption-at-a-time lease of the zone's CockroachDB cluster in this provider process (see `lease.rs`).
pub(super) fn cluster_lease(shared: &Shared, state: &RegionModel, spec: &ZoneSpec) -> ClusterLease {
    let fingerprint = state
        .cluster
        .known()
        .and_then(|c| c.ca_fingerprint_sha256.known().cloned())
        .unwrap_or_default();
    shared.get::<Leases>().of(&fingerprint, &spec.cluster_name)
}

/// Whether the cluster's `disruption_budget` lets a rollout take down its whole zone at once.
fn zone_at_once(state: &RegionModel) -> bool {
    state
        .cluster
        .known()
        .and_then(|c| c.disruption_budget.known())
        .is_some_and(|budget| budget == "zone")
}

/// What the apply left for the provider to roll: the StatefulSet it wrote, held below `held_below`.
struct Rollout<'a> {
    set: Option<&'a StatefulSet>,
    held_below: i32,
    before: Option<(Option<String>, Option<i64>)>,
    lease: ClusterLease,
    /// The cluster's `disruption_budget` is `zone`.
    zone_at_once: bool,
}

impl Rollout<'_> {
    /// Rolls the zone's nodes one at a time, or by zone (`rollout.rs`), and waits for every pod, new ones
    /// included, to be ready on the new revision; a zone created or left as it was has nothing to follow. Ok holds
    /// the rollout's warnings.
    async fn follow(
        &self,
        client: &ClusterClient,
        spec: &ZoneSpec,
        deadline: &Deadline,
    ) -> Result<Diagnostics, Diagnostics> {
        let Some(set) = self.set else {
            return Ok(Diagnostics::new());
        };
        if self.before.is_none() {
            return Ok(Diagnostics::new());
        }
        let after = client
            .get::<StatefulSet>(Some(&spec.zone), names::STATEFULSET)
            .await?;
        // An unchanged StatefulSet has nothing to roll, unless an earlier apply stopped part-way through its
        // rollout and left nodes held on an older revision.
        let left_part_way = after
            .as_ref()
            .is_some_and(|s| manifests::observe_nodes(s).older_revision_running);
        if revision_of(after.as_ref()) == self.before && !left_part_way {
            return Ok(Diagnostics::new());
        }
        let rolled = PacedRollout {
            client,
            spec,
            set,
            held_below: self.held_below,
            lease: &self.lease,
            deadline,
            zone_at_once: self.zone_at_once,
        }
        .run()
        .await?;
        let (restarted, warnings) = (rolled.restarted, rolled.warnings);
        // Only a template that reached running pods has a rollout to follow: writing the partition alone
        // bumps the generation too, and a zone whose nodes are not serving yet (a create completed by a
        // later apply, before the DNS links exist) must not wait for them here.
        if !restarted && self.held_below >= spec.replicas {
            return Ok(warnings);
        }
        // Explains a zone that never gets ready by the peers its nodes cannot reach.
        wait_zone_ready(client, &spec.zone, deadline).await?;
        Ok(warnings)
    }
}

/// The zone's part in a CA rotation (see `rotation.rs`): the steps this apply takes it through, from where its
/// live secrets stand.
struct ZoneRotation {
    rotation: Rotation,
    steps: Vec<Step>,
    before: rotation::Before,
    previous_ca: String,
    /// Whether the zone runs nodes: one that runs none starts on the new CA and waits for nobody.
    runs_nodes: bool,
}

impl ZoneRotation {
    async fn of(
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

    fn certificates(&self, step: Step, done: &ZoneCertificates) -> ZoneCertificates {
        rotation::certificates_at(step, done, &self.before, &self.previous_ca)
    }

    /// After the first step's rollout: every further step once every zone finished the one before, each rolled
    /// out one node at a time; then, once every zone is done, the rotation is recorded as completed.
    async fn finish(
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
            .for_each(|warning| tracing::warn!(zone = %spec.zone, "{}: {}", warning.summary, warning.detail));
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

/// A partial state Terraform can store: unknowns become nulls, which the next plan recomputes.
fn state_with_unknowns_cleared(mut state: RegionModel) -> RegionModel {
    for attr in [&mut state.dns_address, &mut state.dns_protocol] {
        if attr.is_unknown() {
            *attr = Attr::Null;
        }
    }
    if state.initialized.is_unknown() {
        state.initialized = Attr::Null;
    }
    state
}
