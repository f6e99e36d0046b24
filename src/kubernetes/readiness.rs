//! Whether an object has reached the state a wait is for, and if not, what it looks like now,
//! in words: pure functions of the objects, so they are tested without a server.
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ContainerStateTerminated, ContainerStatus, Event, Namespace, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::cockroach::manifests::{mixes_protocols, service_protocols};

/// What the kubelet reports for a container that will not come up without a change: no point waiting longer.
const STUCK_REASONS: [&str; 5] = [
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
];

/// Why a pod will not come up by itself (`ImagePullBackOff: ...`), or None.
pub fn stuck(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let reason = statuses.iter().find_map(|c| {
        let reason = c.state.as_ref()?.waiting.as_ref()?.reason.as_deref()?;
        STUCK_REASONS.contains(&reason).then_some(reason)
    })?;
    Some(pod_problem(pod).unwrap_or_else(|| reason.to_string()))
}

/// Where an object stands relative to what is awaited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// Not there yet; the text says what was last observed.
    Pending(String),
}

/// A message from the cluster (a container's last words, an event) cut to a readable length.
const MAX_MESSAGE: usize = 160;

fn short(message: &str) -> String {
    let message = message.trim().replace('\n', " ");
    if message.chars().count() <= MAX_MESSAGE {
        message
    } else {
        let cut: String = message.chars().take(MAX_MESSAGE).collect();
        format!("{cut}...")
    }
}

/// A judge for an object that must exist: its absence is pending (it may be about to be created),
/// anything else is up to `judge`.
pub fn must_exist<K: kube::Resource<DynamicType = ()>>(
    mut judge: impl FnMut(&K) -> Progress,
) -> impl FnMut(Option<&K>) -> Progress {
    move |object| match object {
        None => Progress::Pending(format!("the {} does not exist", K::kind(&()))),
        Some(object) => judge(object),
    }
}

/// The replicas a StatefulSet asks for (the API's default is 1).
pub fn desired_replicas(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// A StatefulSet is rolled out when the controller has seen its latest spec, every replica is
/// ready, no surplus pod remains, and every pod runs the latest revision (for rolling updates;
/// `OnDelete` sets only need ready pods).
pub fn statefulset_rollout(set: &StatefulSet) -> Progress {
    let desired = desired_replicas(set);
    let Some(status) = &set.status else {
        return Progress::Pending(format!("0 of {desired} pods ready (no status yet)"));
    };
    let generation = set.metadata.generation.unwrap_or(0);
    if status.observed_generation.unwrap_or(0) < generation {
        return Progress::Pending(format!(
            "the StatefulSet controller has not yet seen generation {generation}"
        ));
    }
    let ready = status.ready_replicas.unwrap_or(0);
    if ready < desired {
        return Progress::Pending(format!("{ready} of {desired} pods ready"));
    }
    if status.replicas > desired {
        return Progress::Pending(format!(
            "{} pods remain of {desired} wanted (scaling down)",
            status.replicas
        ));
    }
    let strategy = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    if strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
        return Progress::Done;
    }
    let partition = strategy
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let to_update = (desired - partition).max(0);
    let updated = status.updated_replicas.unwrap_or(0);
    if updated < to_update {
        return Progress::Pending(format!(
            "{updated} of {to_update} pods updated to revision {}",
            status.update_revision.as_deref().unwrap_or("?")
        ));
    }
    if partition == 0 && status.current_revision != status.update_revision {
        return Progress::Pending(format!(
            "revision {} not yet current (still {})",
            status.update_revision.as_deref().unwrap_or("?"),
            status.current_revision.as_deref().unwrap_or("?")
        ));
    }
    Progress::Done
}

/// The names a StatefulSet's pods have: `<set>-0` to `<set>-<replicas-1>`.
pub fn statefulset_pod_names(set: &StatefulSet) -> Vec<String> {
    let name = set.metadata.name.as_deref().unwrap_or_default();
    (0..desired_replicas(set).max(0))
        .map(|ordinal| format!("{name}-{ordinal}"))
        .collect()
}

