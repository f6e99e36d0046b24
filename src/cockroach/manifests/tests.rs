//! The objects of a zone, checked field by field through their JSON form (what the API server receives).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Service;
use serde_json::{json, Value};

use super::spec::fixtures::{certificates, spec};
use super::*;
use crate::cockroach::pki::node_certificate_dns_names;

fn to_json<T: serde::Serialize>(object: &T) -> Value {
    serde_json::to_value(object).unwrap()
}

fn objects_json(spec: &ZoneSpec) -> Vec<Value> {
    zone_objects(spec, &certificates())
        .iter()
        .map(|o| match o {
            ZoneObject::Namespace(x) => to_json(x),
            ZoneObject::Secret(x) => to_json(x),
            ZoneObject::ConfigMap(x) => to_json(x),
            ZoneObject::ServiceAccount(x) => to_json(x),
            ZoneObject::Role(x) => to_json(x),
            ZoneObject::RoleBinding(x) => to_json(x),
            ZoneObject::Service(x) => to_json(x),
            ZoneObject::PodDisruptionBudget(x) => to_json(x),
            ZoneObject::StatefulSet(x) => to_json(x),
            ZoneObject::Job(x) => to_json(x),
        })
        .collect()
}

fn find(spec: &ZoneSpec, kind: &str, namespace: &str, name: &str) -> Value {
    objects_json(spec)
        .into_iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"].as_str().unwrap_or("") == namespace
        })
        .unwrap_or_else(|| panic!("no {kind} {namespace}/{name}"))
}

fn sts() -> Value {
    find(&spec(), "StatefulSet", "us-east1-b", "cockroachdb")
}

fn node_container(sts: &Value) -> Value {
    sts["spec"]["template"]["spec"]["containers"][0].clone()
}

/// The words of the node's shell command after `exec`.
fn start_words(sts: &Value) -> Vec<String> {
    let command = node_container(sts)["command"].clone();
    assert_eq!(command[0], "/bin/bash");
    assert_eq!(command[1], "-ecx");
    let script = command[2].as_str().unwrap();
    script.split_whitespace().map(str::to_owned).collect()
}

