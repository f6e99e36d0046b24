//! The store as a mirror of a real API server: one watch per kind the node-side controllers and the emulated
//! CockroachDB read, each event kept as that server sent it (`Store::mirror_upsert`), objects gone while a watch
//! was re-listing forgotten when its list ends.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::api_resource;
use crate::store::{resource_type, ResourceType, Store};

/// What the sandbox's node side reads: pods and what they mount or resolve, the objects that own them, and the
/// cluster's nodes, classes and namespaces.
pub const MIRRORED: &[&str] = &[
    "namespaces",
    "nodes",
    "pods",
    "services",
    "endpoints",
    "configmaps",
    "secrets",
    "serviceaccounts",
    "persistentvolumeclaims",
    "persistentvolumes",
    "storageclasses",
    "statefulsets",
    "deployments",
    "replicasets",
    "jobs",
    "poddisruptionbudgets",
];

/// Starts one watch per mirrored kind; the receiver turns true once every kind's first list is in the store.
pub fn start(
    cluster: &str,
    client: kube::Client,
    store: Arc<Store>,
) -> (Vec<JoinHandle<()>>, Vec<watch::Receiver<bool>>) {
    MIRRORED
        .iter()
        .map(|plural| {
            let rt = resource_type(plural).expect("mirrored kinds are in the table");
            let (synced, listed) = watch::channel(false);
            let task = tokio::spawn(mirror_kind(
                cluster.to_string(),
                client.clone(),
                store.clone(),
                rt,
                synced,
            ));
            (task, listed)
        })
        .unzip()
}

async fn mirror_kind(
    cluster: String,
    client: kube::Client,
    store: Arc<Store>,
    rt: &'static ResourceType,
    synced: watch::Sender<bool>,
) {
    let api: Api<DynamicObject> = Api::all_with(client, &api_resource(rt));
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    // The keys a re-list has seen, to forget the rest when it ends.
    let mut listing: Option<HashSet<(Option<String>, String)>> = None;
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => listing = Some(HashSet::new()),
            Ok(Event::InitApply(object)) => {
                if let Some(value) = as_value(object) {
                    if let Some(seen) = listing.as_mut() {
                        seen.insert(key(&value));
                    }
                    store.mirror_upsert(rt, value);
                }
            }
            Ok(Event::InitDone) => {
                if let Some(seen) = listing.take() {
                    for (ns, name) in store.keys(rt) {
                        if !seen.contains(&(ns.clone(), name.clone())) {
                            store.mirror_remove(rt, ns.as_deref(), &name);
                        }
                    }
                }
                synced.send_replace(true);
            }
            Ok(Event::Apply(object)) => {
                if let Some(value) = as_value(object) {
                    store.mirror_upsert(rt, value);
                }
            }
            Ok(Event::Delete(object)) => {
                if let Some(value) = as_value(object) {
                    let (ns, name) = key(&value);
                    store.mirror_remove(rt, ns.as_deref(), &name);
                }
            }
            Err(error) => {
                tracing::debug!(cluster = %cluster, kind = rt.plural, %error, "mirror watch failed; it retries");
            }
        }
    }
}

fn as_value(object: DynamicObject) -> Option<Value> {
    serde_json::to_value(object).ok()
}

fn key(object: &Value) -> (Option<String>, String) {
    (
        crate::store::namespace_of(object).map(String::from),
        crate::store::name_of(object).to_string(),
    )
}
