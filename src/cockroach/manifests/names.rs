//! The names, labels and paths the zone's objects share. Names are fixed by what the node certificates cover and
//! by what clients and the original procedure expect; see the module documentation for the few that carry the zone.

use std::collections::BTreeMap;

pub const STATEFULSET: &str = "cockroachdb";
/// The headless service: it gives each pod its `cockroachdb-<i>.cockroachdb.<zone>` name (the `*.cockroachdb.*`
/// SANs of the node certificate).
pub const HEADLESS_SERVICE: &str = "cockroachdb";
/// Covered by the node certificate as `cockroachdb-public`, `cockroachdb-public.<zone>` and
/// `cockroachdb-public.default`: the same name is used for the ExternalName alias in `default`.
pub const PUBLIC_SERVICE: &str = "cockroachdb-public";
pub const SERVICE_ACCOUNT: &str = "cockroachdb";
/// The Role and its RoleBinding.
pub const ROLE: &str = "cockroachdb";
pub const PDB: &str = "cockroachdb";
pub const INIT_JOB: &str = "cockroachdb-init";
/// The ConfigMap holding the join list, read by the nodes through [`JOIN_ENV`] when their container is created:
/// outside the pod template, so that a new zone's join list restarts no running node (they find the cluster
/// through gossip), while new and restarted pods read the new list.
pub const JOIN_CONFIG_MAP: &str = "cockroachdb-join";
pub const JOIN_KEY: &str = "join";
pub const JOIN_ENV: &str = "COCKROACH_JOIN";
/// The Jobs that hold a major-version upgrade open (`cluster.preserve_downgrade_option`) and finalize it.
pub const PRESERVE_DOWNGRADE_JOB: &str = "cockroachdb-preserve-downgrade";
pub const FINALIZE_UPGRADE_JOB: &str = "cockroachdb-finalize-upgrade";
pub const NODE_SECRET: &str = "cockroachdb.node";
pub const CLIENT_ROOT_SECRET: &str = "cockroachdb.client.root";

pub const DEFAULT_NAMESPACE: &str = "default";
pub const KUBE_SYSTEM: &str = "kube-system";

pub const CONTAINER: &str = "cockroachdb";
pub const INIT_CONTAINER: &str = "cluster-init";
pub const CERTS_VOLUME: &str = "certs";
pub const DATA_VOLUME: &str = "datadir";
pub const NODE_CERTS_DIR: &str = "/cockroach/cockroach-certs";
pub const CLIENT_CERTS_DIR: &str = "/cockroach/cockroach-client-certs";
pub const DATA_DIR: &str = "/cockroach/cockroach-data";
pub const BINARY: &str = "/cockroach/cockroach";

pub const GRPC_PORT: i32 = 26257;
pub const HTTP_PORT: i32 = 8080;
pub const DNS_PORT: i32 = 53;

/// Secret files are readable by the owner only: CockroachDB refuses group- or world-readable keys.
pub const SECRET_FILE_MODE: i32 = 0o400;

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
pub const LABEL_ZONE: &str = "crdb.terraform.io/zone";
/// On the node pods' template: a digest of the `ca.crt` and `node.crt` the nodes are to load. CockroachDB reads its
/// certificates when it starts, so new ones change the template, and the provider's paced rollout restarts each
/// node onto them, one at a time under the health gates.
pub const CERTIFICATES_ANNOTATION: &str = "crdb.terraform.io/certificates-sha256";
pub const MANAGER: &str = "terraform-provider-crdb";
pub const APP: &str = "cockroachdb";
pub const COMPONENT_DATABASE: &str = "database";
pub const COMPONENT_INIT: &str = "init";
pub const COMPONENT_DECOMMISSION: &str = "decommission";
pub const COMPONENT_UPGRADE: &str = "upgrade";
pub const COMPONENT_DNS: &str = "dns";
/// The Jobs (and their statement Secrets) of `crdb_sql_user` and `crdb_database`.
pub const COMPONENT_SQL: &str = "sql";

/// The DNS pods every Kubernetes DNS add-on (kube-dns and CoreDNS alike) carries.
pub const DNS_POD_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

