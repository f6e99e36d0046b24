//! Validation and plan decisions of `crdb_region`, and the zone's spec derived from a planned
//! state: pure, no I/O.
use super::model::{ClusterRef, RegionModel};
use super::spec::{lifetimes, set_service_addresses};
use crate::cockroach::manifests::LoadBalancerKind;
use crate::cockroach::{pki, validate};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::timeouts;
use crate::framework::Attr;
use crate::resources::certificates;
use crate::resources::connection;
use time::OffsetDateTime;

use crate::cockroach::validate::MAX_REPLICAS;

/// The region's own planning rules, after the shared ones: derived names, the node certificate
/// kept unless the CA changed or its secret is gone, a new DNS address only when the load
/// balancer must be re-created, and `missing_objects` always planned empty.
pub fn plan(prior: Option<&RegionModel>, planned: &mut RegionModel) {
    if let Attr::Known(zone) = planned.zone.clone() {
        planned.id = Attr::Known(zone.clone());
        planned.namespace = Attr::Known(zone.clone());
        set_service_addresses(planned, &zone);
    }
    planned.missing_objects = Attr::Known(Vec::new());
    planned.image = match &planned.cluster {
        Attr::Known(cluster) => cluster.image.clone(),
        Attr::Null => Attr::Null,
        Attr::Unknown => Attr::Unknown,
    };
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
    // Judged by its signature: a certificate recorded half-way through a CA rotation is still the previous CA's.
    let signed_by_another_ca = match (prior.node_certificate.known(), planned_ca) {
        (Some(cert), Some(ca)) => !pki::certificate_matches_ca(cert, &ca),
        _ => fingerprint(prior) != fingerprint(planned),
    };
    if prior.node_certificate.is_null() || signed_by_another_ca {
        reissue_node_certificate(planned);
    }
    let lb_missing = prior.missing_objects.known().is_some_and(|missing| {
        missing
            .iter()
            .any(|m| m.starts_with("Service/kube-system/"))
    });
    if prior.dns_address.is_null() || lb_missing {
        planned.dns_address = Attr::Unknown;
    }
    if prior.dns_protocol.is_null() || lb_missing {
        planned.dns_protocol = Attr::Unknown;
    }
}

/// The zone's node certificate, its key and its expiry are issued again at apply.
pub(super) fn reissue_node_certificate(planned: &mut RegionModel) {
    planned.node_certificate = Attr::Unknown;
    planned.node_private_key = Attr::Unknown;
    planned.node_certificate_expires_at = Attr::Unknown;
}

/// Plan modifier of the node certificate: once it expires within the cluster's `certificate_renewal` (or has
/// expired), the plan renews it in place with no configuration change, and warns, naming it and its expiry.
pub fn renew_within_window(
    planned: &mut RegionModel,
    now: OffsetDateTime,
    diags: &mut Diagnostics,
) {
    let Some(not_after) = planned
        .node_certificate
        .known()
        .and_then(|cert| pki::certificate_not_after(cert).ok())
    else {
        return;
    };
    let standing = certificates::standing(not_after, lifetimes(planned).certificate_renewal, now);
    let zone = planned.zone.known().map_or("?", String::as_str);
    if let Some((summary, detail)) = certificates::renewal_warning(
        &format!("node certificate of zone {zone}"),
        not_after,
        standing,
        true,
    ) {
        diags.attribute_warning(
            AttributePath::root("node_certificate_expires_at"),
            summary,
            detail,
        );
        reissue_node_certificate(planned);
    }
}

