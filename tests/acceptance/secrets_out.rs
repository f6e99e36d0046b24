//! Secrets that never reach plan or state, through Terraform 1.11 and OpenTofu 1.11 (the first of each with write-only
//! attributes and ephemeral resources): `crdb_sql_user.password_wo`, moved to from `password` without a restart, then
//! changed by its version, and an apply that fails; `crdb_client_certificate`; and a CA key given write-only (create,
//! renewal, rotation, import, a refused key, destroy; and a key moved out of the state). Every place a client keeps or
//! prints something is scanned for the passwords (raw and base64) and the private keys: the raw state file, `show
//! -json`, a saved plan shown as JSON, every CLI output and the trace log. The matrix (`scripts/test.sh`) runs this
//! module under the clients that have them; Terraform 1.0.3 refuses `password_wo` (`bad_input`).
use crate::certificates::secret_file;
use crate::harness::{client, Run, Workspace};
use crate::regions::{configuration, pod_generations, Clusters, ZONES};
use crate::sql::catalog;
use kube_sandbox::cockroach::sql::scram;
use terraform_provider_crdb::cockroach::pki;

const FIRST: &str = "Wr1te-0nly-first-passw0rd";
const SECOND: &str = "Wr1te-0nly-sec0nd-passw0rd";
/// The password of an apply that fails.
const THIRD: &str = "Wr1te-0nly-fa1led-passw0rd";
/// The password of the user before it moves to `password_wo`.
const PLAIN: &str = "Pla1n-0ld-passw0rd";
const NODE_PODS: &str = "app.kubernetes.io/component=database";

/// The user `app`, its password write-only from an ephemeral variable (Terraform 1.10+, OpenTofu 1.11+), run from
/// the first zone. A literal would do for the provider, but the client keeps the configuration itself (with its
/// literals) in a saved plan: a password belongs in a variable the client never stores, set through
/// `TF_VAR_app_password`, or in an ephemeral resource's result.
fn user(clusters: &Clusters, ws: &Workspace, version: &str) -> String {
    let password =
        format!("password_wo         = var.app_password\n  password_wo_version = {version}");
    format!("{PASSWORD_VARIABLE}{}", user_with(clusters, ws, &password))
}

const PASSWORD_VARIABLE: &str =
    "\nvariable \"app_password\" {\n  type      = string\n  sensitive = true\n  ephemeral = true\n}\n";

/// The user `app` with `password` (its password attributes).
fn user_with(clusters: &Clusters, ws: &Workspace, password: &str) -> String {
    format!(
        "\nresource \"crdb_sql_user\" \"app\" {{\n  name                = \"app\"\n  {password}\n  roles               = [\"admin\"]\n  zone                = crdb_region.{}.zone\n{}}}\n",
        ZONES[0].replace('-', "_"),
        clusters.connection_block(ws, ZONES[0])
    )
}

/// Everything a client kept or printed, by where it was found.
#[derive(Default)]
struct Seen(Vec<(String, String)>);

impl Seen {
    fn run(&mut self, what: &str, run: Run) -> Run {
        self.0
            .push((what.to_string(), format!("{}\n{}", run.stdout, run.stderr)));
        run
    }

    fn file(&mut self, what: &str, path: &std::path::Path) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{what}: {e}"));
        self.0.push((what.to_string(), text));
    }

    /// Where any of `secrets` (raw or base64) appears.
    fn leaks(&self, secrets: &[&str]) -> Vec<String> {
        use base64::Engine;
        let mut leaks = Vec::new();
        for secret in secrets {
            let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
            for (what, text) in &self.0 {
                for (form, needle) in [("raw", *secret), ("base64", encoded.as_str())] {
                    if text.contains(needle) {
                        leaks.push(format!("{what}: {secret} ({form})"));
                    }
                }
            }
        }
        leaks
    }
}

/// The user's password hash as the emulated cluster stores it.
fn stored_hash(clusters: &Clusters) -> String {
    catalog(clusters).roles["app"]
        .hash
        .clone()
        .expect("the user has a password")
}

