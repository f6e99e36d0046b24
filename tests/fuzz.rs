//! Property tests over what arrives from Terraform: arbitrary bytes through the msgpack and JSON
//! decoders, and arbitrary values of each resource's schema type (awkward strings, numbers of every
//! size and sign, nulls and unknowns anywhere) through validation and planning, as the protocol
//! layer runs them. Nothing may panic; every refusal is a diagnostic.
//!
//! Brief in the suite; `FUZZ_CASES=200000 cargo test --release --test fuzz -- --nocapture` runs it
//! long and prints the executions.
//!
//! The SQL resources' names, roles, passwords and regions are fuzzed with the emulated CockroachDB's catalog as
//! the oracle of what their scripts did, in `src/resources/{sql_user,database}/oracle.rs`
//! (`FUZZ_CASES=100000 cargo test --release --lib oracle`).
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::cell::Cell;
use std::collections::BTreeMap;
use terraform_provider_crdb::framework::value::Number;
use terraform_provider_crdb::framework::{json, msgpack, Type, Value};
use terraform_provider_crdb::proto::tfplugin5 as pb;
use terraform_provider_crdb::proto::tfplugin5::provider_server::Provider;
use terraform_provider_crdb::protocol::ProviderService;
use terraform_provider_crdb::resources;

/// Cases per property: few in the suite, as many as `FUZZ_CASES` asks for when run long.
fn config() -> Config {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Strings a user or a state file may hold: the values that have broken parsers before, and noise.
fn string() -> BoxedStrategy<String> {
    let awkward = [
        "",
        " ",
        "a",
        "us-east1-b",
        "cluster..local",
        "0",
        "-1",
        "1e999",
        "1Ei",
        "1025Pi",
        "100Gi",
        "8Gi",
        "2.5",
        "18446744073709551616s",
        "6000000000000000h",
        "1h30m",
        "168h",
        "30m",
        "cockroachdb/cockroach:latest",
        "cockroachdb/cockroach:v24.1.0",
        "cockroachdb/cockroach:v22.1.0",
        "https://127.0.0.1:6443",
        "http://example.com",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----",
        "~/.kube/config",
        "a/b/c",
        "bad key!",
        "auto",
        "manual",
        "public",
        "aws-internal",
        "10.0.0.2:53",
        "[::1]:",
        "\u{0}",
        "\u{feff}ü",
    ];
    prop_oneof![
        3 => proptest::sample::select(awkward.to_vec()).prop_map(str::to_string),
        1 => proptest::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        1 => proptest::collection::vec(proptest::sample::select(b"0123456789.hmsGiEe-:/".to_vec()), 0..24)
            .prop_map(|bytes| String::from_utf8(bytes).unwrap_or_default()),
    ]
    .boxed()
}

fn number() -> BoxedStrategy<Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::Int),
        (-5i64..1100).prop_map(Number::Int),
        any::<f64>().prop_map(Number::from_f64),
        proptest::sample::select(vec![
            "1e30",
            "18446744073709551616",
            "-1e400",
            "0.5",
            "4294967297"
        ])
        .prop_map(|s| Number::Decimal(s.to_string())),
    ]
    .boxed()
}

/// A value of type `ty`, with nulls and unknowns at any depth.
fn value(ty: &Type, depth: u32) -> BoxedStrategy<Value> {
    let leaf = match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => number().prop_map(Value::Number).boxed(),
        Type::String | Type::Dynamic => string().prop_map(Value::String).boxed(),
        Type::List(elem) | Type::Set(elem) if depth > 0 => {
            let set = matches!(ty, Type::Set(_));
            proptest::collection::vec(value(elem, depth - 1), 0..4)
                .prop_map(move |items| {
                    if set {
                        Value::Set(dedup(items))
                    } else {
                        Value::List(items)
                    }
                })
                .boxed()
        }
        Type::Map(elem) if depth > 0 => {
            proptest::collection::btree_map(string(), value(elem, depth - 1), 0..3)
                .prop_map(Value::Map)
                .boxed()
        }
        Type::Object(attrs) if depth > 0 => {
            let fields: Vec<_> = attrs
                .iter()
                .map(|(name, ty)| {
                    value(ty, depth - 1).prop_map({
                        let name = name.clone();
                        move |v| (name.clone(), v)
                    })
                })
                .collect();
            fields
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<BTreeMap<_, _>>()))
                .boxed()
        }
        Type::Tuple(elems) if depth > 0 => elems
            .iter()
            .map(|ty| value(ty, depth - 1))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        _ => Just(Value::Null).boxed(),
    };
    prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 8 => leaf].boxed()
}

