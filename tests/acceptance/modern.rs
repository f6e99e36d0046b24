//! The workflows of today's CLIs that Terraform 1.0.3 predates, through the newest Terraform and OpenTofu:
//! `import {}` blocks, `plan -generate-config-out`, `removed {}` with `destroy = false`, `moved {}`, and what their
//! newer plugin protocol sends (a wholly unknown `dynamic` block, destroys planned through the provider). The matrix
//! (`scripts/test.sh`) runs this module under the clients that have them; under an older one each test says so.
use crate::day2::{assert_never_unavailable, settle};
use crate::faults::everything;
use crate::harness::{client, Workspace};
use crate::regions::{
    live_nodes, our_objects, pod_generations, user_ca_configuration, Clusters, ZONES,
};
use crate::sql::sql_config;
use terraform_provider_crdb::cockroach::pki::CertificateAuthority;

const NODE_PODS: &str = "app.kubernetes.io/component=database";
const PASSWORD: &str = "Tr0ub4dor-and-3";

/// A user and a database run from the first zone, and the other two with it.
fn sql_resources(clusters: &Clusters, ws: &Workspace) -> String {
    sql_config(&clusters.connection_block(ws, ZONES[0]), PASSWORD, "")
}

/// Three regions, their links, a user and a database, under a CA the test brings (an import can then be given it).
struct Deployment {
    clusters: Clusters,
    ca: CertificateAuthority,
}

