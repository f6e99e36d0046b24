//! The protocol layer's rules, checked with a small resource of its own: state upgrades, private
//! state, destroy plans, failed applies keeping partial state, and Terraform's consistency rules.
use super::*;
use crate::framework::{ApplyOutcome, Attribute, Block, Resource, Schema, Type};
use crate::proto::tfplugin5::provider_server::Provider;
use serde_json::json;
use std::sync::Arc;

struct Thing;

const PRIVATE: &[u8] = b"resource-private-bytes";

#[async_trait::async_trait]
impl Resource for Thing {
    fn type_name(&self) -> &'static str {
        "test_thing"
    }

    fn model_fields(&self) -> &'static [&'static str] {
        &["name", "replicas", "protect", "uid"]
    }

    fn schema(&self) -> Schema {
        Schema {
            version: 1,
            block: Block::new("A thing.")
                .attribute(Attribute::required("name", Type::String, "Name.").requires_replace())
                .attribute(Attribute::optional("replicas", Type::Number, "Replicas."))
                .attribute(
                    Attribute::optional("protect", Type::Bool, "Refuse destroy.")
                        .default(Value::Bool(false)),
                )
                .attribute(
                    Attribute::computed("uid", Type::String, "Server-side id.")
                        .keep_prior_value_when_unset(),
                ),
        }
    }

    fn check_destroy(&self, prior: &Value, diags: &mut Diagnostics) {
        if prior.attr("protect") == &Value::Bool(true) {
            diags.error("Protected", "protect is true");
        }
    }

    async fn create(&self, ctx: &OperationContext, planned: &Value) -> ApplyOutcome {
        let mut state = planned.clone();
        state.set_attr("uid", Value::string("uid-1"));
        let mut diagnostics = Diagnostics::new();
        if planned.attr("name") == &Value::string("waits-forever") {
            // A long wait that only Terraform's Stop ends, as a stuck rollout would.
            ctx.stop.cancelled().await;
            diagnostics.error("Interrupted", "Terraform asked the provider to stop");
        }
        if planned.attr("name") == &Value::string("fails-halfway") {
            diagnostics.error(
                "Half done",
                "the remote call failed after the object was created",
            );
        }
        ApplyOutcome {
            state,
            private: [ctx.private.as_slice(), PRIVATE].concat(),
            diagnostics,
        }
    }

    async fn read(
        &self,
        _: &OperationContext,
        state: &Value,
    ) -> Result<Option<Value>, Diagnostics> {
        Ok((state.attr("name") != &Value::string("vanished")).then(|| state.clone()))
    }

    async fn update(&self, _: &OperationContext, _: &Value, planned: &Value) -> ApplyOutcome {
        ApplyOutcome {
            state: planned.clone(),
            ..Default::default()
        }
    }

    async fn delete(&self, _: &OperationContext, _: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    async fn import(&self, _: &OperationContext, id: &str) -> Result<Value, Diagnostics> {
        let mut state = Value::Object(Default::default());
        state.set_attr("name", Value::string(id));
        Ok(state)
    }

    fn upgrade_state(
        &self,
        version: i64,
        mut state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        // Version 0 called the replica count "size".
        if version == 0 {
            let size = state["size"].take();
            state["replicas"] = size;
        }
        Ok(state)
    }
}

fn service() -> ProviderService {
    ProviderService::with_registry(Registry::new(vec![Arc::new(Thing)]))
}

fn value_type() -> Type {
    Thing.schema().value_type()
}

fn dv(value: &Value) -> Option<pb::DynamicValue> {
    dynamic(msgpack::encode(value, &value_type()).unwrap())
}

fn undv(value: &Option<pb::DynamicValue>) -> Value {
    msgpack::decode(msgpack_of(value), &value_type()).unwrap()
}

fn thing(name: &str, replicas: i64) -> Value {
    let mut v = Value::Object(Default::default());
    v.set_attr("name", Value::string(name));
    v.set_attr("replicas", Value::int(replicas));
    v.set_attr("protect", Value::Null);
    v.set_attr("uid", Value::Null);
    v
}

async fn plan(
    svc: &ProviderService,
    prior: &Value,
    config: &Value,
    private: &[u8],
) -> pb::plan_resource_change::Response {
    // Terraform proposes config values with prior values for unset computed attributes.
    let mut proposed = config.clone();
    if !prior.is_null() && !config.is_null() {
        for attr in ["uid", "protect"] {
            if config.attr(attr).is_null() {
                proposed.set_attr(attr, prior.attr(attr).clone());
            }
        }
    }
    svc.plan_resource_change(Request::new(pb::plan_resource_change::Request {
        type_name: "test_thing".into(),
        prior_state: dv(prior),
        proposed_new_state: dv(&proposed),
        config: dv(config),
        prior_private: private.to_vec(),
        provider_meta: None,
        client_capabilities: None,
    }))
    .await
    .unwrap()
    .into_inner()
}

