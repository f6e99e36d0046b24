//! Errors from a Kubernetes API call, worded for the person running `terraform apply`: which
//! cluster, which object, which call, what the server said, and what to check next.
use crate::framework::Diagnostics;
use std::error::Error as _;
use std::fmt;

/// The API call that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Apply,
    Get,
    Delete,
    List,
    Watch,
    /// A read-modify-write guarded by resourceVersion (replace or create).
    Update,
    Patch,
}

impl Call {
    pub fn as_str(self) -> &'static str {
        match self {
            Call::Apply => "apply",
            Call::Get => "get",
            Call::Delete => "delete",
            Call::List => "list",
            Call::Watch => "watch",
            Call::Update => "update",
            Call::Patch => "patch",
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call against one cluster.
#[derive(Debug, thiserror::Error)]
#[error("{call} {object} on {cluster}: {}", cause_text(.source))]
pub struct RemoteError {
    /// How the connection names the cluster (its API server, or a kubeconfig context).
    pub cluster: String,
    /// `Kind namespace/name`, or `Kind name` for cluster-scoped objects.
    pub object: String,
    pub call: Call,
    pub source: kube::Error,
}

/// What kind of failure an error is, deciding both the hint and whether to try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 401: the credentials were not accepted.
    Unauthenticated,
    /// 403: the credentials are valid but lack permission.
    Forbidden,
    NotFound,
    /// 409: another writer owns a field or changed the object concurrently.
    Conflict,
    /// 422 or 400: the object was refused as invalid.
    Invalid,
    /// 429, 500, 502, 503, 504: the server asks to come back later.
    Overloaded,
    /// Any other status the server answered with.
    OtherStatus,
    /// Nothing answered: connection refused, no route, DNS failure, connect timeout.
    Unreachable,
    /// The connection was dropped mid-request.
    Interrupted,
    /// The server's certificate was not accepted.
    Tls,
    /// The exec credential plugin (or another credential source) failed.
    Credentials,
    /// Terraform asked the provider to stop before the call ended.
    Stopped,
    /// The time the call had (what was left of the operation's timeout, or of the time to explain a failure)
    /// ended before an answer came, and no attempt found the cluster unreachable: a timeout, not an outage.
    OutOfTime,
    Other,
}

impl Failure {
    /// Whether the cluster gave no answer: nothing accepted the connection, or each connection was dropped
    /// before an answer came. Such failures are counted against the unreachable timeout, not in attempts: a
    /// server that resets every connection is as unreachable as one that refuses them.
    pub fn answers_nothing(self) -> bool {
        matches!(self, Failure::Unreachable | Failure::Interrupted)
    }

    /// Whether the same idempotent call may succeed if sent again.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Failure::Overloaded | Failure::Unreachable | Failure::Interrupted
        )
    }
}

/// The cause of a call abandoned because Terraform asked the provider to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Terraform asked the provider to stop")]
pub struct Stopped;

/// The cause of a call that the time it had ended before any answer came, no attempt having failed to
/// connect: `the API server sent no answer within 3s (all that was left of the operation's timeout)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the API server sent no answer {limit}")]
pub struct OutOfTime {
    /// `within 3s (all that was left of the operation's timeout)`.
    pub limit: String,
}

/// The HTTP status an error carries, when the server answered.
pub fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// Classifies an error by what the server answered or by what went wrong on the way there.
pub fn classify(error: &kube::Error) -> Failure {
    match error {
        kube::Error::Api(status) => match status.code {
            401 => Failure::Unauthenticated,
            403 => Failure::Forbidden,
            404 => Failure::NotFound,
            409 => Failure::Conflict,
            400 | 422 => Failure::Invalid,
            429 | 500 | 502 | 503 | 504 => Failure::Overloaded,
            _ => Failure::OtherStatus,
        },
        kube::Error::Auth(_) => Failure::Credentials,
        kube::Error::RustlsTls(_) => Failure::Tls,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            transport_failure(error)
        }
        _ => Failure::Other,
    }
}

