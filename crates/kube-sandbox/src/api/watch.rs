//! Watch streams: chunked JSON lines of `{"type": ..., "object": ...}`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::body::{self, Resp};
use super::selector::{FieldSelector, LabelSelector};
use super::table;
use crate::error::ApiError;
use crate::resources::ResourceType;
use crate::store::{namespace_of, Store, WatchEvent, WatchEventType};

pub struct WatchRequest {
    pub rt: &'static ResourceType,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// `None` or `Some(0)`: start with the current state as ADDED events.
    pub resource_version: Option<u64>,
    pub send_initial_events: bool,
    pub bookmarks: bool,
    pub timeout: Duration,
    pub as_table: bool,
}

/// Bookmarks come far more often than on a real server (about a minute) so tests see them quickly.
const BOOKMARK_EVERY: Duration = Duration::from_secs(1);

struct Filter<'a> {
    req: &'a WatchRequest,
}

impl Filter<'_> {
    fn in_scope(&self, e: &WatchEvent) -> bool {
        std::ptr::eq(e.kind, self.req.rt)
            && self
                .req
                .namespace
                .as_deref()
                .is_none_or(|ns| namespace_of(&e.object) == Some(ns))
    }

    fn selects(&self, obj: &Value) -> bool {
        self.req.labels.matches(obj) && self.req.fields.matches(obj)
    }

    /// The event a watcher with selectors sees, if any.
    fn translate(&self, e: &WatchEvent) -> Option<(&'static str, Value)> {
        if !self.in_scope(e) {
            return None;
        }
        let now = self.selects(&e.object);
        let before = e.previous.as_ref().is_some_and(|p| self.selects(p));
        match e.event {
            WatchEventType::Added => now.then(|| ("ADDED", e.object.clone())),
            WatchEventType::Deleted => (now || before).then(|| ("DELETED", e.object.clone())),
            WatchEventType::Modified => match (before, now) {
                (true, true) => Some(("MODIFIED", e.object.clone())),
                (false, true) => Some(("ADDED", e.object.clone())),
                (true, false) => Some(("DELETED", e.object.clone())),
                (false, false) => None,
            },
        }
    }
}

fn line(req: &WatchRequest, kind: &str, object: Value) -> Bytes {
    let object = if req.as_table && kind != "ERROR" && kind != "BOOKMARK" {
        table::single(req.rt, &object)
    } else {
        object
    };
    let mut v = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn bookmark(req: &WatchRequest, rv: u64, initial_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": req.rt.kind, "apiVersion": req.rt.api_version(), "metadata": meta})
}

pub fn serve(store: Arc<Store>, req: WatchRequest) -> Resp {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    tokio::spawn(run(store, req, tx));
    body::stream(rx)
}

async fn run(store: Arc<Store>, req: WatchRequest, tx: mpsc::Sender<Bytes>) {
    let filter = Filter { req: &req };
    let (initial, mut last_rv, mut live): (Vec<Value>, u64, broadcast::Receiver<WatchEvent>) =
        match req
            .resource_version
            .filter(|rv| *rv != 0 && !req.send_initial_events)
        {
            Some(rv) => match store.watch_from(rv) {
                Ok((past, now, live)) => {
                    for e in past {
                        if let Some((kind, obj)) = filter.translate(&e) {
                            if tx.send(line(&req, kind, obj)).await.is_err() {
                                return;
                            }
                        }
                    }
                    (Vec::new(), now.max(rv), live)
                }
                Err(e) => {
                    let _ = tx.send(line(&req, "ERROR", e.to_status())).await;
                    return;
                }
            },
            None => {
                let (items, rv, live) =
                    store.snapshot_and_subscribe(req.rt, req.namespace.as_deref());
                (items, rv, live)
            }
        };
    for obj in initial.into_iter().filter(|o| filter.selects(o)) {
        if tx.send(line(&req, "ADDED", obj)).await.is_err() {
            return;
        }
    }
    if req.send_initial_events
        && tx
            .send(line(&req, "BOOKMARK", bookmark(&req, last_rv, true)))
            .await
            .is_err()
    {
        return;
    }
    let deadline = tokio::time::sleep(req.timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = &mut deadline => return,
            _ = tx.closed() => return,
            _ = ticker.tick(), if req.bookmarks => {
                if tx.send(line(&req, "BOOKMARK", bookmark(&req, last_rv, false))).await.is_err() {
                    return;
                }
            }
            ev = live.recv() => match ev {
                Ok(e) => {
                    let rv = e.resource_version();
                    if rv <= last_rv {
                        continue;
                    }
                    last_rv = rv;
                    if let Some((kind, obj)) = filter.translate(&e) {
                        if tx.send(line(&req, kind, obj)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // The watcher fell too far behind: like a compacted etcd, make it re-list.
                    let e = ApiError::gone("watch fell behind; too old resource version");
                    let _ = tx.send(line(&req, "ERROR", e.to_status())).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
