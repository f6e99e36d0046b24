//! Node and client certificates, held against what CockroachDB checks.

use std::collections::BTreeSet;

use time::Duration;
use x509_parser::extensions::GeneralName;

use crate::cockroach::pki::test_support::*;
use crate::cockroach::pki::*;

#[test]
fn root_client_certificate_has_cn_root_and_only_client_auth() {
    let ca = generated_ca();
    let root = issue_client_certificate(&ca, "root", YEAR, NOW).unwrap();
    assert_leaf_of(&ca, &root);
    with_cert(&root.cert_pem, |cert| {
        assert_eq!(common_names(cert), ["root"]);
        assert_eq!(cert.subject().to_string(), "O=Cockroach, CN=root");
        let eku = cert
            .extended_key_usage()
            .unwrap()
            .expect("extendedKeyUsage present")
            .value;
        assert!(eku.client_auth);
        assert!(
            !eku.server_auth && !eku.any,
            "a client certificate must not serve"
        );
    });
    assert_eq!(not_after(&root.cert_pem), whole(NOW) + YEAR);
    assert_eq!(not_before(&root.cert_pem), whole(NOW) - Duration::days(1));
}

#[test]
fn client_certificate_refuses_names_cockroachdb_would_not_match() {
    let ca = generated_ca();
    let error = issue_client_certificate(&ca, "Root", YEAR, NOW).unwrap_err();
    assert!(
        matches!(
            error,
            PkiError::InvalidInput {
                input: PkiInput::User,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn node_certificate_has_exactly_the_names_cockroachdb_and_kubernetes_dns_need() {
    let ca = generated_ca();
    let node = node_cert(&ca);
    assert_leaf_of(&ca, &node);
    with_cert(&node.cert_pem, |cert| {
        assert_eq!(common_names(cert), ["node"]);
        let names = &cert
            .subject_alternative_name()
            .unwrap()
            .expect("SAN present")
            .value
            .general_names;
        let dns: BTreeSet<&str> = names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(*dns),
                _ => None,
            })
            .collect();
        let expected: BTreeSet<&str> = [
            "node",
            "localhost",
            "cockroachdb-public",
            "cockroachdb-public.default",
            "cockroachdb-public.us-east1-b",
            "cockroachdb-public.us-east1-b.svc.cluster.local",
            "*.cockroachdb",
            "*.cockroachdb.us-east1-b",
            "*.cockroachdb.us-east1-b.svc.cluster.local",
        ]
        .into();
        assert_eq!(dns, expected);
        let ips: Vec<&[u8]> = names
            .iter()
            .filter_map(|name| match name {
                GeneralName::IPAddress(ip) => Some(*ip),
                _ => None,
            })
            .collect();
        assert_eq!(ips, [&[127u8, 0, 0, 1][..]]);
        assert_eq!(names.len(), expected.len() + 1, "no other kinds of names");
    });
}

#[test]
fn node_certificate_serves_and_acts_as_client() {
    let ca = generated_ca();
    with_cert(&node_cert(&ca).cert_pem, |cert| {
        let eku = cert
            .extended_key_usage()
            .unwrap()
            .expect("extendedKeyUsage present")
            .value;
        assert!(eku.server_auth, "nodes serve TLS");
        assert!(
            eku.client_auth,
            "nodes authenticate to their peers with the same certificate"
        );
    });
}

#[test]
fn node_certificate_uses_a_custom_cluster_domain() {
    let ca = generated_ca();
    let node = issue_node_certificate(&ca, "eu", "corp.example", YEAR, NOW).unwrap();
    assert!(node_certificate_covers(
        &node.cert_pem,
        "eu",
        "corp.example"
    ));
    assert!(!node_certificate_covers(
        &node.cert_pem,
        "eu",
        "cluster.local"
    ));
}

#[test]
fn certificates_never_outlive_their_ca() {
    let ca = CertificateAuthority::generate("main", YEAR, NOW).unwrap();
    let node = issue_node_certificate(&ca, "zone", "cluster.local", 5 * YEAR, NOW).unwrap();
    let root = issue_client_certificate(&ca, "root", 5 * YEAR, NOW).unwrap();
    assert_eq!(not_after(&node.cert_pem), not_after(ca.cert_pem()));
    assert_eq!(not_after(&root.cert_pem), not_after(ca.cert_pem()));
}

#[test]
fn an_expired_ca_issues_nothing() {
    let ca = CertificateAuthority::generate("main", YEAR, NOW).unwrap();
    let error =
        issue_node_certificate(&ca, "zone", "cluster.local", YEAR, NOW + 2 * YEAR).unwrap_err();
    assert_expired_ca(&error);
    let error = issue_client_certificate(&ca, "root", YEAR, NOW + 2 * YEAR).unwrap_err();
    assert_expired_ca(&error);
}

#[test]
fn leaves_refuse_non_positive_validity() {
    let error = issue_client_certificate(&generated_ca(), "root", Duration::ZERO, NOW).unwrap_err();
    assert_invalid_validity(&error);
}