/// Kubernetes object names (Services) are DNS-1035 labels: at most 63 characters.
const MAX_SERVICE_NAME: usize = 63;

/// The copy of the root client secret in `default`. Two zones may share one Kubernetes cluster; a single
/// `cockroachdb.client.root` there would be owned by both and deleted with whichever goes first, so each zone
/// names its own. Nothing the provider runs mounts this copy: it is for client pods users start in `default`.
pub fn default_client_root_secret_name(zone: &str) -> String {
    format!("{CLIENT_ROOT_SECRET}.{zone}")
}

/// The DNS load balancer in `kube-system`, one per zone for the same reason as the secret: peers forward each zone
/// to its own address, and destroying one zone must not take another zone's DNS with it.
pub fn dns_load_balancer_name(zone: &str) -> String {
    bounded_name("crdb-dns-", zone)
}

/// `prefix + zone`, or when that is too long for a Service, a cut zone plus a hash of the whole of it, so
/// distinct zones keep distinct names.
fn bounded_name(prefix: &str, zone: &str) -> String {
    let name = format!("{prefix}{zone}");
    if name.len() <= MAX_SERVICE_NAME {
        return name;
    }
    let hash = format!("{:08x}", fnv1a32(zone));
    let keep = MAX_SERVICE_NAME - prefix.len() - hash.len() - 1;
    let cut: String = zone.chars().take(keep).collect();
    format!("{prefix}{}-{hash}", cut.trim_end_matches('-'))
}

/// The name of a SQL Job (and its Secret) acting on `object` for `purpose` (`user`, `read-user`...): distinct
/// per object, so that Terraform's parallel applies in one zone never share a Job, and a valid object name
/// whatever the SQL name holds (`.`, `_`, upper case) through a hash of it.
pub fn sql_job_name(purpose: &str, object: &str) -> String {
    let prefix = format!("crdb-sql-{purpose}-");
    let plain: String = object
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if plain == object && prefix.len() + plain.len() <= MAX_SERVICE_NAME {
        return format!("{prefix}{plain}");
    }
    let hash = format!("{:08x}", fnv1a32(object));
    let budget = MAX_SERVICE_NAME.saturating_sub(prefix.len() + hash.len() + 1);
    let cut: String = plain.chars().take(budget).collect();
    let cut = cut.trim_matches('-');
    if cut.is_empty() {
        format!("{prefix}{hash}")
    } else {
        format!("{prefix}{cut}-{hash}")
    }
}

#[cfg(test)]
mod sql_tests {
    use super::*;

    #[test]
    fn service_addresses_follow_the_zone_and_the_url_names_files_only() {
        assert_eq!(
            sql_address("us-east1-b"),
            "cockroachdb-public.us-east1-b:26257"
        );
        assert_eq!(
            http_address("us-east1-b"),
            "cockroachdb-public.us-east1-b:8080"
        );
        let url = root_connection_url("us-east1-b");
        assert!(url.starts_with(
            "postgresql://root@cockroachdb-public.us-east1-b:26257/defaultdb?sslmode=verify-full&"
        ));
        assert!(
            url.contains("sslkey=/cockroach-certs/client.root.key"),
            "{url}"
        );
    }

    #[test]
    fn sql_job_names_are_valid_and_distinct() {
        assert_eq!(sql_job_name("user", "app"), "crdb-sql-user-app");
        let dotted = sql_job_name("user", "App.Ops");
        assert!(dotted.starts_with("crdb-sql-user-app-ops-"), "{dotted}");
        assert_ne!(
            sql_job_name("user", "app_ops"),
            sql_job_name("user", "app.ops")
        );
        let long = sql_job_name("read-database", &"x".repeat(200));
        assert!(long.len() <= MAX_SERVICE_NAME, "{long}");
        assert!(!sql_job_name("user", "_").ends_with('-'));
    }
}

