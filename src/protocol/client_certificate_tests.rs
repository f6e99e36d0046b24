//! `crdb_client_certificate` as Terraform 1.11 and OpenTofu 1.11 drive it, through the ephemeral-resource RPCs:
//! validated with unknowns, opened into a certificate the cluster CA signed, renewed and closed with nothing to do.
use super::*;
use crate::cockroach::pki::test_support::{common_names, not_after, verifies_with, with_cert};
use crate::cockroach::pki::{self, CertificateAuthority};
use crate::framework::AttributePath;
use crate::proto::tfplugin5::provider_server::Provider;
use std::time::SystemTime;

const TYPE: &str = "crdb_client_certificate";

fn value_type() -> crate::framework::Type {
    Registry::crdb()
        .ephemeral_entries()
        .find(|e| e.type_name() == TYPE)
        .unwrap()
        .value_type
        .clone()
}

fn wire(value: &Value) -> Option<pb::DynamicValue> {
    dynamic(msgpack::encode(value, &value_type()).unwrap())
}

fn config(cluster: Value, username: Value, ttl: Value) -> Value {
    let mut config = Value::Object(Default::default());
    for (name, value) in [
        ("cluster", cluster),
        ("username", username),
        ("ttl", ttl),
        ("certificate", Value::Null),
        ("private_key", Value::Null),
        ("ca_certificate", Value::Null),
        ("expires_at", Value::Null),
    ] {
        config.set_attr(name, value);
    }
    config
}

fn cluster(ca: &CertificateAuthority) -> Value {
    let mut cluster = Value::Object(Default::default());
    cluster.set_attr("ca_certificate", Value::string(ca.cert_pem()));
    cluster.set_attr("ca_private_key", Value::string(ca.key_pem()));
    cluster
}

fn ca() -> CertificateAuthority {
    CertificateAuthority::generate(
        "main",
        time::Duration::days(3650),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap()
}

async fn validate(
    svc: &ProviderService,
    config: &Value,
) -> Vec<(String, Option<pb::AttributePath>)> {
    svc.validate_ephemeral_resource_config(Request::new(
        pb::validate_ephemeral_resource_config::Request {
            type_name: TYPE.into(),
            config: wire(config),
        },
    ))
    .await
    .unwrap()
    .into_inner()
    .diagnostics
    .into_iter()
    .map(|d| (d.summary, d.attribute))
    .collect()
}

#[tokio::test]
async fn a_configuration_is_validated_on_its_attributes_with_unknowns_left_for_open() {
    let svc = ProviderService::new();
    let unknown = config(Value::Unknown, Value::Unknown, Value::Unknown);
    assert_eq!(validate(&svc, &unknown).await, []);
    let refused = config(Value::Unknown, Value::string("App"), Value::string("48h"));
    assert_eq!(
        validate(&svc, &refused).await,
        [
            (
                "Invalid user name".to_string(),
                Some(AttributePath::root("username").to_proto())
            ),
            (
                "Invalid ttl".to_string(),
                Some(AttributePath::root("ttl").to_proto())
            ),
        ]
    );
}

#[tokio::test]
async fn open_issues_a_certificate_of_the_cluster_ca_renew_and_close_have_nothing_to_do() {
    let svc = ProviderService::new();
    let ca = ca();
    let before = SystemTime::now();
    let opened = svc
        .open_ephemeral_resource(Request::new(pb::open_ephemeral_resource::Request {
            type_name: TYPE.into(),
            config: wire(&config(
                cluster(&ca),
                Value::string("app"),
                Value::string("10m"),
            )),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: false,
                write_only_attributes_allowed: true,
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(opened.diagnostics.is_empty(), "{:?}", opened.diagnostics);
    assert!(
        opened.renew_at.is_none(),
        "nothing to renew: the certificate lasts its ttl"
    );
    assert!(opened.deferred.is_none());
    let result = msgpack::decode(msgpack_of(&opened.result), &value_type()).unwrap();
    let text = |name: &str| match result.attr(name) {
        Value::String(s) => s.clone(),
        other => panic!("{name}: {other:?}"),
    };
    let cert = text("certificate");
    assert!(verifies_with(&cert, ca.cert_pem()));
    with_cert(&cert, |c| assert_eq!(common_names(c), ["app"]));
    assert_eq!(
        pki::key_matches_certificate(&cert, &text("private_key")),
        Some(true)
    );
    assert_eq!(text("ca_certificate"), ca.cert_pem());
    assert_eq!(text("ttl"), "10m");
    let expiry = not_after(&cert);
    let wanted = time::OffsetDateTime::from(before) + time::Duration::minutes(10);
    assert!(
        (expiry - wanted).abs() < time::Duration::seconds(5),
        "expires at {expiry}, wanted about {wanted}"
    );
    assert_eq!(
        text("expires_at"),
        crate::resources::certificates::rfc3339(expiry).unwrap()
    );

    let renewed = svc
        .renew_ephemeral_resource(Request::new(pb::renew_ephemeral_resource::Request {
            type_name: TYPE.into(),
            private: opened.private.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(renewed.diagnostics.is_empty() && renewed.renew_at.is_none());
    let closed = svc
        .close_ephemeral_resource(Request::new(pb::close_ephemeral_resource::Request {
            type_name: TYPE.into(),
            private: renewed.private,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(closed.diagnostics.is_empty());
}

#[tokio::test]
async fn open_refuses_a_ca_whose_key_is_not_its_own_on_cluster_without_quoting_it() {
    let svc = ProviderService::new();
    let (ca, other) = (ca(), ca());
    let mut mismatched = cluster(&ca);
    mismatched.set_attr("ca_private_key", Value::string(other.key_pem()));
    let opened = svc
        .open_ephemeral_resource(Request::new(pb::open_ephemeral_resource::Request {
            type_name: TYPE.into(),
            config: wire(&config(mismatched, Value::string("app"), Value::Null)),
            client_capabilities: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(opened.result.is_none());
    assert_eq!(opened.diagnostics.len(), 1);
    let refusal = &opened.diagnostics[0];
    assert_eq!(
        refusal.attribute,
        Some(AttributePath::root("cluster").to_proto())
    );
    assert!(
        !refusal.detail.contains("PRIVATE KEY"),
        "{}",
        refusal.detail
    );
}
