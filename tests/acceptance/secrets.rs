//! No private key or token reaches any Terraform output in any flow: apply, `-json` plans, a saved plan
//! shown as JSON (where values are marked sensitive), a region's plan of an image change (readable through
//! the region's own `image`), the plan after an import, and a destroy that fails on an unreachable cluster
//! and is run again.
use crate::harness::Workspace;
use crate::regions::{
    assert_no_secret_in, configuration, import_everything, secrets_in_state, Clusters, ZONES,
};
use serde_json::Value as Json;

/// The outputs of one command, stdout and stderr together.
fn output(run: &crate::harness::Run) -> String {
    format!("{}\n{}", run.stdout, run.stderr)
}

#[test]
fn no_private_key_or_token_reaches_any_output_in_any_flow() {
    let clusters = Clusters::start(&["kube-dns", "coredns", "kube-dns"]);
    let ws = Workspace::new("");
    let log_path = ws.path().join("trace.log");
    let ws = ws
        .with_env("TF_LOG", "trace")
        .with_env("TF_LOG_PATH", log_path.to_str().unwrap());
    let config =
        crate::faults::with_unreachable_timeout(&configuration(&clusters, &ws, false, 1), "5s");
    ws.write_config(&config);
    let mut outputs = vec![output(&ws.apply())];
    let secrets = secrets_in_state(&ws);

    let plan_json = ws.terraform(&["plan", "-json", "-input=false"]);
    outputs.push(output(&plan_json));
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
    outputs.push(output(&image_plan));
    let image_plan_json = ws.terraform(&["plan", "-json", "-input=false"]);
    outputs.push(output(&image_plan_json));
    // A saved plan shown as JSON holds the values, each secret marked in before/after_sensitive (Terraform
    // 1.0's `show -json` of the state marks none: it is a dump of the state, which holds the keys).
    ws.terraform(&["plan", "-input=false", "-out=image.tfplan"])
        .ok("plan -out");
    let shown = ws.terraform(&["show", "-json", "image.tfplan"]).ok("show");
    let shown: Json = serde_json::from_str(&shown.stdout).unwrap();
    let changes = shown["resource_changes"].as_array().unwrap();
    let marked = |address: &str, path: &[&str]| {
        let change = &changes.iter().find(|r| r["address"] == address).unwrap()["change"];
        for side in ["before_sensitive", "after_sensitive"] {
            let mut at = &change[side];
            for step in path {
                at = match step.parse::<usize>() {
                    Ok(i) => &at[i],
                    Err(_) => &at[*step],
                };
            }
            assert_eq!(
                at,
                &Json::Bool(true),
                "{address} {path:?} is not marked in {side}: {}",
                change[side]
            );
        }
    };
    marked("crdb_multiregion_cluster.main", &["ca_private_key"]);
    marked(
        "crdb_multiregion_cluster.main",
        &["root_client_private_key"],
    );
    for zone in ZONES {
        let key = zone.replace('-', "_");

        marked(&format!("crdb_region.{key}"), &["cluster"]);
        marked(&format!("crdb_region.{key}"), &["node_private_key"]);
        marked(&format!("crdb_region.{key}"), &["kubernetes", "token"]);
    }
    ws.write_config(&config);

    // The plan after an import, the region read back through a kubeconfig context.
    let imported = Workspace::new(&config);
    let imported = import_everything(&clusters, imported, &ZONES[1..]);
    outputs.push(output(&imported.terraform(&[
        "plan",
        "-no-color",
        "-input=false",
    ])));
    outputs.push(output(&imported.terraform(&[
        "plan",
        "-json",
        "-input=false",
    ])));

    // An image changed by hand: the refresh note ("Objects have changed outside of Terraform") shows the
    // region's changed attributes, `cluster` among them.
    let sets: kube::Api<k8s_openapi::api::apps::v1::StatefulSet> =
        kube::Api::namespaced(clusters.client(ZONES[0]), ZONES[0]);
    let reimage = serde_json::json!({"spec": {"template": {"spec": {"containers": [
        {"name": "cockroachdb", "image": "cockroachdb/cockroach:v24.1.1"}
    ]}}}});
    clusters
        .runtime
        .block_on(sets.patch(
            "cockroachdb",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Strategic(reimage),
        ))
        .unwrap();
    let (_, noted) = ws.plan_exit_code();
    assert!(
        noted.stdout.contains("changed outside of Terraform")
            && noted.stdout.contains("cockroachdb/cockroach:v24.1.1"),
        "the hand-made image change shows in a refresh note: {}",
        noted.stdout
    );
    outputs.push(output(&noted));
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
    outputs.push(output(&gone));

    // A destroy that fails on an unreachable cluster, then succeeds once it is back.
    clusters
        .runtime
        .block_on(clusters.sandbox.set_api_down(ZONES[1], true))
        .unwrap();
    let failed = ws.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(failed.code, 0, "a destroy with a cluster down fails");
    outputs.push(output(&failed));
    // Without a refresh, the destroy reaches the deletes: those on other clusters go, that one fails.
    let failed = ws.terraform(&[
        "destroy",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-refresh=false",
    ]);
    assert_ne!(failed.code, 0, "a delete on a cluster down fails");
    outputs.push(output(&failed));
    clusters
        .runtime
        .block_on(clusters.sandbox.set_api_down(ZONES[1], false))
        .unwrap();
    let again = ws
        .terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"])
        .ok("destroy");
    outputs.push(output(&again));
    assert!(
        ws.state().is_empty(),
        "the repeated destroy removed everything"
    );
    outputs.push(std::fs::read_to_string(&log_path).unwrap());

    let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
    assert_no_secret_in(&secrets, &outputs);
}
