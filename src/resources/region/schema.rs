//! The schema and typed model of `crdb_region`, apart from its operations so that the plan rules
//! and validation stay pure and testable.
use crate::cockroach::manifests::LoadBalancerKind;
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::schema::Block;
use crate::framework::timeouts::{self, Operation};
use crate::framework::{Attr, Attribute, Schema, Type, Value};
use crate::resources::validate;
use crate::tf_model;
use std::collections::BTreeMap;

pub const TYPE_NAME: &str = "crdb_region";

/// The attributes of `crdb_multiregion_cluster` a region consumes. Declared as an object type so
/// that `cluster = crdb_multiregion_cluster.main` passes the whole resource in one expression:
/// Terraform drops the attributes not named here, keeps the keys' sensitivity, and shows an
/// image change as `~ image = "v1" -> "v2"` inside the object.
pub fn cluster_type() -> Type {
    let s = || Type::String;
    Type::object([
        ("name", s()),
        ("image", s()),
        ("version", s()),
        ("upgrade_finalization", s()),
        ("cluster_version", s()),
        ("zones", Type::list(s())),
        ("init_zone", s()),
        ("join_addresses", Type::list(s())),
        ("cluster_domain", s()),
        ("ca_certificate", s()),
        ("ca_private_key", s()),
        ("ca_fingerprint_sha256", s()),
        ("root_client_certificate", s()),
        ("root_client_private_key", s()),
    ])
}

tf_model! {
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct ClusterRef {
        pub name: Attr<String>,
        pub image: Attr<String>,
        pub version: Attr<String>,
        pub upgrade_finalization: Attr<String>,
        pub cluster_version: Attr<String>,
        pub zones: Attr<Vec<Attr<String>>>,
        pub init_zone: Attr<String>,
        pub join_addresses: Attr<Vec<Attr<String>>>,
        pub cluster_domain: Attr<String>,
        pub ca_certificate: Attr<String>,
        pub ca_private_key: Attr<String>,
        pub ca_fingerprint_sha256: Attr<String>,
        pub root_client_certificate: Attr<String>,
        pub root_client_private_key: Attr<String>,
    }
}

impl ClusterRef {
    pub fn known_zones(&self) -> Option<Vec<String>> {
        self.zones
            .known()?
            .iter()
            .map(|z| z.known().cloned())
            .collect()
    }
}

tf_model! {
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct RegionModel {
        pub id: Attr<String>,
        pub cluster: Attr<ClusterRef>,
        pub zone: Attr<String>,
        pub region: Attr<String>,
        pub replicas: Attr<i64>,
        pub storage_size: Attr<String>,
        pub storage_class: Attr<String>,
        pub cpu_request: Attr<String>,
        pub cpu_limit: Attr<String>,
        pub memory_request: Attr<String>,
        pub memory_limit: Attr<String>,
        pub dns_load_balancer: Attr<String>,
        pub dns_load_balancer_annotations: Attr<BTreeMap<String, String>>,
        pub dns_resolver: Attr<String>,
        pub deletion_protection: Attr<bool>,
        pub namespace: Attr<String>,
        pub dns_address: Attr<String>,
        pub node_certificate: Attr<String>,
        pub node_private_key: Attr<String>,
        pub initialized: Attr<bool>,
        pub missing_objects: Attr<Vec<String>>,
        pub layout: Attr<String>,
        pub kubernetes: Attr<Value>,
        pub timeouts: Attr<Value>,
    }
}

