//! The nodes: their ServiceAccount, the StatefulSet that runs them, and the PodDisruptionBudget that keeps voluntary
//! evictions to one node at a time (a range keeps quorum with one of three replicas gone).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMap, ConfigMapKeySelector, Container, ContainerPort, EnvVar, EnvVarSource,
    HTTPGetAction, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodAffinityTerm,
    PodAntiAffinity, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SecretVolumeSource,
    ServiceAccount, Volume, VolumeMount, VolumeResourceRequirements, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KubeQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::command::{join_list, start_command};
use super::names::{self, common_labels, component_labels};
use super::spec::{ZoneCertificates, ZoneSpec};

/// Reported to CockroachDB's telemetry as the deployment channel, as the public multi-region manifests do.
pub const COCKROACH_CHANNEL: &str = "kubernetes-multiregion";

/// How long a node gets to drain its leases and SQL connections before it is killed.
pub const TERMINATION_GRACE_SECONDS: i64 = 60;

fn metadata(spec: &ZoneSpec, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(spec.zone.clone()),
        labels: Some(common_labels(&spec.cluster_name, &spec.zone)),
        ..ObjectMeta::default()
    }
}

/// The pods' identity. Its token is not mounted: with certificates in a secret volume, CockroachDB never calls
/// the Kubernetes API, so there is no token to misuse.
pub fn service_account(spec: &ZoneSpec) -> ServiceAccount {
    ServiceAccount {
        metadata: metadata(spec, names::SERVICE_ACCOUNT),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

/// What the nodes may do with the Kubernetes API: nothing, the least they need. The Role exists so that the
/// binding states it, and so that adopting a zone of the original manifests (whose Role granted `get` and
/// `create` on every secret of the namespace, for a certificate-signing init container) takes those rights away.
pub fn role(spec: &ZoneSpec) -> Role {
    Role {
        metadata: metadata(spec, names::ROLE),
        rules: Some(Vec::new()),
    }
}

pub fn role_binding(spec: &ZoneSpec) -> RoleBinding {
    RoleBinding {
        metadata: metadata(spec, names::ROLE),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: names::ROLE.to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: names::SERVICE_ACCOUNT.to_owned(),
            namespace: Some(spec.zone.clone()),
            ..Subject::default()
        }]),
    }
}

pub fn pod_disruption_budget(spec: &ZoneSpec) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: metadata(spec, spec.layout.pod_disruption_budget_name()),
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(match_labels(spec.layout.node_selector())),
            max_unavailable: Some(IntOrString::Int(1)),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

fn match_labels(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        ..LabelSelector::default()
    }
}

pub fn stateful_set(spec: &ZoneSpec) -> StatefulSet {
    StatefulSet {
        metadata: metadata(spec, names::STATEFULSET),
        spec: Some(StatefulSetSpec {
            service_name: Some(names::HEADLESS_SERVICE.to_owned()),
            replicas: Some(spec.replicas),
            selector: match_labels(spec.layout.node_selector()),
            // Nodes of a new zone must all start to find each other before any can become ready.
            pod_management_policy: Some("Parallel".to_owned()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                ..StatefulSetUpdateStrategy::default()
            }),
            template: pod_template(spec),
            volume_claim_templates: Some(vec![data_claim(spec)]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// Holds every pod below ordinal `partition` on its current revision: the provider, not the StatefulSet
/// controller, decides when a node restarts (see `resources::region::rollout`). Written in the same apply as a new
/// template, with `partition` = the live replica count, so that nothing rolls until the provider lowers it.
pub fn hold_rollout(set: &mut StatefulSet, partition: i32) {
    if let Some(spec) = set.spec.as_mut() {
        spec.update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("RollingUpdate".to_owned()),
            rolling_update: Some(RollingUpdateStatefulSetStrategy {
                partition: Some(partition),
                ..RollingUpdateStatefulSetStrategy::default()
            }),
        });
    }
}

/// The partition a live StatefulSet holds its rollout at; None when it has no `rollingUpdate`, which the API
/// server leaves absent unless given (it defaults a partition of 0 only inside a given `rollingUpdate`).
pub fn held_partition(set: &StatefulSet) -> Option<i32> {
    set.spec
        .as_ref()?
        .update_strategy
        .as_ref()?
        .rolling_update
        .as_ref()?
        .partition
}

/// `set` with no `rollingUpdate`: how a StatefulSet that never held a rollout reads back.
pub fn without_partition(set: &StatefulSet) -> StatefulSet {
    let mut set = set.clone();
    if let Some(strategy) = set.spec.as_mut().and_then(|s| s.update_strategy.as_mut()) {
        strategy.rolling_update = None;
    }
    set
}

/// Marks the pod template with the certificates its nodes load (see [`names::CERTIFICATES_ANNOTATION`]).
pub fn annotate_certificates(set: &mut StatefulSet, certs: &ZoneCertificates) {
    let digest = crate::cockroach::pki::certificates_digest(&[&certs.ca_crt, &certs.node_crt]);
    if let Some(template) = set.spec.as_mut().map(|s| &mut s.template) {
        template
            .metadata
            .get_or_insert_with(ObjectMeta::default)
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(names::CERTIFICATES_ANNOTATION.to_owned(), digest);
    }
}

/// The certificates annotation of a StatefulSet's pod template, when it has one.
pub fn certificates_annotation(set: &StatefulSet) -> Option<&str> {
    set.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(names::CERTIFICATES_ANNOTATION)
        .map(String::as_str)
}

/// Drops the certificates annotation: a zone whose running nodes already load the certificates being applied, from
/// a template made before the annotation existed, is not restarted just to add it.
pub fn drop_certificates_annotation(set: &mut StatefulSet) {
    if let Some(annotations) = set
        .spec
        .as_mut()
        .and_then(|s| s.template.metadata.as_mut())
        .and_then(|m| m.annotations.as_mut())
    {
        annotations.remove(names::CERTIFICATES_ANNOTATION);
    }
}

/// The zone's join list (see [`names::JOIN_CONFIG_MAP`]).
pub fn join_config_map(spec: &ZoneSpec) -> ConfigMap {
    ConfigMap {
        metadata: metadata(spec, names::JOIN_CONFIG_MAP),
        data: Some([(names::JOIN_KEY.to_owned(), join_list(spec))].into()),
        ..ConfigMap::default()
    }
}

/// The node pods' labels: ours, plus the selector, which for an adopted zone is the script's `app: cockroachdb`.
pub fn node_pod_labels(spec: &ZoneSpec) -> BTreeMap<String, String> {
    let mut labels = component_labels(&spec.cluster_name, &spec.zone, names::COMPONENT_DATABASE);
    labels.extend(spec.layout.node_selector());
    labels
}

fn pod_template(spec: &ZoneSpec) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(node_pod_labels(spec)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(names::SERVICE_ACCOUNT.to_owned()),
            automount_service_account_token: Some(false),
            termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
            affinity: Some(spread_over_hosts(spec)),
            containers: vec![node_container(spec)],
            volumes: Some(vec![Volume {
                name: names::CERTS_VOLUME.to_owned(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(names::NODE_SECRET.to_owned()),
                    default_mode: Some(names::SECRET_FILE_MODE),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            }]),
            ..PodSpec::default()
        }),
    }
}

