//! Input that once panicked the provider or slipped through to apply: each gets an error on its own
//! line at plan time, through the real CLI, and the provider never crashes.
use crate::harness::{Workspace, PROVIDER_BLOCK};

/// A region of the cluster `main` with `body` added, reached through a kubeconfig unless `body`
/// brings its own `kubernetes` block.
fn region(name: &str, body: &str) -> String {
    let kubernetes = if body.contains("kubernetes") {
        ""
    } else {
        "  kubernetes {\n    config_path = \"~/.kube/config\"\n  }\n"
    };
    format!(
        "resource \"crdb_region\" \"{name}\" {{\n  cluster = crdb_multiregion_cluster.main\n  zone = \"a\"\n{body}{kubernetes}}}\n"
    )
}

fn client_pair() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["admin".to_string()]).unwrap();
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

#[test]
fn out_of_range_and_malformed_input_is_refused_on_its_line_without_a_crash() {
    let (cert, _) = client_pair();
    let (_, other_key) = client_pair();
    let regions = [
        region("huge", "  replicas = 4294967297\n"),
        region("exponent", "  replicas = 1e12\n"),
        region("fraction", "  replicas = 2.5\n"),
        region("volume", "  storage_size = \"1e999\"\n"),
        region("request", "  memory_request = \"16Gi\"\n"),
        region("limit", "  memory_limit = \"0\"\n"),
        region("forever", "  timeouts {\n    create = \"18446744073709551616s\"\n  }\n"),
        region("sum", "  timeouts {\n    update = \"100000h100000h\"\n  }\n"),
        region("annotations", "  dns_load_balancer_annotations = {\n    \"bad key!\" = \"x\"\n  }\n"),
        "resource \"crdb_region\" \"unreached\" {\n  cluster = crdb_multiregion_cluster.main\n  zone = \"a\"\n}\n"
            .to_string(),
        region("anonymous", "  kubernetes {\n    host = \"https://127.0.0.1:6443\"\n  }\n"),
        region(
            "mismatched",
            &format!(
                "  kubernetes {{\n    host = \"https://127.0.0.1:6443\"\n    client_certificate = <<EOT\n{cert}EOT\n    client_key = <<EOT\n{other_key}EOT\n  }}\n"
            ),
        ),
    ];
    let config = format!(
        r#"
resource "crdb_multiregion_cluster" "main" {{
  name  = "main"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["a", "b"]
}}

resource "crdb_multiregion_cluster" "holed" {{
  name  = "holed"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["a", null]
  cluster_domain = "cluster..local"
}}

{}"#,
        regions.join("\n")
    );
    let ws = Workspace::new(&config);
    let run = ws.terraform(&["plan", "-json", "-input=false"]);
    assert_ne!(run.code, 0);
    let output = format!("{}{}", run.stdout, run.stderr);
    for crash in [
        "panicked",
        "Request cancelled",
        "plugin crashed",
        "Provider bug",
    ] {
        assert!(!output.contains(crash), "{crash}: {output}");
    }
    let diags = run.diagnostics();
    let full = format!("{PROVIDER_BLOCK}\n{config}");
    let line_of = |needle: &str| full.lines().position(|l| l.contains(needle)).unwrap() as i64 + 1;
    let expect = |summary: &str, detail_part: &str, needle: &str| {
        let line = line_of(needle);
        assert!(
            diags.iter().any(|d| d["severity"] == "error"
                && d["summary"] == summary
                && d["detail"].as_str().unwrap_or("").contains(detail_part)
                && d["range"]["start"]["line"] == line),
            "no error {summary:?} with {detail_part:?} at line {line} ({needle}); got {diags:#?}"
        );
    };
    expect(
        "Invalid replicas",
        "1000 or less, got 4294967297",
        "replicas = 4294967297",
    );
    expect(
        "Invalid replicas",
        "1000 or less, got 1000000000000",
        "replicas = 1e12",
    );
    expect("Invalid value", "whole number", "replicas = 2.5");
    expect("Invalid quantity", "1Ei", "storage_size = \"1e999\"");
    expect(
        "Request above limit",
        "default is \"8Gi\"",
        "memory_request = \"16Gi\"",
    );
    expect("Invalid quantity", "zero", "memory_limit = \"0\"");
    expect(
        "Invalid duration",
        "168h",
        "create = \"18446744073709551616s\"",
    );
    expect("Invalid duration", "168h", "update = \"100000h100000h\"");
    expect("Invalid annotation key", "bad key!", "\"bad key!\" = \"x\"");
    expect("Null zone", "null", "zones = [\"a\", null]");
    expect(
        "Invalid cluster domain",
        "\"cluster..local\" is not a DNS subdomain",
        "cluster_domain =",
    );
    expect(
        "Missing Kubernetes connection",
        "kubernetes",
        "resource \"crdb_region\" \"unreached\"",
    );
    expect(
        "No Kubernetes credential",
        "token",
        // The anonymous region's host: the first in the file.
        "host = \"https://127.0.0.1:6443\"",
    );
    expect(
        "Client key does not match the certificate",
        "public keys differ",
        "client_key = <<EOT",
    );
    assert!(
        !output.contains("PRIVATE KEY-----\n"),
        "a key was quoted: {output}"
    );
    assert!(ws.state().is_empty(), "nothing was applied");
}

