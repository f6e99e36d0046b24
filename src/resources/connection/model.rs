//! The `kubernetes { }` block's schema and model.
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::model::FromValue;
use crate::framework::{Attr, Attribute, Block, Type, Value};
use crate::tf_model;
use std::collections::BTreeMap;

/// The name resources nest the block under.
pub const BLOCK_NAME: &str = "kubernetes";

/// The exec credential API version used when `exec.api_version` is left unset: what
/// `gke-gcloud-auth-plugin` and `aws eks get-token` both speak.
pub const DEFAULT_EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

tf_model! {
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct ConnectionModel {
        pub host: Attr<String>,
        pub cluster_ca_certificate: Attr<String>,
        pub tls_server_name: Attr<String>,
        pub insecure: Attr<bool>,
        pub token: Attr<String>,
        pub client_certificate: Attr<String>,
        pub client_key: Attr<String>,
        pub config_path: Attr<String>,
        pub config_context: Attr<String>,
        pub unreachable_timeout: Attr<String>,
        pub exec: Attr<ExecModel>,
    }
}

tf_model! {
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct ExecModel {
        pub api_version: Attr<String>,
        pub command: Attr<String>,
        pub args: Attr<Vec<Attr<String>>>,
        pub env: Attr<BTreeMap<String, Attr<String>>>,
    }
}

/// The schema of the `kubernetes` block, to be nested with `Block::single_block(BLOCK_NAME, ..)`.
pub fn block() -> Block {
    let s = || Type::String;
    Block::new(
        "How to reach the Kubernetes cluster. Either `host` with `cluster_ca_certificate` and one way to \
         authenticate (`token`, `client_certificate` + `client_key`, or an `exec` block), or `config_path` \
         (with an optional `config_context`) to use a kubeconfig file. Values may come from resources created \
         in the same apply, such as a `google_container_cluster`.",
    )
    .attribute(Attribute::optional(
        "host",
        s(),
        "The Kubernetes API server, e.g. `https://${google_container_cluster.x.endpoint}`. A bare host name or \
         address means HTTPS; plain `http://` is accepted only for a loopback address (`kubectl proxy`).",
    ))
    .attribute(Attribute::optional(
        "cluster_ca_certificate",
        s(),
        "PEM certificate(s) of the CA that signed the API server's certificate, e.g. \
         `base64decode(google_container_cluster.x.master_auth[0].cluster_ca_certificate)`.",
    ))
    .attribute(Attribute::optional(
        "tls_server_name",
        s(),
        "The name to verify the API server's certificate against, when it differs from the name in `host` \
         (e.g. when connecting through an IP address or a tunnel).",
    ))
    .attribute(Attribute::optional(
        "insecure",
        Type::Bool,
        "Skip verification of the API server's certificate. For throwaway test clusters only; conflicts with \
         `cluster_ca_certificate`.",
    ))
    .attribute(
        Attribute::optional(
            "token",
            s(),
            "Bearer token, e.g. `data.google_client_config.x.access_token`. Short-lived tokens can expire during \
             a long apply; an `exec` block fetches fresh ones.",
        )
        .sensitive(),
    )
    .attribute(Attribute::optional(
        "client_certificate",
        s(),
        "PEM client certificate for TLS client authentication; needs `client_key`.",
    ))
    .attribute(
        Attribute::optional(
            "client_key",
            s(),
            "PEM private key of `client_certificate`.",
        )
        .sensitive(),
    )
    .attribute(Attribute::optional(
        "config_path",
        s(),
        "Path to a kubeconfig file (`~` expands to the home directory). The only local file the provider \
         reads, and only when set. Conflicts with `host` and the credential attributes.",
    ))
    .attribute(Attribute::optional(
        "config_context",
        s(),
        "The context of `config_path` to use; defaults to the file's current context.",
    ))
    .attribute(Attribute::optional(
        "unreachable_timeout",
        s(),
        "How long the cluster may answer nothing (connections refused, reset, timing out, or accepted and never \
         answered) before an operation stops and reports it unreachable, naming the API server and the last \
         call: a Go duration from `5s` to `168h`, `60s` when unset. It also bounds each single call, retries \
         included. Shorter outages are ridden through; the operation's own timeout still ends a call or a wait \
         sooner.",
    ))
    .single_block(
        "exec",
        Block::new(
            "A credential plugin run before connecting and whenever its credential expires, such as \
             `gke-gcloud-auth-plugin` or `aws eks get-token`.",
        )
        .attribute(Attribute::optional(
            "api_version",
            s(),
            "The `client.authentication.k8s.io` API version the plugin speaks; defaults to \
             `client.authentication.k8s.io/v1beta1`.",
        ))
        .attribute(Attribute::required(
            "command",
            s(),
            "The plugin executable, found on `PATH` unless given as a path.",
        ))
        .attribute(Attribute::optional(
            "args",
            Type::list(s()),
            "Arguments passed to the plugin, e.g. `[\"eks\", \"get-token\", \"--cluster-name\", \"main\"]`.",
        ))
        .attribute(
            Attribute::optional(
                "env",
                Type::map(s()),
                "Environment variables set for the plugin, on top of the provider's environment. Sensitive: they may \
                 carry credentials.",
            )
            .sensitive(),
        ),
    )
}

/// the value against the same schema.
pub fn model(block: &Value, at: &AttributePath) -> Result<ConnectionModel, Diagnostics> {
    ConnectionModel::from_value(block).map_err(|e| {
        Diagnostics::with_attribute_error(
            at.clone(),
            "Provider bug: unexpected kubernetes block value",
            e.to_string(),
        )
    })
}

/// The connection the block at `at` describes: `Ok(None)` while any value is unknown (plan
/// `token = var.use_token ? x : ""` switches an option off.
pub(super) fn given(attr: &Attr<String>) -> Option<&str> {
    attr.known().map(String::as_str).filter(|s| !s.is_empty())
}