/// The pods among `expected` that are not ready, each with why: `cockroachdb-2 (CrashLoopBackOff:
/// back-off 5m0s restarting failed container; 7 restarts)`, or `(not created)`.
pub fn unready_pods(expected: &[String], pods: &[Pod]) -> Vec<String> {
    expected
        .iter()
        .filter_map(|name| {
            match pods
                .iter()
                .find(|p| p.metadata.name.as_deref() == Some(name))
            {
                None => Some(format!("{name} (not created)")),
                Some(pod) => pod_problem(pod).map(|why| format!("{name} ({why})")),
            }
        })
        .collect()
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

/// Why a pod is not ready, or `None` when it is.
pub fn pod_problem(pod: &Pod) -> Option<String> {
    if is_ready(pod) && pod.metadata.deletion_timestamp.is_none() {
        return None;
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Some("terminating".into());
    }
    let Some(status) = &pod.status else {
        return Some("no status yet".into());
    };
    let conditions = status.conditions.as_deref().unwrap_or_default();
    if let Some(unscheduled) = conditions
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        let why = unscheduled
            .message
            .as_deref()
            .or(unscheduled.reason.as_deref())
            .unwrap_or("no node fits");
        return Some(format!("unschedulable: {}", short(why)));
    }
    let init = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    if let Some(why) = init.iter().find_map(init_container_problem) {
        return Some(why);
    }
    let containers = status.container_statuses.as_deref().unwrap_or_default();
    let several = containers.len() > 1;
    let problems: Vec<String> = containers
        .iter()
        .filter(|c| !c.ready)
        .map(|c| {
            let why = container_problem(c);
            if several {
                format!("{}: {why}", c.name)
            } else {
                why
            }
        })
        .collect();
    if !problems.is_empty() {
        return Some(problems.join("; "));
    }
    let phase = status.phase.as_deref().unwrap_or("Pending");
    Some(
        match status.message.as_deref().or(status.reason.as_deref()) {
            Some(message) => format!("{phase}: {}", short(message)),
            None => format!("{phase}, not ready"),
        },
    )
}

fn init_container_problem(container: &ContainerStatus) -> Option<String> {
    let state = container.state.as_ref()?;
    let failed = state.terminated.as_ref().is_some_and(|t| t.exit_code != 0);
    (state.waiting.is_some() || state.running.is_some() || failed).then(|| {
        format!(
            "init container {}: {}",
            container.name,
            container_problem(container)
        )
    })
}

