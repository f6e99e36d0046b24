//! The model and schema of `crdb_sql_user`: one SQL user of the cluster, its password and its role memberships.
use crate::framework::schema::Block;
use crate::framework::timeouts::{self, Operation};
use crate::framework::{Attr, Attribute, Schema, Type, Value};
use crate::resources::sql_object;
use crate::tf_model;

pub const TYPE_NAME: &str = "crdb_sql_user";

tf_model! {
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct SqlUserModel {
        pub id: Attr<String>,
        pub name: Attr<String>,
        pub password: Attr<String>,
        pub password_wo: Attr<String>,
        pub password_wo_version: Attr<String>,
        pub roles: Attr<Vec<Attr<String>>>,
        pub zone: Attr<String>,
        pub kubernetes: Attr<Value>,
        pub timeouts: Attr<Value>,
    }
}

impl SqlUserModel {
    pub fn user(&self) -> String {
        self.name.known().cloned().unwrap_or_default()
    }

    /// The configured roles, sorted and without repeats.
    pub fn role_set(&self) -> std::collections::BTreeSet<String> {
        self.roles
            .known_items()
            .unwrap_or_default()
            .into_iter()
            .collect()
    }
}

pub fn schema(connection_block: Block) -> Schema {
    Schema {
        version: 0,
        block: Block::new(
            "A SQL user of the CockroachDB cluster, with an optional password and role memberships (`admin` opens \
             every page of the DB Console). The password is hashed (SCRAM-SHA-256) inside the provider; only the \
             hash reaches the cluster, in a short-lived Secret read by a SQL Job, never in a Job spec, command line \
             or log.",
        )
        .attribute(Attribute::computed("id", Type::String, "The user name.").keep_prior_value_when_unset())
        .attribute(
            Attribute::required(
                "name",
                Type::String,
                "The user name: lower case letters, digits, `_`, `-` or `.`, starting with a letter, digit or `_`, \
                 at most 63 characters. CockroachDB cannot rename a user: a new name replaces it.",
            )
            .requires_replace(),
        )
        .attribute(
            Attribute::optional(
                "password",
                Type::String,
                "The password for SQL and DB Console logins, kept (sensitive) in plan and state; prefer \
                 `password_wo`, which is never stored, with Terraform 1.11+ or OpenTofu 1.11+. Without either the \
                 user logs in with a client certificate only. Changing it changes the user in place. CockroachDB \
                 cannot show a password, so a change made outside Terraform is not detected. Conflicts with \
                 `password_wo`.",
            )
            .sensitive(),
        )
        .attribute(
            Attribute::optional(
                "password_wo",
                Type::String,
                "The password, write-only (recommended): hashed in the provider during apply and never stored in \
                 plan or state. Needs Terraform 1.11+ or OpenTofu 1.11+ (older clients are refused, since they would \
                 store it); use `password` with older ones. Since no earlier value is kept to compare with, a new \
                 password is applied when `password_wo_version` changes. Conflicts with `password`.",
            )
            .sensitive()
            .write_only(),
        )
        .attribute(Attribute::optional(
            "password_wo_version",
            Type::String,
            "Required with `password_wo`: any number or string (a number is stored as its string). Changing it \
             sets the password to `password_wo`'s value, in place, without replacing the user; removing \
             `password_wo` and changing it removes the password. Kept in state.",
        ))
        .attribute(
            Attribute::optional(
                "roles",
                Type::set(Type::String),
                "Roles the user is a member of, for example `[\"admin\"]`. A membership revoked outside Terraform \
                 shows as drift.",
            )
            .default(Value::Set(Vec::new())),
        )
        .attribute(sql_object::zone_attribute())
        .single_block("kubernetes", connection_block)
        .single_block(
            "timeouts",
            timeouts::block(&[
                Operation::Create,
                Operation::Read,
                Operation::Update,
                Operation::Delete,
            ]),
        ),
    }
}
