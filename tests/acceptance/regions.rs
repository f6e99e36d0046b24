//! `crdb_region` and `crdb_dns_link` through the real CLI against kube-sandbox: three emulated
//! Kubernetes clusters, one CockroachDB cluster across them.
use crate::harness::Workspace;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use kube::api::{Api, ListParams, PostParams};

pub use crate::clusters::{configuration, Clusters, ZONES};

pub fn live_nodes(clusters: &Clusters) -> (usize, usize) {
    let world = clusters.sandbox.world().expect("controllers run");
    let nodes = world.cockroach().nodes();
    (nodes.len(), nodes.iter().filter(|n| n.live).count())
}

/// The ConfigMap and key holding a cluster's DNS forwarding for the given flavour.
fn dns_config_key(flavour: &str) -> (&'static str, &'static str) {
    match flavour {
        "coredns" => ("coredns", "Corefile"),
        _ => ("kube-dns", "stubDomains"),
    }
}

pub fn dns_config(clusters: &Clusters, name: &str, flavour: &str) -> String {
    let (map_name, key) = dns_config_key(flavour);
    let api: Api<ConfigMap> = Api::namespaced(clusters.client(name), "kube-system");
    clusters.runtime.block_on(async {
        let map = api.get(map_name).await.unwrap();
        map.data
            .and_then(|d| d.get(key).cloned())
            .unwrap_or_default()
    })
}

/// Puts someone else's forwarding into a cluster's DNS configuration; returns the text it left.
fn add_foreign_forwarding(clusters: &Clusters, name: &str, flavour: &str) -> String {
    let (map_name, key) = dns_config_key(flavour);
    let api: Api<ConfigMap> = Api::namespaced(clusters.client(name), "kube-system");
    clusters.runtime.block_on(async {
        let mut map = api.get(map_name).await.unwrap();
        let data = map.data.get_or_insert_with(Default::default);
        let text = match flavour {
            "coredns" => format!(
                "{}\ncorp.example:53 {{\n    forward . 192.0.2.250\n}}\n",
                data.get(key).cloned().unwrap_or_default().trim_end()
            ),
            _ => r#"{"corp.example": ["192.0.2.250"]}"#.to_string(),
        };
        data.insert(key.into(), text.clone());
        api.replace(map_name, &PostParams::default(), &map)
            .await
            .unwrap();
        text
    })
}

/// Objects labelled as the provider's, in every namespace of cluster `name`.
pub fn our_objects(clusters: &Clusters, name: &str) -> Vec<String> {
    let client = clusters.client(name);
    let ours = ListParams::default().labels("app.kubernetes.io/managed-by=terraform-provider-crdb");
    clusters.runtime.block_on(async {
        let mut found = Vec::new();
        for ns in Api::<Namespace>::all(client.clone())
            .list(&ours)
            .await
            .unwrap()
        {
            found.push(format!("Namespace/{}", ns.metadata.name.unwrap()));
        }
        for s in Api::<Service>::all(client.clone())
            .list(&ours)
            .await
            .unwrap()
        {
            found.push(format!(
                "Service/{}/{}",
                s.metadata.namespace.unwrap(),
                s.metadata.name.unwrap()
            ));
        }
        for m in Api::<ConfigMap>::all(client.clone())
            .list(&ours)
            .await
            .unwrap()
        {
            found.push(format!(
                "ConfigMap/{}/{}",
                m.metadata.namespace.unwrap(),
                m.metadata.name.unwrap()
            ));
        }
        for s in Api::<Secret>::all(client.clone())
            .list(&ours)
            .await
            .unwrap()
        {
            found.push(format!(
                "Secret/{}/{}",
                s.metadata.namespace.unwrap(),
                s.metadata.name.unwrap()
            ));
        }
        found
    })
}

/// No line of any private key in state (CA, root client, nodes) nor the connection's token appears
/// in the given outputs.
fn assert_no_private_key_leaked(ws: &Workspace, outputs: &[(&str, &str)]) {
    let secrets = secrets_in_state(ws);
    let tokens = secrets
        .iter()
        .filter(|(_, _, what)| *what == "token")
        .count();
    assert_eq!(tokens, 6, "every region and link has a token to look for");
    assert_no_secret_in(&secrets, outputs);
}

/// Every secret the state holds, as (address, text, what): each line of every private key (the CA's, the
/// root client's and the nodes', wherever they are copied, and a connection's client key) and every
/// connection's token.
pub fn secrets_in_state(ws: &Workspace) -> Vec<(String, String, &'static str)> {
    let mut secrets = Vec::new();
    for (address, values) in ws.state() {
        let cluster = &values["cluster"];
        let block = &values["kubernetes"];
        let block = if block.is_array() { &block[0] } else { block };
        for pem in [
            &values["ca_private_key"],
            &values["root_client_private_key"],
            &values["node_private_key"],
            &cluster["ca_private_key"],
            &cluster["root_client_private_key"],
            &block["client_key"],
        ] {
            if let Some(pem) = pem.as_str() {
                secrets.extend(pem_lines(&address, pem));
            }
        }
        if let Some(token) = block["token"].as_str() {
            secrets.push((address.clone(), token.to_string(), "token"));
        }
    }
    assert!(
        secrets.len() > 10,
        "the state holds the keys and tokens this check looks for: {}",
        secrets.len()
    );
    secrets
}

/// Each line of a private key's PEM as a secret of `address`.
pub fn pem_lines(address: &str, pem: &str) -> Vec<(String, String, &'static str)> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
        .map(|l| (address.to_string(), l.to_string(), "private key"))
        .collect()
}