/// Walks the cause chain of a transport error down to the I/O or TLS error that explains it.
fn transport_failure(error: &kube::Error) -> Failure {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = error.source();
    let mut text = String::new();
    while let Some(current) = cause {
        if current.is::<rustls::Error>() {
            return Failure::Tls;
        }
        if current.is::<Stopped>() {
            return Failure::Stopped;
        }
        if current.is::<OutOfTime>() {
            return Failure::OutOfTime;
        }
        text.push_str(&current.to_string());
        text.push('\n');
        let Some(io) = current.downcast_ref::<std::io::Error>() else {
            cause = current.source();
            continue;
        };
        use std::io::ErrorKind::*;
        match io.kind() {
            ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable
            | TimedOut => return Failure::Unreachable,
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                return Failure::Interrupted
            }
            _ => {}
        }
        // An I/O error hides the error it wraps from source(); TLS failures travel that
        // way, sometimes inside a second I/O error.
        cause = match io.get_ref() {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => io.source(),
        };
    }
    // Name resolution failures carry no distinct I/O kind.
    if text.contains("dns error") || text.contains("failed to lookup address") {
        Failure::Unreachable
    } else {
        // Anything else on the wire (a connection closed before the answer came, a
        // half-read body) happened to a request that is safe to send again.
        Failure::Interrupted
    }
}

/// Why the credential plugin gave no credential, in words that never include its standard
/// output: that is where a plugin prints the token, even when it then fails.
pub fn credential_failure_text(error: &kube::client::AuthError) -> String {
    use kube::client::AuthError;
    match error {
        AuthError::AuthExecStart(io) => format!("the credential plugin could not be started: {io}"),
        AuthError::AuthExecRun { out, .. } => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr = stderr.trim();
            let cut: String = stderr.chars().take(500).collect();
            if cut.is_empty() {
                format!("the credential plugin failed ({})", out.status)
            } else {
                format!("the credential plugin failed ({}): {cut}", out.status)
            }
        }
        AuthError::AuthExecParse(_) => {
            "the credential plugin's output is not an ExecCredential document".to_string()
        }
        other => other.to_string(),
    }
}

/// The innermost useful message of an error: the server's own words when it answered.
pub fn cause_text(error: &kube::Error) -> String {
    if let kube::Error::Auth(auth) = error {
        return credential_failure_text(auth);
    }
    if let kube::Error::Api(status) = error {
        let reason = if status.reason.is_empty() {
            String::new()
        } else {
            format!(" {}", status.reason)
        };
        return format!("{}{reason}: {}", status.code, status.message);
    }
    let mut parts = vec![error.to_string()];
    let mut cause = error.source();
    while let Some(current) = cause {
        let text = current.to_string();
        // Wrapping errors often repeat their cause; keep each message once.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = current.source();
    }
    parts.join(": ")
}

impl RemoteError {
    pub fn failure(&self) -> Failure {
        classify(&self.source)
    }

    /// The diagnostic summary: what failed, in a few words.
    pub fn summary(&self) -> String {
        match self.failure() {
            Failure::Unauthenticated => "Kubernetes credentials rejected".to_string(),
            Failure::Forbidden => "Kubernetes permission denied".to_string(),
            Failure::Unreachable => "Kubernetes cluster unreachable".to_string(),
            Failure::Tls => "Kubernetes API server certificate not trusted".to_string(),
            Failure::Credentials => "Kubernetes credential plugin failed".to_string(),
            Failure::Stopped => "Stopped".to_string(),
            Failure::OutOfTime => "Timed out waiting for the Kubernetes API server".to_string(),
            _ => format!("Kubernetes {} failed", self.call),
        }
    }

    /// What the user can check next, when the failure suggests something.
    pub fn hint(&self) -> Option<String> {
        let cluster = &self.cluster;
        Some(match self.failure() {
            Failure::Unauthenticated => format!(
                "The cluster at {cluster} did not accept the credentials of the kubernetes block. A static token \
                 may have expired (access tokens such as data.google_client_config's last about an hour; an exec \
                 block fetches fresh ones) or may belong to another cluster."
            ),
            Failure::Forbidden => format!(
                "The credentials are valid but not allowed to {} this object: grant the identity RBAC \
                 permissions for it on {cluster}.",
                self.verb()
            ),
            Failure::Unreachable => format!(
                "Nothing answered at {cluster}. Check `host` and that this machine can reach the API server \
                 (private clusters need an authorized network, a VPN or a tunnel)."
            ),
            Failure::Tls => format!(
                "The certificate of {cluster} does not match `cluster_ca_certificate` (or, when set, \
                 `tls_server_name`). Check that the CA belongs to this cluster."
            ),
            Failure::Credentials => "The exec credential plugin did not produce a credential. Run the same \
                 command by hand to see why (is it installed and logged in?)."
                .to_string(),
            Failure::OutOfTime => format!(
                "The time this call had ended before {cluster} answered. If the operation only needs longer, \
                 raise the resource's `timeouts` block: the next apply continues from where this one stopped."
            ),
            Failure::Conflict => "Another field manager changed this object at the same time; applying \
                 again usually resolves it."
                .to_string(),
            _ => return None,
        })
    }

