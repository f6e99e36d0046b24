//! Reaching a pod's HTTPS port through the API server's pods proxy subresource
//! (`/api/v1/namespaces/<ns>/pods/https:<pod>:<port>/proxy/<path>`): the way GKE, EKS and AKS let a client with only
//! the cluster's credentials (`get` on `pods/proxy`) ask a CockroachDB node how it is.
use super::client::ClusterClient;
use super::error::{Call, RemoteError};

/// What the node answered: its HTTP status and body. An answer that is not 2xx is still an answer (a node not
/// ready says 503); only a failure to ask is an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyAnswer {
    pub status: u16,
    pub body: String,
}

impl ProxyAnswer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The proxy path of `path` (which may carry a query) on `pod`'s HTTPS `port`.
pub fn pod_proxy_path(namespace: &str, pod: &str, port: i32, path: &str) -> String {
    format!(
        "/api/v1/namespaces/{namespace}/pods/https:{pod}:{port}/proxy/{}",
        path.trim_start_matches('/')
    )
}

impl ClusterClient {
    /// One GET through the pods proxy, not retried: the caller asks again when it wants to.
    pub async fn pod_https_get(
        &self,
        namespace: &str,
        pod: &str,
        port: i32,
        path: &str,
    ) -> Result<ProxyAnswer, RemoteError> {
        let uri = pod_proxy_path(namespace, pod, port, path);
        let object = format!("pods/proxy {namespace}/{pod}:{port}");
        let request = http::Request::get(&uri)
            .body(Vec::new())
            .map_err(|e| self.remote_error(object.clone(), Call::Get, kube::Error::HttpError(e)))?;
        match self.call_once(self.kube().request_text(request)).await {
            Ok(body) => Ok(ProxyAnswer { status: 200, body }),
            Err(kube::Error::Api(status)) => Ok(ProxyAnswer {
                status: status.code,
                body: status.message.clone(),
            }),
            Err(source) => Err(self.remote_error(object, Call::Get, source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_path_names_scheme_pod_port_and_keeps_the_query() {
        assert_eq!(
            pod_proxy_path("us-east1-b", "cockroachdb-0", 8080, "/health?ready=1"),
            "/api/v1/namespaces/us-east1-b/pods/https:cockroachdb-0:8080/proxy/health?ready=1"
        );
        let ok = ProxyAnswer {
            status: 200,
            body: String::new(),
        };
        assert!(ok.is_success());
        assert!(!ProxyAnswer {
            status: 503,
            body: String::new()
        }
        .is_success());
    }
}
