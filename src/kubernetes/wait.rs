//! Waiting for objects to reach a state by watching them, never by sleeping and polling. Every
//! wait ends at its [`Deadline`] or when Terraform asks the provider to stop, and a timeout
//! says what was still not ready as last observed.
use super::apply::{describe, KubeObject};
use super::client::ClusterClient;
use super::deadline::Deadline;
use super::error::{cause_text, classify, Call, Failure, RemoteError};
use super::readiness::{self, must_exist, Progress};
use super::retry::{no_answer, unanswered, CallLimit};
use crate::framework::Diagnostics;
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Event, Namespace, PersistentVolumeClaim, Pod, Service};
use kube::runtime::{watcher, WatchStreamExt};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The deadline passed first.
    #[error("{object} on {cluster}: {state} after {}{}", human_duration(*.waited), .details.as_ref().map(|d| format!("; {d}")).unwrap_or_default())]
    TimedOut {
        cluster: String,
        object: String,
        waited: Duration,
        /// The last observed state, e.g. `2 of 3 pods ready`.
        state: String,
        /// More about what is not ready, e.g. `not ready: cockroachdb-2 (CrashLoopBackOff: ...)`.
        details: Option<String>,
    },
    /// Terraform asked the provider to stop.
    #[error("stopped waiting for {object} on {cluster}: Terraform asked the provider to stop")]
    Stopped { cluster: String, object: String },
    /// What is awaited will never happen, as the cluster itself says (an event), so the wait ended early.
    #[error("{object} on {cluster} will not get there: {why}")]
    CannotEnd {
        cluster: String,
        object: String,
        why: String,
    },
    /// A failure waiting cannot outlast (credentials, permissions, certificates).
    #[error(transparent)]
    Remote(RemoteError),
}

impl WaitError {
    pub fn to_diagnostics(&self) -> Diagnostics {
        match self {
            WaitError::TimedOut { object, .. } => Diagnostics::with_error(
                format!("Timed out waiting for {object}"),
                format!(
                    "{self}\n\nIf it only needs longer, raise the resource's `timeouts` block; the next apply \
                     continues from where this one stopped."
                ),
            ),
            WaitError::Stopped { .. } => Diagnostics::with_error("Stopped", self.to_string()),
            WaitError::CannotEnd { object, .. } => Diagnostics::with_error(
                format!("{object} cannot become ready"),
                format!("{self}\n\nWaiting longer would not help: the wait ended early."),
            ),
            WaitError::Remote(error) => error.to_diagnostics(),
        }
    }
}

impl From<WaitError> for Diagnostics {
    fn from(error: WaitError) -> Self {
        error.to_diagnostics()
    }
}

impl WaitError {
    /// A timeout whose details say what the caller found out about it, when it found anything.
    pub(super) fn explained_by(mut self, found: Option<String>) -> WaitError {
        if let (WaitError::TimedOut { details, .. }, Some(found)) = (&mut self, found) {
            *details = Some(found);
        }
        self
    }
}

impl From<RemoteError> for WaitError {
    fn from(error: RemoteError) -> Self {
        WaitError::Remote(error)
    }
}

/// `10m`, `1m30s`, `2.5s`, `300ms`: durations as the `timeouts` block writes them.
pub fn human_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    if millis < 60_000 && !millis.is_multiple_of(1000) {
        return format!("{:.1}s", duration.as_secs_f64());
    }
    let seconds = duration.as_secs();
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut text = String::new();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if value > 0 {
            text.push_str(&format!("{value}{unit}"));
        }
    }
    text
}

/// Resolves at `at`, or never when there is no such instant.
async fn until_unreachable_for(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Failures a wait gives up on at once: the user must change something before waiting helps.
fn ends_the_wait(failure: Failure) -> bool {
    matches!(
        failure,
        Failure::Unauthenticated | Failure::Forbidden | Failure::Tls | Failure::Credentials
    )
}

fn watcher_cause(error: watcher::Error) -> kube::Error {
    match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => e,
        watcher::Error::WatchError(status) => kube::Error::Api(status),
        other => kube::Error::Service(other.to_string().into()),
    }
}

