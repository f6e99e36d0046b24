//! Validation and plan decisions of `crdb_region`, and the zone's spec derived from a planned
//! state: pure, no I/O.
use super::model::{ClusterRef, RegionModel};
use crate::cockroach::manifests::{self, DnsLoadBalancer, Layout, LoadBalancerKind, ZoneSpec};
use crate::cockroach::validate;
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::timeouts;
use crate::framework::Attr;
use crate::resources::connection;
use k8s_openapi::api::apps::v1::StatefulSet;

/// The region's own planning rules, after the shared ones: derived names, the node certificate
/// kept unless the CA changed or its secret is gone, a new DNS address only when the load
/// balancer must be re-created, and `missing_objects` always planned empty.
pub fn plan(prior: Option<&RegionModel>, planned: &mut RegionModel) {
    if let Attr::Known(zone) = &planned.zone {
        planned.id = Attr::Known(zone.clone());
        planned.namespace = Attr::Known(zone.clone());
    }
    planned.missing_objects = Attr::Known(Vec::new());
    let cluster = planned.cluster.known();
    planned.initialized = match (cluster.map(|c| &c.init_zone), &planned.zone) {
        (Some(Attr::Known(init)), Attr::Known(zone)) if init != zone => Attr::Known(false),
        (Some(Attr::Known(_)), Attr::Known(_))
            if prior.is_some_and(|p| p.initialized == Attr::Known(true)) =>
        {
            Attr::Known(true)
        }
        _ => Attr::Unknown,
    };
    let Some(prior) = prior else { return };
    let fingerprint = |m: &RegionModel| m.cluster.known().map(|c| c.ca_fingerprint_sha256.clone());
    let planned_ca = planned
        .cluster
        .known()
        .and_then(|c| c.ca_certificate.known().cloned());
    // A certificate found at import (no cluster in state yet) is judged by its signature.
    let signed_by_another_ca = match (prior.node_certificate.known(), planned_ca) {
        (Some(cert), Some(ca)) if prior.cluster.is_null() => {
            !crate::cockroach::pki::certificate_matches_ca(cert, &ca)
        }
        _ => fingerprint(prior) != fingerprint(planned),
    };
    if prior.node_certificate.is_null() || signed_by_another_ca {
        planned.node_certificate = Attr::Unknown;
        planned.node_private_key = Attr::Unknown;
    }
    let lb_missing = prior.missing_objects.known().is_some_and(|missing| {
        missing
            .iter()
            .any(|m| m.starts_with("Service/kube-system/"))
    });
    if prior.dns_address.is_null() || lb_missing {
        planned.dns_address = Attr::Unknown;
    }
}

/// The zone must be one of the cluster's. Checked at validation when the cluster is already
/// known there, and again at plan time, when a cluster created in the same run becomes known.
pub fn check_zone_in_cluster(model: &RegionModel, diags: &mut Diagnostics) {
    let (Attr::Known(zone), Some(zones)) = (
        &model.zone,
        model.cluster.known().and_then(ClusterRef::known_zones),
    ) else {
        return;
    };
    if !zones.contains(zone) {
        diags.attribute_error(
            AttributePath::root("zone"),
            "Zone not in the cluster",
            format!("Zone {zone:?} is not one of the cluster's zones {zones:?}; add it to the cluster's `zones` first."),
        );
    }
}

/// Checks that need no cluster: every known value, on its own attribute.
pub fn validate(config: &RegionModel, diags: &mut Diagnostics) {
    if let Attr::Known(zone) = &config.zone {
        if let Err(why) = validate::zone_name(zone) {
            diags.attribute_error(AttributePath::root("zone"), "Invalid zone", why);
        } else {
            check_zone_in_cluster(config, diags);
        }
    }
    diags.check_known(&config.replicas, "replicas", "Invalid replicas", |n| {
        validate::at_least("replicas", *n, 0)
    });
    if let Attr::Known(region) = &config.region {
        if region.is_empty()
            || region.contains([',', '='])
            || region.chars().any(char::is_whitespace)
        {
            diags.attribute_error(
                AttributePath::root("region"),
                "Invalid region",
                format!("{region:?} cannot be part of a locality: use letters, digits and '-'."),
            );
        }
    }
    diags.check_known(
        &config.dns_load_balancer,
        "dns_load_balancer",
        "Unknown DNS load balancer kind",
        |kind| validate::one_of(kind, &LoadBalancerKind::ALL.map(LoadBalancerKind::as_str)),
    );
    for (name, attr) in [
        ("storage_size", &config.storage_size),
        ("cpu_request", &config.cpu_request),
        ("cpu_limit", &config.cpu_limit),
        ("memory_request", &config.memory_request),
        ("memory_limit", &config.memory_limit),
    ] {
        if let Attr::Known(text) = attr {
            if let Err(why) = validate::quantity(text) {
                diags.attribute_error(AttributePath::root(name), "Invalid quantity", why);
            }
        }
    }
    for (request, limit) in [
        ("cpu_request", "cpu_limit"),
        ("memory_request", "memory_limit"),
    ] {
        let pick = |name: &str| match name {
            "cpu_request" => config.cpu_request.known(),
            "cpu_limit" => config.cpu_limit.known(),
            "memory_request" => config.memory_request.known(),
            _ => config.memory_limit.known(),
        };
        if let Err(why) = validate::request_within_limit(
            pick(request).map(String::as_str),
            pick(limit).map(String::as_str),
        ) {
            diags.attribute_error(AttributePath::root(request), "Request above limit", why);
        }
    }
    if let Attr::Known(resolver) = &config.dns_resolver {
        if resolver.parse::<std::net::SocketAddr>().is_err() {
            diags.attribute_error(
                AttributePath::root("dns_resolver"),
                "Invalid DNS resolver",
                format!("{resolver:?} is not an ip:port address, such as \"10.0.0.2:53\"."),
            );
        }
    }
    diags.check_known(
        &config.storage_class,
        "storage_class",
        "Invalid storage class",
        |v| validate::dns1123_subdomain(v),
    );
    timeouts::validate(&config.timeouts, diags);
    connection::validate(&config.kubernetes, diags);
}

