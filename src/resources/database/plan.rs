//! Validation of `crdb_database`, its plan, and the statements each change runs: pure.
use super::model::{DatabaseModel, SURVIVAL_GOALS, SURVIVAL_REGION, SURVIVAL_ZONE};
use crate::cockroach::sql::names;
use crate::cockroach::sql::quote::ident;
use crate::cockroach::validate;
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::{timeouts, Attr};
use crate::resources::connection;
use std::collections::BTreeSet;

/// CockroachDB's minimum for a region survival goal.
pub const MIN_REGIONS_FOR_REGION_SURVIVAL: usize = 3;

pub(super) fn validate(config: &DatabaseModel, diags: &mut Diagnostics) {
    diags.check_known(&config.name, "name", "Invalid database name", |n| {
        names::database_name(n)
    });
    for (attribute, list) in [
        ("regions", &config.regions),
        ("cluster_regions", &config.cluster_regions),
    ] {
        if list
            .known()
            .is_some_and(|items| items.iter().any(Attr::is_null))
        {
            diags.attribute_error(
                AttributePath::root(attribute),
                "Null region",
                format!("Every element of `{attribute}` must name a region; remove the null one."),
            );
        }
    }
    diags.check_known(
        &config.survival_goal,
        "survival_goal",
        "Invalid survival goal",
        |g| validate::one_of(g, &SURVIVAL_GOALS),
    );
    diags.check_known(&config.zone, "zone", "Invalid zone", |z| {
        validate::zone_name(z)
    });
    check_regions(config, diags);
    timeouts::validate(&config.timeouts, diags);
    connection::validate(&config.kubernetes, diags);
}

/// The region rules CockroachDB applies, checked before any Job runs: at validation when the values are
/// literals, at plan when they come from other resources; a value still unknown waits for apply.
pub(super) fn check_regions(config: &DatabaseModel, diags: &mut Diagnostics) {
    if config.primary_region.is_unknown()
        || (!config.regions.is_null() && config.regions.known_items().is_none())
    {
        return;
    }
    let listed: BTreeSet<String> = config
        .regions
        .known_items()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let primary = config.primary();
    // Each refusal goes on an attribute the user wrote, so that Terraform shows it on that line.
    if primary.is_none() && !listed.is_empty() {
        diags.attribute_error(
            AttributePath::root("regions"),
            "Regions without a primary region",
            "A multi-region database needs `primary_region`; CockroachDB refuses REGIONS without it.",
        );
    }
    if let Some(p) = primary {
        if !config.regions.is_null() && !listed.contains(p) {
            diags.attribute_error(
                AttributePath::root("regions"),
                "The primary region is not among the regions",
                format!("`regions` lists every region of the database: add {p:?} to it."),
            );
        }
    }
    let all = config.region_set();
    if config.survives_regions() {
        if primary.is_none() {
            diags.attribute_error(
                AttributePath::root("survival_goal"),
                "Region survival needs regions",
                "Only a multi-region database has a survival goal: set `primary_region` and `regions`.",
            );
        } else if all.len() < MIN_REGIONS_FOR_REGION_SURVIVAL {
            diags.attribute_error(
                AttributePath::root("survival_goal"),
                "Too few regions to survive a region failure",
                format!(
                    "At least {MIN_REGIONS_FOR_REGION_SURVIVAL} regions are required for surviving a region failure \
                     (CockroachDB's rule: a majority of the voters must outlive any one region); the database has \
                     {}. Add regions or use survival_goal = \"zone\".",
                    all.len()
                ),
            );
        }
    }
    if let Some(cluster) = config.cluster_regions.known_items() {
        let cluster: BTreeSet<&String> = cluster.iter().collect();
        for region in all.iter().filter(|r| !cluster.contains(r)) {
            let valid: Vec<&str> = cluster.iter().map(|r| r.as_str()).collect();
            let valid = if valid.is_empty() {
                "`cluster_regions` is empty".to_string()
            } else {
                format!("valid regions: {}", valid.join(", "))
            };
            let blamed = if cluster.is_empty() {
                "cluster_regions"
            } else if listed.contains(region) {
                "regions"
            } else {
                "primary_region"
            };
            diags.attribute_error(
                AttributePath::root(blamed),
                "Not a region of the cluster",
                format!(
                    "{region:?} is not the region of any of the cluster's zones ({valid}). A database region must \
                     hold nodes."
                ),
            );
        }
    }
}

pub(super) fn plan(config: &DatabaseModel, planned: &mut DatabaseModel, diags: &mut Diagnostics) {
    check_regions(config, diags);
    planned.id = planned.name.clone();
    if config.regions.is_null() {
        planned.regions = match &planned.primary_region {
            Attr::Known(p) => Attr::from_items([p.clone()]),
            Attr::Null => Attr::from_items([]),
            Attr::Unknown => Attr::Unknown,
        };
    }
}

