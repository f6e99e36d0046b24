//! The provider's SQL layer, pure: SCRAM password hashes made inside the provider (`scram`), identifiers and
//! string constants quoted for CockroachDB (`quote`), and the `SHOW` results that reads parse (`snapshot`).
//! Statements run as a Job in one zone (see `resources::sql_runner` and `docs/design/sql.md`).

pub mod quote;
pub mod scram;
pub mod snapshot;

pub use snapshot::{DatabaseRow, SqlSnapshot, READ_SCRIPT};

/// CockroachDB's rule for user and role names, as the provider writes them (already lower case): a letter, digit
/// or `_` first, then letters, digits, `_`, `-` or `.`, at most 63 bytes.
pub fn username(name: &str) -> Result<(), String> {
    let first_ok = |c: char| c.is_lowercase() || c.is_ascii_digit() || c == '_';
    let mut chars = name.chars();
    let well_formed =
        chars.next().is_some_and(first_ok) && chars.all(|c| first_ok(c) || matches!(c, '-' | '.'));
    if well_formed && name.len() <= 63 {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a CockroachDB user name: up to 63 bytes of lowercase letters, digits, `_`, `.` and \
             `-`, not starting with `.` or `-`"
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_names_follow_cockroachdb() {
        for ok in ["app", "_x", "9lives", "a.b-c_d"] {
            assert!(super::username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "App", "-a", "a b", "a\"b", &"a".repeat(64)] {
            assert!(super::username(bad).is_err(), "{bad}");
        }
    }
}