/// A set holds each value once, as Terraform sends it.
fn dedup(items: Vec<Value>) -> Vec<Value> {
    let mut unique: Vec<Value> = Vec::new();
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    unique
}

/// An object of type `ty` with `set` at the top and nulls elsewhere.
fn object(ty: &Type, set: &[(&str, Value)]) -> Value {
    let Type::Object(attrs) = ty else {
        return Value::Null;
    };
    let mut fields: BTreeMap<String, Value> =
        attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
    for (name, value) in set {
        let nested = match (attrs.get(*name), value) {
            (Some(inner @ Type::Object(_)), Value::Object(given)) => {
                let pairs: Vec<(&str, Value)> =
                    given.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                object(inner, &pairs)
            }
            _ => value.clone(),
        };
        fields.insert(name.to_string(), nested);
    }
    Value::Object(fields)
}

fn strings(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::string(*s)).collect())
}

/// A configuration of `type_name` that validates cleanly, which mutations start from so that they
/// reach the planning rules behind validation.
fn baseline(type_name: &str, ty: &Type) -> Value {
    let cluster = [
        ("name", Value::string("main")),
        ("image", Value::string("cockroachdb/cockroach:v24.1.0")),
        ("zones", strings(&["a", "b"])),
    ];
    // A host and token: a kubeconfig path would have to exist on this machine (the plan checks it).
    let kubernetes = Value::Object(
        [
            ("host".to_string(), Value::string("https://127.0.0.1:6443")),
            ("token".to_string(), Value::string("t")),
        ]
        .into(),
    );
    match type_name {
        "crdb_multiregion_cluster" => object(ty, &cluster),
        "crdb_region" => {
            let cluster_ty = match ty {
                Type::Object(attrs) => attrs["cluster"].clone(),
                _ => Type::Dynamic,
            };
            let mut cluster_value = object(&cluster_ty, &cluster);
            cluster_value.set_attr("init_zone", Value::string("a"));
            object(
                ty,
                &[
                    ("cluster", cluster_value),
                    ("zone", Value::string("a")),
                    ("kubernetes", kubernetes),
                ],
            )
        }
        "crdb_sql_user" => object(
            ty,
            &[
                ("name", Value::string("app")),
                ("password", Value::string("pw")),
                ("roles", Value::Set(vec![Value::string("admin")])),
                ("zone", Value::string("a")),
                ("kubernetes", kubernetes),
            ],
        ),
        "crdb_database" => object(
            ty,
            &[
                ("name", Value::string("shop")),
                ("primary_region", Value::string("r1")),
                (
                    "regions",
                    Value::Set(["r1", "r2", "r3"].map(Value::string).to_vec()),
                ),
                ("survival_goal", Value::string("region")),
                ("zone", Value::string("a")),
                ("kubernetes", kubernetes),
            ],
        ),
        _ => object(
            ty,
            &[
                ("zone", Value::string("a")),
                (
                    "peers",
                    Value::Map([("b".to_string(), Value::string("192.0.2.1"))].into()),
                ),
                ("kubernetes", kubernetes),
            ],
        ),
    }
}

/// `base` with each top-level attribute replaced by the one of `random` where `pick` says so.
fn mutate(base: &Value, random: &Value, pick: &[bool]) -> Value {
    let (Value::Object(base), Value::Object(random)) = (base, random) else {
        return random.clone();
    };
    Value::Object(
        base.iter()
            .zip(pick.iter().cycle())
            .map(|((name, value), take)| {
                let chosen = if *take {
                    random.get(name).cloned().unwrap_or_default()
                } else {
                    value.clone()
                };
                (name.clone(), chosen)
            })
            .collect(),
    )
}

