//! The controllers a real control plane, cloud and kubelet run, emulated per cluster. Each module has a pure
//! decision part and a thin loop applying it through the store; every delay is cluster time scaled by `Clock`.

pub mod deployment;
pub mod disruption;
pub mod dns_reload;
pub mod endpoints;
pub mod env;
pub mod events;
pub mod image_pull;
pub mod job;
pub mod kubelet;
pub mod meta;
pub mod namespace;
pub mod replicaset;
pub mod revision;
pub mod service_lb;
pub mod statefulset;
pub mod volume_expansion;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use serde_json::Value;

use crate::clock::Clock;
use crate::store::{resource_type, ResourceType, Store};
use crate::world::{ClusterProfile, World};

#[derive(Clone)]
pub struct ControllerContext {
    pub cluster_name: String,
    pub store: Arc<Store>,
    pub world: Arc<World>,
    pub clock: Clock,
    /// Set when the cluster is a real API server this sandbox is attached to (`attach/`): the store then only
    /// mirrors it, and what the node-side controllers write goes there too.
    pub upstream: Option<Arc<dyn Upstream>>,
}

/// A real API server holding the objects, as the node-side controllers write to it (`attach/` implements it):
/// each write is made in the mirror at once and sent there in order; the mirror then takes that server's answer.
pub trait Upstream: Send + Sync {
    /// A status a controller wrote, through the `/status` subresource of `plural`.
    fn status(&self, plural: &'static str, object: &Value);
    /// A pod scheduled to `node` (`pods/binding`, as the scheduler binds).
    fn bind(&self, pod: &Value, node: &str);
    /// An event recorded about an object.
    fn event(&self, event: &Value);
    /// A terminating pod whose containers stopped: deleted for good, as its kubelet does once they have.
    fn pod_stopped(&self, pod: &Value);
}

impl ControllerContext {
    pub fn rt(&self, plural: &str) -> &'static ResourceType {
        resource_type(plural).unwrap_or_else(|| panic!("resource type {plural} is in the table"))
    }

    /// What an owning controller starts each pass from: every object of `owners` that is not being deleted,
    /// with the objects of `children` in its namespace that it controls (owner reference with `controller`).
    pub fn owners_and_children(&self, owners: &str, children: &str) -> Vec<(Value, Vec<Value>)> {
        let listed_children = self.rt(children);
        self.store
            .list(self.rt(owners), None)
            .into_iter()
            .filter(|owner| !meta::is_deleting(owner))
            .map(|owner| {
                let controlled = self
                    .store
                    .list(listed_children, Some(meta::namespace(&owner)))
                    .into_iter()
                    .filter(|child| meta::controlled_by(child, meta::uid(&owner)))
                    .collect();
                (owner, controlled)
            })
            .collect()
    }

    /// Writes `status` as the status of `object` (of `plural`) when it differs from the one it has.
    pub fn write_status(&self, plural: &'static str, object: &Value, status: Value, what: &str) {
        if object.get("status") != Some(&status) {
            self.replace_status(plural, object, status, what);
        }
    }

    /// Writes `status` as the status of `object` (of `plural`).
    pub fn replace_status(&self, plural: &'static str, object: &Value, status: Value, what: &str) {
        let mut updated = object.clone();
        updated["status"] = status;
        self.update_status(plural, updated, what);
    }

    /// Writes `object`'s status (`/status` of `plural`), and sends it upstream when attached.
    /// Attached, the status goes upstream even when the mirror refuses it: the real server is the one to judge.
    pub fn update_status(&self, plural: &'static str, object: Value, what: &str) -> Option<Value> {
        let Some(upstream) = &self.upstream else {
            return log_err(what, self.store.update_status(self.rt(plural), object));
        };
        let written = log_err(
            what,
            self.store.update_status(self.rt(plural), object.clone()),
        );
        upstream.status(plural, written.as_ref().unwrap_or(&object));
        written
    }
}

/// Controllers that only react to watched objects still re-list now and then, like informer resyncs.
const EVENT_DRIVEN_RESYNC: Duration = Duration::from_secs(10);

/// Starts every controller of one cluster. Registers the cluster in the world with a default profile if
/// `Sandbox::start` has not registered it with its own.
pub fn spawn_all(ctx: ControllerContext) -> Vec<JoinHandle<()>> {
    let mut handles = spawn_control_plane(ctx.clone());
    handles.extend(spawn_node_side(ctx));
    handles
}