fn flag(words: &[String], name: &str) -> Option<String> {
    words
        .iter()
        .find_map(|w| w.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .unwrap()
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
}

/// Each object reference as `Kind/namespace/name`.
fn names_of(refs: &[impl ToString]) -> Vec<String> {
    refs.iter().map(ToString::to_string).collect()
}

#[test]
fn objects_come_in_apply_order() {
    let refs = names_of(&zone_object_refs(&spec()));
    assert_eq!(
        refs,
        vec![
            "Namespace/us-east1-b",
            "Secret/us-east1-b/cockroachdb.node",
            "Secret/us-east1-b/cockroachdb.client.root",
            "ConfigMap/us-east1-b/cockroachdb-join",
            "ServiceAccount/us-east1-b/cockroachdb",
            "Role/us-east1-b/cockroachdb",
            "RoleBinding/us-east1-b/cockroachdb",
            "Service/us-east1-b/cockroachdb",
            "Service/us-east1-b/cockroachdb-public",
            "PodDisruptionBudget/us-east1-b/cockroachdb",
            "StatefulSet/us-east1-b/cockroachdb",
            "Secret/default/cockroachdb.client.root.us-east1-b",
            "Service/default/cockroachdb-public",
            "Service/kube-system/crdb-dns-us-east1-b",
            "Job/us-east1-b/cockroachdb-init",
        ]
    );
    let api_versions: Vec<&str> = zone_object_refs(&spec())
        .iter()
        .map(|r| r.api_version)
        .collect();
    assert!(api_versions.contains(&"policy/v1") && api_versions.contains(&"apps/v1"));
    assert!(api_versions.contains(&"batch/v1"));
    let mut no_init = spec();
    no_init.runs_init = false;
    assert!(!zone_object_refs(&no_init).iter().any(|r| r.kind == "Job"));
}

#[test]
fn every_object_is_labelled_as_ours() {
    for object in objects_json(&spec()) {
        let labels = &object["metadata"]["labels"];
        for (key, value) in [
            ("app.kubernetes.io/managed-by", "terraform-provider-crdb"),
            ("app.kubernetes.io/part-of", "main"),
            ("crdb.terraform.io/zone", "us-east1-b"),
            ("app.kubernetes.io/name", "cockroachdb"),
        ] {
            assert_eq!(labels[key], value, "{key} on {}", object["metadata"]);
        }
        assert!(object["apiVersion"].is_string() && object["kind"].is_string());
    }
}

#[test]
fn selectors_pick_the_node_pods_and_never_the_init_pod() {
    let s = spec();
    let sts = sts();
    let pod_labels = &sts["spec"]["template"]["metadata"]["labels"];
    let init_labels = &find(&s, "Job", "us-east1-b", "cockroachdb-init")["spec"]["template"]
        ["metadata"]["labels"];
    let selectors = [
        sts["spec"]["selector"]["matchLabels"].clone(),
        find(&s, "Service", "us-east1-b", "cockroachdb")["spec"]["selector"].clone(),
        find(&s, "Service", "us-east1-b", "cockroachdb-public")["spec"]["selector"].clone(),
        find(&s, "PodDisruptionBudget", "us-east1-b", "cockroachdb")["spec"]["selector"]
            ["matchLabels"]
            .clone(),
        sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
            ["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
            ["labelSelector"]["matchLabels"]
            .clone(),
    ];
    for selector in selectors {
        assert!(
            labels_match(&selector, pod_labels),
            "{selector} vs {pod_labels}"
        );
        assert!(
            !labels_match(&selector, init_labels),
            "{selector} selects the init pod"
        );
    }
}

#[test]
fn services_expose_grpc_and_http_and_the_headless_one_publishes_unready_pods() {
    let s = spec();
    let expected = json!([
        {"name": "grpc", "port": 26257, "targetPort": 26257, "protocol": "TCP"},
        {"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP"},
    ]);
    let public = find(&s, "Service", "us-east1-b", "cockroachdb-public");
    assert_eq!(public["spec"]["ports"], expected);
    assert!(public["spec"].get("clusterIP").is_none());
    let headless = find(&s, "Service", "us-east1-b", "cockroachdb");
    assert_eq!(headless["spec"]["ports"], expected);
    assert_eq!(headless["spec"]["clusterIP"], "None");
    assert_eq!(headless["spec"]["publishNotReadyAddresses"], true);
}

#[test]
fn the_statefulset_runs_nodes_in_parallel_with_rolling_updates() {
    let sts = sts();
    let spec = &sts["spec"];
    assert_eq!(spec["serviceName"], "cockroachdb");
    assert_eq!(spec["replicas"], 3);
    assert_eq!(spec["podManagementPolicy"], "Parallel");
    assert_eq!(spec["updateStrategy"], json!({"type": "RollingUpdate"}));
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["terminationGracePeriodSeconds"], 60);
    assert_eq!(pod["serviceAccountName"], "cockroachdb");
    assert_eq!(pod["automountServiceAccountToken"], false);
    let preferred =
        &pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"];
    assert_eq!(
        preferred[0]["podAffinityTerm"]["topologyKey"],
        "kubernetes.io/hostname"
    );
    assert_eq!(preferred[0]["weight"], 100);
    assert!(pod["affinity"]["podAntiAffinity"]
        .get("requiredDuringSchedulingIgnoredDuringExecution")
        .is_none());
    let container = node_container(&sts);
    assert_eq!(container["image"], "cockroachdb/cockroach:v25.2.0");
    assert_eq!(
        container["env"],
        json!([
            {"name": "COCKROACH_CHANNEL", "value": "kubernetes-multiregion"},
            {"name": "COCKROACH_JOIN", "valueFrom": {"configMapKeyRef": {
                "name": "cockroachdb-join", "key": "join", "optional": false
            }}}
        ])
    );
    assert_eq!(
        container["ports"],
        json!([
            {"name": "grpc", "containerPort": 26257, "protocol": "TCP"},
            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
        ])
    );
}

#[test]
fn the_start_command_carries_join_locality_and_memory_flags() {
    let words = start_words(&sts());
    assert_eq!(&words[..3], ["exec", "/cockroach/cockroach", "start"]);
    assert!(words.contains(&"--logtostderr".to_owned()));
    assert_eq!(
        flag(&words, "--certs-dir").as_deref(),
        Some("/cockroach/cockroach-certs")
    );
    assert_eq!(
        flag(&words, "--advertise-host").as_deref(),
        Some("$(hostname")
    );
    assert_eq!(
        words[words
            .iter()
            .position(|w| w.starts_with("--advertise-host"))
            .unwrap()
            + 1],
        "-f)"
    );
    assert_eq!(flag(&words, "--http-addr").as_deref(), Some("0.0.0.0"));
    assert_eq!(flag(&words, "--join").as_deref(), Some("$(COCKROACH_JOIN)"));
    let join = join_list(&spec());
    assert_eq!(join.split(',').count(), 6);
    assert!(join.starts_with("cockroachdb-0.cockroachdb.us-east1-b,"));
    assert!(join.contains("cockroachdb-2.cockroachdb.europe-west1-c"));
    assert_eq!(
        flag(&words, "--locality").as_deref(),
        Some("region=us-east1,zone=us-east1-b")
    );
    // A quarter of the 8Gi limit each.
    assert_eq!(flag(&words, "--cache").as_deref(), Some("2147483648"));
    assert_eq!(
        flag(&words, "--max-sql-memory").as_deref(),
        Some("2147483648")
    );
}

#[test]
fn without_a_memory_limit_or_region_the_flags_fall_back() {
    let mut s = spec();
    s.memory_limit = None;
    s.memory_request = None;
    s.region = None;
    let sts = to_json(&stateful_set(&s));
    let words = start_words(&sts);
    assert_eq!(flag(&words, "--cache").as_deref(), Some("25%"));
    assert_eq!(flag(&words, "--max-sql-memory").as_deref(), Some("25%"));
    assert_eq!(
        flag(&words, "--locality").as_deref(),
        Some("zone=us-east1-b")
    );
    assert_eq!(
        node_container(&sts)["resources"],
        json!({"requests": {"cpu": "2"}, "limits": {"cpu": "2"}})
    );
    s.cpu_request = None;
    s.cpu_limit = None;
    assert!(node_container(&to_json(&stateful_set(&s)))
        .get("resources")
        .is_none());
}

#[test]
fn a_memory_limit_too_small_to_quarter_falls_back_to_a_share() {
    let mut s = spec();
    s.memory_limit = Some("3".into());
    assert_eq!(memory_flag_value(&s), "25%");
    s.memory_limit = Some("1.5Gi".into());
    assert_eq!(memory_flag_value(&s), "402653184");
}

#[test]
fn claim_templates_carry_only_labels_that_never_change() {
    let mut renamed = spec();
    renamed.cluster_name = "renamed".into();
    renamed.replicas = 5;
    renamed.image = "cockroachdb/cockroach:v25.3.0".into();
    let claims = |s: &ZoneSpec| to_json(&stateful_set(s))["spec"]["volumeClaimTemplates"].clone();
    assert_eq!(claims(&spec()), claims(&renamed));
    let selector = &sts()["spec"]["selector"];
    assert_eq!(
        selector,
        &to_json(&stateful_set(&renamed))["spec"]["selector"]
    );
}

#[test]
fn probes_check_health_over_https_on_the_http_port() {
    let container = node_container(&sts());
    let readiness = &container["readinessProbe"]["httpGet"];
    assert_eq!(readiness["path"], "/health?ready=1");
    assert_eq!(readiness["port"], 8080);
    assert_eq!(readiness["scheme"], "HTTPS");
    let liveness = &container["livenessProbe"]["httpGet"];
    assert_eq!(liveness["path"], "/health");
    assert_eq!(liveness["port"], 8080);
    assert_eq!(liveness["scheme"], "HTTPS");
    assert!(
        container["livenessProbe"]["initialDelaySeconds"]
            .as_i64()
            .unwrap()
            >= 30
    );
}

#[test]
fn certs_and_data_are_mounted_where_the_command_looks() {
    let sts = sts();
    let container = node_container(&sts);
    assert_eq!(
        container["volumeMounts"],
        json!([
            {"name": "datadir", "mountPath": "/cockroach/cockroach-data"},
            {"name": "certs", "mountPath": "/cockroach/cockroach-certs", "readOnly": true},
        ])
    );
    assert_eq!(
        sts["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "certs", "secret": {"secretName": "cockroachdb.node", "defaultMode": 256}}])
    );
    assert_eq!(256, 0o400);
    let claim = &sts["spec"]["volumeClaimTemplates"][0];
    assert_eq!(claim["metadata"]["name"], "datadir");
    assert_eq!(claim["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "100Gi");
    assert!(claim["spec"].get("storageClassName").is_none());
    let mut s = spec();
    s.storage_class = Some("premium-rwo".into());
    let with_class = to_json(&stateful_set(&s));
    assert_eq!(
        with_class["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        "premium-rwo"
    );
}

#[test]
fn resources_are_set_as_given() {
    assert_eq!(
        node_container(&sts())["resources"],
        json!({"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}})
    );
}

fn decoded_keys(secret: &Value) -> BTreeMap<String, String> {
    use base64::Engine;
    secret["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap();
            (k.clone(), String::from_utf8(bytes).unwrap())
        })
        .collect()
}

#[test]
fn secrets_hold_exactly_the_files_each_user_needs() {
    let s = spec();
    let node = find(&s, "Secret", "us-east1-b", "cockroachdb.node");
    assert_eq!(node["type"], "Opaque");
    assert_eq!(
        decoded_keys(&node),
        BTreeMap::from([
            ("ca.crt".to_owned(), "CA PEM".to_owned()),
            ("node.crt".to_owned(), "NODE PEM".to_owned()),
            ("node.key".to_owned(), "NODE KEY".to_owned()),
            ("client.root.crt".to_owned(), "ROOT PEM".to_owned()),
            ("client.root.key".to_owned(), "ROOT KEY".to_owned()),
        ])
    );
    let client = BTreeMap::from([
        ("ca.crt".to_owned(), "CA PEM".to_owned()),
        ("client.root.crt".to_owned(), "ROOT PEM".to_owned()),
        ("client.root.key".to_owned(), "ROOT KEY".to_owned()),
    ]);
    assert_eq!(
        decoded_keys(&find(&s, "Secret", "us-east1-b", "cockroachdb.client.root")),
        client
    );
    assert_eq!(
        decoded_keys(&find(
            &s,
            "Secret",
            "default",
            "cockroachdb.client.root.us-east1-b"
        )),
        client
    );
    assert!(node.get("stringData").is_none());
}

#[test]
fn zones_sharing_a_kubernetes_cluster_own_distinct_objects_outside_their_namespaces() {
    let a = spec();
    let mut b = spec();
    b.zone = "us-east1-c".into();
    let outside = |s: &ZoneSpec| -> Vec<ObjectRef> {
        zone_object_refs(s)
            .into_iter()
            .filter(|r| matches!(r.namespace.as_deref(), Some("default" | "kube-system")))
            .filter(|r| r.name != PUBLIC_ALIAS)
            .collect()
    };
    const PUBLIC_ALIAS: &str = "cockroachdb-public";
    let (refs_a, refs_b) = (outside(&a), outside(&b));
    assert_eq!(refs_a.len(), 2);
    assert!(
        refs_a.iter().all(|r| !refs_b.contains(r)),
        "{refs_a:?} {refs_b:?}"
    );
}

#[test]
fn the_default_alias_points_into_the_zone_under_a_certified_name() {
    let s = spec();
    let alias = find(&s, "Service", "default", "cockroachdb-public");
    assert_eq!(alias["spec"]["type"], "ExternalName");
    assert_eq!(
        alias["spec"]["externalName"],
        "cockroachdb-public.us-east1-b.svc.cluster.local"
    );
    let sans = node_certificate_dns_names(&s.zone, &s.cluster_domain).unwrap();
    assert!(sans.contains(&"cockroachdb-public.default".to_owned()));
    assert!(sans.contains(&"cockroachdb-public.us-east1-b.svc.cluster.local".to_owned()));
}

#[test]
fn the_alias_claim_follows_the_live_labels() {
    let ours = names::common_labels("main", "us-east1-b");
    assert_eq!(alias_claim(None, "us-east1-b"), AliasClaim::Free);
    assert_eq!(alias_claim(Some(&ours), "us-east1-b"), AliasClaim::Ours);
    assert_eq!(
        alias_claim(Some(&ours), "us-east1-c"),
        AliasClaim::OtherZone("us-east1-b".into())
    );
    assert_eq!(
        alias_claim(Some(&BTreeMap::new()), "us-east1-b"),
        AliasClaim::Foreign
    );
}

#[test]
fn the_dns_load_balancer_exposes_the_dns_pods_on_one_protocol_its_peers_forward_with() {
    let s = spec();
    let lb = find(&s, "Service", "kube-system", "crdb-dns-us-east1-b");
    assert_eq!(lb["spec"]["type"], "LoadBalancer");
    assert_eq!(lb["spec"]["selector"], json!({"k8s-app": "kube-dns"}));
    assert_eq!(
        lb["spec"]["ports"],
        json!([{"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"}]),
        "public: UDP only, as the original dns-lb.yaml"
    );
    assert!(
        lb["metadata"].get("annotations").is_none(),
        "public by default"
    );
    let ports = |kind: LoadBalancerKind, protocol: Option<DnsProtocol>| {
        let mut s = spec();
        s.dns_load_balancer.kind = kind;
        s.dns_load_balancer.protocol = protocol;
        to_json(&dns_load_balancer(&s))["spec"]["ports"].clone()
    };
    let udp = json!([{"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"}]);
    let tcp = json!([{"name": "dns-tcp", "port": 53, "targetPort": 53, "protocol": "TCP"}]);
    assert_eq!(
        ports(LoadBalancerKind::GkeInternal, None),
        udp,
        "GKE: kube-dns peers"
    );
    assert_eq!(
        ports(LoadBalancerKind::AwsInternal, None),
        tcp,
        "EKS: CoreDNS peers, force_tcp"
    );
    assert_eq!(
        ports(LoadBalancerKind::AzureInternal, None),
        tcp,
        "AKS: CoreDNS peers"
    );
    assert_eq!(
        ports(LoadBalancerKind::Public, Some(DnsProtocol::Tcp)),
        tcp,
        "a live single-protocol Service keeps its protocol"
    );
}

#[test]
fn a_live_dns_load_balancer_keeps_its_one_protocol_and_a_mixed_one_is_found() {
    let service = |protocols: &[&str]| -> Service {
        let ports: Vec<_> = protocols
            .iter()
            .map(|p| json!({"port": 53, "protocol": p}))
            .collect();
        serde_json::from_value(json!({"metadata": {"name": "lb"}, "spec": {"ports": ports}}))
            .unwrap()
    };
    assert_eq!(
        live_dns_protocol(&service(&["TCP"])),
        Some(DnsProtocol::Tcp)
    );
    assert_eq!(
        live_dns_protocol(&service(&["UDP"])),
        Some(DnsProtocol::Udp)
    );
    assert_eq!(live_dns_protocol(&service(&["UDP", "TCP"])), None);
    assert_eq!(live_dns_protocol(&service(&[])), None);
    assert!(mixes_protocols(&service(&["UDP", "TCP"])));
    assert!(!mixes_protocols(&service(&["UDP"])));
    assert!(!mixes_protocols(&service(&[])));
}

#[test]
fn each_load_balancer_kind_gets_its_annotations_and_users_have_the_last_word() {
    let annotations = |kind: LoadBalancerKind, extra: &[(&str, &str)]| {
        let mut s = spec();
        s.dns_load_balancer = DnsLoadBalancer {
            kind,
            extra_annotations: extra
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            protocol: None,
        };
        to_json(&dns_load_balancer(&s))["metadata"]["annotations"].clone()
    };
    assert_eq!(
        annotations(LoadBalancerKind::GkeInternal, &[]),
        json!({
            "networking.gke.io/load-balancer-type": "Internal",
            "networking.gke.io/internal-load-balancer-allow-global-access": "true",
        })
    );
    let aws = annotations(LoadBalancerKind::AwsInternal, &[]);
    assert_eq!(
        aws["service.beta.kubernetes.io/aws-load-balancer-scheme"],
        "internal"
    );
    assert_eq!(
        aws["service.beta.kubernetes.io/aws-load-balancer-type"],
        "nlb"
    );
    assert_eq!(
        annotations(LoadBalancerKind::AzureInternal, &[]),
        json!({"service.beta.kubernetes.io/azure-load-balancer-internal": "true"})
    );
    let overridden = annotations(
        LoadBalancerKind::AzureInternal,
        &[
            (
                "service.beta.kubernetes.io/azure-load-balancer-internal",
                "false",
            ),
            ("example.com/team", "db"),
        ],
    );
    assert_eq!(
        overridden["service.beta.kubernetes.io/azure-load-balancer-internal"],
        "false"
    );
    assert_eq!(overridden["example.com/team"], "db");
    assert_eq!(
        annotations(LoadBalancerKind::Public, &[("a/b", "c")]),
        json!({"a/b": "c"})
    );
}

#[test]
fn the_init_job_runs_once_against_a_certified_node_name() {
    let s = spec();
    let job = find(&s, "Job", "us-east1-b", "cockroachdb-init");
    assert_eq!(job["spec"]["backoffLimit"], 10);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(
        pod["restartPolicy"], "Never",
        "failed attempts keep their pods and what init said"
    );
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "cockroachdb/cockroach:v25.2.0");
    assert_eq!(
        container["terminationMessagePolicy"],
        "FallbackToLogsOnError"
    );
    assert_eq!(
        container["command"],
        json!([
            "/cockroach/cockroach",
            "init",
            "--certs-dir=/cockroach/cockroach-client-certs",
            "--host=cockroachdb-0.cockroachdb"
        ])
    );
    assert_eq!(
        container["volumeMounts"],
        json!([{"name": "client-certs", "mountPath": "/cockroach/cockroach-client-certs", "readOnly": true}])
    );
    assert_eq!(
        pod["volumes"],
        json!([{"name": "client-certs", "secret": {
            "secretName": "cockroachdb.client.root",
            "defaultMode": 256,
            "items": [
                {"key": "ca.crt", "path": "ca.crt"},
                {"key": "client.root.crt", "path": "client.root.crt"},
                {"key": "client.root.key", "path": "client.root.key"},
            ],
        }}])
    );
    // The host must match a SAN of the node certificate, or TLS verification fails.
    let sans = node_certificate_dns_names(&s.zone, &s.cluster_domain).unwrap();
    assert!(sans.contains(&"*.cockroachdb".to_owned()));
    assert!(init_already_done(
        "ERROR: cluster has already been initialized"
    ));
    assert!(!init_already_done("ERROR: cannot dial server"));
}

#[test]
fn the_service_account_carries_no_token_and_is_granted_nothing() {
    let sa = find(&spec(), "ServiceAccount", "us-east1-b", "cockroachdb");
    assert_eq!(sa["automountServiceAccountToken"], false);
    let role = find(&spec(), "Role", "us-east1-b", "cockroachdb");
    assert_eq!(
        role["rules"],
        json!([]),
        "an empty list, so that applying it removes rules others granted"
    );
    let binding = find(&spec(), "RoleBinding", "us-east1-b", "cockroachdb");
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cockroachdb"})
    );
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "cockroachdb", "namespace": "us-east1-b"}])
    );
    let pod =
        &find(&spec(), "StatefulSet", "us-east1-b", "cockroachdb")["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "cockroachdb");
}

#[test]
fn an_adopted_script_zone_keeps_the_script_selector_and_names() {
    let mut s = spec();
    s.layout = Layout::SetupScript;
    let script_selector = json!({"app": "cockroachdb"});
    let set = find(&s, "StatefulSet", "us-east1-b", "cockroachdb");
    assert_eq!(set["spec"]["selector"]["matchLabels"], script_selector);
    let pod_labels = &set["spec"]["template"]["metadata"]["labels"];
    assert!(labels_match(&script_selector, pod_labels));
    assert_eq!(
        pod_labels["app.kubernetes.io/managed-by"],
        "terraform-provider-crdb"
    );
    for service in ["cockroachdb", "cockroachdb-public"] {
        let svc = find(&s, "Service", "us-east1-b", service);
        assert_eq!(svc["spec"]["selector"], script_selector, "{service}");
    }
    let pdb = find(
        &s,
        "PodDisruptionBudget",
        "us-east1-b",
        "cockroachdb-budget",
    );
    assert_eq!(pdb["spec"]["selector"]["matchLabels"], script_selector);
    find(&s, "Service", "kube-system", "kube-dns-lb");
    find(&s, "Secret", "default", "cockroachdb.client.root");
    let teardown: Vec<String> = teardown_refs(&s).iter().map(ToString::to_string).collect();
    assert!(
        teardown.contains(&"Service/kube-system/kube-dns-lb".to_owned()),
        "{teardown:?}"
    );
    assert!(teardown.contains(&"Secret/default/cockroachdb.client.root".to_owned()));
}

#[test]
fn the_pdb_allows_one_node_down() {
    let pdb = find(&spec(), "PodDisruptionBudget", "us-east1-b", "cockroachdb");
    assert_eq!(pdb["apiVersion"], "policy/v1");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert!(pdb["spec"].get("minAvailable").is_none());
}

#[test]
fn teardown_removes_outside_objects_then_the_namespace() {
    let refs = names_of(&teardown_refs(&spec()));
    assert_eq!(
        refs,
        vec![
            "Service/kube-system/crdb-dns-us-east1-b",
            "Service/default/cockroachdb-public",
            "Secret/default/cockroachdb.client.root.us-east1-b",
            "Namespace/us-east1-b",
        ]
    );
}

#[test]
fn a_live_statefulset_reports_image_replicas_and_rollout() {
    let mut live: StatefulSet = stateful_set(&spec());
    live.metadata.generation = Some(4);
    live.status = Some(StatefulSetStatus {
        observed_generation: Some(4),
        replicas: 3,
        ready_replicas: Some(3),
        updated_replicas: Some(3),
        current_revision: Some("cockroachdb-abc".into()),
        update_revision: Some("cockroachdb-abc".into()),
        ..StatefulSetStatus::default()
    });
    let seen = observe_nodes(&live);
    assert_eq!(seen.image.as_deref(), Some("cockroachdb/cockroach:v25.2.0"));
    assert_eq!(seen.replicas, 3);
    assert!(seen.settled());
    assert!(!seen.older_revision_running);
    let status = live.status.as_mut().unwrap();
    status.update_revision = Some("cockroachdb-def".into());
    assert!(!observe_nodes(&live).settled(), "rolling");
    assert!(observe_nodes(&live).older_revision_running);
    live.status = None;
    assert!(
        !observe_nodes(&live).older_revision_running,
        "nothing known of the pods"
    );
    live.status = Some(StatefulSetStatus {
        observed_generation: Some(4),
        replicas: 3,
        ready_replicas: Some(3),
        updated_replicas: Some(3),
        current_revision: Some("cockroachdb-abc".into()),
        update_revision: Some("cockroachdb-def".into()),
        ..StatefulSetStatus::default()
    });
    live.status.as_mut().unwrap().update_revision = Some("cockroachdb-abc".into());
    live.metadata.generation = Some(5);
    assert!(!observe_nodes(&live).settled(), "spec not yet seen");
    live.metadata.generation = Some(4);
    live.status.as_mut().unwrap().ready_replicas = Some(2);
    assert!(!observe_nodes(&live).settled(), "a node not ready");
}

#[test]
fn a_live_statefulset_reports_its_data_volume_template() {
    let mut s = spec();
    s.storage_size = "2Gi".into();
    let seen = observe_data_volumes(&stateful_set(&s)).unwrap();
    assert_eq!(seen.size.as_deref(), Some("2Gi"));
    assert_eq!(seen.class, None, "the cluster's default class");
    s.storage_class = Some("premium-rwo".into());
    let seen = observe_data_volumes(&stateful_set(&s)).unwrap();
    assert_eq!(seen.class.as_deref(), Some("premium-rwo"));
    let mut foreign = stateful_set(&s);
    foreign.spec.as_mut().unwrap().volume_claim_templates = None;
    assert_eq!(observe_data_volumes(&foreign), None);
}

#[test]
fn decommission_jobs_target_one_node_by_ordinal_with_the_root_client_certificate() {
    let job = decommission_job(&spec(), 4);
    assert_eq!(
        job.metadata.name.as_deref(),
        Some("cockroachdb-decommission-4")
    );
    let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let command = pod.containers[0].command.clone().unwrap();
    assert_eq!(&command[1..4], &["node", "decommission", "--self"]);
    assert!(
        command.contains(&"--host=cockroachdb-4.cockroachdb".to_string()),
        "{command:?}"
    );
    assert!(command.iter().any(|c| c.starts_with("--certs-dir=")));
    let volume = &pod.volumes.as_ref().unwrap()[0];
    assert_eq!(
        volume.secret.as_ref().unwrap().secret_name.as_deref(),
        Some("cockroachdb.client.root")
    );
    let labels = job.metadata.labels.as_ref().unwrap();
    assert_eq!(
        labels
            .get("app.kubernetes.io/component")
            .map(String::as_str),
        Some("decommission")
    );
}

/// A StatefulSet as the original setup script's manifests create it, with this spec's image and locality.
fn script_statefulset(s: &ZoneSpec) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": "cockroachdb", "namespace": s.zone},
        "spec": {
            "serviceName": "cockroachdb",
            "replicas": 3,
            "selector": {"matchLabels": {"app": "cockroachdb"}},
            "podManagementPolicy": "Parallel",
            "template": {
                "metadata": {"labels": {"app": "cockroachdb"}},
                "spec": {"containers": [{
                    "name": "cockroachdb",
                    "image": s.image,
                    "command": ["/bin/bash", "-ecx", format!(
                        "exec /cockroach/cockroach start --logtostderr --certs-dir /cockroach/cockroach-certs \
                         --join {} --locality {} --cache 25% --max-sql-memory 25%",
                        s.join_addresses.join(","), locality(s))]
                }]}
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "datadir"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "100Gi"}}},
                "status": {"phase": "Pending"}
            }]
        }
    }))
    .unwrap()
}

