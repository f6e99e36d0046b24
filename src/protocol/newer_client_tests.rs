//! What clients of protocol 5.4 to 5.8 (Terraform 1.6 to 1.11, OpenTofu 1.6 to 1.11) send that
//! Terraform 1.0 never did: the RPCs added since 5.3, client capabilities, whole nested blocks
//! unknown (a `dynamic` block over an unknown collection), provider_meta, and destroy plans.
use super::*;
use crate::framework::ephemeral::{Opened, Renewed};
use crate::framework::{
    ApplyOutcome, Attribute, AttributePath, Block, EphemeralResource, Resource, Schema,
};
use crate::proto::tfplugin5::provider_server::Provider;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A resource that shows what reaches it: its read and import record the client's deferral
/// capability; it has a write-only password, a single block and a list block.
struct Probe;

#[async_trait::async_trait]
impl Resource for Probe {
    fn type_name(&self) -> &'static str {
        "test_probe"
    }

    fn model_fields(&self) -> &'static [&'static str] {
        &["name", "password", "deferral_allowed", "window", "rule"]
    }

    fn schema(&self) -> Schema {
        let nested = || Block::new("n").attribute(Attribute::optional("x", Type::String, "x"));
        Schema {
            version: 0,
            block: Block::new("A probe.")
                .attribute(Attribute::required("name", Type::String, "n"))
                .attribute(Attribute::optional("password", Type::String, "p").write_only())
                .attribute(Attribute::computed("deferral_allowed", Type::Bool, "d"))
                .single_block("window", nested())
                .list_block("rule", nested()),
        }
    }

    /// Says in a warning whether the apply was given the write-only password, and keeps it in its
    /// state (wrongly: the protocol layer must drop it).
    async fn create(&self, _: &OperationContext, planned: &Value) -> ApplyOutcome {
        let mut diagnostics = Diagnostics::new();
        diagnostics.warning(
            "password given",
            format!("{}", planned.attr("password") == &Value::string("secret")),
        );
        ApplyOutcome {
            state: planned.clone(),
            diagnostics,
            ..Default::default()
        }
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        state: &Value,
    ) -> Result<Option<Value>, Diagnostics> {
        let mut state = state.clone();
        state.set_attr("deferral_allowed", Value::Bool(ctx.client.deferral_allowed));
        Ok(Some(state))
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

    async fn import(&self, ctx: &OperationContext, id: &str) -> Result<Value, Diagnostics> {
        let mut state = Value::Object(Default::default());
        state.set_attr("name", Value::string(id));
        state.set_attr("deferral_allowed", Value::Bool(ctx.client.deferral_allowed));
        // A resource that wrongly keeps a write-only value: the protocol layer must not pass it on.
        state.set_attr("password", Value::string("secret"));
        Ok(state)
    }
}

/// An ephemeral resource that opens a token and hands its private bytes back on renew and close.
struct Token;

#[async_trait::async_trait]
impl EphemeralResource for Token {
    fn type_name(&self) -> &'static str {
        "test_token"
    }

    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            block: Block::new("A token.")
                .attribute(Attribute::required("audience", Type::String, "a"))
                .attribute(Attribute::computed("token", Type::String, "t")),
        }
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if config.attr("audience") == &Value::string("") {
            diags.attribute_error(AttributePath::root("audience"), "Empty audience", "");
        }
    }

    async fn open(&self, _: &OperationContext, config: &Value) -> Result<Opened, Diagnostics> {
        let mut result = config.clone();
        result.set_attr("token", Value::string("t-1"));
        Ok(Opened {
            result,
            private: b"lease-1".to_vec(),
            renew_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000)),
        })
    }

    async fn renew(&self, ctx: &OperationContext) -> Result<Renewed, Diagnostics> {
        Ok(Renewed {
            private: [ctx.private.as_slice(), b"+renewed"].concat(),
            renew_at: None,
        })
    }

    async fn close(&self, ctx: &OperationContext) -> Diagnostics {
        let mut diags = Diagnostics::new();
        diags.warning("Closed", String::from_utf8_lossy(&ctx.private).to_string());
        diags
    }
}