#[test]
fn a_write_only_password_is_set_and_rotated_by_its_version_and_stored_nowhere() {
    client().require("write-only attributes", (1, 11), (1, 11));
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let log_path = ws.path().join("trace.log");
    let mut ws = ws
        .with_env("TF_LOG", "trace")
        .with_env("TF_LOG_PATH", log_path.to_str().unwrap());
    let base = configuration(&clusters, &ws, false, 1);
    let mut seen = Seen::default();
    let apply = ["apply", "-auto-approve", "-input=false", "-no-color"];

    // A user made as Terraform 1.0.3 makes it, its password in the state.
    let plain = user_with(&clusters, &ws, &format!("password = \"{PLAIN}\""));
    ws.write_config(&format!("{base}{plain}"));
    ws.apply();
    assert!(scram::verify(&stored_hash(&clusters), PLAIN));
    let pods = pod_generations(&clusters, NODE_PODS);
    assert_eq!(pods.len(), 3);

    // Moved to password_wo: one in-place update, no node restarted, and the state forgets the old password.
    ws = ws.with_env("TF_VAR_app_password", FIRST);
    ws.write_config(&format!("{base}{}", user(&clusters, &ws, "1")));
    let actions = ws.planned_actions();
    assert!(
        actions.contains(&("crdb_sql_user.app".to_string(), vec!["update".to_string()])),
        "{actions:?}"
    );
    let migrated = seen.0.len();
    seen.run("migrating apply", ws.terraform(&apply).ok("apply"));
    let first = stored_hash(&clusters);
    assert!(scram::verify(&first, FIRST), "the password logs in");
    assert!(!scram::verify(&first, PLAIN), "the old one no longer does");
    assert_eq!(catalog(&clusters).member_of("app"), vec!["admin"]);
    assert_eq!(
        pod_generations(&clusters, NODE_PODS),
        pods,
        "moving to password_wo restarted a node"
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 0, "nothing to do after the move: {}", plan.stdout);
    seen.run("empty plan", plan);
    seen.file("state after the move", &ws.path().join("terraform.tfstate"));

    // A new password under a new version: the user is changed in place, never replaced.
    ws = ws.with_env("TF_VAR_app_password", SECOND);
    ws.write_config(&format!("{base}{}", user(&clusters, &ws, "\"two\"")));
    seen.run(
        "saved plan",
        ws.terraform(&["plan", "-input=false", "-no-color", "-out=tfplan"])
            .ok("plan"),
    );
    let shown = seen.run(
        "saved plan shown as JSON",
        ws.terraform(&["show", "-json", "tfplan"]).ok("show plan"),
    );
    let plan: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let change = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "crdb_sql_user.app")
        .expect("the user is in the plan");
    assert_eq!(change["change"]["actions"], serde_json::json!(["update"]));
    assert_eq!(
        change["change"]["after"]["password_wo"],
        serde_json::Value::Null
    );
    assert_eq!(change["change"]["after"]["password_wo_version"], "two");
    seen.run(
        "apply of the saved plan",
        ws.terraform(&["apply", "-input=false", "-no-color", "tfplan"])
            .ok("apply plan"),
    );
    let second = stored_hash(&clusters);
    assert!(scram::verify(&second, SECOND), "the new password logs in");
    assert!(!scram::verify(&second, FIRST), "the old one no longer does");
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 0, "nothing to do after the rotation: {}", plan.stdout);
    seen.run("plan after the rotation", plan);

    // A failed apply: a new password for a zone that is not there. Its output holds no password, and the state
    // keeps the version the cluster has.
    ws = ws.with_env("TF_VAR_app_password", THIRD);
    let sql_zone = format!("crdb_region.{}.zone", ZONES[0].replace('-', "_"));
    ws.write_config(&format!(
        "{base}{}",
        user(&clusters, &ws, "\"three\"").replace(&sql_zone, "\"nowhere\"")
    ));
    let failed = seen.run("failed apply", ws.terraform(&apply));
    assert_ne!(failed.code, 0, "the zone is not there");
    assert!(failed.stderr.contains("nowhere"), "{}", failed.stderr);
    assert_eq!(
        stored_hash(&clusters),
        second,
        "the failed apply changed nothing"
    );
    seen.file(
        "state after the failed apply",
        &ws.path().join("terraform.tfstate"),
    );
    ws.write_config(&format!("{base}{}", user(&clusters, &ws, "\"two\"")));

    // The same password under the same version changes nothing: the provider cannot see it.
    ws = ws.with_env("TF_VAR_app_password", FIRST);
    ws.assert_plan_empty("a new password under an unchanged version");
    assert_eq!(stored_hash(&clusters), second);

    let state = seen.run("show -json", ws.terraform(&["show", "-json"]).ok("show"));
    let state: serde_json::Value = serde_json::from_str(&state.stdout).unwrap();
    let user = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "crdb_sql_user.app")
        .unwrap();
    assert_eq!(user["values"]["password_wo"], serde_json::Value::Null);
    assert_eq!(user["values"]["password_wo_version"], "two");
    seen.file("state after rotation", &ws.path().join("terraform.tfstate"));
    seen.run(
        "destroy",
        ws.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"])
            .ok("destroy"),
    );
    seen.file("trace log", &log_path);

    assert!(
        seen.0
            .iter()
            .any(|(_, text)| text.contains("password_wo_version")),
        "the scan covers the user"
    );
    let leaks = seen.leaks(&[FIRST, SECOND, THIRD]);
    assert!(leaks.is_empty(), "passwords found:\n{}", leaks.join("\n"));
    let after_the_move = Seen(seen.0[migrated..].to_vec());
    let leaks = after_the_move.leaks(&[PLAIN]);
    assert!(
        leaks.is_empty(),
        "the old password is still found:\n{}",
        leaks.join("\n")
    );
    // The cluster's own keys are in its state until the CA key can be write-only (issue 19, point 3), but no
    // output of the client shows a private key.
    let printed: Vec<&str> = seen
        .0
        .iter()
        .filter(|(what, text)| {
            !what.contains("state")
                && !what.contains("JSON")
                && what != "show -json"
                && text.contains("PRIVATE KEY")
        })
        .map(|(what, _)| what.as_str())
        .collect();
    assert!(
        printed.is_empty(),
        "a private key was printed by: {printed:?}"
    );
}

