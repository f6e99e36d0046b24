//! No private key or token reaches any Terraform output in any flow. Each flow's output is kept under its name and
//! checked at the end, so that a schema that stops marking a secret names every flow that then prints it: apply,
//! `-json` plans, a saved plan shown as JSON (where values are marked sensitive), `terraform show` and `state
//! show`, a region's plan of an image change (readable through the region's own `image`), the plan after an
//! import, refresh notes ("Objects have changed outside of Terraform") after hand-made changes and after a
//! refresh-only apply, a destroy that fails on an unreachable cluster, one cut off part-way and the destroy run
//! again after it, error diagnostics, and the provider's trace log. The secrets are every private key of the
//! cluster (CA, root client), of the regions (nodes) and of the connections (client keys), and every token.
use crate::harness::{Run, Workspace};
use crate::regions::{
    configuration, import_everything, pem_lines, secret_leaks, secrets_in_state, Clusters, ZONES,
};
use serde_json::Value as Json;

/// Every flow's output, by the flow's name.
#[derive(Default)]
struct Flows(Vec<(String, String)>);

impl Flows {
    fn add(&mut self, flow: &str, run: &Run) {
        self.0
            .push((flow.to_string(), format!("{}\n{}", run.stdout, run.stderr)));
    }

    fn add_text(&mut self, flow: &str, text: String) {
        self.0.push((flow.to_string(), text));
    }

    fn as_pairs(&self) -> Vec<(&str, &str)> {
        self.0
            .iter()
            .map(|(flow, text)| (flow.as_str(), text.as_str()))
            .collect()
    }
}

/// Where a saved plan shown as JSON does not mark a secret sensitive, before or after the change.
fn unmarked_in_saved_plan(shown: &Json) -> Vec<String> {
    let changes = shown["resource_changes"].as_array().unwrap();
    let mut unmarked = Vec::new();
    let mut check = |address: &str, path: &[&str]| {
        let change = &changes.iter().find(|r| r["address"] == address).unwrap()["change"];
        for side in ["before_sensitive", "after_sensitive"] {
            let mut at = &change[side];
            for step in path {
                at = match step.parse::<usize>() {
                    Ok(i) => &at[i],
                    Err(_) => &at[*step],
                };
            }
            if at != &Json::Bool(true) {
                unmarked.push(format!(
                    "saved plan: {address} {path:?} not marked in {side}"
                ));
            }
        }
    };
    check("crdb_multiregion_cluster.main", &["ca_private_key"]);
    check(
        "crdb_multiregion_cluster.main",
        &["root_client_private_key"],
    );
    for zone in ZONES {
        let key = zone.replace('-', "_");
        check(&format!("crdb_region.{key}"), &["cluster"]);
        check(&format!("crdb_region.{key}"), &["node_private_key"]);
        check(&format!("crdb_region.{key}"), &["kubernetes", "token"]);
        check(&format!("crdb_dns_link.{key}"), &["kubernetes", "token"]);
    }
    unmarked
}

/// Changes the image of `zone`'s StatefulSet by hand, as `kubectl set image` would.
fn change_image_by_hand(clusters: &Clusters, zone: &str, image: &str) {
    let sets: kube::Api<k8s_openapi::api::apps::v1::StatefulSet> =
        kube::Api::namespaced(clusters.client(zone), zone);
    let reimage = serde_json::json!({"spec": {"template": {"spec": {"containers": [
        {"name": "cockroachdb", "image": image}
    ]}}}});
    clusters
        .runtime
        .block_on(sets.patch(
            "cockroachdb",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Strategic(reimage),
        ))
        .unwrap();
}

