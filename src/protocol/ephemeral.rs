//! The ephemeral-resource RPCs of protocol 5.7, dispatched to the registry's ephemeral resources.
//! A type the registry does not know gets the answer terraform-plugin-framework gives: an error
//! diagnostic naming the type, and nothing else.
use super::{decode, encode, Registry};
use crate::framework::diag::Diagnostics;
use crate::framework::OperationContext;
use crate::proto::tfplugin5 as pb;

pub(super) fn validate(
    registry: &Registry,
    request: pb::validate_ephemeral_resource_config::Request,
) -> pb::validate_ephemeral_resource_config::Response {
    let mut diags = Diagnostics::new();
    if let Some(entry) = registry.lookup_ephemeral(&request.type_name, &mut diags) {
        if let Some(config) = decode(&request.config, entry, "configuration", &mut diags) {
            entry.resource.validate(&config, &mut diags);
        }
    }
    pb::validate_ephemeral_resource_config::Response {
        diagnostics: diags.to_proto(),
    }
}

pub(super) async fn open(
    registry: &Registry,
    ctx: OperationContext,
    request: pb::open_ephemeral_resource::Request,
) -> pb::open_ephemeral_resource::Response {
    let mut diags = Diagnostics::new();
    let mut response = pb::open_ephemeral_resource::Response::default();
    if let Some(entry) = registry.lookup_ephemeral(&request.type_name, &mut diags) {
        if let Some(config) = decode(&request.config, entry, "configuration", &mut diags) {
            match entry.resource.open(&ctx, &config).await {
                Ok(opened) => {
                    response.result = encode(&opened.result, entry, &mut diags);
                    response.private = Some(opened.private);
                    response.renew_at = opened.renew_at.map(Into::into);
                }
                Err(d) => diags.extend(d),
            }
        }
    }
    response.diagnostics = diags.to_proto();
    response
}

pub(super) async fn renew(
    registry: &Registry,
    ctx: OperationContext,
    request: pb::renew_ephemeral_resource::Request,
) -> pb::renew_ephemeral_resource::Response {
    let mut diags = Diagnostics::new();
    let mut response = pb::renew_ephemeral_resource::Response::default();
    if let Some(entry) = registry.lookup_ephemeral(&request.type_name, &mut diags) {
        match entry.resource.renew(&ctx).await {
            Ok(renewed) => {
                response.private = Some(renewed.private);
                response.renew_at = renewed.renew_at.map(Into::into);
            }
            Err(d) => diags.extend(d),
        }
    }
    response.diagnostics = diags.to_proto();
    response
}

pub(super) async fn close(
    registry: &Registry,
    ctx: OperationContext,
    request: pb::close_ephemeral_resource::Request,
) -> pb::close_ephemeral_resource::Response {
    let mut diags = Diagnostics::new();
    if let Some(entry) = registry.lookup_ephemeral(&request.type_name, &mut diags) {
        diags.extend(entry.resource.close(&ctx).await);
    }
    pb::close_ephemeral_resource::Response {
        diagnostics: diags.to_proto(),
    }
}
