//! The resource types (managed and ephemeral) this provider serves, with their schemas computed once.
use crate::framework::diag::Diagnostics;
use crate::framework::{Block, EphemeralResource, Resource, Schema, Type};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Entry {
    pub resource: Arc<dyn Resource>,
    pub schema: Schema,
    pub value_type: Type,
}

impl Entry {
    pub fn type_name(&self) -> &'static str {
        self.resource.type_name()
    }
}

pub struct EphemeralEntry {
    pub resource: Arc<dyn EphemeralResource>,
    pub schema: Schema,
    pub value_type: Type,
}

impl EphemeralEntry {
    pub fn type_name(&self) -> &'static str {
        self.resource.type_name()
    }
}

pub struct Registry {
    entries: BTreeMap<&'static str, Entry>,
    ephemeral: BTreeMap<&'static str, EphemeralEntry>,
}

impl Registry {
    pub fn new(resources: Vec<Arc<dyn Resource>>) -> Self {
        let entries = resources
            .into_iter()
            .map(|resource| {
                let schema = resource.schema();
                let value_type = schema.value_type();
                (
                    resource.type_name(),
                    Entry {
                        resource,
                        schema,
                        value_type,
                    },
                )
            })
            .collect();
        Registry {
            entries,
            ephemeral: BTreeMap::new(),
        }
    }

    /// The registry serving `resources` as ephemeral resource types too.
    pub fn with_ephemeral(mut self, resources: Vec<Arc<dyn EphemeralResource>>) -> Self {
        for resource in resources {
            let schema = resource.schema();
            let value_type = schema.value_type();
            let entry = EphemeralEntry {
                resource,
                schema,
                value_type,
            };
            self.ephemeral.insert(entry.resource.type_name(), entry);
        }
        self
    }

    /// Every resource type of the crdb provider, managed and ephemeral.
    pub fn crdb() -> Self {
        Registry::new(crate::resources::all()).with_ephemeral(crate::resources::all_ephemeral())
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    pub fn lookup(&self, type_name: &str, diags: &mut Diagnostics) -> Option<&Entry> {
        let entry = self.entries.get(type_name);
        if entry.is_none() {
            diags.error(
                "Unknown resource type",
                format!("This provider has no resource type {type_name:?}."),
            );
        }
        entry
    }

    pub fn ephemeral_entries(&self) -> impl Iterator<Item = &EphemeralEntry> {
        self.ephemeral.values()
    }

    pub fn lookup_ephemeral(
        &self,
        type_name: &str,
        diags: &mut Diagnostics,
    ) -> Option<&EphemeralEntry> {
        let entry = self.ephemeral.get(type_name);
        if entry.is_none() {
            // terraform-plugin-framework's answer, which clients and users know.
            diags.error(
                "Ephemeral Resource Type Not Found",
                format!(
                    "No ephemeral resource type named {type_name:?} was found in the provider."
                ),
            );
        }
        entry
    }
}

/// The `provider "crdb" {}` block: every connection lives on the resources, so that a cluster
/// created in the same configuration can be used before it exists.
pub fn provider_schema() -> Schema {
    Schema {
        version: 0,
        block: Block::new(
            "The crdb provider has no settings: each `crdb_region` and `crdb_dns_link` carries its own Kubernetes connection.",
        ),
    }
}