fn container_problem(container: &ContainerStatus) -> String {
    let restarts = match container.restart_count {
        0 => String::new(),
        1 => "; 1 restart".to_string(),
        n => format!("; {n} restarts"),
    };
    let last_exit = container
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .map(|t| {
            format!(
                "; last exit code {}{}",
                t.exit_code,
                t.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let state = container.state.as_ref();
    let now = if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
        let reason = waiting.reason.as_deref().unwrap_or("Waiting");
        match waiting.message.as_deref().filter(|m| !m.is_empty()) {
            Some(message) => format!("{reason}: {}", short(message)),
            None => reason.to_string(),
        }
    } else if let Some(terminated) = state.and_then(|s| s.terminated.as_ref()) {
        let reason = terminated.reason.as_deref().unwrap_or("Terminated");
        let message = terminated
            .message
            .as_deref()
            .map(|m| format!(": {}", short(m)))
            .unwrap_or_default();
        format!("{reason}, exit code {}{message}", terminated.exit_code)
    } else if state.and_then(|s| s.running.as_ref()).is_some() {
        "running, readiness probe not passing".to_string()
    } else {
        "no state reported".to_string()
    };
    format!("{now}{restarts}{last_exit}")
}

/// The address clients reach a LoadBalancer service at: its first ingress IP or host name.
pub fn load_balancer_address(service: &Service) -> Option<String> {
    service
        .status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .iter()
        .find_map(|ingress| {
            ingress
                .ip
                .clone()
                .filter(|ip| !ip.is_empty())
                .or_else(|| ingress.hostname.clone().filter(|h| !h.is_empty()))
        })
}

pub fn load_balancer_progress(service: &Service) -> Progress {
    if load_balancer_address(service).is_some() {
        return Progress::Done;
    }
    let kind = service
        .spec
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("ClusterIP");
    if kind != "LoadBalancer" {
        return Progress::Pending(format!(
            "the service is of type {kind}, which never gets a load balancer address"
        ));
    }
    Progress::Pending("no load balancer address assigned yet".into())
}

/// A Warning event about `service` saying that its cloud's load balancer controller provisions nothing for it as it
/// is now, as `reason: message`; None for any other event, since the controllers retry most failures (quotas, API
/// errors) by themselves. The texts are the controllers': cloud-provider-aws and the in-tree AWS provider refuse
/// mixed protocols and UDP on a classic ELB, through the service controller's `SyncLoadBalancerFailed`; GKE's
/// controller writes `LoadBalancerMixedProtocolNotSupported`. An event is judged against the Service as it is
/// now, so one left from before the Service was given one protocol does not count.
pub fn load_balancer_refusal(service: &Service, event: &Event) -> Option<String> {
    if event.type_.as_deref() != Some("Warning") {
        return None;
    }
    let same_object = event.involved_object.name == service.metadata.name
        && (event.involved_object.uid.is_none()
            || event.involved_object.uid == service.metadata.uid);
    if !same_object {
        return None;
    }
    let reason = event.reason.as_deref().unwrap_or_default();
    let message = event.message.as_deref().unwrap_or_default();
    let protocols = service_protocols(service);
    let mixed = mixes_protocols(service);
    let mixed_refused = reason == "LoadBalancerMixedProtocolNotSupported"
        || message.contains("mixed protocol is not supported");
    // cloud-provider-aws's checkProtocol: "Protocol UDP not supported by LoadBalancer".
    let protocol_refused = message
        .split_once("Protocol ")
        .and_then(|(_, rest)| rest.strip_suffix(" not supported by LoadBalancer"))
        .is_some_and(|refused| protocols.contains(&refused));
    ((mixed_refused && mixed) || protocol_refused).then(|| format!("{reason}: {message}"))
}

/// How a Job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    Succeeded,
    /// The reason and message of its Failed condition.
    Failed(String),
}

pub fn job_outcome(job: &Job) -> Option<JobOutcome> {
    let conditions = job.status.as_ref()?.conditions.as_deref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(JobOutcome::Succeeded),
            "Failed" => Some(JobOutcome::Failed(
                [
                    c.reason.as_deref(),
                    c.message.as_deref().map(short).as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
            )),
            _ => None,
        })
}

pub fn job_progress(job: &Job) -> Progress {
    if job_outcome(job).is_some() {
        return Progress::Done;
    }
    let status = job.status.as_ref();
    let count = |n: Option<i32>| n.unwrap_or(0);
    Progress::Pending(format!(
        "{} active, {} succeeded, {} failed pods",
        count(status.and_then(|s| s.active)),
        count(status.and_then(|s| s.succeeded)),
        count(status.and_then(|s| s.failed)),
    ))
}

/// What holds up an object whose deletion was asked for.
pub fn deletion_progress(meta: &ObjectMeta) -> String {
    let finalizers = meta.finalizers.as_deref().unwrap_or_default();
    match (&meta.deletion_timestamp, finalizers.is_empty()) {
        (None, _) => "not being deleted yet".to_string(),
        (Some(_), true) => "being deleted".to_string(),
        (Some(_), false) => format!("waiting for finalizers {}", finalizers.join(", ")),
    }
}

/// A namespace's phase while its deletion is awaited: `still Terminating`.
pub fn namespace_phase(namespace: &Namespace) -> String {
    let phase = namespace
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Active");
    format!("still {phase}")
}