/// Preferred, not required: a zone with more nodes than Kubernetes nodes still schedules.
fn spread_over_hosts(spec: &ZoneSpec) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(match_labels(spec.layout.node_selector())),
                        topology_key: "kubernetes.io/hostname".to_owned(),
                        ..PodAffinityTerm::default()
                    },
                },
            ]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

fn node_container(spec: &ZoneSpec) -> Container {
    Container {
        name: names::CONTAINER.to_owned(),
        image: Some(spec.image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(start_command(spec)),
        env: Some(vec![
            EnvVar {
                name: "COCKROACH_CHANNEL".to_owned(),
                value: Some(COCKROACH_CHANNEL.to_owned()),
                ..EnvVar::default()
            },
            EnvVar {
                name: names::JOIN_ENV.to_owned(),
                value_from: Some(EnvVarSource {
                    config_map_key_ref: Some(ConfigMapKeySelector {
                        name: names::JOIN_CONFIG_MAP.to_owned(),
                        key: names::JOIN_KEY.to_owned(),
                        optional: Some(false),
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            },
        ]),
        ports: Some(vec![
            container_port("grpc", names::GRPC_PORT),
            container_port("http", names::HTTP_PORT),
        ]),
        // Ready once the node has joined and serves SQL; before init no node is.
        readiness_probe: Some(https_probe("/health?ready=1", 10, 5, 2)),
        // Alive while the process answers at all: a node waiting for init or for its peers must not be restarted.
        liveness_probe: Some(https_probe("/health", 30, 5, 3)),
        resources: resources(spec),
        volume_mounts: Some(vec![
            VolumeMount {
                name: names::DATA_VOLUME.to_owned(),
                mount_path: names::DATA_DIR.to_owned(),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: names::CERTS_VOLUME.to_owned(),
                mount_path: names::NODE_CERTS_DIR.to_owned(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
        ]),
        ..Container::default()
    }
}

fn container_port(name: &str, number: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: number,
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    }
}

fn https_probe(path: &str, initial_delay: i32, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::Int(names::HTTP_PORT),
            scheme: Some("HTTPS".to_owned()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

/// Only what the user set: an unset request or limit stays unset rather than getting a default of ours.
fn resources(spec: &ZoneSpec) -> Option<ResourceRequirements> {
    let pick = |pairs: [(&str, &Option<String>); 2]| {
        let map: BTreeMap<String, KubeQuantity> = pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), KubeQuantity(v.clone()?))))
            .collect();
        (!map.is_empty()).then_some(map)
    };
    let requests = pick([("cpu", &spec.cpu_request), ("memory", &spec.memory_request)]);
    let limits = pick([("cpu", &spec.cpu_limit), ("memory", &spec.memory_limit)]);
    (requests.is_some() || limits.is_some()).then_some(ResourceRequirements {
        requests,
        limits,
        ..ResourceRequirements::default()
    })
}

fn data_claim(spec: &ZoneSpec) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(names::DATA_VOLUME.to_owned()),
            // Claim templates cannot change after creation: only labels that never change go here.
            labels: Some(spec.layout.node_selector()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: spec.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(
                    [(
                        "storage".to_owned(),
                        KubeQuantity(spec.storage_size.clone()),
                    )]
                    .into(),
                ),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}
