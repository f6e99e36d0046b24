//! The verbs: get, list, watch, create, update, patch, delete, deletecollection, and the
//! status, scale and finalize subresources.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use serde_json::{json, Value};

use super::body::{self, Resp};
use super::managed;
use super::patch;
use super::query::Query;
use super::route::Target;
use super::selector::{FieldSelector, LabelSelector};
use super::table;
use super::watch::{self, WatchRequest};
use crate::defaults;
use crate::error::ApiError;
use crate::resources::ResourceType;
use crate::store::{name_of, Deleted, Propagation, Store, WriteOptions};

/// Where `pods/{name}/log` reads from: (namespace, pod) -> the pod's log text.
pub type LogSource = Arc<dyn Fn(&str, &str) -> String + Send + Sync>;

pub struct Request<'a> {
    pub store: &'a Arc<Store>,
    pub method: &'a http::Method,
    pub headers: &'a HeaderMap,
    pub query: Query,
    pub target: Target,
    pub body: bytes::Bytes,
    pub logs: Option<&'a LogSource>,
    /// `Warning` headers for the response (dropped unknown fields).
    pub warnings: std::sync::Mutex<Vec<String>>,
}

impl Request<'_> {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn wants_table(&self) -> bool {
        table::wants_table(self.header("accept"))
    }

    fn write_options(&self) -> Result<WriteOptions, ApiError> {
        match self.query.get("dryRun") {
            None => Ok(WriteOptions { dry_run: false }),
            Some("All") => Ok(WriteOptions { dry_run: true }),
            Some(other) => Err(ApiError::bad_request(format!(
                "Invalid dryRun: unsupported dry run value \"{other}\"; supported: \"All\""
            ))),
        }
    }

    /// The field manager: `fieldManager`, else the User-Agent's program name, as the real server derives it.
    fn manager(&self) -> String {
        if let Some(m) = self.query.get("fieldManager") {
            return m.to_string();
        }
        let ua = self.header("user-agent");
        let name = ua.split('/').next().unwrap_or("").trim();
        if name.is_empty() {
            "unknown".into()
        } else {
            name.to_string()
        }
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::bad_request(format!("the request body could not be decoded as JSON (YAML bodies are not supported by the sandbox): {e}"))
        })
    }

    fn ns(&self) -> Option<&str> {
        self.target.namespace.as_deref()
    }

    /// Handles fields the type does not declare as `fieldValidation` asks: dropped with a warning
    /// (the default), dropped silently (`Ignore`) or refused (`Strict`, the default for apply).
    fn check_unknown_fields(&self, obj: &mut Value, apply: bool) -> Result<(), ApiError> {
        let rt = self.target.rt;
        let mode =
            self.query
                .get("fieldValidation")
                .unwrap_or(if apply { "Strict" } else { "Warn" });
        if !matches!(mode, "Ignore" | "Warn" | "Strict") {
            return Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: \"{mode}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            )));
        }
        let mut pruned = obj.clone();
        let found = super::known_fields::prune(rt.kind, &mut pruned);
        if found.is_empty() {
            return Ok(());
        }
        if mode == "Strict" {
            let message = if apply {
                format!(
                    "failed to create typed patch object ({}, Kind={}): .{}: field not declared in schema",
                    rt.api_version(),
                    rt.kind,
                    found[0]
                )
            } else {
                let list: Vec<String> = found
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                format!("strict decoding error: {}", list.join(", "))
            };
            return Err(ApiError::bad_request(message));
        }
        if mode == "Warn" {
            self.warnings
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(found.iter().map(|f| format!("unknown field \"{f}\"")));
        }
        *obj = pruned;
        Ok(())
    }
}

pub async fn handle(req: Request<'_>) -> Resp {
    let mut resp = match dispatch(&req).await {
        Ok(resp) => resp,
        Err(e) => body::error(&e),
    };
    let warnings = std::mem::take(&mut *req.warnings.lock().unwrap_or_else(|p| p.into_inner()));
    for w in warnings.iter() {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = http::HeaderValue::from_str(&text) {
            resp.headers_mut().append("warning", v);
        }
    }
    resp
}