/// A small stable hash (FNV-1a): names must not change between provider versions.
fn fnv1a32(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// `<service>.<zone>.svc.<domain>`.
pub fn service_fqdn(service: &str, zone: &str, cluster_domain: &str) -> String {
    format!("{service}.{zone}.svc.{cluster_domain}")
}

/// Where the client certificates sit in the client pod of the original procedure (`client-secure`), which mounts
/// the root client secret there.
pub const CLIENT_POD_CERTS_DIR: &str = "/cockroach-certs";

/// The zone's SQL service inside its Kubernetes cluster: `cockroachdb-public.<zone>` resolves from any namespace
/// through the cluster's DNS search path, and the node certificate covers that name.
pub fn sql_address(zone: &str) -> String {
    format!("{PUBLIC_SERVICE}.{zone}:{GRPC_PORT}")
}

/// The zone's DB Console (HTTP) service inside its Kubernetes cluster.
pub fn http_address(zone: &str) -> String {
    format!("{PUBLIC_SERVICE}.{zone}:{HTTP_PORT}")
}

/// A connection URL for `root` with the root client certificate, as a client pod mounting the root client secret
/// at [`CLIENT_POD_CERTS_DIR`] uses it. It names files, never their content.
pub fn root_connection_url(zone: &str) -> String {
    let dir = CLIENT_POD_CERTS_DIR;
    format!(
        "postgresql://root@{}/defaultdb?sslmode=verify-full&sslrootcert={dir}/ca.crt&sslcert={dir}/client.root.crt&sslkey={dir}/client.root.key",
        sql_address(zone)
    )
}

/// Labels every object of the zone carries: who manages it, which cluster and zone it belongs to.
pub fn common_labels(cluster_name: &str, zone: &str) -> BTreeMap<String, String> {
    [
        (LABEL_NAME, APP),
        (LABEL_MANAGED_BY, MANAGER),
        (LABEL_PART_OF, cluster_name),
        (LABEL_ZONE, zone),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `common_labels` plus the component, so that one kind of pod can be selected without the others.
pub fn component_labels(
    cluster_name: &str,
    zone: &str,
    component: &str,
) -> BTreeMap<String, String> {
    let mut labels = common_labels(cluster_name, zone);
    labels.insert(LABEL_COMPONENT.to_owned(), component.to_owned());
    labels
}

/// What the services, the PodDisruptionBudget and the StatefulSet select: the node pods only, never the init
/// Job's pod. Fixed for the life of the StatefulSet, whose selector cannot change.
pub fn node_selector() -> BTreeMap<String, String> {
    [(LABEL_NAME, APP), (LABEL_COMPONENT, COMPONENT_DATABASE)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_zone_names_in_shared_namespaces_differ() {
        assert_eq!(
            default_client_root_secret_name("us-east1-b"),
            "cockroachdb.client.root.us-east1-b"
        );
        assert_eq!(dns_load_balancer_name("us-east1-b"), "crdb-dns-us-east1-b");
        assert_ne!(dns_load_balancer_name("a"), dns_load_balancer_name("b"));
    }

    #[test]
    fn long_zones_get_bounded_distinct_service_names() {
        let a = format!("{}a", "z".repeat(62));
        let b = format!("{}b", "z".repeat(62));
        let (na, nb) = (dns_load_balancer_name(&a), dns_load_balancer_name(&b));
        assert!(na.len() <= 63 && nb.len() <= 63, "{na} {nb}");
        assert_ne!(na, nb);
        assert!(
            crate::cockroach::validate::dns1123_label(&na).is_ok(),
            "{na}"
        );
        assert_eq!(na, dns_load_balancer_name(&a), "stable");
        let dashes = format!("{}{}x", "z".repeat(40), "-".repeat(20));
        assert!(
            crate::cockroach::validate::dns1123_label(&dns_load_balancer_name(&dashes)).is_ok()
        );
    }

    #[test]
    fn the_node_selector_is_part_of_the_node_labels_only() {
        let nodes = component_labels("main", "z", COMPONENT_DATABASE);
        let init = component_labels("main", "z", COMPONENT_INIT);
        let selects = |labels: &BTreeMap<String, String>| {
            node_selector()
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        };
        assert!(selects(&nodes));
        assert!(!selects(&init));
    }
}