    /// What the identity was not allowed to do, in RBAC's words.
    fn verb(&self) -> &'static str {
        match self.call {
            Call::Apply => "create or patch",
            other => other.as_str(),
        }
    }

    pub fn to_diagnostics(&self) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let mut detail = self.to_string();
        if let Some(hint) = self.hint() {
            detail.push_str("\n\n");
            detail.push_str(&hint);
        }
        diags.error(self.summary(), detail);
        diags
    }
}

impl From<RemoteError> for Diagnostics {
    fn from(error: RemoteError) -> Self {
        error.to_diagnostics()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(message, reason)
                .with_code(code)
                .boxed(),
        )
    }

    fn remote(call: Call, source: kube::Error) -> RemoteError {
        RemoteError {
            cluster: "https://34.1.2.3".into(),
            object: "StatefulSet us-east1-b/cockroachdb".into(),
            call,
            source,
        }
    }

    #[test]
    fn the_message_names_cluster_object_call_and_the_servers_words() {
        let error = remote(
            Call::Apply,
            api_error(422, "Invalid", "spec.replicas: Invalid value: -1"),
        );
        assert_eq!(
            error.to_string(),
            "apply StatefulSet us-east1-b/cockroachdb on https://34.1.2.3: 422 Invalid: spec.replicas: Invalid value: -1"
        );
        let diags = error.to_diagnostics();
        assert_eq!(diags.0[0].summary, "Kubernetes apply failed");
        assert_eq!(diags.0[0].detail, error.to_string());
    }

    #[test]
    fn auth_failures_point_at_credentials_and_rbac() {
        let unauthorized = remote(Call::Get, api_error(401, "Unauthorized", "Unauthorized"));
        let diags = unauthorized.to_diagnostics();
        assert_eq!(diags.0[0].summary, "Kubernetes credentials rejected");
        assert!(diags.0[0]
            .detail
            .starts_with("get StatefulSet us-east1-b/cockroachdb on https://34.1.2.3: 401"));
        assert!(
            diags.0[0].detail.contains("exec block"),
            "{}",
            diags.0[0].detail
        );

        let forbidden = remote(
            Call::Delete,
            api_error(
                403,
                "Forbidden",
                "statefulsets.apps \"cockroachdb\" is forbidden: User \"ci\" cannot delete resource",
            ),
        );
        let diags = forbidden.to_diagnostics();
        assert_eq!(diags.0[0].summary, "Kubernetes permission denied");
        assert!(diags.0[0].detail.contains("cannot delete resource"));
        assert!(diags.0[0].detail.contains("RBAC"));
    }

    #[test]
    fn refused_connections_say_the_cluster_is_unreachable() {
        let refused = kube::Error::Service(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        // kube wraps the I/O error one level down, as hyper-util's connector does.
        let wrapped = kube::Error::Service(Box::new(Wrapper(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "tcp connect error",
        ))));
        for source in [refused, wrapped] {
            let error = remote(Call::List, source);
            assert_eq!(error.failure(), Failure::Unreachable);
            assert_eq!(error.summary(), "Kubernetes cluster unreachable");
            assert!(error
                .hint()
                .unwrap()
                .contains("Nothing answered at https://34.1.2.3"));
            assert!(error.failure().is_transient());
        }
    }

    #[derive(Debug)]
    struct Wrapper(std::io::Error);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("client error (Connect)")
        }
    }
    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn overload_and_resets_are_transient_but_client_errors_are_not() {
        for code in [429, 500, 502, 503, 504] {
            assert!(classify(&api_error(code, "", "")).is_transient(), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 422] {
            assert!(!classify(&api_error(code, "", "")).is_transient(), "{code}");
        }
        let reset = kube::Error::Service(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        )));
        assert_eq!(classify(&reset), Failure::Interrupted);
        // As hyper-rustls reports it: the TLS error inside an I/O error inside another.
        let tls = kube::Error::Service(Box::new(std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ))));
        assert_eq!(classify(&tls), Failure::Tls);
        assert!(!Failure::Tls.is_transient());
    }
}
