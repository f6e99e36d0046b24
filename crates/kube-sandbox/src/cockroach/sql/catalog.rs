//! Users, roles, role memberships and databases of one emulated cluster, with CockroachDB's rules and error
//! texts. Pure: the regions a database may use are passed in (the regions of the nodes' localities).

use std::collections::{BTreeMap, BTreeSet};

use super::parse::{AlterDatabase, DropBehavior, Password, SurvivalGoal};
use super::scram;

pub const ROOT: &str = "root";
pub const ADMIN: &str = "admin";
const MIN_REGIONS_FOR_REGION_SURVIVAL: usize = 3;

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Role {
    pub login: bool,
    /// The stored SCRAM hash, never the cleartext.
    pub hash: Option<String>,
}

impl std::fmt::Debug for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Role")
            .field("login", &self.login)
            .field("has_password", &self.hash.is_some())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub primary_region: Option<String>,
    /// Every region of the database, the primary one included.
    pub regions: BTreeSet<String>,
    pub survival: SurvivalGoal,
    pub tables: BTreeSet<String>,
}

impl Database {
    fn new() -> Database {
        Database {
            primary_region: None,
            regions: BTreeSet::new(),
            survival: SurvivalGoal::Zone,
            tables: BTreeSet::new(),
        }
    }

    pub fn multi_region(&self) -> bool {
        self.primary_region.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub roles: BTreeMap<String, Role>,
    /// (role, member) -> the member may grant the role (`WITH ADMIN OPTION`).
    pub grants: BTreeMap<(String, String), bool>,
    pub databases: BTreeMap<String, Database>,
}

impl Default for Catalog {
    /// What `cockroach init` creates: `root` (a member of `admin`) and the databases every cluster has.
    fn default() -> Self {
        let roles = [
            (
                ROOT.to_string(),
                Role {
                    login: true,
                    hash: None,
                },
            ),
            (ADMIN.to_string(), Role::default()),
        ]
        .into();
        let databases = ["defaultdb", "postgres", "system"]
            .map(|d| (d.to_string(), Database::new()))
            .into();
        Catalog {
            roles,
            grants: [((ADMIN.to_string(), ROOT.to_string()), true)].into(),
            databases,
        }
    }
}

type Sql<T> = Result<T, String>;

fn undefined_role(name: &str) -> String {
    format!("ERROR: role/user \"{name}\" does not exist\nSQLSTATE: 42704")
}

fn undefined_database(name: &str) -> String {
    format!("ERROR: database \"{name}\" does not exist\nSQLSTATE: 3D000")
}

fn too_few_regions(hint: &str) -> String {
    format!(
        "ERROR: at least {MIN_REGIONS_FOR_REGION_SURVIVAL} regions are required for surviving a region failure\nSQLSTATE: 22023\nHINT: {hint}"
    )
}

const SURVIVAL_HINT: &str =
    "you must add additional regions to the database or change the survivability goal";

/// CockroachDB's username rule: lower case after normalisation, starting with a letter, digit or underscore,
/// then letters, digits, dashes, periods or underscores, at most 63 characters.
pub fn valid_username(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_lowercase() || c.is_ascii_digit() || c == '_');
    first_ok
        && name.chars().count() <= 63
        && chars.all(|c| c.is_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'))
}

/// CockroachDB's reserved role names (`SQLUsername.IsReserved`): no role of these names can be created.
pub fn reserved_role(name: &str) -> bool {
    matches!(name, "public" | "none" | "node")
        || name.starts_with("pg_")
        || name.starts_with("crdb_internal_")
}

/// The stored form of a `PASSWORD` option: a pre-hashed SCRAM password as given, a cleartext one hashed.
fn stored(password: &Password, salt: &[u8]) -> Option<String> {
    match password {
        Password::Null => None,
        Password::Set(p) if scram::is_hash(p) => Some(p.clone()),
        Password::Set(p) => Some(scram::hash(p, salt, scram::DEFAULT_ITERATIONS)),
    }
}

impl Catalog {
    fn role(&self, name: &str) -> Sql<&Role> {
        self.roles.get(name).ok_or_else(|| undefined_role(name))
    }