#[test]
fn no_private_key_or_token_reaches_any_output_in_any_flow() {
    let dns = ["kube-dns", "coredns", "kube-dns"];
    let clusters = Clusters::start(&dns);
    let ws = Workspace::new("");
    let log_path = ws.path().join("trace.log");
    let ws = ws
        .with_env("TF_LOG", "trace")
        .with_env("TF_LOG_PATH", log_path.to_str().unwrap());
    let config =
        crate::faults::with_unreachable_timeout(&configuration(&clusters, &ws, false, 1), "5s");
    ws.write_config(&config);
    let mut flows = Flows::default();
    flows.add("apply", &ws.apply());
    let mut secrets = secrets_in_state(&ws);
    let count = |what: &str, secrets: &[(String, String, &str)]| {
        secrets.iter().filter(|(_, _, w)| *w == what).count()
    };
    assert_eq!(
        count("token", &secrets),
        6,
        "every region and link has a token"
    );

    flows.add(
        "plan -json",
        &ws.terraform(&["plan", "-json", "-input=false"]),
    );
    // An image change reads plainly in each region's plan, though `cluster` is sensitive.
    ws.write_config(&config.replace("v24.1.0", "v24.1.1"));
    let (_, image_plan) = ws.plan_exit_code();
    assert!(
        image_plan.stdout.contains(
            "~ image                         = \"cockroachdb/cockroach:v24.1.0\" -> \"cockroachdb/cockroach:v24.1.1\""
        ) || image_plan.stdout.matches("\"cockroachdb/cockroach:v24.1.0\" -> \"cockroachdb/cockroach:v24.1.1\"").count() >= 4,
        "the regions' plans do not show the image change: {}",
        image_plan.stdout
    );
    flows.add("plan of an image change", &image_plan);
    flows.add(
        "plan -json of an image change",
        &ws.terraform(&["plan", "-json", "-input=false"]),
    );
    // A saved plan shown as JSON holds the values, each secret marked in before/after_sensitive (Terraform
    // 1.0's `show -json` of the state marks none: it is a dump of the state, which holds the keys).
    ws.terraform(&["plan", "-input=false", "-out=image.tfplan"])
        .ok("plan -out");
    let shown = ws.terraform(&["show", "-json", "image.tfplan"]).ok("show");
    let mut unmarked = unmarked_in_saved_plan(&serde_json::from_str(&shown.stdout).unwrap());
    flows.add(
        "show of a saved plan",
        &ws.terraform(&["show", "-no-color", "image.tfplan"]),
    );
    ws.write_config(&config);
    flows.add("show", &ws.terraform(&["show", "-no-color"]));
    for zone in ZONES {
        let address = format!("crdb_region.{}", zone.replace('-', "_"));
        flows.add(
            "state show",
            &ws.terraform(&["state", "show", "-no-color", &address]),
        );
    }

    // The plan after an import, the region read back through a kubeconfig context.
    let imported = Workspace::new(&config);
    for zone in ZONES {
        let ca_file = format!("ca-{zone}.pem");
        std::fs::copy(ws.path().join(&ca_file), imported.path().join(&ca_file)).unwrap();
    }
    let imported = import_everything(&clusters, imported, &ZONES[1..]);
    let import_plan = imported.terraform(&["plan", "-no-color", "-input=false"]);
    assert!(
        import_plan.stdout.contains("Plan:"),
        "the plan after import is made: {}",
        import_plan.stderr
    );
    flows.add("plan after import", &import_plan);
    flows.add(
        "plan -json after import",
        &imported.terraform(&["plan", "-json", "-input=false"]),
    );

    // An image changed by hand: the refresh note shows the region's changed attributes, `cluster` among them;
    // a refresh-only apply writes what it read into the state, and the next plan shows the way back.
    change_image_by_hand(&clusters, ZONES[0], "cockroachdb/cockroach:v24.1.1");
    let (_, noted) = ws.plan_exit_code();
    // Terraform 1.2 and later, and OpenTofu, print the note only for drift the plan does not already show: here
    // the plan's own `image` line shows it.
    let note_expected = !crate::harness::client().at_least((1, 2), (1, 6));
    assert!(
        (!note_expected || noted.stdout.contains("changed outside of Terraform"))
            && noted.stdout.contains("cockroachdb/cockroach:v24.1.1"),
        "the hand-made image change shows in a refresh note or the plan: {}",
        noted.stdout
    );
    flows.add("refresh note of a hand-made image change", &noted);
    flows.add(
        "refresh-only apply",
        &ws.terraform(&[
            "apply",
            "-refresh-only",
            "-auto-approve",
            "-input=false",
            "-no-color",
        ]),
    );
    flows.add(
        "plan after a refresh-only apply",
        &ws.terraform(&["plan", "-no-color", "-input=false"]),
    );
    // A zone deleted by hand: the note shows every attribute of the region it reads as deleted.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(clusters.client(ZONES[2]));
    clusters
        .runtime
        .block_on(namespaces.delete(ZONES[2], &Default::default()))
        .unwrap();
    let (_, gone) = ws.plan_exit_code();
    assert!(
        gone.stdout.contains("has been deleted"),
        "the deleted zone shows in a refresh note: {}",
        gone.stdout
    );
    flows.add("refresh note of a zone deleted by hand", &gone);

    // A destroy that fails on an unreachable cluster before touching anything; then one cut off part-way, and
    // the destroy run again, whose refresh notes the half-deleted zone.
    let down = |down: bool| {
        clusters
            .runtime
            .block_on(clusters.sandbox.set_api_down(ZONES[1], down))
            .unwrap()
    };
    down(true);
    let failed = ws.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(failed.code, 0, "a destroy with a cluster down fails");
    flows.add("destroy with a cluster down", &failed);
    down(false);
    let failed = crate::faults::destroy_cut_off_midway(&clusters, &ws, dns[0], ZONES[1]);
    assert_ne!(failed.code, 0, "a destroy cut off part-way fails");
    flows.add("destroy cut off part-way", &failed);
    down(false);
    let again = ws
        .terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"])
        .ok("destroy");
    flows.add("destroy run again", &again);
    assert!(
        ws.state().is_empty(),
        "the repeated destroy removed everything"
    );
    flows.add_text(
        "trace log",
        std::fs::read_to_string(&log_path).unwrap_or_default(),
    );

    let client_key = client_key_flows(&clusters, &mut flows);
    secrets.extend(pem_lines("a kubernetes block", &client_key));
    assert!(count("private key", &secrets) > 20);

    unmarked.extend(secret_leaks(&secrets, &flows.as_pairs()));
    assert!(
        unmarked.is_empty(),
        "secrets unmarked or printed:\n{}",
        unmarked.join("\n")
    );
}