/// Plan modifier of `ca_rotation_completed`: while the cluster rotates from a previous CA, the region plans an
/// update until it saw every zone finish (see `rotation.rs`), so that every zone takes part in the next run. The
/// provider cannot see a `-target` that leaves peers out, so every such plan says what the rotation needs of the run.
pub fn take_part_in_ca_rotation(
    prior: Option<&RegionModel>,
    planned: &mut RegionModel,
    diags: &mut Diagnostics,
) {
    let previous = planned.cluster.known().map(|c| &c.previous_ca_certificate);
    planned.ca_rotation_completed = match previous {
        Some(Attr::Known(previous)) => {
            let marker = super::rotation::completed_marker(previous);
            if prior.and_then(|p| p.ca_rotation_completed.known()) == Some(&marker) {
                Attr::Known(marker)
            } else {
                if prior.is_some() {
                    diags.attribute_warning(
                        AttributePath::root("ca_rotation_completed"),
                        "A CA rotation needs every region in this apply",
                        format!(
                            "Zone {} takes its CA rotation steps together with every other zone of the cluster. Apply \
                             all regions in one run: an apply limited with -target that leaves a zone out takes the \
                             first step in the zones it targets, then stops {} s later naming the zones that did not \
                             take part. Nothing unsafe is done, and an apply of every region continues from there.",
                            planned.zone.known().map_or("?", String::as_str),
                            super::rotation::ARRIVAL_GRACE.as_secs()
                        ),
                    );
                }
                Attr::Unknown
            }
        }
        Some(Attr::Null) => Attr::Null,
        _ => Attr::Unknown,
    };
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

/// A scale-down the plan can already judge: in a cluster of one zone, this region's nodes are all the cluster's,
/// so going from at least the default replication factor to fewer nodes (but not to zero: the outage drill)
/// would leave ranges nowhere to keep their replicas. The apply checks the cluster's own replication factor again
/// before anything is touched (`scale.rs`).
pub fn check_scale_down(
    prior: Option<&RegionModel>,
    planned: &RegionModel,
    diags: &mut Diagnostics,
) {
    let factor = crate::cockroach::health::DEFAULT_REPLICATION_FACTOR as i64;
    let (Some(before), Some(after)) = (
        prior.and_then(|p| p.replicas.known().copied()),
        planned.replicas.known().copied(),
    ) else {
        return;
    };
    let zones = planned.cluster.known().and_then(ClusterRef::known_zones);
    let alone = match (&planned.zone, zones) {
        (Attr::Known(zone), Some(zones)) => zones == [zone.clone()],
        _ => false,
    };
    if alone && after > 0 && after < before && after < factor && before >= factor {
        diags.attribute_error(
            AttributePath::root("replicas"),
            "Scale-down below the replication factor",
            format!(
                "This zone is the cluster's only one: going from {before} to {after} node(s) would leave fewer \
                 nodes than the {factor} replicas each range keeps by default, so some ranges would have nowhere \
                 to keep theirs. Keep at least {factor} nodes, or add zones first."
            ),
        );
    }
}

/// A stopped zone (`replicas = 0`: the outage drill, or being stopped in this plan) in a plan that also restarts
/// every other zone's nodes is refused on its `replicas`: each restart elsewhere would take a second replica away
/// from the ranges that keep one in the stopped zone, so the health gates would wait for the stopped zone's nodes,
/// which do not come back within the apply. Only a change of the cluster's own settings is seen here (every
/// region's plan sees it); a zone stopped in another configuration is caught by the apply's gate, within a minute.
pub fn check_restart_while_stopped(
    prior: Option<&RegionModel>,
    planned: &RegionModel,
    diags: &mut Diagnostics,
) {
    let (Some(prior), Attr::Known(0)) = (prior, &planned.replicas) else {
        return;
    };
    let Some(why) = restart_of_every_zone(prior, planned) else {
        return;
    };
    let zone = planned.zone.known().map_or("this zone", String::as_str);
    let back = prior.replicas.known().copied().filter(|r| *r > 0);
    let scale_up = back.map_or_else(
        || "scale it up (replicas > 0) and apply".to_string(),
        |r| format!("keep replicas = {r} for now"),
    );
    diags.attribute_error(
        AttributePath::root("replicas"),
        format!("Zone {zone} is stopped while every other zone restarts"),
        format!(
            "Zone {zone} has replicas = 0 in this plan, and {why}, which restarts the nodes of every other zone,              one at a time. With zone {zone}'s nodes down, each of those restarts would take a second replica              away from the ranges that keep one in zone {zone}, so the rollout would wait for nodes that do not              come back. First {scale_up}, then make this change; stop the zone again afterwards if the drill              goes on."
        ),
    );
}

/// What in the cluster's planned settings restarts the nodes of every zone, when its values are known.
fn restart_of_every_zone(prior: &RegionModel, planned: &RegionModel) -> Option<String> {
    let (before, after) = (prior.cluster.known()?, planned.cluster.known()?);
    if let (Attr::Known(from), Attr::Known(to)) = (&before.image, &after.image) {
        if from != to {
            return Some(format!("the cluster's image changes from {from} to {to}"));
        }
    }
    let changed =
        |a: &Attr<String>, b: &Attr<String>| a.known().zip(b.known()).is_some_and(|(a, b)| a != b);
    if changed(&before.ca_fingerprint_sha256, &after.ca_fingerprint_sha256) {
        return Some("the cluster's CA changes".to_string());
    }
    None
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
        validate::within("replicas", *n, 0, MAX_REPLICAS)
    });
    diags.check_known(&config.region, "region", "Invalid region", |region| {
        validate::locality_value(region)
    });
    diags.check_known(
        &config.dns_load_balancer,
        "dns_load_balancer",
        "Unknown DNS load balancer kind",
        |kind| validate::one_of(kind, &LoadBalancerKind::ALL.map(LoadBalancerKind::as_str)),
    );
    for (name, attr, zero_allowed) in [
        ("storage_size", &config.storage_size, false),
        ("cpu_request", &config.cpu_request, true),
        ("cpu_limit", &config.cpu_limit, false),
        ("memory_request", &config.memory_request, true),
        ("memory_limit", &config.memory_limit, false),
    ] {
        diags.check_known(attr, name, "Invalid quantity", |text| {
            validate::node_size(text, zero_allowed).map(drop)
        });
    }
    requests_within_limits(config, diags);
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
    if let Attr::Known(annotations) = &config.dns_load_balancer_annotations {
        for key in annotations.keys() {
            if let Err(why) = validate::annotation_key(key) {
                diags.attribute_error(
                    AttributePath::root("dns_load_balancer_annotations").key(key),
                    "Invalid annotation key",
                    why,
                );
            }
        }
    }
    timeouts::validate(&config.timeouts, diags);
    connection::validate(&config.kubernetes, diags);
}

