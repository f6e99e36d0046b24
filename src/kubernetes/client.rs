//! A kube client for one cluster, built from a known [`Connection`]: an in-memory kubeconfig
//! for attributes given inline, or the user's kubeconfig file when they point at one.
use super::connection::{Connection, Credentials, DirectConnection};
use super::retry::{Bound, RetryPolicy, TimeLeft};
use crate::framework::diag::{AttributePath, Diagnostics};
use base64::Engine;
use kube::config::{
    AuthInfo, Cluster, Context, ExecConfig, ExecInteractiveMode, KubeConfigOptions, Kubeconfig,
    NamedAuthInfo, NamedCluster, NamedContext,
};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the extra reads that explain a timeout may take, so that explaining never
/// stretches a wait much beyond its limit.
const EXPLAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Long enough for a TLS handshake with a far region; short enough that a wrong address fails
/// while the user is still watching.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Sending a request body; the bodies here are single manifests.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// The single context of an in-memory kubeconfig.
const CONTEXT: &str = "terraform-provider-crdb";

/// A client for one cluster together with the name its errors give that cluster.
#[derive(Clone)]
pub struct ClusterClient {
    kube: kube::Client,
    label: String,
    retry: RetryPolicy,
    stop: CancellationToken,
    /// When the calls must end, and why: the operation's deadline (none for a read, which has no timeout), or
    /// the end of the time given to explain a failure.
    deadline: Option<(tokio::time::Instant, Bound)>,
}

impl std::fmt::Debug for ClusterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterClient")
            .field("cluster", &self.label)
            .finish_non_exhaustive()
    }
}

/// Why no client could be built, and which attribute of the block to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot connect to {cluster}: {message}")]
pub struct ConnectError {
    /// The attribute of the `kubernetes` block at fault, if one is.
    pub attribute: Option<&'static str>,
    pub cluster: String,
    pub message: String,
}

impl ConnectError {
    /// A diagnostic on `at.<attribute>` (e.g. `kubernetes.config_context`), or on `at`.
    pub fn to_diagnostics(&self, at: &AttributePath) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let path = match self.attribute {
            Some(attribute) => at.clone().attr(attribute),
            None => at.clone(),
        };
        diags.attribute_error(path, "Cannot connect to Kubernetes", self.to_string());
        diags
    }
}

impl ClusterClient {
    /// Builds a client; nothing is sent until the first call (an exec plugin runs then too).
    pub async fn connect(connection: &Connection) -> Result<ClusterClient, ConnectError> {
        let label = connection.label();
        let fail = |attribute, message: String| ConnectError {
            attribute,
            cluster: label.clone(),
            message,
        };
        let (kubeconfig, options, label) = match connection {
            Connection::Direct(direct) => (
                kubeconfig(direct),
                KubeConfigOptions {
                    context: Some(CONTEXT.to_string()),
                    ..Default::default()
                },
                label.clone(),
            ),
            Connection::KubeconfigFile { path, context } => {
                let file =
                    read_kubeconfig(path).map_err(|e| fail(Some("config_path"), e.to_string()))?;
                let (context, server) = select_context(&file, context.as_deref())
                    .map_err(|(attribute, m)| fail(Some(attribute), m))?;
                let label = format!("{server} (context {context:?})");
                let options = KubeConfigOptions {
                    context: Some(context),
                    ..Default::default()
                };
                (file, options, label)
            }
        };
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| fail(None, e.to_string()))?;
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.write_timeout = Some(WRITE_TIMEOUT);
        // No read timeout: it would also cut watches that are quiet for a while. Each call
        // gets its own bound from the retry policy instead, and waits their deadline.
        config.read_timeout = None;
        // Retries are ours: bounded, and also through 500s and dropped connections.
        config.default_retry = false;
        // Building the client already runs an exec plugin once.
        let kube = kube::Client::try_from(config).map_err(|e| {
            let attribute = matches!(e, kube::Error::Auth(_)).then_some("exec");
            fail(attribute, super::error::cause_text(&e))
        })?;
        Ok(ClusterClient {
            kube,
            label,
            retry: RetryPolicy::default(),
            stop: CancellationToken::new(),
            deadline: None,
        })
    }

    /// Wraps an existing kube client (tests, or callers that built their own).
    pub fn from_kube(kube: kube::Client, label: impl Into<String>) -> ClusterClient {
        ClusterClient {
            kube,
            label: label.into(),
            retry: RetryPolicy::default(),
            stop: CancellationToken::new(),
            deadline: None,
        }
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> ClusterClient {
        self.retry = retry;
        self
    }

    /// The same client, reporting a cluster that answers nothing for `grace` as unreachable (calls and waits).
    pub fn with_unreachable_grace(mut self, grace: Duration) -> ClusterClient {
        self.retry.unreachable_grace = grace;
        self
    }

    /// The same client, abandoning calls (and their retries) when `stop` is cancelled: pass
    /// the operation context's token, which Terraform's Stop cancels.
    pub fn with_stop(mut self, stop: &CancellationToken) -> ClusterClient {
        self.stop = stop.clone();
        self
    }

    /// The same client, each call of which (retries included) ends by `deadline` at the latest: one call that
    /// hangs fails as unreachable before the operation's timeout, naming the call, instead of outlasting it.
    pub fn with_deadline(mut self, deadline: &super::Deadline) -> ClusterClient {
        self.deadline = Some((deadline.at(), Bound::OperationTimeout));
        self
    }

    /// Runs the reads that explain a failure (which pods are not ready, what their logs say), often once the
    /// operation's time is spent: within [`EXPLAIN_TIMEOUT`] from now, whatever the deadline, so that explaining
    /// never stretches a failure much. None when they did not finish in that time.
    pub async fn explain<T, F, Fut>(&self, read: F) -> Option<T>
    where
        F: FnOnce(ClusterClient) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let client = ClusterClient {
            deadline: tokio::time::Instant::now()
                .checked_add(EXPLAIN_TIMEOUT)
                .map(|at| (at, Bound::Explaining)),
            ..self.clone()
        };
        tokio::time::timeout(EXPLAIN_TIMEOUT, read(client))
            .await
            .ok()
    }

    pub(super) fn stop_token(&self) -> &CancellationToken {
        &self.stop
    }

    /// What is left of the time the calls have, when they are bounded.
    pub(super) fn time_left(&self) -> Option<TimeLeft> {
        self.deadline.map(|(at, set_by)| TimeLeft {
            left: at.saturating_duration_since(tokio::time::Instant::now()),
            set_by,
        })
    }

    /// How error messages name this cluster.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn kube(&self) -> &kube::Client {
        &self.kube
    }

    /// The policy the helpers retry with, for callers making calls of their own.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }
}

