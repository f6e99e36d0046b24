//! One emulated cluster's object store: the API server's persistence and rules
//! (resourceVersion, uid, generation, timestamps, finalizers, owner-reference GC, watch events).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::clocktime::now_rfc3339;
use crate::{defaults, validate};

mod kinds;

pub use crate::error::{ApiError, Cause};
pub use crate::resources::{
    resource_type, resource_type_in, resource_type_of_kind, ResourceType, RESOURCE_TYPES,
};

/// How many past events a watch can resume from before it gets 410 Gone.
const HISTORY_LEN: usize = 20_000;
const CHANNEL_LEN: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
}

impl WatchEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEventType::Added => "ADDED",
            WatchEventType::Modified => "MODIFIED",
            WatchEventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub kind: &'static ResourceType,
    pub event: WatchEventType,
    pub object: Value,
    /// The object before this event (None for Added), so label-selected watches can
    /// turn "stopped matching" into DELETED as the real server does.
    pub previous: Option<Value>,
}

impl WatchEvent {
    pub fn resource_version(&self) -> u64 {
        resource_version_of(&self.object)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// The type's default (Background for most, Orphan for batch/v1 Jobs like the real server).
    #[default]
    Default,
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Background" => Some(Self::Background),
            "Foreground" => Some(Self::Foreground),
            "Orphan" => Some(Self::Orphan),
            _ => None,
        }
    }
}

/// Options of a write that come from the request rather than the object.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
}

/// What a delete did.
#[derive(Debug, Clone)]
pub enum Deleted {
    /// The object is gone; this is its last state.
    Removed(Value),
    /// Finalizers hold it; it now has a deletionTimestamp.
    Terminating(Value),
}

impl Deleted {
    pub fn object(&self) -> &Value {
        match self {
            Deleted::Removed(v) | Deleted::Terminating(v) => v,
        }
    }
}

type Key = (String, String);

struct Inner {
    rv: u64,
    objects: HashMap<&'static str, BTreeMap<Key, Value>>,
    history: VecDeque<WatchEvent>,
    /// Watches asking for a resourceVersion older than this get 410 Gone.
    oldest_resumable_rv: u64,
    rng: u64,
    next_cluster_ip: u32,
}

pub struct Store {
    inner: Mutex<Inner>,
    events: broadcast::Sender<WatchEvent>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(0)
    }
}

/// Kinds are unique in the table, so they key the per-type tables.
fn key_of(rt: &ResourceType) -> &'static str {
    table_entry(rt).kind
}

fn table_entry(rt: &ResourceType) -> &'static ResourceType {
    RESOURCE_TYPES
        .iter()
        .find(|t| t.group == rt.group && t.plural == rt.plural)
        .expect("resource type from the table")
}

pub fn resource_version_of(obj: &Value) -> u64 {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn namespace_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/namespace").and_then(Value::as_str)
}

