//! The resource types of the crdb provider, each a folder of the same shape (see `TEMPLATE.md`),
//! and what they share: the `kubernetes {}` connection block, input validation, import IDs.
pub(crate) mod checks;
pub mod connection;
pub mod dns_link;
pub(crate) mod import_id;
mod lb_resolver;
pub mod multiregion_cluster;
pub mod region;
mod zone_wait;

use crate::framework::Resource;
use std::sync::Arc;

pub fn all() -> Vec<Arc<dyn Resource>> {
    vec![
        Arc::new(multiregion_cluster::MultiregionCluster),
        Arc::new(region::Region),
        Arc::new(dns_link::DnsLink),
    ]
}

#[cfg(test)]
mod tests {
    use crate::framework::model::fields_mismatch;

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