    /// `CREATE USER|ROLE`; `salt` is used only to hash a cleartext password.
    pub fn create_role(
        &mut self,
        name: &str,
        if_not_exists: bool,
        login: bool,
        password: Option<&Password>,
        salt: &[u8],
    ) -> Sql<()> {
        if !valid_username(name) {
            return Err(format!(
                "ERROR: username \"{name}\" invalid; usernames are case insensitive, must start with a letter, digit or underscore, may contain letters, digits, dashes, periods, or underscores, and must not exceed 63 characters\nSQLSTATE: 42939"
            ));
        }
        if reserved_role(name) {
            return Err(format!(
                "ERROR: role name \"{name}\" is reserved\nSQLSTATE: 42939"
            ));
        }
        if self.roles.contains_key(name) {
            if if_not_exists {
                return Ok(());
            }
            return Err(format!(
                "ERROR: a role/user named {name} already exists\nSQLSTATE: 42710"
            ));
        }
        let hash = password.and_then(|p| stored(p, salt));
        self.roles.insert(name.to_string(), Role { login, hash });
        Ok(())
    }

    pub fn alter_role(
        &mut self,
        name: &str,
        if_exists: bool,
        password: Option<&Password>,
        login: Option<bool>,
        salt: &[u8],
    ) -> Sql<()> {
        let Some(role) = self.roles.get_mut(name) else {
            return if if_exists {
                Ok(())
            } else {
                Err(undefined_role(name))
            };
        };
        if let Some(p) = password {
            role.hash = stored(p, salt);
        }
        if let Some(l) = login {
            role.login = l;
        }
        Ok(())
    }

    /// `DROP USER|ROLE`: every name is checked before any is dropped.
    pub fn drop_roles(&mut self, names: &[String], if_exists: bool) -> Sql<()> {
        for name in names {
            if name == ROOT || name == ADMIN || name == "public" {
                return Err(format!(
                    "ERROR: cannot drop special role {name}\nSQLSTATE: 22023"
                ));
            }
            if !if_exists {
                self.role(name)?;
            }
        }
        for name in names {
            self.roles.remove(name);
            self.grants.retain(|(r, m), _| r != name && m != name);
        }
        Ok(())
    }

    /// Whether `member` is `role` or belongs to it, directly or through other roles.
    fn belongs(&self, member: &str, role: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo = vec![member.to_string()];
        while let Some(m) = todo.pop() {
            if m == role {
                return true;
            }
            if seen.insert(m.clone()) {
                todo.extend(
                    self.grants
                        .keys()
                        .filter(|(_, mm)| *mm == m)
                        .map(|(r, _)| r.clone()),
                );
            }
        }
        false
    }

    pub fn grant_roles(&mut self, roles: &[String], members: &[String], admin: bool) -> Sql<()> {
        for name in roles.iter().chain(members) {
            self.role(name)?;
        }
        for role in roles {
            for member in members {
                if role == member {
                    return Err(format!(
                        "ERROR: {member} cannot be a member of itself\nSQLSTATE: 0LP01"
                    ));
                }
                if self.belongs(role, member) {
                    return Err(format!(
                        "ERROR: making {member} a member of {role} would create a cycle\nSQLSTATE: 0LP01"
                    ));
                }
            }
        }
        for role in roles {
            for member in members {
                let option = self
                    .grants
                    .entry((role.clone(), member.clone()))
                    .or_default();
                *option |= admin;
            }
        }
        Ok(())
    }

    pub fn revoke_roles(&mut self, roles: &[String], members: &[String]) -> Sql<()> {
        for name in roles.iter().chain(members) {
            self.role(name)?;
        }
        if roles.iter().any(|r| r == ADMIN) && members.iter().any(|m| m == ROOT) {
            return Err(format!(
                "ERROR: user {ROOT} cannot be removed from role {ADMIN} or lose the ADMIN OPTION\nSQLSTATE: 42501"
            ));
        }
        for role in roles {
            for member in members {
                self.grants.remove(&(role.clone(), member.clone()));
            }
        }
        Ok(())
    }

    /// The roles `member` belongs to directly.
    pub fn member_of(&self, member: &str) -> Vec<String> {
        self.grants
            .keys()
            .filter(|(_, m)| m == member)
            .map(|(r, _)| r.clone())
            .collect()
    }

    fn database_mut(&mut self, name: &str) -> Sql<&mut Database> {
        self.databases
            .get_mut(name)
            .ok_or_else(|| undefined_database(name))
    }

    pub fn database(&self, name: &str) -> Sql<&Database> {
        self.databases
            .get(name)
            .ok_or_else(|| undefined_database(name))
    }

