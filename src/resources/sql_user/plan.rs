//! Validation of `crdb_sql_user` and the statements each change runs: pure.
use super::model::SqlUserModel;
use crate::cockroach::sql::{self, quote};
use crate::cockroach::validate;
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::{timeouts, Attr};
use crate::resources::connection;

pub(super) fn validate(config: &SqlUserModel, diags: &mut Diagnostics) {
    diags.check_known(&config.name, "name", "Invalid user name", |n| {
        sql::username(n)
    });
    if let Attr::Known(roles) = &config.roles {
        for role in roles.iter().filter_map(Attr::known) {
            if let Err(why) = sql::username(role) {
                diags.attribute_error(AttributePath::root("roles"), "Invalid role name", why);
            }
        }
    }
    diags.check_known(&config.password, "password", "Invalid password", |p| {
        if p.is_empty() {
            Err("an empty password is not allowed; leave `password` unset for certificate logins only")
        } else {
            Ok(())
        }
    });
    diags.check_known(&config.zone, "zone", "Invalid zone", |z| {
        validate::zone_name(z)
    });
    timeouts::validate(&config.timeouts, diags);
    connection::validate(&config.kubernetes, diags);
}

pub(super) fn plan(planned: &mut SqlUserModel) {
    planned.id = planned.name.clone();
}

/// What a change does to the password: `Some(Some(hash))` sets it, `Some(None)` removes it, `None` keeps it.
pub(super) fn password_change(
    prior: Option<&SqlUserModel>,
    planned: &SqlUserModel,
) -> Option<Option<String>> {
    let before = prior.and_then(|p| p.password.known());
    let after = planned.password.known();
    (prior.is_none() || before != after).then(|| after.cloned())
}

/// The statements that bring the user from `prior` (nothing for a create) to `planned`; `hash` is the SCRAM hash
/// of the planned password when [`password_change`] sets one. Each statement is idempotent, so a Job retried after
/// a partial run converges.
pub(super) fn script(
    prior: Option<&SqlUserModel>,
    planned: &SqlUserModel,
    password: Option<Option<&str>>,
) -> String {
    let user = quote::ident(&planned.user());
    let mut out = Vec::new();
    if prior.is_none() {
        out.push(format!("CREATE USER IF NOT EXISTS {user};"));
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
    out.join("\n")
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
            "CREATE USER IF NOT EXISTS \"app\";\nALTER USER \"app\" WITH PASSWORD 'SCRAM-SHA-256$1:c2FsdA==$a:b';\nGRANT \"admin\" TO \"app\";"
        );
        assert_eq!(
            script(
                None,
                &user(None, &[]),
                password_change(None, &user(None, &[])).map(|_| None)
            ),
            "CREATE USER IF NOT EXISTS \"app\";\nALTER USER \"app\" WITH PASSWORD NULL;"
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
            "ALTER USER \"app\" WITH PASSWORD NULL;\nGRANT \"dev\" TO \"app\";\nREVOKE \"admin\" FROM \"app\";"
        );
        assert_eq!(drop_script(&prior), "DROP USER IF EXISTS \"app\";");
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
    }
}