pub fn uid_of(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn finalizers_of(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn is_terminating(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// The parts of an object whose change bumps `metadata.generation`: everything but metadata and status.
fn spec_part(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    o
}

impl Store {
    /// A fresh, empty store; `seed` makes uids and allocated IPs reproducible.
    pub fn new(seed: u64) -> Store {
        let (events, _) = broadcast::channel(CHANNEL_LEN);
        Store {
            inner: Mutex::new(Inner {
                rv: 1,
                objects: HashMap::new(),
                history: VecDeque::new(),
                oldest_resumable_rv: 1,
                rng: seed ^ 0x9E37_79B9_7F4A_7C15,
                next_cluster_ip: 1,
            }),
            events,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current (global) resourceVersion, as a list would report it.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Option<Value> {
        let inner = self.lock();
        inner.get(rt, ns, name).cloned()
    }

    /// All objects of a type, in one namespace or (with `None`) in all; ordered by namespace and name.
    pub fn list(&self, rt: &ResourceType, ns: Option<&str>) -> Vec<Value> {
        self.list_with_rv(rt, ns).0
    }

    /// Like `list`, plus the resourceVersion the list is consistent with.
    pub fn list_with_rv(&self, rt: &ResourceType, ns: Option<&str>) -> (Vec<Value>, u64) {
        let inner = self.lock();
        (inner.items(rt, ns), inner.rv)
    }

    pub fn create(&self, rt: &ResourceType, obj: Value) -> Result<Value, ApiError> {
        self.create_with(rt, obj, &WriteOptions::default())
    }

    pub fn create_with(
        &self,
        rt: &ResourceType,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let rt = table_entry(rt);
        let mut inner = self.lock();
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not a JSON object",
            ));
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        let meta = obj["metadata"].as_object_mut().expect("metadata object");
        if meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            if let Some(prefix) = meta
                .get("generateName")
                .and_then(Value::as_str)
                .map(String::from)
            {
                let suffix = inner.random_suffix();
                meta.insert("name".into(), json!(format!("{prefix}{suffix}")));
            }
        }
        if !rt.namespaced {
            meta.remove("namespace");
        } else if meta
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            meta.insert("namespace".into(), json!("default"));
        }
        if meta
            .get("resourceVersion")
            .is_some_and(|v| !v.is_null() && v != "")
        {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let name = name_of(&obj).to_string();
        let ns = namespace_of(&obj).map(String::from);

        let kind = kinds::of(rt);
        defaults::apply(rt, &mut obj, None);
        kind.admit_create(&mut obj, &inner);
        validate::object(rt, &obj, None)?;

        if let Some(ns) = &ns {
            match inner.get(resource_type("namespaces").expect("namespaces"), None, ns) {
                None => {
                    return Err(ApiError::not_found("", "namespaces", ns));
                }
                Some(n) if is_terminating(n) => {
                    return Err(ApiError {
                        details: Some(Box::new(("".into(), "namespaces".into(), ns.clone()))),
                        ..ApiError::forbidden(format!(
                            "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                            rt.qualified()
                        ))
                    });
                }
                _ => {}
            }
        }
        if inner.get(rt, ns.as_deref(), &name).is_some() {
            return Err(ApiError::already_exists(rt.group, rt.plural, &name));
        }
        kind.allocate(&mut obj, &mut inner, opts.dry_run)?;
        if rt.has_status() {
            obj["status"] = defaults::initial_status(rt, &obj);
        }
        let uid = inner.uid();
        obj["metadata"]["uid"] = json!(uid);
        kind.default_with_uid(&mut obj);
        let meta = obj["metadata"].as_object_mut().expect("metadata object");
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        if kind.tracks_generation() {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        if opts.dry_run {
            return Ok(obj);
        }
        Ok(inner.store_and_notify(&self.events, rt, obj, WatchEventType::Added))
    }

    /// Replaces an object; status changes are ignored for types with a status subresource.
    pub fn update(&self, rt: &ResourceType, obj: Value) -> Result<Value, ApiError> {
        self.update_with(rt, obj, &WriteOptions::default())
    }

    pub fn update_with(
        &self,
        rt: &ResourceType,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.write(rt, obj, opts, false)
    }

    /// Changes only `.status` (the `/status` subresource).
    pub fn update_status(&self, rt: &ResourceType, obj: Value) -> Result<Value, ApiError> {
        self.update_status_with(rt, obj, &WriteOptions::default())
    }

    pub fn update_status_with(
        &self,
        rt: &ResourceType,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.write(rt, obj, opts, true)
    }

    fn write(
        &self,
        rt: &ResourceType,
        mut obj: Value,
        opts: &WriteOptions,
        status_only: bool,
    ) -> Result<Value, ApiError> {
        let rt = table_entry(rt);
        let mut inner = self.lock();
        if !obj.is_object() || !obj["metadata"].is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not an object with metadata",
            ));
        }
        let name = name_of(&obj).to_string();
        let ns = if rt.namespaced {
            Some(namespace_of(&obj).unwrap_or("default").to_string())
        } else {
            None
        };
        let Some(old) = inner.get(rt, ns.as_deref(), &name).cloned() else {
            return Err(ApiError::not_found(rt.group, rt.plural, &name));
        };
        let given_rv = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !given_rv.is_empty() && given_rv != old["metadata"]["resourceVersion"] {
            return Err(ApiError::conflict(
                rt.group,
                rt.plural,
                &name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        if status_only {
            let status = obj.get("status").cloned().unwrap_or(Value::Null);
            let mut merged = old.clone();
            merged["status"] = status;
            obj = merged;
        } else {
            if rt.has_status() {
                obj["status"] = old.get("status").cloned().unwrap_or(Value::Null);
            }
            defaults::apply(rt, &mut obj, Some(&old));
            validate::object(rt, &obj, Some(&old))?;
            kinds::of(rt).admit_update(&obj, &old, &inner)?;
        }
        {
            // Fields only the server sets keep their stored values.
            let meta = obj["metadata"].as_object_mut().expect("metadata object");
            if rt.namespaced {
                meta.insert("namespace".into(), json!(ns));
            }
            for k in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match old["metadata"].get(k) {
                    Some(v) => meta.insert(k.into(), v.clone()),
                    None => meta.remove(k),
                };
            }
        }
        if is_terminating(&old) {
            let old_f = finalizers_of(&old);
            if let Some(new_f) = finalizers_of(&obj).iter().find(|f| !old_f.contains(f)) {
                return Err(ApiError::forbidden(format!(
                    "{} \"{name}\" is forbidden: no new finalizers can be added if the object is being deleted, found new finalizers [\"{new_f}\"]",
                    rt.qualified()
                )));
            }
        }
        if kinds::of(rt).tracks_generation() && spec_part(&obj) != spec_part(&old) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(1);
            obj["metadata"]["generation"] = json!(g + 1);
        }
        if obj.get("status") == Some(&Value::Null) && old.get("status").is_none_or(|s| s.is_null())
        {
            obj.as_object_mut().expect("object").remove("status");
        }
        // A no-op write keeps the resourceVersion and sends no event, as on a real server.
        let mut unchanged = obj.clone();
        unchanged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if unchanged == old {
            return Ok(old);
        }
        if opts.dry_run {
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
            return Ok(obj);
        }
        if is_terminating(&obj)
            && finalizers_of(&obj).is_empty()
            && !kinds::of(rt).held_on_delete(&obj)
        {
            let removed =
                inner.remove_and_notify(&self.events, rt, ns.as_deref(), &name, Some(obj));
            inner.collect_garbage(&self.events, &removed, Propagation::Background);
            return Ok(removed);
        }
        Ok(inner.store_and_notify(&self.events, rt, obj, WatchEventType::Modified))
    }

    /// Deletes an object. `Ok(Some(obj))`: finalizers hold it, it is terminating;
    /// `Ok(None)`: it is gone.
    pub fn delete(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        propagation: Propagation,
    ) -> Result<Option<Value>, ApiError> {
        match self.delete_with(rt, ns, name, propagation, None, &WriteOptions::default())? {
            Deleted::Removed(_) => Ok(None),
            Deleted::Terminating(v) => Ok(Some(v)),
        }
    }

    /// Deletes with preconditions (`uid`/`resourceVersion`) and dry-run.
    pub fn delete_with(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        propagation: Propagation,
        precondition: Option<(&str, &str)>,
        opts: &WriteOptions,
    ) -> Result<Deleted, ApiError> {
        let rt = table_entry(rt);
        let mut inner = self.lock();
        let ns = if rt.namespaced {
            Some(ns.unwrap_or("default"))
        } else {
            None
        };
        let Some(old) = inner.get(rt, ns, name).cloned() else {
            return Err(ApiError::not_found(rt.group, rt.plural, name));
        };
        if let Some((uid, rv)) = precondition {
            if !uid.is_empty() && uid != uid_of(&old) {
                return Err(ApiError::conflict(
                    rt.group,
                    rt.plural,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        uid_of(&old)
                    ),
                ));
            }
            if !rv.is_empty() && rv != old["metadata"]["resourceVersion"] {
                return Err(ApiError::conflict(rt.group, rt.plural, name, &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    old["metadata"]["resourceVersion"].as_str().unwrap_or(""))));
            }
        }
        let kind = kinds::of(rt);
        let propagation = match propagation {
            Propagation::Default => kind.default_propagation(),
            p => p,
        };
        let mut obj = old.clone();
        let mut finalizers = finalizers_of(&old);
        if propagation == Propagation::Foreground
            && inner.has_dependents(uid_of(&old))
            && !finalizers.contains(&"foregroundDeletion".to_string())
        {
            finalizers.push("foregroundDeletion".into());
        }
        if propagation == Propagation::Orphan
            && !finalizers.contains(&"orphan".to_string())
            && inner.has_dependents(uid_of(&old))
        {
            // The orphan finalizer is handled inline: dependents lose their owner reference first.
            if !opts.dry_run {
                inner.orphan_dependents(&self.events, uid_of(&old));
            }
        }
        if !finalizers.is_empty() || kind.held_on_delete(&old) {
            if !is_terminating(&old) {
                obj["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
                if let Some(grace) = kind.deletion_grace_period() {
                    obj["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
                }
            }
            if !finalizers.is_empty() || old["metadata"].get("finalizers").is_some() {
                obj["metadata"]["finalizers"] = json!(finalizers);
            }
            kind.mark_terminating(&mut obj);
            if opts.dry_run || obj == old {
                return Ok(Deleted::Terminating(obj));
            }
            let stored = inner.store_and_notify(&self.events, rt, obj, WatchEventType::Modified);
            if propagation == Propagation::Foreground {
                let uid = uid_of(&stored).to_string();
                inner.delete_dependents(&self.events, &uid, Propagation::Foreground);
                inner.finish_foreground(&self.events);
                if let Some(now) = inner.get(rt, ns, name).cloned() {
                    return Ok(Deleted::Terminating(now));
                }
                return Ok(Deleted::Removed(stored));
            }
            return Ok(Deleted::Terminating(stored));
        }
        if opts.dry_run {
            return Ok(Deleted::Removed(obj));
        }
        let removed = inner.remove_and_notify(&self.events, rt, ns, name, None);
        inner.collect_garbage(&self.events, &removed, propagation);
        Ok(Deleted::Removed(removed))
    }

    /// Keeps `obj` as another API server holds it (attached mode, `attach/mirror.rs`): no defaulting, validation,
    /// admission or garbage collection, which that server did; only the resourceVersion is this store's, so that
    /// its watchers see one increasing sequence. Unchanged objects are not written again.
    pub fn mirror_upsert(&self, rt: &ResourceType, mut obj: Value) {
        let rt = table_entry(rt);
        let mut inner = self.lock();
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        let ns = if rt.namespaced {
            namespace_of(&obj)
        } else {
            None
        };
        let existing = inner.get(rt, ns, name_of(&obj)).cloned();
        let event = match existing {
            Some(mut old) => {
                old["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"].clone();
                if old == obj {
                    return;
                }
                WatchEventType::Modified
            }
            None => WatchEventType::Added,
        };
        inner.store_and_notify(&self.events, rt, obj, event);
    }

    /// Forgets an object the other API server no longer holds (attached mode).
    pub fn mirror_remove(&self, rt: &ResourceType, ns: Option<&str>, name: &str) {
        let rt = table_entry(rt);
        let mut inner = self.lock();
        let ns = if rt.namespaced { ns } else { None };
        if inner.get(rt, ns, name).is_some() {
            inner.remove_and_notify(&self.events, rt, ns, name, None);
        }
    }

    /// The names (namespace, name) of every object of a type, for a mirror to find what went while it was away.
    pub fn keys(&self, rt: &ResourceType) -> Vec<(Option<String>, String)> {
        let rt = table_entry(rt);
        self.lock()
            .items(rt, None)
            .iter()
            .map(|o| (namespace_of(o).map(String::from), name_of(o).to_string()))
            .collect()
    }

    /// Every write from now on, as events.
    pub fn subscribe(&self) -> broadcast::Receiver<WatchEvent> {
        self.events.subscribe()
    }

    /// Events after `rv` still in history, and a receiver for later ones, taken atomically.
    /// 410 Gone when `rv` is older than the history kept.
    #[allow(clippy::type_complexity)]
    pub fn watch_from(
        &self,
        rv: u64,
    ) -> Result<(Vec<WatchEvent>, u64, broadcast::Receiver<WatchEvent>), ApiError> {
        let inner = self.lock();
        if rv < inner.oldest_resumable_rv {
            return Err(ApiError::gone(format!(
                "too old resource version: {rv} ({})",
                inner.oldest_resumable_rv
            )));
        }
        let past = inner
            .history
            .iter()
            .filter(|e| e.resource_version() > rv)
            .cloned()
            .collect();
        Ok((past, inner.rv, self.events.subscribe()))
    }

    /// The current objects of a type and a receiver for every later write, taken atomically.
    pub fn snapshot_and_subscribe(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
    ) -> (Vec<Value>, u64, broadcast::Receiver<WatchEvent>) {
        let inner = self.lock();
        (inner.items(rt, ns), inner.rv, self.events.subscribe())
    }

    /// Forgets watch history, as etcd compaction does: older resourceVersions then get 410 Gone.
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.oldest_resumable_rv = inner.rv;
    }
}

