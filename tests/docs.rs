//! `docs/` is generated from the schemas and the examples; this test fails when they disagree.
//! Regenerate with `UPDATE_DOCS=1 cargo test --test docs`.
use std::path::{Path, PathBuf};
use terraform_provider_crdb::docs::{render_index, render_resource, ResourcePage};
use terraform_provider_crdb::protocol::Registry;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares or, with UPDATE_DOCS=1, rewrites one generated file; returns a complaint if stale.
fn check(path: PathBuf, expected: String) -> Option<String> {
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, expected).unwrap();
        return None;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    (actual != expected).then(|| format!("{} is out of date", path.display()))
}

#[test]
fn docs_match_the_schemas_and_examples() {
    let registry = Registry::crdb();
    let mut stale = Vec::new();
    let mut names = Vec::new();
    for entry in registry.entries() {
        let name = entry.type_name();
        names.push(name);
        let examples = root().join("examples/resources").join(name);
        let example = read(&examples.join("resource.tf"));
        let import = read(&examples.join("import.sh"));
        let page = render_resource(&ResourcePage {
            type_name: name,
            kind: "Resource",
            block: &entry.schema.block,
            example: &example,
            import_example: Some(&import),
        });
        let file = root()
            .join("docs/resources")
            .join(format!("{}.md", name.trim_start_matches("crdb_")));
        stale.extend(check(file, page));
    }
    let mut ephemeral_names = Vec::new();
    for entry in registry.ephemeral_entries() {
        let name = entry.type_name();
        ephemeral_names.push(name);
        let example = read(
            &root()
                .join("examples/ephemeral-resources")
                .join(name)
                .join("ephemeral-resource.tf"),
        );
        let page = render_resource(&ResourcePage {
            type_name: name,
            kind: "Ephemeral Resource",
            block: &entry.schema.block,
            example: &example,
            import_example: None,
        });
        let file = root()
            .join("docs/ephemeral-resources")
            .join(format!("{}.md", name.trim_start_matches("crdb_")));
        stale.extend(check(file, page));
    }
    let provider = terraform_provider_crdb::protocol::provider_schema();
    let index = render_index(
        provider.block.description,
        &names,
        &ephemeral_names,
        &read(&root().join("examples/provider/provider.tf")),
    );
    stale.extend(check(root().join("docs/index.md"), index));
    assert!(
        stale.is_empty(),
        "{stale:?}; run UPDATE_DOCS=1 cargo test --test docs and commit the result"
    );
}

#[test]
fn every_attribute_has_a_description() {
    fn walk(
        block: &terraform_provider_crdb::framework::Block,
        path: &str,
        missing: &mut Vec<String>,
    ) {
        for attr in &block.attributes {
            if attr.description.trim().is_empty() {
                missing.push(format!("{path}{}", attr.name));
            }
        }
        for nested in &block.blocks {
            walk(&nested.block, &format!("{path}{}.", nested.name), missing);
        }
    }
    let mut missing = Vec::new();
    let registry = Registry::crdb();
    let blocks = registry
        .entries()
        .map(|e| (e.type_name(), &e.schema.block))
        .chain(
            registry
                .ephemeral_entries()
                .map(|e| (e.type_name(), &e.schema.block)),
        );
    for (type_name, block) in blocks {
        walk(block, &format!("{type_name}."), &mut missing);
    }
    assert!(
        missing.is_empty(),
        "attributes without a description: {missing:?}"
    );
}
