//! The kubelets (and scheduler) of a cluster: pods get a node, an IP, containers that start after their volumes
//! mount, run their program (a service, a batch step, or the emulated `cockroach` binary), crash into
//! CrashLoopBackOff with a growing restartCount and exponential back-off, and report phase, conditions and
//! containerStatuses like real ones. Pending PVCs get bound.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::image_pull::{self, ERR_IMAGE_PULL, IMAGE_PULL_BACK_OFF};
use super::{events, log_err, meta, ControllerContext, Reconcile};
use crate::cockroach::dns::ClusterDnsView;
use crate::cockroach::node::{self, Env, Program};
use crate::cockroach::{dns_views, mounts};

/// Image pull and container creation.
pub const CONTAINER_START: Duration = Duration::from_secs(2);
/// How long a batch step runs before exiting 0.
pub const BATCH_RUN: Duration = Duration::from_secs(3);
/// A readiness probe's first success after the container starts.
pub const READY_AFTER: Duration = Duration::from_secs(1);
/// A pod whose sync failed is synced again this soon (and finds a failed image pull in back-off).
const RESYNC_AFTER_ERROR: Duration = Duration::from_secs(1);
const BACKOFF_START: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The kubelet's crash back-off: 10 s doubling up to 5 minutes.
pub fn backoff(restarts: i64) -> Duration {
    let exp = (restarts.max(1) - 1).min(10) as u32;
    (BACKOFF_START * 2u32.pow(exp)).min(BACKOFF_MAX)
}

#[derive(Debug, Clone)]
struct Term {
    exit_code: i32,
    reason: &'static str,
    message: String,
    started_at: String,
    finished_at: String,
}

#[derive(Debug, Clone)]
enum State {
    Creating(String),
    /// The image could not be pulled (`reason` ErrImagePull, then ImagePullBackOff); tried again at `retry_at`.
    PullFailed {
        reason: &'static str,
        message: String,
        failed_at: Instant,
        retry_at: Instant,
        failures: i64,
    },
    Running {
        since: Instant,
        started_at: String,
    },
    BackOff {
        until: Instant,
    },
    Done(Term),
}

struct Container {
    name: String,
    image: String,
    program: Program,
    spec: Value,
    restarts: i64,
    /// The last warning recorded for this container, so a condition that persists is recorded once.
    warned: String,
    state: State,
    last: Option<Term>,
    ready: bool,
    /// For `cockroach start`: the node process has joined its cluster (is a live node).
    joined: bool,
}

struct PodRuntime {
    node: String,
    pod_ip: String,
    start_time: String,
    scheduled: Instant,
    containers: Vec<Container>,
    joined_store: Option<String>,
}

#[derive(Default)]
pub struct Kubelet {
    pods: HashMap<String, PodRuntime>,
    next_ip: u32,
    /// Attached: terminating pods whose containers this kubelet stopped and whose deletion it sent.
    stopped: std::collections::HashSet<String>,
}

impl Reconcile for Kubelet {
    fn reconcile(&mut self, ctx: &ControllerContext) {
        let pod_rt = ctx.rt("pods");
        let pods = ctx.store.list(pod_rt, None);
        // Pods gone: their cockroach processes stop.
        let present: std::collections::HashSet<&str> = pods.iter().map(meta::uid).collect();
        let gone: Vec<String> = self
            .pods
            .keys()
            .filter(|u| !present.contains(u.as_str()))
            .cloned()
            .collect();
        self.stopped.retain(|uid| present.contains(uid.as_str()));
        for uid in gone {
            if let Some(store) = self.pods.remove(&uid).and_then(|r| r.joined_store) {
                ctx.world
                    .cockroach()
                    .node_stopped(&ctx.cluster_name, &store);
                if store.starts_with("pod:") {
                    ctx.world
                        .cockroach()
                        .node_store_deleted(&ctx.cluster_name, &store);
                }
            }
        }
        // Deleted claims take their node's data with them.
        for n in ctx.world.cockroach().nodes() {
            if n.cluster == ctx.cluster_name
                && !n.store_lost
                && !node::store_exists(&ctx.world, &n.cluster, &n.store)
            {
                ctx.world
                    .cockroach()
                    .node_store_deleted(&n.cluster, &n.store);
            }
        }
        self.stop_terminating(ctx, &pods);
        let mut views: Option<Vec<ClusterDnsView>> = None;
        for pod in pods.iter().filter(|p| !meta::is_deleting(p)) {
            if !matches!(
                meta::str_at(pod, "/status/phase"),
                Some("Succeeded") | Some("Failed")
            ) || self.pods.contains_key(meta::uid(pod))
            {
                self.step(ctx, pod, &mut views);
            }
        }
        bind_claims(ctx);
    }
}

