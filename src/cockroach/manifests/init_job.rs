//! The Job that runs `cockroach init` once, in the cluster's init zone, retrying by itself until the first node
//! answers instead of the original procedure's fixed sleep; and the other one-off Jobs made in its image. Each
//! attempt is a pod of its own (`Never`): a failed Job keeps its failed pods, and with them what CockroachDB
//! answered, where `OnFailure` would delete the pod when the Job gives up.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, KeyToPath, PodSpec, PodTemplateSpec, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::command::init_command;
use super::names::{self, component_labels};
use super::secrets::{CA_CRT, ROOT_CRT, ROOT_KEY};
use super::spec::ZoneSpec;

/// Attempts before the Job gives up; with the Job controller's back-off this spans several minutes, longer than
/// nodes take to start.
pub const INIT_BACKOFF_LIMIT: i32 = 10;

const CLIENT_CERTS_VOLUME: &str = "client-certs";

/// `cockroach init` against the zone's first node.
pub fn init_job(spec: &ZoneSpec) -> Job {
    client_job(
        spec,
        names::INIT_JOB,
        names::COMPONENT_INIT,
        names::INIT_CONTAINER,
        init_command(),
    )
}

/// A Job in the zone that runs `command` in the cluster's image as the `root` client, with the client
/// certificates mounted at `names::CLIENT_CERTS_DIR`; `component` labels it.
fn client_job(
    spec: &ZoneSpec,
    name: &str,
    component: &str,
    container: &str,
    command: Vec<String>,
) -> Job {
    let target = JobTarget {
        cluster_name: &spec.cluster_name,
        zone: &spec.zone,
        image: &spec.image,
    };
    client_job_in(&target, name, component, container, command)
}

/// Where a client Job runs: the zone (namespace) of a cluster, in the image its nodes run.
pub struct JobTarget<'a> {
    pub cluster_name: &'a str,
    pub zone: &'a str,
    pub image: &'a str,
}

