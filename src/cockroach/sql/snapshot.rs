//! What one read Job prints: `cockroach sql --format=csv` with the statements of [`READ_SCRIPT`], each result a
//! header line and its rows. Parsed by header, so the order of the results and blank lines between them do not
//! matter; a result missing from the output is an error, never an empty answer.

use std::collections::{BTreeMap, BTreeSet};

/// The statements of a read: every user, every role membership and every database in one Job.
pub const READ_SCRIPT: &str = "SHOW USERS; SHOW GRANTS ON ROLE; SHOW DATABASES;";

const USERS_HEADER: &str = "username,options,member_of";
const GRANTS_HEADER: &str = "role_name,member,is_admin";
const DATABASES_HEADER: &str =
    "database_name,owner,primary_region,secondary_region,regions,survival_goal";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatabaseRow {
    pub primary_region: Option<String>,
    pub regions: Vec<String>,
    /// `zone` or `region`; None for a database that is not multi-region.
    pub survival_goal: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SqlSnapshot {
    pub users: BTreeSet<String>,
    /// Member -> the roles it belongs to directly.
    pub memberships: BTreeMap<String, BTreeSet<String>>,
    pub databases: BTreeMap<String, DatabaseRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the SQL output: {0}")]
pub struct ParseError(String);

/// The fields of one CSV line; `"` quotes fields and `""` is a quote inside one.
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (_, '"') => quoted = !quoted,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (_, c) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// `{a,b}` (CockroachDB's array output) as its elements.
fn array(text: &str) -> Vec<String> {
    text.trim_start_matches('{')
        .trim_end_matches('}')
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn nullable(field: Option<&String>) -> Option<String> {
    field.filter(|f| !f.is_empty() && *f != "NULL").cloned()
}

impl SqlSnapshot {
    pub fn parse(output: &str) -> Result<SqlSnapshot, ParseError> {
        let mut snapshot = SqlSnapshot::default();
        let mut seen = BTreeSet::new();
        let mut table = None;
        for line in output.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            if [USERS_HEADER, GRANTS_HEADER, DATABASES_HEADER].contains(&line) {
                table = Some(line);
                seen.insert(line);
                continue;
            }
            let f = csv_fields(line);
            match table {
                Some(USERS_HEADER) => {
                    let name = f[0].clone();
                    snapshot.users.insert(name);
                }
                Some(GRANTS_HEADER) if f.len() >= 2 => {
                    snapshot
                        .memberships
                        .entry(f[1].clone())
                        .or_default()
                        .insert(f[0].clone());
                }
                Some(DATABASES_HEADER) if f.len() >= 6 => {
                    let row = DatabaseRow {
                        primary_region: nullable(f.get(2)),
                        regions: nullable(f.get(4)).map(|r| array(&r)).unwrap_or_default(),
                        survival_goal: nullable(f.get(5)),
                    };
                    snapshot.databases.insert(f[0].clone(), row);
                }
                _ => return Err(ParseError(format!("unexpected line {line:?}"))),
            }
        }
        for header in [USERS_HEADER, GRANTS_HEADER, DATABASES_HEADER] {
            if !seen.contains(header) {
                return Err(ParseError(format!("no result with the columns {header}")));
            }
        }
        Ok(snapshot)
    }

    /// The roles `user` belongs to directly.
    pub fn roles_of(&self, user: &str) -> BTreeSet<String> {
        self.memberships.get(user).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str =
        "username,options,member_of\nadmin,NOLOGIN,{}\napp,,{admin}\nroot,,{admin}\n\
role_name,member,is_admin\nadmin,app,f\nadmin,root,t\n\n\
database_name,owner,primary_region,secondary_region,regions,survival_goal\n\
defaultdb,root,NULL,NULL,{},NULL\n\
shop,root,us-east1,NULL,\"{us-east1,us-west1}\",zone\n";

    #[test]
    fn users_memberships_and_databases_are_read_by_header() {
        let s = SqlSnapshot::parse(OUTPUT).unwrap();
        assert_eq!(s.users, ["admin", "app", "root"].map(String::from).into());
        assert_eq!(s.roles_of("app"), ["admin".to_string()].into());
        assert!(s.roles_of("nobody").is_empty());
        assert_eq!(
            s.databases["shop"],
            DatabaseRow {
                primary_region: Some("us-east1".into()),
                regions: vec!["us-east1".into(), "us-west1".into()],
                survival_goal: Some("zone".into())
            }
        );
        assert_eq!(s.databases["defaultdb"], DatabaseRow::default());
    }

    #[test]
    fn a_missing_result_or_a_stray_line_is_an_error() {
        let without_databases = OUTPUT.split("database_name").next().unwrap();
        assert!(SqlSnapshot::parse(without_databases)
            .unwrap_err()
            .to_string()
            .contains("database_name"));
        assert!(SqlSnapshot::parse("ERROR: boom").is_err());
        assert!(SqlSnapshot::parse("").is_err());
    }
}