/// What the plan can know of a connection on this machine is checked there, each on its line: a kubeconfig file
/// that does not exist, a context the file does not have, an exec plugin not on PATH, a timeout or an
/// unreachable_timeout too short for any operation. Nothing is contacted.
#[test]
fn a_connection_that_cannot_work_here_and_hasty_limits_are_refused_at_plan_on_their_line() {
    let ws = Workspace::new("");
    let kubeconfig = ws.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n\
         contexts:\n- name: here\n  context:\n    cluster: c\n    user: u\ncurrent-context: here\n\
         users:\n- name: u\n  user:\n    token: t\n",
    )
    .unwrap();
    let path = kubeconfig.to_str().unwrap();
    let regions = [
        region("nofile", "  kubernetes {\n    config_path = \"/nonexistent/kubeconfig\"\n  }\n"),
        region(
            "nocontext",
            &format!("  kubernetes {{\n    config_path = \"{path}\"\n    config_context = \"elsewhere\"\n  }}\n"),
        ),
        region(
            "noplugin",
            "  kubernetes {\n    host = \"https://127.0.0.1:6443\"\n    exec {\n      api_version = \"client.authentication.k8s.io/v1\"\n      command = \"no-such-credential-plugin\"\n    }\n  }\n",
        ),
        region(
            "hasty",
            &format!("  kubernetes {{\n    config_path = \"{path}\"\n    unreachable_timeout = \"1ms\"\n  }}\n  timeouts {{\n    create = \"0s\"\n  }}\n"),
        ),
        region(
            "fine",
            &format!("  kubernetes {{\n    config_path = \"{path}\"\n    unreachable_timeout = \"5s\"\n  }}\n  timeouts {{\n    update = \"1m500000000ns\"\n  }}\n"),
        ),
    ];
    let config = format!(
        "resource \"crdb_multiregion_cluster\" \"main\" {{\n  name  = \"main\"\n  image = \"cockroachdb/cockroach:v24.1.0\"\n  zones = [\"a\"]\n}}\n\n{}",
        regions.join("\n")
    );
    ws.write_config(&config);
    let run = ws.terraform(&["plan", "-json", "-input=false"]);
    assert_ne!(run.code, 0);
    let diags = run.diagnostics();
    let full = format!("{PROVIDER_BLOCK}\n{config}");
    let line_of = |needle: &str| full.lines().position(|l| l.contains(needle)).unwrap() as i64 + 1;
    let errors_at = |line: i64| -> Vec<String> {
        diags
            .iter()
            .filter(|d| d["severity"] == "error" && d["range"]["start"]["line"] == line)
            .map(|d| format!("{}: {}", d["summary"], d["detail"]))
            .collect()
    };
    for (needle, expected) in [
        ("/nonexistent/kubeconfig", "does not exist"),
        (
            "config_context = \"elsewhere\"",
            "has no context \\\"elsewhere\\\"",
        ),
        (
            "command = \"no-such-credential-plugin\"",
            "Credential plugin not found",
        ),
        ("unreachable_timeout = \"1ms\"", "minimum of 5s"),
        ("create = \"0s\"", "minimum of 1s"),
    ] {
        let found = errors_at(line_of(needle));
        assert!(
            found.iter().any(|e| e.contains(expected)),
            "{needle}: no error with {expected:?} on its line: {found:?}; all: {diags:#?}"
        );
    }
    for line in [
        line_of("unreachable_timeout = \"5s\""),
        line_of("update = \"1m500000000ns\""),
    ] {
        assert_eq!(
            errors_at(line),
            Vec::<String>::new(),
            "valid limits are accepted"
        );
    }
}

