//! The statements with which the provider keeps its one-disruption-at-a-time lease in the database itself, with
//! CockroachDB's semantics: `CREATE DATABASE IF NOT EXISTS`, `CREATE TABLE IF NOT EXISTS` of a lease table
//! (a string key, a holder, an expiry), the upsert that takes the lease only when it is free, expired or already
//! the holder's (`INSERT ... ON CONFLICT (id) DO UPDATE SET ... WHERE ... RETURNING holder`), and the release
//! (`DELETE ... WHERE id = ... AND holder = ...`). `now()` is the cluster's clock (cluster seconds). What
//! `cockroach sql --format=csv` prints: the statement tag for statements without rows, the header and the rows
//! for `RETURNING`.
//!
//! The parsing is one function, [`parse`], over a loose tokenizer, so that it can move onto a fuller SQL module.

use super::duration::parse_duration;
use super::sql::output::Output;
use std::collections::{BTreeMap, BTreeSet};

/// One row of a lease table.
#[derive(Debug, Clone, PartialEq)]
struct Lease {
    holder: String,
    /// Cluster seconds.
    expires_at: f64,
}

/// The databases and lease tables of one CockroachDB cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeaseTables {
    databases: BTreeSet<String>,
    /// `database.table` -> id -> row.
    tables: BTreeMap<String, BTreeMap<String, Lease>>,
}

/// One statement of the lease protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseStatement {
    CreateDatabase {
        database: String,
    },
    CreateTable {
        table: String,
    },
    /// Takes (or renews) the lease `id` for `holder` until `now() + seconds`.
    Take {
        table: String,
        id: String,
        holder: String,
        seconds: f64,
    },
    Release {
        table: String,
        id: String,
        holder: String,
    },
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Splits SQL into words: identifiers and keywords, quoted strings (kept with their quotes) and punctuation.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            let mut s = String::from('\'');
            chars.next();
            for c in chars.by_ref() {
                s.push(c);
                if c == '\'' {
                    break;
                }
            }
            out.push(s);
        } else if word_char(c) {
            let mut s = String::new();
            while let Some(&c) = chars.peek().filter(|c| word_char(**c)) {
                s.push(c);
                chars.next();
            }
            out.push(s);
        } else {
            out.push(c.to_string());
            chars.next();
        }
    }
    if out.last().is_some_and(|t| t == ";") {
        out.pop();
    }
    out
}

/// Reads one statement of the lease protocol; None for any other statement. Keywords match in any case;
/// `$name` in the shapes below captures one word (an identifier, or a string without its quotes).
pub fn parse(text: &str) -> Option<LeaseStatement> {
    let words = tokens(text);
    let matches = |shape: &str| -> Option<BTreeMap<String, String>> {
        let shape = tokens(shape);
        if shape.len() != words.len() {
            return None;
        }
        let mut captured = BTreeMap::new();
        for (want, got) in shape.iter().zip(&words) {
            if let Some(name) = want.strip_prefix('$') {
                let value = got
                    .strip_prefix('\'')
                    .and_then(|g| g.strip_suffix('\''))
                    .unwrap_or(got);
                // A name used twice must say the same thing both times (the table in its WHERE).
                if captured
                    .insert(name.to_string(), value.to_string())
                    .is_some_and(|v| v != value)
                {
                    return None;
                }
            } else if !want.eq_ignore_ascii_case(got) {
                return None;
            }
        }
        Some(captured)
    };
    let at = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
    let table = |m: &BTreeMap<String, String>| format!("{}.{}", at(m, "db"), at(m, "table"));
    if let Some(m) = matches("CREATE DATABASE IF NOT EXISTS $db") {
        return Some(LeaseStatement::CreateDatabase {
            database: at(&m, "db"),
        });
    }
    if let Some(m) = matches(
        "CREATE TABLE IF NOT EXISTS $db.$table (id STRING PRIMARY KEY, holder STRING NOT NULL, \
         expires_at TIMESTAMPTZ NOT NULL)",
    ) {
        return Some(LeaseStatement::CreateTable { table: table(&m) });
    }
    if let Some(m) = matches(
        "INSERT INTO $db.$table (id, holder, expires_at) VALUES ($id, $holder, now() + INTERVAL $ttl) \
         ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE $table.expires_at < now() OR $table.holder = excluded.holder RETURNING holder",
    ) {
        let seconds = parse_duration(&at(&m, "ttl"))?;
        return Some(LeaseStatement::Take {
            table: table(&m),
            id: at(&m, "id"),
            holder: at(&m, "holder"),
            seconds,
        });
    }
    if let Some(m) = matches("DELETE FROM $db.$table WHERE id = $id AND holder = $holder") {
        return Some(LeaseStatement::Release {
            table: table(&m),
            id: at(&m, "id"),
            holder: at(&m, "holder"),
        });
    }
    None
}

