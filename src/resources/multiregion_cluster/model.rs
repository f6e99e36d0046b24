//! The model and schema of `crdb_multiregion_cluster`, with the attribute descriptions users read.
use crate::framework::{Attr, Attribute, Block, Schema, Type, Value};
use crate::resources::certificates::{
    DEFAULT_CA_VALIDITY, DEFAULT_CERTIFICATE_RENEWAL, DEFAULT_CERTIFICATE_VALIDITY,
};
use crate::tf_model;

pub const TYPE_NAME: &str = "crdb_multiregion_cluster";

/// How many nodes of each zone every node is told to join: enough to survive losing two of them,
/// few enough that a zone with three replicas resolves every address.
pub const JOIN_NODES_PER_ZONE: usize = 3;
pub(super) const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";
/// The values of `upgrade_finalization`; the first is the default.
pub const FINALIZATION_MODES: [&str; 2] = ["auto", "manual"];
/// The values of `disruption_budget`; the first is the default.
pub const DISRUPTION_BUDGETS: [&str; 2] = ["node", "zone"];

tf_model! {
    #[derive(Clone, Debug, Default)]
    pub struct ClusterModel {
        pub id: Attr<String>,
        pub name: Attr<String>,
        pub image: Attr<String>,
        pub version: Attr<String>,
        pub upgrade_finalization: Attr<String>,
        pub disruption_budget: Attr<String>,
        pub cluster_version: Attr<String>,
        pub zones: Attr<Vec<Attr<String>>>,
        pub init_zone: Attr<String>,
        pub join_addresses: Attr<Vec<String>>,
        pub cluster_domain: Attr<String>,
        pub pki_generation: Attr<i64>,
        pub certificate_validity: Attr<String>,
        pub certificate_renewal: Attr<String>,
        pub ca_validity: Attr<String>,
        pub ca_certificate: Attr<String>,
        pub ca_private_key: Attr<String>,
        pub ca_private_key_wo: Attr<String>,
        pub ca_generated: Attr<bool>,
        pub ca_fingerprint_sha256: Attr<String>,
        pub ca_expires_at: Attr<String>,
        pub previous_ca_certificate: Attr<String>,
        pub root_client_certificate: Attr<String>,
        pub root_client_private_key: Attr<String>,
        pub root_client_certificate_expires_at: Attr<String>,
    }
}

impl ClusterModel {
    /// The zones when every one of them is known.
    pub(super) fn known_zones(&self) -> Option<Vec<String>> {
        self.zones
            .known()?
            .iter()
            .map(|z| z.known().cloned())
            .collect()
    }
}