fn probe_service() -> ProviderService {
    ProviderService::with_registry(
        Registry::new(vec![Arc::new(Probe)]).with_ephemeral(vec![Arc::new(Token)]),
    )
}

fn object(entries: &[(&str, Value)]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

/// A value of `type_name`'s schema in the crdb registry (or the probe's), as the wire carries it.
fn wire(type_name: &str, value: &Value) -> Option<pb::DynamicValue> {
    let ty = schema_of(type_name).value_type();
    dynamic(msgpack::encode(value, &ty).unwrap())
}

fn unwire(type_name: &str, value: &Option<pb::DynamicValue>) -> Value {
    msgpack::decode(msgpack_of(value), &schema_of(type_name).value_type()).unwrap()
}

fn schema_of(type_name: &str) -> Schema {
    if type_name == "test_probe" {
        return Probe.schema();
    }
    crate::resources::all()
        .into_iter()
        .find(|r| r.type_name() == type_name)
        .unwrap()
        .schema()
}

const ALLOW_ALL: pb::ClientCapabilities = pb::ClientCapabilities {
    deferral_allowed: true,
    write_only_attributes_allowed: true,
};

fn assert_no_diagnostics(diagnostics: &[pb::Diagnostic]) {
    assert!(diagnostics.is_empty(), "{:?}", summaries(diagnostics));
}

fn summaries(diagnostics: &[pb::Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.summary, d.detail))
        .collect()
}

async fn validate(
    svc: &ProviderService,
    type_name: &str,
    config: &Value,
    client: Option<pb::ClientCapabilities>,
) -> Vec<pb::Diagnostic> {
    svc.validate_resource_type_config(Request::new(pb::validate_resource_type_config::Request {
        type_name: type_name.into(),
        config: wire(type_name, config),
        client_capabilities: client,
    }))
    .await
    .unwrap()
    .into_inner()
    .diagnostics
}