impl ClusterClient {
    /// Watches one object until `judge` calls it done, and returns it as last seen (`None` when
    /// the awaited state is its absence). `judge` sees `None` while the object does not exist.
    pub async fn wait_for<K, F>(
        &self,
        namespace: Option<&str>,
        name: &str,
        deadline: &Deadline,
        mut judge: F,
    ) -> Result<Option<K>, WaitError>
    where
        K: KubeObject,
        F: FnMut(Option<&K>) -> Progress,
    {
        let object = describe::<K>(namespace, name);
        let api = self.api::<K>(namespace, name, Call::Watch)?;
        // The watcher relists and rewatches by itself after errors and expired resource
        // versions; the backoff spaces those attempts out.
        let mut events = watcher::watch_object(api, name).default_backoff().boxed();
        let mut state = "no answer from the API server yet".to_string();
        let mut last_error: Option<String> = None;
        // Since when the cluster has answered nothing, and what the last attempt met: a wait reports an
        // unreachable cluster after the grace, not at its deadline. Until the watch's first list is answered
        // that is since the start: a server that accepts and never answers is as unreachable as one refusing.
        let grace = self.retry_policy().unreachable_grace;
        let mut unreachable: Option<(Instant, kube::Error)> = Some((
            Instant::now(),
            no_answer(&CallLimit::new(grace, None).to_string()),
        ));
        let timed_out = |state: String, last_error: Option<String>| WaitError::TimedOut {
            cluster: self.label().to_string(),
            object: object.clone(),
            waited: deadline.limit(),
            state,
            details: last_error.map(|e| format!("last watch error: {e}")),
        };
        loop {
            tokio::select! {
                biased;
                _ = deadline.stop().cancelled() => {
                    return Err(WaitError::Stopped {
                        cluster: self.label().to_string(),
                        object,
                    });
                }
                _ = tokio::time::sleep_until(deadline.at()) => {
                    return Err(timed_out(state, last_error));
                }
                _ = until_unreachable_for(unreachable.as_ref().map(|(since, _)| *since + grace)) => {
                    if let Some((_, error)) = unreachable.take() {
                        return Err(self.remote_error(object, Call::Watch, error).into());
                    }
                }
                event = events.next() => match event {
                    Some(Ok(seen)) => {
                        last_error = None;
                        unreachable = None;
                        match judge(seen.as_ref()) {
                            Progress::Done => return Ok(seen),
                            Progress::Pending(now) => state = now,
                        }
                    }
                    Some(Err(error)) => {
                        let error = watcher_cause(error);
                        if ends_the_wait(classify(&error)) {
                            return Err(self.remote_error(object, Call::Watch, error).into());
                        }
                        tracing::debug!(object = %object, error = %cause_text(&error), "watch interrupted; resuming");
                        last_error = Some(cause_text(&error));
                        // A dropped connection keeps the clock running like a refused one: a cluster that
                        // resets every watch answers nothing.
                        unreachable = classify(&error).answers_nothing().then(|| {
                            let since = unreachable.map_or_else(Instant::now, |(since, _)| since);
                            (since, unanswered(error, &CallLimit::new(grace, None)))
                        });
                    }
                    // The watcher never ends by itself; if it does, start over.
                    None => {
                        let api = self.api::<K>(namespace, name, Call::Watch)?;
                        events = watcher::watch_object(api, name).default_backoff().boxed();
                    }
                },
            }
        }
    }

    /// Waits until a StatefulSet's pods are all ready and on its latest revision. A timeout
    /// names each pod that is not ready and why.
    pub async fn wait_rolled_out(
        &self,
        namespace: &str,
        name: &str,
        deadline: &Deadline,
    ) -> Result<StatefulSet, WaitError> {
        let mut last_seen: Option<StatefulSet> = None;
        let outcome = self
            .wait_for(
                Some(namespace),
                name,
                deadline,
                must_exist(|set: &StatefulSet| {
                    last_seen = Some(set.clone());
                    readiness::statefulset_rollout(set)
                }),
            )
            .await;
        match outcome {
            Ok(Some(set)) => Ok(set),
            Ok(None) => unreachable!("a missing StatefulSet is never rolled out"),
            Err(timeout @ WaitError::TimedOut { .. }) => {
                let pods = match &last_seen {
                    Some(set) => self.explain_unready_pods(namespace, set).await,
                    None => None,
                };
                Err(timeout.explained_by(pods))
            }
            Err(other) => Err(other),
        }
    }