impl Inner {
    fn table(&self, rt: &ResourceType) -> Option<&BTreeMap<Key, Value>> {
        self.objects.get(key_of(rt))
    }

    /// The objects of a type, in one namespace or (with `None`) in all.
    fn items(&self, rt: &ResourceType, ns: Option<&str>) -> Vec<Value> {
        self.table(rt)
            .map(|t| {
                t.iter()
                    .filter(|((ons, _), _)| ns.is_none_or(|n| !rt.namespaced || ons == n))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn get(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Option<&Value> {
        let ns = if rt.namespaced {
            ns.unwrap_or("default")
        } else {
            ""
        };
        self.table(rt)?.get(&(ns.to_string(), name.to_string()))
    }

    fn storage_classes(&self) -> Vec<Value> {
        let rt = resource_type("storageclasses").expect("storageclasses");
        self.table(rt)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    fn storage_class(&self, name: &str) -> Option<Value> {
        let rt = resource_type("storageclasses").expect("storageclasses");
        self.get(rt, None, name).cloned()
    }

    fn next_random(&mut self) -> u64 {
        // splitmix64: reproducible from the seed, no dependency.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uid(&mut self) -> String {
        let a = self.next_random();
        let b = self.next_random();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    fn random_suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut r = self.next_random();
        (0..5)
            .map(|_| {
                let c = ALPHABET[(r % ALPHABET.len() as u64) as usize] as char;
                r /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }

    fn cluster_ip_in_use(&self, ip: &str) -> bool {
        let services = resource_type("services").expect("services type");
        self.table(services)
            .is_some_and(|t| t.values().any(|s| s["spec"]["clusterIP"] == ip))
    }

    fn allocate_cluster_ip(&mut self, obj: &mut Value, dry_run: bool) -> Result<(), ApiError> {
        let svc_type = obj
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string();
        if svc_type == "ExternalName" {
            return Ok(());
        }
        let wanted = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if wanted == "None" {
            obj["spec"]["clusterIPs"] = json!(["None"]);
            return Ok(());
        }
        let ip = if wanted.is_empty() {
            // 10.96.0.0/12 like kubeadm; .10 is what kube-dns usually gets, so start after it.
            let mut n = self.next_cluster_ip + 10;
            let mut candidate = format!("10.96.{}.{}", n / 254, n % 254 + 1);
            while self.cluster_ip_in_use(&candidate) {
                n += 1;
                candidate = format!("10.96.{}.{}", n / 254, n % 254 + 1);
            }
            if !dry_run {
                self.next_cluster_ip = n - 10 + 1;
            }
            candidate
        } else {
            if self.cluster_ip_in_use(&wanted) {
                return Err(ApiError::invalid(
                    "",
                    "Service",
                    name_of(obj),
                    vec![crate::error::cause(
                        "FieldValueInvalid",
                        "spec.clusterIPs",
                        format!("Invalid value: []string{{\"{wanted}\"}}: failed to allocate IP {wanted}: provided IP is already allocated"),
                    )],
                ));
            }
            wanted
        };
        obj["spec"]["clusterIP"] = json!(ip);
        obj["spec"]["clusterIPs"] = json!([ip]);
        if svc_type == "NodePort" || svc_type == "LoadBalancer" {
            if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
                for p in ports {
                    if p.get("nodePort").is_none_or(Value::is_null) {
                        let port = 30000 + (self.next_random() % 2768) as u32;
                        p["nodePort"] = json!(port);
                    }
                }
            }
        }
        Ok(())
    }

    fn store_and_notify(
        &mut self,
        tx: &broadcast::Sender<WatchEvent>,
        rt: &'static ResourceType,
        mut obj: Value,
        kind: WatchEventType,
    ) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let ns = if rt.namespaced {
            namespace_of(&obj).unwrap_or("default").to_string()
        } else {
            String::new()
        };
        let name = name_of(&obj).to_string();
        let previous = self
            .objects
            .entry(key_of(rt))
            .or_default()
            .insert((ns, name), obj.clone());
        self.record(
            tx,
            WatchEvent {
                kind: rt,
                event: kind,
                object: obj.clone(),
                previous,
            },
        );
        obj
    }

    fn remove_and_notify(
        &mut self,
        tx: &broadcast::Sender<WatchEvent>,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        last: Option<Value>,
    ) -> Value {
        let ns_key = if rt.namespaced {
            ns.unwrap_or("default").to_string()
        } else {
            String::new()
        };
        let removed = self
            .objects
            .get_mut(key_of(rt))
            .and_then(|t| t.remove(&(ns_key, name.to_string())))
            .unwrap_or(Value::Null);
        let mut obj = last.unwrap_or_else(|| removed.clone());
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(
            tx,
            WatchEvent {
                kind: rt,
                event: WatchEventType::Deleted,
                object: obj.clone(),
                previous: Some(removed),
            },
        );
        obj
    }

    fn record(&mut self, tx: &broadcast::Sender<WatchEvent>, event: WatchEvent) {
        if self.history.len() >= HISTORY_LEN {
            if let Some(old) = self.history.pop_front() {
                self.oldest_resumable_rv = old.resource_version();
            }
        }
        self.history.push_back(event.clone());
        let _ = tx.send(event);
    }

    fn dependents(&self, owner_uid: &str) -> Vec<(&'static ResourceType, Value)> {
        let mut out = Vec::new();
        for rt in RESOURCE_TYPES {
            if let Some(t) = self.table(rt) {
                for v in t.values() {
                    let owned = v
                        .pointer("/metadata/ownerReferences")
                        .and_then(Value::as_array)
                        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == owner_uid));
                    if owned {
                        out.push((rt, v.clone()));
                    }
                }
            }
        }
        out
    }

    fn has_dependents(&self, owner_uid: &str) -> bool {
        !self.dependents(owner_uid).is_empty()
    }

    fn uid_exists(&self, uid: &str) -> bool {
        self.objects
            .values()
            .any(|t| t.values().any(|v| uid_of(v) == uid))
    }

    fn orphan_dependents(&mut self, tx: &broadcast::Sender<WatchEvent>, owner_uid: &str) {
        for (rt, mut dep) in self.dependents(owner_uid) {
            if let Some(refs) = dep
                .pointer_mut("/metadata/ownerReferences")
                .and_then(Value::as_array_mut)
            {
                refs.retain(|r| r["uid"] != owner_uid);
                if refs.is_empty() {
                    dep["metadata"]
                        .as_object_mut()
                        .expect("metadata")
                        .remove("ownerReferences");
                }
            }
            self.store_and_notify(tx, rt, dep, WatchEventType::Modified);
        }
    }

    /// What the garbage collector does once an owner is gone.
    fn collect_garbage(
        &mut self,
        tx: &broadcast::Sender<WatchEvent>,
        removed: &Value,
        propagation: Propagation,
    ) {
        let uid = uid_of(removed).to_string();
        if propagation == Propagation::Orphan {
            self.orphan_dependents(tx, &uid);
            return;
        }
        self.delete_dependents(tx, &uid, Propagation::Background);
        self.finish_foreground(tx);
    }

    fn delete_dependents(
        &mut self,
        tx: &broadcast::Sender<WatchEvent>,
        owner_uid: &str,
        propagation: Propagation,
    ) {
        for (rt, dep) in self.dependents(owner_uid) {
            let all_owners_gone = dep
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| {
                    refs.iter().all(|r| {
                        r["uid"] == owner_uid || !self.uid_exists(r["uid"].as_str().unwrap_or(""))
                    })
                });
            if !all_owners_gone {
                continue;
            }
            let ns = namespace_of(&dep).map(String::from);
            let name = name_of(&dep).to_string();
            let mut finalizers = finalizers_of(&dep);
            if propagation == Propagation::Foreground
                && self.has_dependents(uid_of(&dep))
                && !finalizers.contains(&"foregroundDeletion".to_string())
            {
                finalizers.push("foregroundDeletion".into());
            }
            if !finalizers.is_empty() {
                if !is_terminating(&dep) || finalizers != finalizers_of(&dep) {
                    let mut d = dep.clone();
                    d["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
                    d["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                    d["metadata"]["finalizers"] = json!(finalizers);
                    self.store_and_notify(tx, rt, d, WatchEventType::Modified);
                }
                if propagation == Propagation::Foreground {
                    self.delete_dependents(tx, uid_of(&dep), propagation);
                }
                continue;
            }
            let removed = self.remove_and_notify(tx, rt, ns.as_deref(), &name, None);
            self.delete_dependents(
                tx,
                uid_of(&removed).to_string().as_str(),
                Propagation::Background,
            );
        }
    }

    /// Owners waiting in foreground deletion go once their last dependent has.
    fn finish_foreground(&mut self, tx: &broadcast::Sender<WatchEvent>) {
        loop {
            let mut waiting = None;
            'outer: for rt in RESOURCE_TYPES {
                if let Some(t) = self.table(rt) {
                    for v in t.values() {
                        if finalizers_of(v).iter().any(|f| f == "foregroundDeletion")
                            && !self.has_dependents(uid_of(v))
                        {
                            waiting = Some((rt, v.clone()));
                            break 'outer;
                        }
                    }
                }
            }
            let Some((rt, mut owner)) = waiting else {
                return;
            };
            let rest: Vec<String> = finalizers_of(&owner)
                .into_iter()
                .filter(|f| f != "foregroundDeletion")
                .collect();
            owner["metadata"]["finalizers"] = json!(rest);
            let ns = namespace_of(&owner).map(String::from);
            let name = name_of(&owner).to_string();
            if rest.is_empty() {
                owner["metadata"]
                    .as_object_mut()
                    .expect("metadata")
                    .remove("finalizers");
                let removed = self.remove_and_notify(tx, rt, ns.as_deref(), &name, Some(owner));
                self.delete_dependents(
                    tx,
                    uid_of(&removed).to_string().as_str(),
                    Propagation::Background,
                );
            } else {
                self.store_and_notify(tx, rt, owner, WatchEventType::Modified);
            }
        }
    }
}

#[cfg(test)]
mod mirror_tests {
    use super::*;

    /// A mirror keeps what the other server sent, tells its watchers once per change, and forgets what went.
    #[test]
    fn a_mirror_notifies_changes_only_and_keeps_the_object_as_sent() {
        let store = Store::new(1);
        let pods = resource_type("pods").unwrap();
        let mut events = store.subscribe();
        let pod = json!({"metadata": {"name": "p", "namespace": "n", "uid": "u-1", "resourceVersion": "77"},
                         "spec": {"nodeName": "a"}, "status": {"phase": "Running"}});
        store.mirror_upsert(pods, pod.clone());
        let kept = store.get(pods, Some("n"), "p").unwrap();
        assert_eq!(kept["metadata"]["uid"], "u-1", "the other server's uid");
        assert_eq!(
            kept["status"]["phase"], "Running",
            "no initial status of its own"
        );
        assert_ne!(
            kept["metadata"]["resourceVersion"], "77",
            "the store's own resourceVersion"
        );
        assert_eq!(events.try_recv().unwrap().event, WatchEventType::Added);

        // The same object again, with the other server's next resourceVersion only: nothing to tell.
        let mut again = pod.clone();
        again["metadata"]["resourceVersion"] = json!("78");
        store.mirror_upsert(pods, again);
        assert!(
            events.try_recv().is_err(),
            "an unchanged object is not written again"
        );

        let mut changed = pod;
        changed["status"]["phase"] = json!("Succeeded");
        store.mirror_upsert(pods, changed);
        assert_eq!(events.try_recv().unwrap().event, WatchEventType::Modified);
        assert_eq!(
            store.keys(pods),
            vec![(Some("n".to_string()), "p".to_string())]
        );

        store.mirror_remove(pods, Some("n"), "p");
        assert_eq!(events.try_recv().unwrap().event, WatchEventType::Deleted);
        assert!(store.get(pods, Some("n"), "p").is_none());
        store.mirror_remove(pods, Some("n"), "p");
        assert!(
            events.try_recv().is_err(),
            "removing what is gone tells nothing"
        );
    }
}
