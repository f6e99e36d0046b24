//! The model and schema of `crdb_region`, with the attribute descriptions users read.
use crate::framework::model::Fields;
use crate::framework::schema::Block;
use crate::framework::timeouts::{self, Operation};
use crate::framework::{Attr, Attribute, Schema, Type, Value};
use crate::resources::multiregion_cluster;
use crate::tf_model;
use std::collections::BTreeMap;

pub const TYPE_NAME: &str = "crdb_region";

/// The attributes of `crdb_multiregion_cluster` a region consumes. Declared as an object type so
/// that `cluster = crdb_multiregion_cluster.main` passes the whole resource in one expression:
/// Terraform drops the attributes not named here, keeps the keys' sensitivity, and shows an
/// image change as `~ image = "v1" -> "v2"` inside the object.
pub fn cluster_type() -> Type {
    multiregion_cluster::part_type(ClusterRef::FIELDS)
}

tf_model! {
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct ClusterRef {
        pub name: Attr<String>,
        pub image: Attr<String>,
        pub version: Attr<String>,
        pub upgrade_finalization: Attr<String>,
        pub disruption_budget: Attr<String>,
        pub cluster_version: Attr<String>,
        pub zones: Attr<Vec<Attr<String>>>,
        pub init_zone: Attr<String>,
        pub join_addresses: Attr<Vec<Attr<String>>>,
        pub cluster_domain: Attr<String>,
        pub certificate_validity: Attr<String>,
        pub certificate_renewal: Attr<String>,
        pub ca_certificate: Attr<String>,
        pub ca_private_key: Attr<String>,
        pub ca_fingerprint_sha256: Attr<String>,
        pub previous_ca_certificate: Attr<String>,
        pub root_client_certificate: Attr<String>,
        pub root_client_private_key: Attr<String>,
    }
}

impl ClusterRef {
    pub fn known_zones(&self) -> Option<Vec<String>> {
        self.zones
            .known()?
            .iter()
            .map(|z| z.known().cloned())
            .collect()
    }
}

tf_model! {
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct RegionModel {
        pub id: Attr<String>,
        pub cluster: Attr<ClusterRef>,
        pub ca_private_key_wo: Attr<String>,
        pub zone: Attr<String>,
        pub region: Attr<String>,
        pub image: Attr<String>,
        pub replicas: Attr<i64>,
        pub storage_size: Attr<String>,
        pub storage_class: Attr<String>,
        pub cpu_request: Attr<String>,
        pub cpu_limit: Attr<String>,
        pub memory_request: Attr<String>,
        pub memory_limit: Attr<String>,
        pub dns_load_balancer: Attr<String>,
        pub dns_load_balancer_annotations: Attr<BTreeMap<String, String>>,
        pub dns_resolver: Attr<String>,
        pub deletion_protection: Attr<bool>,
        pub namespace: Attr<String>,
        pub sql_address: Attr<String>,
        pub http_address: Attr<String>,
        pub connection_url: Attr<String>,
        pub dns_address: Attr<String>,
        pub dns_protocol: Attr<String>,
        pub node_certificate: Attr<String>,
        pub node_private_key: Attr<String>,
        pub node_certificate_expires_at: Attr<String>,
        pub ca_rotation_completed: Attr<String>,
        pub initialized: Attr<bool>,
        pub missing_objects: Attr<Vec<String>>,
        pub layout: Attr<String>,
        pub kubernetes: Attr<Value>,
        pub timeouts: Attr<Value>,
    }
}

/// The CPU request and limit of a node when the configuration sets none.
pub const DEFAULT_CPU: &str = "2";
/// The memory request and limit of a node when the configuration sets none.
pub const DEFAULT_MEMORY: &str = "8Gi";

