//! A deployment as the original multi-region setup script leaves it, made in the emulated clusters the way the
//! script makes it (`kubectl create` and client-side `kubectl apply`, one zone per Kubernetes cluster), and the
//! adoption of that deployment by `terraform import` + `apply`.
use crate::harness::Workspace;
use crate::regions::{
    assert_only_wiring_changes, import_everything, live_nodes, pod_generations,
    user_ca_configuration, volumes, Clusters, ZONES,
};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{json, Value};
use terraform_provider_crdb::cockroach::pki::{self, CertificateAuthority};

const IMAGE: &str = "cockroachdb/cockroach:v24.1.0";

/// The field managers kubectl uses for `kubectl create` and client-side `kubectl apply`.
const KUBECTL_CREATE: &str = "kubectl-create";
const KUBECTL_APPLY: &str = "kubectl-client-side-apply";

fn region_of(zone: &str) -> &str {
    zone.rsplit_once('-').unwrap().0
}

/// `kubectl create -f` (or `apply -f` with its last-applied annotation) of one object.
async fn create(client: &kube::Client, mut object: Value, applied: bool) {
    let api_version = object["apiVersion"].as_str().unwrap().to_string();
    let kind = object["kind"].as_str().unwrap().to_string();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let plural = match kind.as_str() {
        "PodDisruptionBudget" => "poddisruptionbudgets".to_string(),
        other => format!("{}s", other.to_lowercase()),
    };
    let resource = ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: api_version.clone(),
        kind: kind.clone(),
        plural,
    };
    let manager = if applied {
        object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
            json!(object.to_string());
        KUBECTL_APPLY
    } else {
        KUBECTL_CREATE
    };
    let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let params = PostParams {
        field_manager: Some(manager.to_string()),
        ..PostParams::default()
    };
    let object: DynamicObject = serde_json::from_value(object).unwrap();
    api.create(&params, &object)
        .await
        .unwrap_or_else(|e| panic!("creating {kind} {:?}: {e}", object.metadata.name));
}

fn secret(name: &str, namespace: &str, files: &[(&str, &str)]) -> Value {
    use base64::Engine as _;
    let data: serde_json::Map<String, Value> = files
        .iter()
        .map(|(file, text)| {
            (
                file.to_string(),
                json!(base64::engine::general_purpose::STANDARD.encode(text)),
            )
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": name, "namespace": namespace}, "data": data})
}

/// The ServiceAccount, Role and RoleBinding the script's manifests create (in the zone, and again in `default`
/// with the ExternalName service), bound to the account in `default` as the originals are.
fn script_rbac(namespace: &str) -> Vec<Value> {
    let app = json!({"app": "cockroachdb"});
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "cockroachdb", "namespace": namespace, "labels": app}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "cockroachdb", "namespace": namespace, "labels": app},
               "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "get"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "cockroachdb", "namespace": namespace, "labels": app},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cockroachdb"},
               "subjects": [{"kind": "ServiceAccount", "name": "cockroachdb", "namespace": "default"}]}),
    ]
}

