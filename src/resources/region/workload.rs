//! The zone's workload written: its objects as the apply writes them (the StatefulSet fitted to the live one and
//! held for the provider's rollout, left out when writing it would change nothing), in the order they need, with
//! a scale-down's decommissions before and its volumes released after.
use super::lease::ClusterLease;
use super::model::RegionModel;
use super::scale::Leaving;
use crate::cockroach::manifests::{
    self, secret_files, TemplateFit, ZoneCertificates, ZoneObject, ZoneSpec,
};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::{ClusterClient, Deadline};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;

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
pub(super) async fn apply_zone(
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

/// Whether the node secret's `ca.crt` or `node.crt` differ from what is to be applied: the running nodes then
/// need a restart to load them (a missing secret counts as changed).
pub(super) fn certificates_changed(node_secret: Option<&Secret>, certs: &ZoneCertificates) -> bool {
    let file = |name: &str| secret_files::text(node_secret, name);
    file(secret_files::CA_CRT) != Some(certs.ca_crt.as_str())
        || file(secret_files::NODE_CRT) != Some(certs.node_crt.as_str())
}

/// What the configuration changes that the running nodes' template must carry.
#[derive(Clone, Copy)]
pub(super) struct TemplateChange {
    /// Requests or limits.
    pub resources: bool,
    /// The certificates the nodes load (`ca.crt`, `node.crt`).
    pub certificates: bool,
}

/// The zone's objects as they are to be applied: no init Job once initialised, and the StatefulSet fitted to
/// the live one (see `manifests::fit_to_live`). A live template made before the certificates annotation existed
/// gets it only with new certificates, so that the nodes restart when they have something new to load.
pub(super) fn desired_objects(
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
pub(super) async fn without_unchanged_statefulset(
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
        Some(partition) => {
            let mut held = desired.clone();
            manifests::hold_rollout(&mut held, partition);
            held
        }
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
pub(super) async fn change_workload(
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

/// Which StatefulSet object at which generation: a different one after the apply means the controller has pods
/// to roll (a new template or replica count) or to adopt (a StatefulSet re-created to grow its volumes).
pub(super) fn revision_of(set: Option<&StatefulSet>) -> Option<(Option<String>, Option<i64>)> {
    set.map(|s| (s.metadata.uid.clone(), s.metadata.generation))
}

/// The replicas a live StatefulSet runs (the API server defaults an absent count to one).
pub(super) fn live_replicas(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cockroach::manifests::fixtures::{certificates, spec};
    use k8s_openapi::ByteString;

    fn node_secret(ca: &str, node: &str) -> Secret {
        Secret {
            data: Some(
                [(secret_files::CA_CRT, ca), (secret_files::NODE_CRT, node)]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    fn statefulset_of(objects: &[ZoneObject]) -> Option<&StatefulSet> {
        objects.iter().find_map(|o| match o {
            ZoneObject::StatefulSet(set) => Some(set),
            _ => None,
        })
    }

    #[test]
    fn the_nodes_need_new_certificates_when_the_secret_lacks_or_differs_from_them() {
        let certs = certificates();
        let same = node_secret(&certs.ca_crt, &certs.node_crt);
        assert!(!certificates_changed(Some(&same), &certs));
        assert!(certificates_changed(None, &certs), "no secret yet");
        let other_ca = node_secret("OTHER CA", &certs.node_crt);
        assert!(certificates_changed(Some(&other_ca), &certs));
        let renewed = node_secret(&certs.ca_crt, "OLD NODE PEM");
        assert!(certificates_changed(Some(&renewed), &certs));
    }

    #[test]
    fn an_initialised_zone_gets_no_init_job_and_a_live_set_is_held_for_the_provider() {
        let (spec, certs) = (spec(), certificates());
        let change = TemplateChange {
            resources: false,
            certificates: false,
        };
        let fresh = desired_objects(&spec, &certs, false, None, change);
        assert!(fresh.iter().any(|o| matches!(o, ZoneObject::Job(_))));
        assert_eq!(
            statefulset_of(&fresh).and_then(manifests::held_partition),
            None,
            "a new zone has no running pods to hold"
        );
        let live = statefulset_of(&fresh).unwrap().clone();
        let again = desired_objects(&spec, &certs, true, Some(&live), change);
        assert!(!again.iter().any(|o| matches!(o, ZoneObject::Job(_))));
        assert_eq!(
            statefulset_of(&again).and_then(manifests::held_partition),
            Some(live_replicas(&live)),
            "every running pod held on its revision until its turn"
        );
    }

    #[test]
    fn a_set_is_another_revision_when_its_object_or_generation_changed() {
        let mut set = StatefulSet::default();
        assert_eq!(live_replicas(&set), 1, "the API server's default");
        set.metadata.uid = Some("a".into());
        set.metadata.generation = Some(4);
        let before = revision_of(Some(&set));
        assert_eq!(revision_of(Some(&set)), before);
        set.metadata.generation = Some(5);
        assert_ne!(revision_of(Some(&set)), before);
        assert_eq!(revision_of(None), None, "no set yet: nothing to follow");
    }
}
