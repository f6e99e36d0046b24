//! `crdb_multiregion_cluster`: the identity of one CockroachDB cluster (name, version, zones) and
//! its PKI. It touches no Kubernetes cluster; `crdb_region` resources consume it whole through
//! `cluster = crdb_multiregion_cluster.<name>`.
mod apply;
mod model;
mod plan;
mod read;
#[cfg(test)]
pub(crate) mod tests;

pub use model::{ClusterModel, FINALIZATION_MODES, JOIN_NODES_PER_ZONE, TYPE_NAME};
pub use plan::join_addresses;

use crate::framework::diag::Diagnostics;
use crate::framework::{Applied, ModelResource, OperationContext, Schema};

pub struct MultiregionCluster;

/// The type of `crdb_multiregion_cluster`'s attribute `name`, for the resources that take the cluster whole
/// (`cluster = crdb_multiregion_cluster.<name>`) and declare the part of it they read.
pub fn attribute_type(name: &str) -> Option<crate::framework::Type> {
    model::schema()
        .block
        .attributes
        .into_iter()
        .find(|a| a.name == name)
        .map(|a| a.ty)
}

/// The object type of the attributes `names` of the cluster, as a resource that takes it whole declares it:
/// the names come from that resource's model, the types from the cluster's schema, so neither is written twice.
pub fn part_type(names: &[&str]) -> crate::framework::Type {
    crate::framework::Type::object(names.iter().map(|name| {
        let ty = attribute_type(name).unwrap_or_else(|| {
            unreachable!("{name} is not an attribute of {TYPE_NAME} (model tests check every part)")
        });
        (*name, ty)
    }))
}

#[async_trait::async_trait]
impl ModelResource for MultiregionCluster {
    type Model = ClusterModel;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn schema(&self) -> Schema {
        model::schema()
    }

    fn validate(&self, config: &ClusterModel, diags: &mut Diagnostics) {
        plan::validate_config(config, diags);
    }

    fn modify_plan(
        &self,
        prior: Option<&ClusterModel>,
        config: &ClusterModel,
        planned: &mut ClusterModel,
        diags: &mut Diagnostics,
    ) {
        let created = ClusterModel::default();
        let prior = prior.unwrap_or(&created);
        plan::plan_derived(prior, config, planned);
        plan::plan_upgrade(prior, planned, diags);
        plan::plan_pki(prior, config, planned);
        plan::plan_key_out_of_state(prior, config, planned, diags);
        plan::renew_within_window(planned, time::OffsetDateTime::now_utc(), diags);
    }

    async fn create(
        &self,
        _ctx: &OperationContext,
        planned: ClusterModel,
    ) -> Applied<ClusterModel> {
        apply::apply(planned)
    }

    async fn read(
        &self,
        _ctx: &OperationContext,
        state: ClusterModel,
    ) -> Result<Option<ClusterModel>, Diagnostics> {
        Ok(Some(read::read(state)))
    }

    async fn update(
        &self,
        _ctx: &OperationContext,
        _prior: ClusterModel,
        planned: ClusterModel,
    ) -> Applied<ClusterModel> {
        apply::apply(planned)
    }

    async fn delete(
        &self,
        _ctx: &OperationContext,
        _prior: ClusterModel,
    ) -> Result<(), Diagnostics> {
        // Nothing lives outside Terraform state.
        Ok(())
    }

    async fn import(&self, _ctx: &OperationContext, id: &str) -> Result<ClusterModel, Diagnostics> {
        read::imported(id)
    }
}