/// What holds up a namespace's deletion: its finalizers and what the namespace controller
/// reports in its conditions (`NamespaceContentRemaining`, `NamespaceFinalizersRemaining`...).
pub fn namespace_holdups(namespace: &Namespace) -> Vec<String> {
    let finalizers: Vec<&str> = namespace
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.as_deref())
        .unwrap_or_default()
        .iter()
        .chain(namespace.metadata.finalizers.as_deref().unwrap_or_default())
        .map(String::as_str)
        .collect();
    let mut holdups = Vec::new();
    if !finalizers.is_empty() {
        holdups.push(format!("finalizers {}", finalizers.join(", ")));
    }
    let conditions = namespace
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    holdups.extend(
        conditions
            .iter()
            .filter(|c| c.status == "True")
            .filter_map(|c| c.message.as_deref().map(short)),
    );
    holdups
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_load_balancer_is_refused_only_by_the_controllers_final_events_about_it_as_it_is() {
        let service = |protocols: &[&str], annotations: serde_json::Value| -> Service {
            let ports: Vec<_> = protocols
                .iter()
                .map(|p| json!({"port": 53, "protocol": p}))
                .collect();
            from(
                json!({"metadata": {"name": "lb", "uid": "u1", "annotations": annotations},
                        "spec": {"type": "LoadBalancer", "ports": ports}}),
            )
        };
        let event = |kind: &str, reason: &str, message: &str, uid: &str| -> Event {
            from(
                json!({"metadata": {"name": "lb.1"}, "type": kind, "reason": reason, "message": message,
                        "involvedObject": {"kind": "Service", "name": "lb", "uid": uid}}),
            )
        };
        let aws_mixed =
            "Error syncing load balancer: failed to ensure load balancer: mixed protocol is not \
                         supported for LoadBalancer";
        let mixed = service(&["UDP", "TCP"], json!({}));
        assert_eq!(
            load_balancer_refusal(
                &mixed,
                &event("Warning", "SyncLoadBalancerFailed", aws_mixed, "u1")
            ),
            Some(format!("SyncLoadBalancerFailed: {aws_mixed}"))
        );
        let gke = event(
            "Warning",
            "LoadBalancerMixedProtocolNotSupported",
            "LoadBalancer with multiple protocols are not supported.",
            "u1",
        );
        assert!(load_balancer_refusal(&mixed, &gke).is_some());
        // Once the Service has one protocol, the events left from before say nothing about it.
        let fixed = service(&["TCP"], json!({}));
        assert_eq!(load_balancer_refusal(&fixed, &gke), None);
        assert_eq!(
            load_balancer_refusal(
                &fixed,
                &event("Warning", "SyncLoadBalancerFailed", aws_mixed, "u1")
            ),
            None
        );
        // UDP on a classic ELB, while the Service still has UDP.
        let elb = "Error syncing load balancer: failed to ensure load balancer: Protocol UDP not supported by \
                   LoadBalancer";
        let udp = service(&["UDP"], json!({}));
        assert!(load_balancer_refusal(
            &udp,
            &event("Warning", "SyncLoadBalancerFailed", elb, "u1")
        )
        .is_some());
        assert_eq!(
            load_balancer_refusal(
                &fixed,
                &event("Warning", "SyncLoadBalancerFailed", elb, "u1")
            ),
            None
        );
        // Failures the controller retries by itself, Normal events, and another Service of the same name.
        let quota =
            "Error syncing load balancer: failed to ensure load balancer: TooManyLoadBalancers";
        assert_eq!(
            load_balancer_refusal(
                &mixed,
                &event("Warning", "SyncLoadBalancerFailed", quota, "u1")
            ),
            None
        );
        assert_eq!(
            load_balancer_refusal(
                &mixed,
                &event("Normal", "EnsuringLoadBalancer", aws_mixed, "u1")
            ),
            None
        );
        assert_eq!(
            load_balancer_refusal(
                &mixed,
                &event("Warning", "SyncLoadBalancerFailed", aws_mixed, "u0")
            ),
            None
        );
    }

    fn statefulset(status: serde_json::Value) -> StatefulSet {
        from(json!({
            "metadata": {"name": "cockroachdb", "namespace": "us-east1-b", "generation": 2},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "cockroachdb"}},
                "serviceName": "cockroachdb",
                "template": {}
            },
            "status": status,
        }))
    }

    #[test]
    fn statefulsets_are_done_only_when_ready_and_on_the_latest_revision() {
        let done = statefulset(json!({
            "observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
            "currentRevision": "cockroachdb-7d", "updateRevision": "cockroachdb-7d"
        }));
        assert_eq!(statefulset_rollout(&done), Progress::Done);

        let cases = [
            (
                json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3}),
                "not yet seen generation 2",
            ),
            (
                json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 2}),
                "2 of 3 pods ready",
            ),
            (
                json!({"observedGeneration": 2, "replicas": 4, "readyReplicas": 4}),
                "4 pods remain of 3",
            ),
            (
                json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 1,
                       "currentRevision": "a", "updateRevision": "b"}),
                "1 of 3 pods updated to revision b",
            ),
            (
                json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
                       "currentRevision": "a", "updateRevision": "b"}),
                "revision b not yet current",
            ),
        ];
        for (status, expected) in cases {
            match statefulset_rollout(&statefulset(status)) {
                Progress::Pending(text) => {
                    assert!(text.contains(expected), "{text:?} vs {expected:?}")
                }
                Progress::Done => panic!("{expected} should be pending"),
            }
        }
        let mut fresh = statefulset(json!(null));
        fresh.status = None;
        assert_eq!(
            statefulset_rollout(&fresh),
            Progress::Pending("0 of 3 pods ready (no status yet)".into())
        );
    }

    fn pod(name: &str, status: serde_json::Value) -> Pod {
        from(json!({"metadata": {"name": name}, "status": status}))
    }

    #[test]
    fn unready_pods_say_why() {
        let ready = pod(
            "cockroachdb-0",
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}),
        );
        let crashing = pod(
            "cockroachdb-1",
            json!({
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{
                    "name": "cockroachdb", "image": "", "imageID": "", "ready": false, "restartCount": 7,
                    "state": {"waiting": {"reason": "CrashLoopBackOff",
                              "message": "back-off 5m0s restarting failed container=cockroachdb"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}
                }]
            }),
        );
        let unschedulable = pod(
            "cockroachdb-2",
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                   "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu."}]}),
        );
        let names: Vec<String> = (0..4).map(|i| format!("cockroachdb-{i}")).collect();
        let found = unready_pods(&names, &[ready, crashing, unschedulable]);
        assert_eq!(
            found,
            [
                "cockroachdb-1 (CrashLoopBackOff: back-off 5m0s restarting failed container=cockroachdb; 7 restarts; last exit code 1 (Error))",
                "cockroachdb-2 (unschedulable: 0/3 nodes are available: 3 Insufficient cpu.)",
                "cockroachdb-3 (not created)",
            ]
        );
    }

    #[test]
    fn running_but_unready_and_image_pull_problems_are_named() {
        let probing = pod(
            "p",
            json!({"phase": "Running", "containerStatuses": [{"name": "c", "image": "", "imageID": "",
                   "ready": false, "restartCount": 0, "state": {"running": {}}}]}),
        );
        assert_eq!(
            pod_problem(&probing).unwrap(),
            "running, readiness probe not passing"
        );
        let pulling = pod(
            "p",
            json!({"phase": "Pending", "containerStatuses": [{"name": "c", "image": "", "imageID": "",
                   "ready": false, "restartCount": 0,
                   "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]}),
        );
        assert_eq!(
            pod_problem(&pulling).unwrap(),
            "ImagePullBackOff: Back-off pulling image"
        );
        let long = "x".repeat(500);
        let chatty = pod("p", json!({"phase": "Failed", "message": long}));
        assert!(pod_problem(&chatty).unwrap().len() < 200);
    }

    #[test]
    fn statefulset_pods_are_named_by_ordinal() {
        let set = statefulset(json!({"replicas": 0}));
        assert_eq!(
            statefulset_pod_names(&set),
            ["cockroachdb-0", "cockroachdb-1", "cockroachdb-2"]
        );
    }

    #[test]
    fn load_balancers_are_done_with_an_ip_or_a_host_name() {
        let service = |status: serde_json::Value| -> Service {
            from(
                json!({"metadata": {"name": "dns"}, "spec": {"type": "LoadBalancer"}, "status": status}),
            )
        };
        assert_eq!(
            load_balancer_address(&service(
                json!({"loadBalancer": {"ingress": [{"ip": "35.1.2.3"}]}})
            )),
            Some("35.1.2.3".into())
        );
        let aws =
            service(json!({"loadBalancer": {"ingress": [{"hostname": "a1.elb.amazonaws.com"}]}}));
        assert_eq!(load_balancer_progress(&aws), Progress::Done);
        assert_eq!(
            load_balancer_progress(&service(json!({"loadBalancer": {}}))),
            Progress::Pending("no load balancer address assigned yet".into())
        );
        let cluster_ip: Service =
            from(json!({"metadata": {"name": "x"}, "spec": {"type": "ClusterIP"}}));
        assert!(
            matches!(load_balancer_progress(&cluster_ip), Progress::Pending(t) if t.contains("ClusterIP"))
        );
    }

    #[test]
    fn jobs_end_complete_or_failed_with_the_reason() {
        let job = |conditions: serde_json::Value| -> Job {
            from(
                json!({"metadata": {"name": "init"}, "status": {"conditions": conditions, "failed": 4}}),
            )
        };
        assert_eq!(
            job_outcome(&job(json!([{"type": "Complete", "status": "True"}]))),
            Some(JobOutcome::Succeeded)
        );
        assert_eq!(
            job_outcome(&job(
                json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                      "message": "Job has reached the specified backoff limit"}])
            )),
            Some(JobOutcome::Failed(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            ))
        );
        let running = job(json!([]));
        assert_eq!(job_outcome(&running), None);
        assert_eq!(
            job_progress(&running),
            Progress::Pending("0 active, 0 succeeded, 4 failed pods".into())
        );
    }

    #[test]
    fn stuck_namespaces_show_finalizers_and_remaining_content() {
        let namespace: Namespace = from(json!({
            "metadata": {"name": "us-east1-b", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Terminating", "conditions": [
                {"type": "NamespaceContentRemaining", "status": "True",
                 "message": "Some resources are remaining: persistentvolumeclaims. has 3 resource instances"},
                {"type": "NamespaceDeletionDiscoveryFailure", "status": "False", "message": "all good"}
            ]}
        }));
        assert_eq!(namespace_phase(&namespace), "still Terminating");
        assert_eq!(
            namespace_holdups(&namespace),
            [
                "finalizers kubernetes",
                "Some resources are remaining: persistentvolumeclaims. has 3 resource instances"
            ]
        );
        assert_eq!(
            deletion_progress(&ObjectMeta {
                deletion_timestamp: namespace.metadata.deletion_timestamp.clone(),
                finalizers: Some(vec!["kubernetes.io/pvc-protection".into()]),
                ..Default::default()
            }),
            "waiting for finalizers kubernetes.io/pvc-protection"
        );
    }
}

