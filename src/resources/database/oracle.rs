//! `crdb_database` under arbitrary names, regions and survival goals, with the sandbox's catalog as the oracle:
//! what the plan accepts is created exactly or not at all (an existing database is never adopted), every region
//! change the plan accepts applies and reads back as planned, and the destroy drops that database alone.
use super::model::{DatabaseModel, SURVIVAL_ZONE};
use super::{plan, read};
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use crate::resources::sql_oracle::{cases, Oracle, REGIONS};
use proptest::prelude::*;

fn name() -> BoxedStrategy<String> {
    let awkward = [
        "shop",
        "orders",
        "defaultdb",
        "postgres",
        "system",
        "information_schema",
        "pg_catalog",
        "crdb_internal",
        "Orders",
        "a\"b",
        "a,b",
        "a\nb",
        "a b",
        "é",
        "",
    ];
    prop_oneof![
        3 => proptest::sample::select(awkward.to_vec()).prop_map(str::to_string),
        3 => "[a-z_][a-z0-9_]{0,12}",
        1 => proptest::collection::vec(
            proptest::sample::select("ab_-.Z\"', \n\u{0}é1".chars().collect::<Vec<_>>()),
            0..66
        )
        .prop_map(String::from_iter),
    ]
    .boxed()
}

fn region() -> BoxedStrategy<Attr<String>> {
    prop_oneof![
        12 => proptest::sample::select(vec!["r1", "r2", "r3"]).prop_map(|r| Attr::Known(r.to_string())),
        1 => proptest::sample::select(vec!["r4", "", "R1"]).prop_map(|r| Attr::Known(r.to_string())),
        1 => Just(Attr::Null),
    ]
    .boxed()
}

/// Where a database's data lives: (primary region, regions, survival goal).
type Placement = (Attr<String>, Attr<Vec<Attr<String>>>, Attr<String>);

fn placement() -> BoxedStrategy<Placement> {
    let primary = prop_oneof![2 => region(), 1 => Just(Attr::Null)];
    let regions = prop_oneof![
        2 => proptest::collection::vec(region(), 0..4).prop_map(Attr::Known),
        1 => Just(Attr::Null),
    ];
    let goal = proptest::sample::select(vec![None, Some("zone"), Some("region"), Some("bad")])
        .prop_map(|g| g.map_or(Attr::Null, |g| Attr::Known(g.to_string())));
    (primary, regions, goal).boxed()
}

fn config(name: &str, (primary, regions, goal): Placement) -> DatabaseModel {
    DatabaseModel {
        name: Attr::Known(name.to_string()),
        primary_region: primary,
        regions,
        survival_goal: goal,
        cluster_regions: Attr::from_items(REGIONS.map(String::from)),
        force_destroy: Attr::Known(false),
        zone: Attr::Known("r1-a".into()),
        kubernetes: Attr::Unknown,
        ..Default::default()
    }
}

/// The planned model, or None when the plan refuses the configuration.
fn planned(config: &DatabaseModel) -> Option<DatabaseModel> {
    let mut planned = config.clone();
    let diags = Diagnostics::of_check(|diags| {
        plan::validate(config, diags);
        plan::plan(config, &mut planned, diags);
    });
    (!diags.has_errors()).then_some(planned)
}

fn goal(m: &DatabaseModel) -> String {
    m.survival_goal
        .known()
        .cloned()
        .unwrap_or_else(|| SURVIVAL_ZONE.to_string())
}

/// The database as a read finds it, compared with `planned` where the plan after apply would show a change.
fn reads_as_planned(oracle: &mut Oracle, planned: &DatabaseModel) -> Result<(), TestCaseError> {
    let read = read::fold(planned.clone(), &oracle.snapshot());
    prop_assert!(
        read.is_some(),
        "the read does not find {:?}",
        planned.database()
    );
    let read = read.unwrap();
    prop_assert_eq!(read.primary(), planned.primary());
    prop_assert_eq!(read.region_set(), planned.region_set());
    if planned.primary().is_some() {
        prop_assert_eq!(goal(&read), goal(planned));
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn what_the_plan_accepts_is_created_changed_and_dropped_exactly(
        name in name(),
        first in placement(),
        second in placement(),
    ) {
        let Some(created) = planned(&config(&name, first)) else {
            return Ok(());
        };
        let mut oracle = Oracle::new();
        let before = oracle.catalog();
        let (code, out) = oracle.run(&plan::create_script(&created));
        if code != 0 {
            prop_assert_eq!(oracle.catalog(), before.clone(), "a failed create changed the catalog: {}", out);
            prop_assert!(before.databases.contains_key(&name),
                "CockroachDB refused a database the plan accepted: {}", out);
            return Ok(());
        }
        prop_assert!(!before.databases.contains_key(&name), "{name:?} existed and was adopted");
        let mut others = oracle.catalog();
        others.databases.remove(&name);
        prop_assert_eq!(&others, &before, "more than the database changed");
        reads_as_planned(&mut oracle, &created)?;
        let mut state = created;
        if let Some(changed) = planned(&config(&name, second)) {
            let (code, out) = oracle.run(&plan::update_script(&state, &changed));
            prop_assert_eq!(code, 0, "a change the plan accepted failed: {}", out);
            reads_as_planned(&mut oracle, &changed)?;
            state = changed;
        }
        let (code, out) = oracle.run(&plan::drop_script(&state));
        prop_assert_eq!(code, 0, "{}", out);
        prop_assert_eq!(oracle.catalog(), before, "the destroy left a trace or dropped more");
    }
}