impl LeaseTables {
    /// Runs one statement at `now` (cluster seconds): what `cockroach sql --format=csv` prints, or its error.
    pub fn run(&mut self, statement: &LeaseStatement, now: f64) -> Result<Output, String> {
        let missing = |table: &str| format!("ERROR: relation \"{table}\" does not exist");
        match statement {
            LeaseStatement::CreateDatabase { database } => {
                self.databases.insert(database.clone());
                Ok(Output::Tag("CREATE DATABASE".into()))
            }
            LeaseStatement::CreateTable { table } => {
                let database = table.split('.').next().unwrap_or_default();
                if !self.databases.contains(database) {
                    return Err(format!(
                        "ERROR: cannot create \"{table}\" because the target database or schema does not exist"
                    ));
                }
                self.tables.entry(table.clone()).or_default();
                Ok(Output::Tag("CREATE TABLE".into()))
            }
            LeaseStatement::Take {
                table,
                id,
                holder,
                seconds,
            } => {
                let rows = self.tables.get_mut(table).ok_or_else(|| missing(table))?;
                let free = rows
                    .get(id)
                    .is_none_or(|row| row.expires_at < now || row.holder == *holder);
                let returning = |rows| Output::Rows {
                    columns: vec!["holder".into()],
                    rows,
                };
                if !free {
                    return Ok(returning(vec![]));
                }
                rows.insert(
                    id.clone(),
                    Lease {
                        holder: holder.clone(),
                        expires_at: now + seconds,
                    },
                );
                Ok(returning(vec![vec![Some(holder.clone())]]))
            }
            LeaseStatement::Release { table, id, holder } => {
                let rows = self.tables.get_mut(table).ok_or_else(|| missing(table))?;
                let deleted = rows.get(id).is_some_and(|row| row.holder == *holder);
                if deleted {
                    rows.remove(id);
                }
                Ok(Output::Tag(format!("DELETE {}", u8::from(deleted))))
            }
        }
    }

    /// Who holds lease `id` of `table` at `now`, if anyone: for tests.
    pub fn holder(&self, table: &str, id: &str, now: f64) -> Option<String> {
        let row = self.tables.get(table)?.get(id)?;
        (row.expires_at >= now).then(|| row.holder.clone())
    }