impl Kubelet {
    /// Attached to a real API server, a deleted pod is only marked terminating there: its kubelet stops the
    /// containers (here at once, as the sandbox's own server deletes pods at once) and then deletes it for good.
    /// The sandbox's own server has no terminating pods to stop.
    fn stop_terminating(&mut self, ctx: &ControllerContext, pods: &[Value]) {
        let Some(upstream) = &ctx.upstream else {
            return;
        };
        for pod in pods.iter().filter(|p| meta::is_deleting(p)) {
            let uid = meta::uid(pod);
            if !self.stopped.insert(uid.to_string()) {
                continue;
            }
            if let Some(store) = self.pods.get(uid).and_then(|r| r.joined_store.as_ref()) {
                ctx.world.cockroach().node_stopped(&ctx.cluster_name, store);
            }
            upstream.pod_stopped(pod);
        }
    }

    fn step(
        &mut self,
        ctx: &ControllerContext,
        pod: &Value,
        views: &mut Option<Vec<ClusterDnsView>>,
    ) {
        let uid = meta::uid(pod).to_string();
        if !self.pods.contains_key(&uid) {
            let rt = self.admit(ctx, pod);
            let msg = format!(
                "Successfully assigned {}/{} to {}",
                meta::namespace(pod),
                meta::name(pod),
                rt.node
            );
            events::record(
                ctx,
                pod,
                events::NORMAL,
                "Scheduled",
                &msg,
                "default-scheduler",
            );
            self.pods.insert(uid.clone(), rt);
        }
        let rt = self.pods.get_mut(&uid).expect("just inserted");
        if meta::str_at(pod, "/spec/nodeName").is_none() {
            let mut bound = pod.clone();
            bound["spec"]["nodeName"] = json!(rt.node);
            log_err("pod bind", ctx.store.update(ctx.rt("pods"), bound));
            if let Some(upstream) = &ctx.upstream {
                upstream.bind(pod, &rt.node);
            }
            return;
        }
        let restart_policy = meta::str_at(pod, "/spec/restartPolicy")
            .unwrap_or("Always")
            .to_string();
        let secrets_rt = ctx.rt("secrets");
        let ns = meta::namespace(pod).to_string();
        let secret = |name: &str| ctx.store.get(secrets_rt, Some(&ns), name);
        let scaled = |d: Duration| ctx.clock.scaled(d);
        let now = Instant::now();
        for c in rt.containers.iter_mut() {
            match c.state.clone() {
                State::Creating(_) => {
                    if now < rt.scheduled + scaled(CONTAINER_START) {
                        continue;
                    }
                    if let Err(e) = mounts::check_mounts(pod, &c.spec, &secret) {
                        warn_once(ctx, pod, c, "FailedMount", &e.0, "kubelet");
                        c.state = State::Creating(e.0);
                        continue;
                    }
                    if let Some(error) = image_pull::pull_error(&c.image) {
                        pull_failed(ctx, pod, c, error, 1);
                        continue;
                    }
                    launch(ctx, pod, c, views, &restart_policy, &mut rt.joined_store);
                }
                // A sync always finds the back-off before the next pull, however late it comes.
                State::PullFailed {
                    reason: ERR_IMAGE_PULL,
                    failed_at,
                    retry_at,
                    failures,
                    ..
                } if now >= failed_at + scaled(RESYNC_AFTER_ERROR) => {
                    image_pull::record_back_off(ctx, pod, &c.image);
                    c.state = State::PullFailed {
                        reason: IMAGE_PULL_BACK_OFF,
                        message: image_pull::back_off_message(&c.image),
                        failed_at,
                        retry_at,
                        failures,
                    };
                }
                State::PullFailed {
                    failures, retry_at, ..
                } if now >= retry_at => match image_pull::pull_error(&c.image) {
                    Some(error) => pull_failed(ctx, pod, c, error, failures + 1),
                    None => launch(ctx, pod, c, views, &restart_policy, &mut rt.joined_store),
                },
                State::BackOff { until } if now >= until => {
                    if let Err(e) = mounts::check_mounts(pod, &c.spec, &secret) {
                        warn_once(ctx, pod, c, "FailedMount", &e.0, "kubelet");
                        c.state = State::Creating(e.0);
                        continue;
                    }
                    c.restarts += 1;
                    launch(ctx, pod, c, views, &restart_policy, &mut rt.joined_store);
                }
                State::Running { since, started_at } => match &c.program {
                    Program::Service => {
                        c.ready = !has_probe(&c.spec) || now >= since + scaled(READY_AFTER)
                    }
                    Program::Batch if now >= since + scaled(BATCH_RUN) => {
                        exit(
                            ctx,
                            pod,
                            c,
                            0,
                            "Completed",
                            String::new(),
                            started_at,
                            &restart_policy,
                        );
                    }
                    Program::Init(_)
                    | Program::Decommission(_)
                    | Program::Sql(_)
                    | Program::NodeStatus(_)
                    | Program::Steps(_)
                        if now >= since + scaled(READY_AFTER) =>
                    {
                        let views = views.get_or_insert_with(|| dns_views(&ctx.world));
                        let env = Env {
                            world: &ctx.world,
                            views,
                            cluster: &ctx.cluster_name,
                        };
                        let finished = match &c.program {
                            Program::Init(args) => Some(node::init(&env, pod, &c.spec, args)),
                            Program::Sql(args) => Some(node::sql(&env, pod, &c.spec, args)),
                            Program::NodeStatus(args) => {
                                Some(node::node_status(&env, pod, &c.spec, args))
                            }
                            Program::Steps(steps) => Some(node::steps(&env, pod, &c.spec, steps)),
                            Program::Decommission(args) => {
                                node::decommission(&env, pod, &c.spec, args)
                            }
                            Program::Service | Program::Batch | Program::Start(_) => None,
                        };
                        // A decommission runs until the nodes have handed their replicas over.
                        let Some((code, output)) = finished else {
                            continue;
                        };
                        ctx.world
                            .append_log(&ctx.cluster_name, &ns, meta::name(pod), &output);
                        let reason = if code == 0 { "Completed" } else { "Error" };
                        exit(
                            ctx,
                            pod,
                            c,
                            code,
                            reason,
                            output,
                            started_at,
                            &restart_policy,
                        );
                    }
                    Program::Start(args) => {
                        if c.joined {
                            // Looking at its own loaded certificate needs no DNS.
                            let env = Env {
                                world: &ctx.world,
                                views: &[],
                                cluster: &ctx.cluster_name,
                            };
                            if let Some(why) = node::certificate_expired(&env, pod) {
                                // The process keeps running, cut off from its peers, and no longer serves.
                                c.joined = false;
                                if let Some(store) = rt.joined_store.take() {
                                    ctx.world
                                        .cockroach()
                                        .node_stopped(&ctx.cluster_name, &store);
                                }
                                ctx.world
                                    .append_log(&ctx.cluster_name, &ns, meta::name(pod), &why);
                            }
                        }
                        if !c.joined && now >= since + scaled(node::NODE_STARTUP) {
                            let views = views.get_or_insert_with(|| dns_views(&ctx.world));
                            let env = Env {
                                world: &ctx.world,
                                views,
                                cluster: &ctx.cluster_name,
                            };
                            match node::join(&env, pod, &c.spec, args) {
                                Ok((id, ca)) => {
                                    c.joined = true;
                                    rt.joined_store =
                                        Some(node::node_store(&ctx.world, &ctx.cluster_name, pod));
                                    let cluster_id =
                                        ctx.world.cockroach().cluster_id(&ca).unwrap_or_default();
                                    let line = format!("CockroachDB node starting\nstatus: restarted pre-existing node or joined cluster\nclusterID: {cluster_id}\nnodeID: {id}");
                                    ctx.world.append_log(
                                        &ctx.cluster_name,
                                        &ns,
                                        meta::name(pod),
                                        &line,
                                    );
                                }
                                Err(why) if why.starts_with("ERROR:") => {
                                    // Fatal for the process (version skew, decommissioned): it exits.
                                    ctx.world.append_log(
                                        &ctx.cluster_name,
                                        &ns,
                                        meta::name(pod),
                                        &why,
                                    );
                                    if let Some(store) = rt.joined_store.take() {
                                        ctx.world
                                            .cockroach()
                                            .node_stopped(&ctx.cluster_name, &store);
                                    }
                                    exit(
                                        ctx,
                                        pod,
                                        c,
                                        1,
                                        "Error",
                                        why,
                                        started_at.clone(),
                                        &restart_policy,
                                    );
                                    continue;
                                }
                                Err(why) => {
                                    if readiness_needs_join(&c.spec) {
                                        let probe = "Readiness probe failed: HTTP probe failed with statuscode: 503";
                                        warn_once(ctx, pod, c, "Unhealthy", probe, "kubelet");
                                    }
                                    let log =
                                        ctx.world.pod_log(&ctx.cluster_name, &ns, meta::name(pod));
                                    if !log.ends_with(&format!("{why}\n")) {
                                        ctx.world.append_log(
                                            &ctx.cluster_name,
                                            &ns,
                                            meta::name(pod),
                                            &why,
                                        );
                                    }
                                }
                            }
                        }
                        // Only `/health?ready=1` waits for the node to serve; `/health`, a TCP probe or no probe
                        // at all pass as soon as the process listens, before init, as on a real cluster.
                        c.ready = if readiness_needs_join(&c.spec) {
                            c.joined
                        } else {
                            !has_probe(&c.spec) || now >= since + scaled(READY_AFTER)
                        };
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        let status = status_of(pod, rt, &restart_policy);
        if pod.get("status") != Some(&status) {
            let mut updated = pod.clone();
            updated["status"] = status;
            ctx.update_status("pods", updated, "pod status");
        }
    }

    fn admit(&mut self, ctx: &ControllerContext, pod: &Value) -> PodRuntime {
        let nodes: Vec<String> = ctx
            .store
            .list(ctx.rt("nodes"), None)
            .iter()
            .map(|n| meta::name(n).to_string())
            .collect();
        self.next_ip += 1;
        let n = self.next_ip;
        let node = match meta::str_at(pod, "/spec/nodeName") {
            Some(existing) => existing.to_string(),
            None if nodes.is_empty() => format!("{}-node-{}", ctx.cluster_name, n % 3),
            None => nodes[n as usize % nodes.len()].clone(),
        };
        let octet = 64
            + ctx
                .cluster_name
                .bytes()
                .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
                % 64;
        let containers = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| super::env::resolved(c, |map, key| config_map_value(ctx, pod, map, key)))
            .map(|c| Container {
                name: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                image: c
                    .get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                program: node::program(pod, &c),
                spec: c.clone(),
                restarts: 0,
                warned: String::new(),
                state: State::Creating(String::new()),
                last: None,
                ready: false,
                joined: false,
            })
            .collect();
        PodRuntime {
            node,
            pod_ip: format!("10.{octet}.{}.{}", n / 250, n % 250 + 2),
            start_time: meta::now_rfc3339(),
            scheduled: Instant::now(),
            containers,
            joined_store: None,
        }
    }
}

/// `data[key]` of ConfigMap `map` in the pod's namespace, as the kubelet reads it when it creates a container.
fn config_map_value(ctx: &ControllerContext, pod: &Value, map: &str, key: &str) -> Option<String> {
    let config_map = ctx
        .store
        .get(ctx.rt("configmaps"), Some(meta::namespace(pod)), map)?;
    config_map
        .get("data")?
        .get(key)?
        .as_str()
        .map(str::to_string)
}

fn has_probe(c: &Value) -> bool {
    c.get("readinessProbe").is_some_and(|p| !p.is_null())
}

/// A CockroachDB readiness probe on `/health?ready=1` answers 503 until the node has joined an initialised cluster.
fn readiness_needs_join(c: &Value) -> bool {
    c.pointer("/readinessProbe/httpGet/path")
        .and_then(Value::as_str)
        .is_some_and(|p| p.contains("ready=1") || p.contains("ready=true"))
}

/// Starts a container's program. `cockroach start` with bad certificates exits at once.
fn launch(
    ctx: &ControllerContext,
    pod: &Value,
    c: &mut Container,
    views: &mut Option<Vec<ClusterDnsView>>,
    restart_policy: &str,
    joined: &mut Option<String>,
) {
    let started_at = meta::now_rfc3339();
    c.ready = false;
    c.joined = false;
    if let Program::Start(args) = &c.program {
        let views = views.get_or_insert_with(|| dns_views(&ctx.world));
        let env = Env {
            world: &ctx.world,
            views,
            cluster: &ctx.cluster_name,
        };
        if let Err(e) = node::start(&env, pod, &c.spec, args) {
            ctx.world
                .append_log(&ctx.cluster_name, meta::namespace(pod), meta::name(pod), &e);
            if let Some(store) = joined.take() {
                ctx.world
                    .cockroach()
                    .node_stopped(&ctx.cluster_name, &store);
            }
            exit(ctx, pod, c, 1, "Error", e, started_at, restart_policy);
            return;
        }
    }
    let msg = format!("Started container {}", c.name);
    events::record(ctx, pod, events::NORMAL, "Started", &msg, "kubelet");
    c.warned.clear();
    c.state = State::Running {
        since: Instant::now(),
        started_at,
    };
}

/// A pull attempt failed: the container waits in ErrImagePull and the kubelet backs off before the next one.
fn pull_failed(
    ctx: &ControllerContext,
    pod: &Value,
    c: &mut Container,
    error: String,
    failures: i64,
) {
    image_pull::record_failed_pull(ctx, pod, &c.image, &error);
    let now = Instant::now();
    c.state = State::PullFailed {
        reason: ERR_IMAGE_PULL,
        message: error,
        failed_at: now,
        retry_at: now + ctx.clock.scaled(backoff(failures)),
        failures,
    };
}

/// Records a warning unless the same one is the last recorded for this container.
fn warn_once(
    ctx: &ControllerContext,
    pod: &Value,
    c: &mut Container,
    reason: &str,
    message: &str,
    component: &str,
) {
    let key = format!("{reason}: {message}");
    if c.warned != key {
        events::record(ctx, pod, events::WARNING, reason, message, component);
        c.warned = key;
    }
}

#[allow(clippy::too_many_arguments)]
fn exit(
    ctx: &ControllerContext,
    pod: &Value,
    c: &mut Container,
    code: i32,
    reason: &'static str,
    message: String,
    started_at: String,
    restart_policy: &str,
) {
    let term = Term {
        exit_code: code,
        reason,
        message,
        started_at,
        finished_at: meta::now_rfc3339(),
    };
    c.ready = false;
    let restart = restart_policy == "Always" || (restart_policy == "OnFailure" && code != 0);
    if restart {
        let msg = format!(
            "Back-off restarting failed container {} in pod {}_{}({})",
            c.name,
            meta::name(pod),
            meta::namespace(pod),
            meta::uid(pod)
        );
        events::record(ctx, pod, events::WARNING, "BackOff", &msg, "kubelet");
        c.last = Some(term);
        c.state = State::BackOff {
            until: Instant::now() + ctx.clock.scaled(backoff(c.restarts + 1)),
        };
    } else {
        c.state = State::Done(term);
    }
}

fn term_json(t: &Term, container_id: &str) -> Value {
    let mut v = json!({"exitCode": t.exit_code, "reason": t.reason, "startedAt": t.started_at,
                       "finishedAt": t.finished_at, "containerID": container_id});
    if !t.message.is_empty() {
        v["message"] = json!(t.message);
    }
    v
}

fn status_of(pod: &Value, rt: &PodRuntime, restart_policy: &str) -> Value {
    let any_started = rt.containers.iter().any(|c| !never_started(c));
    let all_done = !rt.containers.is_empty()
        && rt
            .containers
            .iter()
            .all(|c| matches!(c.state, State::Done(_)));
    let all_ok = rt
        .containers
        .iter()
        .all(|c| matches!(&c.state, State::Done(t) if t.exit_code == 0));
    let phase = if all_done && restart_policy != "Always" {
        if all_ok {
            "Succeeded"
        } else {
            "Failed"
        }
    } else if any_started {
        "Running"
    } else {
        "Pending"
    };
    let ready = phase == "Running" && rt.containers.iter().all(|c| c.ready);
    let prev = pod.get("status").cloned().unwrap_or(json!({}));
    let now = meta::now_rfc3339();
    let old_cond = |t: &str| {
        prev.get("conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == t).cloned())
    };
    let cond = |t: &str, ok: bool, reason: Option<&str>| {
        let status = if ok { "True" } else { "False" };
        if let Some(c) = old_cond(t).filter(|c| c["status"] == status) {
            return c;
        }
        let mut c =
            json!({"type": t, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
        if let Some(r) = reason {
            c["reason"] = json!(r);
        }
        c
    };
    let not_ready: Vec<&str> = rt
        .containers
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    let unready_reason = if phase == "Succeeded" || phase == "Failed" {
        Some("PodCompleted")
    } else if ready {
        None
    } else {
        Some("ContainersNotReady")
    };
    let mut conditions = vec![
        cond("PodReadyToStartContainers", true, None),
        cond("Initialized", true, None),
        cond("Ready", ready, unready_reason),
        cond("ContainersReady", ready, unready_reason),
        cond("PodScheduled", true, None),
    ];
    if !ready {
        for c in conditions
            .iter_mut()
            .filter(|c| c["type"] == "Ready" || c["type"] == "ContainersReady")
        {
            c["message"] = json!(format!(
                "containers with unready status: [{}]",
                not_ready.join(" ")
            ));
        }
    }
    let statuses: Vec<Value> = rt
        .containers
        .iter()
        .map(|c| {
            let cid = format!("containerd://{:016x}{:02}", fnv64(&format!("{}{}", meta::uid(pod), c.name)), c.restarts);
            let state = match &c.state {
                State::Creating(msg) => {
                    let mut w = json!({"reason": "ContainerCreating"});
                    if !msg.is_empty() {
                        w["message"] = json!(msg);
                    }
                    json!({"waiting": w})
                }
                State::PullFailed { reason, message, .. } => json!({"waiting": {"reason": reason, "message": message}}),
                State::Running { started_at, .. } => json!({"running": {"startedAt": started_at}}),
                State::BackOff { .. } => json!({"waiting": {"reason": "CrashLoopBackOff",
                    "message": format!("back-off {}s restarting failed container={} pod={}_{}({})",
                        backoff(c.restarts + 1).as_secs(), c.name, meta::name(pod), meta::namespace(pod), meta::uid(pod))}}),
                State::Done(t) => json!({"terminated": term_json(t, &cid)}),
            };
            let image_id = match c.state {
                State::PullFailed { .. } => String::new(),
                _ => format!("{}@sha256:{:064x}", c.image, fnv64(&c.image) as u128),
            };
            let mut s = json!({
                "name": c.name, "image": c.image, "imageID": image_id,
                "ready": c.ready, "started": matches!(c.state, State::Running { .. }), "restartCount": c.restarts,
                "state": state, "lastState": {},
            });
            if !never_started(c) {
                s["containerID"] = json!(cid);
            }
            if let Some(t) = &c.last {
                s["lastState"] = json!({"terminated": term_json(t, &cid)});
            }
            s
        })
        .collect();
    let host_ip = format!(
        "10.128.0.{}",
        2 + rt.node.bytes().map(u32::from).sum::<u32>() % 200
    );
    json!({
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": rt.pod_ip,
        "podIPs": [{"ip": rt.pod_ip}],
        "startTime": rt.start_time,
        "containerStatuses": statuses,
        "qosClass": prev.get("qosClass").cloned().unwrap_or(json!("BestEffort")),
    })
}

/// Still before its first start: mounting volumes or pulling the image.
fn never_started(c: &Container) -> bool {
    matches!(c.state, State::Creating(_) | State::PullFailed { .. })
}

fn fnv64(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The volume provisioner: every pending claim is bound with the capacity it asked for.
fn bind_claims(ctx: &ControllerContext) {
    let rt = ctx.rt("persistentvolumeclaims");
    for pvc in ctx.store.list(rt, None) {
        if meta::str_at(&pvc, "/status/phase") == Some("Bound") || meta::is_deleting(&pvc) {
            continue;
        }
        let mut u = pvc.clone();
        u["status"] = json!({
            "phase": "Bound",
            "accessModes": pvc.pointer("/spec/accessModes").cloned().unwrap_or(json!(["ReadWriteOnce"])),
            "capacity": {"storage": pvc.pointer("/spec/resources/requests/storage").cloned().unwrap_or(json!("1Gi"))},
        });
        ctx.update_status("persistentvolumeclaims", u, "pvc bind");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(4), Duration::from_secs(80));
        assert_eq!(backoff(9), Duration::from_secs(300));
    }
}
