//! The resolved connection a client is built from: every value known and valid, given attribute by
//! attribute or as a kubeconfig file and context. The Terraform face of it (the `kubernetes {}`
//! block, its model and validation) lives with the resources, in `resources::connection`.
use crate::logging::REDACTED;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A connection whose every value is known and valid: what a client is built from.
#[derive(Clone, PartialEq)]
pub enum Connection {
    Direct(DirectConnection),
    KubeconfigFile {
        path: PathBuf,
        context: Option<String>,
    },
}

/// A connection given attribute by attribute, without a kubeconfig file.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectConnection {
    /// The API server URL, with its scheme.
    pub server: String,
    pub ca_pem: Option<String>,
    pub tls_server_name: Option<String>,
    pub insecure: bool,
    pub credentials: Credentials,
}

#[derive(Clone, PartialEq)]
pub enum Credentials {
    Anonymous,
    Token(String),
    ClientCertificate {
        certificate_pem: String,
        key_pem: String,
    },
    Exec(ExecPlugin),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExecPlugin {
    pub api_version: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

// Debug by hand so that a token or key never reaches a log line or a panic message.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Token(_) => f.debug_tuple("Token").field(&REDACTED).finish(),
            Credentials::ClientCertificate { .. } => f
                .debug_struct("ClientCertificate")
                .field("key_pem", &REDACTED)
                .finish_non_exhaustive(),
            Credentials::Exec(plugin) => f.debug_tuple("Exec").field(plugin).finish(),
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Connection::Direct(direct) => direct.fmt(f),
            Connection::KubeconfigFile { path, context } => f
                .debug_struct("KubeconfigFile")
                .field("path", path)
                .field("context", context)
                .finish(),
        }
    }
}

impl Connection {
    /// How error messages name the cluster: the API server, or the kubeconfig context.
    pub fn label(&self) -> String {
        match self {
            Connection::Direct(direct) => direct.server.clone(),
            Connection::KubeconfigFile {
                path,
                context: Some(context),
            } => format!("context {context:?} of {}", path.display()),
            Connection::KubeconfigFile {
                path,
                context: None,
            } => format!("the current context of {}", path.display()),
        }
    }
}

/// `~/x` is relative to the home directory, as in kubectl and the kubernetes provider.
/// The kubeconfig kubectl and the kubernetes provider would use: `KUBE_CONFIG_PATH`, else the first file of
/// `KUBECONFIG`, else `~/.kube/config`.
pub fn default_kubeconfig_path() -> Option<PathBuf> {
    let from = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.split(':').find(|p| !p.is_empty()).map(expand_home))
    };
    from("KUBE_CONFIG_PATH")
        .or_else(|| from("KUBECONFIG"))
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".kube/config")))
}

pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}