/// The cluster alone: its identity and PKI, nothing contacted.
const CLUSTER: &str = r#"
resource "crdb_multiregion_cluster" "main" {
  name  = "main"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["us-east1-b", "us-west1-a", "europe-west1-c"]
}
"#;

/// A ten-minute certificate for `app`, handed in the same run to a `local-exec` provisioner (provisioners take
/// ephemeral values under both 1.11 clients), which writes it beside the configuration for the test to check: the
/// one way out of the run, which a user's own tool would not take.
const CERTIFICATE_USE: &str = r#"
ephemeral "crdb_client_certificate" "app" {
  cluster  = crdb_multiregion_cluster.main
  username = "app"
  ttl      = "10m"
}

resource "terraform_data" "use" {
  provisioner "local-exec" {
    command = "printf '%s' \"$CERT\" > client.app.crt && printf '%s' \"$KEY\" > client.app.key && printf '%s' \"$CA\" > ca.crt && printf '%s' \"$EXPIRES\" > expires_at"
    environment = {
      CERT    = ephemeral.crdb_client_certificate.app.certificate
      KEY     = ephemeral.crdb_client_certificate.app.private_key
      CA      = ephemeral.crdb_client_certificate.app.ca_certificate
      EXPIRES = ephemeral.crdb_client_certificate.app.expires_at
    }
  }
}
"#;

/// The base64 lines of every PEM private key in `text`.
fn private_key_lines(text: &str) -> Vec<String> {
    let text = text.replace("\\n", "\n");
    let mut lines = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim().trim_matches('"');
        if line.contains("-----BEGIN") && line.contains("PRIVATE KEY-----") {
            inside = true;
        } else if line.contains("-----END") {
            inside = false;
        } else if inside && !line.is_empty() {
            lines.push(line.to_string());
        }
    }
    lines
}

