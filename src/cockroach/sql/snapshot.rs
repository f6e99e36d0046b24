//! What one read Job prints: `cockroach sql --format=csv` with the statements of [`READ_SCRIPT`], each result a
//! header line and its rows, read as CSV (names may hold commas, quotes and line ends). Parsed by header, so the
//! order of the results and blank lines between them do not matter; a result missing from the output is an
//! error, never an empty answer.

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
    /// Rows that fit none of the results: whether they hold an object no read can tell, so an object not found
    /// is not called gone while there are any (its resource fails; the others read on).
    pub unreadable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the SQL output: {0}")]
pub struct ParseError(String);

/// The records of CSV text (RFC 4180, as `cockroach sql --format=csv` writes it): fields split at `,`, records at
/// a line end (`\n` or `\r\n`); a field in `"` may hold commas, line ends and `""` for a quote. Err names the
/// first record that cannot be read (a quote never closed, text after a closing quote).
fn csv_records(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    // Whether the field began with a quote, and whether that quote is still open.
    let (mut quoted, mut open) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '"' if open && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if open => open = false,
            '"' if field.is_empty() && !quoted => (quoted, open) = (true, true),
            _ if open => field.push(c),
            ',' => {
                record.push(std::mem::take(&mut field));
                quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                quoted = false;
            }
            _ if quoted => {
                return Err(format!(
                    "text after a closing quote in record {}",
                    records.len() + 1
                ))
            }
            _ => field.push(c),
        }
    }
    if open {
        return Err(format!(
            "a quote never closed in record {}",
            records.len() + 1
        ));
    }
    if quoted || !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
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
        let records = csv_records(output).map_err(ParseError)?;
        let headers = [USERS_HEADER, GRANTS_HEADER, DATABASES_HEADER]
            .map(|h| (h, h.split(',').map(String::from).collect::<Vec<_>>()));
        let mut snapshot = SqlSnapshot::default();
        let mut seen = BTreeSet::new();
        let mut table = None;
        for f in records.iter().filter(|r| r.len() > 1 || !r[0].is_empty()) {
            if let Some((header, _)) = headers.iter().find(|(_, columns)| columns == f) {
                table = Some(*header);
                seen.insert(*header);
                continue;
            }
            match (table, f.len()) {
                (Some(USERS_HEADER), 3) => {
                    snapshot.users.insert(f[0].clone());
                }
                (Some(GRANTS_HEADER), 3) => {
                    snapshot
                        .memberships
                        .entry(f[1].clone())
                        .or_default()
                        .insert(f[0].clone());
                }
                (Some(DATABASES_HEADER), 6) => {
                    let row = DatabaseRow {
                        primary_region: nullable(f.get(2)),
                        regions: nullable(f.get(4)).map(|r| array(&r)).unwrap_or_default(),
                        survival_goal: nullable(f.get(5)),
                    };
                    snapshot.databases.insert(f[0].clone(), row);
                }
                _ => snapshot.unreadable.push(f.join(",")),
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
    fn a_missing_result_or_unreadable_csv_is_an_error() {
        let without_databases = OUTPUT.split("database_name").next().unwrap();
        assert!(SqlSnapshot::parse(without_databases)
            .unwrap_err()
            .to_string()
            .contains("database_name"));
        assert!(SqlSnapshot::parse("ERROR: boom").is_err());
        assert!(SqlSnapshot::parse("").is_err());
        assert!(SqlSnapshot::parse(&format!("{OUTPUT}\"never closed\n"))
            .unwrap_err()
            .to_string()
            .contains("never closed"));
    }

    /// What CockroachDB prints for databases whose names hold a comma, a quote, a line end (`\n` and `\r\n`)
    /// and all of them: each is one field of one record.
    #[test]
    fn names_with_commas_quotes_and_line_ends_are_read_whole() {
        let names = ["a,b", "say \"hi\"", "a\nb", "c\r\nd", "\",\"\n,"];
        let mut output = String::from(OUTPUT);
        for name in names {
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            output.push_str(&format!("{quoted},root,NULL,NULL,{{}},NULL\r\n"));
        }
        let s = SqlSnapshot::parse(&output).unwrap();
        for name in names {
            assert_eq!(
                s.databases.get(name),
                Some(&DatabaseRow::default()),
                "{name:?}"
            );
        }
        assert!(s.databases.contains_key("shop") && s.unreadable.is_empty());
        assert_eq!(
            csv_records("x,\"\"\n\"\",y").unwrap(),
            [vec!["x", ""], vec!["", "y"]]
        );
        assert!(csv_records("\"a\"b,c").is_err());
    }

    #[test]
    fn a_row_that_fits_no_result_is_set_aside_not_fatal() {
        let output = format!("{OUTPUT}one,two\n");
        let s = SqlSnapshot::parse(&output).unwrap();
        assert_eq!(s.unreadable, ["one,two"]);
        assert!(s.databases.contains_key("shop"));
    }
}