/// A write-only password given to a client that predates write-only attributes (Terraform 1.0.3) would be stored in
/// its plan and state: the plan refuses it on its line. Under a client that has them (Terraform 1.11, OpenTofu
/// 1.11) the same configuration plans, and `password` next to it is refused on `password_wo`'s line.
#[test]
fn a_write_only_password_is_refused_on_its_line_by_a_client_that_would_store_it() {
    let user = |extra: &str| {
        format!(
            "resource \"crdb_sql_user\" \"app\" {{\n  name = \"app\"\n  zone = \"a\"\n  password_wo = \"Wr1te-only-pw\"\n  password_wo_version = 1\n{extra}  kubernetes {{\n    host = \"https://127.0.0.1:6443\"\n    token = \"t\"\n  }}\n}}\n"
        )
    };
    let line_of = |config: &str, needle: &str| {
        let full = format!("{PROVIDER_BLOCK}\n{config}");
        full.lines().position(|l| l.contains(needle)).unwrap() as i64 + 1
    };
    let errors = |config: &str| {
        let ws = Workspace::new(config);
        let run = ws.terraform(&["plan", "-json", "-input=false"]);
        let output = format!("{}{}", run.stdout, run.stderr);
        let errors: Vec<(String, i64)> = error_lines(&run);
        (run.code, errors, output)
    };
    let alone = user("");
    let (code, found, output) = errors(&alone);
    let at = line_of(&alone, "password_wo =");
    if crate::harness::client().at_least((1, 11), (1, 11)) {
        assert_eq!(code, 0, "{output}");
        let both = user("  password = \"Plain-pw\"\n");
        let (code, found, output) = errors(&both);
        assert_ne!(code, 0);
        assert_eq!(
            found,
            [("Two passwords".to_string(), line_of(&both, "password_wo ="))],
            "{output}"
        );
    } else {
        assert_ne!(code, 0);
        assert_eq!(
            found,
            [(
                "Write-only attribute not supported by this client".to_string(),
                at
            )],
            "{output}"
        );
        assert!(output.contains("Terraform 1.11"), "{output}");
    }
}

