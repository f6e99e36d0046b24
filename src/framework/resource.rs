//! The contract every resource implements. The protocol layer turns RPCs into [`Resource`] calls on
//! values; a resource is written against [`ModelResource`], on its typed model, and the blanket
//! `impl Resource for T: ModelResource` decodes and encodes at this border, once.
use super::capabilities::ClientCapabilities;
use super::diag::{AttributePath, Diagnostics, Step};
use super::model::{Fields, FromValue, ToValue};
use super::schema::Schema;
use super::shared::Shared;
use super::types::Type;
use super::value::Value;
use tokio_util::sync::CancellationToken;

/// What an operation may consult besides its values.
#[derive(Clone, Debug, Default)]
pub struct OperationContext {
    /// Cancelled when Terraform asks the provider to stop (Ctrl-C): long waits end early.
    pub stop: CancellationToken,
    /// The resource's private state from the previous step, opaque to Terraform.
    pub private: Vec<u8>,
    /// What the client said it supports, for the requests that say it (read, import; none for
    /// apply, which protocol 5.8 sends without): a resource that would defer checks
    /// `deferral_allowed` first.
    pub client: ClientCapabilities,
    /// What the operations of this provider process share (`shared.rs`): how resources coordinate.
    pub shared: Shared,
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
    pub client: ClientCapabilities,
}

#[async_trait::async_trait]
pub trait Resource: Send + Sync {
    /// The resource type, e.g. `crdb_multiregion_cluster`.
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// The field names of the model the resource works on, which must be the schema's
    /// attribute and block names (a test checks every resource).
    fn model_fields(&self) -> &'static [&'static str];

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
            Err(Diagnostics::with_error(
                "Unsupported state version",
                format!(
                    "{} state was written with schema version {version}, which this provider version cannot read.",
                    self.type_name()
                ),
            ))
        }
    }
}

/// The outcome of create or update on a model: what exists now (`None`: nothing yet, or nothing
/// Terraform should record), and what went wrong. A failed create's state is dropped at the border
/// (see `untainted`); a failed update's is recorded.
#[derive(Debug)]
pub struct Applied<M> {
    pub state: Option<M>,
    pub diagnostics: Diagnostics,
    /// The operation failed before it made or changed anything (it could not connect, or its one transaction
    /// rolled back): a failed create has nothing for the next apply to complete.
    pub made_nothing: bool,
}

impl<M> Applied<M> {
    pub fn done(state: M) -> Self {
        Applied {
            state: Some(state),
            diagnostics: Diagnostics::new(),
            made_nothing: false,
        }
    }

    /// A failure before anything was made or changed.
    pub fn nothing_made(state: Option<M>, diagnostics: Diagnostics) -> Self {
        Applied {
            state,
            diagnostics,
            made_nothing: true,
        }
    }

    /// What exists now (possibly partial, for the next apply to finish; `None`: nothing to
    /// record) and what went wrong, if anything.
    pub fn reached(state: Option<M>, diagnostics: Diagnostics) -> Self {
        Applied {
            state,
            diagnostics,
            made_nothing: false,
        }
    }
}

/// A resource written against its typed model. Validation and planning accumulate diagnostics;
/// operations return `Result<_, Diagnostics>` (see `framework::diag`).
#[async_trait::async_trait]
pub trait ModelResource: Send + Sync {
    /// The model: a `tf_model!` struct whose fields are the schema's attributes and blocks.
    type Model: FromValue + ToValue + Fields + Default + Clone + Send + Sync + 'static;

    /// The resource type, e.g. `crdb_multiregion_cluster`.
    const TYPE_NAME: &'static str;

    fn schema(&self) -> Schema;

    /// Checks a configuration that may still contain unknown values; touches nothing remote.
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}

    /// Refines the planned state after the shared rules ran (defaults, unknowns, keep-prior).
    /// `prior` is `None` for a create.
    fn modify_plan(
        &self,
        _prior: Option<&Self::Model>,
        _config: &Self::Model,
        _planned: &mut Self::Model,
        _diags: &mut Diagnostics,
    ) {
    }

    /// Called when Terraform plans to destroy the resource, and again before `delete`.
    fn check_destroy(&self, _prior: &Self::Model, _diags: &mut Diagnostics) {}

    async fn create(&self, ctx: &OperationContext, planned: Self::Model) -> Applied<Self::Model>;

    /// The live state, or `Ok(None)` when the resource is gone (Terraform then plans a create).
    async fn read(
        &self,
        ctx: &OperationContext,
        state: Self::Model,
    ) -> Result<Option<Self::Model>, Diagnostics>;

    async fn update(
        &self,
        ctx: &OperationContext,
        prior: Self::Model,
        planned: Self::Model,
    ) -> Applied<Self::Model>;

    async fn delete(&self, ctx: &OperationContext, prior: Self::Model) -> Result<(), Diagnostics>;

    /// The state to adopt for an import ID; Terraform reads it right after.
    async fn import(&self, ctx: &OperationContext, id: &str) -> Result<Self::Model, Diagnostics>;
}