#[test]
fn an_ephemeral_client_certificate_is_signed_by_the_cluster_ca_for_its_ttl_and_kept_nowhere() {
    client().require("ephemeral resources", (1, 10), (1, 11));
    let ws = Workspace::new(CLUSTER);
    let log_path = ws.path().join("trace.log");
    let ws = ws
        .with_env("TF_LOG", "trace")
        .with_env("TF_LOG_PATH", log_path.to_str().unwrap());
    let mut seen = Seen::default();
    seen.run("cluster apply", ws.apply());
    let cluster = ws.resource("crdb_multiregion_cluster.main");
    let ca_pem = cluster["ca_certificate"].as_str().unwrap().to_string();
    // The keys a cluster with a generated CA holds in its state by design (security guide); no other may appear.
    let mut allowed = private_key_lines(cluster["ca_private_key"].as_str().unwrap());
    allowed.extend(private_key_lines(
        cluster["root_client_private_key"].as_str().unwrap(),
    ));
    assert!(allowed.len() > 2);

    ws.write_config(&format!("{CLUSTER}{CERTIFICATE_USE}"));
    // The plan opens the certificate too (the CA is known by now; both 1.11 clients do, their trace logs show): a
    // key is issued and must not be kept.
    seen.run(
        "saved plan",
        ws.terraform(&["plan", "-input=false", "-no-color", "-out=tfplan"])
            .ok("plan"),
    );
    seen.run(
        "saved plan shown as JSON",
        ws.terraform(&["show", "-json", "tfplan"]).ok("show plan"),
    );
    let started = time::OffsetDateTime::now_utc();
    seen.run(
        "apply of the saved plan",
        ws.terraform(&["apply", "-input=false", "-no-color", "tfplan"])
            .ok("apply plan"),
    );
    let read = |name: &str| std::fs::read_to_string(ws.path().join(name)).unwrap();
    let (cert, key) = (read("client.app.crt"), read("client.app.key"));
    assert!(
        pki::certificate_matches_ca(&cert, &ca_pem),
        "signed by the cluster CA"
    );
    assert_eq!(read("ca.crt"), ca_pem);
    assert_eq!(pki::key_matches_certificate(&cert, &key), Some(true));
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert.as_bytes()).unwrap();
    let parsed = pem.parse_x509().unwrap();
    let names: Vec<&str> = parsed
        .subject()
        .iter_common_name()
        .map(|cn| cn.as_str().unwrap())
        .collect();
    assert_eq!(names, ["app"]);
    let expiry = pki::certificate_not_after(&cert).unwrap();
    let lifetime = expiry - started;
    assert!(
        lifetime > time::Duration::minutes(9) && lifetime <= time::Duration::minutes(11),
        "a ten-minute ttl gave {lifetime}"
    );
    assert_eq!(
        time::OffsetDateTime::parse(
            &read("expires_at"),
            &time::format_description::well_known::Rfc3339
        )
        .unwrap(),
        expiry
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 0, "nothing kept to plan a change of: {}", plan.stdout);
    seen.run("plan after", plan);
    seen.run("show -json", ws.terraform(&["show", "-json"]).ok("show"));
    seen.file("trace log", &log_path);
    seen.file("state", &ws.path().join("terraform.tfstate"));
    assert!(
        seen.0
            .iter()
            .any(|(_, text)| text.contains("OpenEphemeralResource")),
        "the trace log shows the certificate opened"
    );

    let issued = private_key_lines(&key);
    assert!(issued.len() > 1, "the key was written out");
    let leaks: Vec<String> = seen
        .0
        .iter()
        .filter(|(_, text)| issued.iter().any(|line| text.contains(line.as_str())))
        .map(|(what, _)| what.clone())
        .collect();
    assert!(leaks.is_empty(), "the certificate's key is in: {leaks:?}");
    let state = &seen.0.last().unwrap().1;
    assert!(
        !private_key_lines(state).is_empty(),
        "the scan reads the keys of a JSON state"
    );
    // Keys issued while planning were never written out: any key other than the cluster's is one of them.
    for (what, text) in &seen.0 {
        let foreign: Vec<String> = private_key_lines(text)
            .into_iter()
            .filter(|line| !allowed.contains(line))
            .collect();
        assert!(
            foreign.is_empty(),
            "{what} holds a private key not the cluster's"
        );
    }
}

