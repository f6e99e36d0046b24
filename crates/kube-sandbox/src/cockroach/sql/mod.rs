//! The SQL the emulated CockroachDB runs: a tokenizer (`lexer`), one statement enum and its parser (`parse`),
//! users, roles and databases with CockroachDB's rules and error texts (`catalog`), SCRAM password hashes
//! (`scram`), and here the one dispatch from a statement to its effect on a cluster and what the client prints.
//! A new statement is one variant in `parse::Statement`, its parser, and one arm in `execute`.

pub mod catalog;
pub mod lexer;
pub mod output;
pub mod parse;
#[cfg(test)]
mod placement_tests;
pub mod ranges;
pub mod scram;

pub use catalog::{Catalog, Database, Role};
pub use parse::{
    parse_script, parse_statement, AlterDatabase, DropBehavior, Password, Statement, SurvivalGoal,
};

pub use output::{array, Format, Output};

use super::cluster::CockroachCluster;
use super::version;

/// The `raw_config_sql` of the default zone: CockroachDB's defaults but for `num_replicas`.
fn default_zone_sql(num_replicas: usize) -> String {
    format!(
        "ALTER RANGE default CONFIGURE ZONE USING\n\trange_min_bytes = 134217728,\n\trange_max_bytes = \
         536870912,\n\tgc.ttlseconds = 14400,\n\tnum_replicas = {num_replicas},\n\tconstraints = '[]',\n\t\
         lease_preferences = '[]'"
    )
}

