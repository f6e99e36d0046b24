//! URL paths to API routes.

use crate::resources::{resource_type_in, ResourceType};

#[derive(Debug)]
pub enum Route {
    Version,
    Health,
    CoreVersions,
    GroupList,
    Group(String),
    ResourceList(String, String),
    OpenApi,
    Resource(Target),
    /// `/api/v1/namespaces/<ns>/pods/<pod ref>/proxy[/<path>]`: (namespace, pod ref, path).
    PodProxy(String, String, String),
    /// `/sandbox/availability`: the emulated CockroachDB's availability record (not a Kubernetes path).
    Availability,
    NotFound,
}

#[derive(Debug)]
pub struct Target {
    pub rt: &'static ResourceType,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

pub fn parse(path: &str) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["openapi", ..] => Route::OpenApi,
        ["api"] => Route::CoreVersions,
        ["api", "v1"] => Route::ResourceList(String::new(), "v1".into()),
        ["api", "v1", "namespaces", ns, "pods", pod, "proxy", rest @ ..] => {
            let tail = if path.ends_with('/') && !rest.is_empty() {
                "/"
            } else {
                ""
            };
            Route::PodProxy(
                ns.to_string(),
                pod.to_string(),
                format!("/{}{tail}", rest.join("/")),
            )
        }
        ["api", "v1", rest @ ..] => resource("", "v1", rest),
        ["sandbox", "availability"] => Route::Availability,
        ["apis"] => Route::GroupList,
        ["apis", g] => Route::Group(g.to_string()),
        ["apis", g, v] => Route::ResourceList(g.to_string(), v.to_string()),
        ["apis", g, v, rest @ ..] => resource(g, v, rest),
        _ => Route::NotFound,
    }
}

fn target(
    group: &str,
    version: &str,
    plural: &str,
    ns: Option<&str>,
    name: Option<&str>,
    sub: Option<&str>,
) -> Route {
    match resource_type_in(group, version, plural) {
        Some(rt) if ns.is_none() || rt.namespaced => Route::Resource(Target {
            rt,
            namespace: ns.map(String::from),
            name: name.map(String::from),
            subresource: sub.map(String::from),
        }),
        _ => Route::NotFound,
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Route {
    let namespaced_plural =
        |p: &str| resource_type_in(group, version, p).is_some_and(|rt| rt.namespaced);
    match rest {
        ["namespaces", ns, plural] if namespaced_plural(plural) => {
            target(group, version, plural, Some(ns), None, None)
        }
        ["namespaces", ns, plural, name] => {
            target(group, version, plural, Some(ns), Some(name), None)
        }
        ["namespaces", ns, plural, name, sub] => {
            target(group, version, plural, Some(ns), Some(name), Some(sub))
        }
        [plural] => target(group, version, plural, None, None, None),
        [plural, name] => target(group, version, plural, None, Some(name), None),
        [plural, name, sub] => target(group, version, plural, None, Some(name), Some(sub)),
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let Route::Resource(t) = parse("/apis/apps/v1/namespaces/a/statefulsets/db/scale") else {
            panic!()
        };
        assert_eq!(
            (
                t.rt.kind,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("StatefulSet", Some("a"), Some("db"), Some("scale"))
        );
        let Route::Resource(t) = parse("/api/v1/namespaces/a/status") else {
            panic!()
        };
        assert_eq!(
            (
                t.rt.kind,
                t.namespace,
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("Namespace", None, Some("a"), Some("status"))
        );
        let Route::Resource(t) = parse("/api/v1/namespaces/a/pods") else {
            panic!()
        };
        assert_eq!(
            (t.rt.kind, t.namespace.as_deref(), t.name),
            ("Pod", Some("a"), None)
        );
        let Route::Resource(t) = parse("/api/v1/pods") else {
            panic!()
        };
        assert_eq!((t.rt.kind, t.namespace), ("Pod", None));
        assert!(matches!(
            parse("/apis/apps/v1/namespaces/a/widgets"),
            Route::NotFound
        ));
        let Route::PodProxy(ns, pod, path) =
            parse("/api/v1/namespaces/east/pods/https:cockroachdb-0:8080/proxy/_status/vars")
        else {
            panic!()
        };
        assert_eq!(
            (ns.as_str(), pod.as_str(), path.as_str()),
            ("east", "https:cockroachdb-0:8080", "/_status/vars")
        );
    }
}
