//! The one Job runner of the provider (init, decommission and SQL Jobs): start a Job afresh when
//! an earlier attempt left one finished, wait for it by watching, and explain a failure with what
//! cockroach printed last and the `kubectl` command that shows the rest.
use super::apply::Propagation;
use super::client::ClusterClient;
use super::deadline::Deadline;
use super::error::{Call, Failure, RemoteError};
use super::readiness::{self, JobOutcome};
use super::wait::WaitError;
use crate::framework::Diagnostics;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

/// What becomes of a Job that succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterSuccess {
    /// Deleted: a one-off step (decommission, SQL) whose leftover would only confuse the next run.
    Delete,
    /// Kept: its success is a record (the init Job, which import reads).
    Keep,
}

/// Why a Job did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The Job could not be started or followed: a failed call or the deadline.
    #[error(transparent)]
    Wait(#[from] WaitError),
    #[error(transparent)]
    Failed(#[from] JobFailure),
}

impl From<RemoteError> for JobError {
    fn from(error: RemoteError) -> Self {
        JobError::Wait(error.into())
    }
}

/// A Job that ran and failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Job {namespace}/{name} failed: {reason}.{}", quoted(.said.as_deref()))]
pub struct JobFailure {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    /// How Kubernetes reports the failure (backoff limit, deadline).
    pub reason: String,
    /// What the container printed last before it exited (its termination message).
    pub said: Option<String>,
}

/// ` cockroach said: <message>.` when there is a message.
fn quoted(message: Option<&str>) -> String {
    message
        .map(|m| format!(" cockroach said: {}.", m.trim_end_matches('.')))
        .unwrap_or_default()
}

impl JobFailure {
    /// The `kubectl` command that shows the Job's whole log.
    pub fn kubectl_hint(&self) -> String {
        format!("kubectl logs job/{} -n {}", self.name, self.namespace)
    }

    /// A diagnostic with `summary`, the failure, what it means for the zone (`consequence`, a
    /// sentence or empty) and the `kubectl` hint.
    pub fn to_diagnostics(&self, summary: String, consequence: &str) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let consequence = if consequence.is_empty() {
            String::new()
        } else {
            format!(" {consequence}")
        };
        diags.error(
            summary,
            format!("{self}{consequence} See `{}`.", self.kubectl_hint()),
        );
        diags
    }
}

impl JobError {
    /// Whether the operation's time ended the Job's run (a wait timing out, or a call that the deadline cut short
    /// before any answer): a caller that waits on the Job's answer reports its own timeout, with what it last saw.
    pub fn ran_out_of_time(&self) -> bool {
        match self {
            JobError::Wait(WaitError::TimedOut { .. }) => true,
            JobError::Wait(WaitError::Remote(e)) => e.failure() == Failure::OutOfTime,
            _ => false,
        }
    }

    /// A diagnostic: a failed Job worded by `summary` and `consequence` (see
    /// [`JobFailure::to_diagnostics`]), anything else as the edge words it.
    pub fn to_diagnostics(&self, summary: String, consequence: &str) -> Diagnostics {
        match self {
            JobError::Failed(failure) => failure.to_diagnostics(summary, consequence),
            JobError::Wait(e) => e.to_diagnostics(),
        }
    }
}

impl ClusterClient {
    /// Runs a one-off Job to its end: started (afresh, see [`ClusterClient::start_job`]), waited
    /// for, and handled per `after` once it succeeded.
    pub async fn run_job(
        &self,
        job: &Job,
        after: AfterSuccess,
        deadline: &Deadline,
    ) -> Result<(), JobError> {
        self.start_job(job, deadline).await?;
        let namespace = job.metadata.namespace.as_deref().unwrap_or_default();
        let name = job.metadata.name.as_deref().unwrap_or_default();
        self.finish_job(namespace, name, after, deadline).await
    }

    /// Waits for a started Job; a failure carries what its last failed attempt said.
    pub async fn finish_job(
        &self,
        namespace: &str,
        name: &str,
        after: AfterSuccess,
        deadline: &Deadline,
    ) -> Result<(), JobError> {
        self.await_success(namespace, name, deadline).await?;
        if after == AfterSuccess::Delete {
            self.delete::<Job>(Some(namespace), name, Propagation::Background)
                .await?;
        }
        Ok(())
    }