/// Which of `secrets` appear in which of `outputs` (flow, text): `flow: a private key of <address>`, each once.
pub fn secret_leaks(secrets: &[(String, String, &str)], outputs: &[(&str, &str)]) -> Vec<String> {
    let mut leaks = std::collections::BTreeSet::new();
    for (address, secret, what) in secrets {
        for (flow, output) in outputs {
            if output.contains(secret.as_str()) {
                leaks.insert(format!("{flow}: a {what} of {address}"));
            }
        }
    }
    leaks.into_iter().collect()
}

/// None of `secrets` appears in any of `outputs` (flow, text); a failure lists every flow that leaked what.
pub fn assert_no_secret_in(secrets: &[(String, String, &str)], outputs: &[(&str, &str)]) {
    let leaks = secret_leaks(secrets, outputs);
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}

/// Three regions over clusters with the given DNS servers: every node live, plan empty, destroy
/// refused while protected, then a destroy that leaves no object of ours and every DNS
/// configuration exactly as it was, someone else's forwarding included.
fn three_regions_lifecycle(dns: [&str; 3]) {
    let clusters = Clusters::start(&dns);
    let before: Vec<String> = ZONES
        .iter()
        .zip(dns)
        .map(|(zone, flavour)| add_foreign_forwarding(&clusters, zone, flavour))
        .collect();
    let ws = Workspace::new("");
    let log_path = ws.path().join("trace.log");
    let ws = ws
        .with_env("TF_LOG", "trace")
        .with_env("TF_LOG_PATH", log_path.to_str().unwrap());
    ws.write_config(&configuration(&clusters, &ws, true, 3));
    let applied = ws.apply();
    let (nodes, live) = live_nodes(&clusters);
    assert_eq!(
        (nodes, live),
        (9, 9),
        "every node of the three zones is live after apply"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("terraform-provider-crdb"),
        "the provider's own lines reach the trace log"
    );
    // The apply's director logs each step, whether it runs or is skipped, and why.
    for said in [
        "running a step of the apply",
        "cockroach init",
        "skipping a step of the apply",
        "the StatefulSet is new: its pods start on its revision",
    ] {
        assert!(log.contains(said), "the trace log says {said:?}");
    }
    assert_no_private_key_leaked(
        &ws,
        &[
            ("apply", &applied.stdout),
            ("apply", &applied.stderr),
            ("trace log", &log),
        ],
    );
    assert!(clusters.sandbox.world().unwrap().cockroach().initialised());
    ws.assert_plan_empty("apply");

    for (i, (zone, flavour)) in ZONES.iter().zip(dns).enumerate() {
        let text = dns_config(&clusters, zone, flavour);
        assert!(
            text.contains("corp.example"),
            "foreign forwarding kept in {zone}: {text}"
        );
        for (j, peer) in ZONES.iter().enumerate() {
            let forwarded = text.contains(&format!("{peer}.svc.cluster.local"));
            assert_eq!(
                forwarded,
                i != j,
                "{zone} forwarding of {peer} (never its own zone): {text}"
            );
        }
    }

    let refused = ws.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("deletion_protection"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        live_nodes(&clusters).1,
        9,
        "a refused destroy touches nothing"
    );

    ws.write_config(&configuration(&clusters, &ws, false, 3));
    ws.apply();
    ws.destroy();
    for ((zone, flavour), original) in ZONES.iter().zip(dns).zip(&before) {
        assert_eq!(
            our_objects(&clusters, zone),
            Vec::<String>::new(),
            "objects of ours left in {zone}"
        );
        let after = dns_config(&clusters, zone, flavour);
        if flavour == "kube-dns" {
            // stubDomains is JSON: the same entries, whatever the spacing.
            let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
            assert_eq!(
                parse(&after),
                parse(original),
                "stubDomains of {zone} not restored"
            );
        } else {
            assert_eq!(
                &after, original,
                "Corefile of {zone} not restored byte for byte"
            );
        }
    }
}

#[test]
fn three_kube_dns_regions() {
    three_regions_lifecycle(["kube-dns", "kube-dns", "kube-dns"]);
}

#[test]
fn three_coredns_regions() {
    three_regions_lifecycle(["coredns", "coredns", "coredns"]);
}

#[test]
fn a_mixed_set_of_dns_servers() {
    three_regions_lifecycle(["kube-dns", "coredns", "kube-dns"]);
}

/// Runs `change` against the live cluster, then checks that the next plan shows drift and that
/// apply repairs it so that the plan after is empty.
fn assert_drift_repaired(ws: &Workspace, what: &str, expect_in_plan: &str) {
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(
        code, 2,
        "{what}: no drift in the plan:\n{}{}",
        plan.stdout, plan.stderr
    );
    assert!(
        plan.stdout.contains(expect_in_plan),
        "{what}: plan does not mention {expect_in_plan}:\n{}",
        plan.stdout
    );
    ws.apply();
    ws.assert_plan_empty(&format!("repairing {what}"));
}