#[test]
fn the_locality_is_read_from_a_live_command_in_either_flag_form() {
    let s = spec();
    assert_eq!(
        live_locality(&script_statefulset(&s)).as_deref(),
        Some("region=us-east1,zone=us-east1-b")
    );
    assert_eq!(
        live_locality(&stateful_set(&s)).as_deref(),
        Some("region=us-east1,zone=us-east1-b")
    );
}

#[test]
fn an_adopted_template_is_kept_until_the_image_or_locality_changes() {
    let mut s = spec();
    s.layout = Layout::SetupScript;
    let live = script_statefulset(&s);
    assert!(!template_is_ours(&live));

    // What an apply would send for `spec`, and whether it keeps the live template.
    let fitted = |spec: &ZoneSpec, resources_changed: bool| {
        let mut desired = stateful_set(spec);
        let fit = fit_to_live(&mut desired, &live, spec, resources_changed);
        (fit, to_json(&desired))
    };
    let (fit, applied) = fitted(&s, false);
    assert_eq!(fit, TemplateFit::KeptLive);
    assert_eq!(
        applied["spec"]["template"],
        json!({}),
        "the template is left out of the apply"
    );
    assert_eq!(
        applied["spec"]["selector"],
        json!({"matchLabels": {"app": "cockroachdb"}})
    );
    let claims = &applied["spec"]["volumeClaimTemplates"];
    assert_eq!(
        claims[0]["metadata"],
        json!({"name": "datadir"}),
        "the live claim, not ours"
    );
    assert!(claims[0].get("status").is_none());
    assert_eq!(applied["spec"]["replicas"], 3);

    let mut upgraded = s.clone();
    upgraded.image = "cockroachdb/cockroach:v25.2.1".into();
    let (fit, applied) = fitted(&upgraded, false);
    assert_eq!(fit, TemplateFit::Rendered);
    assert_eq!(
        applied["spec"]["template"]["metadata"]["labels"]["app"],
        "cockroachdb"
    );
    assert_eq!(
        applied["spec"]["selector"],
        json!({"matchLabels": {"app": "cockroachdb"}})
    );

    assert_eq!(fitted(&s, true).0, TemplateFit::Rendered);

    let mut moved = s.clone();
    moved.region = Some("us-east4".into());
    assert_eq!(fitted(&moved, false).0, TemplateFit::Rendered);
}

