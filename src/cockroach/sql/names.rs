//! The names a SQL resource may take: CockroachDB's own rules (`pkg/security/username`: the user name pattern and
//! `IsReserved`), and the objects every cluster already has, which a resource must never adopt at create and drop
//! at destroy. Pure; the plan refuses what these refuse, before any Job runs.
use crate::cockroach::validate::{refuse, Invalid};

/// The users and roles `cockroach init` creates: they exist in every cluster and belong to it.
pub const BUILT_IN_ROLES: [&str; 2] = ["root", "admin"];

/// The databases every cluster has from the start.
pub const BUILT_IN_DATABASES: [&str; 3] = ["system", "defaultdb", "postgres"];

/// The virtual schemas every database has: a database of the same name makes `<name>.<table>` ambiguous.
pub const VIRTUAL_SCHEMAS: [&str; 4] = [
    "crdb_internal",
    "information_schema",
    "pg_catalog",
    "pg_extension",
];

/// CockroachDB's rule for user and role names, as the provider writes them (already lower case): a letter, digit
/// or `_` first, then letters, digits, `_`, `-` or `.`, at most 63 bytes.
pub fn username(name: &str) -> Result<(), Invalid> {
    let first_ok = |c: char| c.is_lowercase() || c.is_ascii_digit() || c == '_';
    let mut chars = name.chars();
    let well_formed =
        chars.next().is_some_and(first_ok) && chars.all(|c| first_ok(c) || matches!(c, '-' | '.'));
    if well_formed && name.len() <= 63 {
        Ok(())
    } else {
        refuse(format!(
            "`{name}` is not a CockroachDB user name: up to 63 bytes of lowercase letters, digits, `_`, `.` and \
             `-`, not starting with `.` or `-`"
        ))
    }
}

/// Why CockroachDB reserves `name` for itself (it refuses to create such a role), if it does: `public`, `none`,
/// `node`, and the `pg_` and `crdb_internal` prefixes.
pub fn reserved_role(name: &str) -> Option<&'static str> {
    match name {
        "public" => Some("every user is implicitly a member of the `public` pseudo-role"),
        "none" => Some("`none` stands for no role in `SET ROLE`"),
        "node" => Some("`node` is the user the nodes talk to each other as"),
        _ if name.starts_with("pg_") => {
            Some("the `pg_` prefix is reserved for PostgreSQL's own roles")
        }
        _ if name.starts_with("crdb_internal") => {
            Some("the `crdb_internal` prefix is reserved for CockroachDB's own roles")
        }
        _ => None,
    }
}

/// The `name` of a `crdb_sql_user`: a user name that is neither reserved nor one of the users every cluster has.
pub fn user_name(name: &str) -> Result<(), Invalid> {
    username(name)?;
    if let Some(why) = reserved_role(name) {
        return refuse(format!(
            "`{name}` is reserved by CockroachDB ({why}): choose another name"
        ));
    }
    if BUILT_IN_ROLES.contains(&name) {
        return refuse(format!(
            "`{name}` exists in every CockroachDB cluster and belongs to it: managing it here would replace its \
             password and fail to destroy it. Choose another name (grant `admin` in `roles` for full rights)"
        ));
    }
    Ok(())
}

/// An element of a `crdb_sql_user`'s `roles`: a role a user can be made a member of.
pub fn member_role(role: &str) -> Result<(), Invalid> {
    username(role)?;
    if let Some(why) = reserved_role(role) {
        return refuse(format!(
            "`{role}` cannot be granted: it is reserved by CockroachDB ({why})"
        ));
    }
    if role == "root" {
        return refuse(
            "`root` is a user, not a role to grant: grant `admin` for the same rights".to_string(),
        );
    }
    Ok(())
}

/// The `name` of a `crdb_database`: 1 to 63 bytes without control characters, neither a database every cluster
/// has nor a virtual schema's name.
pub fn database_name(name: &str) -> Result<(), Invalid> {
    if name.is_empty() || name.len() > 63 {
        return refuse(format!(
            "a database name has 1 to 63 bytes; {name:?} has {}",
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return refuse(format!(
            "{name:?} holds the control character {c:?}: a database name is printable text"
        ));
    }
    if BUILT_IN_DATABASES.contains(&name) {
        return refuse(format!(
            "`{name}` exists in every CockroachDB cluster: a resource would adopt it at create and drop it at \
             destroy. Choose another name"
        ));
    }
    if VIRTUAL_SCHEMAS.contains(&name) {
        return refuse(format!(
            "`{name}` is the name of a virtual schema every database has: a database of that name makes \
             `{name}.<table>` ambiguous. Choose another name"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_cockroachdb() {
        for ok in ["app", "_x", "9lives", "a.b-c_d"] {
            assert!(username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "App", "-a", "a b", "a\"b", "a\nb", &"a".repeat(64)] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserved_and_built_in_users_are_refused_as_names() {
        for ok in ["app", "administrator", "rooted", "pgx", "crdb"] {
            assert!(user_name(ok).is_ok(), "{ok}");
        }
        for taken in [
            "root",
            "admin",
            "public",
            "none",
            "node",
            "pg_monitor",
            "crdb_internal",
            "crdb_internal_x",
        ] {
            assert!(user_name(taken).is_err(), "{taken}");
        }
    }

    #[test]
    fn admin_is_the_one_built_in_role_that_can_be_granted() {
        assert!(member_role("admin").is_ok());
        assert!(member_role("ops").is_ok());
        for bad in ["root", "public", "none", "node", "pg_read_all", "Admin"] {
            assert!(member_role(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn database_names_are_printable_and_new() {
        for ok in ["shop", "a,b", "a\"b", "Shop Floor", "日本"] {
            assert!(database_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a\nb",
            "a\u{7f}",
            "system",
            "defaultdb",
            "postgres",
            "crdb_internal",
            "information_schema",
            "pg_catalog",
            "pg_extension",
            &"d".repeat(64),
        ] {
            assert!(database_name(bad).is_err(), "{bad:?}");
        }
    }
}