pub(super) fn columns(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn tag(t: &str) -> Result<Output, String> {
    Ok(Output::Tag(t.to_string()))
}

pub(super) fn text(v: impl Into<String>) -> Option<String> {
    Some(v.into())
}

/// Runs a client's statements on `c` at `now` in order, as `cockroach sql -e/-f` does: the first error stops
/// them; (exit code, what the client printed). A transaction that does not reach its `COMMIT` leaves users,
/// grants and databases as they were at `BEGIN` (the client's connection closes, which rolls it back).
pub fn run_script(
    c: &mut CockroachCluster,
    statements: &[Statement],
    now: f64,
    salt: &[u8],
    format: Format,
) -> (i32, String) {
    let mut output = Vec::new();
    let mut before_transaction: Option<Catalog> = None;
    let mut failed = false;
    for statement in statements {
        let ran = match statement {
            Statement::Begin if before_transaction.is_some() => Err(
                "ERROR: there is already a transaction in progress\nSQLSTATE: 25001".to_string(),
            ),
            Statement::Begin => {
                before_transaction = Some(c.catalog.clone());
                execute(c, statement, now, salt)
            }
            Statement::Commit => {
                before_transaction = None;
                execute(c, statement, now, salt)
            }
            _ => execute(c, statement, now, salt),
        };
        match ran {
            Ok(o) => output.push(o.render(format)),
            Err(e) => {
                output.push(e);
                failed = true;
                break;
            }
        }
    }
    if let Some(catalog) = before_transaction {
        c.catalog = catalog;
    }
    (i32::from(failed), output.join("\n"))
}

/// Runs one statement on `c` at `now`; Err is what the client prints. `salt` hashes a cleartext password.
pub fn execute(
    c: &mut CockroachCluster,
    statement: &Statement,
    now: f64,
    salt: &[u8],
) -> Result<Output, String> {
    match statement {
        Statement::SetClusterSetting { name, value } => {
            c.set_setting(name, value, now)?;
            tag("SET CLUSTER SETTING")
        }
        Statement::ResetClusterSetting { name } => {
            c.reset_setting(name, now);
            tag("RESET CLUSTER SETTING")
        }
        Statement::ShowClusterSetting { name } => {
            let value = if name == "version" {
                c.cluster_version.map(version::display)
            } else {
                c.settings.get(name).cloned()
            };
            Ok(Output::Rows {
                columns: vec![name.clone()],
                rows: vec![vec![Some(value.unwrap_or_default())]],
            })
        }
        Statement::ShowDefaultZone => Ok(Output::Rows {
            columns: columns(&["target", "raw_config_sql"]),
            rows: vec![vec![
                text("RANGE default"),
                text(default_zone_sql(c.num_replicas())),
            ]],
        }),
        Statement::Lease(statement) => c.lease_tables.run(statement, now),
        Statement::VotersByLocality => Ok(ranges::voters_by_locality(c)),
        Statement::ConfigureDefaultZone { num_replicas } => {
            c.configure_default_zone(*num_replicas, now)?;
            tag("CONFIGURE ZONE 1")
        }
        Statement::CreateRole {
            name,
            if_not_exists,
            login,
            password,
        } => {
            c.catalog
                .create_role(name, *if_not_exists, *login, password.as_ref(), salt)?;
            tag("CREATE ROLE")
        }
        Statement::AlterRole {
            name,
            if_exists,
            password,
            login,
        } => {
            c.catalog
                .alter_role(name, *if_exists, password.as_ref(), *login, salt)?;
            tag("ALTER ROLE")
        }
        Statement::DropRoles { names, if_exists } => {
            c.catalog.drop_roles(names, *if_exists)?;
            tag("DROP ROLE")
        }
        Statement::GrantRoles {
            roles,
            members,
            admin_option,
        } => {
            c.catalog.grant_roles(roles, members, *admin_option)?;
            tag("GRANT")
        }
        Statement::RevokeRoles { roles, members } => {
            c.catalog.revoke_roles(roles, members)?;
            tag("REVOKE")
        }
        Statement::ShowUsers => Ok(Output::Rows {
            columns: columns(&["username", "options", "member_of"]),
            rows: c
                .catalog
                .roles
                .iter()
                .map(|(name, role)| {
                    let options = if role.login { "" } else { "NOLOGIN" };
                    vec![
                        text(name),
                        text(options),
                        text(array(c.catalog.member_of(name))),
                    ]
                })
                .collect(),
        }),
        Statement::ShowRoleGrants { roles, members } => {
            for name in roles.iter().chain(members) {
                if !c.catalog.roles.contains_key(name) {
                    return Err(format!(
                        "ERROR: role/user \"{name}\" does not exist\nSQLSTATE: 42704"
                    ));
                }
            }
            let rows = c
                .catalog
                .grants
                .iter()
                .filter(|((r, m), _)| {
                    (roles.is_empty() || roles.contains(r))
                        && (members.is_empty() || members.contains(m))
                })
                .map(|((r, m), admin)| vec![text(r), text(m), text(if *admin { "t" } else { "f" })])
                .collect();
            Ok(Output::Rows {
                columns: columns(&["role_name", "member", "is_admin"]),
                rows,
            })
        }
        Statement::CreateDatabase {
            name,
            if_not_exists,
            primary_region,
            regions,
            survival,
        } => {
            let cluster_regions = c.cluster_regions(now);
            let created = c.catalog.create_database(
                name,
                *if_not_exists,
                primary_region.as_deref(),
                regions,
                *survival,
                &cluster_regions,
            )?;
            if created {
                c.database_created(name, now);
            }
            tag("CREATE DATABASE")
        }
        Statement::AlterDatabase { name, change } => {
            let cluster_regions = c.cluster_regions(now);
            c.catalog.alter_database(name, change, &cluster_regions)?;
            c.database_changed(name, now);
            tag(match change {
                AlterDatabase::AddRegion { .. } => "ALTER DATABASE ADD REGION",
                AlterDatabase::DropRegion { .. } => "ALTER DATABASE DROP REGION",
                AlterDatabase::PrimaryRegion(_) => "ALTER DATABASE PRIMARY REGION",
                AlterDatabase::Survive(_) => "ALTER DATABASE SURVIVE",
            })
        }
        Statement::DropDatabase {
            name,
            if_exists,
            behavior,
        } => {
            if c.catalog.drop_database(name, *if_exists, *behavior)? {
                c.database_dropped(name, now);
            }
            tag("DROP DATABASE")
        }
        Statement::ShowDatabases => Ok(Output::Rows {
            columns: columns(&[
                "database_name",
                "owner",
                "primary_region",
                "secondary_region",
                "regions",
                "survival_goal",
            ]),
            rows: c
                .catalog
                .databases
                .iter()
                .map(|(name, db)| {
                    let owner = if matches!(name.as_str(), "system") {
                        "node"
                    } else {
                        "root"
                    };
                    vec![
                        text(name),
                        text(owner),
                        db.primary_region.clone(),
                        None,
                        text(array(&db.regions)),
                        db.multi_region().then(|| db.survival.as_str().to_string()),
                    ]
                })
                .collect(),
        }),
        Statement::ShowRegionsFromDatabase { name } => {
            let db = c.catalog.database(name)?;
            let zones = c.region_zones(now);
            let rows = db
                .regions
                .iter()
                .map(|r| {
                    let primary = db.primary_region.as_ref() == Some(r);
                    vec![
                        text(name),
                        text(r),
                        text(if primary { "t" } else { "f" }),
                        text("f"),
                        text(array(zones.get(r).into_iter().flatten())),
                    ]
                })
                .collect();
            Ok(Output::Rows {
                columns: columns(&["database", "region", "primary", "secondary", "zones"]),
                rows,
            })
        }
        Statement::ShowSurvivalGoal { name } => {
            let db = c.catalog.database(name)?;
            Ok(Output::Rows {
                columns: columns(&["database", "survival_goal"]),
                rows: vec![vec![
                    text(name),
                    db.multi_region().then(|| db.survival.as_str().to_string()),
                ]],
            })
        }
        Statement::Begin => tag("BEGIN"),
        Statement::Commit => tag("COMMIT"),
        Statement::CreateTable {
            database,
            name,
            if_not_exists,
        } => {
            let db = database.as_deref().unwrap_or("defaultdb");
            c.catalog.create_table(db, name, *if_not_exists)?;
            tag("CREATE TABLE")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(c: &mut CockroachCluster, text: &str) -> (i32, String) {
        let statements = parse_script(text).unwrap();
        run_script(c, &statements, 0.0, b"salt", Format::Csv)
    }

    #[test]
    fn a_transaction_that_fails_leaves_nothing_and_one_that_commits_keeps_everything() {
        let mut c = CockroachCluster::new(10);
        let before = c.catalog.clone();
        let (code, said) = script(
            &mut c,
            "BEGIN; CREATE USER app; GRANT ghost TO app; COMMIT;",
        );
        assert_eq!(code, 1);
        assert!(
            said.ends_with("ERROR: role/user \"ghost\" does not exist\nSQLSTATE: 42704"),
            "{said}"
        );
        assert_eq!(
            c.catalog, before,
            "the user created before the failed grant is rolled back"
        );
        let (code, _) = script(&mut c, "BEGIN; CREATE USER app; GRANT admin TO app;");
        assert_eq!(code, 0);
        assert_eq!(
            c.catalog, before,
            "a transaction never committed is rolled back"
        );
        let (code, said) = script(
            &mut c,
            "BEGIN; CREATE USER app; GRANT admin TO app; COMMIT;",
        );
        assert_eq!(
            (code, said.as_str()),
            (0, "BEGIN\nCREATE ROLE\nGRANT\nCOMMIT")
        );
        assert_eq!(c.catalog.member_of("app"), ["admin"]);
        let (code, _) = script(&mut c, "CREATE USER other; GRANT ghost TO other;");
        assert_eq!(code, 1);
        assert!(
            c.catalog.roles.contains_key("other"),
            "without a transaction each statement stands on its own"
        );
    }
}