fn dynamic(value: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: msgpack::encode(value, ty).ok()?,
        json: Vec::new(),
    })
}

#[test]
fn arbitrary_bytes_never_panic_the_decoders() {
    let types: Vec<Type> = resources::all()
        .iter()
        .map(|r| r.schema().block.value_type())
        .chain([Type::Dynamic, Type::list(Type::Number)])
        .collect();
    let mut runner = TestRunner::new(config());
    let executions = Cell::new(0usize);
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        // msgpack headers of deep or huge containers, and JSON-ish text.
        proptest::collection::vec(
            proptest::sample::select(vec![
                0x91u8, 0xdd, 0xdf, 0xc7, 0xd4, 0xcb, 0xff, 0x00, b'[', b'{', b'"', b'1'
            ]),
            0..512
        ),
    ];
    runner
        .run(&bytes, |bytes| {
            for ty in &types {
                executions.set(executions.get() + 1);
                let _ = msgpack::decode(&bytes, ty);
                let _ = json::decode(&bytes, ty);
            }
            Ok(())
        })
        .unwrap();
    println!("decoders: {} executions, no panic", executions.get());
    assert!(executions.get() > 0);
}

#[test]
fn arbitrary_configurations_get_diagnostics_never_a_panic() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let service = ProviderService::new();
    let executions = Cell::new(0usize);
    let refused = Cell::new(0usize);
    for resource in resources::all() {
        let type_name = resource.type_name().to_string();
        let ty = resource.schema().block.value_type();
        let mut runner = TestRunner::new(config());
        let base = baseline(&type_name, &ty);
        let Some(base_dv) = dynamic(&base, &ty) else {
            panic!("the {type_name} baseline does not encode");
        };
        let validated = runtime
            .block_on(service.validate_resource_type_config(tonic::Request::new(
                pb::validate_resource_type_config::Request {
                    type_name: type_name.clone(),
                    config: Some(base_dv),
                    client_capabilities: None,
                },
            )))
            .unwrap()
            .into_inner();
        let refusals: Vec<_> = validated
            .diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.summary, d.detail))
            .collect();
        assert!(
            refusals.is_empty(),
            "the {type_name} baseline is refused: {refusals:?}"
        );
        let attributes = match &ty {
            Type::Object(attrs) => attrs.len(),
            _ => 1,
        };
        let strategy = (
            value(&ty, 4),
            proptest::collection::vec(proptest::bool::weighted(0.15), attributes),
            value(&ty, 4),
        );
        runner
            .run(&strategy, |(random, pick, prior)| {
                let config = mutate(&base, &random, &pick);
                // Terraform sends objects at the top, and a known prior state.
                let (Value::Object(_), Some(config_dv)) = (&config, dynamic(&config, &ty)) else {
                    return Ok(());
                };
                executions.set(executions.get() + 1);
                let validated = runtime
                    .block_on(service.validate_resource_type_config(tonic::Request::new(
                        pb::validate_resource_type_config::Request {
                            type_name: type_name.clone(),
                            config: Some(config_dv.clone()),
                            client_capabilities: None,
                        },
                    )))
                    .unwrap()
                    .into_inner();
                refused.set(refused.get() + usize::from(!validated.diagnostics.is_empty()));
                let prior_dv = match prior {
                    Value::Object(_) if prior.is_wholly_known() => dynamic(&prior, &ty),
                    _ => dynamic(&Value::Null, &ty),
                };
                runtime
                    .block_on(service.plan_resource_change(tonic::Request::new(
                        pb::plan_resource_change::Request {
                            type_name: type_name.clone(),
                            prior_state: prior_dv,
                            proposed_new_state: Some(config_dv.clone()),
                            config: Some(config_dv),
                            ..Default::default()
                        },
                    )))
                    .unwrap();
                Ok(())
            })
            .unwrap();
    }
    let (executions, refused) = (executions.get(), refused.get());
    println!("configurations: {executions} validated and planned, {refused} refused with diagnostics, no panic");
    assert!(executions > 0 && refused > 0 && refused < executions);
}