/// The kubeconfig equivalent of a connection given attribute by attribute: one cluster, one
/// user, one context.
pub fn kubeconfig(direct: &DirectConnection) -> Kubeconfig {
    let base64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let cluster = Cluster {
        server: Some(direct.server.clone()),
        certificate_authority_data: direct.ca_pem.as_deref().map(base64),
        insecure_skip_tls_verify: direct.insecure.then_some(true),
        tls_server_name: direct.tls_server_name.clone(),
        ..Default::default()
    };
    let user = match &direct.credentials {
        Credentials::Anonymous => AuthInfo::default(),
        Credentials::Token(token) => AuthInfo {
            token: Some(token.clone().into()),
            ..Default::default()
        },
        Credentials::ClientCertificate {
            certificate_pem,
            key_pem,
        } => AuthInfo {
            client_certificate_data: Some(base64(certificate_pem)),
            client_key_data: Some(base64(key_pem).into()),
            ..Default::default()
        },
        Credentials::Exec(plugin) => AuthInfo {
            exec: Some(ExecConfig {
                api_version: Some(plugin.api_version.clone()),
                command: Some(plugin.command.clone()),
                args: Some(plugin.args.clone()),
                env: Some(
                    plugin
                        .env
                        .iter()
                        .map(|(name, value)| {
                            HashMap::from([
                                ("name".to_string(), name.clone()),
                                ("value".to_string(), value.clone()),
                            ])
                        })
                        .collect(),
                ),
                // Terraform owns the terminal: a plugin must never prompt.
                interactive_mode: Some(ExecInteractiveMode::Never),
                ..Default::default()
            }),
            ..Default::default()
        },
    };
    Kubeconfig {
        clusters: vec![NamedCluster {
            name: CONTEXT.to_string(),
            cluster: Some(cluster),
            ..Default::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: CONTEXT.to_string(),
            auth_info: Some(user),
            ..Default::default()
        }],
        contexts: vec![NamedContext {
            name: CONTEXT.to_string(),
            context: Some(Context {
                cluster: CONTEXT.to_string(),
                user: Some(CONTEXT.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        current_context: Some(CONTEXT.to_string()),
        ..Default::default()
    }
}

/// What can be checked of a kubeconfig connection on this machine before any call (at plan): the file is there
/// and readable, and has the context asked for (or a current one). Err blames the attribute to change.
pub fn check_kubeconfig(path: &Path, context: Option<&str>) -> Result<(), ConnectError> {
    let fail = |attribute, message: String| ConnectError {
        attribute: Some(attribute),
        cluster: format!("kubeconfig {}", path.display()),
        message,
    };
    let file = read_kubeconfig(path).map_err(|e| fail("config_path", e.to_string()))?;
    select_context(&file, context).map_err(|(attribute, m)| fail(attribute, m))?;
    Ok(())
}

fn read_kubeconfig(path: &Path) -> Result<Kubeconfig, UnreadableKubeconfig> {
    if !path.exists() {
        return Err(UnreadableKubeconfig(format!(
            "the kubeconfig file {} does not exist.",
            path.display()
        )));
    }
    Kubeconfig::read_from(path).map_err(|e| {
        UnreadableKubeconfig(format!(
            "cannot read {}: {}",
            path.display(),
            without_quotes(e.to_string().lines().next().unwrap_or_default())
        ))
    })
}

/// A kubeconfig file that is missing or cannot be parsed; the message quotes nothing from it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UnreadableKubeconfig(String);

/// A parser message with what it quotes from the file left out: YAML errors show the lines
/// around the mistake and the values they choke on, which in a kubeconfig are often tokens
/// and keys.
fn without_quotes(message: &str) -> String {
    let mut kept = String::new();
    for (index, part) in message.split('"').enumerate() {
        kept.push_str(if index % 2 == 0 { part } else { "..." });
    }
    kept
}

/// The context to use (the one asked for, or the file's current one) and its server, with the
/// attribute to blame when there is none.
fn select_context(
    file: &Kubeconfig,
    wanted: Option<&str>,
) -> Result<(String, String), (&'static str, String)> {
    let name =
        match wanted {
            Some(name) => name.to_string(),
            None => match file.current_context.as_deref().filter(|c| !c.is_empty()) {
                Some(current) => current.to_string(),
                None => return Err((
                    "config_context",
                    "the kubeconfig file sets no current-context; name one with config_context."
                        .into(),
                )),
            },
        };
    let Some(context) = file
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.as_ref())
    else {
        let known: Vec<&str> = file.contexts.iter().map(|c| c.name.as_str()).collect();
        let attribute = if wanted.is_some() {
            "config_context"
        } else {
            "config_path"
        };
        return Err((
            attribute,
            format!(
                "the kubeconfig file has no context {name:?}; it has {}.",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    let server = file
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .ok_or_else(|| {
            (
                "config_path",
                format!(
                    "context {name:?} names cluster {:?}, which has no server in the kubeconfig file.",
                    context.cluster
                ),
            )
        })?;
    Ok((name, server))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::connection::ExecPlugin;
    use std::collections::BTreeMap;

    fn direct(credentials: Credentials) -> DirectConnection {
        DirectConnection {
            server: "https://34.1.2.3".into(),
            ca_pem: Some("-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n".into()),
            tls_server_name: None,
            insecure: false,
            credentials,
        }
    }

    fn only_user(config: &Kubeconfig) -> &AuthInfo {
        assert_eq!(config.auth_infos.len(), 1);
        config.auth_infos[0].auth_info.as_ref().unwrap()
    }

    #[test]
    fn token_connections_carry_server_ca_and_token() {
        let config = kubeconfig(&direct(Credentials::Token("s3cret".into())));
        let cluster = config.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://34.1.2.3"));
        let ca = base64::engine::general_purpose::STANDARD
            .decode(cluster.certificate_authority_data.as_ref().unwrap())
            .unwrap();
        assert!(String::from_utf8(ca)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(cluster.insecure_skip_tls_verify, None);
        assert_eq!(exposed(only_user(&config), "token"), "s3cret");
        assert_eq!(config.current_context.as_deref(), Some(CONTEXT));
        // The token must not show when the kubeconfig is debug-printed.
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    /// A secret field read back the way kube writes it out: through serde.
    fn exposed(user: &AuthInfo, field: &str) -> String {
        let json = serde_json::to_value(user).unwrap();
        json[field].as_str().unwrap().to_string()
    }

    #[test]
    fn client_certificates_travel_as_base64_data() {
        let config = kubeconfig(&direct(Credentials::ClientCertificate {
            certificate_pem: "CERT PEM".into(),
            key_pem: "KEY PEM".into(),
        }));
        let user = only_user(&config);
        let decode = |s: &str| {
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(s).unwrap()).unwrap()
        };
        assert_eq!(
            decode(user.client_certificate_data.as_ref().unwrap()),
            "CERT PEM"
        );
        assert_eq!(decode(&exposed(user, "client-key-data")), "KEY PEM");
        assert!(user.token.is_none());
    }

    #[test]
    fn exec_plugins_get_args_env_and_never_prompt() {
        let config = kubeconfig(&direct(Credentials::Exec(ExecPlugin {
            api_version: "client.authentication.k8s.io/v1beta1".into(),
            command: "aws".into(),
            args: vec!["eks".into(), "get-token".into()],
            env: BTreeMap::from([("AWS_PROFILE".to_string(), "prod".to_string())]),
        })));
        let exec = only_user(&config).exec.as_ref().unwrap();
        assert_eq!(exec.command.as_deref(), Some("aws"));
        assert_eq!(
            exec.args.as_deref(),
            Some(&["eks".to_string(), "get-token".to_string()][..])
        );
        let env = exec.env.as_ref().unwrap();
        assert_eq!(env[0]["name"], "AWS_PROFILE");
        assert_eq!(env[0]["value"], "prod");
        assert_eq!(exec.interactive_mode, Some(ExecInteractiveMode::Never));
    }

    #[test]
    fn insecure_and_server_name_reach_the_cluster_entry() {
        let mut connection = direct(Credentials::Anonymous);
        connection.ca_pem = None;
        connection.insecure = true;
        connection.tls_server_name = Some("kubernetes.default".into());
        let config = kubeconfig(&connection);
        let cluster = config.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.insecure_skip_tls_verify, Some(true));
        assert_eq!(
            cluster.tls_server_name.as_deref(),
            Some("kubernetes.default")
        );
        assert!(cluster.certificate_authority_data.is_none());
    }

    #[tokio::test]
    async fn inline_connections_become_a_kube_config() {
        let connection = Connection::Direct(DirectConnection {
            ca_pem: None,
            ..direct(Credentials::Token("s3cret".into()))
        });
        let client = ClusterClient::connect(&connection).await.unwrap();
        assert_eq!(client.label(), "https://34.1.2.3");
        assert!(!format!("{client:?}").contains("s3cret"));
    }

    const TWO_CONTEXTS: &str = r#"
apiVersion: v1
kind: Config
current-context: staging
clusters:
- name: prod
  cluster:
    server: https://prod.example.com:6443
    insecure-skip-tls-verify: true
- name: staging
  cluster:
    server: https://staging.example.com
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: file-token
contexts:
- name: prod
  context: {cluster: prod, user: admin, namespace: crdb}
- name: staging
  context: {cluster: staging, user: admin}
"#;

    #[tokio::test]
    async fn kubeconfig_files_are_read_with_the_chosen_context() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, TWO_CONTEXTS).unwrap();

        let prod = Connection::KubeconfigFile {
            path: path.clone(),
            context: Some("prod".into()),
        };
        let client = ClusterClient::connect(&prod).await.unwrap();
        assert_eq!(
            client.label(),
            "https://prod.example.com:6443 (context \"prod\")"
        );
        assert_eq!(client.kube().default_namespace(), "crdb");

        let current = Connection::KubeconfigFile {
            path: path.clone(),
            context: None,
        };
        let client = ClusterClient::connect(&current).await.unwrap();
        assert_eq!(
            client.label(),
            "https://staging.example.com (context \"staging\")"
        );

        let missing = Connection::KubeconfigFile {
            path: path.clone(),
            context: Some("dev".into()),
        };
        let error = ClusterClient::connect(&missing).await.unwrap_err();
        assert_eq!(error.attribute, Some("config_context"));
        assert!(error.message.contains("prod, staging"), "{}", error.message);
        let diags = error.to_diagnostics(&AttributePath::root("kubernetes"));
        assert_eq!(
            diags.0[0].path.as_ref().unwrap().to_string(),
            "kubernetes.config_context"
        );

        let broken = dir.path().join("broken");
        std::fs::write(
            &broken,
            "users:\n- name: admin\n  user:\n    token: s3cret-file-token\n  - [unbalanced\n",
        )
        .unwrap();
        let error = ClusterClient::connect(&Connection::KubeconfigFile {
            path: broken,
            context: None,
        })
        .await
        .unwrap_err();
        assert_eq!(error.attribute, Some("config_path"));
        assert!(!error.message.contains("s3cret"), "{}", error.message);
        assert!(error.message.contains("line 5"), "{}", error.message);
        assert_eq!(
            without_quotes(r#"invalid type: string "tok3n", expected a map"#),
            "invalid type: string ..., expected a map"
        );

        let absent = Connection::KubeconfigFile {
            path: dir.path().join("nope"),
            context: None,
        };
        let error = ClusterClient::connect(&absent).await.unwrap_err();
        assert_eq!(error.attribute, Some("config_path"));
        assert!(error.message.contains("does not exist"));
    }
}