/// The one place a value becomes a model. A number the model cannot hold (`2.5` for a count) is the
/// user's to fix, on its attribute; any other value that does not fit is a provider bug (Terraform
/// checked it against the same schema), reported once on the resource type.
pub(crate) fn decode<M: FromValue>(value: &Value, type_name: &str) -> Result<M, Diagnostics> {
    M::from_value(value).map_err(|e| {
        let mut diags = Diagnostics::new();
        if e.user_input {
            diags.attribute_error(model_path(&e.path), "Invalid value", e.message);
        } else {
            diags.error(
                format!("Provider bug: unexpected {type_name} value"),
                e.to_string(),
            );
        }
        diags
    })
}

/// A model error's path as an attribute path: map keys are bracketed (`model::map_key_step`), list
/// positions numbers, everything else names.
fn model_path(steps: &[String]) -> AttributePath {
    AttributePath(
        steps
            .iter()
            .map(|step| {
                let key = step
                    .strip_prefix('[')
                    .and_then(|quoted| quoted.strip_suffix(']'))
                    .and_then(|quoted| serde_json::from_str::<String>(quoted).ok());
                match (key, step.parse::<usize>()) {
                    (Some(key), _) => Step::Key(key),
                    (None, Ok(index)) => Step::Index(index as i64),
                    (None, Err(_)) => Step::Attribute(step.clone()),
                }
            })
            .collect(),
    )
}

/// `None` for a null value (no prior state), else the model.
fn decode_optional<M: FromValue>(value: &Value, type_name: &str) -> Result<Option<M>, Diagnostics> {
    if value.is_null() {
        Ok(None)
    } else {
        decode(value, type_name).map(Some)
    }
}

/// A model as a value of `schema`: a model holds lists and sets alike as `Vec`, so each top-level attribute the
/// schema types as a set becomes one (Terraform compares them apart).
fn conformed<M: ToValue>(model: &M, schema: &Schema) -> Value {
    let mut value = model.to_value();
    if let Value::Object(attrs) = &mut value {
        for attribute in &schema.block.attributes {
            if let (Type::Set(_), Some(v)) = (&attribute.ty, attrs.get_mut(attribute.name)) {
                if let Value::List(items) = v {
                    *v = Value::Set(std::mem::take(items));
                }
            }
        }
    }
    value
}

fn outcome<M: ToValue>(applied: Applied<M>, schema: &Schema) -> ApplyOutcome {
    ApplyOutcome {
        state: applied
            .state
            .as_ref()
            .map_or(Value::Null, |m| conformed(m, schema)),
        private: Vec::new(),
        diagnostics: applied.diagnostics,
    }
}

/// A create that failed part-way records nothing. Terraform taints a resource whose create returns an error with
/// a state, and plans a tainted resource's replacement: destroy (a zone's namespace and volumes), then create.
/// Recorded as absent instead, the resource is planned as a create again, and its create (which finds and adopts
/// what exists) completes in place what this one made. The note says so, since that is what the next apply does;
/// a create that made nothing (it could not connect, say) has nothing to complete and no note.
fn untainted<M>(applied: Applied<M>, type_name: &str) -> Applied<M> {
    if !applied.diagnostics.has_errors() || applied.made_nothing {
        return Applied {
            state: applied.state.filter(|_| !applied.made_nothing),
            ..applied
        };
    }
    let mut diagnostics = applied.diagnostics;
    diagnostics.warning(
        format!("{type_name} not recorded in state yet"),
        format!(
            "The create stopped part-way, so nothing was recorded: Terraform would otherwise mark the {type_name} \
             for replacement, deleting what this apply made. The next `terraform apply` creates it again, which \
             finds what this apply made and completes it in place. To remove it instead, let an apply complete, \
             then run `terraform destroy`."
        ),
    );
    Applied::reached(None, diagnostics)
}

fn failed(diagnostics: Diagnostics) -> ApplyOutcome {
    ApplyOutcome {
        diagnostics,
        ..Default::default()
    }
}