/// The CA key write-only: the cluster's `ca_certificate` with `ca_private_key_wo`, and each region given the same
/// key in its own `ca_private_key_wo`, from an ephemeral variable, only for the applies that sign.
fn write_only_ca(clusters: &Clusters, ws: &Workspace, keyed: bool, renewal: &str) -> String {
    let key = |indent: &str| {
        if keyed {
            format!("{indent}ca_private_key_wo = var.ca_key\n")
        } else {
            String::new()
        }
    };
    let variable =
        "variable \"ca_key\" {\n  type      = string\n  sensitive = true\n  ephemeral = true\n  default   = null\n}\n";
    let cluster_lines = format!(
        "  ca_certificate = file(\"${{path.module}}/ca.crt\")\n{}  certificate_renewal = \"{renewal}\"\n  zones = [",
        key("  ")
    );
    let region_line = "  cluster             = crdb_multiregion_cluster.main\n";
    let config = configuration(clusters, ws, false, 1)
        .replacen("  zones = [", &cluster_lines, 1)
        .replace(region_line, &format!("{region_line}{}", key("  ")));
    format!("{variable}{config}")
}

/// Every node and `root` client key the zones' Secrets hold, and checks each certificate there is signed by
/// `ca` (the `root` client's and the node's alike).
fn zone_keys(clusters: &Clusters, ca: &pki::CertificateAuthority) -> Vec<String> {
    let mut keys = Vec::new();
    for zone in ZONES {
        let file = |name: &str| secret_file(clusters, zone, zone, "cockroachdb.node", name);
        for (crt, key) in [
            ("node.crt", "node.key"),
            ("client.root.crt", "client.root.key"),
        ] {
            assert!(
                pki::certificate_matches_ca(&file(crt), ca.cert_pem()),
                "{zone}: {crt} is not signed by the cluster's CA"
            );
            assert_eq!(
                pki::key_matches_certificate(&file(crt), &file(key)),
                Some(true)
            );
            keys.push(file(key));
        }
    }
    keys
}

