//! Every object of a zone, in the order they are applied, and their names for teardown and drift reports.

use std::fmt;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::Resource;

use super::init_job::init_job;
use super::names::{self, common_labels};
use super::secrets::{client_root_secret, node_secret};
use super::services::{dns_load_balancer, external_name_alias, headless_service, public_service};
use super::spec::{ZoneCertificates, ZoneSpec};
use super::workload::{
    annotate_certificates, join_config_map, pod_disruption_budget, role, role_binding,
    service_account, stateful_set,
};

/// One object of a zone, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum ZoneObject {
    Namespace(Namespace),
    Secret(Secret),
    ConfigMap(ConfigMap),
    ServiceAccount(ServiceAccount),
    Role(Role),
    RoleBinding(RoleBinding),
    Service(Service),
    PodDisruptionBudget(PodDisruptionBudget),
    StatefulSet(StatefulSet),
    Job(Job),
}

/// Which object: enough to get, delete or report it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// None for cluster-scoped objects (the Namespace).
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{}/{}/{}", self.kind, namespace, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

impl ZoneObject {
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            ZoneObject::Namespace(o) => &o.metadata,
            ZoneObject::Secret(o) => &o.metadata,
            ZoneObject::ConfigMap(o) => &o.metadata,
            ZoneObject::ServiceAccount(o) => &o.metadata,
            ZoneObject::Role(o) => &o.metadata,
            ZoneObject::RoleBinding(o) => &o.metadata,
            ZoneObject::Service(o) => &o.metadata,
            ZoneObject::PodDisruptionBudget(o) => &o.metadata,
            ZoneObject::StatefulSet(o) => &o.metadata,
            ZoneObject::Job(o) => &o.metadata,
        }
    }

    fn type_info(&self) -> (&'static str, &'static str) {
        fn of<K: Resource>(_: &K) -> (&'static str, &'static str) {
            (K::API_VERSION, K::KIND)
        }
        match self {
            ZoneObject::Namespace(o) => of(o),
            ZoneObject::Secret(o) => of(o),
            ZoneObject::ConfigMap(o) => of(o),
            ZoneObject::ServiceAccount(o) => of(o),
            ZoneObject::Role(o) => of(o),
            ZoneObject::RoleBinding(o) => of(o),
            ZoneObject::Service(o) => of(o),
            ZoneObject::PodDisruptionBudget(o) => of(o),
            ZoneObject::StatefulSet(o) => of(o),
            ZoneObject::Job(o) => of(o),
        }
    }

    pub fn reference(&self) -> ObjectRef {
        let (api_version, kind) = self.type_info();
        let meta = self.metadata();
        ObjectRef {
            api_version,
            kind,
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

pub fn namespace(spec: &ZoneSpec) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(spec.zone.clone()),
            labels: Some(common_labels(&spec.cluster_name, &spec.zone)),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// Every object of the zone in apply order: the namespace, then what pods mount and whom they run as, then the
/// services that name them, then the workload, then what lives outside the zone's namespace, and the init Job last
/// (it needs `cockroachdb-0` to exist to succeed).
pub fn zone_objects(spec: &ZoneSpec, certs: &ZoneCertificates) -> Vec<ZoneObject> {
    let mut objects = vec![
        ZoneObject::Namespace(namespace(spec)),
        ZoneObject::Secret(node_secret(spec, certs)),
        ZoneObject::Secret(client_root_secret(spec, certs, &spec.zone)),
        ZoneObject::ConfigMap(join_config_map(spec)),
        ZoneObject::ServiceAccount(service_account(spec)),
        ZoneObject::Role(role(spec)),
        ZoneObject::RoleBinding(role_binding(spec)),
        ZoneObject::Service(headless_service(spec)),
        ZoneObject::Service(public_service(spec)),
        ZoneObject::PodDisruptionBudget(pod_disruption_budget(spec)),
        ZoneObject::StatefulSet(certified(stateful_set(spec), certs)),
        ZoneObject::Secret(client_root_secret(spec, certs, names::DEFAULT_NAMESPACE)),
        ZoneObject::Service(external_name_alias(spec)),
        ZoneObject::Service(dns_load_balancer(spec)),
    ];
    if spec.runs_init {
        objects.push(ZoneObject::Job(init_job(spec)));
    }
    objects
}

fn certified(mut set: StatefulSet, certs: &ZoneCertificates) -> StatefulSet {
    annotate_certificates(&mut set, certs);
    set
}

/// The names of `zone_objects`, in the same order, without needing the certificates (teardown and import have
/// none at hand).
pub fn zone_object_refs(spec: &ZoneSpec) -> Vec<ObjectRef> {
    let placeholder = ZoneCertificates {
        ca_crt: String::new(),
        node_crt: String::new(),
        node_key: String::new(),
        root_crt: String::new(),
        root_key: String::new(),
    };
    zone_objects(spec, &placeholder)
        .iter()
        .map(ZoneObject::reference)
        .collect()
}

/// What teardown deletes, in order: the objects outside the zone's namespace first (so peers stop being pointed
/// at a zone that is going away), then the namespace, which takes everything in it, the data volumes included.
/// The shared `default/cockroachdb-public` alias is listed too: the caller deletes it only if `alias_claim` says
/// this zone holds it.
pub fn teardown_refs(spec: &ZoneSpec) -> Vec<ObjectRef> {
    let refs = zone_object_refs(spec);
    let (outside, inside): (Vec<ObjectRef>, Vec<ObjectRef>) = refs
        .into_iter()
        .partition(|r| r.namespace.as_deref().is_some_and(|ns| ns != spec.zone));
    let namespace = inside.into_iter().filter(|r| r.namespace.is_none());
    outside.into_iter().rev().chain(namespace).collect()
}