/// How the containers of `pods` ended, their current and their previous run: what a Job's pods said before they
/// exited.
pub fn terminations(pods: &[Pod]) -> impl Iterator<Item = &ContainerStateTerminated> {
    pods.iter()
        .filter_map(|pod| pod.status.as_ref()?.container_statuses.as_ref())
        .flatten()
        .flat_map(|status| {
            let current = status.state.as_ref().and_then(|s| s.terminated.as_ref());
            let last = status
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref());
            [current, last]
        })
        .flatten()
}

/// Whether a Job ended in failure (its `Failed` condition is true). A finished Job never runs again.
pub fn job_has_failed(job: &Job) -> bool {
    matches!(job_outcome(job), Some(JobOutcome::Failed(_)))
}

#[cfg(test)]
mod job_failure_tests {
    use super::*;

    #[test]
    fn only_a_true_failed_condition_counts() {
        let job = |conditions: serde_json::Value| -> Job {
            serde_json::from_value(serde_json::json!({"status": {"conditions": conditions}}))
                .unwrap()
        };
        assert!(job_has_failed(&job(
            serde_json::json!([{"type": "Failed", "status": "True"}])
        )));
        assert!(!job_has_failed(&job(
            serde_json::json!([{"type": "Failed", "status": "False"}])
        )));
        assert!(!job_has_failed(&job(
            serde_json::json!([{"type": "Complete", "status": "True"}])
        )));
        assert!(!job_has_failed(&Job::default()));
    }
}
