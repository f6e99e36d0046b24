//! Reading a zone back: one fetch of the zone's live objects (shared by read and import), its
//! reads issued concurrently in one round, and a pure fold of what it found into the model, so
//! that drift is tested without a server.
use super::init::INIT_MARKER_PREFIX;
use super::model::RegionModel;
use super::storage;
use crate::cockroach::manifests::{self, names, secret_files, Layout};
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use crate::kubernetes::readiness::load_balancer_address;
use crate::kubernetes::ClusterClient;
use crate::resources::certificates;
use crate::resources::lb_resolver;
use futures_util::future::try_join_all;
use futures_util::try_join;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service};
use std::net::SocketAddr;

/// The zone's live objects as one read found them.
#[derive(Clone, Debug, Default)]
pub(super) struct ZoneSnapshot {
    pub zone: String,
    pub namespace: Option<Namespace>,
    pub set: Option<StatefulSet>,
    pub claims: Vec<PersistentVolumeClaim>,
    pub node_secret: Option<Secret>,
    pub root_secret: Option<Secret>,
    /// The root client secret in `default`, under the layout's name.
    pub default_root_secret: Option<Secret>,
    pub public_service: Option<Service>,
    pub headless_service: Option<Service>,
    /// The DNS load balancer, under the layout's name.
    pub dns_load_balancer: Option<Service>,
    /// The load balancer's address as an IP (host names resolved); None when it has none or it
    /// cannot be resolved now.
    pub dns_address: Option<String>,
    /// The names the zone uses: the state's layout, else the one the live StatefulSet shows.
    pub layout: Layout,
    /// Only for an import: the records that the cluster was initialised from this zone.
    pub init_record: Option<InitRecord>,
}

/// What tells an import that `cockroach init` ran: the marker in kube-system, or the init Job's
/// success.
#[derive(Clone, Debug, Default)]
pub(super) struct InitRecord {
    pub markers: Vec<ConfigMap>,
    pub init_job: Option<Job>,
}

impl InitRecord {
    fn initialized(&self) -> bool {
        let marked = self.markers.iter().any(|m| {
            m.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with(INIT_MARKER_PREFIX))
        });
        let init_succeeded = self
            .init_job
            .as_ref()
            .and_then(|job| job.status.as_ref()?.succeeded)
            .is_some_and(|n| n > 0);
        marked || init_succeeded
    }
}

/// The objects of a zone named after its layout, as one layout names them.
#[derive(Default)]
struct LayoutNamed {
    default_root_secret: Option<Secret>,
    dns_load_balancer: Option<Service>,
    init_job: Option<Job>,
}

impl LayoutNamed {
    /// Gets the objects `layout` names, the init Job only when asked for.
    async fn fetch(
        client: &ClusterClient,
        zone: &str,
        layout: Layout,
        with_init_job: bool,
    ) -> Result<LayoutNamed, crate::kubernetes::RemoteError> {
        let init_job = async {
            if with_init_job {
                client.get::<Job>(Some(zone), layout.init_job_name()).await
            } else {
                Ok(None)
            }
        };
        let root_secret_name = layout.default_client_root_secret_name(zone);
        let lb_name = layout.dns_load_balancer_name(zone);
        let (default_root_secret, dns_load_balancer, init_job) = try_join!(
            client.get::<Secret>(Some(names::DEFAULT_NAMESPACE), &root_secret_name),
            client.get::<Service>(Some(names::KUBE_SYSTEM), &lb_name),
            init_job,
        )?;
        Ok(LayoutNamed {
            default_root_secret,
            dns_load_balancer,
            init_job,
        })
    }
}