#[test]
fn drift_made_by_hand_shows_in_the_plan_and_apply_repairs_it() {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use kube::api::{DeleteParams, Patch, PatchParams};
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    ws.write_config(&configuration(&clusters, &ws, true, 3));
    ws.apply();
    let zone = ZONES[0];
    let client = clusters.client(zone);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), zone);
    let by_hand = PatchParams::default();

    clusters
        .runtime
        .block_on(sets.patch(
            "cockroachdb",
            &by_hand,
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 1}})),
        ))
        .unwrap();
    assert_drift_repaired(&ws, "a StatefulSet scaled by hand", "replicas");
    let set = clusters.runtime.block_on(sets.get("cockroachdb")).unwrap();
    assert_eq!(set.spec.unwrap().replicas, Some(3));

    // An image the cluster cannot run (a major version back): the pod it reaches crash-loops,
    // which leaves the rollout stuck until the provider replaces that pod.
    let reimage = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "cockroachdb", "image": "cockroachdb/cockroach:v23.1.0"}]}}}});
    clusters
        .runtime
        .block_on(sets.patch("cockroachdb", &by_hand, &Patch::Strategic(reimage)))
        .unwrap();
    clusters.runtime.block_on(async {
        use k8s_openapi::api::core::v1::Pod;
        let pods: Api<Pod> = Api::namespaced(client.clone(), zone);
        for _ in 0..600 {
            let crash_looping = pods
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .any(|pod| {
                    pod.status
                        .as_ref()
                        .and_then(|s| s.container_statuses.as_ref())
                        .is_some_and(|statuses| {
                            statuses.iter().any(|c| {
                                c.state
                                    .as_ref()
                                    .and_then(|s| s.waiting.as_ref())
                                    .and_then(|w| w.reason.as_deref())
                                    == Some("CrashLoopBackOff")
                            })
                        })
                });
            if crash_looping {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no pod crash-loops on the image set by hand");
    });
    assert_drift_repaired(&ws, "a StatefulSet re-imaged by hand", "image");
    let set = clusters.runtime.block_on(sets.get("cockroachdb")).unwrap();
    let image = set.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("cockroachdb/cockroach:v24.1.0"));

    let secrets: Api<Secret> = Api::namespaced(client.clone(), zone);
    clusters
        .runtime
        .block_on(secrets.delete("cockroachdb.node", &DeleteParams::default()))
        .unwrap();
    assert_drift_repaired(&ws, "a deleted node secret", "missing_objects");
    assert!(clusters
        .runtime
        .block_on(secrets.get_opt("cockroachdb.node"))
        .unwrap()
        .is_some());

    let peer = ZONES[1];
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    clusters.runtime.block_on(async {
        let mut map = maps.get("kube-dns").await.unwrap();
        let data = map.data.as_mut().unwrap();
        let mut stub: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&data["stubDomains"]).unwrap();
        stub.remove(&format!("{peer}.svc.cluster.local"));
        data.insert(
            "stubDomains".into(),
            serde_json::Value::Object(stub).to_string(),
        );
        maps.replace("kube-dns", &PostParams::default(), &map)
            .await
            .unwrap();
    });
    assert_drift_repaired(&ws, "a removed DNS entry", peer);
    assert!(dns_config(&clusters, zone, "kube-dns").contains(&format!("{peer}.svc.cluster.local")));

    let namespaces: Api<Namespace> = Api::all(client.clone());
    clusters.runtime.block_on(async {
        namespaces
            .delete(zone, &DeleteParams::default())
            .await
            .unwrap();
        for _ in 0..600 {
            if namespaces.get_opt(zone).await.unwrap().is_none() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("namespace {zone} did not go away");
    });
    assert_drift_repaired(
        &ws,
        "a deleted namespace",
        &format!("crdb_region.{} will be created", zone.replace('-', "_")),
    );
    // The zone's three new nodes join the running cluster (no second init); the three whose
    // volumes went with the namespace stay known to CockroachDB as dead nodes.
    assert_eq!(
        live_nodes(&clusters),
        (12, 9),
        "the re-created zone rejoins the same cluster"
    );
    let world = clusters.sandbox.world().unwrap();
    let ids: std::collections::BTreeSet<_> = world
        .cockroach()
        .nodes()
        .iter()
        .map(|n| n.ca.clone())
        .collect();
    assert_eq!(ids.len(), 1, "one CockroachDB cluster, not two");
}

/// `configuration` with a CA the user brings (files beside the configuration).
pub fn user_ca_configuration(
    clusters: &Clusters,
    ws: &Workspace,
    ca: &terraform_provider_crdb::cockroach::pki::CertificateAuthority,
    protect: bool,
) -> String {
    std::fs::write(ws.path().join("ca.crt"), ca.cert_pem()).unwrap();
    std::fs::write(ws.path().join("ca.key"), ca.key_pem()).unwrap();
    configuration(clusters, ws, protect, 3).replacen(
        "  zones = [",
        "  ca_certificate = file(\"${path.module}/ca.crt\")\n  ca_private_key = file(\"${path.module}/ca.key\")\n  zones = [",
        1,
    )
}

/// Pod uids and restart counts of the pods `selector` matches in the three clusters.
pub fn pod_generations(clusters: &Clusters, selector: &str) -> Vec<(String, String, i32)> {
    use k8s_openapi::api::core::v1::Pod;
    let mut pods = Vec::new();
    for zone in ZONES {
        let api: Api<Pod> = Api::namespaced(clusters.client(zone), zone);
        let list = clusters
            .runtime
            .block_on(api.list(&ListParams::default().labels(selector)))
            .unwrap();
        for pod in list {
            let restarts = pod
                .status
                .and_then(|s| s.container_statuses)
                .map(|c| c.iter().map(|c| c.restart_count).sum())
                .unwrap_or(0);
            pods.push((
                pod.metadata.name.unwrap(),
                pod.metadata.uid.unwrap(),
                restarts,
            ));
        }
    }
    pods.sort();
    pods
}

/// Imports the cluster (by name), and every region and link: by zone alone, or as `<context>/<zone>` through a
/// kubeconfig of the sandbox for the zones in `through_context`.
pub fn import_everything(
    clusters: &Clusters,
    ws: Workspace,
    through_context: &[&str],
) -> Workspace {
    let kubeconfig = ws.path().join("kubeconfig");
    clusters.sandbox.write_kubeconfig(&kubeconfig).unwrap();
    let ws = ws.with_env("KUBECONFIG", kubeconfig.to_str().unwrap());
    let import = |address: &str, id: &str| {
        ws.terraform(&["import", "-input=false", "-no-color", address, id])
            .ok("import");
    };
    import("crdb_multiregion_cluster.main", "main");
    for zone in ZONES {
        let key = zone.replace('-', "_");
        // The sandbox names each cluster's context after the cluster, which is named after its zone here.
        let id = if through_context.contains(&zone) {
            format!("{zone}/{zone}")
        } else {
            zone.to_string()
        };
        import(&format!("crdb_region.{key}"), &id);
        import(&format!("crdb_dns_link.{key}"), &id);
    }
    ws
}

