//! The zone's workload written: its objects as the apply writes them (the StatefulSet fitted to the live one and
//! held for the provider's rollout, left out when writing it would change nothing), in the order they need, and
//! what the write makes the state.
use super::model::RegionModel;
use super::signing::record_node_certificate;
use super::spec::node_resources_changed;
use super::step::Need;
use super::zone_run::ZoneRun;
use crate::cockroach::manifests::{
    self, secret_files, TemplateFit, ZoneCertificates, ZoneObject, ZoneSpec,
};
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use crate::kubernetes::ClusterClient;
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
    run: &ZoneRun<'_>,
    objects: &[ZoneObject],
) -> Result<(), Diagnostics> {
    let (client, deadline) = (&run.client, &run.deadline);
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

impl TemplateChange {
    /// What this apply changes: requests or limits against the prior state, `certs` against the live node Secret.
    pub fn of(run: &ZoneRun, state: &RegionModel, certs: &ZoneCertificates) -> TemplateChange {
        TemplateChange {
            resources: run.prior.is_some_and(|p| node_resources_changed(p, state)),
            certificates: certificates_changed(run.node_secret.as_ref(), certs),
        }
    }
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

/// The look that [`statefulset_write_needed`] judges: the live StatefulSet as it would be after writing the
/// desired one at the live partition (a dry run, which changes nothing). None when there is no desired or no live
/// StatefulSet. The desired set is probed as the live one holds its rollout: with no `rollingUpdate` at all when
/// it has none (the API server defaults none), since adding one would itself be a change.
pub(super) async fn statefulset_dry_run(
    run: &ZoneRun<'_>,
    objects: &[ZoneObject],
) -> Result<Option<StatefulSet>, crate::kubernetes::RemoteError> {
    let (Some(desired), Some(live)) = (statefulset_of(objects), run.live_set.as_ref()) else {
        return Ok(None);
    };
    let probe = match manifests::held_partition(live) {
        Some(partition) => {
            let mut held = desired.clone();
            manifests::hold_rollout(&mut held, partition);
            held
        }
        None => manifests::without_partition(desired),
    };
    Ok(Some(run.client.apply_dry_run(&probe).await?))
}

/// Whether the StatefulSet is written, and why. Preconditions: `live` is the zone's StatefulSet as read before the
/// write (after volumes grew: the object to create in its place), `would_be` the [`statefulset_dry_run`] of the
/// desired one (None when not probed). It is left out when writing it would change nothing the API server stores
/// beyond the partition that holds a rollout: the dry run keeps the live object's generation, which the API server
/// raises for every change of its spec. Then nothing rolls, and no partition is raised only to be lowered again; a
/// rollout an earlier apply left part-way still goes on (`Rollout::follow`).
pub(super) fn statefulset_write_needed(
    volumes_grew: bool,
    live: Option<&StatefulSet>,
    would_be: Option<&StatefulSet>,
) -> Need {
    if volumes_grew {
        return Need::run("growing the volumes deleted the StatefulSet: it is created again");
    }
    let (Some(live), Some(would_be)) = (live, would_be) else {
        return Need::run("the zone has no StatefulSet yet");
    };
    if would_be.metadata.uid == live.metadata.uid
        && would_be.metadata.generation == live.metadata.generation
    {
        return Need::skip(
            "a dry run of it changes nothing but the partition that holds a rollout",
        );
    }
    Need::run(format!(
        "a dry run of it changes the live spec (generation {:?} -> {:?})",
        live.metadata.generation, would_be.metadata.generation
    ))
}

/// `objects` without the StatefulSet.
pub(super) fn without_statefulset(objects: &[ZoneObject]) -> Vec<ZoneObject> {
    objects
        .iter()
        .filter(|o| !matches!(o, ZoneObject::StatefulSet(_)))
        .cloned()
        .collect()
}

/// What the write made is now the state: the zone's id and namespace, its node certificate, its layout and DNS
/// protocol, and nothing missing.
pub(super) fn record_written(run: &ZoneRun, state: &mut RegionModel, certs: &ZoneCertificates) {
    let spec = &run.spec;
    state.id = Attr::Known(spec.zone.clone());
    state.namespace = Attr::Known(spec.zone.clone());
    record_node_certificate(state, certs);
    state.missing_objects = Attr::Known(Vec::new());
    state.layout = Attr::Known(spec.layout.as_str().to_owned());
    state.dns_protocol = Attr::Known(
        spec.dns_load_balancer
            .protocol()
            .attribute_value()
            .to_owned(),
    );
}

/// The StatefulSet among `objects`.
pub(super) fn statefulset_of(objects: &[ZoneObject]) -> Option<&StatefulSet> {
    objects.iter().find_map(|o| match o {
        ZoneObject::StatefulSet(set) => Some(set),
        _ => None,
    })
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

    #[test]
    fn the_statefulset_is_written_unless_a_dry_run_of_it_changes_nothing() {
        let objects = desired_objects(
            &spec(),
            &certificates(),
            false,
            None,
            TemplateChange {
                resources: false,
                certificates: false,
            },
        );
        let mut live = statefulset_of(&objects).unwrap().clone();
        live.metadata.uid = Some("u".into());
        live.metadata.generation = Some(3);
        let same = live.clone();
        assert_eq!(
            statefulset_write_needed(false, Some(&live), Some(&same)),
            Need::skip("a dry run of it changes nothing but the partition that holds a rollout")
        );
        let mut changed = live.clone();
        changed.metadata.generation = Some(4);
        assert!(statefulset_write_needed(false, Some(&live), Some(&changed)).is_run());
        assert!(
            statefulset_write_needed(true, Some(&live), None).is_run(),
            "deleted to grow its volumes: always created again"
        );
        assert!(statefulset_write_needed(false, None, None).is_run());
        let rest = without_statefulset(&objects);
        assert_eq!(rest.len() + 1, objects.len());
        assert!(statefulset_of(&rest).is_none());
    }
}