/// A plan as Terraform 1.11 sends it, the proposed state being the config on a create.
async fn plan_as_newer_client(
    svc: &ProviderService,
    type_name: &str,
    prior: &Value,
    proposed: &Value,
) -> pb::plan_resource_change::Response {
    svc.plan_resource_change(Request::new(pb::plan_resource_change::Request {
        type_name: type_name.into(),
        prior_state: wire(type_name, prior),
        proposed_new_state: wire(type_name, proposed),
        config: wire(type_name, proposed),
        prior_private: Vec::new(),
        provider_meta: None,
        client_capabilities: Some(ALLOW_ALL),
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn metadata_lists_the_resource_types_and_the_same_capabilities_as_the_schema() {
    let svc = ProviderService::new();
    let metadata = svc
        .get_metadata(Request::new(pb::get_metadata::Request {}))
        .await
        .unwrap()
        .into_inner();
    let schema = svc
        .get_schema(Request::new(pb::get_provider_schema::Request {}))
        .await
        .unwrap()
        .into_inner();
    let mut listed: Vec<_> = metadata.resources.iter().map(|r| &r.type_name).collect();
    listed.sort();
    let mut schemas: Vec<_> = schema.resource_schemas.keys().collect();
    schemas.sort();
    assert_eq!(listed, schemas);
    assert!(listed.iter().any(|t| *t == "crdb_region"));
    assert!(metadata.data_sources.is_empty() && metadata.functions.is_empty());
    let ephemeral: Vec<_> = metadata
        .ephemeral_resources
        .iter()
        .map(|r| r.type_name.as_str())
        .collect();
    assert_eq!(ephemeral, ["crdb_client_certificate"]);
    assert!(schema
        .ephemeral_resource_schemas
        .contains_key("crdb_client_certificate"));
    assert!(metadata.diagnostics.is_empty());
    let capabilities = pb::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: true,
        move_resource_state: false,
    };
    assert_eq!(metadata.server_capabilities, Some(capabilities));
    assert_eq!(schema.server_capabilities, Some(capabilities));
    assert!(schema.functions.is_empty());
}

#[tokio::test]
async fn there_are_no_functions_and_calling_one_is_a_function_error() {
    let svc = ProviderService::new();
    let functions = svc
        .get_functions(Request::new(pb::get_functions::Request {}))
        .await
        .unwrap()
        .into_inner();
    assert!(functions.functions.is_empty() && functions.diagnostics.is_empty());
    let called = svc
        .call_function(Request::new(pb::call_function::Request {
            name: "parse_zone".into(),
            arguments: vec![],
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(called.result.is_none());
    let error = called.error.expect("a function error");
    assert_eq!(
        error.text,
        "Function Not Found: No function named \"parse_zone\" was found in the provider."
    );
    assert_eq!(error.function_argument, None);
}

#[tokio::test]
async fn a_move_across_resource_types_is_refused_naming_source_and_target() {
    let moved = ProviderService::new()
        .move_resource_state(Request::new(pb::move_resource_state::Request {
            source_provider_address: "registry.terraform.io/hashicorp/kubernetes".into(),
            source_type_name: "kubernetes_namespace".into(),
            source_schema_version: 1,
            source_state: Some(pb::RawState {
                json: b"{}".to_vec(),
                flatmap: Default::default(),
            }),
            target_type_name: "crdb_region".into(),
            source_private: Vec::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(moved.target_state.is_none());
    assert_eq!(moved.diagnostics.len(), 1);
    let refusal = &moved.diagnostics[0];
    assert_eq!(refusal.severity, pb::diagnostic::Severity::Error as i32);
    assert_eq!(refusal.summary, "Unable to Move Resource State");
    for named in [
        "registry.terraform.io/hashicorp/kubernetes",
        "kubernetes_namespace",
        "crdb_region",
    ] {
        assert!(
            refusal.detail.contains(named),
            "{named}: {}",
            refusal.detail
        );
    }
}

#[tokio::test]
async fn an_unknown_ephemeral_resource_type_is_named_by_every_ephemeral_rpc() {
    let svc = ProviderService::new();
    let name = || "crdb_session".to_string();
    let validated = svc
        .validate_ephemeral_resource_config(Request::new(
            pb::validate_ephemeral_resource_config::Request {
                type_name: name(),
                config: None,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .diagnostics;
    let opened = svc
        .open_ephemeral_resource(Request::new(pb::open_ephemeral_resource::Request {
            type_name: name(),
            config: None,
            client_capabilities: Some(ALLOW_ALL),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(opened.result.is_none() && opened.deferred.is_none() && opened.private.is_none());
    let renewed = svc
        .renew_ephemeral_resource(Request::new(pb::renew_ephemeral_resource::Request {
            type_name: name(),
            private: None,
        }))
        .await
        .unwrap()
        .into_inner()
        .diagnostics;
    let closed = svc
        .close_ephemeral_resource(Request::new(pb::close_ephemeral_resource::Request {
            type_name: name(),
            private: Some(b"x".to_vec()),
        }))
        .await
        .unwrap()
        .into_inner()
        .diagnostics;
    for diagnostics in [validated, opened.diagnostics, renewed, closed] {
        assert_eq!(
            summaries(&diagnostics),
            ["Ephemeral Resource Type Not Found: No ephemeral resource type named \"crdb_session\" was found in the provider."]
        );
    }
}

#[tokio::test]
async fn a_registered_ephemeral_resource_is_listed_validated_opened_renewed_and_closed() {
    let svc = probe_service();
    let metadata = svc
        .get_metadata(Request::new(pb::get_metadata::Request {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(metadata.ephemeral_resources[0].type_name, "test_token");
    let schema = svc
        .get_schema(Request::new(pb::get_provider_schema::Request {}))
        .await
        .unwrap()
        .into_inner();
    assert!(schema.ephemeral_resource_schemas.contains_key("test_token"));

    let ty = Token.schema().value_type();
    let config = |audience: &str| {
        dynamic(msgpack::encode(&object(&[("audience", Value::string(audience))]), &ty).unwrap())
    };
    let refused = svc
        .validate_ephemeral_resource_config(Request::new(
            pb::validate_ephemeral_resource_config::Request {
                type_name: "test_token".into(),
                config: config(""),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(refused.diagnostics[0].summary, "Empty audience");
    let opened = svc
        .open_ephemeral_resource(Request::new(pb::open_ephemeral_resource::Request {
            type_name: "test_token".into(),
            config: config("db"),
            client_capabilities: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(opened.diagnostics.is_empty(), "{:?}", opened.diagnostics);
    let result = msgpack::decode(msgpack_of(&opened.result), &ty).unwrap();
    assert_eq!(result.attr("token"), &Value::string("t-1"));
    assert_eq!(opened.renew_at.map(|t| t.seconds), Some(1_000));
    let renewed = svc
        .renew_ephemeral_resource(Request::new(pb::renew_ephemeral_resource::Request {
            type_name: "test_token".into(),
            private: opened.private,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renewed.private.as_deref(), Some(&b"lease-1+renewed"[..]));
    let closed = svc
        .close_ephemeral_resource(Request::new(pb::close_ephemeral_resource::Request {
            type_name: "test_token".into(),
            private: renewed.private,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.diagnostics[0].detail, "lease-1+renewed");
}

fn probe(name: &str) -> Value {
    object(&[("name", Value::string(name)), ("rule", Value::List(vec![]))])
}

#[tokio::test]
async fn client_capabilities_reach_read_and_import_and_nothing_is_ever_deferred() {
    let svc = probe_service();
    for client in [
        None,
        Some(pb::ClientCapabilities::default()),
        Some(ALLOW_ALL),
    ] {
        let allowed = client.is_some_and(|c| c.deferral_allowed);
        let read = svc
            .read_resource(Request::new(pb::read_resource::Request {
                type_name: "test_probe".into(),
                current_state: wire("test_probe", &probe("a")),
                client_capabilities: client,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(read.deferred.is_none());
        assert_eq!(
            unwire("test_probe", &read.new_state).attr("deferral_allowed"),
            &Value::Bool(allowed)
        );
        let imported = svc
            .import_resource_state(Request::new(pb::import_resource_state::Request {
                type_name: "test_probe".into(),
                id: "b".into(),
                client_capabilities: client,
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(imported.deferred.is_none());
        assert_eq!(
            unwire("test_probe", &imported.imported_resources[0].state).attr("deferral_allowed"),
            &Value::Bool(allowed)
        );
        let planned = svc
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "test_probe".into(),
                prior_state: None,
                proposed_new_state: wire("test_probe", &probe("a")),
                config: wire("test_probe", &probe("a")),
                client_capabilities: client,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(planned.deferred.is_none() && planned.diagnostics.is_empty());
    }
}

#[tokio::test]
async fn a_write_only_value_is_refused_to_an_old_client_and_never_planned_for_a_new_one() {
    let svc = probe_service();
    let mut config = probe("a");
    config.set_attr("password", Value::string("secret"));
    let old = validate(&svc, "test_probe", &config, None).await;
    assert_eq!(old.len(), 1, "{:?}", summaries(&old));
    assert_eq!(
        old[0].attribute,
        Some(AttributePath::root("password").to_proto())
    );
    let without_it = Some(pb::ClientCapabilities {
        deferral_allowed: true,
        write_only_attributes_allowed: false,
    });
    assert_eq!(
        validate(&svc, "test_probe", &config, without_it)
            .await
            .len(),
        1
    );
    assert!(validate(&svc, "test_probe", &config, Some(ALLOW_ALL))
        .await
        .is_empty());

    let planned = plan_as_newer_client(&svc, "test_probe", &Value::Null, &config).await;
    assert_no_diagnostics(&planned.diagnostics);
    let planned = unwire("test_probe", &planned.planned_state);
    assert_eq!(planned.attr("password"), &Value::Null);
    assert_eq!(planned.attr("name"), &Value::string("a"));
}

#[tokio::test]
async fn an_apply_is_given_the_write_only_value_of_the_configuration_and_stores_none() {
    let svc = probe_service();
    let mut config = probe("a");
    config.set_attr("password", Value::string("secret"));
    let planned = plan_as_newer_client(&svc, "test_probe", &Value::Null, &config).await;
    let applied = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "test_probe".into(),
            prior_state: wire("test_probe", &Value::Null),
            planned_state: planned.planned_state,
            config: wire("test_probe", &config),
            planned_private: Vec::new(),
            provider_meta: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&applied.diagnostics), ["password given: true"]);
    let state = unwire("test_probe", &applied.new_state);
    assert_eq!(state.attr("password"), &Value::Null);
    assert_eq!(state.attr("name"), &Value::string("a"));
}

#[tokio::test]
async fn read_import_and_upgrade_never_hand_back_a_write_only_value() {
    let svc = probe_service();
    let mut stored = probe("a");
    stored.set_attr("password", Value::string("secret"));
    let read = svc
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: "test_probe".into(),
            current_state: wire("test_probe", &stored),
            client_capabilities: Some(ALLOW_ALL),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_no_diagnostics(&read.diagnostics);
    let read = unwire("test_probe", &read.new_state);
    assert_eq!(read.attr("password"), &Value::Null);
    assert_eq!(read.attr("name"), &Value::string("a"));

    let imported = svc
        .import_resource_state(Request::new(pb::import_resource_state::Request {
            type_name: "test_probe".into(),
            id: "b".into(),
            client_capabilities: Some(ALLOW_ALL),
        }))
        .await
        .unwrap()
        .into_inner();
    let imported = unwire("test_probe", &imported.imported_resources[0].state);
    assert_eq!(imported.attr("password"), &Value::Null);

    let upgraded = svc
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: "test_probe".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: br#"{"name": "a", "password": "secret", "rule": []}"#.to_vec(),
                flatmap: Default::default(),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_no_diagnostics(&upgraded.diagnostics);
    let upgraded = unwire("test_probe", &upgraded.upgraded_state);
    assert_eq!(upgraded.attr("password"), &Value::Null);
    assert_eq!(upgraded.attr("name"), &Value::string("a"));
}

#[tokio::test]
async fn whole_unknown_single_and_list_blocks_validate_and_plan_as_unknown() {
    let svc = probe_service();
    let mut config = probe("a");
    config.set_attr("window", Value::Unknown);
    config.set_attr("rule", Value::Unknown);
    assert!(validate(&svc, "test_probe", &config, Some(ALLOW_ALL))
        .await
        .is_empty());
    let response = plan_as_newer_client(&svc, "test_probe", &Value::Null, &config).await;
    assert_no_diagnostics(&response.diagnostics);
    let planned = unwire("test_probe", &response.planned_state);
    assert_eq!(planned.attr("window"), &Value::Unknown);
    assert_eq!(planned.attr("rule"), &Value::Unknown);

    // Unknown values inside blocks that are there.
    let inner = object(&[("x", Value::Unknown)]);
    config.set_attr("window", inner.clone());
    config.set_attr("rule", Value::List(vec![inner.clone(), Value::Unknown]));
    let response = plan_as_newer_client(&svc, "test_probe", &Value::Null, &config).await;
    assert_no_diagnostics(&response.diagnostics);
    let planned = unwire("test_probe", &response.planned_state);
    assert_eq!(planned.attr("window"), &inner);
    assert_eq!(
        planned.attr("rule"),
        &Value::List(vec![inner, Value::Unknown])
    );
}

#[tokio::test]
async fn provider_meta_sent_anyway_changes_nothing() {
    let svc = probe_service();
    let plain = plan_as_newer_client(&svc, "test_probe", &Value::Null, &probe("a")).await;
    let with_meta = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "test_probe".into(),
            proposed_new_state: wire("test_probe", &probe("a")),
            config: wire("test_probe", &probe("a")),
            provider_meta: dynamic(vec![0x80]),
            client_capabilities: Some(ALLOW_ALL),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(with_meta, plain);
}

/// A `crdb_multiregion_cluster` as a config referring to values not known yet.
fn cluster_config(zones: Value) -> Value {
    object(&[
        ("name", Value::string("main")),
        ("image", Value::string("cockroachdb/cockroach:v24.1.0")),
        ("zones", zones),
    ])
}

/// A `crdb_region` whose cluster and Kubernetes connection come from resources not created yet.
fn region_config(kubernetes: Value) -> Value {
    let cluster = object(&[
        ("name", Value::string("main")),
        ("image", Value::string("cockroachdb/cockroach:v24.1.0")),
        ("zones", Value::List(vec![Value::string("us-east1-b")])),
        ("ca_certificate", Value::Unknown),
        ("ca_private_key", Value::Unknown),
        ("join_addresses", Value::Unknown),
    ]);
    object(&[
        ("cluster", cluster),
        ("zone", Value::string("us-east1-b")),
        ("kubernetes", kubernetes),
        ("timeouts", Value::Unknown),
    ])
}

#[tokio::test]
async fn a_region_with_an_unknown_kubernetes_block_validates_and_plans() {
    let svc = ProviderService::new();
    // What Terraform 1.11.4 and OpenTofu 1.11.6 send for `dynamic "kubernetes"` over an unknown collection: the
    // block, every argument its content sets unknown, the others null.
    let as_sent = object(&[
        ("host", Value::Unknown),
        ("cluster_ca_certificate", Value::Unknown),
        ("token", Value::Unknown),
    ]);
    let exec_unknown = object(&[
        ("host", Value::Unknown),
        ("cluster_ca_certificate", Value::Unknown),
        ("token", Value::Unknown),
        ("exec", Value::Unknown),
    ]);
    for kubernetes in [Value::Unknown, as_sent, exec_unknown] {
        let config = region_config(kubernetes);
        let refusals = validate(&svc, "crdb_region", &config, Some(ALLOW_ALL)).await;
        assert_no_diagnostics(&refusals);
        let response = plan_as_newer_client(&svc, "crdb_region", &Value::Null, &config).await;
        assert_no_diagnostics(&response.diagnostics);
        assert!(response.deferred.is_none());
        let planned = unwire("crdb_region", &response.planned_state);
        let sent = unwire("crdb_region", &wire("crdb_region", &config));
        assert_eq!(planned.attr("kubernetes"), sent.attr("kubernetes"));
        assert_eq!(planned.attr("zone"), &Value::string("us-east1-b"));
    }
}

#[tokio::test]
async fn a_cluster_with_unknown_zones_validates_and_plans() {
    let svc = ProviderService::new();
    for zones in [
        Value::Unknown,
        Value::List(vec![Value::string("us-east1-b"), Value::Unknown]),
    ] {
        let config = cluster_config(zones.clone());
        let refusals = validate(&svc, "crdb_multiregion_cluster", &config, Some(ALLOW_ALL)).await;
        assert_no_diagnostics(&refusals);
        let response =
            plan_as_newer_client(&svc, "crdb_multiregion_cluster", &Value::Null, &config).await;
        assert_no_diagnostics(&response.diagnostics);
        let planned = unwire("crdb_multiregion_cluster", &response.planned_state);
        assert_eq!(planned.attr("zones"), &zones);
    }
}

#[tokio::test]
async fn a_region_destroy_is_planned_null_and_refused_while_protected() {
    let svc = ProviderService::new();
    let mut prior = region_config(object(&[("config_path", Value::string("~/.kube/config"))]));
    prior.set_attr("timeouts", Value::Null);
    prior.set_attr("id", Value::string("us-east1-b"));
    for (protected, refused) in [(false, false), (true, true)] {
        prior.set_attr("deletion_protection", Value::Bool(protected));
        let response = plan_as_newer_client(&svc, "crdb_region", &prior, &Value::Null).await;
        assert_eq!(unwire("crdb_region", &response.planned_state), Value::Null);
        let errors: Vec<_> = response
            .diagnostics
            .iter()
            .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
            .collect();
        assert_eq!(
            !errors.is_empty(),
            refused,
            "{:?}",
            summaries(&response.diagnostics)
        );
    }
}