    /// `CREATE DATABASE`; `cluster_regions` are the regions of the nodes' localities. Ok(false): it existed
    /// and `IF NOT EXISTS` was given.
    pub fn create_database(
        &mut self,
        name: &str,
        if_not_exists: bool,
        primary: Option<&str>,
        regions: &[String],
        survival: Option<SurvivalGoal>,
        cluster_regions: &BTreeSet<String>,
    ) -> Sql<bool> {
        if self.databases.contains_key(name) {
            if if_not_exists {
                return Ok(false);
            }
            return Err(format!(
                "ERROR: database \"{name}\" already exists\nSQLSTATE: 42P04"
            ));
        }
        let mut db = Database::new();
        match primary {
            None if !regions.is_empty() => return Err(
                "ERROR: PRIMARY REGION must be specified if REGIONS are specified\nSQLSTATE: 42P16"
                    .into(),
            ),
            None if survival.is_some() => {
                return Err(
                    "ERROR: PRIMARY REGION must be specified when using SURVIVE\nSQLSTATE: 42P16"
                        .into(),
                )
            }
            None => {}
            Some(p) => {
                let mut all = BTreeSet::new();
                for r in std::iter::once(p).chain(regions.iter().map(String::as_str)) {
                    check_cluster_region(r, cluster_regions)?;
                    if !all.insert(r.to_string()) && r != p {
                        return Err(format!(
                            "ERROR: region \"{r}\" defined multiple times\nSQLSTATE: 42710"
                        ));
                    }
                }
                let goal = survival.unwrap_or(SurvivalGoal::Zone);
                if goal == SurvivalGoal::Region && all.len() < MIN_REGIONS_FOR_REGION_SURVIVAL {
                    return Err(too_few_regions(SURVIVAL_HINT));
                }
                db.primary_region = Some(p.to_string());
                db.regions = all;
                db.survival = goal;
            }
        }
        self.databases.insert(name.to_string(), db);
        Ok(true)
    }

    pub fn alter_database(
        &mut self,
        name: &str,
        change: &AlterDatabase,
        cluster_regions: &BTreeSet<String>,
    ) -> Sql<()> {
        let db = self.database_mut(name)?;
        match change {
            AlterDatabase::AddRegion {
                region,
                if_not_exists,
            } => {
                check_cluster_region(region, cluster_regions)?;
                if !db.multi_region() {
                    return Err(format!(
                        "ERROR: cannot add region \"{region}\" to database {name}\nSQLSTATE: 42P16\nHINT: you must add a PRIMARY REGION first using ALTER DATABASE {name} PRIMARY REGION \"{region}\""
                    ));
                }
                if db.regions.contains(region) {
                    if *if_not_exists {
                        return Ok(());
                    }
                    return Err(format!(
                        "ERROR: region \"{region}\" already added to database\nSQLSTATE: 42710"
                    ));
                }
                db.regions.insert(region.clone());
            }
            AlterDatabase::DropRegion { region, if_exists } => {
                if !db.regions.contains(region) {
                    if *if_exists {
                        return Ok(());
                    }
                    return Err(format!(
                        "ERROR: region \"{region}\" has not been added to the database\nSQLSTATE: 42704"
                    ));
                }
                if db.primary_region.as_deref() == Some(region.as_str()) && db.regions.len() > 1 {
                    return Err(format!(
                        "ERROR: cannot drop region \"{region}\"\nSQLSTATE: 42P12\nHINT: You must designate another region as the primary region using ALTER DATABASE {name} PRIMARY REGION <region name> or remove all other regions before attempting to drop region \"{region}\""
                    ));
                }
                if db.survival == SurvivalGoal::Region
                    && db.regions.len() <= MIN_REGIONS_FOR_REGION_SURVIVAL
                {
                    return Err(too_few_regions(SURVIVAL_HINT));
                }
                db.regions.remove(region);
                if db.regions.is_empty() {
                    db.primary_region = None;
                    db.survival = SurvivalGoal::Zone;
                }
            }
            AlterDatabase::PrimaryRegion(region) => {
                check_cluster_region(region, cluster_regions)?;
                if db.multi_region() && !db.regions.contains(region) {
                    return Err(format!(
                        "ERROR: region \"{region}\" has not been added to the database\nSQLSTATE: 42704\nHINT: you must add the region to the database before setting it as primary region, using ALTER DATABASE {name} ADD REGION \"{region}\""
                    ));
                }
                db.regions.insert(region.clone());
                db.primary_region = Some(region.clone());
            }
            AlterDatabase::Survive(goal) => {
                if !db.multi_region() {
                    return Err(
                        "ERROR: database must have associated regions before a survival goal can be set\nSQLSTATE: 42P16\nHINT: you must first add a primary region to the database using ALTER DATABASE <db_name> PRIMARY REGION <region_name>".into(),
                    );
                }
                if *goal == SurvivalGoal::Region
                    && db.regions.len() < MIN_REGIONS_FOR_REGION_SURVIVAL
                {
                    return Err(too_few_regions(&format!(
                        "you must add additional regions to the database using ALTER DATABASE {name} ADD REGION <region_name>"
                    )));
                }
                db.survival = *goal;
            }
        }
        Ok(())
    }

