//! `crdb_sql_user` and `crdb_database` through the real CLI against kube-sandbox: a three-region cluster, a user
//! with a password and the admin role, and a multi-region database whose survival goal moves its replicas.
use crate::harness::Workspace;
use crate::regions::{configuration, Clusters};
use kube_sandbox::cockroach::replication::Locality;
use kube_sandbox::cockroach::sql::{self, scram};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PASSWORD: &str = "Corr3ct-h0rse-battery";
const SQL_ZONE: &str = "us-east1-b";

/// The user and the database, run from zone `us-east1-b`; `database` is the body of the database's settings.
pub fn sql_config(connection: &str, password: &str, database: &str) -> String {
    format!(
        r#"
resource "crdb_sql_user" "app" {{
  name     = "app"
  password = "{password}"
  roles    = ["admin"]
  zone     = crdb_region.us_east1_b.zone
{connection}}}

resource "crdb_database" "shop" {{
  name            = "shop"
  cluster_regions = [crdb_region.us_east1_b.region, crdb_region.us_west1_a.region, crdb_region.europe_west1_c.region]
  zone            = crdb_region.us_east1_b.zone
  # A database region needs live nodes: the links wait for their zones' nodes.
  depends_on = [crdb_dns_link.us_east1_b, crdb_dns_link.us_west1_a, crdb_dns_link.europe_west1_c]
{database}
{connection}}}
"#
    )
}

pub fn world(clusters: &Clusters) -> &kube_sandbox::world::World {
    clusters.sandbox.world().expect("controllers run")
}

pub fn catalog(clusters: &Clusters) -> sql::Catalog {
    world(clusters).cockroach().clusters().remove(0).catalog
}

/// Per range of `shop`, how many replicas each region holds.
fn spread(clusters: &Clusters) -> Vec<BTreeMap<String, usize>> {
    let status = world(clusters).cockroach().clusters().remove(0);
    let ranges: Vec<Vec<Locality>> = status
        .database_replicas
        .get("shop")
        .cloned()
        .unwrap_or_default();
    ranges
        .iter()
        .map(|replicas| {
            let mut m = BTreeMap::new();
            for l in replicas {
                *m.entry(l.region.clone()).or_default() += 1;
            }
            m
        })
        .collect()
}

/// Waits (on the sandbox's accelerated clock) until `shop`'s ranges are placed as `placed` says.
pub fn until_placed(
    clusters: &Clusters,
    what: &str,
    placed: impl Fn(&[BTreeMap<String, usize>]) -> bool,
) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let s = spread(clusters);
        if !s.is_empty() && placed(&s) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what}: {:?}", spread(clusters));
}

/// The most ranges unavailable at once while every node of `region` is down for a few seconds of wall time;
/// the nodes are back after.
fn unavailable_during_outage_of(clusters: &Clusters, region: &str) -> u32 {
    let cockroach = world(clusters).cockroach();
    let down: Vec<_> = cockroach
        .nodes()
        .into_iter()
        .filter(|n| n.live && n.locality.region == region)
        .collect();
    assert!(!down.is_empty(), "{region} has live nodes");
    cockroach.reset_availability();
    for n in &down {
        cockroach.node_stopped(&n.cluster, &n.store);
    }
    std::thread::sleep(Duration::from_secs(1));
    let seen = cockroach.availability().max_unavailable_ranges;
    for n in &down {
        cockroach.node_joined(
            &n.ca,
            (&n.cluster, &n.zone, &n.pod),
            &n.store,
            n.locality.clone(),
        );
    }
    seen
}

/// The SQL statement Secrets left in any emulated cluster.
fn statement_secrets(clusters: &Clusters) -> Vec<String> {
    let secrets = kube_sandbox::resources::resource_type("secrets").unwrap();
    clusters
        .sandbox
        .clusters()
        .iter()
        .flat_map(|c| c.store().list(secrets, None))
        .filter_map(|s| s["metadata"]["name"].as_str().map(str::to_string))
        .filter(|name| name.starts_with("crdb-sql-"))
        .collect()
}