/// The objects of the script's StatefulSet manifest, for one zone, with its JOINLIST and LOCALITYLIST filled in.
fn statefulset_manifest(zone: &str) -> Vec<Value> {
    let join: Vec<String> = ZONES
        .iter()
        .flat_map(|z| (0..3).map(move |i| format!("cockroachdb-{i}.cockroachdb.{z}")))
        .collect();
    let app = json!({"app": "cockroachdb"});
    let ports = json!([{"port": 26257, "targetPort": 26257, "name": "grpc"},
                       {"port": 8080, "targetPort": 8080, "name": "http"}]);
    let start = format!(
        "exec /cockroach/cockroach start --logtostderr --certs-dir /cockroach/cockroach-certs \
         --advertise-host $(hostname -f) --http-host 0.0.0.0 --join {} --locality region={},zone={zone} \
         --cache 25% --max-sql-memory 25%",
        join.join(","),
        region_of(zone)
    );
    let mut objects = script_rbac(zone);
    objects.extend([
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": "cockroachdb", "labels": app},
               "rules": [{"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
                          "verbs": ["create", "get", "watch"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "cockroachdb", "labels": app},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cockroachdb"},
               "subjects": [{"kind": "ServiceAccount", "name": "cockroachdb", "namespace": "default"}]}),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "cockroachdb-public", "namespace": zone, "labels": app},
               "spec": {"ports": ports, "selector": app}}),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "cockroachdb", "namespace": zone, "labels": app,
                            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/path": "_status/vars",
                                            "prometheus.io/port": "8080"}},
               "spec": {"ports": ports, "publishNotReadyAddresses": true, "clusterIP": "None", "selector": app}}),
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
               "metadata": {"name": "cockroachdb-budget", "namespace": zone, "labels": app},
               "spec": {"selector": {"matchLabels": app}, "maxUnavailable": 1}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "cockroachdb", "namespace": zone},
        "spec": {
            "serviceName": "cockroachdb",
            "replicas": 3,
            "selector": {"matchLabels": app},
            "template": {
                "metadata": {"labels": app},
                "spec": {
                    "serviceAccountName": "cockroachdb",
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchExpressions": [
                                {"key": "app", "operator": "In", "values": ["cockroachdb"]}]},
                            "topologyKey": "kubernetes.io/hostname"}}]}},
                    "containers": [{
                        "name": "cockroachdb",
                        "image": IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "ports": [{"containerPort": 26257, "name": "grpc"},
                                  {"containerPort": 8080, "name": "http"}],
                        "livenessProbe": {"httpGet": {"path": "/health", "port": "http", "scheme": "HTTPS"},
                                          "initialDelaySeconds": 30, "periodSeconds": 5},
                        "readinessProbe": {"httpGet": {"path": "/health?ready=1", "port": "http",
                                                       "scheme": "HTTPS"},
                                           "initialDelaySeconds": 10, "periodSeconds": 5,
                                           "failureThreshold": 2},
                        "volumeMounts": [{"name": "datadir", "mountPath": "/cockroach/cockroach-data"},
                                         {"name": "certs", "mountPath": "/cockroach/cockroach-certs"}],
                        "env": [{"name": "COCKROACH_CHANNEL", "value": "kubernetes-secure"}],
                        "command": ["/bin/bash", "-ecx", start]
                    }],
                    "terminationGracePeriodSeconds": 60,
                    "volumes": [{"name": "datadir", "persistentVolumeClaim": {"claimName": "datadir"}},
                                {"name": "certs", "secret": {"secretName": "cockroachdb.node",
                                                             "defaultMode": 256}}]
                }
            },
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            "volumeClaimTemplates": [{
                "metadata": {"name": "datadir"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "100Gi"}}}
            }]
        }}),
    ]);
    objects
}

fn init_job(zone: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
    "metadata": {"name": "cluster-init-secure", "namespace": zone, "labels": {"app": "cockroachdb"}},
    "spec": {"template": {"spec": {
        "serviceAccountName": "cockroachdb",
        "containers": [{
            "name": "cluster-init",
            "image": IMAGE,
            "imagePullPolicy": "IfNotPresent",
            "volumeMounts": [{"name": "client-certs", "mountPath": "/cockroach-certs"}],
            "command": ["/cockroach/cockroach", "init", "--certs-dir=/cockroach-certs",
                        "--host=cockroachdb-0.cockroachdb"]
        }],
        "restartPolicy": "OnFailure",
        "volumes": [{"name": "client-certs",
                     "secret": {"secretName": "cockroachdb.client.root", "defaultMode": 256}}]
    }}}})
}

/// Runs the setup script's steps against the three clusters, zone by zone as it does, and waits for every node
/// to be live.
pub fn deploy_like_the_setup_script(clusters: &Clusters, ca: &CertificateAuthority) {
    let now = time::OffsetDateTime::now_utc();
    let year = time::Duration::days(365);
    let root = pki::issue_client_certificate(ca, "root", year, now).unwrap();
    let client_files = [
        ("ca.crt", ca.cert_pem()),
        ("client.root.crt", root.cert_pem.as_str()),
        ("client.root.key", root.key_pem.as_str()),
    ];
    clusters.runtime.block_on(async {
        for zone in ZONES {
            let client = clusters.client(zone);
            create(&client, json!({"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": zone}}), false).await;
            create(&client, secret("cockroachdb.client.root", "default", &client_files), false).await;
            create(&client, secret("cockroachdb.client.root", zone, &client_files), false).await;
            let node = pki::issue_node_certificate(ca, zone, "cluster.local", year, now).unwrap();
            let mut node_files = client_files.to_vec();
            node_files.push(("node.crt", node.cert_pem.as_str()));
            node_files.push(("node.key", node.key_pem.as_str()));
            create(&client, secret("cockroachdb.node", zone, &node_files), false).await;
            create(&client, json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "kube-dns-lb", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
                "spec": {"ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53}],
                         "selector": {"k8s-app": "kube-dns"}, "sessionAffinity": "None",
                         "type": "LoadBalancer"}}), true).await;
        }
        let mut dns_ips = Vec::new();
        for zone in ZONES {
            dns_ips.push((zone, load_balancer_ip(clusters, zone, "kube-dns-lb").await));
        }
        for zone in ZONES {
            let client = clusters.client(zone);
            let stub_domains: serde_json::Map<String, Value> = dns_ips
                .iter()
                .filter(|(z, _)| *z != zone)
                .map(|(z, ip)| (format!("{z}.svc.cluster.local"), json!([ip])))
                .collect();
            let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
            let whole = json!({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "kube-dns", "namespace": "kube-system"},
                               "data": {"stubDomains": Value::Object(stub_domains).to_string()}});
            // `kubectl apply` of a ConfigMap that replaces whatever the cluster had.
            maps.patch("kube-dns", &PatchParams::apply(KUBECTL_APPLY).force(),
                       &Patch::Apply(&whole)).await.unwrap();
            let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
            pods.delete_collection(&DeleteParams::default(),
                                   &ListParams::default().labels("k8s-app=kube-dns")).await.unwrap();
            create(&client, json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "cockroachdb-public", "namespace": "default"},
                "spec": {"type": "ExternalName",
                         "externalName": format!("cockroachdb-public.{zone}.svc.cluster.local")}}), true).await;
            for object in script_rbac("default") {
                create(&client, object, true).await;
            }
        }
        for zone in ZONES {
            let client = clusters.client(zone);
            for object in statefulset_manifest(zone) {
                create(&client, object, true).await;
            }
        }
        create(&clusters.client(ZONES[0]), init_job(ZONES[0]), false).await;
    });
    wait_until(
        || live_nodes(clusters) == (9, 9),
        "the script's nine nodes are live",
    );
}