    /// `DROP DATABASE`: Ok(false) when it did not exist and `IF EXISTS` was given. The SQL client run with
    /// `-e`/`--file` does not turn `sql_safe_updates` on, so the default behaviour is CASCADE, as CockroachDB's.
    pub fn drop_database(
        &mut self,
        name: &str,
        if_exists: bool,
        behavior: DropBehavior,
    ) -> Sql<bool> {
        if name == "system" {
            return Err("ERROR: cannot drop the system database\nSQLSTATE: 42501".into());
        }
        let Some(db) = self.databases.get(name) else {
            return if if_exists {
                Ok(false)
            } else {
                Err(undefined_database(name))
            };
        };
        if behavior == DropBehavior::Restrict && !db.tables.is_empty() {
            return Err(format!(
                "ERROR: database \"{name}\" is not empty and RESTRICT was specified\nSQLSTATE: 2BP01"
            ));
        }
        self.databases.remove(name);
        Ok(true)
    }

    pub fn create_table(&mut self, database: &str, name: &str, if_not_exists: bool) -> Sql<()> {
        let db = self.database_mut(database)?;
        if !db.tables.insert(name.to_string()) && !if_not_exists {
            return Err(format!(
                "ERROR: relation \"{database}.public.{name}\" already exists\nSQLSTATE: 42P07"
            ));
        }
        Ok(())
    }
}

fn check_cluster_region(region: &str, cluster_regions: &BTreeSet<String>) -> Sql<()> {
    if cluster_regions.contains(region) {
        return Ok(());
    }
    let valid: Vec<&str> = cluster_regions.iter().map(String::as_str).collect();
    Err(format!(
        "ERROR: region \"{region}\" does not exist\nSQLSTATE: 42602\nHINT: valid regions: {}",
        valid.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> BTreeSet<String> {
        ["r1", "r2", "r3"].map(String::from).into()
    }

    #[test]
    fn users_are_created_once_and_passwords_are_stored_hashed() {
        let mut c = Catalog::default();
        c.create_role(
            "app",
            false,
            true,
            Some(&Password::Set("pw".into())),
            b"salt",
        )
        .unwrap();
        let hash = c.roles["app"].hash.clone().unwrap();
        assert!(scram::verify(&hash, "pw") && !hash.contains("pw$"));
        assert_eq!(
            c.create_role("app", false, true, None, b"s").unwrap_err(),
            "ERROR: a role/user named app already exists\nSQLSTATE: 42710"
        );
        assert!(c.create_role("app", true, true, None, b"s").is_ok());
        assert!(c
            .create_role("Bad!", false, true, None, b"s")
            .unwrap_err()
            .contains("username \"Bad!\" invalid"));
        let prehashed = scram::hash("other", b"pepper", 4096);
        c.alter_role(
            "app",
            false,
            Some(&Password::Set(prehashed.clone())),
            None,
            b"s",
        )
        .unwrap();
        assert_eq!(c.roles["app"].hash.as_deref(), Some(prehashed.as_str()));
        assert!(c
            .alter_role("ghost", false, None, None, b"s")
            .unwrap_err()
            .contains("role/user \"ghost\" does not exist"));
        assert!(!format!("{:?}", c.roles["app"]).contains("SCRAM"));
    }

    #[test]
    fn memberships_are_granted_revoked_and_dropped_with_the_user() {
        let mut c = Catalog::default();
        c.create_role("app", false, true, None, b"s").unwrap();
        c.grant_roles(&["admin".into()], &["app".into()], false)
            .unwrap();
        assert_eq!(c.member_of("app"), vec!["admin"]);
        assert!(c
            .grant_roles(&["app".into()], &["admin".into()], false)
            .unwrap_err()
            .contains("would create a cycle"));
        assert!(c
            .grant_roles(&["nope".into()], &["app".into()], false)
            .is_err());
        assert!(c.revoke_roles(&["admin".into()], &["root".into()]).is_err());
        c.revoke_roles(&["admin".into()], &["app".into()]).unwrap();
        assert!(c.member_of("app").is_empty());
        c.grant_roles(&["admin".into()], &["app".into()], false)
            .unwrap();
        c.drop_roles(&["app".into()], false).unwrap();
        assert!(!c.grants.keys().any(|(_, m)| m == "app"));
        assert!(c.drop_roles(&["root".into()], true).is_err());
        assert_eq!(
            c.grant_roles(&["admin".into()], &["admin".into()], false)
                .unwrap_err(),
            "ERROR: admin cannot be a member of itself\nSQLSTATE: 0LP01"
        );
        assert!(c
            .grant_roles(&["public".into()], &["root".into()], false)
            .unwrap_err()
            .contains("role/user \"public\" does not exist"));
    }

    #[test]
    fn reserved_names_cannot_be_created_and_built_in_ones_exist() {
        let mut c = Catalog::default();
        for name in ["public", "none", "node", "pg_monitor", "crdb_internal_x"] {
            assert_eq!(
                c.create_role(name, true, true, None, b"s").unwrap_err(),
                format!("ERROR: role name \"{name}\" is reserved\nSQLSTATE: 42939")
            );
        }
        assert!(c
            .create_role("root", false, true, None, b"s")
            .unwrap_err()
            .contains("SQLSTATE: 42710"));
        for db in ["defaultdb", "postgres", "system"] {
            assert!(c
                .create_database(db, false, None, &[], None, &regions())
                .unwrap_err()
                .contains("SQLSTATE: 42P04"));
        }
    }

    #[test]
    fn database_regions_follow_cockroachdb_rules() {
        let mut c = Catalog::default();
        let r = regions();
        let err = c
            .create_database("d", false, Some("mars"), &[], None, &r)
            .unwrap_err();
        assert_eq!(
            err,
            "ERROR: region \"mars\" does not exist\nSQLSTATE: 42602\nHINT: valid regions: r1, r2, r3"
        );
        assert!(c
            .create_database(
                "d",
                false,
                Some("r1"),
                &["r2".into()],
                Some(SurvivalGoal::Region),
                &r
            )
            .unwrap_err()
            .contains("at least 3 regions are required for surviving a region failure"));
        c.create_database("d", false, Some("r1"), &["r2".into()], None, &r)
            .unwrap();
        let survive = |g| AlterDatabase::Survive(g);
        assert!(c
            .alter_database("d", &survive(SurvivalGoal::Region), &r)
            .unwrap_err()
            .contains("ALTER DATABASE d ADD REGION"));
        let add = AlterDatabase::AddRegion {
            region: "r3".into(),
            if_not_exists: false,
        };
        c.alter_database("d", &add, &r).unwrap();
        assert!(c
            .alter_database("d", &add, &r)
            .unwrap_err()
            .contains("already added"));
        c.alter_database("d", &survive(SurvivalGoal::Region), &r)
            .unwrap();
        let drop = |region: &str| AlterDatabase::DropRegion {
            region: region.into(),
            if_exists: false,
        };
        assert!(c
            .alter_database("d", &drop("r3"), &r)
            .unwrap_err()
            .contains("at least 3 regions"));
        c.alter_database("d", &survive(SurvivalGoal::Zone), &r)
            .unwrap();
        assert!(c
            .alter_database("d", &drop("r1"), &r)
            .unwrap_err()
            .contains("cannot drop region \"r1\""));
        c.alter_database("d", &AlterDatabase::PrimaryRegion("r2".into()), &r)
            .unwrap();
        c.alter_database("d", &drop("r1"), &r).unwrap();
        assert_eq!(
            c.databases["d"].regions,
            ["r2", "r3"].map(String::from).into()
        );
        assert!(c
            .alter_database("defaultdb", &survive(SurvivalGoal::Zone), &r)
            .unwrap_err()
            .contains("must have associated regions"));
    }

    #[test]
    fn a_non_empty_database_is_dropped_only_without_restrict() {
        let mut c = Catalog::default();
        let r = regions();
        c.create_database("d", false, None, &[], None, &r).unwrap();
        c.create_table("d", "t", false).unwrap();
        assert_eq!(
            c.drop_database("d", false, DropBehavior::Restrict)
                .unwrap_err(),
            "ERROR: database \"d\" is not empty and RESTRICT was specified\nSQLSTATE: 2BP01"
        );
        assert_eq!(c.drop_database("d", false, DropBehavior::Cascade), Ok(true));
        assert_eq!(
            c.drop_database("d", true, DropBehavior::Restrict),
            Ok(false)
        );
        assert!(c
            .drop_database("d", false, DropBehavior::Restrict)
            .unwrap_err()
            .contains("database \"d\" does not exist"));
    }
}
