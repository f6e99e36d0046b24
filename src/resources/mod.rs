//! The resource types of the crdb provider, each a folder of the same shape (see `TEMPLATE.md`),
//! and what they share: the `kubernetes {}` connection block, input validation, import IDs.
pub(crate) mod certificates;
pub(crate) mod checks;
pub mod client_certificate;
pub mod connection;
pub mod database;
pub mod dns_link;
pub(crate) mod import_id;
mod lb_resolver;
pub mod multiregion_cluster;
pub mod region;
mod sql_object;
#[cfg(test)]
mod sql_oracle;
mod sql_runner;
pub mod sql_user;
mod zone_wait;

use crate::framework::Resource;
use std::sync::Arc;

pub fn all() -> Vec<Arc<dyn Resource>> {
    vec![
        Arc::new(multiregion_cluster::MultiregionCluster),
        Arc::new(region::Region),
        Arc::new(dns_link::DnsLink),
        Arc::new(sql_user::SqlUser::new()),
        Arc::new(database::Database::new()),
    ]
}

/// The ephemeral resource types of the crdb provider.
pub fn all_ephemeral() -> Vec<Arc<dyn crate::framework::EphemeralResource>> {
    vec![Arc::new(client_certificate::ClientCertificate)]
}

#[cfg(test)]
mod tests {
    use crate::framework::model::fields_mismatch;
    use crate::framework::{Block, Type};

    /// Names that hold a secret wherever they appear, an object type's fields included.
    fn holds_a_secret(name: &str) -> bool {
        name.ends_with("private_key")
            || name == "client_key"
            || name == "token"
            || name == "env"
            || (name.starts_with("password") && !name.ends_with("_version"))
    }

    /// Paths of secrets in `ty` (an attribute's type) that no sensitive attribute encloses.
    fn exposed_in_type(at: &str, ty: &Type, out: &mut Vec<String>) {
        match ty {
            Type::Object(fields) => {
                for (name, inner) in fields {
                    let path = format!("{at}.{name}");
                    if holds_a_secret(name) {
                        out.push(path.clone());
                    }
                    exposed_in_type(&path, inner, out);
                }
            }
            Type::List(inner) | Type::Set(inner) | Type::Map(inner) => {
                exposed_in_type(&format!("{at}[*]"), inner, out)
            }
            _ => {}
        }
    }

    fn exposed_in_block(at: &str, block: &Block, out: &mut Vec<String>) {
        for attribute in block.attributes.iter().filter(|a| !a.sensitive) {
            let path = format!("{at}{}", attribute.name);
            if holds_a_secret(attribute.name) {
                out.push(path.clone());
            }
            exposed_in_type(&path, &attribute.ty, out);
        }
        for nested in &block.blocks {
            exposed_in_block(&format!("{at}{}.", nested.name), &nested.block, out);
        }
    }

    /// Terraform hides what the schema marks sensitive, and only that, in every output built from the schema
    /// alone (refresh notes, plans of imported or failed resources): a key copied into an object attribute (the
    /// cluster a region nests) is shown unless the whole attribute is sensitive.
    #[test]
    fn every_private_key_token_password_and_credential_environment_is_inside_a_sensitive_attribute()
    {
        let managed = super::all()
            .into_iter()
            .map(|r| (r.type_name(), r.schema()));
        let ephemeral = super::all_ephemeral()
            .into_iter()
            .map(|r| (r.type_name(), r.schema()));
        for (type_name, schema) in managed.chain(ephemeral) {
            let mut exposed = Vec::new();
            exposed_in_block("", &schema.block, &mut exposed);
            assert!(exposed.is_empty(), "{type_name}: {exposed:?} not sensitive");
        }
    }

    #[test]
    fn the_client_certificate_model_has_a_field_for_each_schema_attribute() {
        use super::client_certificate::ClientCertificateModel;
        use crate::framework::model::Fields;
        let schema = super::all_ephemeral()
            .into_iter()
            .find(|r| r.type_name() == super::client_certificate::TYPE_NAME)
            .unwrap()
            .schema();
        let mismatch = fields_mismatch(ClientCertificateModel::FIELDS, schema.block.names());
        assert!(mismatch.is_empty(), "{mismatch:?}");
    }

    #[test]
    fn every_schema_attribute_has_a_model_field_and_every_field_an_attribute() {
        for resource in super::all() {
            let schema = resource.schema();
            let mismatch = fields_mismatch(resource.model_fields(), schema.block.names());
            assert!(
                mismatch.is_empty(),
                "{}: {mismatch:?}",
                resource.type_name()
            );
        }
    }
}
