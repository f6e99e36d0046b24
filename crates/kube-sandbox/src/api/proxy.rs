//! The pods `proxy` subresource (`/api/v1/namespaces/<ns>/pods/[<scheme>:]<pod>[:<port>]/proxy/<path>`), as
//! GKE, EKS and AKS serve it: the API server forwards the request to the pod's port and hands back what the
//! pod answered, or a 503 when nothing listens there.

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;
use serde_json::Value;

use super::body::{self, Resp};
use crate::error::ApiError;

/// What the pod's server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// Where a proxied request lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTarget {
    pub namespace: String,
    pub pod: String,
    /// `https` or `http`; absent when the request named none.
    pub scheme: Option<String>,
    pub port: Option<String>,
    /// With a leading `/`.
    pub path: String,
    pub query: Option<String>,
}

/// Forwards a proxied request: Ok is the pod's answer, Err what the API server says instead (404 for no such
/// pod, 503 when the port refuses).
pub type ProxySource = Arc<dyn Fn(&ProxyTarget) -> Result<HttpAnswer, ApiError> + Send + Sync>;

/// `[<scheme>:]<name>[:<port>]`.
pub fn parse_pod_ref(s: &str) -> (Option<String>, String, Option<String>) {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [name] => (None, name.to_string(), None),
        [a, b] if *a == "http" || *a == "https" => (Some(a.to_string()), b.to_string(), None),
        [name, port] => (None, name.to_string(), Some(port.to_string())),
        [scheme, name, port, ..] => (
            Some(scheme.to_string()).filter(|s| !s.is_empty()),
            name.to_string(),
            Some(port.to_string()).filter(|p| !p.is_empty()),
        ),
        [] => (None, String::new(), None),
    }
}

pub fn respond(answer: Result<HttpAnswer, ApiError>) -> Resp {
    match answer {
        Ok(a) => {
            let mut r = body::json(a.status, &Value::Null);
            *r.body_mut() = body::ResponseBody::Full(Some(Bytes::from(a.body)));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(a.content_type),
            );
            r
        }
        Err(e) => body::error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_references_name_scheme_and_port() {
        let r = |s: &str| parse_pod_ref(s);
        assert_eq!(
            r("https:cockroachdb-0:8080"),
            (
                Some("https".into()),
                "cockroachdb-0".into(),
                Some("8080".into())
            )
        );
        assert_eq!(r("cockroachdb-0"), (None, "cockroachdb-0".into(), None));
        assert_eq!(
            r("cockroachdb-0:8080"),
            (None, "cockroachdb-0".into(), Some("8080".into()))
        );
    }
}