pub fn schema(connection_block: Block) -> Schema {
    let s = || Type::String;
    Schema {
        version: 0,
        block: Block::new(
            "One zone of a `crdb_multiregion_cluster`: a namespace named after the zone in one Kubernetes cluster, \
             holding the zone's CockroachDB nodes (a StatefulSet), their certificates, services, disruption budget, \
             and the DNS load balancer its peers resolve it through. The init zone's region initialises the cluster. \
             Raising `replicas` scales out; lowering it decommissions the nodes that will go (the highest ordinals) \
             before their pods are removed; lowering it to 0 stops the zone and keeps its volumes (an outage drill). \
             Raising `storage_size` grows the volumes in place. Changing the cluster's image rolls the StatefulSet one \
             pod at a time (with the cluster's `upgrade_finalization = \"manual\"`, a major-version upgrade first sets \
             `cluster.preserve_downgrade_option` through a `cockroach sql` Job in the zone, and switching back to \
             `\"auto\"` resets it), and destroying the region deletes its namespace, data included, which \
             `deletion_protection` guards.",
        )
        .attribute(Attribute::computed("id", s(), "The zone.").keep_prior_value_when_unset())
        .attribute(Attribute::required(
            "cluster",
            cluster_type(),
            "The cluster this zone belongs to: `cluster = crdb_multiregion_cluster.<name>`.",
        ))
        .attribute(
            Attribute::required(
                "zone",
                s(),
                "The zone, one of the cluster's `zones`; also the namespace everything lives in. Changing it replaces \
                 the region (refused while `deletion_protection` is true).",
            )
            .requires_replace(),
        )
        .attribute(Attribute::optional(
            "region",
            s(),
            "The region part of the nodes' locality (`--locality region=<region>,zone=<zone>`).",
        ))
        .attribute(
            Attribute::optional("replicas", Type::Number, "Number of CockroachDB nodes in this zone.")
                .default(Value::int(3)),
        )
        .attribute(
            Attribute::optional(
                "storage_size",
                s(),
                "Size of each node's data volume, a Kubernetes quantity. Raising it grows the volumes in place: their \
                 StorageClass must set `allowVolumeExpansion: true` (checked before anything changes), each claim is \
                 expanded, and the StatefulSet, whose claim template cannot change, is re-created around its running \
                 pods, which are neither restarted nor replaced; apply then waits for the claims to report the new \
                 capacity. Kubernetes cannot shrink a volume, so a smaller value is refused at plan time. The same \
                 amount written otherwise (`100Gi`, `102400Mi`) is no change.",
            )
            .default(Value::string("100Gi")),
        )
        .attribute(
            Attribute::optional(
                "storage_class",
                s(),
                "Storage class of the data volumes; the cluster's default class when unset. Kubernetes cannot move a \
                 volume to another class, so changing it replaces the region (refused while `deletion_protection` is \
                 true): the zone's nodes start again on new, empty volumes and CockroachDB re-replicates their data \
                 from the other zones. Setting it to the name of the cluster's default class also counts as a change.",
            )
            .requires_replace(),
        )
        .attribute(
            Attribute::optional("cpu_request", s(), "CPU request of each node, a Kubernetes quantity.")
                .default(Value::string("2")),
        )
        .attribute(
            Attribute::optional("cpu_limit", s(), "CPU limit of each node, a Kubernetes quantity.")
                .default(Value::string("2")),
        )
        .attribute(
            Attribute::optional("memory_request", s(), "Memory request of each node, a Kubernetes quantity.")
                .default(Value::string("8Gi")),
        )
        .attribute(
            Attribute::optional(
                "memory_limit",
                s(),
                "Memory limit of each node; the node's cache and SQL memory are each a quarter of it.",
            )
            .default(Value::string("8Gi")),
        )
        .attribute(
            Attribute::optional(
                "dns_load_balancer",
                s(),
                "How peers reach this cluster's DNS: `public`, `gke-internal` (internal with global access, needs a \
                 shared or peered VPC), `aws-internal` or `azure-internal`.",
            )
            .default(Value::string("public")),
        )
        .attribute(Attribute::optional(
            "dns_load_balancer_annotations",
            Type::map(s()),
            "Extra annotations on the DNS load balancer Service, applied after those `dns_load_balancer` implies.",
        ))
        .attribute(Attribute::optional(
            "dns_resolver",
            s(),
            "A DNS server (`ip:port`) that resolves the DNS load balancer's host name where the platform gives one \
             (AWS), for example the VPC resolver; the provider's own resolver when unset. kube-dns and CoreDNS \
             forward to IP addresses only, so `dns_address` is always an IP.",
        ))
        .attribute(
            Attribute::optional(
                "deletion_protection",
                Type::Bool,
                "While true, destroying or replacing the region (which deletes its data) fails. Set it to false and \
                 apply before destroying.",
            )
            .default(Value::Bool(true)),
        )
        .attribute(Attribute::computed("namespace", s(), "The namespace of the zone.").keep_prior_value_when_unset())
        .attribute(
            Attribute::computed(
                "dns_address",
                s(),
                "Address of this cluster's DNS load balancer, for the peers' `crdb_dns_link`.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed("node_certificate", s(), "PEM certificate of this zone's nodes, signed by the cluster CA.")
                .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed("node_private_key", s(), "PEM private key of this zone's nodes.")
                .sensitive()
                .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "initialized",
                Type::Bool,
                "Whether this region ran (or found done) `cockroach init`; only the init zone's region does.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(Attribute::computed(
            "missing_objects",
            Type::list(s()),
            "Objects of the zone that the last read did not find (deleted by hand): the next apply re-creates \
             them. Empty after every apply.",
        ))
        .attribute(
            Attribute::computed(
                "layout",
                s(),
                "How the zone's objects are named and selected: `provider` for a zone this provider created, \
                 `setup-script` for one adopted from the original multi-region setup script. An adopted zone keeps \
                 the script's StatefulSet selector (`app: cockroachdb`, which Kubernetes never lets change), its DNS \
                 load balancer `kube-system/kube-dns-lb` (so peers keep its address), its PodDisruptionBudget \
                 `cockroachdb-budget` and its `default/cockroachdb.client.root` secret, and the pods keep running \
                 the script's pod template until the cluster's image or the region changes, which rolls them onto \
                 the provider's template one at a time.",
            )
            .keep_prior_value_when_unset(),
        )
        .single_block("kubernetes", connection_block)
        .single_block(
            "timeouts",
            timeouts::block(&[Operation::Create, Operation::Update, Operation::Delete]),
        ),
    }
}

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
    if let Attr::Known(replicas) = config.replicas {
        if replicas < 0 {
            diags.attribute_error(
                AttributePath::root("replicas"),
                "Invalid replicas",
                format!("replicas must be 0 or more, got {replicas}."),
            );
        }
    }
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
    if let Attr::Known(kind) = &config.dns_load_balancer {
        if LoadBalancerKind::parse(kind).is_none() {
            let kinds = LoadBalancerKind::ALL.map(LoadBalancerKind::as_str);
            diags.attribute_error(
                AttributePath::root("dns_load_balancer"),
                "Unknown DNS load balancer kind",
                format!("{kind:?} is not one of {kinds:?}."),
            );
        }
    }
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
    if let Attr::Known(class) = &config.storage_class {
        if let Err(why) = validate::dns1123_subdomain(class) {
            diags.attribute_error(
                AttributePath::root("storage_class"),
                "Invalid storage class",
                why,
            );
        }
    }
    timeouts::validate(config.timeouts.known().unwrap_or(&Value::Null), diags);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{FromValue, ToValue};

    fn cluster(zones: &[&str]) -> ClusterRef {
        ClusterRef {
            name: Attr::Known("main".into()),
            image: Attr::Known("cockroachdb/cockroach:v24.1.0".into()),
            zones: Attr::Known(zones.iter().map(|z| Attr::Known(z.to_string())).collect()),
            ..Default::default()
        }
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
        let paths: Vec<String> = diags
            .0
            .iter()
            .map(|d| d.path.as_ref().unwrap().to_string())
            .collect();
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