/// Each request within its limit, an unset one counting as its default (an `8Gi` request above a `4Gi`
/// limit is refused whichever of them the user wrote). Blamed on the attribute the user set.
fn requests_within_limits(config: &RegionModel, diags: &mut Diagnostics) {
    use super::model::{DEFAULT_CPU, DEFAULT_MEMORY};
    for (request, limit, default) in [
        (
            ("cpu_request", &config.cpu_request),
            ("cpu_limit", &config.cpu_limit),
            DEFAULT_CPU,
        ),
        (
            ("memory_request", &config.memory_request),
            ("memory_limit", &config.memory_limit),
            DEFAULT_MEMORY,
        ),
    ] {
        // A value refused on its own (or zero, which no limit is below) is not compared.
        let value = |attr: &Attr<String>| match attr {
            Attr::Known(text) => validate::node_size(text, false)
                .is_ok()
                .then(|| text.clone()),
            Attr::Null => Some(default.to_string()),
            Attr::Unknown => None,
        };
        let (Some(wanted), Some(allowed)) = (value(request.1), value(limit.1)) else {
            continue;
        };
        let blamed = if request.1.is_null() {
            limit.0
        } else {
            request.0
        };
        if let Err(why) = validate::request_within_limit(Some(&wanted), Some(&allowed)) {
            let unset = [request, limit]
                .iter()
                .filter(|(_, attr)| attr.is_null())
                .map(|(name, _)| format!(" ({name} is unset: its default is {default:?})"))
                .collect::<String>();
            diags.attribute_error(
                AttributePath::root(blamed),
                "Request above limit",
                format!("{why}{unset}; Kubernetes refuses a pod whose request exceeds its limit."),
            );
        }
    }
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
        let diags = Diagnostics::of_check(|diags| validate(&config, diags));
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
                "storage_class",
                "kubernetes"
            ]
        );
        assert_eq!(diags.0[0].summary, "Zone not in the cluster");
        assert_eq!(diags.0[7].summary, "Missing Kubernetes connection");
    }

    #[test]
    fn a_region_taking_part_in_a_ca_rotation_warns_that_every_region_must_be_in_the_apply() {
        let mut rotating = cluster(&["a", "b"]);
        rotating.previous_ca_certificate = Attr::Known("-----BEGIN CERTIFICATE-----old".into());
        let region = |cluster: ClusterRef| RegionModel {
            cluster: Attr::Known(cluster),
            zone: Attr::Known("a".into()),
            ..Default::default()
        };
        let prior = region(cluster(&["a", "b"]));

        let mut planned = region(rotating.clone());
        let diags =
            Diagnostics::of_check(|d| take_part_in_ca_rotation(Some(&prior), &mut planned, d));
        assert_eq!(planned.ca_rotation_completed, Attr::Unknown);
        assert_eq!(diags.attribute_paths(), ["ca_rotation_completed"]);
        assert!(
            diags.0[0].detail.contains("-target"),
            "{}",
            diags.0[0].detail
        );
        assert!(!diags.has_errors());

        // A zone created during the rotation starts on the new CA: nothing to say.
        let mut created = region(rotating.clone());
        assert!(
            Diagnostics::of_check(|d| take_part_in_ca_rotation(None, &mut created, d)).is_empty()
        );

        // Once the zone saw every zone finish, nothing is planned and nothing said.
        let mut done = region(rotating);
        let finished = RegionModel {
            ca_rotation_completed: Attr::Known(super::super::rotation::completed_marker(
                "-----BEGIN CERTIFICATE-----old",
            )),
            ..prior
        };
        let diags =
            Diagnostics::of_check(|d| take_part_in_ca_rotation(Some(&finished), &mut done, d));
        assert!(diags.is_empty());
        assert!(matches!(done.ca_rotation_completed, Attr::Known(_)));
    }

    /// A region of a cluster whose certificates last ten minutes, renewed in the last five, with a node
    /// certificate issued now.
    fn short_lived_region() -> RegionModel {
        let mut cluster = cluster(&["a"]);
        cluster.certificate_validity = Attr::Known("10m".into());
        cluster.certificate_renewal = Attr::Known("5m".into());
        let now = OffsetDateTime::now_utc();
        let ca = pki::CertificateAuthority::generate("main", time::Duration::days(1), now).unwrap();
        let node = pki::issue_node_certificate(
            &ca,
            "a",
            "cluster.local",
            time::Duration::minutes(10),
            now,
        )
        .unwrap();
        cluster.ca_certificate = Attr::Known(ca.cert_pem().to_owned());
        RegionModel {
            cluster: Attr::Known(cluster),
            zone: Attr::Known("a".into()),
            node_certificate_expires_at: certificates::expires_at(&node.cert_pem).into(),
            node_certificate: Attr::Known(node.cert_pem),
            node_private_key: Attr::Known(node.key_pem),
            ..Default::default()
        }
    }

    #[test]
    fn inside_its_window_the_node_certificate_is_renewed_with_no_config_change() {
        let prior = short_lived_region();
        let now = OffsetDateTime::now_utc();
        let mut planned = prior.clone();
        plan(Some(&prior), &mut planned);
        let diags = Diagnostics::of_check(|d| renew_within_window(&mut planned, now, d));
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            planned.node_certificate, prior.node_certificate,
            "fresh: kept"
        );

        let mut due = prior.clone();
        plan(Some(&prior), &mut due);
        let later = now + time::Duration::minutes(6);
        let diags = Diagnostics::of_check(|d| renew_within_window(&mut due, later, d));
        assert_eq!(diags.attribute_paths(), ["node_certificate_expires_at"]);
        assert_eq!(
            diags.0[0].summary,
            "node certificate of zone a expires soon"
        );
        let date = prior.node_certificate_expires_at.known().unwrap();
        assert!(
            diags.0[0].detail.contains(date.as_str()),
            "{}",
            diags.0[0].detail
        );
        assert_eq!(due.node_certificate, Attr::Unknown);
        assert_eq!(due.node_private_key, Attr::Unknown);
        assert_eq!(due.node_certificate_expires_at, Attr::Unknown);

        let mut expired = prior.clone();
        let after = now + time::Duration::minutes(11);
        let diags = Diagnostics::of_check(|d| renew_within_window(&mut expired, after, d));
        assert_eq!(diags.0[0].summary, "node certificate of zone a has expired");
        assert_eq!(expired.node_certificate, Attr::Unknown);
    }

    #[test]
    fn the_renewal_window_comes_from_the_cluster() {
        let mut region = short_lived_region();
        assert_eq!(
            lifetimes(&region).certificate_renewal,
            time::Duration::minutes(5)
        );
        region.cluster = Attr::Unknown;
        assert_eq!(
            lifetimes(&region).certificate_renewal,
            time::Duration::days(30)
        );
    }

    /// A region that validates cleanly, reached with a token (a kubeconfig would have to exist on this machine).
    fn valid() -> RegionModel {
        let kubernetes = crate::resources::connection::ConnectionModel {
            host: Attr::Known("https://127.0.0.1:6443".into()),
            token: Attr::Known("t".into()),
            ..Default::default()
        };
        RegionModel {
            cluster: Attr::Known(cluster(&["a"])),
            zone: Attr::Known("a".into()),
            kubernetes: Attr::Known(kubernetes.to_value()),
            ..Default::default()
        }
    }

    /// What the resource reports for `config`, as (attribute path, detail).
    fn refusals(config: &crate::framework::Value) -> Vec<(String, String)> {
        let mut diags = Diagnostics::new();
        crate::framework::Resource::validate(&super::super::Region, config, &mut diags);
        let paths = diags.attribute_paths();
        paths
            .into_iter()
            .zip(
                diags
                    .0
                    .iter()
                    .map(|d| format!("{}: {}", d.summary, d.detail)),
            )
            .collect()
    }

    #[test]
    fn numbers_sizes_and_keys_out_of_range_are_refused_on_their_attribute() {
        use crate::framework::value::{Number, Value};
        assert_eq!(refusals(&valid().to_value()), []);
        let with = |change: &dyn Fn(&mut RegionModel)| {
            let mut model = valid();
            change(&mut model);
            refusals(&model.to_value())
        };
        for replicas in [4_294_967_297, 1_000_000_000_000, 1001, -1] {
            let refused = with(&|m| m.replicas = Attr::Known(replicas));
            assert_eq!(refused.len(), 1, "{replicas}: {refused:?}");
            assert_eq!(refused[0].0, "replicas");
        }
        assert_eq!(with(&|m| m.replicas = Attr::Known(1000)), []);
        for number in [Number::Float(2.5), Number::Decimal("1e30".into())] {
            let mut value = valid().to_value();
            value.set_attr("replicas", Value::Number(number.clone()));
            let refused = refusals(&value);
            assert_eq!(refused.len(), 1, "{number}: {refused:?}");
            assert_eq!(refused[0].0, "replicas");
            assert!(refused[0].1.contains("whole number"), "{refused:?}");
        }
        for (attribute, text, why) in [
            ("storage_size", "0", "zero"),
            ("storage_size", "1e999", "1Ei"),
            ("memory_limit", "0", "zero"),
            ("memory_request", "16Gi", "default is \"8Gi\""),
            ("memory_limit", "4Gi", "default is \"8Gi\""),
            ("cpu_limit", "0", "zero"),
        ] {
            let mut value = valid().to_value();
            value.set_attr(attribute, Value::string(text));
            let refused = refusals(&value);
            assert_eq!(refused.len(), 1, "{attribute} = {text}: {refused:?}");
            assert_eq!(refused[0].0, attribute);
            assert!(refused[0].1.contains(why), "{refused:?}");
        }
        let refused = with(&|m| {
            m.dns_load_balancer_annotations =
                Attr::Known([("bad key!".to_string(), "x".to_string())].into())
        });
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].0, "dns_load_balancer_annotations[\"bad key!\"]");
        let mut holed = valid().to_value();
        holed.set_attr(
            "dns_load_balancer_annotations",
            Value::Map([("team".to_string(), Value::Null)].into()),
        );
        let refused = refusals(&holed);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].0, "dns_load_balancer_annotations[\"team\"]");
        assert!(refused[0].1.contains("must not be null"), "{refused:?}");
        for huge in [
            "18446744073709551616s",
            "6000000000000000h",
            "100000h100000h",
        ] {
            let refused = with(&|m| {
                m.timeouts = Attr::Known(Value::Object(
                    [("create".to_string(), Value::string(huge))].into(),
                ))
            });
            assert_eq!(refused.len(), 1, "{huge}: {refused:?}");
            assert_eq!(refused[0].0, "timeouts.create");
        }
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
    fn a_stopped_zone_refuses_a_plan_that_restarts_every_other_zone() {
        let region = |replicas: i64, image: &str, ca: &str| {
            let mut model = applied("b", "a");
            model.replicas = Attr::Known(replicas);
            if let Attr::Known(c) = &mut model.cluster {
                c.image = Attr::Known(image.into());
                c.ca_fingerprint_sha256 = Attr::Known(ca.into());
            }
            model
        };
        let refusal = |before: &RegionModel, after: &RegionModel| {
            let mut diags = Diagnostics::new();
            check_restart_while_stopped(Some(before), after, &mut diags);
            diags.0.first().map(|d| {
                assert_eq!(d.path, Some(AttributePath::root("replicas")));
                format!("{}: {}", d.summary, d.detail)
            })
        };
        let stopped = region(0, "v1", "f1");
        let said = refusal(&stopped, &region(0, "v2", "f1")).unwrap();
        assert!(said.starts_with("Zone b is stopped"), "{said}");
        assert!(said.contains("image changes from v1 to v2"), "{said}");
        assert!(said.contains("scale it up (replicas > 0)"), "{said}");
        let said = refusal(&region(3, "v1", "f1"), &region(0, "v1", "f2")).unwrap();
        assert!(said.contains("the cluster's CA changes"), "{said}");
        assert!(said.contains("keep replicas = 3 for now"), "{said}");
        assert_eq!(
            refusal(&stopped, &region(0, "v1", "f1")),
            None,
            "nothing restarts"
        );
        assert_eq!(
            refusal(&region(3, "v1", "f1"), &region(3, "v2", "f1")),
            None,
            "running"
        );
        assert_eq!(
            refusal(&stopped, &region(3, "v2", "f1")),
            None,
            "started again"
        );
        let mut unknown = region(0, "v1", "f1");
        if let Attr::Known(c) = &mut unknown.cluster {
            c.image = Attr::Unknown;
        }
        assert_eq!(refusal(&stopped, &unknown), None, "not known yet");
        let mut diags = Diagnostics::new();
        check_restart_while_stopped(None, &region(0, "v2", "f1"), &mut diags);
        assert!(diags.0.is_empty(), "a new zone restarts nothing");
    }

    #[test]
    fn a_single_zone_cluster_is_refused_a_scale_down_below_three_nodes_at_plan() {
        let region = |zones: &[&str], replicas: i64| RegionModel {
            cluster: Attr::Known(cluster(zones)),
            zone: Attr::Known("a".into()),
            replicas: Attr::Known(replicas),
            ..Default::default()
        };
        let refused = |zones: &[&str], before: i64, after: i64| {
            let mut diags = Diagnostics::new();
            check_scale_down(
                Some(&region(zones, before)),
                &region(zones, after),
                &mut diags,
            );
            diags.0.first().map(|d| d.detail.clone())
        };
        let said = refused(&["a"], 3, 2).unwrap();
        assert!(said.contains("from 3 to 2 node(s)"), "{said}");
        assert!(said.contains("the 3 replicas"), "{said}");
        assert_eq!(refused(&["a"], 5, 3), None);
        assert_eq!(refused(&["a"], 3, 0), None, "the outage drill");
        assert_eq!(refused(&["a"], 2, 1), None, "never held three replicas");
        assert_eq!(
            refused(&["a", "b"], 3, 1),
            None,
            "other zones hold nodes too: judged at apply"
        );
        assert_eq!(refused(&["a"], 1, 2), None);
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
            kubernetes: Attr::Unknown,
            ..Default::default()
        };
        let mut diags = Diagnostics::new();
        validate(&config, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
    }
}