async fn dispatch(req: &Request<'_>) -> Result<Resp, ApiError> {
    let t = &req.target;
    let sub = t.subresource.as_deref();
    if let Some(s) = sub {
        if s == "log" && t.rt.kind == "Pod" && req.method == http::Method::GET {
            return pod_log(req, t.name.as_deref().unwrap_or(""));
        }
        let allowed = (s == "status" && t.rt.has_status())
            || (s == "scale" && t.rt.has_scale())
            || (s == "finalize" && t.rt.kind == "Namespace");
        if !allowed {
            return Err(ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ));
        }
    }
    match (req.method.as_str(), t.name.as_deref()) {
        ("GET", None) if req.query.flag("watch") => watch(req),
        ("GET", None) => list(req),
        ("GET", Some(name)) => get(req, name),
        ("POST", None) => create(req),
        ("PUT", Some(name)) => update(req, name),
        ("PATCH", Some(name)) => patch_object(req, name),
        ("DELETE", Some(name)) => delete(req, name),
        ("DELETE", None) => delete_collection(req),
        (m, _) => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: {m}"
        ))),
    }
}

/// `pods/{name}/log`: the container must be named when the pod has several, as on a real server.
fn pod_log(req: &Request<'_>, name: &str) -> Result<Resp, ApiError> {
    let rt = req.target.rt;
    let pod = req
        .store
        .get(rt, req.ns(), name)
        .ok_or_else(|| not_found(rt, name))?;
    let containers: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    match req.query.get("container") {
        Some(c) if !containers.contains(&c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if containers.len() > 1 => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
        _ => {}
    }
    let text = req
        .logs
        .map(|source| source(req.ns().unwrap_or("default"), name))
        .unwrap_or_default();
    let text = match req.query.number("tailLines") {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(n as usize);
            lines[start..].iter().map(|l| format!("{l}\n")).collect()
        }
        None => text,
    };
    let mut resp = body::json(200, &Value::Null);
    *resp.body_mut() = body::ResponseBody::Full(Some(bytes::Bytes::from(text)));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    Ok(resp)
}

fn not_found(rt: &ResourceType, name: &str) -> ApiError {
    ApiError::not_found(rt.group, rt.plural, name)
}

fn selectors(req: &Request<'_>) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(req.query.get("labelSelector").unwrap_or(""))?;
    let fields = FieldSelector::parse(req.query.get("fieldSelector").unwrap_or(""))?;
    Ok((labels, fields))
}

fn list_item(mut obj: Value) -> Value {
    // A real server's list items carry no apiVersion/kind; clients must not rely on them.
    if let Some(m) = obj.as_object_mut() {
        m.remove("apiVersion");
        m.remove("kind");
    }
    obj
}

fn list(req: &Request<'_>) -> Result<Resp, ApiError> {
    let rt = req.target.rt;
    let (labels, fields) = selectors(req)?;
    let (items, rv) = req.store.list_with_rv(rt, req.ns());
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .collect();
    // Continue tokens name the last key served (opaque to clients, like the real ones), so
    // objects created or deleted between pages neither repeat nor shift later items.
    let key = |o: &Value| {
        (
            o["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            name_of(o).to_string(),
        )
    };
    if let Some(token) = req.query.get("continue") {
        let last = decode_continue(token)?;
        items.retain(|o| key(o) > last);
    }
    let mut cont = None;
    let mut remaining = None;
    if let Some(limit) = req.query.number("limit").filter(|l| *l > 0) {
        let limit = limit as usize;
        if items.len() > limit {
            remaining = Some(items.len() - limit);
            items.truncate(limit);
            cont = items.last().map(|o| encode_continue(&key(o)));
        }
    }
    if req.wants_table() {
        return Ok(body::json_with_type(
            200,
            &table::table(rt, &items, rv, cont.as_deref()),
            "application/json",
        ));
    }
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
        meta["remainingItemCount"] = json!(remaining);
    }
    let items: Vec<Value> = items.into_iter().map(list_item).collect();
    Ok(body::json(
        200,
        &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": meta, "items": items}),
    ))
}

fn encode_continue((ns, name): &(String, String)) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&json!([ns, name])).unwrap_or_default())
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    use base64::Engine;
    let invalid = || {
        ApiError::bad_request(
            "continue key is not valid: the continue token was not issued by this server",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let (ns, name): (String, String) = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    Ok((ns, name))
}

fn watch(req: &Request<'_>) -> Result<Resp, ApiError> {
    let (labels, fields) = selectors(req)?;
    let resource_version = match req.query.get("resourceVersion") {
        None => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version \"{s}\"")))?,
        ),
    };
    let timeout = Duration::from_secs(req.query.number("timeoutSeconds").unwrap_or(1800));
    Ok(watch::serve(
        req.store.clone(),
        WatchRequest {
            rt: req.target.rt,
            namespace: req.target.namespace.clone(),
            labels,
            fields,
            resource_version,
            send_initial_events: req.query.flag("sendInitialEvents"),
            bookmarks: req.query.flag("allowWatchBookmarks"),
            timeout,
            as_table: req.wants_table(),
        },
    ))
}