pub(super) fn schema() -> Schema {
    let s = Type::String;
    Schema {
        version: 0,
        block: Block::new(
            "One secure CockroachDB cluster spread over several zones, each zone a namespace in its own Kubernetes \
             cluster (see `crdb_region`). This resource holds the cluster's identity, its version and its PKI; it \
             contacts nothing. A CA is generated unless you bring one; a generated CA exists only in Terraform \
             state and cannot be recovered by import.",
        )
        .attribute(
            Attribute::computed("id", s.clone(), "The cluster name.").keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::required(
                "name",
                s.clone(),
                "Name of the CockroachDB cluster (a DNS-1123 label). Changing it creates a new cluster.",
            )
            .requires_replace(),
        )
        .attribute(Attribute::required(
            "image",
            s.clone(),
            "CockroachDB container image with a version tag, e.g. `cockroachdb/cockroach:v24.1.0`. The one source \
             of truth for the version: changing it rolls an upgrade through every region in place. The plan \
             refuses a change CockroachDB would refuse: any patch release of the running major version is fine, but \
             an upgrade goes one major version at a time, where Innovation releases (v24.2, v25.1, v25.3, v26.1, \
             every second major from v24.1 on) may be skipped: v23.2 to v24.1, v24.1 to v24.2 or v24.3, v24.2 to \
             v24.3, v24.3 to v25.1 or v25.2. Going back is possible only to the major version of an upgrade that is \
             not finalized (see `upgrade_finalization`). Tags that are not `vMAJOR.MINOR.PATCH` (`latest`, \
             digests) are not judged.",
        ))
        .attribute(Attribute::computed(
            "version",
            s.clone(),
            "The CockroachDB version: the tag of `image`.",
        ))
        .attribute(Attribute::computed(
            "cluster_version",
            s.clone(),
            "The major version the cluster is finalized at (`24.1`), what `SHOW CLUSTER SETTING version` reports \
             once the configuration is applied: the major version of `image`, except while a `manual` upgrade is \
             not finalized, when it stays at the major version the upgrade came from, the one `image` may roll back \
             to. Null for an image tag that is not a release version.",
        ))
        .attribute(Attribute::required(
            "zones",
            Type::list(s.clone()),
            "The zones that make up the cluster, in order. Each is a DNS-1123 label and becomes the namespace of \
             its `crdb_region`. Changing the list updates the join list in place.",
        ))
        .attribute(
            Attribute::optional_computed(
                "init_zone",
                s.clone(),
                "The zone whose region runs `cockroach init`. Defaults to the first zone and then stays put when \
                 zones are added.",
            ),
        )
        .attribute(Attribute::computed(
            "join_addresses",
            Type::list(s.clone()),
            "The `--join` addresses every node starts with: the first three nodes of each zone.",
        ))
        .attribute(
            Attribute::optional(
                "cluster_domain",
                s.clone(),
                "The Kubernetes cluster DNS domain, used in the nodes' certificate names.",
            )
            .default(Value::string(DEFAULT_CLUSTER_DOMAIN)),
        )
        .attribute(
            Attribute::optional(
                "pki_generation",
                Type::Number,
                "Bump this number to rotate a generated CA: a new CA and root client certificate, rolled out to every \
                 zone without downtime (see `previous_ca_certificate` and the certificates guide). No other change \
                 ever regenerates the CA.",
            )
            .default(Value::int(1)),
        )
        .attribute(
            Attribute::optional(
                "certificate_validity",
                s.clone(),
                "How long node certificates and the `root` client certificate are issued for, a Go duration \
                 (`8760h` = one year, the default), from 1m to 87600h (ten years). A certificate is also never \
                 issued past the CA's own expiry. Changing it re-issues nothing at once: it applies to the \
                 certificates issued from then on.",
            )
            .default(Value::string(DEFAULT_CERTIFICATE_VALIDITY)),
        )
        .attribute(
            Attribute::optional(
                "certificate_renewal",
                s.clone(),
                "The renewal window, a Go duration (`720h` = 30 days, the default), shorter than \
                 `certificate_validity`: once a node or the root client certificate expires within it, every plan \
                 shows it renewed as an in-place update (with a warning naming the certificate and its expiry), \
                 with no configuration change, and apply re-issues it and restarts the zone's nodes one at a time \
                 under the health gates.",
            )
            .default(Value::string(DEFAULT_CERTIFICATE_RENEWAL)),
        )
        .attribute(
            Attribute::optional(
                "ca_validity",
                s.clone(),
                "How long a generated CA is valid, a Go duration (`87600h` = ten years, the default), longer than \
                 `certificate_validity` and at most 876000h. Used when a CA is generated; a CA you bring keeps its \
                 own dates. Plans warn once new certificates would be cut short by the CA's expiry: rotate the CA \
                 then (see the certificates guide).",
            )
            .default(Value::string(DEFAULT_CA_VALIDITY)),
        )
        .attribute(
            Attribute::optional(
                "upgrade_finalization",
                s.clone(),
                "How a major-version upgrade is finalized. `auto`: CockroachDB finalizes it by itself once every \
                 node runs the new binary, and from then on the cluster can never run the old major version again \
                 (only a restore from a backup goes back). `manual`: before a region rolls its nodes to a new major \
                 version, it sets `cluster.preserve_downgrade_option` to the major version the cluster is finalized \
                 at (a `cockroach sql` Job in its zone, every region, idempotent), so the upgrade stays open: \
                 `cluster_version` keeps the old major version, features that need finalization stay off, and \
                 `image` may go back to that major version (a rollback; keep `manual` until it is applied). \
                 Switching from `manual` to `auto` finalizes: the regions run \
                 `RESET CLUSTER SETTING cluster.preserve_downgrade_option` and CockroachDB finalizes once every node \
                 runs the new binary; a rollback is refused from then on. The next upgrade may switch to `manual` \
                 again in the same change as its `image`.",
            )
            .default(Value::string(FINALIZATION_MODES[0])),
        )
        .attribute(
            Attribute::optional(
                "disruption_budget",
                s.clone(),
                "How many CockroachDB nodes a rollout (a patch upgrade, a certificate renewal, a CA rotation step, a \
                 change that restarts nodes) may take down at once. `node` (the default): one node at a time across \
                 the whole cluster. `zone`: every node of one zone at once, one zone at a time, but only where \
                 CockroachDB's own replica placement says no range would lose quorum without that zone: when a \
                 region's rollout starts, the Job that takes the database's disruption lease also reads every \
                 range's voting replicas and their localities (`crdb_internal.ranges_no_leases`), and a zone that \
                 holds half or more of any range's voters (a `SURVIVE ZONE FAILURE` database whose voters all live \
                 in its primary region, a replication factor that puts two voters of a range in one zone) is rolled \
                 one node at a time instead, with a warning naming the zone and why (with fewer than three zones \
                 every zone is critical, and the plan warns). Every zone's rollout still opens and closes with the \
                 health gate. Changing it restarts nothing.",
            )
            .default(Value::string(DISRUPTION_BUDGETS[0])),
        )
        .attribute(
            Attribute::optional_computed(
                "ca_certificate",
                s.clone(),
                "PEM certificate of the cluster CA. Set it, with `ca_private_key`, to bring your own CA (for \
                 example the one the old setup script left in its safe directory); otherwise a CA is generated. \
                 Changing it rotates the CA without downtime (see the certificates guide).",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::optional_computed(
                "ca_private_key",
                s.clone(),
                "PEM private key of the cluster CA (RSA, or ECDSA P-256/P-384; unencrypted), kept in the state. Generated \
                 with the CA unless you bring one; null when you bring it as `ca_private_key_wo`.",
            )
            .sensitive()
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::optional(
                "ca_private_key_wo",
                s.clone(),
                "PEM private key of a CA you bring with `ca_certificate`, write-only (recommended): checked against \
                 the certificate at plan, used by the applies that sign certificates, and never stored in plan or \
                 state. Needs Terraform 1.11+ or OpenTofu 1.11+. With it, `ca_private_key` and the `root` client \
                 certificate stay null: each `crdb_region` issues its zone's certificates and `root` client during \
                 an apply given the same key in its own `ca_private_key_wo`. Required when `ca_certificate` is new \
                 (a create, a rotation); optional after. Conflicts with `ca_private_key`. See the security guide.",
            )
            .sensitive()
            .write_only(),
        )
        .attribute(
            Attribute::computed(
                "ca_generated",
                Type::Bool,
                "Whether the provider generated the CA (true) or you brought it (false).",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "ca_fingerprint_sha256",
                s.clone(),
                "SHA-256 fingerprint of the CA certificate: shows a CA change in plans without showing the CA.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed("ca_expires_at", s.clone(), "When the CA certificate expires (RFC 3339).")
                .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "previous_ca_certificate",
                s.clone(),
                "The CA certificate this cluster rotated from (its last CA change: a new `pki_generation` or another \
                 `ca_certificate`), null before any. The regions keep it trusted beside the new CA until every \
                 node and client has a certificate from the new one, then drop it (see the certificates guide). \
                 Public: it holds no key.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "root_client_certificate",
                s.clone(),
                "PEM client certificate of the `root` SQL user, signed by the CA; null with `ca_private_key_wo` (each \
                 zone then issues its own, kept only in its Secrets).",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "root_client_private_key",
                s.clone(),
                "PEM private key of the `root` client certificate; null with `ca_private_key_wo`.",
            )
            .sensitive()
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "root_client_certificate_expires_at",
                s,
                "When the `root` client certificate expires (RFC 3339). Inside the renewal window the plan renews it.",
            )
            .keep_prior_value_when_unset(),
        ),
    }
}
