//! The Job that runs a SQL script for `crdb_sql_user` and `crdb_database`, and the short-lived Secret that carries
//! the script. Statements may hold a password hash, so they never appear in the Job spec or on a command line: the
//! Job reads them from the Secret mounted read-only, and both are deleted once it is done.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Secret, SecretVolumeSource, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;

use super::init_job::{client_job_in, JobTarget, SQL_BACKOFF_LIMIT};
use super::names::{self, component_labels};

pub const SQL_SCRIPT_DIR: &str = "/cockroach/sql";
pub const SQL_SCRIPT_FILE: &str = "statements.sql";
const SQL_SCRIPT_VOLUME: &str = "statements";

/// The Job `name` in the target's zone: `cockroach sql --format=csv -f <script>` as `root` through the zone's
/// `cockroachdb-public` service, the script read from the Secret of the same name.
pub fn sql_script_job(target: &JobTarget, name: &str) -> Job {
    let command = vec![
        names::BINARY.to_owned(),
        "sql".to_owned(),
        format!("--certs-dir={}", names::CLIENT_CERTS_DIR),
        format!("--host={}", names::PUBLIC_SERVICE),
        "--format=csv".to_owned(),
        format!("--file={SQL_SCRIPT_DIR}/{SQL_SCRIPT_FILE}"),
    ];
    let mut job = client_job_in(target, name, names::COMPONENT_SQL, "sql", command);
    if let Some(spec) = job.spec.as_mut() {
        spec.backoff_limit = Some(SQL_BACKOFF_LIMIT);
        if let Some(pod) = spec.template.spec.as_mut() {
            for c in &mut pod.containers {
                c.volume_mounts
                    .get_or_insert_with(Vec::new)
                    .push(VolumeMount {
                        name: SQL_SCRIPT_VOLUME.to_owned(),
                        mount_path: SQL_SCRIPT_DIR.to_owned(),
                        read_only: Some(true),
                        ..VolumeMount::default()
                    });
            }
            pod.volumes.get_or_insert_with(Vec::new).push(Volume {
                name: SQL_SCRIPT_VOLUME.to_owned(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(name.to_owned()),
                    default_mode: Some(names::SECRET_FILE_MODE),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            });
        }
    }
    job
}

/// The Secret `name` holding `script` for [`sql_script_job`].
pub fn sql_script_secret(target: &JobTarget, name: &str, script: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(target.zone.to_owned()),
            labels: Some(component_labels(
                target.cluster_name,
                target.zone,
                names::COMPONENT_SQL,
            )),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            SQL_SCRIPT_FILE.to_owned(),
            ByteString(script.as_bytes().to_vec()),
        )])),
        type_: Some("Opaque".to_owned()),
        ..Secret::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_is_mounted_from_its_secret_and_never_in_the_job_spec() {
        let target = JobTarget {
            cluster_name: "crdb",
            zone: "us-east1-b",
            image: "cockroachdb/cockroach:v25.2.0",
        };
        let script = "ALTER USER \"app\" WITH PASSWORD 'SCRAM-SHA-256$10610:c2FsdA==$a:b';";
        let job = sql_script_job(&target, "crdb-sql-user-app");
        let secret = sql_script_secret(&target, "crdb-sql-user-app", script);
        let spec = serde_json::to_string(&job).unwrap();
        assert!(
            !spec.contains("SCRAM") && !spec.contains("PASSWORD"),
            "{spec}"
        );
        assert!(spec.contains("--file=/cockroach/sql/statements.sql"));
        assert!(spec.contains("--format=csv"));
        let pod = job.spec.unwrap().template.spec.unwrap();
        let volume = pod
            .volumes
            .unwrap()
            .into_iter()
            .find(|v| v.name == SQL_SCRIPT_VOLUME)
            .unwrap();
        assert_eq!(
            volume.secret.unwrap().secret_name.as_deref(),
            Some("crdb-sql-user-app")
        );
        assert_eq!(secret.metadata.namespace.as_deref(), Some("us-east1-b"));
        assert_eq!(secret.data.unwrap()[SQL_SCRIPT_FILE].0, script.as_bytes());
    }
}