impl Deployment {
    fn start() -> Deployment {
        let ca = CertificateAuthority::generate(
            "main",
            time::Duration::days(3650),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        Deployment {
            clusters: Clusters::start(&["kube-dns", "coredns", "kube-dns"]),
            ca,
        }
    }

    /// The whole configuration for `ws` (its CA files written beside it).
    fn configuration(&self, ws: &Workspace) -> String {
        let base = user_ca_configuration(&self.clusters, ws, &self.ca, false);
        format!("{base}{}", sql_resources(&self.clusters, ws))
    }

    /// The deployment, applied from a workspace of its own (returned for further steps).
    fn applied() -> (Deployment, Workspace) {
        let deployment = Deployment::start();
        let ws = deployment.workspace();
        ws.write_config(&deployment.configuration(&ws));
        ws.apply();
        (deployment, ws)
    }

    /// A workspace whose kubeconfig reaches every sandbox cluster through a context named after its zone.
    fn workspace(&self) -> Workspace {
        let ws = Workspace::new("");
        let kubeconfig = ws.path().join("kubeconfig");
        self.clusters.sandbox.write_kubeconfig(&kubeconfig).unwrap();
        let path = kubeconfig.to_str().unwrap().to_string();
        ws.with_env("KUBECONFIG", &path)
    }
}

/// `import {}` blocks for every resource of the deployment, by the IDs `terraform import` takes.
fn import_blocks() -> String {
    let mut blocks = vec![import_block("crdb_multiregion_cluster.main", "main")];
    for zone in ZONES {
        let key = zone.replace('-', "_");
        blocks.push(import_block(
            &format!("crdb_region.{key}"),
            &format!("{zone}/{zone}"),
        ));
        blocks.push(import_block(
            &format!("crdb_dns_link.{key}"),
            &format!("{zone}/{zone}"),
        ));
    }
    let sql_zone = ZONES[0];
    blocks.push(import_block(
        "crdb_sql_user.app",
        &format!("{sql_zone}/{sql_zone}/app"),
    ));
    blocks.push(import_block(
        "crdb_database.shop",
        &format!("{sql_zone}/{sql_zone}/shop"),
    ));
    blocks.concat()
}

fn import_block(to: &str, id: &str) -> String {
    format!("\nimport {{\n  to = {to}\n  id = \"{id}\"\n}}\n")
}

#[test]
fn import_blocks_adopt_every_resource_and_nothing_is_planned_afterwards() {
    client().require("`import {}` blocks", (1, 5), (1, 6));
    let (deployment, _original) = Deployment::applied();
    let pods_before = pod_generations(&deployment.clusters, NODE_PODS);
    assert_eq!(pods_before.len(), 9);

    let adopter = deployment.workspace();
    adopter.write_config(&format!(
        "{}{}",
        deployment.configuration(&adopter),
        import_blocks()
    ));
    let planned = adopter.planned_actions();
    assert_eq!(planned.len(), 9, "every resource is imported: {planned:?}");
    for (address, actions) in &planned {
        assert!(
            actions == &["update".to_string()] || actions == &["no-op".to_string()],
            "{address} must be adopted in place, not {actions:?}"
        );
    }
    adopter.apply();
    adopter.assert_plan_empty("applying the import blocks");
    assert_eq!(adopter.state().len(), 9);
    assert_eq!(
        pod_generations(&deployment.clusters, NODE_PODS),
        pods_before,
        "adoption through import blocks restarted or replaced a node"
    );
}

#[test]
fn generated_configuration_of_an_adopted_zone_and_link_plans_once_wired() {
    client().require("`plan -generate-config-out`", (1, 5), (1, 6));
    let (deployment, _original) = Deployment::applied();

    // Only the cluster is written by hand (its CA comes from files); the zone and its link are generated.
    let zone = ZONES[1];
    let key = zone.replace('-', "_");
    let adopter = deployment.workspace();
    let cluster_only = deployment
        .configuration(&adopter)
        .split("\nresource \"crdb_region\"")
        .next()
        .unwrap()
        .to_string();
    adopter.write_config(&format!(
        "{cluster_only}{}{}{}",
        import_block("crdb_multiregion_cluster.main", "main"),
        import_block(&format!("crdb_region.{key}"), &format!("{zone}/{zone}")),
        import_block(&format!("crdb_dns_link.{key}"), &format!("{zone}/{zone}")),
    ));
    let generated = adopter.terraform(&[
        "plan",
        "-input=false",
        "-no-color",
        "-generate-config-out=generated.tf",
    ]);
    let text = std::fs::read_to_string(adopter.path().join("generated.tf")).unwrap_or_else(|e| {
        panic!(
            "no configuration was generated ({e}):\n{}\n{}",
            generated.stdout, generated.stderr
        )
    });
    for (what, output) in [
        ("the generated configuration", text.as_str()),
        ("the plan", generated.stdout.as_str()),
        ("its errors", generated.stderr.as_str()),
    ] {
        assert!(
            !output.contains("PRIVATE KEY")
                && !output.contains(deployment.clusters.sandbox.cluster(zone).unwrap().token()),
            "{what} shows a secret:\n{output}"
        );
    }
    eprintln!("generated by {}:\n{text}", client().label());
    assert!(
        text.contains(&format!("resource \"crdb_region\" \"{key}\"")),
        "{text}"
    );
    assert!(
        text.contains(&format!("resource \"crdb_dns_link\" \"{key}\"")),
        "{text}"
    );

    // What the import guide says to add: the connection, and the region's cluster.
    let connection = deployment.clusters.connection_block(&adopter, zone);
    let wired = wire_generated(&text, &connection);
    std::fs::write(adopter.path().join("generated.tf"), wired).unwrap();
    let (code, plan) = adopter.plan_exit_code();
    assert!(
        code == 0 || code == 2,
        "the generated configuration does not plan:\n{}\n{}",
        plan.stdout,
        plan.stderr
    );
    adopter.apply();
    adopter.assert_plan_empty("applying the generated configuration");
}

/// The generated configuration with what import cannot know filled in: each resource's `kubernetes {}` block (its
/// generated one, made of nulls, dropped) and the region's cluster.
fn wire_generated(generated: &str, connection: &str) -> String {
    let mut out = String::new();
    let mut skipping_block = 0usize;
    for line in generated.lines() {
        let trimmed = line.trim();
        if skipping_block > 0 {
            skipping_block += trimmed.matches('{').count();
            skipping_block -= trimmed.matches('}').count();
            continue;
        }
        if trimmed.starts_with("kubernetes {") {
            skipping_block = 1;
            continue;
        }
        if trimmed.starts_with("cluster ") && trimmed.contains('=') {
            out.push_str("  cluster = crdb_multiregion_cluster.main\n");
            continue;
        }
        if line.starts_with("resource ") {
            out.push_str(line);
            out.push('\n');
            out.push_str(connection);
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn removed_blocks_forget_without_touching_and_moved_blocks_change_nothing() {
    client().require("`removed {}` blocks", (1, 7), (1, 7));
    let (deployment, ws) = Deployment::applied();
    let config = deployment.configuration(&ws);
    let pods_before = pod_generations(&deployment.clusters, NODE_PODS);
    let objects_before = lasting_objects(&deployment.clusters);

    // Forgetting a zone, its link, the user and the database: the cluster keeps every object.
    let zone = ZONES[2];
    let key = zone.replace('-', "_");
    let mut forgotten = without_resource(&config, "crdb_region", &key);
    forgotten = without_resource(&forgotten, "crdb_dns_link", &key);
    forgotten = without_resource(&forgotten, "crdb_sql_user", "app");
    forgotten = without_resource(&forgotten, "crdb_database", "shop");
    // The links keep forwarding the forgotten zone: its address and protocol, no longer references, are written
    // out.
    let region = ws.resource(&format!("crdb_region.{key}"));
    for attribute in ["dns_address", "dns_protocol"] {
        let value = region[attribute].as_str().unwrap();
        forgotten = forgotten.replace(
            &format!("crdb_region.{key}.{attribute}"),
            &format!("\"{value}\""),
        );
    }
    for kind_and_name in [
        format!("crdb_region.{key}"),
        format!("crdb_dns_link.{key}"),
        "crdb_sql_user.app".to_string(),
        "crdb_database.shop".to_string(),
    ] {
        forgotten.push_str(&format!(
            "\nremoved {{\n  from = {kind_and_name}\n  lifecycle {{\n    destroy = false\n  }}\n}}\n"
        ));
    }
    ws.write_config(&forgotten);
    let planned = ws.planned_actions();
    assert!(
        planned
            .iter()
            .all(|(_, actions)| actions != &["delete".to_string()]),
        "a removed block with destroy = false plans a delete: {planned:?}"
    );
    ws.apply();
    assert_eq!(
        ws.state().len(),
        5,
        "the forgotten four are out of the state"
    );
    assert_eq!(
        lasting_objects(&deployment.clusters),
        objects_before,
        "forgetting touched the cluster"
    );
    assert_eq!(
        pod_generations(&deployment.clusters, NODE_PODS),
        pods_before
    );

    // ... and adopted again by import blocks.
    ws.write_config(&format!(
        "{config}{}{}{}{}",
        import_block(&format!("crdb_region.{key}"), &format!("{zone}/{zone}")),
        import_block(&format!("crdb_dns_link.{key}"), &format!("{zone}/{zone}")),
        import_block("crdb_sql_user.app", &format!("{0}/{0}/app", ZONES[0])),
        import_block("crdb_database.shop", &format!("{0}/{0}/shop", ZONES[0])),
    ));
    ws.apply();
    ws.assert_plan_empty("importing what was forgotten");
    assert_eq!(ws.state().len(), 9);
    assert_eq!(
        pod_generations(&deployment.clusters, NODE_PODS),
        pods_before
    );

    // Renaming the cluster and moving the regions into a `for_each`: only moves are planned.
    let mut moved = config.replace(
        "resource \"crdb_multiregion_cluster\" \"main\"",
        "resource \"crdb_multiregion_cluster\" \"primary\"",
    );
    moved = moved.replace(
        "crdb_multiregion_cluster.main",
        "crdb_multiregion_cluster.primary",
    );
    moved.push_str("\nmoved {\n  from = crdb_multiregion_cluster.main\n  to   = crdb_multiregion_cluster.primary\n}\n");
    for zone in ZONES {
        let key = zone.replace('-', "_");
        moved.push_str(&format!(
            "\nmoved {{\n  from = crdb_region.{key}\n  to   = crdb_region.zones[\"{zone}\"]\n}}\n"
        ));
    }
    let moved = regions_as_for_each(&moved, &deployment.clusters);
    ws.write_config(&moved);
    let planned = ws.planned_actions();
    assert_eq!(planned.len(), 9, "{planned:?}");
    assert!(
        planned
            .iter()
            .all(|(_, actions)| actions == &["no-op".to_string()]),
        "moving the cluster and the regions plans only moves: {planned:?}"
    );
    ws.apply();
    ws.assert_plan_empty("moving the cluster and the regions");
    assert!(
        ws.state()
            .iter()
            .any(|(address, _)| address == "crdb_region.zones[\"us-west1-a\"]"),
        "{:?}",
        ws.state().iter().map(|(a, _)| a).collect::<Vec<_>>()
    );
    assert_eq!(
        pod_generations(&deployment.clusters, NODE_PODS),
        pods_before
    );
}

/// `everything` but the pods of the SQL resources' short-lived read Jobs, which a refresh starts and removes.
fn lasting_objects(clusters: &Clusters) -> Vec<String> {
    everything(clusters)
        .into_iter()
        .filter(|line| !line.contains(" Pod/") || line.contains("/cockroachdb-"))
        .collect()
}

/// The three `crdb_region` resources of `configuration` as one `for_each` over the zones.
fn regions_as_for_each(config: &str, clusters: &Clusters) -> String {
    let mut out = String::new();
    let mut first = true;
    let mut rest = config;
    while let Some(start) = rest.find("\nresource \"crdb_region\" \"") {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find("\n}\n").unwrap() + 3;
        if first {
            out.push_str(&for_each_region(&rest[start..end], clusters));
            first = false;
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out.replace(
        "crdb_region.us_east1_b.",
        "crdb_region.zones[\"us-east1-b\"].",
    )
    .replace(
        "crdb_region.us_west1_a.",
        "crdb_region.zones[\"us-west1-a\"].",
    )
    .replace(
        "crdb_region.europe_west1_c.",
        "crdb_region.zones[\"europe-west1-c\"].",
    )
}

/// One region block made generic: zone, region and connection from the `for_each` entry.
fn for_each_region(block: &str, clusters: &Clusters) -> String {
    let map = |value: &dyn Fn(&str) -> String| {
        ZONES
            .iter()
            .map(|z| format!("    \"{z}\" = \"{}\"", value(z)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let zones = map(&|z| z.rsplit_once('-').unwrap().0.to_string());
    let hosts = map(&|z| clusters.sandbox.cluster(z).unwrap().url().to_string());
    let tokens = map(&|z| clusters.sandbox.cluster(z).unwrap().token().to_string());
    let mut out = format!(
        "\nlocals {{\n  zones = {{\n{zones}\n  }}\n  hosts = {{\n{hosts}\n  }}\n  tokens = {{\n{tokens}\n  }}\n}}\n"
    );
    for line in block.lines() {
        let trimmed = line.trim_start();
        if line.starts_with("resource \"crdb_region\"") {
            out.push_str("resource \"crdb_region\" \"zones\" {\n  for_each = local.zones\n");
        } else if trimmed.starts_with("zone ") {
            out.push_str("  zone = each.key\n");
        } else if trimmed.starts_with("region ") {
            out.push_str("  region = each.value\n");
        } else if trimmed.starts_with("cluster_ca_certificate") {
            out.push_str(
                "    cluster_ca_certificate = file(\"${path.module}/ca-${each.key}.pem\")\n",
            );
        } else if trimmed.starts_with("host ") || trimmed.starts_with("token ") {
            let name = trimmed.split_whitespace().next().unwrap();
            out.push_str(&format!("    {name} = local.{name}s[each.key]\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `config` without the one resource `kind.name`.
fn without_resource(config: &str, kind: &str, name: &str) -> String {
    let header = format!("\nresource \"{kind}\" \"{name}\" {{");
    let Some(start) = config.find(&header) else {
        panic!("{kind}.{name} is not in the configuration")
    };
    let end = start + config[start..].find("\n}\n").unwrap() + 3;
    format!("{}\n{}", &config[..start], &config[end..])
}

/// One zone whose `kubernetes {}` block is a `dynamic` block over `terraform_data`'s output: at validate and plan
/// time the whole block is unknown (the collection it iterates is), at apply it is one known block. Terraform 1.0.3
/// never sends a provider a wholly unknown nested block; today's clients do.
fn dynamic_connection_config(clusters: &Clusters, ws: &Workspace, protect: bool) -> String {
    let zone = ZONES[0];
    let cluster = clusters.sandbox.cluster(zone).unwrap();
    std::fs::write(ws.path().join("ca.pem"), cluster.ca_pem()).unwrap();
    format!(
        r#"
resource "terraform_data" "endpoint" {{
  input = ["{host}"]
}}

resource "crdb_multiregion_cluster" "main" {{
  name  = "main"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["{zone}"]
}}

resource "crdb_region" "only" {{
  cluster             = crdb_multiregion_cluster.main
  zone                = "{zone}"
  region              = "{region}"
  replicas            = 3
  deletion_protection = {protect}
  dynamic "kubernetes" {{
    for_each = terraform_data.endpoint.output
    content {{
      host                   = kubernetes.value
      cluster_ca_certificate = file("${{path.module}}/ca.pem")
      token                  = "{token}"
    }}
  }}
  timeouts {{
    create = "5m"
    delete = "5m"
  }}
}}
"#,
        host = cluster.url(),
        token = cluster.token(),
        region = zone.rsplit_once('-').unwrap().0,
    )
}

#[test]
fn a_dynamic_block_over_an_unknown_value_and_a_destroy_plan_go_through_validate_plan_and_apply() {
    client().require("`terraform_data`", (1, 4), (1, 6));
    let clusters = Clusters::start(&["kube-dns", "coredns", "kube-dns"]);
    let ws = Workspace::new("");
    ws.write_config(&dynamic_connection_config(&clusters, &ws, true));
    ws.terraform(&["validate", "-no-color"])
        .ok("validate with the kubernetes block unknown");
    // What both clients send for it: the block, its content's attributes unknown (the token too, though written
    // as a literal), the others null. The plan keeps them unknown for apply to fill in.
    let plan = ws.saved_plan();
    let region = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rc| rc["address"] == "crdb_region.only")
        .unwrap_or_else(|| panic!("no region planned: {plan}"));
    let unknown = &region["change"]["after_unknown"]["kubernetes"];
    for attribute in ["host", "cluster_ca_certificate", "token"] {
        assert_eq!(unknown[attribute], true, "{attribute}: {unknown}");
    }
    ws.apply();
    ws.assert_plan_empty("applying through the dynamic block");
    let applied = ws.resource("crdb_region.only");
    let block = &applied["kubernetes"];
    let block = if block.is_array() { &block[0] } else { block };
    assert_eq!(
        block["host"].as_str(),
        Some(clusters.sandbox.cluster(ZONES[0]).unwrap().url().as_str())
    );
    assert_eq!(live_nodes(&clusters), (3, 3));
    let nodes_before = pod_generations(&clusters, NODE_PODS);
    settle(&clusters);

    // Today's clients plan a destroy through the provider (plan_destroy), which refuses it at plan time.
    let refused = ws.terraform(&["plan", "-destroy", "-input=false", "-no-color"]);
    assert_ne!(refused.code, 0, "a protected zone's destroy was planned");
    assert!(
        refused.stderr.contains("deletion_protection"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        pod_generations(&clusters, NODE_PODS),
        nodes_before,
        "a refused destroy plan touched a node"
    );

    ws.write_config(&dynamic_connection_config(&clusters, &ws, false));
    ws.apply();
    assert_eq!(
        pod_generations(&clusters, NODE_PODS),
        nodes_before,
        "lifting deletion_protection touched a node"
    );
    let seen =
        assert_never_unavailable(&clusters, "a refused destroy plan, then protection lifted");
    assert_eq!(seen.max_nodes_down, 0, "{seen:?}");
    let planned = ws.planned_destroy_actions();
    assert_eq!(planned.len(), 3, "{planned:?}");
    assert!(
        planned
            .iter()
            .all(|(_, actions)| actions == &["delete".to_string()]),
        "{planned:?}"
    );
    ws.destroy();
    assert_eq!(
        our_objects(&clusters, ZONES[0]),
        Vec::<String>::new(),
        "objects of ours left after destroy"
    );
}