#[test]
fn a_template_of_ours_is_always_rendered_so_hand_edits_are_repaired() {
    let s = spec();
    let live = stateful_set(&s);
    assert!(template_is_ours(&live));
    let mut desired = stateful_set(&s);
    assert_eq!(
        fit_to_live(&mut desired, &live, &s, false),
        TemplateFit::Rendered
    );
    assert_eq!(desired, live);
}

#[test]
fn sql_jobs_run_one_statement_through_the_public_service_as_root() {
    let statement = "SET CLUSTER SETTING cluster.preserve_downgrade_option = '24.1';";
    let job = sql_job(&spec(), "cockroachdb-preserve-downgrade", statement);
    assert_eq!(
        job.metadata.name.as_deref(),
        Some("cockroachdb-preserve-downgrade")
    );
    let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let command = pod.containers[0].command.clone().unwrap();
    assert_eq!(
        command,
        [
            "/cockroach/cockroach",
            "sql",
            "--certs-dir=/cockroach/cockroach-client-certs",
            "--host=cockroachdb-public",
            "-e",
            statement
        ]
    );
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let mount = &pod.containers[0].volume_mounts.as_ref().unwrap()[0];
    assert_eq!(mount.mount_path, "/cockroach/cockroach-client-certs");
    assert_eq!(
        pod.volumes.as_ref().unwrap()[0]
            .secret
            .as_ref()
            .unwrap()
            .secret_name
            .as_deref(),
        Some("cockroachdb.client.root")
    );
    assert_eq!(
        job.metadata.labels.as_ref().unwrap()["app.kubernetes.io/component"],
        "upgrade"
    );
}