/// A region or link imported through a context shows only what import cannot know in the next plan: the
/// connection and the cluster it is wired to (and the configuration's timeouts), plus `also`.
pub fn assert_only_wiring_changes(address: &str, changed: &[String], also: &[&str]) {
    let mut allowed = vec!["kubernetes", "timeouts"];
    if address.starts_with("crdb_region.") {
        allowed.push("cluster");
    }
    allowed.extend(also);
    let unexpected: Vec<&String> = changed
        .iter()
        .filter(|c| !allowed.contains(&c.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "the plan after importing {address} changes more than its wiring: {unexpected:?}"
    );
    assert!(
        changed.iter().any(|c| c == "kubernetes"),
        "{address}: the connection is wiring import cannot know: {changed:?}"
    );
}

/// The provider's node pods.
const NODE_PODS: &str = "app.kubernetes.io/component=database";

#[test]
fn import_adopts_a_running_deployment_without_restarting_anything() {
    use terraform_provider_crdb::cockroach::pki::CertificateAuthority;
    let clusters = Clusters::start(&["kube-dns", "coredns", "kube-dns"]);
    let ca = CertificateAuthority::generate(
        "main",
        time::Duration::days(365),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let with_ca = |ws: &Workspace| user_ca_configuration(&clusters, ws, &ca, true);
    let original = Workspace::new("");
    original.write_config(&with_ca(&original));
    original.apply();
    assert_eq!(live_nodes(&clusters), (9, 9));
    let pods_before = pod_generations(&clusters, NODE_PODS);
    assert_eq!(pods_before.len(), 9);

    // A second configuration with no state adopts what runs: the first zone imported by its name alone, the
    // others through a kubeconfig context, which lets import read what runs.
    let adopter = Workspace::new("");
    adopter.write_config(&with_ca(&adopter));
    let adopter = import_everything(&clusters, adopter, &ZONES[1..]);
    for (address, changed) in adopter.planned_attribute_changes() {
        if address.ends_with(&ZONES[0].replace('-', "_")) || address.starts_with("crdb_multiregion")
        {
            continue;
        }
        // Every link's peers and peer_protocols name the first zone, whose address and protocol that import
        // could not read.
        let also: &[&str] = if address.starts_with("crdb_dns_link") {
            &["peers", "peer_protocols"]
        } else {
            &[]
        };
        assert_only_wiring_changes(&address, &changed, also);
    }
    let actions = adopter.planned_actions();
    assert_eq!(actions.len(), 7, "{actions:?}");
    for (address, actions) in &actions {
        assert_eq!(
            actions,
            &vec!["update".to_string()],
            "{address} must be adopted in place, not re-created"
        );
    }
    adopter.apply();
    adopter.assert_plan_empty("adoption");
    assert_eq!(
        pod_generations(&clusters, NODE_PODS),
        pods_before,
        "adoption restarted or replaced a pod"
    );
    assert_eq!(live_nodes(&clusters), (9, 9));
}

#[test]
fn invalid_region_and_link_input_gets_diagnostics_before_any_cluster_is_contacted() {
    let config = r#"
resource "crdb_multiregion_cluster" "main" {
  name  = "main"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["a", "b"]
}

resource "crdb_region" "bad" {
  cluster = crdb_multiregion_cluster.main
  zone = "c"
  replicas = -1
  memory_limit = "8 gigabytes"
  kubernetes {
    host = "https://127.0.0.1:1"
    token = "t"
    client_certificate = "also a certificate"
    cluster_ca_certificate = "not a PEM"
  }
}

resource "crdb_dns_link" "bad" {
  zone = "a"
  peers = {
    "b" = "dns.example.com"
  }
  kubernetes {
    config_path = "/nonexistent/kubeconfig"
    host = "https://127.0.0.1:1"
  }
}
"#;
    let ws = Workspace::new(config);
    let run = ws.terraform(&["plan", "-json", "-input=false"]);
    assert_ne!(run.code, 0);
    let diags = run.diagnostics();
    let line_of = |needle: &str| {
        let full = format!("{}\n{config}", crate::harness::PROVIDER_BLOCK);
        full.lines().position(|l| l.contains(needle)).unwrap() as i64 + 1
    };
    let expect = |summary_part: &str, needle: &str| {
        let line = line_of(needle);
        assert!(
            diags.iter().any(|d| d["severity"] == "error"
                && d["summary"].as_str().unwrap_or("").contains(summary_part)
                && d["range"]["start"]["line"] == line),
            "no error containing {summary_part:?} at line {line} ({needle}); got {diags:#?}"
        );
    };
    // A zone outside the cluster's zones is caught at plan time, when the cluster created in the
    // same run is known; Terraform stops at the validation errors above before that.
    let only_zone = config
        .replace("  replicas = -1\n", "")
        .replace("  memory_limit = \"8 gigabytes\"\n", "")
        .replace("    client_certificate = \"also a certificate\"\n    cluster_ca_certificate = \"not a PEM\"\n", "")
        .replace("    config_path = \"/nonexistent/kubeconfig\"\n", "    token = \"t\"\n")
        .replace("\"b\" = \"dns.example.com\"", "\"b\" = \"192.0.2.1\"");
    let ws = Workspace::new(&only_zone);
    let run = ws.terraform(&["plan", "-json", "-input=false"]);
    assert_ne!(run.code, 0);
    let full = format!("{}\n{only_zone}", crate::harness::PROVIDER_BLOCK);
    let zone_line = full
        .lines()
        .position(|l| l.contains("zone = \"c\""))
        .unwrap() as i64
        + 1;
    assert!(
        run.diagnostics()
            .iter()
            .any(|d| d["summary"] == "Zone not in the cluster"
                && d["range"]["start"]["line"] == zone_line),
        "{:#?}",
        run.diagnostics()
    );
    expect("Invalid replicas", "replicas = -1");
    expect("Invalid quantity", "memory_limit");
    expect("Invalid DNS address", "\"b\" = \"dns.example.com\"");
    // Conflicting and unparsable connection settings, each on its own line; config_path
    // conflicts with the host below it, so that error may point at either line.
    for (needle, spread) in [
        ("client_certificate = ", 0),
        ("cluster_ca_certificate = ", 0),
        ("config_path = ", 1),
    ] {
        let line = line_of(needle);
        assert!(
            diags.iter().any(|d| {
                let at = d["range"]["start"]["line"].as_i64().unwrap_or(0);
                d["severity"] == "error" && (line..=line + spread).contains(&at)
            }),
            "no error at line {line} ({needle}); got {diags:#?}"
        );
    }
}

#[test]
fn a_link_whose_nodes_never_become_ready_times_out_naming_the_pods() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    // The us-east1-b link points us-west1-a at an address no DNS server has: its nodes can never
    // resolve their peers there, so they never become ready.
    let config = configuration(&clusters, &ws, false, 3).replace(
        "  timeouts {\n    create = \"5m\"\n  }\n}\n",
        "  timeouts {\n    create = \"3s\"\n  }\n}\n",
    );
    // Only the first link gets the wrong address.
    let marker = "resource \"crdb_dns_link\" \"us_east1_b\"";
    let (head, tail) = config.split_at(config.find(marker).unwrap());
    let end = tail.find("\n}\n").unwrap();
    let broken_link = tail[..end].replace("crdb_region.us_west1_a.dns_address", "\"192.0.2.254\"");
    ws.write_config(&format!("{head}{broken_link}{}", &tail[end..]));
    let run = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let error = run.stderr.replace('\n', " ");
    assert!(
        error.contains("Timed out waiting for StatefulSet us-east1-b/cockroachdb"),
        "{}",
        run.stderr
    );
    assert!(
        error.contains("not ready: cockroachdb-"),
        "the error names the pods: {}",
        run.stderr
    );
    ws.destroy();
}

#[test]
fn a_zone_whose_nodes_cannot_reach_a_peer_zone_is_told_so_with_the_fix() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    // No firewall rule from us-west1-a's pods to us-east1-b's nodes (the init zone) on CockroachDB's port.
    clusters
        .sandbox
        .set_path_blocked("us-west1-a", "us-east1-b", 26257, true)
        .unwrap();
    let ws = Workspace::new("");
    let config = configuration(&clusters, &ws, false, 3);
    let marker = "resource \"crdb_dns_link\" \"us_west1_a\"";
    let (head, tail) = config.split_at(config.find(marker).unwrap());
    let short = tail.replacen("create = \"5m\"", "create = \"10s\"", 1);
    ws.write_config(&format!("{head}{short}"));
    let run = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let error = run.stderr.replace('\n', " ");
    assert!(
        error.contains("Nodes of zone us-west1-a cannot reach zone us-east1-b on port 26257"),
        "{}",
        run.stderr
    );
    assert!(
        error.contains("i/o timeout") && error.contains("firewall rule"),
        "{}",
        run.stderr
    );
    assert!(
        !error.contains("cannot reach zone europe-west1-c"),
        "only the blocked direction is named: {}",
        run.stderr
    );

    // With the rule in place, the next apply finishes the link.
    clusters
        .sandbox
        .set_path_blocked("us-west1-a", "us-east1-b", 26257, false)
        .unwrap();
    let run = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(live_nodes(&clusters), (9, 9));
    ws.destroy();
}