/// Runs SQL as an operator would by hand, straight on the emulated cluster.
pub fn by_hand(clusters: &Clusters, statement: &str) {
    let ca = world(clusters).cockroach().clusters().remove(0).ca;
    let statements = sql::parse_script(statement).unwrap();
    world(clusters)
        .cockroach()
        .with(&ca, |c, now| {
            for s in &statements {
                sql::execute(c, s, now, b"by-hand-salt").unwrap();
            }
        })
        .unwrap();
}

/// Every object of every emulated cluster, and every pod log, as text.
fn everything_in_the_clusters(clusters: &Clusters) -> String {
    let mut out = String::new();
    for cluster in clusters.sandbox.clusters() {
        for rt in kube_sandbox::resources::RESOURCE_TYPES {
            for object in cluster.store().list(rt, None) {
                out.push_str(&object.to_string());
                if rt.plural == "pods" {
                    let ns = object["metadata"]["namespace"].as_str().unwrap_or_default();
                    let name = object["metadata"]["name"].as_str().unwrap_or_default();
                    out.push_str(&world(clusters).pod_log(&cluster.name, ns, name));
                }
            }
        }
    }
    out
}

fn assert_password_nowhere(clusters: &Clusters, outputs: &[&str]) {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(PASSWORD);
    let objects = everything_in_the_clusters(clusters);
    assert!(objects.contains("cockroachdb"), "the objects were listed");
    for secret in [PASSWORD, encoded.as_str()] {
        assert!(
            !objects.contains(secret),
            "the password is in an object or a log of the clusters"
        );
        for (i, output) in outputs.iter().enumerate() {
            assert!(!output.contains(secret), "the password is in output {i}");
        }
    }
}

