//! The tfplugin5 `Provider` gRPC service. (Skeleton: every RPC answers UNIMPLEMENTED until the
//! framework lands.)
use crate::proto::tfplugin5 as pb;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

/// The provider as Terraform sees it over gRPC.
#[derive(Default)]
pub struct ProviderService {
    /// Cancelled by the `Stop` RPC: in-flight operations watch it and return early.
    stop: CancellationToken,
}

impl ProviderService {
    pub fn new() -> Self {
        Self::default()
    }
}

fn todo_rpc<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not implemented yet"))
}

#[tonic::async_trait]
impl pb::provider_server::Provider for ProviderService {
    async fn get_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(pb::Schema {
                version: 0,
                block: Some(Default::default()),
            }),
            ..Default::default()
        }))
    }
    async fn prepare_provider_config(
        &self,
        _: Request<pb::prepare_provider_config::Request>,
    ) -> Result<Response<pb::prepare_provider_config::Response>, Status> {
        todo_rpc()
    }
    async fn validate_resource_type_config(
        &self,
        _: Request<pb::validate_resource_type_config::Request>,
    ) -> Result<Response<pb::validate_resource_type_config::Response>, Status> {
        todo_rpc()
    }
    async fn validate_data_source_config(
        &self,
        _: Request<pb::validate_data_source_config::Request>,
    ) -> Result<Response<pb::validate_data_source_config::Response>, Status> {
        todo_rpc()
    }
    async fn upgrade_resource_state(
        &self,
        _: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        todo_rpc()
    }
    async fn configure(
        &self,
        _: Request<pb::configure::Request>,
    ) -> Result<Response<pb::configure::Response>, Status> {
        todo_rpc()
    }
    async fn read_resource(
        &self,
        _: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        todo_rpc()
    }
    async fn plan_resource_change(
        &self,
        _: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        todo_rpc()
    }
    async fn apply_resource_change(
        &self,
        _: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        todo_rpc()
    }
    async fn import_resource_state(
        &self,
        _: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        todo_rpc()
    }
    async fn read_data_source(
        &self,
        _: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        todo_rpc()
    }
    async fn stop(
        &self,
        _: Request<pb::stop::Request>,
    ) -> Result<Response<pb::stop::Response>, Status> {
        self.stop.cancel();
        Ok(Response::new(pb::stop::Response::default()))
    }
}