fn survive(goal: &str) -> &'static str {
    if goal == SURVIVAL_REGION {
        "SURVIVE REGION FAILURE"
    } else {
        "SURVIVE ZONE FAILURE"
    }
}

fn goal_of(m: &DatabaseModel) -> &str {
    m.survival_goal
        .known()
        .map(String::as_str)
        .unwrap_or(SURVIVAL_ZONE)
}

/// `CREATE DATABASE` with every region and the goal at once. Never `IF NOT EXISTS`: a database that is already
/// there is refused by CockroachDB, and the create says so, rather than adopted (and dropped at destroy).
pub(super) fn create_script(planned: &DatabaseModel) -> String {
    let name = ident(&planned.database());
    let Some(primary) = planned.primary() else {
        return format!("CREATE DATABASE {name};");
    };
    let others: Vec<String> = planned
        .region_set()
        .into_iter()
        .filter(|r| r != primary)
        .map(|r| ident(&r))
        .collect();
    let regions = if others.is_empty() {
        String::new()
    } else {
        format!(" REGIONS {}", others.join(", "))
    };
    format!(
        "CREATE DATABASE {name} PRIMARY REGION {}{regions} {};",
        ident(primary),
        survive(goal_of(planned))
    )
}

/// The `ALTER DATABASE` statements from `prior` to `planned`, in the order CockroachDB accepts at every step:
/// regions are added before a goal that needs them and dropped after a goal that no longer does; the primary
/// region moves before the old one is dropped, and goes last when the database stops being multi-region.
pub(super) fn update_script(prior: &DatabaseModel, planned: &DatabaseModel) -> String {
    let name = ident(&planned.database());
    let alter = |what: String| format!("ALTER DATABASE {name} {what};");
    let (before, after) = (prior.region_set(), planned.region_set());
    let mut out = Vec::new();
    let was_multi_region = prior.primary().is_some();
    if let Some(p) = planned.primary() {
        if !was_multi_region {
            out.push(alter(format!("PRIMARY REGION {}", ident(p))));
        }
        for r in after.difference(&before).filter(|r| *r != p) {
            out.push(alter(format!("ADD REGION IF NOT EXISTS {}", ident(r))));
        }
        if was_multi_region && prior.primary() != Some(p) {
            if !before.contains(p) {
                out.push(alter(format!("ADD REGION IF NOT EXISTS {}", ident(p))));
            }
            out.push(alter(format!("SET PRIMARY REGION {}", ident(p))));
        }
    }
    let goal_changes = goal_of(prior) != goal_of(planned);
    if planned.primary().is_some() && goal_changes {
        out.push(alter(survive(goal_of(planned)).to_string()));
    } else if planned.primary().is_none() && was_multi_region && goal_of(prior) == SURVIVAL_REGION {
        out.push(alter(survive(SURVIVAL_ZONE).to_string()));
    }
    let dropped_primary = prior.primary().filter(|p| !after.contains(*p));
    for r in before
        .difference(&after)
        .filter(|r| Some(*r) != dropped_primary)
    {
        out.push(alter(format!("DROP REGION IF EXISTS {}", ident(r))));
    }
    if let Some(p) = dropped_primary {
        out.push(alter(format!("DROP REGION IF EXISTS {}", ident(p))));
    }
    out.join("\n")
}

