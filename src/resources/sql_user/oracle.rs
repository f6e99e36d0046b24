//! `crdb_sql_user` under arbitrary names, roles and passwords, with the sandbox's catalog as the oracle: what the
//! plan accepts is created exactly (the user, its password, its roles and nothing else) or not at all, reads back
//! as planned, and is dropped without a trace; a user that was already there is never adopted.
use super::model::SqlUserModel;
use super::{apply, plan, read};
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use crate::resources::sql_oracle::{cases, Oracle};
use proptest::prelude::*;

fn name() -> BoxedStrategy<String> {
    let awkward = [
        "app",
        "existing",
        "root",
        "admin",
        "public",
        "node",
        "none",
        "pg_app",
        "crdb_internal_x",
        "App",
        "a\"b",
        "a,b",
        "a\nb",
        "a b",
        "-a",
        "_a.b-c",
        "é",
        "",
    ];
    prop_oneof![
        3 => proptest::sample::select(awkward.to_vec()).prop_map(str::to_string),
        3 => "[a-z_][a-z0-9_.-]{0,12}",
        1 => proptest::collection::vec(
            proptest::sample::select("ab_-.Z\"', \n\u{0}é1".chars().collect::<Vec<_>>()),
            0..66
        )
        .prop_map(String::from_iter),
    ]
    .boxed()
}

fn roles() -> BoxedStrategy<Vec<Attr<String>>> {
    let role = prop_oneof![
        4 => proptest::sample::select(vec!["admin", "existing", "app"]).prop_map(|r| Attr::Known(r.to_string())),
        4 => name().prop_map(Attr::Known),
        1 => Just(Attr::Null),
    ];
    proptest::collection::vec(role, 0..4).boxed()
}

fn password() -> BoxedStrategy<Option<String>> {
    proptest::option::of(prop_oneof![
        Just("s3cret".to_string()),
        Just("it's \"quoted\", \\ and ;".to_string()),
        Just("nul\u{0}byte".to_string()),
        Just(String::new()),
        "\\PC{0,12}",
    ])
    .boxed()
}

fn accepted(config: &SqlUserModel) -> bool {
    !Diagnostics::of_check(|diags| plan::validate(config, diags)).has_errors()
}

/// The catalog without `user`: its role and every grant it is part of.
fn without(
    mut catalog: kube_sandbox::cockroach::sql::Catalog,
    user: &str,
) -> kube_sandbox::cockroach::sql::Catalog {
    catalog.roles.remove(user);
    catalog
        .grants
        .retain(|(role, member), _| role != user && member != user);
    catalog
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn what_the_plan_accepts_is_created_exactly_read_back_and_dropped_without_a_trace(
        name in name(),
        roles in roles(),
        password in password(),
    ) {
        let config = SqlUserModel {
            name: Attr::Known(name.clone()),
            password: password.map_or(Attr::Null, Attr::Known),
            roles: Attr::Known(roles),
            zone: Attr::Known("r1-a".into()),
            kubernetes: Attr::Unknown,
            ..Default::default()
        };
        if !accepted(&config) {
            return Ok(());
        }
        let mut planned = config.clone();
        plan::plan(&mut planned);
        let mut oracle = Oracle::new();
        let before = oracle.catalog();
        let script = apply::script(None, &planned).expect("a salt");
        let (code, out) = oracle.run(&script);
        if code != 0 {
            // Refused by CockroachDB (a user already there, a role that does not exist): nothing changed, so
            // nothing is missing from a state that records nothing.
            prop_assert_eq!(oracle.catalog(), before.clone(), "a failed create changed the catalog: {}", out);
            prop_assert!(before.roles.contains_key(&name) || planned.role_set().iter().any(|r| !before.roles.contains_key(r)),
                "CockroachDB refused a user the plan accepted and nothing explains: {}", out);
            return Ok(());
        }
        let after = oracle.catalog();
        prop_assert!(!before.roles.contains_key(&name), "{name:?} existed and was adopted");
        prop_assert_eq!(without(after.clone(), &name), before.clone(), "more than the user changed");
        let role = &after.roles[&name];
        prop_assert!(role.login);
        prop_assert_eq!(role.hash.is_some(), planned.password.known().is_some());
        let granted: std::collections::BTreeSet<String> = after
            .grants
            .keys()
            .filter(|(_, member)| member == &name)
            .map(|(role, _)| role.clone())
            .collect();
        prop_assert_eq!(&granted, &planned.role_set());
        let read = read::fold(planned.clone(), &oracle.snapshot());
        prop_assert!(read.is_some(), "the read does not find {name:?}");
        let read = read.unwrap();
        prop_assert_eq!(read.user(), name.clone());
        prop_assert_eq!(read.role_set(), planned.role_set(), "the plan after apply is not empty");
        let (code, out) = oracle.run(&plan::drop_script(&planned));
        prop_assert_eq!(code, 0, "{}", out);
        prop_assert_eq!(oracle.catalog(), before, "the destroy left a trace or dropped more");
    }
}