impl ZoneSnapshot {
    /// Reads the zone in one round of concurrent calls, so that a plan costs one round trip per
    /// zone however far away its cluster is. The objects named after the zone's layout are read
    /// under `layout`'s names when the state records it; otherwise (an import) under every
    /// layout's names, and those of the layout the live StatefulSet shows are kept.
    /// `resolver` resolves a load balancer's host name.
    pub async fn fetch(
        client: &ClusterClient,
        zone: &str,
        layout: Option<Layout>,
        resolver: Option<SocketAddr>,
        with_init_record: bool,
    ) -> Result<ZoneSnapshot, Diagnostics> {
        let ns = Some(zone);
        let candidates = layout.map_or(Layout::ALL.to_vec(), |known| vec![known]);
        let named = try_join_all(
            candidates
                .iter()
                .map(|&candidate| LayoutNamed::fetch(client, zone, candidate, with_init_record)),
        );
        let markers = async {
            if !with_init_record {
                return Ok(Vec::new());
            }
            let selector = format!(
                "{}={},{}={zone}",
                names::LABEL_MANAGED_BY,
                names::MANAGER,
                names::LABEL_ZONE
            );
            client
                .list::<ConfigMap>(Some(names::KUBE_SYSTEM), &selector)
                .await
        };
        let (
            namespace,
            set,
            claims,
            node_secret,
            root_secret,
            public_service,
            headless_service,
            named,
            markers,
        ) = try_join!(
            client.get::<Namespace>(None, zone),
            client.get::<StatefulSet>(ns, names::STATEFULSET),
            client.list::<PersistentVolumeClaim>(ns, ""),
            client.get::<Secret>(ns, names::NODE_SECRET),
            client.get::<Secret>(ns, names::CLIENT_ROOT_SECRET),
            client.get::<Service>(ns, names::PUBLIC_SERVICE),
            client.get::<Service>(ns, names::HEADLESS_SERVICE),
            named,
            markers,
        )?;
        let layout = layout.unwrap_or_else(|| Layout::of_statefulset(set.as_ref()));
        let named = candidates
            .into_iter()
            .zip(named)
            .find_map(|(candidate, named)| (candidate == layout).then_some(named))
            .unwrap_or_default();
        let init_record = with_init_record.then_some(InitRecord {
            markers,
            init_job: named.init_job,
        });
        let dns_address = match named
            .dns_load_balancer
            .as_ref()
            .and_then(load_balancer_address)
        {
            Some(address) => lb_resolver::dns_ip(&address, resolver).await.ok(),
            None => None,
        };
        Ok(ZoneSnapshot {
            zone: zone.to_string(),
            namespace,
            set,
            claims,
            node_secret,
            root_secret,
            default_root_secret: named.default_root_secret,
            public_service,
            headless_service,
            dns_load_balancer: named.dns_load_balancer,
            dns_address,
            layout,
            init_record,
        })
    }

    /// The node certificate and key in the zone's node secret, if there is one.
    pub fn node_certificate(&self) -> Option<(String, String)> {
        secret_files::pair(
            self.node_secret.as_ref(),
            secret_files::NODE_CRT,
            secret_files::NODE_KEY,
        )
    }

    /// Whether the cluster was initialised from this zone (an import's fetch only).
    pub fn initialized(&self) -> bool {
        self.init_record
            .as_ref()
            .is_some_and(InitRecord::initialized)
    }
}

/// The node certificate and key a node secret holds.
/// A request or limit of the node container as the live StatefulSet holds it (`limits`: a limit, else a
/// request), e.g. `memory`.
pub(super) fn live_node_resource(
    set: &StatefulSet,
    limits: bool,
    resource: &str,
) -> Option<String> {
    let container = manifests::node_container(set)?;
    let resources = container.resources.as_ref()?;
    let map = if limits {
        &resources.limits
    } else {
        &resources.requests
    };
    map.as_ref()?.get(resource).map(|q| q.0.clone())
}

/// Requests and limits changed on the live StatefulSet (by hand, or by another field manager) show as drift: the
/// live amount replaces the state's when the amounts differ (`8Gi` written as `8192Mi` is the same). A template
/// that declares none (an adopted zone keeps the setup script's until its image changes) says nothing.
fn observe_node_resources(model: &mut RegionModel, set: &StatefulSet) {
    for (attr, limits, resource) in [
        (&mut model.cpu_request, false, "cpu"),
        (&mut model.cpu_limit, true, "cpu"),
        (&mut model.memory_request, false, "memory"),
        (&mut model.memory_limit, true, "memory"),
    ] {
        let (Attr::Known(recorded), Some(live)) =
            (&attr, live_node_resource(set, limits, resource))
        else {
            continue;
        };
        if kube_codecs::quantity::compare(&live, recorded) != Some(std::cmp::Ordering::Equal) {
            *attr = Attr::Known(live);
        }
    }
}