pub(super) fn drop_script(state: &DatabaseModel) -> String {
    let behaviour = if state.force_destroy.known() == Some(&true) {
        "CASCADE"
    } else {
        "RESTRICT"
    };
    format!(
        "DROP DATABASE IF EXISTS {} {behaviour};",
        ident(&state.database())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(primary: Option<&str>, regions: &[&str], goal: &str) -> DatabaseModel {
        DatabaseModel {
            name: Attr::Known("shop".into()),
            primary_region: primary.map_or(Attr::Null, |p| Attr::Known(p.into())),
            regions: Attr::from_items(regions.iter().map(|r| r.to_string())),
            survival_goal: Attr::Known(goal.into()),
            zone: Attr::Known("us-east1-b".into()),
            // The connection is checked on its own (connection::validate); unknown waits for apply.
            kubernetes: Attr::Unknown,
            ..Default::default()
        }
    }

    fn errors(m: &DatabaseModel) -> String {
        let mut diags = Diagnostics::new();
        validate(m, &mut diags);
        format!("{diags:?}")
    }

    #[test]
    fn region_rules_are_checked_at_plan_time() {
        assert!(!errors(&db(Some("a"), &["a", "b", "c"], "region")).contains("summary"));
        assert!(errors(&db(Some("a"), &["a", "b"], "region")).contains("Too few regions"));
        assert!(errors(&db(Some("a"), &["b", "c"], "zone")).contains("not among the regions"));
        assert!(errors(&db(None, &["b"], "zone")).contains("without a primary region"));
        assert!(errors(&db(None, &[], "region")).contains("Region survival needs regions"));
        assert!(errors(&db(Some("a"), &["a"], "sometimes")).contains("Invalid survival goal"));
        let mut outside = db(Some("a"), &["a", "mars"], "zone");
        outside.cluster_regions = Attr::from_items(["a", "b"].map(String::from));
        let text = errors(&outside);
        assert!(text.contains("\\\"mars\\\" is not the region"), "{text}");
        assert!(!text.contains("\\\"a\\\" is not the region"), "{text}");
        assert!(
            errors(&db(Some("a"), &[], "zone")).contains("not among the regions"),
            "an empty list would never match the read-back [primary]"
        );
        assert!(!errors(&db(None, &[], "zone")).contains("summary"));
        let mut with_null = db(Some("a"), &["a"], "zone");
        with_null.regions = Attr::Known(vec![Attr::Known("a".into()), Attr::Null]);
        assert!(errors(&with_null).contains("Null region"));
        for reserved in ["defaultdb", "postgres", "system", "pg_catalog", "a\nb"] {
            let mut named = db(None, &[], "zone");
            named.name = Attr::Known(reserved.into());
            let mut diags = Diagnostics::new();
            validate(&named, &mut diags);
            assert_eq!(diags.attribute_paths(), ["name"], "{reserved:?}");
        }
        let blamed = |m: &DatabaseModel| {
            let mut diags = Diagnostics::new();
            validate(m, &mut diags);
            diags.attribute_paths()
        };
        assert_eq!(blamed(&db(None, &["b"], "zone")), ["regions"]);
        let mut primary_outside = db(Some("mars"), &[], "zone");
        primary_outside.regions = Attr::Null;
        primary_outside.cluster_regions = Attr::from_items(["a".to_string()]);
        assert_eq!(blamed(&primary_outside), ["primary_region"]);
        primary_outside.cluster_regions = Attr::from_items([]);
        assert_eq!(blamed(&primary_outside), ["cluster_regions"]);
        let mut unknown = db(Some("a"), &["a", "b"], "region");
        unknown.regions = Attr::Unknown;
        assert!(
            !errors(&unknown).contains("Too few"),
            "unknown regions wait for apply"
        );
    }

    #[test]
    fn a_create_states_every_region_and_the_goal() {
        assert_eq!(
            create_script(&db(Some("a"), &["c", "a", "b"], "region")),
            "CREATE DATABASE \"shop\" PRIMARY REGION \"a\" REGIONS \"b\", \"c\" SURVIVE REGION FAILURE;"
        );
        assert_eq!(
            create_script(&db(None, &[], "zone")),
            "CREATE DATABASE \"shop\";"
        );
        let mut planned = db(Some("a"), &[], "zone");
        planned.regions = Attr::Null;
        plan(&planned.clone(), &mut planned, &mut Diagnostics::new());
        assert_eq!(planned.regions, Attr::from_items(["a".to_string()]));
    }

    #[test]
    fn updates_order_regions_around_the_goal() {
        let zone2 = db(Some("a"), &["a", "b"], "zone");
        let region3 = db(Some("a"), &["a", "b", "c"], "region");
        assert_eq!(
            update_script(&zone2, &region3),
            "ALTER DATABASE \"shop\" ADD REGION IF NOT EXISTS \"c\";\nALTER DATABASE \"shop\" SURVIVE REGION FAILURE;"
        );
        assert_eq!(
            update_script(&region3, &zone2),
            "ALTER DATABASE \"shop\" SURVIVE ZONE FAILURE;\nALTER DATABASE \"shop\" DROP REGION IF EXISTS \"c\";"
        );
        assert_eq!(
            update_script(&zone2, &db(Some("b"), &["b"], "zone")),
            "ALTER DATABASE \"shop\" SET PRIMARY REGION \"b\";\nALTER DATABASE \"shop\" DROP REGION IF EXISTS \"a\";"
        );
        assert_eq!(
            update_script(&db(None, &[], "zone"), &zone2),
            "ALTER DATABASE \"shop\" PRIMARY REGION \"a\";\nALTER DATABASE \"shop\" ADD REGION IF NOT EXISTS \"b\";"
        );
        assert_eq!(
            update_script(&region3, &db(None, &[], "zone")),
            "ALTER DATABASE \"shop\" SURVIVE ZONE FAILURE;\nALTER DATABASE \"shop\" DROP REGION IF EXISTS \"b\";\nALTER DATABASE \"shop\" DROP REGION IF EXISTS \"c\";\nALTER DATABASE \"shop\" DROP REGION IF EXISTS \"a\";"
        );
        assert_eq!(update_script(&zone2, &zone2), "");
    }

    #[test]
    fn destroy_refuses_tables_unless_forced() {
        let mut m = db(None, &[], "zone");
        assert_eq!(
            drop_script(&m),
            "DROP DATABASE IF EXISTS \"shop\" RESTRICT;"
        );
        m.force_destroy = Attr::Known(true);
        assert_eq!(drop_script(&m), "DROP DATABASE IF EXISTS \"shop\" CASCADE;");
    }
}
