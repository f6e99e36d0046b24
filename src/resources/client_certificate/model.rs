//! The model and schema of the ephemeral `crdb_client_certificate`: a short-lived client certificate and key for
//! one SQL user, signed by the cluster's CA, for other providers and tools in the same run.
use crate::framework::model::Fields;
use crate::framework::schema::Block;
use crate::framework::{Attr, Attribute, Schema, Type, Value};
use crate::resources::multiregion_cluster;
use crate::tf_model;

pub const TYPE_NAME: &str = "crdb_client_certificate";

/// One hour unless configured otherwise: enough for one run, short enough to be worthless soon after it.
pub const DEFAULT_TTL: &str = "1h";

/// The attributes of `crdb_multiregion_cluster` a certificate is issued with: `cluster =
/// crdb_multiregion_cluster.<name>` passes them (the client drops the others, as for `crdb_region.cluster`).
pub fn cluster_type() -> Type {
    multiregion_cluster::part_type(ClusterCa::FIELDS)
}

tf_model! {
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct ClusterCa {
        pub ca_certificate: Attr<String>,
        pub ca_private_key: Attr<String>,
    }
}

tf_model! {
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct ClientCertificateModel {
        pub cluster: Attr<ClusterCa>,
        pub ca_private_key: Attr<String>,
        pub username: Attr<String>,
        pub ttl: Attr<String>,
        pub certificate: Attr<String>,
        pub private_key: Attr<String>,
        pub ca_certificate: Attr<String>,
        pub expires_at: Attr<String>,
    }
}

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block::new(
            "A short-lived client certificate and private key for one SQL user, issued by the cluster's CA each time \
             the client opens it (every plan and apply that uses it), for other providers and tools in the same run: \
             a PostgreSQL provider creating schemas, a `local-exec` running `cockroach sql`. Ephemeral (Terraform \
             1.10+, OpenTofu 1.11+): never written to plan or state. CockroachDB does not revoke client certificates \
             by default, so `ttl` is what bounds the use of a copied key.",
        )
        .attribute(
            Attribute::required(
                "cluster",
                cluster_type(),
                "The cluster whose CA signs the certificate: `cluster = crdb_multiregion_cluster.<name>`. Sensitive, \
                 since it carries the CA's private key.",
            )
            .sensitive(),
        )
        .attribute(
            Attribute::optional(
                "ca_private_key",
                Type::String,
                "The CA's private key, when the cluster keeps it out of the state (`ca_private_key_wo`, so that \
                 `cluster` carries none): give the same key, from an ephemeral variable or resource. Never stored, \
                 like everything of an ephemeral resource. Conflicts with a key `cluster` carries.",
            )
            .sensitive(),
        )
        .attribute(Attribute::required(
            "username",
            Type::String,
            "The SQL user the certificate logs in as (its common name): lower case letters, digits, `_`, `-` or \
             `.`, at most 63 characters; `node` is refused (it would carry the nodes' own privileges). The user \
             must exist (`crdb_sql_user`, or `root`) for a login to succeed.",
        ))
        .attribute(
            Attribute::optional(
                "ttl",
                Type::String,
                "How long the certificate is valid, as a Go duration, from `5m` (less could expire before a tool in \
                 the same run has connected, or on a node whose clock is a little ahead) to `24h` (a certificate for \
                 one run; anything longer-lived belongs in a credential that is rotated). Never past the CA's own \
                 expiry. The certificate is not renewed: open it again (the next run) for a new one.",
            )
            .default(Value::string(DEFAULT_TTL)),
        )
        .attribute(Attribute::computed(
            "certificate",
            Type::String,
            "PEM client certificate, `CN=<username>`, signed by the cluster CA (`client.<username>.crt` for \
             `cockroach sql --certs-dir`).",
        ))
        .attribute(
            Attribute::computed(
                "private_key",
                Type::String,
                "PEM (PKCS#8) private key of the certificate (`client.<username>.key`), generated for this opening \
                 only.",
            )
            .sensitive(),
        )
        .attribute(Attribute::computed(
            "ca_certificate",
            Type::String,
            "PEM certificate of the cluster CA, to verify the nodes with (`ca.crt`).",
        ))
        .attribute(Attribute::computed(
            "expires_at",
            Type::String,
            "When the certificate expires (RFC 3339).",
        )),
    }
}