/// Each refusal shows on the line the user wrote, under every client: a check that involves two attributes
/// blames the one present, a block's problem shows on the block, an empty string on itself; and what once
/// slipped through to the cluster (a token with a line break, a server name that is no name, an environment
/// variable named `A=B`, an expired API server CA, peer `0.0.0.0`, absurd counts and lengths, a NUL in a
/// password) is refused there too.
#[test]
fn every_refusal_shows_on_the_line_the_user_wrote() {
    let expired_ca = {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        params.self_signed(&key).unwrap().pem()
    };
    let (_, key) = client_pair();
    let host = "    host = \"https://127.0.0.1:6443\"\n";
    let kubeconfig = "  kubernetes {\n    config_path = \"~/.kube/config\"\n  }\n";
    let regions = [
        region("emptyblock", "  kubernetes {\n  }\n"),
        region("emptyhost", "  kubernetes {\n    host = \"\"\n  }\n"),
        region("emptypath", "  kubernetes {\n    config_path = \"\"\n  }\n"),
        region("nocredential", &format!("  kubernetes {{\n{host}  }}\n")),
        region("emptytoken", &format!("  kubernetes {{\n{host}    token = \"\"\n  }}\n")),
        region("newline", &format!("  kubernetes {{\n{host}    token = \"abc\\n\"\n  }}\n")),
        region(
            "servername",
            &format!("  kubernetes {{\n{host}    token = \"t\"\n    tls_server_name = \"bad name!\"\n  }}\n"),
        ),
        region(
            "envname",
            &format!("  kubernetes {{\n{host}    exec {{\n      command = \"sh\"\n      env = {{\n        \"A=B\" = \"x\"\n      }}\n    }}\n  }}\n"),
        ),
        region(
            "expired",
            &format!("  kubernetes {{\n{host}    token = \"t\"\n    cluster_ca_certificate = <<EOT\n{expired_ca}EOT\n  }}\n"),
        ),
        region("longregion", &format!("  region = \"{}\"\n", "r".repeat(10_000))),
    ];
    let config = format!(
        r#"
resource "crdb_multiregion_cluster" "main" {{
  name  = "main"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["a"]
}}

resource "crdb_multiregion_cluster" "keyonly" {{
  name  = "keyonly"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["a"]
  ca_private_key = <<EOT
{key}EOT
}}

resource "crdb_database" "noprimary" {{
  name            = "noprimary"
  zone            = "a"
  regions         = ["r1"]
{kubeconfig}}}

resource "crdb_database" "outside" {{
  name            = "outside"
  zone            = "a"
  cluster_regions = ["r1", "r2"]
  primary_region  = "r3"
{kubeconfig}}}

resource "crdb_database" "noregions" {{
  name            = "noregions"
  zone            = "a"
  cluster_regions = []
  primary_region  = "r1"
{kubeconfig}}}

resource "crdb_sql_user" "nul" {{
  name     = "app"
  zone     = "a"
  password = "pass\u0000word"
  roles    = ["public"]
{kubeconfig}}}

resource "crdb_dns_link" "peers" {{
  zone = "a"
  peers = {{
    "b" = "0.0.0.0"
  }}
  wait_for_ready_replicas = 1e12
{kubeconfig}}}

{}"#,
        regions.join("\n")
    );
    let ws = Workspace::new(&config);
    let run = ws.terraform(&["plan", "-json", "-input=false"]);
    assert_ne!(run.code, 0);
    let diags = run.diagnostics();
    let full = format!("{PROVIDER_BLOCK}\n{config}");
    // (the block's resource, what the line holds, a part of the error's summary or detail)
    let mut missing = Vec::new();
    for (resource, needle, expected) in [
        ("emptyblock", "kubernetes {", "Nothing to connect to"),
        ("emptyhost", "host = \"\"", "`host` is empty"),
        ("emptypath", "config_path = \"\"", "`config_path` is empty"),
        ("nocredential", "host = ", "No Kubernetes credential"),
        ("emptytoken", "token = \"\"", "`token` is empty"),
        ("newline", "token = \"abc", "trimspace"),
        ("servername", "tls_server_name", "Invalid TLS server name"),
        ("envname", "\"A=B\"", "Invalid environment variable name"),
        ("expired", "cluster_ca_certificate", "2021-01-01"),
        ("longregion", "region = \"rrr", "1 to 63"),
        (
            "keyonly",
            "ca_private_key = <<EOT",
            "Missing CA certificate",
        ),
        (
            "noprimary",
            "regions         = [\"r1\"]",
            "Regions without a primary region",
        ),
        (
            "outside",
            "primary_region  = \"r3\"",
            "Not a region of the cluster",
        ),
        (
            "noregions",
            "cluster_regions = []",
            "Not a region of the cluster",
        ),
        ("nul", "password = ", "NUL"),
        ("nul", "roles    = [\"public\"]", "cannot be granted"),
        ("peers", "\"b\" = \"0.0.0.0\"", "unspecified"),
        ("peers", "wait_for_ready_replicas = 1e12", "1000 or less"),
    ] {
        // The line inside the resource's block: search from its header.
        let header = full
            .lines()
            .position(|l| l.starts_with("resource ") && l.contains(&format!("\"{resource}\"")))
            .unwrap();
        let line = full
            .lines()
            .enumerate()
            .skip(header)
            .find(|(_, l)| l.contains(needle))
            .map(|(i, _)| i as i64 + 1)
            .unwrap_or_else(|| panic!("{resource}: no line with {needle:?}"));
        let found = diags.iter().any(|d| {
            d["severity"] == "error"
                && d["range"]["start"]["line"] == line
                && format!("{}: {}", d["summary"], d["detail"]).contains(expected)
        });
        if !found {
            missing.push(format!(
                "{resource}: {expected:?} at line {line} ({needle})"
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "not on their line: {missing:#?}\nall: {diags:#?}"
    );
    assert!(ws.state().is_empty(), "nothing was applied");
}

/// A write-only CA key is refused on its line by a client that would store it (Terraform 1.0.3); a client that
/// has write-only attributes plans it, and refuses it next to `ca_private_key` on its own line.
#[test]
fn a_write_only_ca_key_is_refused_on_its_line_by_a_client_that_would_store_it() {
    let ca = terraform_provider_crdb::cockroach::pki::CertificateAuthority::generate(
        "main",
        time::Duration::days(3650),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let cluster = |ws: &Workspace, key: &str| {
        std::fs::write(ws.path().join("ca.crt"), ca.cert_pem()).unwrap();
        std::fs::write(ws.path().join("ca.key"), ca.key_pem()).unwrap();
        format!(
            "{PROVIDER_BLOCK}\nresource \"crdb_multiregion_cluster\" \"main\" {{\n  name  = \"main\"\n  image = \"cockroachdb/cockroach:v24.1.0\"\n  zones = [\"a\"]\n  ca_certificate    = file(\"${{path.module}}/ca.crt\")\n{key}}}\n"
        )
    };
    let plan = |key: &str, blamed: &str| {
        let ws = Workspace::new("");
        let config = cluster(&ws, key);
        std::fs::write(ws.path().join("main.tf"), &config).unwrap();
        let run = ws.terraform(&["plan", "-json", "-input=false"]);
        let line = config.lines().position(|l| l.contains(blamed)).unwrap() as i64 + 1;
        let errors: Vec<(String, i64)> = error_lines(&run);
        (
            run.code,
            errors,
            line,
            format!("{}{}", run.stdout, run.stderr),
        )
    };
    let write_only = "  ca_private_key_wo = file(\"${path.module}/ca.key\")\n";
    // A certificate with no key at all cannot be checked, under any client: refused on the certificate's line.
    let (code, found, line, output) = plan("", "ca_certificate");
    assert_ne!(code, 0);
    assert_eq!(
        found,
        [("Missing CA private key".to_string(), line)],
        "{output}"
    );
    let (code, found, line, output) = plan(write_only, "ca_private_key_wo =");
    if crate::harness::client().at_least((1, 11), (1, 11)) {
        assert_eq!(code, 0, "{output}");
        let (code, found, line, output) = plan(
            &format!("{write_only}  ca_private_key    = file(\"${{path.module}}/ca.key\")\n"),
            "ca_private_key_wo =",
        );
        assert_ne!(code, 0);
        assert_eq!(found, [("Two CA keys".to_string(), line)], "{output}");
    } else {
        assert_ne!(code, 0);
        assert_eq!(
            found,
            [(
                "Write-only attribute not supported by this client".to_string(),
                line
            )],
            "{output}"
        );
    }
}

/// The summary and line of each error of a `-json` run.
fn error_lines(run: &crate::harness::Run) -> Vec<(String, i64)> {
    run.diagnostics()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            (
                d["summary"].as_str().unwrap_or("").to_string(),
                d["range"]["start"]["line"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}