#[async_trait::async_trait]
impl<T: ModelResource> Resource for T {
    fn type_name(&self) -> &'static str {
        T::TYPE_NAME
    }

    fn schema(&self) -> Schema {
        ModelResource::schema(self)
    }

    fn model_fields(&self) -> &'static [&'static str] {
        T::Model::FIELDS
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        match decode(config, T::TYPE_NAME) {
            Ok(config) => ModelResource::validate(self, &config, diags),
            Err(d) => diags.extend(d),
        }
    }

    fn modify_plan(&self, request: &PlanRequest<'_>, planned: &mut Value, diags: &mut Diagnostics) {
        let decoded = (|| {
            Ok::<_, Diagnostics>((
                decode_optional::<T::Model>(request.prior, T::TYPE_NAME)?,
                decode::<T::Model>(request.config, T::TYPE_NAME)?,
                decode::<T::Model>(planned, T::TYPE_NAME)?,
            ))
        })();
        match decoded {
            Ok((prior, config, mut model)) => {
                ModelResource::modify_plan(self, prior.as_ref(), &config, &mut model, diags);
                *planned = conformed(&model, &ModelResource::schema(self));
            }
            Err(d) => diags.extend(d),
        }
    }

    fn check_destroy(&self, prior: &Value, diags: &mut Diagnostics) {
        match decode(prior, T::TYPE_NAME) {
            Ok(prior) => ModelResource::check_destroy(self, &prior, diags),
            Err(d) => diags.extend(d),
        }
    }

    async fn create(&self, ctx: &OperationContext, planned: &Value) -> ApplyOutcome {
        match decode(planned, T::TYPE_NAME) {
            Ok(planned) => outcome(
                untainted(
                    ModelResource::create(self, ctx, planned).await,
                    T::TYPE_NAME,
                ),
                &ModelResource::schema(self),
            ),
            Err(d) => failed(d),
        }
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        state: &Value,
    ) -> Result<Option<Value>, Diagnostics> {
        let state = decode(state, T::TYPE_NAME)?;
        let live = ModelResource::read(self, ctx, state).await?;
        let schema = ModelResource::schema(self);
        Ok(live.as_ref().map(|m| conformed(m, &schema)))
    }

    async fn update(&self, ctx: &OperationContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        let decoded = decode(prior, T::TYPE_NAME)
            .and_then(|prior| Ok((prior, decode(planned, T::TYPE_NAME)?)));
        match decoded {
            Ok((prior, planned)) => outcome(
                ModelResource::update(self, ctx, prior, planned).await,
                &ModelResource::schema(self),
            ),
            Err(d) => failed(d),
        }
    }

    async fn delete(&self, ctx: &OperationContext, prior: &Value) -> Diagnostics {
        let deleted = match decode(prior, T::TYPE_NAME) {
            Ok(prior) => ModelResource::delete(self, ctx, prior).await,
            Err(d) => Err(d),
        };
        deleted.err().unwrap_or_default()
    }

    async fn import(&self, ctx: &OperationContext, id: &str) -> Result<Value, Diagnostics> {
        let imported = ModelResource::import(self, ctx, id).await?;
        Ok(conformed(&imported, &ModelResource::schema(self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_create_records_nothing_and_says_what_the_next_apply_does() {
        let mut diags = Diagnostics::new();
        diags.error("Timed out", "the load balancer has no address yet");
        let failed = untainted(Applied::reached(Some(7), diags), "crdb_region");
        assert_eq!(failed.state, None, "a partial state would be tainted");
        assert_eq!(failed.diagnostics.0[0].summary, "Timed out");
        assert!(failed.diagnostics.0[1]
            .detail
            .contains("completes it in place"));
        let done = untainted(Applied::done(7), "crdb_region");
        assert_eq!(done.state, Some(7));
        let mut refused = Diagnostics::new();
        refused.error("Unreachable", "nothing answered");
        let nothing = untainted(
            Applied::<i32>::reached(None, refused.clone()),
            "crdb_region",
        );
        assert_eq!(
            nothing.diagnostics.0.len(),
            2,
            "a create that made part of the zone before recording anything is completed all the same"
        );
        let unconnected = untainted(Applied::<i32>::nothing_made(None, refused), "crdb_region");
        assert_eq!(
            unconnected.diagnostics.0.len(),
            1,
            "a create that made nothing does not claim it stopped part-way"
        );
        let mut warned = Diagnostics::new();
        warned.warning("Slow", "it took long");
        assert_eq!(
            untainted(Applied::reached(Some(7), warned), "crdb_region").state,
            Some(7)
        );
    }

    #[test]
    fn numbers_and_null_elements_are_blamed_on_their_attribute() {
        use super::super::model::{map_key_step, ModelError};
        let error = ModelError::unfit("expected a whole number")
            .within("0")
            .within(&map_key_step("team"))
            .within("zones");
        assert_eq!(model_path(&error.path).to_string(), "zones[\"team\"][0]");
    }
}
