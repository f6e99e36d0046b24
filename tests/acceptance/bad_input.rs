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
        "resource \"crdb_region\" \"anonymous\"",
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
