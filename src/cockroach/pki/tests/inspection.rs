//! The helpers resources use to notice drift.

use time::macros::datetime;

use crate::cockroach::pki::test_support::*;
use crate::cockroach::pki::*;

#[test]
fn node_certificate_covers_only_its_zone_and_domain() {
    let ca = generated_ca();
    let node = node_cert(&ca);
    assert!(node_certificate_covers(
        &node.cert_pem,
        "us-east1-b",
        "cluster.local"
    ));
    assert!(!node_certificate_covers(
        &node.cert_pem,
        "us-west1-a",
        "cluster.local"
    ));
    assert!(!node_certificate_covers(
        &node.cert_pem,
        "us-east1-b",
        "other.local"
    ));
    assert!(!node_certificate_covers(
        &node.cert_pem,
        "Bad Zone",
        "cluster.local"
    ));
    let root = issue_client_certificate(&ca, "root", YEAR, NOW).unwrap();
    assert!(!node_certificate_covers(
        &root.cert_pem,
        "us-east1-b",
        "cluster.local"
    ));
    assert!(!node_certificate_covers(
        "garbage",
        "us-east1-b",
        "cluster.local"
    ));
}

#[test]
fn matches_ca_tells_apart_cas_with_the_same_subject() {
    let (ca, other) = (generated_ca(), generated_ca());
    let node = node_cert(&ca);
    assert!(certificate_matches_ca(&node.cert_pem, ca.cert_pem()));
    assert!(
        !certificate_matches_ca(&node.cert_pem, other.cert_pem()),
        "same subject, different key"
    );
    assert!(!certificate_matches_ca(&node.cert_pem, "garbage"));
    assert!(!certificate_matches_ca("garbage", ca.cert_pem()));
}

#[test]
fn fingerprint_is_the_sha256_of_the_der() {
    // openssl x509 -in testdata/openssl-rsa-ca.crt -noout -fingerprint -sha256
    let expected = "73:71:55:F5:D2:D9:4D:2D:30:80:4D:FA:48:C3:7D:35:7A:F0:BC:75:6B:3E:39:7D:15:D2:3A:7D:0D:4A:C2:16"
        .replace(':', "")
        .to_lowercase();
    assert_eq!(
        certificate_fingerprint_sha256(OPENSSL_RSA_CA).unwrap(),
        expected
    );
    let crlf = OPENSSL_RSA_CA.replace('\n', "\r\n");
    assert_eq!(
        certificate_fingerprint_sha256(&crlf).unwrap(),
        expected,
        "PEM layout does not matter"
    );
    assert_ne!(
        certificate_fingerprint_sha256(generated_ca().cert_pem()).unwrap(),
        certificate_fingerprint_sha256(generated_ca().cert_pem()).unwrap()
    );
    assert!(matches!(
        certificate_fingerprint_sha256("garbage"),
        Err(PkiError::UnreadableCertificate(_))
    ));
}

#[test]
fn not_after_reads_certificates_made_elsewhere() {
    assert_eq!(
        certificate_not_after(OPENSSL_RSA_CA).unwrap(),
        datetime!(2126-10-29 14:32:04 UTC)
    );
    assert!(matches!(
        certificate_not_after(RSA_PKCS8),
        Err(PkiError::UnreadableCertificate(_))
    ));
}
