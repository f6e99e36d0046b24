//! The model and schema of `crdb_database`: a database, its regions and its survival goal.
use crate::framework::schema::Block;
use crate::framework::timeouts::{self, Operation};
use crate::framework::{Attr, Attribute, Schema, Type, Value};
use crate::resources::sql_object::zone_attribute;
use crate::tf_model;
use std::collections::BTreeSet;

pub const TYPE_NAME: &str = "crdb_database";
pub const SURVIVAL_ZONE: &str = "zone";
pub const SURVIVAL_REGION: &str = "region";
pub const SURVIVAL_GOALS: [&str; 2] = [SURVIVAL_ZONE, SURVIVAL_REGION];

tf_model! {
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct DatabaseModel {
        pub id: Attr<String>,
        pub name: Attr<String>,
        pub primary_region: Attr<String>,
        pub regions: Attr<Vec<Attr<String>>>,
        pub survival_goal: Attr<String>,
        pub cluster_regions: Attr<Vec<Attr<String>>>,
        pub force_destroy: Attr<bool>,
        pub zone: Attr<String>,
        pub kubernetes: Attr<Value>,
        pub timeouts: Attr<Value>,
    }
}

impl DatabaseModel {
    pub fn database(&self) -> String {
        self.name.known().cloned().unwrap_or_default()
    }

    pub fn primary(&self) -> Option<&String> {
        self.primary_region.known()
    }

    /// Every region of the database, the primary one included.
    pub fn region_set(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self
            .regions
            .known_items()
            .unwrap_or_default()
            .into_iter()
            .collect();
        all.extend(self.primary().cloned());
        all
    }

    pub fn survives_regions(&self) -> bool {
        self.survival_goal.known().map(String::as_str) == Some(SURVIVAL_REGION)
    }
}

pub fn schema(connection_block: Block) -> Schema {
    let s = || Type::String;
    Schema {
        version: 0,
        block: Block::new(
            "A database of the CockroachDB cluster. With a primary region it is a multi-region database: its data \
             lives in its regions, and its survival goal says what it outlives (`zone`: a zone, its voters in the \
             primary region; `region`: a whole region, 5 voters spread over at least 3 regions). Region and goal \
             changes apply in place with `ALTER DATABASE`.",
        )
        .attribute(Attribute::computed("id", s(), "The database name.").keep_prior_value_when_unset())
        .attribute(
            Attribute::required("name", s(), "The database name. A new name replaces the database.")
                .requires_replace(),
        )
        .attribute(Attribute::optional(
            "primary_region",
            s(),
            "The primary region (a `region` of the cluster's zones): where the database's leaseholders are, so \
             reads and writes are fastest from there. Unset for a database that is not multi-region.",
        ))
        .attribute(Attribute::optional_computed(
            "regions",
            Type::set(s()),
            "Every region of the database, the primary one included; defaults to the primary region alone.",
        ))
        .attribute(
            Attribute::optional(
                "survival_goal",
                s(),
                "`zone` (the default) or `region`, which needs at least 3 regions.",
            )
            .default(Value::string(SURVIVAL_ZONE)),
        )
        .attribute(Attribute::optional(
            "cluster_regions",
            Type::set(s()),
            "The regions of the cluster's zones, for example `[for r in crdb_region.all : r.region]`: when known, \
             the plan refuses a database region outside them instead of the apply.",
        ))
        .attribute(
            Attribute::optional(
                "force_destroy",
                Type::Bool,
                "Destroy drops the database with its tables (`DROP DATABASE ... CASCADE`). By default destroy \
                 refuses a database that still holds tables.",
            )
            .default(Value::Bool(false)),
        )
        .attribute(zone_attribute())
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