    /// Runs a Job that answers through its log (`cockroach node status`), returns what its succeeded pod
    /// printed, and deletes it.
    pub async fn run_job_for_output(
        &self,
        job: &Job,
        deadline: &Deadline,
    ) -> Result<String, JobError> {
        self.start_job(job, deadline).await?;
        let namespace = job.metadata.namespace.as_deref().unwrap_or_default();
        let name = job.metadata.name.as_deref().unwrap_or_default();
        self.await_success(namespace, name, deadline).await?;
        let output = self.succeeded_pod_log(namespace, name).await?;
        self.delete::<Job>(Some(namespace), name, Propagation::Background)
            .await?;
        Ok(output)
    }

    /// The log of the Job's pod that succeeded (`get` on `pods/log`).
    async fn succeeded_pod_log(&self, namespace: &str, job: &str) -> Result<String, RemoteError> {
        let pods = self
            .list::<Pod>(
                Some(namespace),
                &format!("batch.kubernetes.io/job-name={job}"),
            )
            .await?;
        let succeeded = pods
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded"))
            .filter_map(|p| p.metadata.name.clone())
            .next()
            .unwrap_or_default();
        let api = self.api::<Pod>(Some(namespace), &succeeded, Call::Get)?;
        let params = kube::api::LogParams::default();
        self.call("log", || api.logs(&succeeded, &params))
            .await
            .map_err(|source| {
                self.remote_error(
                    format!("log of pod {namespace}/{succeeded}"),
                    Call::Get,
                    source,
                )
            })
    }

    /// Waits for a started Job to succeed; a failure carries what its last failed attempt said.
    async fn await_success(
        &self,
        namespace: &str,
        name: &str,
        deadline: &Deadline,
    ) -> Result<(), JobError> {
        match self.wait_job_finished(namespace, name, deadline).await? {
            JobOutcome::Succeeded => {}
            JobOutcome::Failed(reason) => {
                return Err(JobFailure {
                    cluster: self.label().to_string(),
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    reason,
                    said: self.job_failure_message(namespace, name).await,
                }
                .into())
            }
        }
        Ok(())
    }

    /// Waits until a Job has completed or failed, and says which. A timeout names the Job's
    /// pods that are not done and why (an init command crash-looping, an image not pulled).
    pub async fn wait_job_finished(
        &self,
        namespace: &str,
        name: &str,
        deadline: &Deadline,
    ) -> Result<JobOutcome, WaitError> {
        let outcome = self
            .wait_for(
                Some(namespace),
                name,
                deadline,
                readiness::must_exist(readiness::job_progress),
            )
            .await;
        match outcome {
            // A finished Job has an outcome; a Job gone meanwhile is reported as failed.
            Ok(job) => Ok(job
                .as_ref()
                .and_then(readiness::job_outcome)
                .unwrap_or_else(|| JobOutcome::Failed("the Job disappeared".into()))),
            Err(timeout @ WaitError::TimedOut { .. }) => {
                let selector = format!("batch.kubernetes.io/job-name={name}");
                let listed = self
                    .explain(|client| async move {
                        client.list::<Pod>(Some(namespace), &selector).await
                    })
                    .await;
                let pods = match listed {
                    Some(Ok(pods)) => {
                        let problems: Vec<String> = pods
                            .iter()
                            .filter_map(|pod| {
                                let name = pod.metadata.name.as_deref().unwrap_or_default();
                                readiness::pod_problem(pod).map(|why| format!("{name} ({why})"))
                            })
                            .collect();
                        (!problems.is_empty()).then(|| format!("pods: {}", problems.join(", ")))
                    }
                    _ => None,
                };
                Err(timeout.explained_by(pods))
            }
            Err(other) => Err(other),
        }
    }

