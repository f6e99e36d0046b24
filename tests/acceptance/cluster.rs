//! `crdb_multiregion_cluster` through the real CLI.
use crate::harness::{step, ImportCheck, Workspace, PROVIDER_BLOCK};
use serde_json::Value as Json;
use terraform_provider_crdb::cockroach::pki::{self, CertificateAuthority};

fn cluster_config(name: &str, image: &str, zones: &[&str]) -> String {
    let zones: Vec<String> = zones.iter().map(|z| format!("{z:?}")).collect();
    format!(
        r#"
resource "crdb_multiregion_cluster" "main" {{
  name  = "{name}"
  image = "{image}"
  zones = [{}]
}}
"#,
        zones.join(", ")
    )
}

fn text<'a>(values: &'a Json, attr: &str) -> &'a str {
    values[attr]
        .as_str()
        .unwrap_or_else(|| panic!("{attr} is not a string: {values}"))
}

#[test]
fn lifecycle_follows_the_acceptance_convention() {
    let config = cluster_config(
        "main",
        "cockroachdb/cockroach:v24.1.0",
        &["us-east1-b", "us-west1-a", "europe-west1-c"],
    );
    let applied = step(
        &config,
        &[ImportCheck {
            address: "crdb_multiregion_cluster.main",
            id: "main",
            // Import knows the name only: everything else is configuration or generated PKI,
            // which a generated CA cannot be recovered from.
            unknowable: &[
                "image",
                "version",
                "upgrade_finalization",
                "cluster_version",
                "zones",
                "init_zone",
                "join_addresses",
                "cluster_domain",
                "pki_generation",
                "ca_certificate",
                "ca_private_key",
                "ca_generated",
                "ca_fingerprint_sha256",
                "ca_expires_at",
                "root_client_certificate",
                "root_client_private_key",
                "root_client_certificate_expires_at",
                "certificate_validity",
                "certificate_renewal",
                "ca_validity",
            ],
        }],
    );
    let values = &applied[0].1;
    assert_eq!(text(values, "version"), "v24.1.0");
    assert_eq!(text(values, "init_zone"), "us-east1-b");
    assert_eq!(values["join_addresses"].as_array().unwrap().len(), 9);
    assert_eq!(
        values["join_addresses"][3],
        "cockroachdb-0.cockroachdb.us-west1-a"
    );
    let ca = text(values, "ca_certificate");
    let client = text(values, "root_client_certificate");
    assert!(
        pki::certificate_matches_ca(client, ca),
        "root client certificate is not signed by the CA"
    );
}

