//! The statements the emulated CockroachDB runs, parsed from tokens: one enum, one parser per leading keyword.
//! A statement outside this list is refused with an error that says so, never half-run.

use super::super::lease_table::{self, LeaseStatement};
use super::lexer::{self, Token};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurvivalGoal {
    Zone,
    Region,
}

impl SurvivalGoal {
    pub fn as_str(self) -> &'static str {
        match self {
            SurvivalGoal::Zone => "zone",
            SurvivalGoal::Region => "region",
        }
    }
}

/// `PASSWORD '...'` or `PASSWORD NULL`.
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    Set(String),
    Null,
}

impl std::fmt::Debug for Password {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Password::Set(_) => f.write_str("Set(<redacted>)"),
            Password::Null => f.write_str("Null"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropBehavior {
    Default,
    Restrict,
    Cascade,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterDatabase {
    AddRegion { region: String, if_not_exists: bool },
    DropRegion { region: String, if_exists: bool },
    PrimaryRegion(String),
    Survive(SurvivalGoal),
}

/// One SQL statement the emulation understands.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    SetClusterSetting {
        name: String,
        value: String,
    },
    ResetClusterSetting {
        name: String,
    },
    ShowClusterSetting {
        name: String,
    },
    /// `ALTER RANGE default CONFIGURE ZONE USING num_replicas = n`.
    ConfigureDefaultZone {
        num_replicas: usize,
    },
    /// `CREATE USER|ROLE`: a user may log in, a role may not.
    CreateRole {
        name: String,
        if_not_exists: bool,
        login: bool,
        password: Option<Password>,
    },
    AlterRole {
        name: String,
        if_exists: bool,
        password: Option<Password>,
        login: Option<bool>,
    },
    DropRoles {
        names: Vec<String>,
        if_exists: bool,
    },
    /// `GRANT role[, ...] TO member[, ...]`.
    GrantRoles {
        roles: Vec<String>,
        members: Vec<String>,
        admin_option: bool,
    },
    RevokeRoles {
        roles: Vec<String>,
        members: Vec<String>,
    },
    ShowUsers,
    /// `SHOW GRANTS ON ROLE [roles] [FOR members]`.
    ShowRoleGrants {
        roles: Vec<String>,
        members: Vec<String>,
    },
    CreateDatabase {
        name: String,
        if_not_exists: bool,
        primary_region: Option<String>,
        regions: Vec<String>,
        survival: Option<SurvivalGoal>,
    },
    AlterDatabase {
        name: String,
        change: AlterDatabase,
    },
    DropDatabase {
        name: String,
        if_exists: bool,
        behavior: DropBehavior,
    },
    ShowDatabases,
    ShowRegionsFromDatabase {
        name: String,
    },
    ShowSurvivalGoal {
        name: String,
    },
    /// `CREATE TABLE [IF NOT EXISTS] [db.]name (...)`: only that the database now holds a table.
    CreateTable {
        database: Option<String>,
        name: String,
        if_not_exists: bool,
    },
    /// `SHOW ZONE CONFIGURATION FOR RANGE default` (or `FROM`).
    ShowDefaultZone,
    /// `BEGIN [TRANSACTION]`: the statements up to `COMMIT` take effect together or not at all.
    Begin,
    Commit,
    /// One statement of the provider's disruption lease, read by `lease_table::parse` as a whole text.
    Lease(LeaseStatement),
    /// The provider's read of voting replicas per locality (`ranges.rs`), recognised as a whole text.
    VotersByLocality,
}

/// The statement, as the provider sends it (whitespace and letter case aside).
pub const VOTERS_BY_LOCALITY: &str = "SELECT locality, voters, max(here) AS most_voters_here FROM (SELECT \
     r.range_id, l.locality, array_length(r.voting_replicas, 1) AS voters, count(*) AS here FROM \
     crdb_internal.ranges_no_leases AS r, unnest(r.replicas, r.replica_localities) AS l (replica, locality) WHERE \
     l.replica = ANY (r.voting_replicas) GROUP BY r.range_id, l.locality, array_length(r.voting_replicas, 1)) AS \
     per_range GROUP BY locality, voters ORDER BY locality, voters";

fn words(text: &str) -> Vec<String> {
    text.trim()
        .trim_end_matches(';')
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect()
}

pub fn is_voters_by_locality(text: &str) -> bool {
    words(text) == words(VOTERS_BY_LOCALITY)
}

/// Every statement of a script (`-e` text or a `--file`), in order; the first that does not parse fails the
/// whole script before anything runs, as CockroachDB's parser does for one `-e`.
pub fn parse_script(text: &str) -> Result<Vec<Statement>, String> {
    if let Some(lease) = lease_table::parse(text) {
        return Ok(vec![Statement::Lease(lease)]);
    }
    if is_voters_by_locality(text) {
        return Ok(vec![Statement::VotersByLocality]);
    }
    lexer::statements(text)?
        .into_iter()
        .map(|tokens| Parser::new(tokens, text).statement())
        .collect()
}

/// Exactly one statement, with or without a trailing `;`.
pub fn parse_statement(text: &str) -> Result<Statement, String> {
    let mut all = parse_script(text)?;
    match all.len() {
        1 => Ok(all.remove(0)),
        _ => Err(format!(
            "ERROR: the sandbox does not emulate the statement {:?}",
            text.trim()
        )),
    }
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    text: &'a str,
}

impl<'a> Parser<'a> {
    fn new(tokens: Vec<Token>, text: &'a str) -> Self {
        Parser {
            tokens,
            at: 0,
            text,
        }
    }

