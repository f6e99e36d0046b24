//! The contract every resource implements; the protocol layer turns RPCs into these calls.
use super::diag::Diagnostics;
use super::schema::Schema;
use super::value::Value;
use tokio_util::sync::CancellationToken;

/// What an operation may consult besides its values.
#[derive(Clone, Debug, Default)]
pub struct OperationContext {
    /// Cancelled when Terraform asks the provider to stop (Ctrl-C): long waits end early.
    pub stop: CancellationToken,
    /// The resource's private state from the previous step, opaque to Terraform.
    pub private: Vec<u8>,
}

/// The outcome of create or update. On failure `state` is what exists now (possibly
/// partial); Terraform saves it so the next apply can finish the job.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    pub state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

/// The planning inputs as a resource's `modify_plan` sees them.
pub struct PlanRequest<'a> {
    pub prior: &'a Value,
    pub config: &'a Value,
}

#[async_trait::async_trait]
pub trait Resource: Send + Sync {
    /// The resource type, e.g. `crdb_multiregion_cluster`.
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Checks a configuration that may still contain unknown values; touches nothing remote.
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Refines the planned state after the shared rules ran (defaults, unknowns, keep-prior).
    fn modify_plan(
        &self,
        _request: &PlanRequest<'_>,
        _planned: &mut Value,
        _diags: &mut Diagnostics,
    ) {
    }

    /// Called when Terraform plans to destroy the resource (Terraform 1.3+ asks at plan time,
    /// every version asks again at apply time through `delete`).
    fn check_destroy(&self, _prior: &Value, _diags: &mut Diagnostics) {}

    async fn create(&self, ctx: &OperationContext, planned: &Value) -> ApplyOutcome;

    /// The live state, or `Ok(None)` when the resource is gone (Terraform then plans a create).
    async fn read(
        &self,
        ctx: &OperationContext,
        state: &Value,
    ) -> Result<Option<Value>, Diagnostics>;

    async fn update(&self, ctx: &OperationContext, prior: &Value, planned: &Value) -> ApplyOutcome;

    async fn delete(&self, ctx: &OperationContext, prior: &Value) -> Diagnostics;

    /// The state to adopt for an import ID; Terraform reads it right after.
    async fn import(&self, ctx: &OperationContext, id: &str) -> Result<Value, Diagnostics>;

    /// Rewrites stored state JSON written with schema `version` into the current schema's shape.
    /// Resources list their upgrades here as the schema version grows.
    fn upgrade_state(
        &self,
        version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        if version == self.schema().version {
            Ok(state)
        } else {
            let mut diags = Diagnostics::new();
            diags.error(
                "Unsupported state version",
                format!(
                    "{} state was written with schema version {version}, which this provider version cannot read.",
                    self.type_name()
                ),
            );
            Err(diags)
        }
    }
}