pub fn schema(connection_block: Block) -> Schema {
    let s = || Type::String;
    Schema {
        version: 0,
        block: Block::new(
            "One zone of a `crdb_multiregion_cluster`: a namespace named after the zone in one Kubernetes cluster, \
             holding the zone's CockroachDB nodes (a StatefulSet), their certificates, services, disruption budget, \
             and the DNS load balancer its peers resolve it through. The init zone's region initialises the cluster. \
             Raising `replicas` scales out; lowering it decommissions the nodes that will go (the highest ordinals) \
             before their pods are removed; lowering it to 0 stops the zone and keeps its volumes (an outage drill). \
             Raising `storage_size` grows the volumes in place. Changing the cluster's image rolls the StatefulSet one \
             pod at a time (with the cluster's `upgrade_finalization = \"manual\"`, a major-version upgrade first sets \
             `cluster.preserve_downgrade_option` through a `cockroach sql` Job in the zone, and switching back to \
             `\"auto\"` resets it), and destroying the region deletes its namespace, data included, which \
             `deletion_protection` guards.",
        )
        .attribute(Attribute::computed("id", s(), "The zone.").keep_prior_value_when_unset())
        .attribute(
            Attribute::required(
                "cluster",
                cluster_type(),
                "The cluster this zone belongs to: `cluster = crdb_multiregion_cluster.<name>`. Sensitive, since it \
                 carries the cluster's CA and root client keys: the region's `image` shows what a change of it means \
                 for the zone.",
            )
            .sensitive(),
        )
        .attribute(
            Attribute::optional(
                "ca_private_key_wo",
                s(),
                "The cluster's CA private key, write-only, when the cluster takes it as `ca_private_key_wo` (so that \
                 `cluster` carries no key): used by the applies that sign this zone's certificates (its creation, a \
                 renewal, a CA rotation, a lost Secret) and never stored in plan or state. A plan that signs without \
                 it is refused on this attribute, saying why it signs; other applies need not give it. Needs \
                 Terraform 1.11+ or OpenTofu 1.11+. Give it from an ephemeral variable or resource.",
            )
            .sensitive()
            .write_only(),
        )
        .attribute(Attribute::computed(
            "image",
            s(),
            "The image the zone's nodes run: the cluster's `image`, or what the zone's StatefulSet was found running. \
             A change of the cluster's image shows here in the region's plan; so does a rollout an apply left \
             part-way (`<image> (rollout unfinished: 1 of 3 nodes on it)`), which the next apply completes.",
        ))
        .attribute(
            Attribute::required(
                "zone",
                s(),
                "The zone, one of the cluster's `zones`; also the namespace everything lives in. Changing it replaces \
                 the region (refused while `deletion_protection` is true).",
            )
            .requires_replace(),
        )
        .attribute(Attribute::optional(
            "region",
            s(),
            "The region part of the nodes' locality (`--locality region=<region>,zone=<zone>`).",
        ))
        .attribute(
            Attribute::optional(
                "replicas",
                Type::Number,
                "Number of CockroachDB nodes in this zone: a whole number from 0 to 1000.",
            )
                .default(Value::int(3)),
        )
        .attribute(
            Attribute::optional(
                "storage_size",
                s(),
                "Size of each node's data volume, a Kubernetes quantity. Raising it grows the volumes in place: their \
                 StorageClass must set `allowVolumeExpansion: true` (checked before anything changes), each claim is \
                 expanded, and the StatefulSet, whose claim template cannot change, is re-created around its running \
                 pods, which are neither restarted nor replaced; apply then waits for the claims to report the new \
                 capacity. Kubernetes cannot shrink a volume, so a smaller value is refused at plan time. The same \
                 amount written otherwise (`100Gi`, `102400Mi`) is no change. Above 0 and at most 1Ei.",
            )
            .default(Value::string("100Gi")),
        )
        .attribute(
            Attribute::optional(
                "storage_class",
                s(),
                "Storage class of the data volumes; the cluster's default class when unset. Kubernetes cannot move a \
                 volume to another class, so changing it replaces the region (refused while `deletion_protection` is \
                 true): the zone's nodes start again on new, empty volumes and CockroachDB re-replicates their data \
                 from the other zones. Setting it to the name of the cluster's default class also counts as a change.",
            )
            .requires_replace(),
        )
        .attribute(
            Attribute::optional("cpu_request", s(), "CPU request of each node, a Kubernetes quantity of at most 1Ei.")
                .default(Value::string(DEFAULT_CPU)),
        )
        .attribute(
            Attribute::optional("cpu_limit", s(), "CPU limit of each node, a Kubernetes quantity above 0 and of at most 1Ei, no smaller than `cpu_request`.")
                .default(Value::string(DEFAULT_CPU)),
        )
        .attribute(
            Attribute::optional("memory_request", s(), "Memory request of each node, a Kubernetes quantity of at most 1Ei.")
                .default(Value::string(DEFAULT_MEMORY)),
        )
        .attribute(
            Attribute::optional(
                "memory_limit",
                s(),
                "Memory limit of each node, above 0 and of at most 1Ei, no smaller than `memory_request`; the node's \
                 cache and SQL memory are each a quarter of it.",
            )
            .default(Value::string(DEFAULT_MEMORY)),
        )
        .attribute(
            Attribute::optional(
                "dns_load_balancer",
                s(),
                "How peers reach this cluster's DNS, and so which one protocol its load balancer Service \
                 (`kube-system/crdb-dns-<zone>`) serves on port 53. Cloud controllers provision nothing for a \
                 LoadBalancer Service mixing UDP and TCP in several cases (AWS with the in-tree or cloud-provider-aws \
                 controller: event `SyncLoadBalancerFailed` \"mixed protocol is not supported for LoadBalancer\"; \
                 GKE internal load balancers, and external ones on clusters created before 1.34: event \
                 `LoadBalancerMixedProtocolNotSupported`), so each kind serves the protocol its peers forward \
                 with: `public` (no annotations; UDP, as the original procedure's `dns-lb.yaml`, for kube-dns peers \
                 such as GKE's), `gke-internal` (UDP; `networking.gke.io/load-balancer-type: Internal` and \
                 `networking.gke.io/internal-load-balancer-allow-global-access: true`, needs a shared or peered \
                 VPC), `aws-internal` (TCP, for EKS's CoreDNS, whose forwarding the provider writes with \
                 `force_tcp`; `service.beta.kubernetes.io/aws-load-balancer-type: nlb`, \
                 `service.beta.kubernetes.io/aws-load-balancer-scheme: internal` and \
                 `service.beta.kubernetes.io/aws-load-balancer-internal: true`) or `azure-internal` (TCP, for AKS's \
                 CoreDNS; `service.beta.kubernetes.io/azure-load-balancer-internal: true`). A Service that already \
                 serves one protocol keeps it (its peers forward with it: an adopted setup-script zone on EKS keeps \
                 TCP); one serving both, as earlier versions made it, is listed in `missing_objects` and given its \
                 kind's protocol by the next apply. `dns_protocol` says which it is; peers must forward with it \
                 (`crdb_dns_link` `peer_protocols`): CoreDNS clusters forward with either, kube-dns clusters with \
                 UDP only.",
            )
            .default(Value::string("public")),
        )
        .attribute(Attribute::optional(
            "dns_load_balancer_annotations",
            Type::map(s()),
            "Extra annotations on the DNS load balancer Service, applied after those `dns_load_balancer` implies.",
        ))
        .attribute(Attribute::optional(
            "dns_resolver",
            s(),
            "A DNS server (`ip:port`) that resolves the DNS load balancer's host name where the platform gives one \
             (AWS), for example the VPC resolver; the provider's own resolver when unset. kube-dns and CoreDNS \
             forward to IP addresses only, so `dns_address` is always an IP.",
        ))
        .attribute(
            Attribute::optional(
                "deletion_protection",
                Type::Bool,
                "While true, destroying or replacing the region (which deletes its data) fails. Set it to false and \
                 apply before destroying.",
            )
            .default(Value::Bool(true)),
        )
        .attribute(Attribute::computed("namespace", s(), "The namespace of the zone.").keep_prior_value_when_unset())
        .attribute(
            Attribute::computed(
                "sql_address",
                s(),
                "`host:port` of the zone's SQL service inside its Kubernetes cluster (`cockroachdb-public.<zone>:26257`, \
                 covered by the node certificate).",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "http_address",
                s(),
                "`host:port` of the zone's DB Console inside its Kubernetes cluster; reach it from a workstation with \
                 `kubectl port-forward -n <zone> service/cockroachdb-public 8080` (see docs/guides/sql.md).",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "connection_url",
                s(),
                "A connection URL for `root` with the root client certificate, for a client pod in the cluster that \
                 mounts the root client secret at `/cockroach-certs` (as the original procedure's client pod does). \
                 It names the certificate files, never their content.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "dns_address",
                s(),
                "Address of this cluster's DNS load balancer, for the peers' `crdb_dns_link`.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "dns_protocol",
                s(),
                "The one protocol this cluster's DNS load balancer serves, `udp` or `tcp` (see \
                 `dns_load_balancer`), for the peers' `crdb_dns_link` `peer_protocols`: a peer forwarding with the \
                 other one gets no answer.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed("node_certificate", s(), "PEM certificate of this zone's nodes, signed by the cluster CA.")
                .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "node_private_key",
                s(),
                "PEM private key of this zone's nodes, kept in the state when the cluster's CA key is (and the \
                 certificate was issued by this provider); null when the CA key is write-only, or after an import: \
                 the key then lives only in the zone's Secret.",
            )
                .sensitive()
                .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "node_certificate_expires_at",
                s(),
                "When this zone's node certificate expires (RFC 3339). Inside the cluster's `certificate_renewal` \
                 window every plan shows it renewed (a warning names it and its date), and apply issues a new one \
                 and restarts the zone's nodes onto it one at a time under the health gates.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "ca_rotation_completed",
                s(),
                "SHA-256 fingerprint of the CA the cluster last rotated from (its `previous_ca_certificate`), once \
                 this region saw every zone of the cluster finish that rotation; null before any rotation. While it \
                 differs, the region plans an update, so that every zone takes part in the rotation's next run.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "initialized",
                Type::Bool,
                "Whether this region ran (or found done) `cockroach init`; only the init zone's region does.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(Attribute::computed(
            "missing_objects",
            Type::list(s()),
            "Objects of the zone that the last read did not find (deleted by hand), or found in a shape the next \
             apply must change (a DNS load balancer serving UDP and TCP together, as earlier versions of the provider made it): \
             the next apply re-creates or fixes them. Empty after every apply.",
        ))
        .attribute(
            Attribute::computed(
                "layout",
                s(),
                "How the zone's objects are named and selected: `provider` for a zone this provider created, \
                 `setup-script` for one adopted from the original multi-region setup script. An adopted zone keeps \
                 the script's StatefulSet selector (`app: cockroachdb`, which Kubernetes never lets change), its DNS \
                 load balancer `kube-system/kube-dns-lb` (so peers keep its address), its PodDisruptionBudget \
                 `cockroachdb-budget` and its `default/cockroachdb.client.root` secret, and the pods keep running \
                 the script's pod template until the cluster's image or the region changes, which rolls them onto \
                 the provider's template one at a time.",
            )
            .keep_prior_value_when_unset(),
        )
        .single_block("kubernetes", connection_block)
        .single_block(
            "timeouts",
            timeouts::block(&[Operation::Create, Operation::Update, Operation::Delete]),
        ),
    }
}