/// A region connecting with a client certificate the cluster does not accept: its plans show the block, and
/// its apply fails with an error diagnostic. Returns the client key.
fn client_key_flows(clusters: &Clusters, flows: &mut Flows) -> String {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["terraform".to_string()]).unwrap();
    let key = signing_key.serialize_pem();
    let ws = Workspace::new("");
    let log_path = ws.path().join("trace.log");
    let ws = ws
        .with_env("TF_LOG", "trace")
        .with_env("TF_LOG_PATH", log_path.to_str().unwrap());
    let cluster = clusters.sandbox.cluster(ZONES[0]).unwrap();
    for (file, text) in [
        ("ca.pem", cluster.ca_pem().to_string()),
        ("client.pem", cert.pem()),
        ("client-key.pem", key.clone()),
    ] {
        std::fs::write(ws.path().join(file), text).unwrap();
    }
    ws.write_config(&format!(
        r#"
resource "crdb_multiregion_cluster" "keyed" {{
  name  = "keyed"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["{zone}"]
}}

resource "crdb_region" "keyed" {{
  cluster             = crdb_multiregion_cluster.keyed
  zone                = "{zone}"
  region              = "us-east1"
  replicas            = 1
  deletion_protection = false
  kubernetes {{
    host                   = "{host}"
    cluster_ca_certificate = file("${{path.module}}/ca.pem")
    client_certificate     = file("${{path.module}}/client.pem")
    client_key             = file("${{path.module}}/client-key.pem")
    unreachable_timeout    = "5s"
  }}
}}
"#,
        zone = ZONES[0],
        host = cluster.url(),
    ));
    flows.add(
        "plan with a client key",
        &ws.terraform(&["plan", "-no-color", "-input=false"]),
    );
    flows.add(
        "plan -json with a client key",
        &ws.terraform(&["plan", "-json", "-input=false"]),
    );
    let refused = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        refused.code != 0 && refused.stderr.contains("Kubernetes credentials rejected"),
        "the client certificate is refused: {}",
        refused.stderr
    );
    flows.add("apply refused with a client key", &refused);
    flows.add_text(
        "trace log with a client key",
        std::fs::read_to_string(&log_path).unwrap_or_default(),
    );
    key
}