    /// What a failed Job's container printed last before it exited (its termination message, which falls back to
    /// the log's tail), for a diagnostic to quote. Best effort: None when it cannot be read.
    pub async fn job_failure_message(&self, namespace: &str, job: &str) -> Option<String> {
        let pods = self
            .list::<Pod>(Some(namespace), &format!("job-name={job}"))
            .await
            .ok()?;
        readiness::terminations(&pods)
            .filter(|t| t.exit_code != 0)
            .max_by(|a, b| a.finished_at.cmp(&b.finished_at))
            .and_then(|t| t.message.as_deref())
            .map(|message| message.trim().to_owned())
            .filter(|message| !message.is_empty())
    }

    /// Applies a one-off Job. One an earlier attempt left finished is deleted first and
    /// waited for: a finished Job never runs again, so re-applying a failed one would report the old failure
    /// forever, and a succeeded one left behind (its deletion failed) would pass for a run that never happened,
    /// such as the decommissioning of a node that took its ordinal since. A Job still running is left to finish.
    pub async fn start_job(&self, job: &Job, deadline: &Deadline) -> Result<(), WaitError> {
        let namespace = job.metadata.namespace.as_deref();
        let name = job.metadata.name.as_deref().unwrap_or_default();
        let live = self.get::<Job>(namespace, name).await?;
        if live.as_ref().and_then(readiness::job_outcome).is_some() {
            tracing::info!(
                job = name,
                "deleting a Job an earlier attempt left finished"
            );
            self.delete::<Job>(namespace, name, Propagation::Background)
                .await?;
            self.wait_deleted::<Job>(namespace, name, deadline).await?;
        }
        self.apply(job).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::retry::{cut_short, Bound, CallLimit};
    use std::time::Duration;

    /// A gate waiting on a Job's answer reports its own timeout when the operation's time ends the Job's run, not
    /// an unreachable cluster; a cluster found unreachable, or a Job that failed, stays what it is.
    #[test]
    fn only_the_operations_time_running_out_ends_a_job_out_of_time() {
        let cut = |set_by| {
            let source = cut_short(&CallLimit {
                length: Duration::from_millis(40),
                set_by,
            });
            JobError::Wait(WaitError::Remote(RemoteError {
                cluster: "https://10.0.0.1".into(),
                object: "Pod us-east1-b/*".into(),
                call: Call::List,
                source,
            }))
        };
        assert!(cut(Bound::OperationTimeout).ran_out_of_time());
        assert!(!cut(Bound::UnreachableTimeout).ran_out_of_time());
        let timed_out = JobError::Wait(WaitError::TimedOut {
            cluster: "https://10.0.0.1".into(),
            object: "Job us-east1-b/gate".into(),
            waited: Duration::from_secs(15),
            state: "running".into(),
            details: None,
        });
        assert!(timed_out.ran_out_of_time());
        assert!(!JobError::Failed(failure(None)).ran_out_of_time());
    }

    fn failure(said: Option<&str>) -> JobFailure {
        JobFailure {
            cluster: "https://10.0.0.1".into(),
            namespace: "us-east1-b".into(),
            name: "cockroachdb-init".into(),
            reason: "BackoffLimitExceeded".into(),
            said: said.map(str::to_string),
        }
    }

    #[test]
    fn a_failure_quotes_cockroach_and_names_the_kubectl_command() {
        let diags = failure(Some("ERROR: cannot dial node 0.")).to_diagnostics(
            "cockroach init failed".into(),
            "The zone was not initialised.",
        );
        assert_eq!(diags.0[0].summary, "cockroach init failed");
        assert_eq!(
            diags.0[0].detail,
            "Job us-east1-b/cockroachdb-init failed: BackoffLimitExceeded. cockroach said: ERROR: cannot dial \
             node 0. The zone was not initialised. See `kubectl logs job/cockroachdb-init -n us-east1-b`."
        );
        let silent = failure(None).to_diagnostics("failed".into(), "");
        assert_eq!(
            silent.0[0].detail,
            "Job us-east1-b/cockroachdb-init failed: BackoffLimitExceeded. See \
             `kubectl logs job/cockroachdb-init -n us-east1-b`."
        );
    }
}