#[test]
fn a_link_on_a_cluster_resolving_through_cloud_dns_fails_at_once_writing_nothing() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "cloud-dns"]);
    let ws = Workspace::new("");
    let config = configuration(&clusters, &ws, false, 3).replace(
        "  timeouts {\n    create = \"5m\"\n  }\n}\n",
        "  timeouts {\n    create = \"10s\"\n  }\n}\n",
    );
    ws.write_config(&config);
    let run = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let error = run.stderr.replace('\n', " ");
    assert!(
        error.contains("has no DNS pods to forward peer zones")
            && error.contains("Cloud DNS for GKE")
            && error.contains("KUBE_DNS"),
        "{}",
        run.stderr
    );
    assert!(
        error.contains("with crdb_dns_link.europe_west1_c"),
        "the diagnostic is the Cloud DNS cluster's link's: {}",
        run.stderr
    );
    let config_maps: Api<ConfigMap> =
        Api::namespaced(clusters.client("europe-west1-c"), "kube-system");
    let kube_dns = clusters
        .runtime
        .block_on(config_maps.get("kube-dns"))
        .unwrap();
    assert!(
        !kube_dns
            .data
            .unwrap_or_default()
            .contains_key("stubDomains"),
        "nothing was written"
    );
    ws.destroy();
}