#[test]
fn a_write_only_ca_key_signs_only_in_the_applies_that_need_it_and_no_key_is_stored() {
    client().require("write-only attributes", (1, 11), (1, 11));
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let now = time::OffsetDateTime::now_utc();
    let generate =
        |name| pki::CertificateAuthority::generate(name, time::Duration::days(3650), now);
    let (ca, next_ca) = (generate("main").unwrap(), generate("main-next").unwrap());
    let ws = Workspace::new("");
    std::fs::write(ws.path().join("ca.crt"), ca.cert_pem()).unwrap();
    let log_path = ws.path().join("trace.log");
    let ws = ws
        .with_env("TF_LOG", "trace")
        .with_env("TF_LOG_PATH", log_path.to_str().unwrap())
        .with_env("TF_VAR_ca_key", ca.key_pem());
    let mut seen = Seen::default();
    let mut keys = vec![ca.key_pem().to_string(), next_ca.key_pem().to_string()];
    let apply = ["apply", "-auto-approve", "-input=false", "-no-color"];
    let state_file = ws.path().join("terraform.tfstate");

    // Created with the key: the zones sign their node certificates and `root` clients; the state holds neither key.
    let created = std::time::Instant::now();
    ws.write_config(&write_only_ca(&clusters, &ws, true, "720h"));
    seen.run("create", ws.terraform(&apply).ok("create"));
    keys.extend(zone_keys(&clusters, &ca));
    let cluster = ws.resource("crdb_multiregion_cluster.main");
    for kept_nowhere in [
        "ca_private_key",
        "root_client_certificate",
        "root_client_private_key",
    ] {
        assert_eq!(
            cluster[kept_nowhere],
            serde_json::Value::Null,
            "{kept_nowhere}"
        );
    }
    seen.file("state after the create", &state_file);
    let pods = pod_generations(&clusters, NODE_PODS);

    // An ordinary run needs no key: nothing to sign.
    ws.write_config(&write_only_ca(&clusters, &ws, false, "720h"));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(
        code, 0,
        "a run without the key changes nothing: {}",
        plan.stdout
    );
    seen.run("plan without the key", plan);

    // Certificates due for renewal (the window now covers nearly their whole life): without the key the plan
    // refuses on `ca_private_key_wo`, saying why, before anything is touched.
    let since = created.elapsed();
    if since < std::time::Duration::from_secs(61) {
        std::thread::sleep(std::time::Duration::from_secs(61) - since);
    }
    ws.write_config(&write_only_ca(&clusters, &ws, false, "8759h59m"));
    let refused = seen.run(
        "plan refused without the key",
        ws.terraform(&["plan", "-input=false", "-no-color"]),
    );
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    let said = refused.said();
    assert!(
        said.contains("The CA key is needed for this apply"),
        "{said}"
    );
    assert!(
        said.contains("due for renewal") && said.contains("ca_private_key_wo"),
        "{said}"
    );
    assert_eq!(
        pod_generations(&clusters, NODE_PODS),
        pods,
        "a refused plan touched nothing"
    );

    // With the key, through a saved plan: renewed one node at a time, no range unavailable.
    ws.write_config(&write_only_ca(&clusters, &ws, true, "8759h59m"));
    let expiry = |ws: &Workspace| {
        ZONES
            .iter()
            .map(|z| {
                ws.resource(&format!("crdb_region.{}", z.replace('-', "_")))
                    ["node_certificate_expires_at"]
                    .clone()
            })
            .collect::<Vec<_>>()
    };
    let before = expiry(&ws);
    seen.run(
        "saved renewal plan",
        ws.terraform(&["plan", "-input=false", "-no-color", "-out=tfplan"])
            .ok("plan"),
    );
    seen.run(
        "saved renewal plan as JSON",
        ws.terraform(&["show", "-json", "tfplan"]).ok("show plan"),
    );
    seen.run(
        "renewal apply",
        ws.terraform(&["apply", "-input=false", "-no-color", "tfplan"])
            .ok("apply plan"),
    );
    let renewed = expiry(&ws);
    for (old, new) in before.iter().zip(&renewed) {
        assert_ne!(old, new, "every zone renewed its node certificate");
    }
    keys.extend(zone_keys(&clusters, &ca));
    let availability = clusters.sandbox.world().unwrap().cockroach().availability();
    assert_eq!(
        availability.unavailable_range_seconds, 0.0,
        "{availability:?}"
    );
    assert_eq!(availability.ranges_lost, 0, "{availability:?}");
    assert!(availability.max_nodes_down <= 1, "{availability:?}");
    ws.write_config(&write_only_ca(&clusters, &ws, false, "720h"));
    seen.run(
        "settings back, without the key",
        ws.terraform(&apply).ok("apply"),
    );
    seen.file("state after the renewal", &state_file);

    // A rotation to another CA, given with its key: every zone moves, no key stored.
    std::fs::write(ws.path().join("ca.crt"), next_ca.cert_pem()).unwrap();
    let ws = ws.with_env("TF_VAR_ca_key", next_ca.key_pem());
    ws.write_config(&write_only_ca(&clusters, &ws, true, "720h"));
    seen.run("rotation", ws.terraform(&apply).ok("rotation"));
    keys.extend(zone_keys(&clusters, &next_ca));
    let availability = clusters.sandbox.world().unwrap().cockroach().availability();
    assert_eq!(
        availability.unavailable_range_seconds, 0.0,
        "{availability:?}"
    );
    assert!(availability.max_nodes_down <= 1, "{availability:?}");
    ws.write_config(&write_only_ca(&clusters, &ws, false, "720h"));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 0, "the rotation is complete: {}", plan.stdout);
    seen.file("state after the rotation", &state_file);

    // A zone imported again through its context: its certificate is recorded, its key is not.
    let kubeconfig = ws.path().join("kubeconfig");
    clusters.sandbox.write_kubeconfig(&kubeconfig).unwrap();
    let ws = ws.with_env("KUBECONFIG", kubeconfig.to_str().unwrap());
    let address = format!("crdb_region.{}", ZONES[1].replace('-', "_"));
    ws.terraform(&["state", "rm", &address]).ok("state rm");
    seen.run(
        "import",
        ws.terraform(&[
            "import",
            "-input=false",
            "-no-color",
            &address,
            &format!("{0}/{0}", ZONES[1]),
        ])
        .ok("import"),
    );
    seen.file("state after the import", &state_file);
    seen.run(
        "apply after the import, without the key",
        ws.terraform(&apply).ok("apply"),
    );

    // A key of another CA is refused at plan, on the attribute.
    let ws = ws.with_env("TF_VAR_ca_key", ca.key_pem());
    ws.write_config(&write_only_ca(&clusters, &ws, true, "720h"));
    let failed = seen.run("apply with the wrong key", ws.terraform(&apply));
    assert_ne!(failed.code, 0);
    let said = failed.said();
    assert!(
        said.contains("does not belong to the CA certificate")
            && said.contains("ca_private_key_wo"),
        "{said}"
    );
    seen.file("state after the failed apply", &state_file);
    seen.run("show -json", ws.terraform(&["show", "-json"]).ok("show"));

    ws.write_config(&write_only_ca(&clusters, &ws, false, "720h"));
    seen.run(
        "destroy",
        ws.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"])
            .ok("destroy"),
    );
    seen.file("trace log", &log_path);

    let mut secrets: Vec<String> = keys.iter().flat_map(|k| private_key_lines(k)).collect();
    secrets.extend(keys.iter().cloned());
    secrets.push("PRIVATE KEY-----".to_string());
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let leaks = seen.leaks(&secrets);
    assert!(leaks.is_empty(), "{leaks:#?}");
}