/// What kube-controller-manager runs: left to the real one when the sandbox is attached to it.
fn spawn_control_plane(ctx: ControllerContext) -> Vec<JoinHandle<()>> {
    vec![
        spawn_loop(
            ctx.clone(),
            &["namespaces"],
            Duration::from_secs(1),
            namespace::Controller::default(),
        ),
        spawn_loop(
            ctx.clone(),
            &["statefulsets", "pods", "persistentvolumeclaims"],
            EVENT_DRIVEN_RESYNC,
            statefulset::Controller,
        ),
        spawn_loop(
            ctx.clone(),
            &["deployments", "replicasets"],
            EVENT_DRIVEN_RESYNC,
            deployment::Controller,
        ),
        spawn_loop(
            ctx.clone(),
            &["replicasets", "pods"],
            EVENT_DRIVEN_RESYNC,
            replicaset::Controller,
        ),
        spawn_loop(
            ctx.clone(),
            &["jobs", "pods"],
            EVENT_DRIVEN_RESYNC,
            job::Controller::default(),
        ),
        spawn_loop(
            ctx.clone(),
            &["services", "pods"],
            EVENT_DRIVEN_RESYNC,
            endpoints::Controller,
        ),
        spawn_loop(
            ctx,
            &["poddisruptionbudgets", "pods"],
            EVENT_DRIVEN_RESYNC,
            disruption::Controller,
        ),
    ]
}

/// What the kubelets, the cloud's controllers and the cluster's DNS do: the sandbox's part when attached to a
/// real control plane (`attach/`).
pub fn spawn_node_side(ctx: ControllerContext) -> Vec<JoinHandle<()>> {
    // The emulated CockroachDB's cluster time runs at the controllers' speed.
    ctx.world.cockroach().set_clock(ctx.clock);
    if ctx.world.cluster(&ctx.cluster_name).is_none() {
        ctx.world.register_cluster(
            &ctx.cluster_name,
            ctx.store.clone(),
            ClusterProfile::default(),
        );
    }
    vec![
        spawn_loop(
            ctx.clone(),
            &["services"],
            Duration::from_secs(1),
            service_lb::Controller::default(),
        ),
        spawn_loop(
            ctx.clone(),
            &["persistentvolumeclaims", "pods"],
            Duration::from_secs(1),
            volume_expansion::Controller::default(),
        ),
        spawn_loop(
            ctx.clone(),
            &["configmaps", "pods", "deployments"],
            Duration::from_secs(1),
            dns_reload::Controller::default(),
        ),
        spawn_loop(
            ctx,
            &["pods", "secrets", "services", "configmaps"],
            Duration::from_millis(500),
            kubelet::Kubelet::default(),
        ),
    ]
}

/// The controllers of every cluster of a sandbox, stopped when dropped.
pub struct Running {
    pub world: Arc<World>,
    handles: Vec<JoinHandle<()>>,
}

impl Running {
    /// The controllers of `world`'s clusters, stopped when this is dropped.
    pub fn new(world: Arc<World>, handles: Vec<JoinHandle<()>>) -> Running {
        Running { world, handles }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for h in &self.handles {
            h.abort();
        }
    }
}

/// One reconcile pass over the cluster; implementations keep their own timers and memory.
pub trait Reconcile: Send + 'static {
    fn reconcile(&mut self, ctx: &ControllerContext);
}

/// Runs `r` after every burst of events on the watched kinds and at least every `period` of cluster time.
fn spawn_loop(
    ctx: ControllerContext,
    kinds: &'static [&'static str],
    period: Duration,
    mut r: impl Reconcile,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut rx = ctx.store.subscribe();
        let tick = ctx.clock.scaled(period).max(Duration::from_millis(20));
        loop {
            r.reconcile(&ctx);
            let woke = tokio::select! {
                woke = wait_for(&mut rx, kinds) => woke,
                _ = tokio::time::sleep(tick) => true,
            };
            if !woke {
                return;
            }
            // Coalesce the rest of a burst (our own writes included) into one pass.
            tokio::time::sleep(Duration::from_millis(2)).await;
            loop {
                match rx.try_recv() {
                    Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::TryRecvError::Closed) => return,
                    Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
                }
            }
        }
    })
}

/// True on a relevant event (or a lag, after which everything is re-read), false when the store is gone.
async fn wait_for(
    rx: &mut tokio::sync::broadcast::Receiver<crate::store::WatchEvent>,
    kinds: &[&str],
) -> bool {
    loop {
        match rx.recv().await {
            Ok(e) if kinds.contains(&e.kind.plural) => return true,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return true,
            Err(RecvError::Closed) => return false,
        }
    }
}

/// Logs a failed write; controllers retry on their next pass, like real ones after a conflict.
pub(crate) fn log_err<T>(what: &str, r: Result<T, crate::store::ApiError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if e.code == 404 || e.code == 409 => None,
        Err(e) => {
            tracing::debug!("{what}: {e}");
            None
        }
    }
}
