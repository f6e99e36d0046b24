//! How `crdb_sql_user` and `crdb_database` reach CockroachDB: a Job in one zone of the cluster runs `cockroach sql`
//! in the image the zone's nodes run, as `root` with the zone's client certificate, so that only the `kubernetes {}`
//! credentials are needed (no local binary, no network path to the nodes). The statements travel in a short-lived
//! Secret mounted into the Job, deleted with it, because they may hold a password hash.
use crate::cockroach::manifests::{self, names, JobTarget};
use crate::cockroach::sql::{SqlSnapshot, READ_SCRIPT};
use crate::cockroach::validate;
use crate::framework::diag::Diagnostics;
use crate::framework::{Attr, OperationContext, Value};
use crate::kubernetes::{ClusterClient, Deadline, JobError, Propagation};
use crate::resources::connection::connect_for_read;
use crate::resources::import_id;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use std::time::Duration;

/// The zone a resource's SQL runs in, as found live.
pub struct SqlZone {
    pub cluster_name: String,
    pub zone: String,
    pub image: String,
}

impl SqlZone {
    fn target(&self) -> JobTarget<'_> {
        JobTarget {
            cluster_name: &self.cluster_name,
            zone: &self.zone,
            image: &self.image,
        }
    }

    /// The zone's StatefulSet gives the image its nodes run (a Job in that image needs no other pull) and the
    /// cluster it belongs to.
    pub async fn find(client: &ClusterClient, zone: &str) -> Result<SqlZone, Diagnostics> {
        let sts = client
            .get::<StatefulSet>(Some(zone), names::STATEFULSET)
            .await?;
        let found = sts.as_ref().and_then(|sts| {
            let image = manifests::node_container(sts)?.image.clone()?;
            let cluster_name = sts
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(names::LABEL_PART_OF))
                .cloned()
                .unwrap_or_else(|| names::APP.to_owned());
            Some((cluster_name, image))
        });
        let Some((cluster_name, image)) = found else {
            return Err(Diagnostics::with_error(
                format!("No CockroachDB nodes in zone {zone} on {}", client.label()),
                format!(
                    "SQL runs as a Job next to the zone's nodes, but namespace {zone} has no StatefulSet {}. \
                     Set `zone` to a zone of the cluster (`crdb_region.<name>.zone`) and give the same \
                     `kubernetes` block as that region.",
                    names::STATEFULSET
                ),
            ));
        };
        Ok(SqlZone {
            cluster_name,
            zone: zone.to_owned(),
            image,
        })
    }

    /// Runs `script` in a Job named `job` and returns what it printed (CSV). `what` names the change in a
    /// failure. The statements' Secret is deleted whatever the outcome.
    pub async fn run(
        &self,
        client: &ClusterClient,
        job: &str,
        script: &str,
        what: &str,
        deadline: &Deadline,
    ) -> Result<String, Diagnostics> {
        self.execute(client, job, script, deadline)
            .await
            .map_err(|e| self.failure(client, what, &e))
    }

    /// [`SqlZone::run`] with the failure as it came, for a caller that words some failures itself.
    pub async fn execute(
        &self,
        client: &ClusterClient,
        job: &str,
        script: &str,
        deadline: &Deadline,
    ) -> Result<String, JobError> {
        let target = self.target();
        client
            .apply(&manifests::sql_script_secret(&target, job, script))
            .await?;
        let ran = client
            .run_job_for_output(&manifests::sql_script_job(&target, job), deadline)
            .await;
        let removed = client
            .delete::<Secret>(Some(&self.zone), job, Propagation::Background)
            .await;
        let output = ran?;
        removed?;
        Ok(output)
    }

    /// The diagnostic of a failed [`SqlZone::execute`] of the change `what`.
    pub fn failure(&self, client: &ClusterClient, what: &str, error: &JobError) -> Diagnostics {
        error.to_diagnostics(
            format!("{what} failed in zone {} on {}", self.zone, client.label()),
            "",
        )
    }

    /// Every user, role membership and database, read by one Job.
    pub async fn snapshot(
        &self,
        client: &ClusterClient,
        job: &str,
        deadline: &Deadline,
    ) -> Result<SqlSnapshot, Diagnostics> {
        let output = self
            .run(
                client,
                job,
                READ_SCRIPT,
                "Reading users and databases",
                deadline,
            )
            .await?;
        SqlSnapshot::parse(&output).map_err(|e| {
            Diagnostics::with_error(
                format!("Unexpected SQL output in zone {}", self.zone),
                e.to_string(),
            )
        })
    }
}

/// Every user, membership and database as a read sees them, or None when there is nothing to read with yet
/// (a state just imported by name, a connection unknown until apply).
pub async fn read(
    ctx: &OperationContext,
    kubernetes: &Attr<Value>,
    zone: &Attr<String>,
    job: &str,
    limit: Duration,
) -> Result<Option<SqlSnapshot>, Diagnostics> {
    let (Some(client), Attr::Known(zone)) = (connect_for_read(ctx, kubernetes).await?, zone) else {
        return Ok(None);
    };
    let deadline = Deadline::after(limit, &ctx.stop);
    let zone = SqlZone::find(&client, zone).await?;
    zone.snapshot(&client, job, &deadline).await.map(Some)
}