/// A cluster whose CA key is in the state (here a generated CA) moves it out: the same certificate with
/// `ca_private_key_wo`. Nothing rotates and no node restarts; each zone issues its own `root` client, so the plan
/// asks the regions for the key; afterwards the state holds no private key and runs need no key.
#[test]
fn a_ca_key_in_the_state_moves_out_of_it_without_restarting_a_node() {
    client().require("write-only attributes", (1, 11), (1, 11));
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    ws.write_config(&configuration(&clusters, &ws, false, 1));
    ws.apply();
    let cluster = ws.resource("crdb_multiregion_cluster.main");
    let cert = cluster["ca_certificate"].as_str().unwrap().to_string();
    let key = cluster["ca_private_key"].as_str().unwrap().to_string();
    let ca =
        pki::CertificateAuthority::from_pem(&cert, &key, time::OffsetDateTime::now_utc()).unwrap();
    std::fs::write(ws.path().join("ca.crt"), &cert).unwrap();
    let ws = ws.with_env("TF_VAR_ca_key", &key);
    let pods = pod_generations(&clusters, NODE_PODS);
    let mut seen = Seen::default();

    ws.write_config(&write_only_ca(&clusters, &ws, false, "720h"));
    let refused = seen.run(
        "plan without the key",
        ws.terraform(&["plan", "-input=false", "-no-color"]),
    );
    assert_ne!(refused.code, 0);
    assert!(
        refused.said().contains("issues its own"),
        "{}",
        refused.said()
    );

    ws.write_config(&write_only_ca(&clusters, &ws, true, "720h"));
    seen.run(
        "moving apply",
        ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"])
            .ok("apply"),
    );
    assert_eq!(
        pod_generations(&clusters, NODE_PODS),
        pods,
        "moving the key restarted a node"
    );
    let cluster = ws.resource("crdb_multiregion_cluster.main");
    assert_eq!(
        cluster["previous_ca_certificate"],
        serde_json::Value::Null,
        "no rotation"
    );
    assert_eq!(cluster["ca_certificate"], cert.as_str());
    let mut keys = zone_keys(&clusters, &ca);
    keys.push(key.clone());
    ws.write_config(&write_only_ca(&clusters, &ws, false, "720h"));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 0, "no key needed once moved: {}", plan.stdout);
    seen.run("plan after the move", plan);
    seen.file("state after the move", &ws.path().join("terraform.tfstate"));
    seen.run("show -json", ws.terraform(&["show", "-json"]).ok("show"));
    let mut secrets: Vec<String> = keys.iter().flat_map(|k| private_key_lines(k)).collect();
    secrets.push("PRIVATE KEY-----".to_string());
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let leaks = seen.leaks(&secrets);
    assert!(leaks.is_empty(), "{leaks:#?}");
}