#[test]
fn the_gate_job_runs_its_statements_then_node_status_in_one_shell() {
    let statements = vec![
        "CREATE DATABASE IF NOT EXISTS crdb_provider".to_string(),
        "SELECT '$HOME' AS \"x\"".to_string(),
    ];
    let job = gate_job(&spec(), "cockroachdb/cockroach:v24.1.0", &statements);
    let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let command = pod.containers[0].command.clone().unwrap();
    assert_eq!(command[..2], ["/bin/bash", "-ec"]);
    assert_eq!(
        command[2],
        "/cockroach/cockroach sql --certs-dir=/cockroach/cockroach-client-certs --host=cockroachdb-public \
         --format=csv -e \"CREATE DATABASE IF NOT EXISTS crdb_provider\" -e \"SELECT '\\$HOME' AS \\\"x\\\"\" && \
         /cockroach/cockroach node status --all --decommission --ranges --format=csv \
         --certs-dir=/cockroach/cockroach-client-certs --host=cockroachdb-public"
    );
    let plain = node_status_job(&spec(), "cockroachdb/cockroach:v24.1.0");
    let pod = plain.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert_eq!(
        pod.containers[0].command.as_ref().unwrap()[..3],
        ["/cockroach/cockroach", "node", "status"]
    );
}