    fn unsupported(&self) -> String {
        format!(
            "ERROR: the sandbox does not emulate the statement {:?}",
            self.text.trim().trim_end_matches(';').trim()
        )
    }

    fn syntax_error(&self) -> String {
        let near = match self.tokens.get(self.at) {
            None => "EOF".to_string(),
            Some(Token::Word(w) | Token::Number(w)) => w.clone(),
            Some(Token::Quoted(q)) => format!("\"{q}\""),
            Some(Token::Str(s)) => format!("'{s}'"),
            Some(Token::Symbol(c)) => c.to_string(),
        };
        format!("ERROR: at or near \"{near}\": syntax error\nSQLSTATE: 42601")
    }

    fn peek_word(&self, k: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w == k)
    }

    /// Consumes the keyword when it is next.
    fn eat(&mut self, k: &str) -> bool {
        let found = self.peek_word(k);
        self.at += usize::from(found);
        found
    }

    fn eat_all(&mut self, ks: &[&str]) -> bool {
        let found = ks
            .iter()
            .enumerate()
            .all(|(i, k)| matches!(self.tokens.get(self.at + i), Some(Token::Word(w)) if w == k));
        if found {
            self.at += ks.len();
        }
        found
    }

    fn expect(&mut self, k: &str) -> Result<(), String> {
        if self.eat(k) {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    fn eat_symbol(&mut self, c: char) -> bool {
        let found = self.tokens.get(self.at) == Some(&Token::Symbol(c));
        self.at += usize::from(found);
        found
    }

    fn name(&mut self) -> Result<String, String> {
        match self.tokens.get(self.at).and_then(Token::name) {
            Some(n) => {
                let n = n.to_string();
                self.at += 1;
                Ok(n)
            }
            None => Err(self.syntax_error()),
        }
    }

    /// A region name: an identifier or a string constant.
    fn region(&mut self) -> Result<String, String> {
        if let Some(Token::Str(s)) = self.tokens.get(self.at) {
            let s = s.clone();
            self.at += 1;
            return Ok(s);
        }
        self.name()
    }

    fn names(&mut self) -> Result<Vec<String>, String> {
        let mut out = vec![self.name()?];
        while self.eat_symbol(',') {
            out.push(self.name()?);
        }
        Ok(out)
    }

    fn string(&mut self) -> Result<String, String> {
        match self.tokens.get(self.at) {
            Some(Token::Str(s)) => {
                let s = s.clone();
                self.at += 1;
                Ok(s)
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn end(&self) -> Result<(), String> {
        if self.at == self.tokens.len() {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    fn done(&self, s: Statement) -> Result<Statement, String> {
        self.end().map(|()| s)
    }

    fn statement(mut self) -> Result<Statement, String> {
        if self.eat("create") {
            return self.create();
        }
        if self.eat("alter") {
            return self.alter();
        }
        if self.eat("drop") {
            return self.drop();
        }
        if self.eat("grant") {
            let roles = self.names()?;
            self.expect("to")?;
            let members = self.names()?;
            let admin_option = self.eat_all(&["with", "admin", "option"]);
            return self.done(Statement::GrantRoles {
                roles,
                members,
                admin_option,
            });
        }
        if self.eat("revoke") {
            self.eat_all(&["admin", "option", "for"]);
            let roles = self.names()?;
            self.expect("from")?;
            let members = self.names()?;
            return self.done(Statement::RevokeRoles { roles, members });
        }
        if self.eat("show") {
            return self.show();
        }
        if self.eat("begin") {
            self.eat("transaction");
            return self.done(Statement::Begin);
        }
        if self.eat("commit") {
            self.eat("transaction");
            return self.done(Statement::Commit);
        }
        if self.eat_all(&["set", "cluster", "setting"]) {
            let name = self.setting_name()?;
            if !(self.eat_symbol('=') || self.eat("to")) {
                return Err(self.syntax_error());
            }
            let value = match self.tokens.get(self.at) {
                Some(Token::Str(s) | Token::Word(s) | Token::Number(s) | Token::Quoted(s)) => {
                    s.clone()
                }
                _ => return Err(self.syntax_error()),
            };
            self.at += 1;
            return self.done(Statement::SetClusterSetting { name, value });
        }
        if self.eat_all(&["reset", "cluster", "setting"]) {
            let name = self.setting_name()?;
            return self.done(Statement::ResetClusterSetting { name });
        }
        Err(self.unsupported())
    }

    /// A dotted setting name (`cluster.preserve_downgrade_option`).
    fn setting_name(&mut self) -> Result<String, String> {
        let mut name = self.name()?;
        while self.eat_symbol('.') {
            name.push('.');
            name.push_str(&self.name()?);
        }
        Ok(name.to_ascii_lowercase())
    }

    fn create(&mut self) -> Result<Statement, String> {
        let login = if self.eat("user") {
            true
        } else if self.eat("role") {
            false
        } else if self.eat("database") {
            return self.create_database();
        } else if self.eat("table") {
            return self.create_table();
        } else {
            return Err(self.unsupported());
        };
        let if_not_exists = self.eat_all(&["if", "not", "exists"]);
        let name = self.name()?;
        let options = self.role_options()?;
        self.done(Statement::CreateRole {
            name,
            if_not_exists,
            login: options.login.unwrap_or(login),
            password: options.password,
        })
    }

    fn role_options(&mut self) -> Result<RoleOptions, String> {
        self.eat("with");
        let mut options = RoleOptions::default();
        while self.at < self.tokens.len() {
            if self.eat("password") {
                options.password = Some(if self.eat("null") {
                    Password::Null
                } else {
                    Password::Set(self.string()?)
                });
            } else if self.eat("login") {
                options.login = Some(true);
            } else if self.eat("nologin") {
                options.login = Some(false);
            } else {
                return Err(self.unsupported());
            }
        }
        Ok(options)
    }

    fn create_database(&mut self) -> Result<Statement, String> {
        let if_not_exists = self.eat_all(&["if", "not", "exists"]);
        let name = self.name()?;
        let (mut primary_region, mut regions, mut survival) = (None, Vec::new(), None);
        while self.at < self.tokens.len() {
            if self.eat_all(&["primary", "region"]) {
                self.eat_symbol('=');
                primary_region = Some(self.region()?);
            } else if self.eat("regions") {
                self.eat_symbol('=');
                regions.push(self.region()?);
                while self.eat_symbol(',') {
                    regions.push(self.region()?);
                }
            } else if self.eat("survive") {
                survival = Some(self.survival()?);
            } else {
                return Err(self.unsupported());
            }
        }
        self.done(Statement::CreateDatabase {
            name,
            if_not_exists,
            primary_region,
            regions,
            survival,
        })
    }

    fn survival(&mut self) -> Result<SurvivalGoal, String> {
        let goal = if self.eat("zone") {
            SurvivalGoal::Zone
        } else if self.eat("region") {
            SurvivalGoal::Region
        } else {
            return Err(self.syntax_error());
        };
        self.expect("failure")?;
        Ok(goal)
    }

    /// `CREATE TABLE [IF NOT EXISTS] [db.]name ...`; what follows the name is not looked at.
    fn create_table(&mut self) -> Result<Statement, String> {
        let if_not_exists = self.eat_all(&["if", "not", "exists"]);
        let first = self.name()?;
        let (database, name) = if self.eat_symbol('.') {
            (Some(first), self.name()?)
        } else {
            (None, first)
        };
        self.at = self.tokens.len();
        Ok(Statement::CreateTable {
            database,
            name,
            if_not_exists,
        })
    }

    fn alter(&mut self) -> Result<Statement, String> {
        if self.eat("user") || self.eat("role") {
            let if_exists = self.eat_all(&["if", "exists"]);
            let name = self.name()?;
            let options = self.role_options()?;
            return self.done(Statement::AlterRole {
                name,
                if_exists,
                password: options.password,
                login: options.login,
            });
        }
        if self.eat("database") {
            let name = self.name()?;
            let change = if self.eat_all(&["add", "region"]) {
                let if_not_exists = self.eat_all(&["if", "not", "exists"]);
                AlterDatabase::AddRegion {
                    region: self.region()?,
                    if_not_exists,
                }
            } else if self.eat_all(&["drop", "region"]) {
                let if_exists = self.eat_all(&["if", "exists"]);
                AlterDatabase::DropRegion {
                    region: self.region()?,
                    if_exists,
                }
            } else if self.eat_all(&["set", "primary", "region"])
                || self.eat_all(&["primary", "region"])
            {
                self.eat_symbol('=');
                AlterDatabase::PrimaryRegion(self.region()?)
            } else if self.eat("survive") {
                AlterDatabase::Survive(self.survival()?)
            } else {
                return Err(self.unsupported());
            };
            return self.done(Statement::AlterDatabase { name, change });
        }
        if self.eat_all(&["range", "default", "configure", "zone", "using"]) {
            let key = self.name()?;
            if key != "num_replicas" || !self.eat_symbol('=') {
                return Err(self.unsupported());
            }
            let n = match self.tokens.get(self.at) {
                Some(Token::Number(n)) => n.parse().map_err(|_| self.syntax_error())?,
                _ => return Err(self.syntax_error()),
            };
            self.at += 1;
            return self.done(Statement::ConfigureDefaultZone { num_replicas: n });
        }
        Err(self.unsupported())
    }

    fn drop(&mut self) -> Result<Statement, String> {
        if self.eat("user") || self.eat("role") {
            let if_exists = self.eat_all(&["if", "exists"]);
            let names = self.names()?;
            return self.done(Statement::DropRoles { names, if_exists });
        }
        if self.eat("database") {
            let if_exists = self.eat_all(&["if", "exists"]);
            let name = self.name()?;
            let behavior = if self.eat("cascade") {
                DropBehavior::Cascade
            } else if self.eat("restrict") {
                DropBehavior::Restrict
            } else {
                DropBehavior::Default
            };
            return self.done(Statement::DropDatabase {
                name,
                if_exists,
                behavior,
            });
        }
        Err(self.unsupported())
    }

    fn show(&mut self) -> Result<Statement, String> {
        if self.eat("users") || self.eat("roles") {
            return self.done(Statement::ShowUsers);
        }
        if self.eat("databases") {
            return self.done(Statement::ShowDatabases);
        }
        if self.eat_all(&["cluster", "setting"]) {
            let name = self.setting_name()?;
            return self.done(Statement::ShowClusterSetting { name });
        }
        if self.eat_all(&["grants", "on", "role"]) {
            let roles = if self.at < self.tokens.len() && !self.peek_word("for") {
                self.names()?
            } else {
                Vec::new()
            };
            let members = if self.eat("for") {
                self.names()?
            } else {
                Vec::new()
            };
            return self.done(Statement::ShowRoleGrants { roles, members });
        }
        if self.eat_all(&["zone", "configuration"]) {
            if !(self.eat("for") || self.eat("from")) {
                return Err(self.syntax_error());
            }
            if !self.eat_all(&["range", "default"]) {
                return Err(self.unsupported());
            }
            return self.done(Statement::ShowDefaultZone);
        }
        if self.eat_all(&["regions", "from", "database"]) {
            let name = self.name()?;
            return self.done(Statement::ShowRegionsFromDatabase { name });
        }
        if self.eat_all(&["survival", "goal", "from", "database"]) {
            let name = self.name()?;
            return self.done(Statement::ShowSurvivalGoal { name });
        }
        Err(self.unsupported())
    }
}

#[derive(Default)]
struct RoleOptions {
    password: Option<Password>,
    login: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_setting_statements_parse_and_others_are_refused() {
        assert_eq!(
            parse_statement("SET CLUSTER SETTING cluster.preserve_downgrade_option = '24.1';"),
            Ok(Statement::SetClusterSetting {
                name: "cluster.preserve_downgrade_option".into(),
                value: "24.1".into()
            })
        );
        assert_eq!(
            parse_statement("set cluster setting cluster.auto_upgrade.enabled to false"),
            Ok(Statement::SetClusterSetting {
                name: "cluster.auto_upgrade.enabled".into(),
                value: "false".into()
            })
        );
        assert_eq!(
            parse_statement(" RESET CLUSTER SETTING cluster.preserve_downgrade_option ; "),
            Ok(Statement::ResetClusterSetting {
                name: "cluster.preserve_downgrade_option".into()
            })
        );
        assert_eq!(
            parse_statement("SHOW CLUSTER SETTING version"),
            Ok(Statement::ShowClusterSetting {
                name: "version".into()
            })
        );
        assert_eq!(
            parse_statement("ALTER RANGE default CONFIGURE ZONE USING num_replicas = 5;"),
            Ok(Statement::ConfigureDefaultZone { num_replicas: 5 })
        );
        for other in [
            "ALTER RANGE default CONFIGURE ZONE USING gc.ttlseconds = 600",
            "SELECT 1",
            "DROP TABLE t",
        ] {
            assert!(
                parse_statement(other)
                    .unwrap_err()
                    .contains("does not emulate"),
                "{other}"
            );
        }
        for broken in ["SET CLUSTER SETTING x", "RESET CLUSTER SETTING"] {
            assert!(
                parse_statement(broken)
                    .unwrap_err()
                    .contains("syntax error"),
                "{broken}"
            );
        }
    }

    #[test]
    fn user_statements_parse_with_their_options() {
        assert_eq!(
            parse_statement("CREATE USER IF NOT EXISTS app WITH PASSWORD 'SCRAM-SHA-256$1:a$b:c'"),
            Ok(Statement::CreateRole {
                name: "app".into(),
                if_not_exists: true,
                login: true,
                password: Some(Password::Set("SCRAM-SHA-256$1:a$b:c".into()))
            })
        );
        assert_eq!(
            parse_statement("create role ops"),
            Ok(Statement::CreateRole {
                name: "ops".into(),
                if_not_exists: false,
                login: false,
                password: None
            })
        );
        assert_eq!(
            parse_statement("ALTER USER app WITH PASSWORD NULL"),
            Ok(Statement::AlterRole {
                name: "app".into(),
                if_exists: false,
                password: Some(Password::Null),
                login: None
            })
        );
        assert_eq!(
            parse_statement("GRANT admin, ops TO app"),
            Ok(Statement::GrantRoles {
                roles: vec!["admin".into(), "ops".into()],
                members: vec!["app".into()],
                admin_option: false
            })
        );
        assert_eq!(
            parse_statement("REVOKE admin FROM \"App\""),
            Ok(Statement::RevokeRoles {
                roles: vec!["admin".into()],
                members: vec!["App".into()]
            })
        );
        assert_eq!(
            parse_statement("SHOW GRANTS ON ROLE FOR app"),
            Ok(Statement::ShowRoleGrants {
                roles: vec![],
                members: vec!["app".into()]
            })
        );
        assert_eq!(
            format!("{:?}", Password::Set("hunter2".into())),
            "Set(<redacted>)"
        );
    }

    #[test]
    fn database_statements_parse_with_regions_and_goals() {
        assert_eq!(
            parse_statement(
                "CREATE DATABASE shop PRIMARY REGION \"us-east1\" REGIONS \"us-west1\", 'europe-west1' SURVIVE REGION FAILURE"
            ),
            Ok(Statement::CreateDatabase {
                name: "shop".into(),
                if_not_exists: false,
                primary_region: Some("us-east1".into()),
                regions: vec!["us-west1".into(), "europe-west1".into()],
                survival: Some(SurvivalGoal::Region)
            })
        );
        let alter = |text: &str| match parse_statement(text) {
            Ok(Statement::AlterDatabase { change, .. }) => change,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            alter("ALTER DATABASE shop ADD REGION IF NOT EXISTS \"us-west1\""),
            AlterDatabase::AddRegion {
                region: "us-west1".into(),
                if_not_exists: true
            }
        );
        assert_eq!(
            alter("ALTER DATABASE shop SET PRIMARY REGION = \"us-west1\""),
            AlterDatabase::PrimaryRegion("us-west1".into())
        );
        assert_eq!(
            alter("ALTER DATABASE shop SURVIVE ZONE FAILURE"),
            AlterDatabase::Survive(SurvivalGoal::Zone)
        );
        assert_eq!(
            parse_statement("DROP DATABASE IF EXISTS shop CASCADE"),
            Ok(Statement::DropDatabase {
                name: "shop".into(),
                if_exists: true,
                behavior: DropBehavior::Cascade
            })
        );
        assert_eq!(
            parse_statement("CREATE TABLE shop.orders (id INT PRIMARY KEY)"),
            Ok(Statement::CreateTable {
                database: Some("shop".into()),
                name: "orders".into(),
                if_not_exists: false
            })
        );
        assert_eq!(
            parse_script("SHOW USERS; SHOW GRANTS ON ROLE; SHOW DATABASES;").unwrap(),
            vec![
                Statement::ShowUsers,
                Statement::ShowRoleGrants {
                    roles: vec![],
                    members: vec![]
                },
                Statement::ShowDatabases
            ]
        );
    }

    #[test]
    fn the_default_zone_and_the_lease_protocol_parse() {
        for text in [
            "SHOW ZONE CONFIGURATION FOR RANGE default",
            "show zone configuration from range default;",
        ] {
            assert_eq!(
                parse_statement(text),
                Ok(Statement::ShowDefaultZone),
                "{text}"
            );
        }
        assert!(parse_statement("SHOW ZONE CONFIGURATION FOR RANGE meta")
            .unwrap_err()
            .contains("does not emulate"));
        let release =
            "DELETE FROM crdb_provider.disruption_lease WHERE id = 'disruption' AND holder = 'abc'";
        assert!(matches!(
            parse_statement(release),
            Ok(Statement::Lease(LeaseStatement::Release { .. }))
        ));
    }
}