#[test]
fn a_connection_unknown_at_plan_time_plans_and_a_refused_one_names_the_cluster() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let cluster = clusters.sandbox.cluster(ZONES[0]).unwrap();
    std::fs::write(ws.path().join("ca.pem"), cluster.ca_pem()).unwrap();
    // The token only exists after apply (like a GKE cluster's credentials), and it is wrong.
    let config = format!(
        r#"
resource "crdb_multiregion_cluster" "main" {{
  name  = "main"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["{zone}"]
}}

resource "crdb_region" "only" {{
  cluster             = crdb_multiregion_cluster.main
  zone                = "{zone}"
  deletion_protection = false
  kubernetes {{
    host                   = "{url}"
    cluster_ca_certificate = file("${{path.module}}/ca.pem")
    token                  = crdb_multiregion_cluster.main.ca_fingerprint_sha256
  }}
}}
"#,
        zone = ZONES[0],
        url = cluster.url()
    );
    ws.write_config(&config);
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(
        code, 2,
        "a connection built from unknown values plans: {}{}",
        plan.stdout, plan.stderr
    );
    let run = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(run.code, 0);
    let error = run.stderr.replace('\n', " ");
    assert!(
        error.contains(&cluster.url()),
        "the error names the cluster: {}",
        run.stderr
    );
    assert!(
        error.contains("401") || error.contains("Unauthorized"),
        "{}",
        run.stderr
    );
    assert!(
        !error.contains(
            ws.resource("crdb_multiregion_cluster.main")["ca_fingerprint_sha256"]
                .as_str()
                .unwrap()
        ),
        "the token is not shown"
    );
    let namespaces: Api<Namespace> = Api::all(clusters.client(ZONES[0]));
    assert!(clusters
        .runtime
        .block_on(namespaces.get_opt(ZONES[0]))
        .unwrap()
        .is_none());
}

#[test]
fn load_balancers_known_by_host_name_resolve_through_the_given_resolver() {
    let clusters = Clusters::start_with(&["kube-dns", "coredns", "kube-dns"], true);
    let resolver = clusters
        .sandbox
        .lb_dns_addr()
        .expect("the sandbox resolves its LB host names");
    let ws = Workspace::new("");
    let config = configuration(&clusters, &ws, false, 3).replace(
        "  deletion_protection = false\n",
        &format!("  deletion_protection = false\n  dns_resolver        = \"{resolver}\"\n"),
    );
    ws.write_config(&config);
    ws.apply();
    assert_eq!(
        live_nodes(&clusters),
        (9, 9),
        "peers resolve each other through resolved addresses"
    );
    for zone in ZONES {
        let region = ws.resource(&format!("crdb_region.{}", zone.replace('-', "_")));
        let address = region["dns_address"].as_str().unwrap();
        assert!(
            address.parse::<std::net::Ipv4Addr>().is_ok(),
            "{zone}: dns_address {address} is an IP"
        );
        let services: Api<Service> = Api::namespaced(clusters.client(zone), "kube-system");
        let lb = clusters
            .runtime
            .block_on(services.get(&format!("crdb-dns-{zone}")))
            .unwrap();
        let ingress = lb.status.unwrap().load_balancer.unwrap().ingress.unwrap();
        assert!(
            ingress[0].hostname.is_some() && ingress[0].ip.is_none(),
            "{zone}: the LB has only a host name"
        );
    }
    ws.assert_plan_empty("apply");
    ws.destroy();
}

#[test]
fn scaling_down_decommissions_the_leaving_node_first_and_scaling_up_adds_a_fresh_one() {
    use kube_sandbox::world::Membership;
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    ws.write_config(&configuration(&clusters, &ws, false, 3));
    ws.apply();
    let zone = ZONES[0];
    let scaled = configuration(&clusters, &ws, false, 3).replacen(
        "replicas            = 3",
        "replicas            = 2",
        1,
    );
    ws.write_config(&scaled);
    ws.apply();
    ws.assert_plan_empty("scale-down");
    let world = clusters.sandbox.world().unwrap();
    let in_zone: Vec<_> = world
        .cockroach()
        .nodes()
        .into_iter()
        .filter(|n| n.zone == zone)
        .collect();
    let leaving = in_zone
        .iter()
        .find(|n| n.pod == "cockroachdb-2")
        .expect("the leaving node is known");
    assert_eq!(
        leaving.membership,
        Membership::Decommissioned,
        "decommissioned before its pod went"
    );
    assert_eq!(live_nodes(&clusters).1, 8);

    ws.write_config(&configuration(&clusters, &ws, false, 3));
    ws.apply();
    ws.assert_plan_empty("scale-up");
    let nodes = world.cockroach().nodes();
    let live_in_zone = nodes.iter().filter(|n| n.zone == zone && n.live).count();
    assert_eq!(
        live_in_zone, 3,
        "the re-added ordinal starts as a fresh node on a new volume"
    );
    assert_eq!(live_nodes(&clusters).1, 9);

    // A new memory limit is a new pod template: apply returns once every node runs it.
    ws.write_config(&configuration(&clusters, &ws, false, 3).replace(
        "  replicas            = 3\n",
        "  replicas            = 3\n  memory_limit        = \"16Gi\"\n",
    ));
    ws.apply();
    for zone in ZONES {
        use k8s_openapi::api::apps::v1::StatefulSet;
        let sets: Api<StatefulSet> = Api::namespaced(clusters.client(zone), zone);
        let set = clusters.runtime.block_on(sets.get("cockroachdb")).unwrap();
        let observed = terraform_provider_crdb::cockroach::manifests::observe_nodes(&set);
        assert!(
            observed.settled(),
            "{zone} is still rolling after apply: {observed:?}"
        );
        assert_eq!(observed.updated_replicas, 3, "{zone}");
    }
    ws.assert_plan_empty("a new memory limit");
    ws.destroy();
}