    /// Whose row lease `id` of `table` is, expired or not: a row only a release deletes, for tests.
    pub fn row_holder(&self, table: &str, id: &str) -> Option<String> {
        Some(self.tables.get(table)?.get(id)?.holder.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cockroach::sql::output::Format;

    const TAKE: &str = "INSERT INTO crdb_provider.disruption_lease (id, holder, expires_at) \
        VALUES ('disruption', 'HOLDER', now() + INTERVAL '180s') ON CONFLICT (id) DO UPDATE SET \
        holder = excluded.holder, expires_at = excluded.expires_at WHERE disruption_lease.expires_at < now() \
        OR disruption_lease.holder = excluded.holder RETURNING holder;";

    fn take(holder: &str) -> LeaseStatement {
        parse(&TAKE.replace("HOLDER", holder)).unwrap()
    }

    fn created() -> LeaseTables {
        let mut t = LeaseTables::default();
        for s in [
            "CREATE DATABASE IF NOT EXISTS crdb_provider",
            "create table if not exists crdb_provider.disruption_lease (id STRING PRIMARY KEY, \
             holder STRING NOT NULL, expires_at TIMESTAMPTZ NOT NULL);",
        ] {
            t.run(&parse(s).unwrap(), 0.0).unwrap().render(Format::Csv);
        }
        t
    }

    #[test]
    fn the_lease_is_taken_only_when_free_expired_or_already_ours() {
        let mut t = created();
        assert_eq!(
            t.run(&take("a"), 10.0).unwrap().render(Format::Csv),
            "holder\na"
        );
        assert_eq!(
            t.run(&take("b"), 20.0).unwrap().render(Format::Csv),
            "holder",
            "held by a"
        );
        assert_eq!(
            t.run(&take("a"), 100.0).unwrap().render(Format::Csv),
            "holder\na",
            "renewed"
        );
        assert_eq!(
            t.run(&take("b"), 279.0).unwrap().render(Format::Csv),
            "holder"
        );
        assert_eq!(
            t.run(&take("b"), 281.0).unwrap().render(Format::Csv),
            "holder\nb",
            "a's expired"
        );
        let release = |h: &str| {
            parse(&format!(
                "DELETE FROM crdb_provider.disruption_lease WHERE id = 'disruption' AND holder = '{h}'"
            ))
            .unwrap()
        };
        assert_eq!(
            t.run(&release("a"), 282.0).unwrap().render(Format::Csv),
            "DELETE 0",
            "only the holder releases"
        );
        assert_eq!(
            t.holder("crdb_provider.disruption_lease", "disruption", 282.0)
                .as_deref(),
            Some("b")
        );
        assert_eq!(
            t.holder("crdb_provider.disruption_lease", "disruption", 10_000.0),
            None,
            "expired"
        );
        assert_eq!(
            t.row_holder("crdb_provider.disruption_lease", "disruption")
                .as_deref(),
            Some("b"),
            "an expired lease keeps its row"
        );
        assert_eq!(
            t.run(&release("b"), 283.0).unwrap().render(Format::Csv),
            "DELETE 1"
        );
        assert_eq!(
            t.row_holder("crdb_provider.disruption_lease", "disruption"),
            None,
            "released"
        );
        assert_eq!(
            t.run(&take("a"), 284.0).unwrap().render(Format::Csv),
            "holder\na"
        );
    }

    #[test]
    fn a_table_needs_its_database_and_the_upsert_its_table() {
        let mut t = LeaseTables::default();
        let said = t
            .run(
                &parse("CREATE TABLE IF NOT EXISTS d.t (id STRING PRIMARY KEY, holder STRING NOT NULL, expires_at TIMESTAMPTZ NOT NULL)")
                    .unwrap(),
                0.0,
            )
            .unwrap_err();
        assert!(
            said.contains("target database or schema does not exist"),
            "{said}"
        );
        let said = t.run(&take("a"), 0.0).unwrap_err();
        assert_eq!(
            said,
            "ERROR: relation \"crdb_provider.disruption_lease\" does not exist"
        );
    }

    #[test]
    fn other_statements_and_other_shapes_are_not_the_lease_protocol() {
        assert_eq!(parse("CREATE DATABASE crdb_provider"), None);
        assert_eq!(parse("SELECT 1"), None);
        assert_eq!(parse(&TAKE.replace("< now()", "> now()")), None);
        assert_eq!(
            parse(&TAKE.replace(
                "WHERE disruption_lease.expires_at",
                "WHERE other.expires_at"
            )),
            None,
            "the WHERE must name the table upserted into"
        );
        assert_eq!(parse(&TAKE.replace("'180s'", "'soon'")), None);
    }
}