/// The region as the snapshot shows it, or `None` when its namespace is gone (or going): what
/// differs from `model` is drift the next plan shows. Objects of the zone that are missing are
/// listed in `missing_objects`.
pub(super) fn fold(mut model: RegionModel, live: &ZoneSnapshot) -> Option<RegionModel> {
    if live
        .namespace
        .as_ref()
        .is_none_or(|ns| ns.metadata.deletion_timestamp.is_some())
    {
        return None;
    }
    if model.node_certificate_expires_at.is_null() {
        // A state written before the attribute existed.
        if let Attr::Known(cert) = &model.node_certificate {
            model.node_certificate_expires_at = certificates::expires_at(cert).into();
        }
    }
    let zone = &live.zone;
    let layout = live.layout;
    model.layout = Attr::Known(layout.as_str().to_owned());
    let mut missing = Vec::new();
    match &live.set {
        None => {
            missing.push(format!("StatefulSet/{zone}/{}", names::STATEFULSET));
            model.replicas = Attr::Known(0);
        }
        Some(set) => {
            let observed = manifests::observe_nodes(set);
            model.replicas = Attr::Known(i64::from(observed.replicas));
            if let Some(image) = observed.image {
                if let Attr::Known(cluster) = &mut model.cluster {
                    cluster.image = Attr::Known(image.clone());
                }
                // Nodes held on an older revision (an apply stopped mid-rollout) are drift the next apply
                // completes, though the template already names the new image.
                model.image = Attr::Known(if observed.older_revision_running {
                    format!(
                        "{image} (rollout unfinished: {} of {} nodes on it)",
                        observed.updated_replicas, observed.replicas
                    )
                } else {
                    image
                });
            }
            storage::observe(&mut model, set, &live.claims);
            observe_node_resources(&mut model, set);
        }
    }
    let secrets = [
        (
            zone.as_str(),
            names::NODE_SECRET.to_string(),
            &live.node_secret,
        ),
        (
            zone.as_str(),
            names::CLIENT_ROOT_SECRET.to_string(),
            &live.root_secret,
        ),
        (
            names::DEFAULT_NAMESPACE,
            layout.default_client_root_secret_name(zone),
            &live.default_root_secret,
        ),
    ];
    for (ns, name, secret) in secrets {
        if secret.is_none() {
            missing.push(format!("Secret/{ns}/{name}"));
        }
    }
    match &live.dns_load_balancer {
        None => {
            let lb_name = layout.dns_load_balancer_name(zone);
            missing.push(format!("Service/{}/{lb_name}", names::KUBE_SYSTEM));
            model.dns_address = Attr::Null;
            model.dns_protocol = Attr::Null;
        }
        // A host name resolves to the address apply recorded; if it cannot be resolved right now,
        // the recorded address stands rather than showing false drift.
        Some(service) => {
            model.dns_protocol = manifests::live_dns_protocol(service)
                .map(|p| p.attribute_value().to_owned())
                .into();
            if manifests::mixes_protocols(service) {
                let lb_name = layout.dns_load_balancer_name(zone);
                missing.push(format!(
                    "Service/{}/{lb_name} (serves UDP and TCP together, which several clouds do not provision: \
                     the next apply gives it one protocol)",
                    names::KUBE_SYSTEM
                ));
            }
            match load_balancer_address(service) {
                Some(_) => {
                    if let Some(ip) = &live.dns_address {
                        model.dns_address = Attr::Known(ip.clone());
                    }
                }
                None => model.dns_address = Attr::Null,
            }
        }
    }
    for (service, found) in [
        (names::PUBLIC_SERVICE, &live.public_service),
        (names::HEADLESS_SERVICE, &live.headless_service),
    ] {
        if found.is_none() {
            missing.push(format!("Service/{zone}/{service}"));
        }
    }
    model.missing_objects = Attr::Known(missing);
    Some(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cockroach::manifests::fixtures;
    use crate::resources::region::ClusterRef;
    use serde_json::json;

    /// A zone exactly as an apply of the fixture spec leaves it, its volumes at full size and its
    /// load balancer at 192.0.2.10.
    fn applied_zone() -> ZoneSnapshot {
        let spec = fixtures::spec();
        let certs = fixtures::certificates();
        let claims = (0..3)
            .map(|i| claim(i, "100Gi"))
            .collect::<Vec<PersistentVolumeClaim>>();
        let mut lb = manifests::dns_load_balancer(&spec);
        lb.status =
            serde_json::from_value(json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}))
                .unwrap();
        ZoneSnapshot {
            zone: spec.zone.clone(),
            namespace: Some(manifests::namespace(&spec)),
            set: Some(manifests::stateful_set(&spec)),
            claims,
            node_secret: Some(manifests::node_secret(&spec, &certs)),
            root_secret: Some(manifests::client_root_secret(&spec, &certs, &spec.zone)),
            default_root_secret: Some(manifests::client_root_secret(
                &spec,
                &certs,
                names::DEFAULT_NAMESPACE,
            )),
            public_service: Some(manifests::public_service(&spec)),
            headless_service: Some(manifests::headless_service(&spec)),
            dns_load_balancer: Some(lb),
            dns_address: Some("192.0.2.10".into()),
            layout: Layout::Provider,
            init_record: None,
        }
    }

    fn claim(ordinal: i32, capacity: &str) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": format!("datadir-cockroachdb-{ordinal}")},
            "spec": {"resources": {"requests": {"storage": "100Gi"}}},
            "status": {"capacity": {"storage": capacity}}
        }))
        .unwrap()
    }

    /// The state an apply of the fixture spec records.
    fn state() -> RegionModel {
        let spec = fixtures::spec();
        RegionModel {
            zone: Attr::Known(spec.zone.clone()),
            cluster: Attr::Known(ClusterRef {
                image: Attr::Known(spec.image.clone()),
                ..Default::default()
            }),
            image: Attr::Known(spec.image.clone()),
            replicas: Attr::Known(3),
            storage_size: Attr::Known("100Gi".into()),
            dns_address: Attr::Known("192.0.2.10".into()),
            dns_protocol: Attr::Known("udp".into()),
            layout: Attr::Known("provider".into()),
            missing_objects: Attr::Known(Vec::new()),
            ..Default::default()
        }
    }

    fn image(model: &RegionModel) -> Option<&String> {
        model.cluster.known()?.image.known()
    }

    #[test]
    fn a_memory_limit_changed_by_another_field_manager_shows_as_drift() {
        let mut model = state();
        model.memory_limit = Attr::Known("8Gi".into());
        model.cpu_request = Attr::Known("2".into());
        model.memory_request = Attr::Known("8Gi".into());
        let mut live = applied_zone();
        let container = &mut live
            .set
            .as_mut()
            .unwrap()
            .spec
            .as_mut()
            .unwrap()
            .template
            .spec
            .as_mut()
            .unwrap()
            .containers[0];
        let resources = container.resources.get_or_insert_with(Default::default);
        resources
            .limits
            .get_or_insert_with(Default::default)
            .insert(
                "memory".into(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("16Gi".into()),
            );
        resources
            .requests
            .get_or_insert_with(Default::default)
            .insert(
                "cpu".into(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("2000m".into()),
            );
        let read = fold(model, &live).unwrap();
        assert_eq!(read.memory_limit, Attr::Known("16Gi".into()));
        assert_eq!(
            read.cpu_request,
            Attr::Known("2".into()),
            "the same amount written otherwise is no drift"
        );
        assert_eq!(
            read.memory_request,
            Attr::Known("8Gi".into()),
            "a resource the template does not declare (an adopted script's template) says nothing"
        );
    }

    #[tokio::test]
    async fn a_read_costs_one_round_trip_and_an_import_too() {
        for (layout, with_init_record, calls) in
            [(Some(Layout::Provider), false, 9), (None, true, 14)]
        {
            let (snapshot, rounds) = crate::kubernetes::rounds::count_rounds(|client| async move {
                let zone = fixtures::spec().zone;
                ZoneSnapshot::fetch(&client, &zone, layout, None, with_init_record).await
            })
            .await;
            assert_eq!(rounds.len(), 1, "{rounds:#?}");
            assert_eq!(rounds[0].len(), calls, "{rounds:#?}");
            let snapshot = snapshot.unwrap();
            assert!(snapshot.namespace.is_none() && snapshot.set.is_none());
            assert_eq!(snapshot.layout, Layout::Provider);
            assert_eq!(snapshot.init_record.is_some(), with_init_record);
        }
    }

    #[test]
    fn a_zone_as_applied_reads_back_without_drift() {
        assert_eq!(fold(state(), &applied_zone()), Some(state()));
    }

    #[test]
    fn replicas_and_image_changed_by_hand_show_as_drift() {
        let mut live = applied_zone();
        let set = live.set.as_mut().unwrap().spec.as_mut().unwrap();
        set.replicas = Some(5);
        set.template.spec.as_mut().unwrap().containers[0].image =
            Some("cockroachdb/cockroach:v25.1.0".into());
        let read = fold(state(), &live).unwrap();
        assert_eq!(read.replicas, Attr::Known(5));
        assert_eq!(
            read.image.known(),
            image(&read),
            "shown outside the sensitive cluster too"
        );
        assert_eq!(
            image(&read).map(String::as_str),
            Some("cockroachdb/cockroach:v25.1.0")
        );
    }

    #[test]
    fn nodes_left_on_an_older_revision_show_as_an_unfinished_image() {
        let mut live = applied_zone();
        let set = live.set.as_mut().unwrap();
        set.status = Some(k8s_openapi::api::apps::v1::StatefulSetStatus {
            replicas: 3,
            updated_replicas: Some(1),
            current_revision: Some("cockroachdb-old".into()),
            update_revision: Some("cockroachdb-new".into()),
            ..Default::default()
        });
        let read = fold(state(), &live).unwrap();
        let template = fixtures::spec().image;
        assert_eq!(
            read.image,
            Attr::Known(format!(
                "{template} (rollout unfinished: 1 of 3 nodes on it)"
            ))
        );
        assert_eq!(
            image(&read),
            Some(&template),
            "the cluster's image is the template's"
        );
        let set = live.set.as_mut().unwrap();
        set.status.as_mut().unwrap().current_revision = Some("cockroachdb-new".into());
        assert_eq!(
            fold(state(), &live),
            Some(state()),
            "a finished rollout is no drift"
        );
    }

    #[test]
    fn volumes_smaller_than_the_state_says_show_their_size() {
        let mut live = applied_zone();
        live.claims[1] = claim(1, "50Gi");
        let read = fold(state(), &live).unwrap();
        assert_eq!(read.storage_size, Attr::Known("50Gi".into()));
        // A claim beyond the replicas (a node scaled away) does not count.
        let mut live = applied_zone();
        live.claims.push(claim(7, "10Gi"));
        assert_eq!(
            fold(state(), &live).unwrap().storage_size,
            Attr::Known("100Gi".into())
        );
    }

    #[test]
    fn a_moved_or_lost_load_balancer_address_shows_on_dns_address() {
        let mut live = applied_zone();
        live.dns_address = Some("192.0.2.99".into());
        assert_eq!(
            fold(state(), &live).unwrap().dns_address,
            Attr::Known("192.0.2.99".into())
        );
        // A host name that cannot be resolved now keeps the recorded address.
        live.dns_address = None;
        assert_eq!(
            fold(state(), &live).unwrap().dns_address,
            Attr::Known("192.0.2.10".into())
        );
        live.dns_load_balancer.as_mut().unwrap().status = None;
        assert_eq!(fold(state(), &live).unwrap().dns_address, Attr::Null);
    }

    #[test]
    fn a_dns_load_balancer_mixing_udp_and_tcp_is_listed_for_the_next_apply_to_fix() {
        let mut live = applied_zone();
        let ports = &mut live
            .dns_load_balancer
            .as_mut()
            .unwrap()
            .spec
            .as_mut()
            .unwrap()
            .ports;
        *ports = serde_json::from_value(json!([
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        ]))
        .unwrap();
        let read = fold(state(), &live).unwrap();
        let missing = read.missing_objects.known().unwrap();
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0].starts_with("Service/kube-system/crdb-dns-us-east1-b (serves UDP and TCP"),
            "{missing:?}"
        );
        // The plan then expects a new address: the cloud may give the one-protocol Service another one.
        let mut planned = read.clone();
        super::super::plan::plan(Some(&read), &mut planned);
        assert_eq!(planned.dns_address, Attr::Unknown);
        assert_eq!(planned.missing_objects, Attr::Known(Vec::new()));
        // One protocol, whichever, is left alone: a TCP one adopted from an EKS setup keeps serving TCP.
        live.dns_load_balancer
            .as_mut()
            .unwrap()
            .spec
            .as_mut()
            .unwrap()
            .ports =
            serde_json::from_value(json!([{"name": "dns-tcp", "port": 53, "protocol": "TCP"}]))
                .unwrap();
        assert_eq!(
            fold(state(), &live).unwrap().missing_objects,
            Attr::Known(Vec::new())
        );
    }

    #[test]
    fn deleted_objects_are_listed_and_a_deleted_namespace_reads_as_gone() {
        let live = ZoneSnapshot {
            set: None,
            default_root_secret: None,
            headless_service: None,
            dns_load_balancer: None,
            ..applied_zone()
        };
        let read = fold(state(), &live).unwrap();
        assert_eq!(read.replicas, Attr::Known(0));
        assert_eq!(read.dns_address, Attr::Null);
        assert_eq!(
            read.missing_objects,
            Attr::Known(vec![
                "StatefulSet/us-east1-b/cockroachdb".to_string(),
                "Secret/default/cockroachdb.client.root.us-east1-b".to_string(),
                "Service/kube-system/crdb-dns-us-east1-b".to_string(),
                "Service/us-east1-b/cockroachdb".to_string(),
            ])
        );
        let mut gone = applied_zone();
        gone.namespace = None;
        assert_eq!(fold(state(), &gone), None);
        let mut terminating = applied_zone();
        terminating
            .namespace
            .as_mut()
            .unwrap()
            .metadata
            .deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            Default::default(),
        ));
        assert_eq!(fold(state(), &terminating), None);
    }
}