/// The data claims' capacity and the StatefulSet's claim template size and uid, per zone.
pub fn volumes(clusters: &Clusters) -> Vec<(String, Vec<String>, String, String)> {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    ZONES
        .iter()
        .map(|zone| {
            let client = clusters.client(zone);
            clusters.runtime.block_on(async {
                let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), zone);
                let mut capacities: Vec<(String, String)> = claims
                    .list(&ListParams::default())
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|c| {
                        let capacity = c
                            .status
                            .and_then(|s| s.capacity)
                            .and_then(|c| c.get("storage").map(|q| q.0.clone()))
                            .unwrap_or_default();
                        (c.metadata.name.unwrap(), capacity)
                    })
                    .collect();
                capacities.sort();
                let sets: Api<StatefulSet> = Api::namespaced(client, zone);
                let set = sets.get("cockroachdb").await.unwrap();
                let template = set.spec.unwrap().volume_claim_templates.unwrap()[0]
                    .spec
                    .clone()
                    .unwrap()
                    .resources
                    .unwrap()
                    .requests
                    .unwrap()["storage"]
                    .0
                    .clone();
                (
                    zone.to_string(),
                    capacities.into_iter().map(|(_, c)| c).collect(),
                    template,
                    set.metadata.uid.unwrap(),
                )
            })
        })
        .collect()
}

/// Growing `storage_size` expands every claim in place and re-creates the StatefulSet around its
/// running pods: no pod restarts or is replaced. The same size in other units plans nothing, a
/// smaller one is refused at plan time on `storage_size`, and a class that cannot grow fails the
/// apply naming the class before anything changes. One zone resumes an expansion interrupted after
/// its StatefulSet was deleted.
#[test]
fn storage_grows_in_place_without_restarting_a_node_and_never_shrinks() {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use k8s_openapi::api::storage::v1::StorageClass;
    use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
    let clusters = Clusters::start(&["kube-dns", "coredns", "kube-dns"]);
    let (grown, resumed, fixed) = (ZONES[0], ZONES[1], ZONES[2]);
    // The third zone keeps its data on a class that does not allow expansion.
    let classes: Api<StorageClass> = Api::all(clusters.client(fixed));
    let class: StorageClass = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "fixed"}, "provisioner": "example.com/fixed-disk", "allowVolumeExpansion": false
    }))
    .unwrap();
    clusters
        .runtime
        .block_on(classes.create(&PostParams::default(), &class))
        .unwrap();
    let ws = Workspace::new("");
    let config = |sizes: [&str; 3]| {
        let mut config = configuration(&clusters, &ws, false, 3);
        for (zone, size) in ZONES.iter().zip(sizes) {
            let class = if *zone == fixed {
                "  storage_class       = \"fixed\"\n"
            } else {
                ""
            };
            config = config.replacen(
                &format!("  zone                = \"{zone}\"\n"),
                &format!("  zone                = \"{zone}\"\n  storage_size        = \"{size}\"\n{class}"),
                1,
            );
        }
        config
    };
    ws.write_config(&config(["1Gi", "1Gi", "1Gi"]));
    ws.apply();
    assert_eq!(live_nodes(&clusters), (9, 9));
    let pods_before = pod_generations(&clusters, NODE_PODS);
    assert_eq!(pods_before.len(), 9);
    let before = volumes(&clusters);
    for (zone, capacities, template, _) in &before {
        assert_eq!(capacities, &["1Gi"; 3], "{zone}");
        assert_eq!(template, "1Gi", "{zone}");
    }

    ws.write_config(&config(["1024Mi", "1024Mi", "1Gi"]));
    ws.assert_plan_empty("writing the same sizes in other units");

    let shrunk = config(["512Mi", "1Gi", "1Gi"]);
    ws.write_config(&shrunk);
    let run = ws.terraform(&["plan", "-json", "-input=false"]);
    assert_ne!(run.code, 0, "a smaller size must not plan");
    let full = format!("{}\n{shrunk}", crate::harness::PROVIDER_BLOCK);
    let size_line = full
        .lines()
        .position(|l| l.contains("storage_size        = \"512Mi\""))
        .unwrap() as i64
        + 1;
    let diags = run.diagnostics();
    assert!(
        diags.iter().any(|d| d["severity"] == "error"
            && d["summary"] == "Data volumes cannot shrink"
            && d["range"]["start"]["line"] == size_line
            && d["detail"]
                .as_str()
                .is_some_and(|t| t.contains("from 1Gi to 512Mi"))),
        "no error on storage_size (line {size_line}): {diags:#?}"
    );

    // An apply of the second zone that stopped after raising one claim and deleting the
    // StatefulSet (its pods keep running, orphaned).
    let resumed_client = clusters.client(resumed);
    clusters.runtime.block_on(async {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(resumed_client.clone(), resumed);
        claims
            .patch(
                "datadir-cockroachdb-0",
                &PatchParams::default(),
                &Patch::Merge(
                    serde_json::json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}}),
                ),
            )
            .await
            .unwrap();
        let sets: Api<StatefulSet> = Api::namespaced(resumed_client.clone(), resumed);
        let orphan = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Orphan),
            ..DeleteParams::default()
        };
        sets.delete("cockroachdb", &orphan).await.unwrap();
    });

    ws.write_config(&config(["2Gi", "2Gi", "2Gi"]));
    let refused = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    let error = refused
        .stderr
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let fixed_url = clusters.sandbox.cluster(fixed).unwrap().url();
    for part in [
        "StorageClass \"fixed\" does not allow volume expansion",
        &format!("Zone {fixed} on {fixed_url}"),
        "kubectl patch storageclass fixed",
        "Nothing was changed",
    ] {
        assert!(error.contains(part), "{part:?} not in: {}", refused.stderr);
    }
    let after = volumes(&clusters);
    for (zone, capacities, template, uid) in &after {
        let was = before.iter().find(|(z, ..)| z == zone).unwrap();
        if zone == fixed {
            assert_eq!(capacities, &["1Gi"; 3], "{zone} is left untouched");
            assert_eq!((template.as_str(), uid), ("1Gi", &was.3), "{zone}");
        } else {
            assert_eq!(capacities, &["2Gi"; 3], "{zone} volumes grew");
            assert_eq!(template, "2Gi", "{zone}");
            assert_ne!(uid, &was.3, "{zone}: the StatefulSet was created again");
        }
    }

    // As the error says: allow expansion, apply again.
    clusters
        .runtime
        .block_on(classes.patch(
            "fixed",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"allowVolumeExpansion": true})),
        ))
        .unwrap();
    ws.apply();
    ws.assert_plan_empty("growing the volumes");
    for (zone, capacities, template, _) in volumes(&clusters) {
        assert_eq!(capacities, ["2Gi"; 3], "{zone}");
        assert_eq!(template, "2Gi", "{zone}");
    }
    assert_eq!(
        pod_generations(&clusters, NODE_PODS),
        pods_before,
        "growing the volumes restarted or replaced a pod"
    );
    assert_eq!(live_nodes(&clusters), (9, 9));
    for zone in [grown, resumed, fixed] {
        let region = ws.resource(&format!("crdb_region.{}", zone.replace('-', "_")));
        assert_eq!(region["storage_size"], "2Gi", "{zone}");
    }

    // No volume moves to another class: a new class replaces the region.
    ws.write_config(&config(["2Gi", "2Gi", "2Gi"]).replace(
        "storage_class       = \"fixed\"",
        "storage_class       = \"standard\"",
    ));
    let replaced = format!("crdb_region.{}", fixed.replace('-', "_"));
    for (address, actions) in ws.planned_actions() {
        if address == replaced {
            assert_eq!(actions, ["delete", "create"], "{address}");
        } else if address.starts_with("crdb_region.") {
            assert_eq!(actions, ["no-op"], "{address}");
        }
    }
}

