//! Validation of `crdb_sql_user` and the statements each change runs: pure.
use super::model::SqlUserModel;
use crate::cockroach::sql::{names, quote};
use crate::cockroach::validate;
use crate::cockroach::validate::{refuse, Invalid};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::{timeouts, Attr};
use crate::resources::connection;

pub(super) fn validate(config: &SqlUserModel, diags: &mut Diagnostics) {
    diags.check_known(&config.name, "name", "Invalid user name", |n| {
        names::user_name(n)
    });
    if let Attr::Known(roles) = &config.roles {
        let path = || AttributePath::root("roles");
        for role in roles {
            match role {
                Attr::Null => diags.attribute_error(
                    path(),
                    "Null role",
                    "Every element of `roles` must name a role; remove the null one.",
                ),
                Attr::Unknown => {}
                Attr::Known(role) => {
                    if let Err(why) = names::member_role(role) {
                        diags.attribute_error(path(), "Invalid role name", why);
                    } else if config.name.known() == Some(role) {
                        diags.attribute_error(
                            path(),
                            "A user in its own roles",
                            format!(
                                "{role:?} cannot be a member of itself: remove it from `roles`."
                            ),
                        );
                    }
                }
            }
        }
    }
    for (password, name) in [
        (&config.password, "password"),
        (&config.password_wo, "password_wo"),
    ] {
        diags.check_known(password, name, "Invalid password", |p| {
            password_rule(p, name)
        });
    }
    validate_write_only_password(config, diags);
    diags.check_known(&config.zone, "zone", "Invalid zone", |z| {
        validate::zone_name(z)
    });
    timeouts::validate(&config.timeouts, diags);
    connection::validate(&config.kubernetes, diags);
}

/// `password_wo` is one of two ways to give the password, and needs a version to say when it changed.
fn validate_write_only_password(config: &SqlUserModel, diags: &mut Diagnostics) {
    if config.password_wo.is_null() {
        return;
    }
    if !config.password.is_null() {
        diags.attribute_error(
            AttributePath::root("password_wo"),
            "Two passwords",
            "`password` and `password_wo` both set the user's password: keep `password_wo` (never stored) and \
             remove `password`.",
        );
    }
    if config.password_wo_version.is_null() {
        diags.attribute_error(
            AttributePath::root("password_wo_version"),
            "Missing password version",
            "`password_wo` is never stored, so a later change of it cannot be seen: set `password_wo_version` \
             (for example `1`) and change it whenever `password_wo` changes.",
        );
    }
    diags.check_known(
        &config.password_wo_version,
        "password_wo_version",
        "Invalid password version",
        |v| {
            non_empty(
                v,
                "an empty version is not allowed; use for example `1`".into(),
            )
        },
    );
}

/// A password CockroachDB can be given and a client can log in with.
fn password_rule(password: &str, name: &str) -> Result<(), Invalid> {
    non_empty(
        password,
        format!(
            "an empty password is not allowed; leave `{name}` unset for certificate logins only"
        ),
    )?;
    if password.contains('\0') {
        return refuse("the password contains a NUL character, which no SQL client can send");
    }
    Ok(())
}

fn non_empty(text: &str, refusal: String) -> Result<(), Invalid> {
    if text.is_empty() {
        refuse(refusal)
    } else {
        Ok(())
    }
}

pub(super) fn plan(planned: &mut SqlUserModel) {
    planned.id = planned.name.clone();
}

/// What a change does to the password: `Some(Some(password))` sets it, `Some(None)` removes it, `None` keeps it.
/// The password is `password`, else `password_wo` (only ever present while applying); it is set on a create,
/// when `password` changes, and when `password_wo_version` changes (`password_wo` itself is never stored, so
/// its version is the only sign of a change).
pub(super) fn password_change(
    prior: Option<&SqlUserModel>,
    planned: &SqlUserModel,
) -> Option<Option<String>> {
    let wanted = planned.password.known().or(planned.password_wo.known());
    let changed = match prior {
        None => true,
        Some(prior) => {
            prior.password.known() != planned.password.known()
                || prior.password_wo_version.known() != planned.password_wo_version.known()
        }
    };
    changed.then(|| wanted.cloned())
}