/// An import ID of a SQL resource: `<name>`, or `<kubeconfig context>/<zone>/<name>` to read it there at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportTarget {
    pub context: Option<String>,
    pub zone: Option<String>,
    pub name: String,
}

impl ImportTarget {
    /// Contexts may contain `/` (EKS context names are ARNs); zones and names never do.
    pub fn parse(id: &str, resource: &str) -> Result<ImportTarget, Diagnostics> {
        let invalid = |why: String| {
            Diagnostics::with_error(
                "Invalid import ID",
                format!(
                    "Import a {resource} as `<name>` or `<kubeconfig context>/<zone>/<name>`: {why}."
                ),
            )
        };
        let Some((rest, name)) = id.rsplit_once('/') else {
            return Ok(ImportTarget {
                context: None,
                zone: None,
                name: id.to_owned(),
            });
        };
        let Some((context, zone)) = rest.rsplit_once('/').filter(|(c, _)| !c.is_empty()) else {
            return Err(invalid(format!(
                "{id:?} has no kubeconfig context before the zone"
            )));
        };
        validate::zone_name(zone).map_err(|e| invalid(e.to_string()))?;
        Ok(ImportTarget {
            context: Some(context.to_owned()),
            zone: Some(zone.to_owned()),
            name: name.to_owned(),
        })
    }

    /// What the ID's context shows, when it names one.
    pub async fn snapshot(
        &self,
        ctx: &OperationContext,
        purpose: &str,
        limit: Duration,
    ) -> Result<Option<SqlSnapshot>, Diagnostics> {
        let (Some(context), Some(zone)) = (&self.context, &self.zone) else {
            return Ok(None);
        };
        let client = import_id::connect(ctx, context).await?;
        let zone = SqlZone::find(&client, zone).await?;
        let deadline = Deadline::after(limit, &ctx.stop);
        let job = names::sql_job_name(purpose, &self.name);
        zone.snapshot(&client, &job, &deadline).await.map(Some)
    }
}

/// Whether a SQL Job failed because CockroachDB refused to create an object that already exists (SQLSTATE
/// 42710 `duplicate_object` for a user or role, 42P04 `duplicate_database`).
pub fn already_exists(error: &JobError) -> bool {
    let JobError::Failed(failure) = error else {
        return false;
    };
    failure.said.as_deref().is_some_and(|said| {
        ["SQLSTATE: 42710", "SQLSTATE: 42P04"]
            .iter()
            .any(|code| said.contains(code))
    })
}

/// The error of a create that found its object already there: it is not taken over by accident.
pub fn exists_error(
    resource: &str,
    kind: &str,
    name: &str,
    zone: &str,
    cluster: &str,
) -> Diagnostics {
    Diagnostics::with_error(
        format!("The {kind} {name:?} already exists"),
        format!(
            "The cluster (zone {zone} on {cluster}) already has a {kind} named {name:?} that this resource did \
             not create. Terraform does not take it over silently, since destroying the resource would drop it. \
             To manage it here, import it (`terraform import {resource}.<name> <kubeconfig context>/{zone}/{name}` \
             or an `import` block); otherwise choose another name."
        ),
    )
}

/// The error of a read that did not find its object among the rows it could read while others could not be read:
/// the object may be among those, so it is not called gone (which would plan to create it again).
pub fn unreadable_error(kind: &str, name: &str, rows: &[String]) -> Diagnostics {
    Diagnostics::with_error(
        format!("Cannot tell whether the {kind} {name:?} still exists"),
        format!(
            "It is not among the rows the cluster listed, but {} row(s) of that listing could not be read: {:?}.",
            rows.len(),
            rows
        ),
    )
}

/// The error of an import whose object does not exist.
pub fn not_found(resource: &str, name: &str) -> Diagnostics {
    Diagnostics::with_error(
        format!("Cannot import {resource} {name:?}"),
        format!("The cluster has no {resource} named {name:?}."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_ids_name_the_object_and_optionally_where_to_read_it() {
        assert_eq!(
            ImportTarget::parse("app", "crdb_sql_user").unwrap(),
            ImportTarget {
                context: None,
                zone: None,
                name: "app".into()
            }
        );
        assert_eq!(
            ImportTarget::parse("arn:aws:eks:x/cluster/a/us-east1-b/app", "crdb_sql_user").unwrap(),
            ImportTarget {
                context: Some("arn:aws:eks:x/cluster/a".into()),
                zone: Some("us-east1-b".into()),
                name: "app".into()
            }
        );
        assert!(ImportTarget::parse("us-east1-b/app", "crdb_sql_user").is_err());
        assert!(ImportTarget::parse("ctx/Bad_Zone/app", "crdb_sql_user").is_err());
    }
}