/// On an EKS-like cloud (no mixed-protocol load balancers; kube-sandbox's `LbRules::Eks`) every zone's DNS load
/// balancer, one TCP Service per zone, gets its address and the cluster comes up: the CoreDNS links forward to
/// them with `force_tcp` because each region's `dns_protocol` says `tcp` (the sandbox's DNS leaves a UDP forward
/// to a TCP-only load balancer unanswered, as a real one would). A Service left mixing UDP and
/// TCP, as earlier versions made it, shows in the plan and the next apply gives it one protocol.
#[test]
fn dns_load_balancers_get_addresses_on_a_cloud_that_refuses_mixed_protocols() {
    let clusters = Clusters::start_with(&["coredns", "coredns", "coredns"], true);
    let world = clusters.sandbox.world().expect("controllers run");
    for zone in ZONES {
        world.set_lb_rules(zone, kube_sandbox::world::LbRules::Eks);
    }
    let resolver = clusters
        .sandbox
        .lb_dns_addr()
        .expect("LB host names resolve");
    let ws = Workspace::new("");
    let config = configuration(&clusters, &ws, false, 3).replace(
        "  deletion_protection = false\n",
        &format!(
            "  deletion_protection = false\n  dns_load_balancer   = \"aws-internal\"\n  dns_resolver        = \"{resolver}\"\n"
        ),
    );
    ws.write_config(&config);
    ws.apply();
    assert_eq!(live_nodes(&clusters), (9, 9));
    let lb = |zone: &str| -> Service {
        let services: Api<Service> = Api::namespaced(clusters.client(zone), "kube-system");
        clusters
            .runtime
            .block_on(services.get(&format!("crdb-dns-{zone}")))
            .unwrap()
    };
    let protocols = |service: &Service| -> Vec<String> {
        service
            .spec
            .as_ref()
            .unwrap()
            .ports
            .as_ref()
            .unwrap()
            .iter()
            .map(|p| p.protocol.clone().unwrap_or_default())
            .collect()
    };
    for zone in ZONES {
        assert_eq!(protocols(&lb(zone)), ["TCP"], "{zone}");
        let corefile = dns_config(&clusters, zone, "coredns");
        assert_eq!(
            corefile.matches("force_tcp").count(),
            2,
            "{zone}: {corefile}"
        );
        let region = ws.resource(&format!("crdb_region.{}", zone.replace('-', "_")));
        assert_eq!(region["dns_protocol"], "tcp", "{zone}");
        assert!(
            region["dns_address"]
                .as_str()
                .is_some_and(|a| !a.is_empty()),
            "{zone}"
        );
    }
    ws.assert_plan_empty("apply");

    // What an earlier version left: the provider's own Service with UDP beside TCP.
    let zone = ZONES[0];
    let services: Api<Service> = Api::namespaced(clusters.client(zone), "kube-system");
    // The whole manifest under the provider's field manager, as that version applied it: it then owns both ports.
    let live = lb(zone);
    let mixed = serde_json::json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": format!("crdb-dns-{zone}"), "namespace": "kube-system",
                     "labels": live.metadata.labels, "annotations": live.metadata.annotations},
        "spec": {"type": "LoadBalancer", "selector": live.spec.as_ref().unwrap().selector, "ports": [
            {"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "targetPort": 53, "protocol": "TCP"}]}});
    clusters
        .runtime
        .block_on(services.patch(
            &format!("crdb-dns-{zone}"),
            &kube::api::PatchParams::apply("terraform-provider-crdb").force(),
            &kube::api::Patch::Apply(mixed),
        ))
        .unwrap();
    let mut now = protocols(&lb(zone));
    now.sort();
    assert_eq!(now, ["TCP", "UDP"]);
    let changes = ws.planned_attribute_changes();
    let key = format!("crdb_region.{}", zone.replace('-', "_"));
    assert!(
        changes
            .iter()
            .any(|(address, attrs)| *address == key
                && attrs.contains(&"missing_objects".to_string())),
        "{changes:?}"
    );
    ws.apply();
    assert_eq!(protocols(&lb(zone)), ["TCP"]);
    assert_eq!(live_nodes(&clusters), (9, 9));
    ws.assert_plan_empty("one protocol again");
    ws.destroy();
}