/// The statements that bring the user from `prior` (nothing for a create) to `planned`; `hash` is the SCRAM hash
/// of the planned password when [`password_change`] sets one. They run as one transaction, so that a failed grant
/// leaves the user as it was (for a create: not there, nothing to record). A create never adopts a user that
/// already exists: CockroachDB refuses `CREATE USER` then, and the create says so (`sql_object`).
pub(super) fn script(
    prior: Option<&SqlUserModel>,
    planned: &SqlUserModel,
    password: Option<Option<&str>>,
) -> String {
    let user = quote::ident(&planned.user());
    let mut out = Vec::new();
    if prior.is_none() {
        out.push(format!("CREATE USER {user};"));
    }
    match password {
        Some(Some(hash)) => out.push(format!(
            "ALTER USER {user} WITH PASSWORD {};",
            quote::literal(hash)
        )),
        Some(None) => out.push(format!("ALTER USER {user} WITH PASSWORD NULL;")),
        None => {}
    }
    let before = prior.map(SqlUserModel::role_set).unwrap_or_default();
    let after = planned.role_set();
    for role in after.difference(&before) {
        out.push(format!("GRANT {} TO {user};", quote::ident(role)));
    }
    for role in before.difference(&after) {
        out.push(format!("REVOKE {} FROM {user};", quote::ident(role)));
    }
    if out.is_empty() {
        return String::new();
    }
    format!("BEGIN;\n{}\nCOMMIT;", out.join("\n"))
}

