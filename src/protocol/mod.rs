//! The tfplugin5 `Provider` gRPC service: decodes each request with the resource's schema, calls
//! the framework, and encodes the answer. Terraform's rules on plans and applied states are
//! enforced here once, for every resource. It speaks protocol 5.8
//! (`docs/guides/compatibility.md`, "Plugin protocol").
mod capabilities;
mod ephemeral;
mod registry;
mod unsupported;
mod upgrade;

use crate::framework::capabilities::{
    null_write_only, refuse_unsupported_write_only, with_write_only_of,
};
use crate::framework::diag::Diagnostics;
use crate::framework::{
    msgpack, plan, ClientCapabilities, OperationContext, PlanRequest, Shared, Type, Value,
};
use crate::proto::tfplugin5 as pb;
pub use registry::{provider_schema, Registry};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

/// The provider as Terraform sees it over gRPC.
pub struct ProviderService {
    registry: Registry,
    /// Cancelled by the `Stop` RPC: in-flight operations watch it and return early.
    stop: CancellationToken,
    /// What the operations of this provider share (`framework::shared`), for as long as it serves.
    shared: Shared,
}

impl Default for ProviderService {
    fn default() -> Self {
        Self::new()
    }
}

impl ProviderService {
    pub fn new() -> Self {
        Self::with_registry(Registry::crdb())
    }

    pub fn with_registry(registry: Registry) -> Self {
        ProviderService {
            registry,
            stop: CancellationToken::new(),
            shared: Shared::default(),
        }
    }

    fn context(&self, private: Vec<u8>, client: ClientCapabilities) -> OperationContext {
        OperationContext {
            stop: self.stop.clone(),
            private,
            client,
            shared: self.shared.clone(),
        }
    }
}

/// What the codecs need of a registry entry, managed or ephemeral.
trait Typed {
    fn type_name(&self) -> &'static str;
    fn value_type(&self) -> &Type;
}

impl Typed for registry::Entry {
    fn type_name(&self) -> &'static str {
        self.resource.type_name()
    }
    fn value_type(&self) -> &Type {
        &self.value_type
    }
}

impl Typed for registry::EphemeralEntry {
    fn type_name(&self) -> &'static str {
        self.resource.type_name()
    }
    fn value_type(&self) -> &Type {
        &self.value_type
    }
}

fn dynamic(bytes: Vec<u8>) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: bytes,
        json: Vec::new(),
    })
}

fn msgpack_of(value: &Option<pb::DynamicValue>) -> &[u8] {
    value.as_ref().map(|v| v.msgpack.as_slice()).unwrap_or(&[])
}

