//! Discovery documents: legacy (`/api`, `/apis`, group/version resource lists) and aggregated v2.

use serde_json::{json, Value};

use crate::resources::{ResourceType, RESOURCE_TYPES};

pub const SERVER_VERSION: (&str, &str) = ("1", "33");

pub fn version() -> Value {
    json!({
        "major": SERVER_VERSION.0,
        "minor": SERVER_VERSION.1,
        "gitVersion": format!("v{}.{}.0-sandbox", SERVER_VERSION.0, SERVER_VERSION.1),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn verbs(rt: &ResourceType) -> Vec<&'static str> {
    let mut v = vec![
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ];
    if rt.kind == "Namespace" {
        v.retain(|x| *x != "deletecollection");
    }
    v
}

fn categories(rt: &ResourceType) -> Vec<&'static str> {
    match rt.kind {
        "Pod" | "Service" | "StatefulSet" | "Deployment" | "ReplicaSet" | "Job" => vec!["all"],
        _ => vec![],
    }
}

/// Subresources a type serves: (name, group, version, kind, verbs).
fn subresources(
    rt: &ResourceType,
) -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Vec<&'static str>,
)> {
    let mut subs = Vec::new();
    if rt.has_status() {
        subs.push((
            "status",
            rt.group,
            rt.version,
            rt.kind,
            vec!["get", "patch", "update"],
        ));
    }
    if rt.has_scale() {
        subs.push((
            "scale",
            "autoscaling",
            "v1",
            "Scale",
            vec!["get", "patch", "update"],
        ));
    }
    if rt.kind == "Namespace" {
        subs.push(("finalize", "", "v1", "Namespace", vec!["update"]));
    }
    if rt.kind == "Pod" {
        subs.push(("log", "", "v1", "Pod", vec!["get"]));
        subs.push((
            "proxy",
            "",
            "v1",
            "PodProxyOptions",
            vec!["create", "delete", "get", "patch", "update"],
        ));
    }
    subs
}

fn groups() -> Vec<(&'static str, &'static str)> {
    let mut gv: Vec<(&str, &str)> = Vec::new();
    for rt in RESOURCE_TYPES {
        if !rt.group.is_empty() && !gv.contains(&(rt.group, rt.version)) {
            gv.push((rt.group, rt.version));
        }
    }
    gv
}

pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}],
    })
}

fn group_doc(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
}

pub fn group_list() -> Value {
    let groups: Vec<Value> = groups().into_iter().map(|(g, v)| group_doc(g, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(group: &str) -> Option<Value> {
    let (g, v) = groups().into_iter().find(|(g, _)| *g == group)?;
    let mut doc = group_doc(g, v);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = RESOURCE_TYPES
        .iter()
        .filter(|rt| rt.group == group && rt.version == version)
        .collect();
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for rt in types {
        let mut r = json!({
            "name": rt.plural,
            "singularName": rt.singular(),
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": verbs(rt),
        });
        if !rt.short_names().is_empty() {
            r["shortNames"] = json!(rt.short_names());
        }
        if !categories(rt).is_empty() {
            r["categories"] = json!(categories(rt));
        }
        resources.push(r);
        for (name, g, v, kind, verbs) in subresources(rt) {
            let mut s = json!({
                "name": format!("{}/{name}", rt.plural),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if g != rt.group {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            resources.push(s);
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

fn aggregated_group(group: &str, version: &str) -> Value {
    let resources: Vec<Value> = RESOURCE_TYPES
        .iter()
        .filter(|rt| rt.group == group && rt.version == version)
        .map(|rt| {
            let subs: Vec<Value> = subresources(rt)
                .into_iter()
                .map(|(name, g, v, kind, verbs)| {
                    json!({"subresource": name, "responseKind": {"group": g, "version": v, "kind": kind}, "verbs": verbs})
                })
                .collect();
            let mut r = json!({
                "resource": rt.plural,
                "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": rt.singular(),
                "verbs": verbs(rt),
            });
            if !rt.short_names().is_empty() {
                r["shortNames"] = json!(rt.short_names());
            }
            if !categories(rt).is_empty() {
                r["categories"] = json!(categories(rt));
            }
            if !subs.is_empty() {
                r["subresources"] = json!(subs);
            }
            r
        })
        .collect();
    let mut meta = json!({"creationTimestamp": null});
    if !group.is_empty() {
        meta["name"] = json!(group);
    }
    json!({"metadata": meta, "versions": [{"version": version, "resources": resources, "freshness": "Current"}]})
}

/// `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList` (or v2beta1), as the Accept header asked.
pub fn aggregated(core: bool, api_version: &str) -> Value {
    let items: Vec<Value> = if core {
        vec![aggregated_group("", "v1")]
    } else {
        groups()
            .into_iter()
            .map(|(g, v)| aggregated_group(g, v))
            .collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{api_version}"),
        "metadata": {},
        "items": items,
    })
}

/// Which aggregated discovery version the Accept header asks for, if any.
pub fn wants_aggregated(accept: &str) -> Option<&'static str> {
    accept.split(',').find_map(|part| {
        let p = part.replace(' ', "");
        if !p.contains("as=APIGroupDiscoveryList") || !p.contains("g=apidiscovery.k8s.io") {
            return None;
        }
        if p.contains("v=v2beta1") {
            Some("v2beta1")
        } else if p.contains("v=v2") {
            Some("v2")
        } else {
            None
        }
    })
}