    /// `not ready: cockroachdb-2 (CrashLoopBackOff: ...; 7 restarts)`, from the set's pods.
    async fn explain_unready_pods(&self, namespace: &str, set: &StatefulSet) -> Option<String> {
        let selector = set
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.as_ref())
            .map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let listed = self
            .explain(|client| async move { client.list::<Pod>(Some(namespace), &selector).await })
            .await;
        match listed {
            Some(Ok(pods)) => {
                let unready =
                    readiness::unready_pods(&readiness::statefulset_pod_names(set), &pods);
                (!unready.is_empty()).then(|| format!("not ready: {}", unready.join(", ")))
            }
            Some(Err(error)) => Some(format!("the pods could not be listed: {error}")),
            None => None,
        }
    }

    /// Waits for a LoadBalancer service's address (an IP, or a host name on AWS) and returns it. The Service's
    /// events are watched beside it: one saying that the cloud provisions nothing for the Service as it is (see
    /// [`readiness::load_balancer_refusal`]) ends the wait at once, naming the event, rather than at the deadline.
    pub async fn wait_load_balancer(
        &self,
        namespace: &str,
        name: &str,
        deadline: &Deadline,
    ) -> Result<String, WaitError> {
        let (seen_tx, seen_rx) = tokio::sync::watch::channel(None::<Service>);
        let address = self.wait_for(
            Some(namespace),
            name,
            deadline,
            must_exist(|service: &Service| {
                seen_tx.send_replace(Some(service.clone()));
                readiness::load_balancer_progress(service)
            }),
        );
        let service = tokio::select! {
            found = address => found?,
            why = self.load_balancer_refused(namespace, name, seen_rx) => {
                return Err(WaitError::CannotEnd {
                    cluster: self.label().to_string(),
                    object: describe::<Service>(Some(namespace), name),
                    why: format!("its cloud's load balancer controller refuses it (Warning {why})"),
                });
            }
        };
        Ok(service
            .as_ref()
            .and_then(readiness::load_balancer_address)
            .expect("a done load balancer has an address"))
    }

    /// Resolves with the first event about Service `name` that says its cloud provisions nothing for it as last
    /// seen (through `seen`); never resolves otherwise. Events it cannot watch leave the wait to its deadline.
    async fn load_balancer_refused(
        &self,
        namespace: &str,
        name: &str,
        mut seen: tokio::sync::watch::Receiver<Option<Service>>,
    ) -> String {
        let Ok(api) = self.api::<Event>(Some(namespace), name, Call::Watch) else {
            return std::future::pending().await;
        };
        let config = watcher::Config::default().fields(&format!(
            "involvedObject.kind=Service,involvedObject.name={name}"
        ));
        let mut stream = watcher::watcher(api, config).default_backoff().boxed();
        // By name: a controller that repeats a failure updates its event (`count`) rather than adding one.
        let mut events: BTreeMap<String, Event> = BTreeMap::new();
        let judge = |events: &BTreeMap<String, Event>, service: &Option<Service>| {
            let service = service.as_ref()?;
            events
                .values()
                .find_map(|event| readiness::load_balancer_refusal(service, event))
        };
        loop {
            tokio::select! {
                changed = seen.changed() => {
                    if changed.is_err() {
                        return std::future::pending().await;
                    }
                }
                next = stream.next() => match next {
                    Some(Ok(watcher::Event::Apply(event) | watcher::Event::InitApply(event))) => {
                        events.insert(event.metadata.name.clone().unwrap_or_default(), event);
                    }
                    Some(Ok(watcher::Event::Delete(event))) => {
                        events.remove(event.metadata.name.as_deref().unwrap_or_default());
                    }
                    Some(_) => continue,
                    None => return std::future::pending().await,
                },
            }
            if let Some(why) = judge(&events, &seen.borrow()) {
                return why;
            }
        }
    }

    /// Waits until an object is gone (after `delete`, whose finalizers may take a while).
    pub async fn wait_deleted<K: KubeObject>(
        &self,
        namespace: Option<&str>,
        name: &str,
        deadline: &Deadline,
    ) -> Result<(), WaitError> {
        self.wait_for::<K, _>(namespace, name, deadline, |object| match object {
            None => Progress::Done,
            Some(object) => Progress::Pending(readiness::deletion_progress(object.meta())),
        })
        .await
        .map(drop)
    }

    /// Waits until a namespace is gone. A namespace stuck in Terminating ends in a timeout that
    /// names its finalizers, the controller's complaints, and the pods and volume claims still
    /// in it.
    pub async fn wait_namespace_deleted(
        &self,
        name: &str,
        deadline: &Deadline,
    ) -> Result<(), WaitError> {
        let mut last_seen: Option<Namespace> = None;
        let outcome = self
            .wait_for::<Namespace, _>(None, name, deadline, |namespace| match namespace {
                None => Progress::Done,
                Some(namespace) => {
                    last_seen = Some(namespace.clone());
                    Progress::Pending(readiness::namespace_phase(namespace))
                }
            })
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(WaitError::TimedOut {
                cluster,
                object,
                waited,
                state,
                details,
            }) => {
                let mut holdups = last_seen
                    .as_ref()
                    .map(readiness::namespace_holdups)
                    .unwrap_or_default();
                let remaining = self
                    .explain(|client| async move { client.remaining_in(name).await })
                    .await
                    .flatten();
                holdups.extend(remaining);
                Err(WaitError::TimedOut {
                    cluster,
                    object,
                    waited,
                    state,
                    details: if holdups.is_empty() {
                        details
                    } else {
                        Some(holdups.join("; "))
                    },
                })
            }
            Err(other) => Err(other),
        }
    }

    /// The pods and volume claims left in a namespace, with what holds each up.
    async fn remaining_in(&self, namespace: &str) -> Option<String> {
        fn entries<K: KubeObject>(objects: &[K]) -> impl Iterator<Item = String> + '_ {
            objects.iter().map(|o| {
                format!(
                    "{} {} ({})",
                    K::kind(&()),
                    o.meta().name.as_deref().unwrap_or_default(),
                    readiness::deletion_progress(o.meta())
                )
            })
        }
        let pods = self.list::<Pod>(Some(namespace), "").await.ok()?;
        let claims = self
            .list::<PersistentVolumeClaim>(Some(namespace), "")
            .await
            .ok()?;
        let remaining: Vec<String> = entries(&pods).chain(entries(&claims)).collect();
        (!remaining.is_empty()).then(|| format!("remaining: {}", remaining.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_timeouts_block() {
        assert_eq!(human_duration(Duration::from_secs(600)), "10m");
        assert_eq!(human_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(human_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(human_duration(Duration::from_millis(300)), "300ms");
    }

    #[test]
    fn timeouts_say_what_is_not_ready_and_how_long_was_waited() {
        let error = WaitError::TimedOut {
            cluster: "https://34.1.2.3".into(),
            object: "StatefulSet us-east1-b/cockroachdb".into(),
            waited: Duration::from_secs(600),
            state: "2 of 3 pods ready".into(),
            details: Some("not ready: cockroachdb-2 (CrashLoopBackOff: back-off)".into()),
        };
        assert_eq!(
            error.to_string(),
            "StatefulSet us-east1-b/cockroachdb on https://34.1.2.3: 2 of 3 pods ready after 10m; \
             not ready: cockroachdb-2 (CrashLoopBackOff: back-off)"
        );
        let diags = error.to_diagnostics();
        assert_eq!(
            diags.0[0].summary,
            "Timed out waiting for StatefulSet us-east1-b/cockroachdb"
        );
        assert!(diags.0[0].detail.contains("timeouts"));
    }

    #[test]
    fn only_failures_the_user_must_fix_end_a_wait_early() {
        assert!(ends_the_wait(Failure::Forbidden));
        assert!(ends_the_wait(Failure::Unauthenticated));
        assert!(!ends_the_wait(Failure::Overloaded));
        assert!(!ends_the_wait(Failure::Interrupted));
        assert!(
            !ends_the_wait(Failure::OtherStatus),
            "410 Gone is routine for watches"
        );
    }
}