#[test]
fn image_and_zones_update_in_place_and_name_replaces() {
    let ws = Workspace::new(&cluster_config(
        "main",
        "cockroachdb/cockroach:v23.2.5",
        &["a", "b"],
    ));
    ws.apply();
    let before = ws.resource("crdb_multiregion_cluster.main");

    ws.write_config(&cluster_config(
        "main",
        "cockroachdb/cockroach:v24.1.0",
        &["a", "b", "c"],
    ));
    let actions = ws.planned_actions();
    assert_eq!(
        actions,
        vec![(
            "crdb_multiregion_cluster.main".to_string(),
            vec!["update".to_string()]
        )]
    );
    let (_, plan) = ws.plan_exit_code();
    assert!(
        plan.stdout.contains(r#"~ image"#) && plan.stdout.contains("v24.1.0"),
        "{}",
        plan.stdout
    );
    ws.apply();
    ws.assert_plan_empty("update");
    let after = ws.resource("crdb_multiregion_cluster.main");
    assert_eq!(text(&after, "version"), "v24.1.0");
    assert_eq!(after["join_addresses"].as_array().unwrap().len(), 9);
    for pki_attr in [
        "ca_certificate",
        "ca_private_key",
        "root_client_certificate",
        "root_client_private_key",
    ] {
        assert_eq!(
            after[pki_attr], before[pki_attr],
            "{pki_attr} changed on an image/zones update"
        );
    }

    ws.write_config(&cluster_config(
        "renamed",
        "cockroachdb/cockroach:v24.1.0",
        &["a", "b", "c"],
    ));
    let actions = ws.planned_actions();
    assert_eq!(
        actions[0].1,
        vec!["delete".to_string(), "create".to_string()]
    );
    ws.apply();
    ws.assert_plan_empty("replace");
    let replaced = ws.resource("crdb_multiregion_cluster.main");
    assert_eq!(text(&replaced, "id"), "renamed");
    assert_ne!(
        replaced["ca_certificate"], after["ca_certificate"],
        "a new cluster gets a new CA"
    );

    ws.write_config(&format!(
        "{}\n",
        cluster_config("renamed", "cockroachdb/cockroach:v24.1.0", &["a", "b", "c"])
            .replace("zones", "pki_generation = 2\n  zones")
    ));
    ws.apply();
    let rotated = ws.resource("crdb_multiregion_cluster.main");
    assert_ne!(
        rotated["ca_certificate"], replaced["ca_certificate"],
        "pki_generation must rotate the CA"
    );
    ws.assert_plan_empty("rotation");
    ws.destroy();
}

#[test]
fn values_unknown_at_plan_time_plan_and_apply() {
    // The second cluster's zones depend on a value the first only knows after apply.
    let config = r#"
resource "crdb_multiregion_cluster" "first" {
  name  = "first"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["a"]
}

resource "crdb_multiregion_cluster" "second" {
  name  = "second"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["z-${substr(crdb_multiregion_cluster.first.ca_fingerprint_sha256, 0, 8)}", "b"]
}
"#;
    let ws = Workspace::new(config);
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("join_addresses") && plan.stdout.contains("(known after apply)"));
    ws.apply();
    ws.assert_plan_empty("apply");
    let first = ws.resource("crdb_multiregion_cluster.first");
    let second = ws.resource("crdb_multiregion_cluster.second");
    let zone = format!("z-{}", &text(&first, "ca_fingerprint_sha256")[..8]);
    assert_eq!(second["zones"][0], zone.as_str());
    assert_eq!(
        second["join_addresses"][0],
        format!("cockroachdb-0.cockroachdb.{zone}").as_str()
    );
    ws.destroy();
}

/// The line of `config` (after the provider block the workspace prepends) that contains `needle`.
fn line_of(config: &str, needle: &str) -> i64 {
    let full = format!("{PROVIDER_BLOCK}\n{config}");
    full.lines()
        .position(|l| l.contains(needle))
        .expect("needle in config") as i64
        + 1
}