fn scale_of(rt: &ResourceType, obj: &Value) -> Value {
    let selector = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let _ = rt;
    let meta = &obj["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

fn get(req: &Request<'_>, name: &str) -> Result<Resp, ApiError> {
    let rt = req.target.rt;
    let obj = req
        .store
        .get(rt, req.ns(), name)
        .ok_or_else(|| not_found(rt, name))?;
    if req.target.subresource.as_deref() == Some("scale") {
        return Ok(body::json(200, &scale_of(rt, &obj)));
    }
    if req.wants_table() {
        return Ok(body::json(200, &table::single(rt, &obj)));
    }
    Ok(body::json(200, &obj))
}

/// Puts the URL's namespace on the object, refusing a different one in the body.
fn check_namespace(req: &Request<'_>, obj: &mut Value) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    if let Some(ns) = req.ns() {
        match obj["metadata"]["namespace"].as_str() {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
            _ => obj["metadata"]["namespace"] = json!(ns),
        }
    }
    Ok(())
}

fn check_kind(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let api_version = obj["apiVersion"].as_str().unwrap_or("");
    let kind = obj["kind"].as_str().unwrap_or("");
    if (!api_version.is_empty() && api_version != rt.api_version())
        || (!kind.is_empty() && kind != rt.kind)
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    Ok(())
}

fn create(req: &Request<'_>) -> Result<Resp, ApiError> {
    let rt = req.target.rt;
    if req.target.subresource.is_some() {
        return Err(ApiError::method_not_allowed(
            "create is not allowed on subresources",
        ));
    }
    let mut obj = req.json_body()?;
    check_kind(rt, &obj)?;
    check_namespace(req, &mut obj)?;
    req.check_unknown_fields(&mut obj, false)?;
    obj["apiVersion"] = json!(rt.api_version());
    obj["kind"] = json!(rt.kind);
    defaults::apply(rt, &mut obj, None);
    if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    managed::record_update(
        rt.kind,
        &rt.api_version(),
        None,
        &mut obj,
        &req.manager(),
        None,
    );
    let created = req.store.create_with(rt, obj, &req.write_options()?)?;
    Ok(body::json(201, &created))
}

fn name_matches(name: &str, obj: &Value) -> Result<(), ApiError> {
    let body_name = name_of(obj);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    Ok(())
}

fn update(req: &Request<'_>, name: &str) -> Result<Resp, ApiError> {
    let rt = req.target.rt;
    let opts = req.write_options()?;
    let mut obj = req.json_body()?;
    check_kind(rt, &obj)?;
    check_namespace(req, &mut obj)?;
    name_matches(name, &obj)?;
    obj["metadata"]["name"] = json!(name);
    let old = req
        .store
        .get(rt, req.ns(), name)
        .ok_or_else(|| not_found(rt, name))?;
    let stored = match req.target.subresource.as_deref() {
        Some("scale") => {
            let mut next = old.clone();
            next["spec"]["replicas"] = obj["spec"]["replicas"].clone();
            next["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"].clone();
            managed::record_update(
                rt.kind,
                &rt.api_version(),
                Some(&old),
                &mut next,
                &req.manager(),
                Some("scale"),
            );
            let stored = req.store.update_with(rt, next, &opts)?;
            return Ok(body::json(200, &scale_of(rt, &stored)));
        }
        Some("status") => {
            let mut next = old.clone();
            next["status"] = obj["status"].clone();
            next["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"].clone();
            managed::record_update(
                rt.kind,
                &rt.api_version(),
                Some(&old),
                &mut next,
                &req.manager(),
                Some("status"),
            );
            req.store.update_status_with(rt, next, &opts)?
        }
        Some("finalize") => {
            let mut next = old.clone();
            next["spec"]["finalizers"] = obj["spec"]["finalizers"].clone();
            req.store.update_with(rt, next, &opts)?
        }
        _ => {
            req.check_unknown_fields(&mut obj, false)?;
            defaults::apply(rt, &mut obj, Some(&old));
            if obj["metadata"]
                .get("managedFields")
                .is_none_or(Value::is_null)
            {
                obj["metadata"]["managedFields"] = old["metadata"]["managedFields"].clone();
            }
            managed::record_update(
                rt.kind,
                &rt.api_version(),
                Some(&old),
                &mut obj,
                &req.manager(),
                None,
            );
            req.store.update_with(rt, obj, &opts)?
        }
    };
    Ok(body::json(200, &stored))
}

fn patch_object(req: &Request<'_>, name: &str) -> Result<Resp, ApiError> {
    let rt = req.target.rt;
    let opts = req.write_options()?;
    let content_type = req
        .header("content-type")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let patch_body = req.json_body()?;
    let sub = req.target.subresource.as_deref();
    if content_type == "application/apply-patch+yaml" {
        return apply(req, name, &patch_body, &opts);
    }
    let explicit_rv = patch_body
        .pointer("/metadata/resourceVersion")
        .is_some_and(|v| !v.is_null());
    // Retry on write races, like the server's own optimistic-concurrency loop.
    for _ in 0..16 {
        let old = req
            .store
            .get(rt, req.ns(), name)
            .ok_or_else(|| not_found(rt, name))?;
        let base = if sub == Some("scale") {
            scale_of(rt, &old)
        } else {
            old.clone()
        };
        let mut patched = base.clone();
        match content_type.as_str() {
            "application/merge-patch+json" => patch::merge_patch(&mut patched, &patch_body),
            "application/json-patch+json" => patch::json_patch(&mut patched, &patch_body)?,
            "application/strategic-merge-patch+json" => {
                let kind = if sub == Some("scale") { "Scale" } else { rt.kind };
                patch::strategic_merge_patch(kind, &mut patched, &patch_body)?
            }
            other => {
                return Err(ApiError::unsupported_media_type(format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other})"
                )))
            }
        }
        if name_of(&patched) != name {
            return Err(ApiError::bad_request(
                "the name of the object cannot be changed by a patch",
            ));
        }
        let result = match sub {
            Some("scale") => {
                let mut next = old.clone();
                next["spec"]["replicas"] = patched["spec"]["replicas"].clone();
                next["metadata"]["resourceVersion"] =
                    patched["metadata"]["resourceVersion"].clone();
                managed::record_update(
                    rt.kind,
                    &rt.api_version(),
                    Some(&old),
                    &mut next,
                    &req.manager(),
                    Some("scale"),
                );
                req.store
                    .update_with(rt, next, &opts)
                    .map(|s| scale_of(rt, &s))
            }
            Some("status") => {
                managed::record_update(
                    rt.kind,
                    &rt.api_version(),
                    Some(&old),
                    &mut patched,
                    &req.manager(),
                    Some("status"),
                );
                req.store.update_status_with(rt, patched, &opts)
            }
            _ => {
                req.check_unknown_fields(&mut patched, false)?;
                defaults::apply(rt, &mut patched, Some(&old));
                managed::record_update(
                    rt.kind,
                    &rt.api_version(),
                    Some(&old),
                    &mut patched,
                    &req.manager(),
                    None,
                );
                req.store.update_with(rt, patched, &opts)
            }
        };
        match result {
            Err(e) if e.reason == "Conflict" && !explicit_rv => continue,
            Err(e) => return Err(e),
            Ok(v) => return Ok(body::json(200, &v)),
        }
    }
    Err(ApiError::conflict(
        rt.group,
        rt.plural,
        name,
        "too many concurrent writes",
    ))
}