#[test]
fn a_user_and_a_multiregion_database_whose_survival_goal_moves_its_replicas() {
    let clusters = Clusters::start(&["kube-dns", "coredns", "kube-dns"]);
    let ws = Workspace::new("");
    let kubeconfig = ws.path().join("kubeconfig");
    clusters.sandbox.write_kubeconfig(&kubeconfig).unwrap();
    let log_path = ws.path().join("trace.log");
    let ws = ws
        .with_env("KUBECONFIG", kubeconfig.to_str().unwrap())
        .with_env("TF_LOG", "trace")
        .with_env("TF_LOG_PATH", log_path.to_str().unwrap());
    let base = configuration(&clusters, &ws, false, 3);
    let connection = clusters.connection_block(&ws, SQL_ZONE);
    let regions = r#"  primary_region  = "us-east1"
  regions         = ["us-east1", "us-west1", "europe-west1"]"#;
    let with = |password: &str, database: &str| {
        format!("{base}{}", sql_config(&connection, password, database))
    };

    // Refused by the plan, before any cluster is contacted.
    ws.write_config(&with(
        PASSWORD,
        "  primary_region = \"us-east1\"\n  regions = [\"us-east1\", \"mars\"]",
    ));
    let refused = ws.terraform(&["plan", "-input=false", "-no-color"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("Not a region of the cluster"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("\"mars\""), "{}", refused.stderr);
    ws.write_config(&with(
        PASSWORD,
        "  primary_region = \"us-east1\"\n  regions = [\"us-east1\", \"us-west1\"]\n  survival_goal = \"region\"",
    ));
    let refused = ws.terraform(&["plan", "-input=false", "-no-color"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .stderr
            .contains("Too few regions to survive a region failure"),
        "{}",
        refused.stderr
    );
    assert!(
        world(&clusters).cockroach().clusters().is_empty(),
        "nothing was deployed"
    );

    // A user with a password and the admin role; a database surviving zone failures: its voters in us-east1.
    ws.write_config(&with(
        PASSWORD,
        &format!("{regions}\n  survival_goal = \"zone\""),
    ));
    let applied = ws.apply();
    let app = catalog(&clusters).roles["app"].clone();
    let hash = app.hash.clone().expect("the user has a password");
    assert!(
        scram::verify(&hash, PASSWORD),
        "the stored hash is the password's"
    );
    assert_eq!(catalog(&clusters).member_of("app"), vec!["admin"]);
    until_placed(
        &clusters,
        "zone survival keeps 3 voters in the primary region",
        |s| {
            s.iter()
                .all(|m| m.len() == 1 && m.get("us-east1") == Some(&3))
        },
    );
    ws.assert_plan_empty("creating the user and the database");
    assert!(
        unavailable_during_outage_of(&clusters, "us-east1") > 0,
        "with zone survival, the primary region holds every voter of the database"
    );
    let plan = ws.terraform(&["plan", "-input=false", "-no-color"]);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("crdb_sql_user"),
        "the trace log covers the user"
    );
    assert_password_nowhere(
        &clusters,
        &[
            &applied.stdout,
            &applied.stderr,
            &plan.stdout,
            &plan.stderr,
            &log,
        ],
    );
    let region = ws.resource("crdb_region.us_east1_b");
    assert_eq!(region["sql_address"], "cockroachdb-public.us-east1-b:26257");
    assert_eq!(region["http_address"], "cockroachdb-public.us-east1-b:8080");
    assert!(
        region["connection_url"].as_str().unwrap().starts_with(
            "postgresql://root@cockroachdb-public.us-east1-b:26257/defaultdb?sslmode=verify-full"
        ),
        "{}",
        region["connection_url"]
    );

    // Zone -> region: 5 voters, no region with a majority; then back.
    ws.write_config(&with(
        PASSWORD,
        &format!("{regions}\n  survival_goal = \"region\""),
    ));
    let actions = ws.planned_actions();
    assert!(
        actions.contains(&("crdb_database.shop".to_string(), vec!["update".to_string()])),
        "a survival goal changes in place: {actions:?}"
    );
    ws.apply();
    until_placed(
        &clusters,
        "region survival spreads 5 voters, at most 2 a region",
        |s| {
            s.iter().all(|m| {
                m.values().sum::<usize>() == 5 && m.len() == 3 && m.values().all(|n| *n <= 2)
            })
        },
    );
    ws.assert_plan_empty("surviving region failures");
    assert_eq!(
        unavailable_during_outage_of(&clusters, "us-east1"),
        0,
        "with region survival, every range outlives its primary region"
    );
    ws.write_config(&with(
        PASSWORD,
        &format!("{regions}\n  survival_goal = \"zone\""),
    ));
    ws.apply();
    until_placed(&clusters, "back to zone survival", |s| {
        s.iter()
            .all(|m| m.len() == 1 && m.get("us-east1") == Some(&3))
    });
    ws.assert_plan_empty("surviving zone failures again");

    // A new password changes the user in place; drift by hand shows and is repaired.
    ws.write_config(&with(
        "An0ther-passw0rd",
        &format!("{regions}\n  survival_goal = \"zone\""),
    ));
    ws.apply();
    let rehashed = catalog(&clusters).roles["app"].hash.clone().unwrap();
    assert!(scram::verify(&rehashed, "An0ther-passw0rd") && !scram::verify(&rehashed, PASSWORD));
    ws.write_config(&with(
        PASSWORD,
        &format!("{regions}\n  survival_goal = \"zone\""),
    ));
    ws.apply();
    by_hand(
        &clusters,
        "REVOKE admin FROM app; ALTER DATABASE shop SURVIVE REGION FAILURE",
    );
    let drift = ws.planned_attribute_changes();
    let changed = |address: &str| {
        drift
            .iter()
            .find(|(a, _)| a == address)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    };
    assert_eq!(changed("crdb_sql_user.app"), vec!["roles"]);
    assert_eq!(changed("crdb_database.shop"), vec!["survival_goal"]);
    ws.apply();
    assert_eq!(catalog(&clusters).member_of("app"), vec!["admin"]);
    ws.assert_plan_empty("repairing drift");
    by_hand(&clusters, "DROP USER app");
    let actions = ws.planned_actions();
    assert!(
        actions.contains(&("crdb_sql_user.app".to_string(), vec!["create".to_string()])),
        "a user dropped by hand is created again: {actions:?}"
    );
    ws.apply();
    ws.assert_plan_empty("re-creating the user");

    // Import of both by name through a kubeconfig context.
    for address in ["crdb_sql_user.app", "crdb_database.shop"] {
        ws.terraform(&["state", "rm", "-no-color", address])
            .ok("state rm");
    }
    let id = |name: &str| format!("{SQL_ZONE}/{SQL_ZONE}/{name}");
    ws.terraform(&[
        "import",
        "-input=false",
        "-no-color",
        "crdb_sql_user.app",
        &id("app"),
    ])
    .ok("import");
    ws.terraform(&[
        "import",
        "-input=false",
        "-no-color",
        "crdb_database.shop",
        &id("shop"),
    ])
    .ok("import");
    let user = ws.resource("crdb_sql_user.app");
    assert_eq!(user["roles"], serde_json::json!(["admin"]));
    let db = ws.resource("crdb_database.shop");
    assert_eq!(db["primary_region"], "us-east1");
    assert_eq!(db["survival_goal"], "zone");
    assert_eq!(
        db["regions"],
        serde_json::json!(["europe-west1", "us-east1", "us-west1"])
    );
    for (address, changed) in ws.planned_attribute_changes() {
        let expected: &[&str] = match address.as_str() {
            "crdb_sql_user.app" => &["kubernetes", "password", "timeouts"],
            "crdb_database.shop" => &["cluster_regions", "force_destroy", "kubernetes", "timeouts"],
            _ => &[],
        };
        let unexpected: Vec<&String> = changed
            .iter()
            .filter(|c| !expected.contains(&c.as_str()))
            .collect();
        assert!(
            unexpected.is_empty(),
            "{address} after import changes {unexpected:?}"
        );
    }
    ws.apply();
    ws.assert_plan_empty("import");

    // A database with a table is not destroyed unless told.
    by_hand(&clusters, "CREATE TABLE shop.orders (id INT PRIMARY KEY)");
    let refused = ws.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .stderr
            .contains("is not empty and RESTRICT was specified"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("force_destroy"),
        "{}",
        refused.stderr
    );
    assert!(catalog(&clusters).databases.contains_key("shop"));
    assert_eq!(
        statement_secrets(&clusters),
        Vec::<String>::new(),
        "the statements' Secret goes with the Job, failed or not"
    );

    // The refused destroy dropped the user before it reached the database: an apply brings it back.
    let forced = with(
        PASSWORD,
        &format!("{regions}\n  survival_goal = \"zone\"\n  force_destroy = true"),
    );
    ws.write_config(&forced);
    ws.apply();
    assert!(catalog(&clusters).roles.contains_key("app"));

    // A new name replaces the user: CockroachDB cannot rename one.
    ws.write_config(&forced.replace("name     = \"app\"", "name     = \"app2\""));
    let actions = ws.planned_actions();
    let user_actions = actions
        .iter()
        .find(|(a, _)| a == "crdb_sql_user.app")
        .map(|(_, a)| a.clone())
        .unwrap_or_default();
    assert!(
        user_actions.contains(&"delete".to_string())
            && user_actions.contains(&"create".to_string()),
        "{user_actions:?}"
    );
    ws.apply();
    let roles = catalog(&clusters).roles;
    assert!(
        roles.contains_key("app2") && !roles.contains_key("app"),
        "{roles:?}"
    );
    assert!(scram::verify(
        roles["app2"].hash.as_deref().unwrap(),
        PASSWORD
    ));
    ws.assert_plan_empty("renaming the user, with force_destroy set");
    ws.terraform(&[
        "destroy",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-target=crdb_sql_user.app",
        "-target=crdb_database.shop",
    ])
    .ok("destroy the user and the database");
    let left = catalog(&clusters);
    assert!(!left.roles.contains_key("app2"), "the user was dropped");
    assert!(
        !left.databases.contains_key("shop"),
        "the database was dropped with its table"
    );
    assert_eq!(statement_secrets(&clusters), Vec::<String>::new());
    ws.destroy();
}

/// What a careless configuration meets: built-in names refused by the plan, objects that already exist refused by
/// the create (never adopted, so never dropped by a destroy), a failed grant that leaves no user behind, and a
/// database name holding a comma and quotes read back whole.
#[test]
fn existing_objects_are_never_adopted_and_a_failed_grant_leaves_nothing() {
    let clusters = Clusters::start(&["kube-dns", "coredns", "kube-dns"]);
    let ws = Workspace::new("");
    let base = configuration(&clusters, &ws, false, 1);
    let connection = clusters.connection_block(&ws, SQL_ZONE);
    let user = |key: &str, name: &str, roles: &str| {
        format!(
            "\nresource \"crdb_sql_user\" \"{key}\" {{\n  name  = \"{name}\"\n  roles = {roles}\n  zone  = crdb_region.us_east1_b.zone\n  depends_on = [crdb_dns_link.us_east1_b]\n{connection}}}\n"
        )
    };
    let database = |key: &str, name: &str| {
        format!(
            "\nresource \"crdb_database\" \"{key}\" {{\n  name = \"{name}\"\n  zone = crdb_region.us_east1_b.zone\n  depends_on = [crdb_dns_link.us_east1_b]\n{connection}}}\n"
        )
    };

    ws.write_config(&format!(
        "{base}{}{}",
        user("root", "root", "[]"),
        database("default", "defaultdb")
    ));
    let refused = ws.terraform(&["plan", "-input=false", "-no-color"]);
    assert_ne!(refused.code, 0);
    for expected in ["Invalid user name", "Invalid database name", "defaultdb"] {
        assert!(refused.stderr.contains(expected), "{}", refused.stderr);
    }
    assert!(
        world(&clusters).cockroach().clusters().is_empty(),
        "nothing was deployed"
    );

    let odd = database("odd", r#"a,b \"c\""#);
    ws.write_config(&format!("{base}{odd}"));
    ws.apply();
    assert!(catalog(&clusters).databases.contains_key("a,b \"c\""));
    ws.assert_plan_empty("a database whose name holds a comma and quotes");

    by_hand(
        &clusters,
        "CREATE USER taken; CREATE DATABASE kept; CREATE TABLE kept.t (id INT PRIMARY KEY)",
    );
    let before = catalog(&clusters);
    ws.write_config(&format!(
        "{base}{odd}{}{}{}",
        user("taken", "taken", "[]"),
        database("kept", "kept"),
        user("orphan", "orphan", "[\"admin\", \"ghost\"]")
    ));
    let failed = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(failed.code, 0);
    for expected in [
        "The SQL user \"taken\" already exists",
        "The database \"kept\" already exists",
        "terraform import crdb_sql_user",
        "role/user \"ghost\" does not exist",
    ] {
        assert!(
            failed.stderr.contains(expected),
            "{expected}: {}",
            failed.stderr
        );
    }
    assert_eq!(
        catalog(&clusters),
        before,
        "nothing was adopted, and the user whose grant failed was rolled back"
    );
    let state = ws.terraform(&["state", "list"]).ok("state list").stdout;
    for address in [
        "crdb_sql_user.taken",
        "crdb_database.kept",
        "crdb_sql_user.orphan",
    ] {
        assert!(!state.contains(address), "{address} in state: {state}");
    }

    ws.write_config(&format!("{base}{odd}"));
    ws.terraform(&[
        "destroy",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-target=crdb_database.odd",
    ])
    .ok("destroy the database");
    let left = catalog(&clusters);
    assert!(
        !left.databases.contains_key("a,b \"c\""),
        "the database was dropped"
    );
    assert!(
        left.roles.contains_key("taken") && left.databases["kept"].tables.contains("t"),
        "what existed before is left as it was"
    );
    ws.destroy();
}