#[test]
fn invalid_input_gets_diagnostics_on_the_attribute_before_anything_happens() {
    let other_ca = CertificateAuthority::generate(
        "other",
        time::Duration::days(30),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let mine = CertificateAuthority::generate(
        "mine",
        time::Duration::days(30),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let config = format!(
        r#"
resource "crdb_multiregion_cluster" "bad" {{
  name = "Bad_Name"
  image = "cockroachdb/cockroach"
  zones = ["a", "UPPER", "a", "kube-system"]
  init_zone = "nowhere"
  ca_certificate = <<EOT
{}EOT
  ca_private_key = <<EOT
{}EOT
}}
"#,
        mine.cert_pem(),
        other_ca.key_pem()
    );
    let ws = Workspace::new(&config);
    let run = ws.terraform(&["plan", "-json", "-input=false"]);
    assert_ne!(run.code, 0);
    let diags = run.diagnostics();
    let expect = |summary: &str, needle: &str| {
        let line = line_of(&config, needle);
        let found = diags.iter().any(|d| {
            d["severity"] == "error"
                && d["summary"] == summary
                && d["range"]["start"]["line"] == line
        });
        assert!(
            found,
            "no error {summary:?} at line {line} ({needle}); got {diags:#?}"
        );
    };
    expect("Invalid cluster name", "name = ");
    expect("Image without a version tag", "image = ");
    expect("Invalid zone", "zones = ");
    expect("Duplicate zone", "zones = ");
    expect("Unknown init zone", "init_zone = ");
    expect("Unusable CA", "ca_private_key = ");
    // Both invalid zones ("UPPER" and "kube-system") are reported, not only the first.
    let zone_errors = diags
        .iter()
        .filter(|d| d["summary"] == "Invalid zone")
        .count();
    assert_eq!(zone_errors, 2, "{diags:#?}");
    let apply = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(apply.code, 0);
    assert!(
        ws.state().is_empty(),
        "a rejected configuration must leave nothing behind"
    );
}

#[test]
fn sensitive_values_stay_out_of_plan_output_and_trace_logs() {
    let config = cluster_config("secret", "cockroachdb/cockroach:v24.1.0", &["a"]);
    let ws = Workspace::new(&config);
    let log_path = ws.path().join("trace.log");
    let ws = ws
        .with_env("TF_LOG", "trace")
        .with_env("TF_LOG_PATH", log_path.to_str().unwrap());
    let (_, create_plan) = ws.plan_exit_code();
    assert!(
        create_plan.stdout.contains("+ ca_private_key")
            && create_plan.stdout.contains("(sensitive value)"),
        "{}",
        create_plan.stdout
    );
    let apply = ws.apply();
    let mut update = config.replace("v24.1.0", "v24.1.1");
    update.push('\n');
    ws.write_config(&update);
    let (_, plan) = ws.plan_exit_code();
    let values = ws.resource("crdb_multiregion_cluster.main");
    let log = std::fs::read_to_string(&log_path).expect("trace log written");
    assert!(
        log.contains("terraform-provider-crdb"),
        "the provider's own log lines reach the trace log"
    );
    for secret_attr in ["ca_private_key", "root_client_private_key"] {
        let pem = text(&values, secret_attr);
        // Any line of the key body would be a leak, whatever framing surrounds it.
        let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!body.is_empty());
        for line in body {
            for (name, output) in [
                ("apply output", &apply.stdout),
                ("plan output", &plan.stdout),
                ("trace log", &log),
            ] {
                assert!(
                    !output.contains(line),
                    "{secret_attr} leaked into the {name}"
                );
            }
        }
    }
    assert!(
        plan.stdout.contains("v24.1.1"),
        "the update plan shows the image change: {}",
        plan.stdout
    );
}

#[test]
fn a_cluster_whose_ca_the_user_brings_is_imported_by_name_and_adopted() {
    let ca = CertificateAuthority::generate(
        "legacy",
        time::Duration::days(365),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let config = r#"
resource "crdb_multiregion_cluster" "main" {
  name           = "legacy"
  image          = "cockroachdb/cockroach:v24.1.0"
  zones          = ["us-east1-b", "us-west1-a"]
  ca_certificate = file("${path.module}/ca.crt")
  ca_private_key = file("${path.module}/ca.key")
}
"#;
    let ws = Workspace::new(config);
    std::fs::write(ws.path().join("ca.crt"), ca.cert_pem()).unwrap();
    std::fs::write(ws.path().join("ca.key"), ca.key_pem()).unwrap();
    ws.terraform(&[
        "import",
        "-input=false",
        "-no-color",
        "crdb_multiregion_cluster.main",
        "legacy",
    ])
    .ok("import");
    let actions = ws.planned_actions();
    assert_eq!(
        actions[0].1,
        vec!["update".to_string()],
        "adoption is an in-place update"
    );
    ws.apply();
    ws.assert_plan_empty("adoption");
    let values = ws.resource("crdb_multiregion_cluster.main");
    assert_eq!(text(&values, "ca_certificate"), ca.cert_pem());
    assert_eq!(values["ca_generated"], false);
    assert!(pki::certificate_matches_ca(
        text(&values, "root_client_certificate"),
        ca.cert_pem()
    ));
    ws.destroy();
}