fn apply(
    req: &Request<'_>,
    name: &str,
    config: &Value,
    opts: &WriteOptions,
) -> Result<Resp, ApiError> {
    let rt = req.target.rt;
    let Some(manager) = req.query.get("fieldManager") else {
        return Err(ApiError::bad_request(
            "PATCH, application/apply-patch+yaml requires fieldManager parameter",
        ));
    };
    if req.target.subresource.is_some() {
        return Err(ApiError::bad_request(
            "server-side apply to subresources is not supported by the sandbox",
        ));
    }
    let mut config = config.clone();
    if config["apiVersion"].as_str().is_none() || config["kind"].as_str().is_none() {
        return Err(ApiError::bad_request(
            "apiVersion and kind must be set in an apply configuration",
        ));
    }
    check_kind(rt, &config)?;
    check_namespace(req, &mut config)?;
    req.check_unknown_fields(&mut config, true)?;
    name_matches(name, &config)?;
    config["metadata"]["name"] = json!(name);
    let force = req.query.flag("force");
    for _ in 0..16 {
        let current = req.store.get(rt, req.ns(), name);
        let mut next = managed::apply(
            rt.kind,
            &rt.api_version(),
            current.as_ref(),
            &config,
            manager,
            force,
        )?;
        let result = match &current {
            None => {
                defaults::apply(rt, &mut next, None);
                req.store.create_with(rt, next, opts).map(|v| (201, v))
            }
            Some(cur) => {
                next["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"].clone();
                defaults::apply(rt, &mut next, Some(cur));
                req.store.update_with(rt, next, opts).map(|v| (200, v))
            }
        };
        match result {
            Err(e) if e.reason == "Conflict" || e.reason == "AlreadyExists" => continue,
            Err(e) => return Err(e),
            Ok((code, v)) => return Ok(body::json(code, &v)),
        }
    }
    Err(ApiError::conflict(
        rt.group,
        rt.plural,
        name,
        "too many concurrent writes",
    ))
}