/// Decodes a request value, turning a mismatch into a diagnostic rather than a gRPC failure so
/// the user sees which resource and attribute Terraform and the provider disagree on.
fn decode(
    value: &Option<pb::DynamicValue>,
    entry: &impl Typed,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<Value> {
    match msgpack::decode(msgpack_of(value), entry.value_type()) {
        Ok(v) => Some(v),
        Err(e) => {
            diags.error(
                format!("Cannot decode the {what} of {}", entry.type_name()),
                e.to_string(),
            );
            None
        }
    }
}

fn encode(value: &Value, entry: &impl Typed, diags: &mut Diagnostics) -> Option<pb::DynamicValue> {
    match msgpack::encode(value, entry.value_type()) {
        Ok(bytes) => dynamic(bytes),
        Err(e) => {
            diags.error(
                format!("Provider bug: cannot encode {} state", entry.type_name()),
                e.to_string(),
            );
            None
        }
    }
}

/// State for Terraform to store, write-only attributes null whatever the resource gave: Terraform refuses a
/// read, import or upgrade that returns a value for one.
fn encode_stored(
    mut value: Value,
    entry: &registry::Entry,
    diags: &mut Diagnostics,
) -> Option<pb::DynamicValue> {
    null_write_only(&entry.schema.block, &mut value);
    encode(&value, entry, diags)
}

/// The provider has no data sources: any data source Terraform asks about is unknown.
fn unknown_data_source(type_name: &str) -> Diagnostics {
    Diagnostics::with_error(
        "Unknown data source",
        format!("This provider has no data source {type_name:?}."),
    )
}

/// Checks Terraform's rule that a provider returns every known planned value unchanged.
fn check_applied_matches_plan(
    planned: &Value,
    applied: &Value,
    path: &str,
    diags: &mut Diagnostics,
) {
    match (planned, applied) {
        (Value::Unknown, _) => {}
        (Value::Object(p), Value::Object(a)) | (Value::Map(p), Value::Map(a)) => {
            for (k, pv) in p {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                check_applied_matches_plan(pv, a.get(k).unwrap_or(&Value::Null), &child, diags);
            }
        }
        (Value::List(p), Value::List(a)) if p.len() == a.len() => {
            for (i, (pv, av)) in p.iter().zip(a).enumerate() {
                check_applied_matches_plan(pv, av, &format!("{path}[{i}]"), diags);
            }
        }
        (p, a) if p == a => {}
        _ => diags.error(
            "Provider bug: applied value differs from the plan",
            format!("{path} was planned as one value and applied as another; please report this."),
        ),
    }
}

#[tonic::async_trait]
impl pb::provider_server::Provider for ProviderService {
    async fn get_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        tracing::debug!("GetSchema");
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(registry::provider_schema().to_proto()),
            resource_schemas: self
                .registry
                .entries()
                .map(|e| (e.type_name().to_string(), e.schema.to_proto()))
                .collect(),
            data_source_schemas: Default::default(),
            functions: Default::default(),
            ephemeral_resource_schemas: self
                .registry
                .ephemeral_entries()
                .map(|e| (e.resource.type_name().to_string(), e.schema.to_proto()))
                .collect(),
            diagnostics: Vec::new(),
            // No provider_meta schema: a module's provider_meta block for this provider is
            // refused by the client, and requests carry none.
            provider_meta: None,
            server_capabilities: Some(capabilities::server()),
        }))
    }

    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        tracing::debug!("GetMetadata");
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities::server()),
            diagnostics: Vec::new(),
            data_sources: Vec::new(),
            resources: self
                .registry
                .entries()
                .map(|e| pb::get_metadata::ResourceMetadata {
                    type_name: e.type_name().to_string(),
                })
                .collect(),
            functions: Vec::new(),
            ephemeral_resources: self
                .registry
                .ephemeral_entries()
                .map(|e| pb::get_metadata::EphemeralMetadata {
                    type_name: e.resource.type_name().to_string(),
                })
                .collect(),
        }))
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        tracing::debug!("GetFunctions");
        Ok(Response::new(pb::get_functions::Response::default()))
    }

    async fn call_function(
        &self,
        request: Request<pb::call_function::Request>,
    ) -> Result<Response<pb::call_function::Response>, Status> {
        let request = request.into_inner();
        tracing::debug!(name = %request.name, "CallFunction");
        Ok(Response::new(unsupported::call_function(&request)))
    }

    async fn prepare_provider_config(
        &self,
        request: Request<pb::prepare_provider_config::Request>,
    ) -> Result<Response<pb::prepare_provider_config::Response>, Status> {
        // The provider block has no settings; its config is echoed as Terraform requires.
        let config = request.into_inner().config;
        Ok(Response::new(pb::prepare_provider_config::Response {
            prepared_config: config,
            diagnostics: Vec::new(),
        }))
    }

    async fn validate_resource_type_config(
        &self,
        request: Request<pb::validate_resource_type_config::Request>,
    ) -> Result<Response<pb::validate_resource_type_config::Response>, Status> {
        let request = request.into_inner();
        let client = capabilities::client(request.client_capabilities);
        tracing::debug!(type_name = %request.type_name, ?client, "ValidateResourceTypeConfig");
        let mut diags = Diagnostics::new();
        if let Some(entry) = self.registry.lookup(&request.type_name, &mut diags) {
            if let Some(config) = decode(&request.config, entry, "configuration", &mut diags) {
                refuse_unsupported_write_only(&entry.schema.block, &config, &client, &mut diags);
                entry.resource.validate(&config, &mut diags);
            }
        }
        Ok(Response::new(pb::validate_resource_type_config::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn validate_data_source_config(
        &self,
        request: Request<pb::validate_data_source_config::Request>,
    ) -> Result<Response<pb::validate_data_source_config::Response>, Status> {
        let diags = unknown_data_source(&request.into_inner().type_name);
        Ok(Response::new(pb::validate_data_source_config::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, version = request.version, "UpgradeResourceState");
        let mut diags = Diagnostics::new();
        let mut upgraded = None;
        if let Some(entry) = self.registry.lookup(&request.type_name, &mut diags) {
            upgraded = upgrade::upgrade(entry, request.version, request.raw_state, &mut diags);
        }
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: upgraded,
            diagnostics: diags.to_proto(),
        }))
    }

    async fn configure(
        &self,
        _: Request<pb::configure::Request>,
    ) -> Result<Response<pb::configure::Response>, Status> {
        Ok(Response::new(pb::configure::Response::default()))
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let request = request.into_inner();
        let client = capabilities::client(request.client_capabilities);
        tracing::debug!(type_name = %request.type_name, ?client, "ReadResource");
        let mut diags = Diagnostics::new();
        // Until a read succeeds, the answer is the current state: an absent new_state would
        // tell Terraform the resource is gone.
        let mut new_state = request.current_state.clone();
        if let Some(entry) = self.registry.lookup(&request.type_name, &mut diags) {
            if let Some(current) = decode(&request.current_state, entry, "state", &mut diags) {
                let ctx = self.context(request.private.clone(), client);
                match entry.resource.read(&ctx, &current).await {
                    Ok(Some(live)) => new_state = encode_stored(live, entry, &mut diags),
                    Ok(None) => new_state = encode(&Value::Null, entry, &mut diags),
                    Err(d) => diags.extend(d),
                }
            }
        }
        Ok(Response::new(pb::read_resource::Response {
            new_state,
            diagnostics: diags.to_proto(),
            private: request.private,
            // Nothing is ever deferred: a client that does not allow it must never see one.
            deferred: None,
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let request = request.into_inner();
        let client = capabilities::client(request.client_capabilities);
        tracing::debug!(type_name = %request.type_name, ?client, "PlanResourceChange");
        let mut diags = Diagnostics::new();
        let mut response = pb::plan_resource_change::Response {
            planned_private: request.prior_private.clone(),
            ..Default::default()
        };
        let Some(entry) = self.registry.lookup(&request.type_name, &mut diags) else {
            response.diagnostics = diags.to_proto();
            return Ok(Response::new(response));
        };
        let prior = decode(&request.prior_state, entry, "prior state", &mut diags);
        let proposed = decode(
            &request.proposed_new_state,
            entry,
            "proposed state",
            &mut diags,
        );
        let config = decode(&request.config, entry, "configuration", &mut diags);
        if let (Some(prior), Some(proposed), Some(config)) = (prior, proposed, config) {
            if proposed.is_null() {
                // A destroy plan: nothing to compute, but the resource may refuse it.
                if !prior.is_null() {
                    entry.resource.check_destroy(&prior, &mut diags);
                }
                response.planned_state = request.proposed_new_state;
            } else {
                let block = &entry.schema.block;
                let mut planned = plan::plan_state(block, &prior, &proposed, &config);
                let plan_request = PlanRequest {
                    prior: &prior,
                    config: &config,
                    client,
                };
                entry
                    .resource
                    .modify_plan(&plan_request, &mut planned, &mut diags);
                null_write_only(block, &mut planned);
                let replace = plan::replacement_paths(block, &prior, &planned);
                if !replace.is_empty() {
                    entry.resource.check_destroy(&prior, &mut diags);
                }
                response.requires_replace = replace.iter().map(|p| p.to_proto()).collect();
                response.planned_state = encode(&planned, entry, &mut diags);
            }
        }
        response.diagnostics = diags.to_proto();
        Ok(Response::new(response))
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut response = pb::apply_resource_change::Response {
            new_state: request.prior_state.clone(),
            private: request.planned_private.clone(),
            ..Default::default()
        };
        let Some(entry) = self.registry.lookup(&request.type_name, &mut diags) else {
            response.diagnostics = diags.to_proto();
            return Ok(Response::new(response));
        };
        let prior = decode(&request.prior_state, entry, "prior state", &mut diags);
        let planned = decode(&request.planned_state, entry, "planned state", &mut diags);
        let config = decode(&request.config, entry, "configuration", &mut diags);
        let (Some(prior), Some(planned), Some(config)) = (prior, planned, config) else {
            response.diagnostics = diags.to_proto();
            return Ok(Response::new(response));
        };
        // ApplyResourceChange carries no client capabilities in 5.8.
        let ctx = self.context(
            request.planned_private.clone(),
            ClientCapabilities::default(),
        );
        if planned.is_null() {
            tracing::info!(type_name = %request.type_name, "deleting");
            entry.resource.check_destroy(&prior, &mut diags);
            if !diags.has_errors() {
                diags.extend(entry.resource.delete(&ctx, &prior).await);
            }
            if !diags.has_errors() {
                response.new_state = encode(&Value::Null, entry, &mut diags);
            }
        } else {
            // Write-only values are null in the plan; the configuration carries them to this apply.
            let applying = with_write_only_of(&entry.schema.block, &planned, &config);
            let mut outcome = if prior.is_null() {
                tracing::info!(type_name = %request.type_name, "creating");
                entry.resource.create(&ctx, &applying).await
            } else {
                tracing::info!(type_name = %request.type_name, "updating");
                entry.resource.update(&ctx, &prior, &applying).await
            };
            diags.extend(outcome.diagnostics);
            null_write_only(&entry.schema.block, &mut outcome.state);
            if !diags.has_errors() {
                check_applied_matches_plan(&planned, &outcome.state, "", &mut diags);
            }
            response.private = outcome.private;
            response.new_state = encode(&outcome.state, entry, &mut diags);
        }
        response.diagnostics = diags.to_proto();
        Ok(Response::new(response))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let request = request.into_inner();
        let client = capabilities::client(request.client_capabilities);
        tracing::debug!(type_name = %request.type_name, ?client, "ImportResourceState");
        let mut diags = Diagnostics::new();
        let mut imported = Vec::new();
        if let Some(entry) = self.registry.lookup(&request.type_name, &mut diags) {
            match entry
                .resource
                .import(&self.context(Vec::new(), client), &request.id)
                .await
            {
                Ok(state) => {
                    if let Some(state) = encode_stored(state, entry, &mut diags) {
                        imported.push(pb::import_resource_state::ImportedResource {
                            type_name: request.type_name.clone(),
                            state: Some(state),
                            private: Vec::new(),
                        });
                    }
                }
                Err(d) => diags.extend(d),
            }
        }
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: imported,
            diagnostics: diags.to_proto(),
            deferred: None,
        }))
    }

    async fn move_resource_state(
        &self,
        request: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        let request = request.into_inner();
        tracing::debug!(source = %request.source_type_name, target = %request.target_type_name, "MoveResourceState");
        Ok(Response::new(unsupported::move_resource_state(&request)))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let diags = unknown_data_source(&request.into_inner().type_name);
        Ok(Response::new(pb::read_data_source::Response {
            state: None,
            diagnostics: diags.to_proto(),
            deferred: None,
        }))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        request: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, "ValidateEphemeralResourceConfig");
        Ok(Response::new(ephemeral::validate(&self.registry, request)))
    }

    async fn open_ephemeral_resource(
        &self,
        request: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        let request = request.into_inner();
        let client = capabilities::client(request.client_capabilities);
        tracing::debug!(type_name = %request.type_name, ?client, "OpenEphemeralResource");
        let ctx = self.context(Vec::new(), client);
        Ok(Response::new(
            ephemeral::open(&self.registry, ctx, request).await,
        ))
    }

    async fn renew_ephemeral_resource(
        &self,
        request: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, "RenewEphemeralResource");
        let private = request.private.clone().unwrap_or_default();
        let ctx = self.context(private, ClientCapabilities::default());
        Ok(Response::new(
            ephemeral::renew(&self.registry, ctx, request).await,
        ))
    }

    async fn close_ephemeral_resource(
        &self,
        request: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, "CloseEphemeralResource");
        let private = request.private.clone().unwrap_or_default();
        let ctx = self.context(private, ClientCapabilities::default());
        Ok(Response::new(
            ephemeral::close(&self.registry, ctx, request).await,
        ))
    }

    async fn stop(
        &self,
        _: Request<pb::stop::Request>,
    ) -> Result<Response<pb::stop::Response>, Status> {
        tracing::info!("Stop requested: cancelling in-flight operations");
        self.stop.cancel();
        Ok(Response::new(pb::stop::Response::default()))
    }
}

#[cfg(test)]
mod client_certificate_tests;
#[cfg(test)]
mod newer_client_tests;
#[cfg(test)]
mod tests;