/// [`client_job`] for a zone known by its target alone.
pub(super) fn client_job_in(
    target: &JobTarget,
    name: &str,
    component: &str,
    container: &str,
    command: Vec<String>,
) -> Job {
    let labels = component_labels(target.cluster_name, target.zone, component);
    Job {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(target.zone.to_owned()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(INIT_BACKOFF_LIMIT),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    service_account_name: Some(names::SERVICE_ACCOUNT.to_owned()),
                    automount_service_account_token: Some(false),
                    containers: vec![Container {
                        name: container.to_owned(),
                        image: Some(target.image.to_owned()),
                        image_pull_policy: Some("IfNotPresent".to_owned()),
                        command: Some(command),
                        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
                        volume_mounts: Some(vec![VolumeMount {
                            name: CLIENT_CERTS_VOLUME.to_owned(),
                            mount_path: names::CLIENT_CERTS_DIR.to_owned(),
                            read_only: Some(true),
                            ..VolumeMount::default()
                        }]),
                        ..Container::default()
                    }],
                    volumes: Some(vec![client_certs_volume()]),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// The Job that decommissions the node of StatefulSet ordinal `ordinal` before a scale-down removes
/// its pod: `cockroach node decommission --self` against that node moves its replicas away and
/// returns once it holds none, so the pod can go without losing a range.
pub fn decommission_job(spec: &ZoneSpec, ordinal: i32) -> Job {
    client_job(
        spec,
        &decommission_job_name(ordinal),
        names::COMPONENT_DECOMMISSION,
        "decommission",
        vec![
            names::BINARY.to_owned(),
            "node".to_owned(),
            "decommission".to_owned(),
            "--self".to_owned(),
            format!("--certs-dir={}", names::CLIENT_CERTS_DIR),
            format!(
                "--host={}-{ordinal}.{}",
                names::STATEFULSET,
                names::HEADLESS_SERVICE
            ),
        ],
    )
}

/// Retries before a SQL Job gives up: enough to ride out a node restarting behind `cockroachdb-public`.
pub const SQL_BACKOFF_LIMIT: i32 = 4;

/// A Job named `name` that runs one SQL `statement` as `root` through the zone's `cockroachdb-public` service
/// (any of the zone's running nodes), with the init Job's client certificates. Cluster settings are
/// cluster-wide, so any zone may run it. `statement` must come from the provider's own code, never from input:
/// it is passed to `cockroach sql -e` as one argument.
pub fn sql_job(spec: &ZoneSpec, name: &str, statement: &str) -> Job {
    let mut job = client_job(
        spec,
        name,
        names::COMPONENT_UPGRADE,
        "sql",
        vec![
            names::BINARY.to_owned(),
            "sql".to_owned(),
            format!("--certs-dir={}", names::CLIENT_CERTS_DIR),
            format!("--host={}", names::PUBLIC_SERVICE),
            "-e".to_owned(),
            statement.to_owned(),
        ],
    );
    if let Some(job_spec) = job.spec.as_mut() {
        job_spec.backoff_limit = Some(SQL_BACKOFF_LIMIT);
    }
    job
}

pub const NODE_STATUS_JOB: &str = "cockroachdb-health";

/// The health gate's Job: `cockroach node status` for every node of the cluster, as CSV in its log (read by
/// `cockroach::health`), through the zone's `cockroachdb-public` service. `image` is one a running node uses, so
/// that the gate still runs while the planned image cannot be pulled.
pub fn node_status_job(spec: &ZoneSpec, image: &str) -> Job {
    gate_job(spec, image, &[])
}

/// The health gate's Job with SQL `statements` first (the disruption lease, see
/// `cockroach::disruption_lease`): `cockroach sql --format=csv` runs them and, when it succeeded,
/// `cockroach node status` prints the cluster, both in one log and one Job. The statements come from the
/// provider's own code; they are double-quoted for the shell.
pub fn gate_job(spec: &ZoneSpec, image: &str, statements: &[String]) -> Job {
    let mut status = vec![names::BINARY.to_owned()];
    status.extend(crate::cockroach::health::NODE_STATUS_ARGS.map(str::to_owned));
    status.push(format!("--certs-dir={}", names::CLIENT_CERTS_DIR));
    status.push(format!("--host={}", names::PUBLIC_SERVICE));
    let command = if statements.is_empty() {
        status
    } else {
        let mut sql = vec![
            names::BINARY.to_owned(),
            "sql".to_owned(),
            format!("--certs-dir={}", names::CLIENT_CERTS_DIR),
            format!("--host={}", names::PUBLIC_SERVICE),
            "--format=csv".to_owned(),
        ];
        for statement in statements {
            sql.push("-e".to_owned());
            sql.push(shell_double_quoted(statement));
        }
        let script = format!("{} && {}", sql.join(" "), status.join(" "));
        vec!["/bin/bash".to_owned(), "-ec".to_owned(), script]
    };
    let mut job = client_job(
        spec,
        NODE_STATUS_JOB,
        names::COMPONENT_UPGRADE,
        "health",
        command,
    );
    run_in_image(&mut job, image);
    if let Some(job_spec) = job.spec.as_mut() {
        // The gate asks again itself: a failed attempt (a node restarting behind the service) is an answer.
        job_spec.backoff_limit = Some(1);
    }
    job
}

/// Makes a client Job run in `image`: one a running node uses, so that it runs while the planned image cannot be
/// pulled.
pub fn run_in_image(job: &mut Job, image: &str) {
    if let Some(pod) = job.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        for container in &mut pod.containers {
            container.image = Some(image.to_owned());
        }
    }
}

/// `text` as one shell word inside double quotes: the characters the shell still reads there are escaped.
fn shell_double_quoted(text: &str) -> String {
    let mut quoted = String::from('"');
    for c in text.chars() {
        if matches!(c, '"' | '$' | '`' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

pub fn decommission_job_name(ordinal: i32) -> String {
    format!("{}-decommission-{ordinal}", names::STATEFULSET)
}

/// Exactly the three files a `root` client needs, under the names CockroachDB looks for.
fn client_certs_volume() -> Volume {
    let item = |key: &str| KeyToPath {
        key: key.to_owned(),
        path: key.to_owned(),
        ..KeyToPath::default()
    };
    Volume {
        name: CLIENT_CERTS_VOLUME.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(names::CLIENT_ROOT_SECRET.to_owned()),
            items: Some(vec![item(CA_CRT), item(ROOT_CRT), item(ROOT_KEY)]),
            default_mode: Some(names::SECRET_FILE_MODE),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
}