pub(super) fn drop_script(state: &SqlUserModel) -> String {
    format!("DROP USER IF EXISTS {};", quote::ident(&state.user()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(password: Option<&str>, roles: &[&str]) -> SqlUserModel {
        SqlUserModel {
            name: Attr::Known("app".into()),
            password: password.map_or(Attr::Null, |p| Attr::Known(p.into())),
            roles: Attr::from_items(roles.iter().map(|r| r.to_string())),
            ..Default::default()
        }
    }

    #[test]
    fn a_create_makes_the_user_sets_the_hash_and_grants_its_roles() {
        let planned = user(Some("pw"), &["admin"]);
        let change = password_change(None, &planned);
        assert_eq!(change, Some(Some("pw".to_string())));
        assert_eq!(
            script(None, &planned, Some(Some("SCRAM-SHA-256$1:c2FsdA==$a:b"))),
            "BEGIN;\nCREATE USER \"app\";\nALTER USER \"app\" WITH PASSWORD 'SCRAM-SHA-256$1:c2FsdA==$a:b';\nGRANT \"admin\" TO \"app\";\nCOMMIT;"
        );
        assert_eq!(
            script(
                None,
                &user(None, &[]),
                password_change(None, &user(None, &[])).map(|_| None)
            ),
            "BEGIN;\nCREATE USER \"app\";\nALTER USER \"app\" WITH PASSWORD NULL;\nCOMMIT;"
        );
    }

    #[test]
    fn an_update_touches_only_what_changed() {
        let prior = user(Some("pw"), &["admin", "ops"]);
        let same = user(Some("pw"), &["ops", "admin"]);
        assert_eq!(password_change(Some(&prior), &same), None);
        assert_eq!(script(Some(&prior), &same, None), "");
        let planned = user(None, &["ops", "dev"]);
        assert_eq!(password_change(Some(&prior), &planned), Some(None));
        assert_eq!(
            script(Some(&prior), &planned, Some(None)),
            "BEGIN;\nALTER USER \"app\" WITH PASSWORD NULL;\nGRANT \"dev\" TO \"app\";\nREVOKE \"admin\" FROM \"app\";\nCOMMIT;"
        );
        assert_eq!(drop_script(&prior), "DROP USER IF EXISTS \"app\";");
    }

    fn write_only(password_wo: Option<&str>, version: Option<&str>) -> SqlUserModel {
        SqlUserModel {
            password_wo: password_wo.map_or(Attr::Null, |p| Attr::Known(p.into())),
            password_wo_version: version.map_or(Attr::Null, |v| Attr::Known(v.into())),
            ..user(None, &[])
        }
    }

    #[test]
    fn a_write_only_password_is_set_on_create_and_again_only_when_its_version_changes() {
        let v1 = write_only(Some("first"), Some("1"));
        assert_eq!(password_change(None, &v1), Some(Some("first".into())));
        // The state never holds the password: what the prior has of it is its version.
        let stored = write_only(None, Some("1"));
        assert_eq!(password_change(Some(&stored), &v1), None);
        assert_eq!(
            password_change(Some(&stored), &write_only(Some("second"), Some("1"))),
            None,
            "a new password under the same version is not seen"
        );
        let v2 = write_only(Some("second"), Some("2"));
        assert_eq!(
            password_change(Some(&stored), &v2),
            Some(Some("second".into()))
        );
        assert_eq!(
            script(Some(&stored), &v2, Some(Some("SCRAM-SHA-256$h"))),
            "BEGIN;\nALTER USER \"app\" WITH PASSWORD 'SCRAM-SHA-256$h';\nCOMMIT;",
            "the user is changed in place"
        );
        assert_eq!(
            password_change(Some(&stored), &write_only(None, None)),
            Some(None),
            "removing it and its version removes the password"
        );
    }

    #[test]
    fn moving_from_password_to_password_wo_sets_it_once_and_back_sets_the_plain_one() {
        let plain = user(Some("pw"), &[]);
        let moved = write_only(Some("pw"), Some("1"));
        assert_eq!(
            password_change(Some(&plain), &moved),
            Some(Some("pw".into()))
        );
        let stored = write_only(None, Some("1"));
        assert_eq!(
            password_change(Some(&stored), &plain),
            Some(Some("pw".into()))
        );
    }

    fn password_errors(config: &SqlUserModel) -> Vec<(String, String)> {
        let mut config = config.clone();
        config.kubernetes = Attr::Unknown;
        let mut diags = Diagnostics::new();
        validate(&config, &mut diags);
        diags
            .0
            .iter()
            .map(|d| {
                let path = d.path.as_ref().map(|p| p.to_string()).unwrap_or_default();
                (path, d.summary.clone())
            })
            .collect()
    }

    #[test]
    fn password_wo_conflicts_with_password_and_needs_a_version_on_its_attributes() {
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(password_errors(&write_only(Some("pw"), Some("1"))), []);
        let mut both = write_only(Some("pw"), Some("1"));
        both.password = Attr::Known("other".into());
        assert_eq!(
            password_errors(&both),
            [pair("password_wo", "Two passwords")]
        );
        assert_eq!(
            password_errors(&write_only(Some("pw"), None)),
            [pair("password_wo_version", "Missing password version")]
        );
        // From another resource: known at apply, when the checks run again.
        let mut unknown = write_only(None, Some("1"));
        unknown.password_wo = Attr::Unknown;
        assert_eq!(password_errors(&unknown), []);
        unknown.password_wo_version = Attr::Null;
        assert_eq!(
            password_errors(&unknown),
            [pair("password_wo_version", "Missing password version")]
        );
        assert_eq!(
            password_errors(&write_only(Some("pass\0word"), Some("1"))),
            [pair("password_wo", "Invalid password")]
        );
        assert_eq!(
            password_errors(&write_only(Some(""), Some(""))),
            [
                pair("password_wo", "Invalid password"),
                pair("password_wo_version", "Invalid password version")
            ]
        );
    }

    #[test]
    fn names_and_passwords_are_checked() {
        let mut diags = Diagnostics::new();
        let mut bad = user(Some(""), &["Admin"]);
        bad.name = Attr::Known("App".into());
        bad.zone = Attr::Known("us-east1-b".into());
        validate(&bad, &mut diags);
        let text = format!("{diags:?}");
        assert!(text.contains("Invalid user name"), "{text}");
        assert!(text.contains("Invalid role name"), "{text}");
        assert!(text.contains("Invalid password"), "{text}");
        let mut nul = user(Some("pass\0word"), &[]);
        nul.kubernetes = Attr::Unknown;
        let summaries = Diagnostics::of_check(|diags| validate(&nul, diags)).attribute_paths();
        assert_eq!(summaries, ["password"]);
    }

    fn role_errors(name: &str, roles: Vec<Attr<String>>) -> Vec<String> {
        let mut config = user(None, &[]);
        config.name = Attr::Known(name.into());
        config.roles = Attr::Known(roles);
        // The connection is checked on its own (connection::validate); unknown waits for apply.
        config.kubernetes = Attr::Unknown;
        let mut diags = Diagnostics::new();
        validate(&config, &mut diags);
        diags.0.iter().map(|d| d.summary.clone()).collect()
    }

    #[test]
    fn built_in_names_null_roles_and_self_membership_are_refused_on_their_attribute() {
        let known = |r: &str| Attr::Known(r.to_string());
        assert_eq!(
            role_errors("app", vec![known("admin"), Attr::Unknown]),
            Vec::<String>::new()
        );
        assert_eq!(
            role_errors("app", vec![known("admin"), Attr::Null]),
            ["Null role"]
        );
        assert_eq!(
            role_errors("app", vec![known("app")]),
            ["A user in its own roles"]
        );
        assert_eq!(
            role_errors("app", vec![known("root"), known("public")]),
            ["Invalid role name", "Invalid role name"]
        );
        for name in [
            "root",
            "admin",
            "public",
            "node",
            "none",
            "pg_x",
            "crdb_internal_x",
        ] {
            assert_eq!(role_errors(name, vec![]), ["Invalid user name"], "{name}");
        }
        let mut diags = Diagnostics::new();
        let mut config = user(None, &[]);
        config.name = Attr::Known("root".into());
        config.kubernetes = Attr::Unknown;
        validate(&config, &mut diags);
        assert_eq!(diags.attribute_paths(), ["name"]);
    }
}