struct DeleteOptions {
    propagation: Propagation,
    precondition_uid: String,
    precondition_rv: String,
    dry_run: bool,
}

fn delete_options(req: &Request<'_>) -> Result<DeleteOptions, ApiError> {
    let body: Value = if req.body.is_empty() {
        json!({})
    } else {
        req.json_body()?
    };
    let policy = body["propagationPolicy"]
        .as_str()
        .or(req.query.get("propagationPolicy"));
    let mut propagation = match policy {
        None => Propagation::Default,
        Some(p) => Propagation::parse(p).ok_or_else(|| {
            ApiError::new(422, "Invalid", format!("propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""))
        })?,
    };
    let orphan = body["orphanDependents"]
        .as_bool()
        .or(req.query.get("orphanDependents").map(|v| v == "true"));
    if policy.is_none() {
        match orphan {
            Some(true) => propagation = Propagation::Orphan,
            Some(false) => propagation = Propagation::Background,
            None => {}
        }
    }
    let dry_run = req.write_options()?.dry_run
        || body["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        propagation,
        precondition_uid: body["preconditions"]["uid"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        precondition_rv: body["preconditions"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        dry_run,
    })
}

fn deleted_status(rt: &ResourceType, obj: &Value) -> Value {
    let mut details =
        json!({"name": obj["metadata"]["name"], "kind": rt.plural, "uid": obj["metadata"]["uid"]});
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

fn delete(req: &Request<'_>, name: &str) -> Result<Resp, ApiError> {
    let rt = req.target.rt;
    if req.target.subresource.is_some() {
        return Err(ApiError::method_not_allowed(
            "delete is not allowed on subresources",
        ));
    }
    let o = delete_options(req)?;
    let result = req.store.delete_with(
        rt,
        req.ns(),
        name,
        o.propagation,
        Some((&o.precondition_uid, &o.precondition_rv)),
        &WriteOptions { dry_run: o.dry_run },
    )?;
    Ok(match result {
        Deleted::Removed(obj) if returns_deleted_object(rt) => body::json(200, &obj),
        Deleted::Removed(obj) => body::json(200, &deleted_status(rt, &obj)),
        Deleted::Terminating(obj) => body::json(200, &obj),
    })
}

/// The kinds whose storage in kube-apiserver sets `ReturnDeletedObject: true` (pkg/registry/core/pod, service,
/// serviceaccount, storage/storageclass): a delete that removes one answers with the object, not a `Status`.
fn returns_deleted_object(rt: &ResourceType) -> bool {
    matches!(
        (rt.group, rt.plural),
        ("", "pods" | "services" | "serviceaccounts") | ("storage.k8s.io", "storageclasses")
    )
}

fn delete_collection(req: &Request<'_>) -> Result<Resp, ApiError> {
    let rt = req.target.rt;
    if rt.kind == "Namespace" {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ));
    }
    let (labels, fields) = selectors(req)?;
    let o = delete_options(req)?;
    let mut deleted = Vec::new();
    for obj in req.store.list(rt, req.ns()) {
        if !(labels.matches(&obj) && fields.matches(&obj)) {
            continue;
        }
        let ns = obj["metadata"]["namespace"].as_str().map(String::from);
        match req.store.delete_with(
            rt,
            ns.as_deref(),
            name_of(&obj),
            o.propagation,
            None,
            &WriteOptions { dry_run: o.dry_run },
        ) {
            Ok(d) => deleted.push(list_item(d.object().clone())),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(body::json(
        200,
        &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(),
                "metadata": {"resourceVersion": req.store.resource_version().to_string()}, "items": deleted}),
    ))
}