async fn load_balancer_ip(clusters: &Clusters, zone: &str, name: &str) -> String {
    let services: Api<Service> = Api::namespaced(clusters.client(zone), "kube-system");
    for _ in 0..600 {
        let service = services.get(name).await.unwrap();
        let ip = service
            .status
            .and_then(|s| s.load_balancer?.ingress?.first()?.ip.clone());
        if let Some(ip) = ip {
            return ip;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no address for kube-system/{name} in {zone}");
}

fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("timed out waiting until {what}");
}

/// A namespaced kind the tests read back.
trait Namespaced:
    kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
{
}

impl<K> Namespaced for K where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
{
}

fn get<K: Namespaced>(clusters: &Clusters, zone: &str, namespace: &str, name: &str) -> Option<K> {
    let api: Api<K> = Api::namespaced(clusters.client(zone), namespace);
    clusters.runtime.block_on(api.get_opt(name)).unwrap()
}

fn names_in<K: Namespaced>(clusters: &Clusters, zone: &str, namespace: &str) -> Vec<String> {
    let api: Api<K> = Api::namespaced(clusters.client(zone), namespace);
    let list = clusters
        .runtime
        .block_on(api.list(&ListParams::default()))
        .unwrap();
    list.into_iter()
        .filter_map(|o| o.meta().name.clone())
        .collect()
}

#[test]
fn import_adopts_a_deployment_of_the_setup_script_without_restarting_anything() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ca = CertificateAuthority::generate(
        "script",
        time::Duration::days(365),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    deploy_like_the_setup_script(&clusters, &ca);
    let script_pods = "app=cockroachdb";
    let pods_before = pod_generations(&clusters, script_pods);
    assert_eq!(pods_before.len(), 9);
    let dns_ips_before: Vec<String> = ZONES
        .iter()
        .map(|z| {
            clusters
                .runtime
                .block_on(load_balancer_ip(&clusters, z, "kube-dns-lb"))
        })
        .collect();

    let ws = Workspace::new("");
    ws.write_config(&user_ca_configuration(&clusters, &ws, &ca, true));
    let ws = import_everything(&clusters, ws, &ZONES);
    // The script's pods have no requests or limits: the configured ones show, and take effect with the first
    // change of the pod template.
    let resources = ["cpu_limit", "cpu_request", "memory_limit", "memory_request"];
    for (address, changed) in ws.planned_attribute_changes() {
        if !address.starts_with("crdb_multiregion") {
            let also: &[&str] = if address.starts_with("crdb_region") {
                &resources
            } else {
                &[]
            };
            assert_only_wiring_changes(&address, &changed, also);
        }
    }
    let actions = ws.planned_actions();
    assert_eq!(actions.len(), 7, "{actions:?}");
    assert!(
        actions
            .iter()
            .all(|(_, a)| a == &vec!["update".to_string()]),
        "everything is adopted in place: {actions:?}"
    );
    ws.apply();
    ws.assert_plan_empty("adopting the script's deployment");
    assert_eq!(
        pod_generations(&clusters, script_pods),
        pods_before,
        "adoption restarted or replaced a pod"
    );
    assert_eq!(live_nodes(&clusters), (9, 9));

    for (zone, ip) in ZONES.iter().zip(&dns_ips_before) {
        let key = zone.replace('-', "_");
        let region = ws.resource(&format!("crdb_region.{key}"));
        assert_eq!(region["layout"], "setup-script", "{zone}");
        assert_eq!(
            &region["dns_address"], ip,
            "{zone}: peers keep forwarding to the script's DNS LB"
        );
        let lbs = names_in::<Service>(&clusters, zone, "kube-system");
        assert!(
            !lbs.iter().any(|n| n.starts_with("crdb-dns-")),
            "no second DNS load balancer in {zone}: {lbs:?}"
        );
        let set: StatefulSet = get(&clusters, zone, zone, "cockroachdb").unwrap();
        assert_eq!(
            set.spec.unwrap().selector.match_labels.unwrap(),
            [("app".to_string(), "cockroachdb".to_string())].into()
        );
        let role: Role = get(&clusters, zone, zone, "cockroachdb").unwrap();
        assert_eq!(
            role.rules,
            Some(vec![]),
            "the script's rights on secrets are taken away in {zone}"
        );
        let budgets = names_in::<PodDisruptionBudget>(&clusters, zone, zone);
        assert_eq!(
            budgets,
            ["cockroachdb-budget"],
            "one budget over the nodes in {zone}"
        );
        let budget: PodDisruptionBudget = get(&clusters, zone, zone, "cockroachdb-budget").unwrap();
        assert_eq!(
            budget.metadata.labels.unwrap()["app.kubernetes.io/managed-by"],
            "terraform-provider-crdb",
            "the budget is ours now"
        );
    }

    // Growing the volumes of an adopted zone keeps the script's pod template: nothing restarts.
    let bigger = |config: String| {
        config.replace(
            "  replicas            = 3\n",
            "  replicas            = 3\n  storage_size        = \"200Gi\"\n",
        )
    };
    ws.write_config(&bigger(user_ca_configuration(&clusters, &ws, &ca, true)));
    ws.apply();
    ws.assert_plan_empty("growing the volumes of an adopted zone");
    for (zone, capacities, template, _) in volumes(&clusters) {
        assert_eq!(capacities, ["200Gi"; 3], "{zone}");
        assert_eq!(template, "200Gi", "{zone}");
    }
    assert_eq!(
        pod_generations(&clusters, script_pods),
        pods_before,
        "growing the volumes restarted or replaced a pod"
    );
    assert!(
        pod_generations(&clusters, "app.kubernetes.io/component=database").is_empty(),
        "the script's pod template is kept"
    );
    assert_eq!(live_nodes(&clusters), (9, 9));

    // The first change that needs a new template rolls the nodes onto the provider's, one at a time.
    let upgraded = bigger(user_ca_configuration(&clusters, &ws, &ca, true)).replace(
        "cockroachdb/cockroach:v24.1.0",
        "cockroachdb/cockroach:v24.1.1",
    );
    ws.write_config(&upgraded);
    ws.apply();
    ws.assert_plan_empty("the first upgrade of an adopted zone");
    assert_eq!(live_nodes(&clusters), (9, 9));
    let ours = pod_generations(&clusters, "app.kubernetes.io/component=database");
    assert_eq!(ours.len(), 9, "every node now runs the provider's template");
    assert_eq!(
        pod_generations(&clusters, script_pods).len(),
        9,
        "still selected by the script's selector"
    );

    ws.write_config(
        &bigger(user_ca_configuration(&clusters, &ws, &ca, false)).replace(
            "cockroachdb/cockroach:v24.1.0",
            "cockroachdb/cockroach:v24.1.1",
        ),
    );
    ws.apply();
    ws.destroy();
    for zone in ZONES {
        assert!(
            get::<Service>(&clusters, zone, "kube-system", "kube-dns-lb").is_none(),
            "{zone}"
        );
        assert!(
            get::<Secret>(&clusters, zone, "default", "cockroachdb.client.root").is_none(),
            "{zone}"
        );
        assert!(
            get::<Service>(&clusters, zone, "default", "cockroachdb-public").is_none(),
            "{zone}"
        );
        assert!(get::<ServiceAccount>(&clusters, zone, "default", "cockroachdb").is_none());
        assert!(get::<Role>(&clusters, zone, "default", "cockroachdb").is_none());
        assert!(get::<RoleBinding>(&clusters, zone, "default", "cockroachdb").is_none());
        let cluster_roles: Api<ClusterRole> = Api::all(clusters.client(zone));
        let bindings: Api<ClusterRoleBinding> = Api::all(clusters.client(zone));
        clusters.runtime.block_on(async {
            assert!(cluster_roles
                .get_opt("cockroachdb")
                .await
                .unwrap()
                .is_none());
            assert!(bindings.get_opt("cockroachdb").await.unwrap().is_none());
        });
        let stub_domains = get::<ConfigMap>(&clusters, zone, "kube-system", "kube-dns")
            .and_then(|m| m.data?.get("stubDomains").cloned())
            .unwrap_or_default();
        assert!(
            !ZONES.iter().any(|z| stub_domains.contains(z)),
            "{zone} still forwards a zone: {stub_domains}"
        );
    }
}