/// A value apply needs, or an error on its attribute.
pub(super) fn known<'a, T>(
    attr: &'a Attr<T>,
    name: &str,
    diags: &mut Diagnostics,
) -> Option<&'a T> {
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

/// The DNS server the user named for resolving a load balancer's host name, if any.
pub(super) fn resolver(model: &RegionModel) -> Option<std::net::SocketAddr> {
    model.dns_resolver.known()?.parse().ok()
}

/// Refuses to destroy a region whose `deletion_protection` is not off.
pub(super) fn check_destroy(prior: &RegionModel, diags: &mut Diagnostics) {
    if prior.deletion_protection != Attr::Known(false) {
        let zone = prior.zone.known().map_or("?", String::as_str);
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

/// Whether the configuration changed a node's requests or limits. A value set for the first time (after an
/// import that found none) describes the zone rather than asking for a change.
pub(super) fn node_resources_changed(prior: &RegionModel, planned: &RegionModel) -> bool {
    [
        (&prior.cpu_request, &planned.cpu_request),
        (&prior.cpu_limit, &planned.cpu_limit),
        (&prior.memory_request, &planned.memory_request),
        (&prior.memory_limit, &planned.memory_limit),
    ]
    .into_iter()
    .any(|(before, after)| before.known().is_some() && before != after)
}

/// The zone's layout: the one recorded in state, else the one its live StatefulSet shows (a zone adopted from the
/// setup script), else ours.
pub(super) fn zone_layout(state: &RegionModel, live_set: Option<&StatefulSet>) -> Layout {
    state
        .layout
        .known()
        .and_then(|l| Layout::parse(l))
        .unwrap_or_else(|| Layout::of_statefulset(live_set))
}

/// Everything about the zone that the manifests need, from a wholly known planned state.
pub(super) fn zone_spec(model: &RegionModel, diags: &mut Diagnostics) -> Option<ZoneSpec> {
    let cluster = known(&model.cluster, "cluster", diags)?;
    let zone = known(&model.zone, "zone", diags)?.clone();
    let join_addresses = cluster
        .join_addresses
        .known()
        .map(|list| list.iter().filter_map(|a| a.known().cloned()).collect())
        .unwrap_or_default();
    let kind = model
        .dns_load_balancer
        .known()
        .and_then(|k| LoadBalancerKind::parse(k))
        .unwrap_or_default();
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
        layout: manifests::Layout::Provider,
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

#[cfg(test)]
mod tests {
    use super::super::model::cluster_type;
    use super::*;
    use crate::framework::{FromValue, ToValue, Type};

    /// The cluster as a region receives it: the cluster resource's value, read as a `ClusterRef`.
    fn cluster(zones: &[&str]) -> ClusterRef {
        let whole = crate::resources::multiregion_cluster::tests::config(zones).to_value();
        ClusterRef::from_value(&whole).unwrap()
    }

    #[test]
    fn the_cluster_type_accepts_a_whole_cluster_value() {
        let model = RegionModel {
            cluster: Attr::Known(cluster(&["a"])),
            ..Default::default()
        };
        let value = model.to_value();
        assert_eq!(RegionModel::from_value(&value).unwrap(), model);
        let Type::Object(attrs) = cluster_type() else {
            panic!()
        };
        let sensitive_free: Vec<_> = attrs.keys().collect();
        assert!(sensitive_free.contains(&&"image".to_string()));
    }

    #[test]
    fn validation_reports_each_bad_value_on_its_attribute() {
        let config = RegionModel {
            cluster: Attr::Known(cluster(&["a", "b"])),
            zone: Attr::Known("c".into()),
            replicas: Attr::Known(-1),
            region: Attr::Known("us,east".into()),
            dns_load_balancer: Attr::Known("private".into()),
            storage_class: Attr::Known("Fast SSD".into()),
            storage_size: Attr::Known("100 GB".into()),
            memory_request: Attr::Known("16Gi".into()),
            memory_limit: Attr::Known("8Gi".into()),
            ..Default::default()
        };
        let mut diags = Diagnostics::new();
        validate(&config, &mut diags);
        let paths = diags.attribute_paths();
        assert_eq!(
            paths,
            [
                "zone",
                "replicas",
                "region",
                "dns_load_balancer",
                "storage_size",
                "memory_request",
                "storage_class"
            ]
        );
        assert_eq!(diags.0[0].summary, "Zone not in the cluster");
    }

    fn applied(zone: &str, init_zone: &str) -> RegionModel {
        let mut c = cluster(&["a", "b"]);
        c.init_zone = Attr::Known(init_zone.into());
        c.ca_fingerprint_sha256 = Attr::Known("f1".into());
        RegionModel {
            cluster: Attr::Known(c),
            zone: Attr::Known(zone.into()),
            node_certificate: Attr::Known("cert".into()),
            node_private_key: Attr::Known("key".into()),
            dns_address: Attr::Known("192.0.2.7".into()),
            initialized: Attr::Known(zone == init_zone),
            missing_objects: Attr::Known(Vec::new()),
            ..Default::default()
        }
    }

    #[test]
    fn an_unchanged_region_plans_its_state() {
        let prior = applied("a", "a");
        let mut planned = prior.clone();
        plan(Some(&prior), &mut planned);
        planned.id = prior.id.clone();
        planned.namespace = prior.namespace.clone();
        assert_eq!(planned.node_certificate, prior.node_certificate);
        assert_eq!(planned.dns_address, prior.dns_address);
        assert_eq!(planned.initialized, Attr::Known(true));
    }

    #[test]
    fn a_new_ca_or_a_lost_secret_reissues_the_node_certificate() {
        let prior = applied("b", "a");
        let mut rotated = prior.clone();
        if let Attr::Known(c) = &mut rotated.cluster {
            c.ca_fingerprint_sha256 = Attr::Known("f2".into());
        }
        plan(Some(&prior), &mut rotated);
        assert!(rotated.node_certificate.is_unknown() && rotated.node_private_key.is_unknown());
        assert_eq!(
            rotated.initialized,
            Attr::Known(false),
            "only the init zone initialises"
        );
        let mut lost = prior.clone();
        lost.node_certificate = Attr::Null;
        let mut planned = lost.clone();
        plan(Some(&lost), &mut planned);
        assert!(planned.node_certificate.is_unknown());
    }

    #[test]
    fn an_imported_node_certificate_is_kept_only_if_the_cluster_ca_signed_it() {
        use crate::cockroach::pki::{issue_node_certificate, CertificateAuthority};
        let now = time::OffsetDateTime::now_utc();
        let year = time::Duration::days(365);
        let ca = CertificateAuthority::generate("main", year, now).unwrap();
        let other = CertificateAuthority::generate("other", year, now).unwrap();
        let node = issue_node_certificate(&ca, "a", "cluster.local", year, now).unwrap();
        let imported = RegionModel {
            zone: Attr::Known("a".into()),
            node_certificate: Attr::Known(node.cert_pem.clone()),
            node_private_key: Attr::Known(node.key_pem.clone()),
            ..Default::default()
        };
        for (signer, kept) in [(&ca, true), (&other, false)] {
            let mut c = cluster(&["a"]);
            c.ca_certificate = Attr::Known(signer.cert_pem().to_string());
            c.ca_fingerprint_sha256 = Attr::Known("f".into());
            let mut planned = imported.clone();
            planned.cluster = Attr::Known(c);
            plan(Some(&imported), &mut planned);
            assert_eq!(planned.node_certificate.is_unknown(), !kept);
        }
    }

    #[test]
    fn a_deleted_dns_load_balancer_plans_a_new_address() {
        let mut prior = applied("a", "a");
        prior.missing_objects = Attr::Known(vec!["Service/kube-system/crdb-dns-a".into()]);
        let mut planned = prior.clone();
        plan(Some(&prior), &mut planned);
        assert!(planned.dns_address.is_unknown());
        assert_eq!(planned.missing_objects, Attr::Known(Vec::new()));
    }

    #[test]
    fn unknown_cluster_or_zone_is_not_judged() {
        let config = RegionModel {
            cluster: Attr::Unknown,
            zone: Attr::Known("anything-valid".into()),
            ..Default::default()
        };
        let mut diags = Diagnostics::new();
        validate(&config, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
    }
}