async fn apply(
    svc: &ProviderService,
    prior: &Value,
    planned: &Option<pb::DynamicValue>,
    private: &[u8],
) -> pb::apply_resource_change::Response {
    svc.apply_resource_change(Request::new(pb::apply_resource_change::Request {
        type_name: "test_thing".into(),
        prior_state: dv(prior),
        planned_state: planned.clone(),
        config: None,
        planned_private: private.to_vec(),
        provider_meta: None,
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn old_state_is_upgraded_through_the_resource() {
    let response = service()
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: "test_thing".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: serde_json::to_vec(&json!({"name": "a", "size": 3, "uid": "u"})).unwrap(),
                flatmap: Default::default(),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(
        response.diagnostics.is_empty(),
        "{:?}",
        response.diagnostics
    );
    let upgraded = undv(&response.upgraded_state);
    assert_eq!(upgraded.attr("replicas"), &Value::int(3));
    assert_eq!(upgraded.attr("uid"), &Value::string("u"));
}

#[tokio::test]
async fn state_from_a_newer_provider_is_refused() {
    let response = service()
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: "test_thing".into(),
            version: 7,
            raw_state: Some(pb::RawState {
                json: b"{}".to_vec(),
                flatmap: Default::default(),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.diagnostics[0].summary,
        "State written by a newer provider"
    );
}

async fn upgrade_raw(raw_state: Option<pb::RawState>) -> pb::upgrade_resource_state::Response {
    service()
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: "test_thing".into(),
            version: 1,
            raw_state,
        }))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn flatmap_state_is_refused_as_never_written_here_and_json_is_preferred() {
    let flatmap = [("id", "a"), ("name", "a"), ("replicas", "3")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    let refused = upgrade_raw(Some(pb::RawState {
        json: Vec::new(),
        flatmap,
    }))
    .await;
    assert_eq!(refused.diagnostics.len(), 1);
    assert_eq!(refused.diagnostics[0].summary, "Unsupported state format");
    assert!(refused.diagnostics[0].detail.contains("test_thing"));
    assert!(refused.diagnostics[0].detail.contains("3 flatmap keys"));
    assert!(
        refused.upgraded_state.is_none(),
        "nothing is guessed from a flatmap"
    );

    let missing = upgrade_raw(None).await;
    assert_eq!(missing.diagnostics[0].summary, "Missing stored state");
    assert!(missing.upgraded_state.is_none());

    let both = upgrade_raw(Some(pb::RawState {
        json: serde_json::to_vec(&json!({"name": "j", "replicas": 2})).unwrap(),
        flatmap: [("name".to_string(), "f".to_string())].into(),
    }))
    .await;
    assert!(both.diagnostics.is_empty(), "{:?}", both.diagnostics);
    assert_eq!(undv(&both.upgraded_state).attr("name"), &Value::string("j"));
}

#[tokio::test]
async fn private_state_passes_from_plan_through_apply_and_read() {
    let svc = service();
    let planned = plan(&svc, &Value::Null, &thing("a", 1), b"prior").await;
    assert_eq!(planned.planned_private, b"prior");
    let applied = apply(
        &svc,
        &Value::Null,
        &planned.planned_state,
        &planned.planned_private,
    )
    .await;
    assert_eq!(applied.private, [b"prior".as_slice(), PRIVATE].concat());
    let read = svc
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: "test_thing".into(),
            current_state: applied.new_state.clone(),
            private: applied.private.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.private, applied.private);
    assert_eq!(undv(&read.new_state), undv(&applied.new_state));
}

#[tokio::test]
async fn a_resource_gone_on_read_is_null_and_a_failed_read_keeps_state() {
    let svc = service();
    let gone = svc
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: "test_thing".into(),
            current_state: dv(&thing("vanished", 1)),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(undv(&gone.new_state), Value::Null);
    let unknown_type = svc
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: "test_other".into(),
            current_state: dv(&thing("kept", 1)),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(!unknown_type.diagnostics.is_empty());
    assert_eq!(
        undv(&unknown_type.new_state),
        thing("kept", 1),
        "state must survive a failed read"
    );
}

#[tokio::test]
async fn plans_fill_defaults_mark_unknowns_and_ask_for_replacement() {
    let svc = service();
    let create = plan(&svc, &Value::Null, &thing("a", 1), b"").await;
    let planned = undv(&create.planned_state);
    assert_eq!(planned.attr("protect"), &Value::Bool(false));
    assert_eq!(planned.attr("uid"), &Value::Unknown);
    let state = undv(
        &apply(&svc, &Value::Null, &create.planned_state, b"")
            .await
            .new_state,
    );

    let rename = plan(&svc, &state, &thing("b", 1), b"").await;
    assert_eq!(rename.requires_replace.len(), 1);
    let scale = plan(&svc, &state, &thing("a", 5), b"").await;
    assert!(scale.requires_replace.is_empty());
    assert_eq!(
        undv(&scale.planned_state).attr("uid"),
        &Value::string("uid-1")
    );
}

#[tokio::test]
async fn destroy_plans_are_null_and_protection_refuses_them() {
    let svc = service();
    let mut protected = thing("a", 1);
    protected.set_attr("protect", Value::Bool(true));
    protected.set_attr("uid", Value::string("u"));
    let response = plan(&svc, &protected, &Value::Null, b"").await;
    assert_eq!(undv(&response.planned_state), Value::Null);
    assert_eq!(response.diagnostics[0].summary, "Protected");
    let applied = apply(&svc, &protected, &dv(&Value::Null), b"").await;
    assert_eq!(applied.diagnostics[0].summary, "Protected");
    assert_eq!(
        undv(&applied.new_state),
        protected,
        "a refused destroy keeps the resource in state"
    );
}

#[tokio::test]
async fn a_failed_create_returns_the_partial_object_for_terraform_to_keep() {
    let svc = service();
    let planned = plan(&svc, &Value::Null, &thing("fails-halfway", 1), b"").await;
    let applied = apply(&svc, &Value::Null, &planned.planned_state, b"").await;
    assert_eq!(applied.diagnostics[0].summary, "Half done");
    assert_eq!(
        undv(&applied.new_state).attr("uid"),
        &Value::string("uid-1")
    );
}

#[test]
fn an_applied_value_that_differs_from_the_plan_is_caught() {
    let mut diags = Diagnostics::new();
    check_applied_matches_plan(&thing("a", 1), &thing("a", 2), "", &mut diags);
    assert!(diags.has_errors());
    let mut diags = Diagnostics::new();
    let mut planned = thing("a", 1);
    planned.set_attr("uid", Value::Unknown);
    let mut applied = thing("a", 1);
    applied.set_attr("uid", Value::string("x"));
    check_applied_matches_plan(&planned, &applied, "", &mut diags);
    assert!(!diags.has_errors());
}

#[tokio::test]
async fn stop_cancels_an_operation_in_flight() {
    let svc = Arc::new(service());
    let planned = plan(&svc, &Value::Null, &thing("waits-forever", 1), b"").await;
    let applying = {
        let svc = svc.clone();
        tokio::spawn(async move { apply(&svc, &Value::Null, &planned.planned_state, b"").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!applying.is_finished(), "the operation waits until stopped");
    svc.stop(Request::new(pb::stop::Request {})).await.unwrap();
    let applied = tokio::time::timeout(std::time::Duration::from_secs(5), applying)
        .await
        .expect("Stop ends the operation promptly")
        .unwrap();
    assert_eq!(applied.diagnostics[0].summary, "Interrupted");
}

/// Terraform (since 1.1) and OpenTofu refuse the whole provider when any schema `GetSchema` sends
/// breaks one of their rules; this fails with the message the CLI would print.
#[tokio::test]
async fn every_schema_the_provider_sends_loads_in_terraform_and_opentofu() {
    use crate::framework::schema_rules::violations;
    let response = ProviderService::new()
        .get_schema(Request::new(pb::get_provider_schema::Request {}))
        .await
        .unwrap()
        .into_inner();
    assert!(
        response.resource_schemas.len() >= 5,
        "every resource type is served"
    );
    let labelled = |kind: &str, name: &str, schema: &pb::Schema| {
        violations(schema).into_iter().map(move |v| {
            format!("provider crdb has invalid schema for {kind} {name:?}, which is a bug in the provider: {v}")
        }).collect::<Vec<_>>()
    };
    let mut found = Vec::new();
    for (kind, schema) in [
        ("provider configuration", &response.provider),
        ("provider_meta", &response.provider_meta),
    ] {
        if let Some(schema) = schema {
            found.extend(labelled(kind, "crdb", schema));
        }
    }
    for (name, schema) in &response.resource_schemas {
        found.extend(labelled("managed resource type", name, schema));
    }
    for (name, schema) in &response.data_source_schemas {
        found.extend(labelled("data resource type", name, schema));
    }
    for (name, schema) in &response.ephemeral_resource_schemas {
        found.extend(labelled("ephemeral resource type", name, schema));
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
