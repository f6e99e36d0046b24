//! The runnable configurations in `examples/terraform/`: a user copies them, so they must at least
//! parse and be formatted; those that need no other provider are validated against the provider's
//! schema. (The GKE and EKS examples need the google and aws providers, which cannot be installed
//! without their registry: they are checked for syntax and formatting only.)
use crate::harness::{terraform_binary, Workspace};
use std::path::{Path, PathBuf};
use std::process::Command;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// The `.tf` files directly in `dir`, by name.
fn tf_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_parses_and_is_formatted() {
    let output = Command::new(terraform_binary())
        .args(["fmt", "-check", "-recursive", "-diff", "-no-color"])
        .arg(examples_dir())
        .output()
        .expect("terraform runs");
    assert!(
        output.status.success(),
        "terraform fmt -check found unparsable or unformatted examples:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The cloud examples must be there to be checked: a renamed folder must not pass silently.
    for cloud in ["gke", "eks", "eks/region"] {
        assert!(
            !tf_files(&examples_dir().join("terraform").join(cloud)).is_empty(),
            "examples/terraform/{cloud} has no configuration"
        );
    }
}

#[test]
fn examples_needing_only_this_provider_validate() {
    for name in ["sandbox", "cluster-only"] {
        let ws = Workspace::new("");
        std::fs::remove_file(ws.path().join("main.tf")).unwrap();
        for file in tf_files(&examples_dir().join("terraform").join(name)) {
            std::fs::copy(&file, ws.path().join(file.file_name().unwrap())).unwrap();
        }
        let run = ws.terraform(&["validate", "-no-color"]);
        assert_eq!(
            run.code, 0,
            "examples/terraform/{name} does not validate:\n{}\n{}",
            run.stdout, run.stderr
        );
    }
}

/// What every client does first with a provider: load its schemas. Terraform 1.1 and later, and OpenTofu, check them
/// as they load and refuse the whole provider on any violation; this fails there with the client's own words.
#[test]
fn the_client_loads_every_schema_of_the_provider() {
    let ws = Workspace::new("");
    let run = ws.terraform(&["providers", "schema", "-json"]);
    assert_eq!(
        run.code,
        0,
        "{} cannot load the provider's schemas:\n{}",
        crate::harness::client().label(),
        run.said()
    );
    let schemas: serde_json::Value = serde_json::from_str(&run.stdout).expect("schema JSON");
    let providers = schemas["provider_schemas"]
        .as_object()
        .expect("provider_schemas");
    let (address, crdb) = providers
        .iter()
        .find(|(address, _)| address.ends_with("/crdb/crdb"))
        .unwrap_or_else(|| panic!("no crdb provider among {:?}", providers.keys()));
    let mut types: Vec<&str> = crdb["resource_schemas"]
        .as_object()
        .unwrap_or_else(|| panic!("{address} lists no resources"))
        .keys()
        .map(String::as_str)
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "crdb_database",
            "crdb_dns_link",
            "crdb_multiregion_cluster",
            "crdb_region",
            "crdb_sql_user"
        ]
    );
    let kubernetes = &crdb["resource_schemas"]["crdb_region"]["block"]["block_types"]["kubernetes"];
    assert_eq!(kubernetes["nesting_mode"], "single", "{kubernetes}");
}
