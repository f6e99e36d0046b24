//! Renders registry-layout documentation (`docs/resources/<name>.md`) from the schemas, so that
//! every description a user reads is the one the schema carries. A test keeps `docs/` in step.
use crate::framework::schema::{Attribute, Block, Mode, Nesting};
use std::fmt::Write as _;

/// What a resource page shows besides its schema.
pub struct ResourcePage<'a> {
    pub type_name: &'a str,
    /// `Resource` or `Ephemeral Resource`, as the registry's page titles say it.
    pub kind: &'a str,
    pub block: &'a Block,
    pub example: &'a str,
    pub import_example: Option<&'a str>,
}

/// The provider's index page.
pub fn render_index(
    provider_description: &str,
    resources: &[&str],
    ephemeral_resources: &[&str],
    example: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "---\npage_title: \"crdb Provider\"\ndescription: |-\n  Deploys and operates one secure CockroachDB cluster across several Kubernetes clusters.\n---\n");
    let _ = writeln!(out, "# crdb Provider\n\nDeploys and operates one secure CockroachDB cluster spread across several Kubernetes clusters in different regions: `terraform apply` creates it, changing `replicas` scales it, changing the image rolls an upgrade, removing a resource tears it down.\n\n{provider_description}\n");
    let _ = writeln!(
        out,
        "## Example Usage\n\n```terraform\n{}\n```\n",
        example.trim_end()
    );
    let _ = writeln!(out, "## Resources\n");
    for resource in resources {
        let page = resource.trim_start_matches("crdb_");
        let _ = writeln!(out, "- [`{resource}`](resources/{page}.md)");
    }
    if !ephemeral_resources.is_empty() {
        let _ = writeln!(
            out,
            "\n## Ephemeral Resources\n\nNever written to plan or state (Terraform 1.10+, OpenTofu 1.11+).\n"
        );
        for resource in ephemeral_resources {
            let page = resource.trim_start_matches("crdb_");
            let _ = writeln!(out, "- [`{resource}`](ephemeral-resources/{page}.md)");
        }
    }
    out
}

pub fn render_resource(page: &ResourcePage<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "---\npage_title: \"{} {} - crdb\"\nsubcategory: \"\"\ndescription: |-\n  {}\n---\n",
        page.type_name,
        page.kind,
        first_sentence(page.block.description)
    );
    let _ = writeln!(
        out,
        "# {} ({})\n\n{}\n",
        page.type_name, page.kind, page.block.description
    );
    let _ = writeln!(
        out,
        "## Example Usage\n\n```terraform\n{}\n```\n",
        page.example.trim_end()
    );
    let _ = writeln!(
        out,
        "<!-- schema generated from the provider's schema descriptions -->"
    );
    let _ = writeln!(out, "## Schema\n");
    render_block(&mut out, page.block, "");
    if let Some(import) = page.import_example {
        let _ = writeln!(
            out,
            "## Import\n\nImport is supported using the following syntax:\n\n```shell\n{}\n```",
            import.trim_end()
        );
    }
    out
}

fn first_sentence(text: &str) -> &str {
    text.split_once(". ").map_or(text, |(first, _)| first)
}

/// Picks the attributes one section of a page lists.
type AttributeFilter = fn(&Attribute) -> bool;

fn render_block(out: &mut String, block: &Block, anchor: &str) {
    let groups: [(&str, AttributeFilter); 3] = [
        ("Required", |a| a.mode == Mode::Required),
        ("Optional", |a| {
            matches!(a.mode, Mode::Optional | Mode::OptionalComputed)
        }),
        ("Read-Only", |a| a.mode == Mode::Computed),
    ];
    for (title, belongs) in groups {
        let attrs: Vec<&Attribute> = block.attributes.iter().filter(|a| belongs(a)).collect();
        let nested: Vec<_> = if title == "Optional" {
            block.blocks.iter().collect()
        } else {
            Vec::new()
        };
        if attrs.is_empty() && nested.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        for attr in attrs {
            let _ = writeln!(
                out,
                "- `{}` ({}{}{}) {}{}",
                attr.name,
                type_name(&attr.ty),
                if attr.sensitive { ", Sensitive" } else { "" },
                if attr.write_only {
                    ", Write-only: Terraform 1.11+, OpenTofu 1.11+"
                } else {
                    ""
                },
                attr.description,
                default_note(attr)
            );
        }
        for nested in nested {
            let kind = match nested.nesting {
                Nesting::Single => "Block",
                Nesting::List => "Block List",
            };
            let _ = writeln!(
                out,
                "- `{}` ({kind}) {} (see [below for nested schema](#nestedblock--{anchor}{}))",
                nested.name, nested.block.description, nested.name
            );
        }
        out.push('\n');
    }
    for nested in &block.blocks {
        let _ = writeln!(
            out,
            "<a id=\"nestedblock--{anchor}{}\"></a>\n### Nested Schema for `{anchor}{}`\n",
            nested.name, nested.name
        );
        render_block(out, &nested.block, &format!("{anchor}{}.", nested.name));
    }
}

fn default_note(attr: &Attribute) -> String {
    use crate::framework::Value;
    match &attr.default {
        Some(Value::String(s)) => format!(" Defaults to `\"{s}\"`."),
        Some(Value::Bool(b)) => format!(" Defaults to `{b}`."),
        Some(Value::Number(n)) => format!(" Defaults to `{n}`."),
        _ => String::new(),
    }
}

fn type_name(ty: &crate::framework::Type) -> String {
    use crate::framework::Type;
    match ty {
        Type::Bool => "Boolean".into(),
        Type::Number => "Number".into(),
        Type::String => "String".into(),
        Type::Dynamic => "Dynamic".into(),
        Type::List(e) => format!("List of {}", type_name(e)),
        Type::Set(e) => format!("Set of {}", type_name(e)),
        Type::Map(e) => format!("Map of {}", type_name(e)),
        Type::Object(_) => "Object".into(),
        Type::Tuple(_) => "Tuple".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{Attribute, Type, Value};

    #[test]
    fn pages_list_attributes_by_mode_with_sensitivity_and_defaults() {
        let block = Block::new("A thing. More words.")
            .attribute(Attribute::required("name", Type::String, "Its name."))
            .attribute(
                Attribute::optional("size", Type::Number, "Its size.").default(Value::int(3)),
            )
            .attribute(Attribute::computed("key", Type::String, "Its key.").sensitive())
            .attribute(
                Attribute::optional("secret", Type::String, "Its secret.")
                    .sensitive()
                    .write_only(),
            )
            .single_block(
                "timeouts",
                Block::new("Limits.").attribute(Attribute::optional(
                    "create",
                    Type::String,
                    "Create limit.",
                )),
            );
        let page = render_resource(&ResourcePage {
            type_name: "crdb_thing",
            kind: "Resource",
            block: &block,
            example: "resource \"crdb_thing\" \"x\" {}",
            import_example: Some("terraform import crdb_thing.x name"),
        });
        assert!(page.contains("description: |-\n  A thing\n"));
        assert!(page.contains("### Required\n\n- `name` (String) Its name."));
        assert!(page.contains("- `size` (Number) Its size. Defaults to `3`."));
        assert!(page.contains("### Read-Only\n\n- `key` (String, Sensitive) Its key."));
        assert!(page.contains(
            "- `secret` (String, Sensitive, Write-only: Terraform 1.11+, OpenTofu 1.11+) Its secret."
        ));
        assert!(page.contains("### Nested Schema for `timeouts`"));
        assert!(page.contains("terraform import crdb_thing.x name"));
    }
}
