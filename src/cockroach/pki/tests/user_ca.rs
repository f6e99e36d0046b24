//! A CA the user brings: what works, and what is refused with the blame on the right attribute.

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
use time::Duration;
use x509_parser::oid_registry::OID_PKCS1_SHA256WITHRSA;

use crate::cockroach::pki::test_support::*;
use crate::cockroach::pki::*;

#[test]
fn generated_ca_round_trips_through_pem() {
    let generated = generated_ca();
    let node = assert_issues_working_certificates(generated.cert_pem(), generated.key_pem(), NOW);
    assert_leaf_of(&generated, &node);
}

#[test]
fn user_rsa_ca_signs_with_pkcs1_and_pkcs8_keys() {
    let cert_pem = user_ca(RSA_PKCS8);
    for key_pem in [RSA_PKCS1, RSA_PKCS8] {
        let node = assert_issues_working_certificates(&cert_pem, key_pem, NOW);
        with_cert(&node.cert_pem, |cert| {
            assert_eq!(cert.signature_algorithm.algorithm, OID_PKCS1_SHA256WITHRSA)
        });
    }
}

#[test]
fn user_ecdsa_ca_signs_with_sec1_keys_on_p256_and_p384() {
    for key_pem in [P256_SEC1, P384_SEC1] {
        assert_issues_working_certificates(&user_ca(key_pem), key_pem, NOW);
    }
}

#[test]
fn user_ca_made_by_openssl_works() {
    assert_issues_working_certificates(OPENSSL_RSA_CA, RSA_PKCS1, LATER);
}

#[test]
fn refuses_a_certificate_that_is_not_a_ca() {
    let ca = generated_ca();
    let root = issue_client_certificate(&ca, "root", YEAR, NOW).unwrap();
    assert_eq!(
        refusal(&root.cert_pem, &root.key_pem, NOW),
        (CaAttribute::Certificate, CaProblem::NotACa)
    );
}

#[test]
fn refuses_a_ca_whose_key_usage_forbids_signing_certificates() {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert_pem = params.self_signed(&key).unwrap().pem();
    assert_eq!(
        refusal(&cert_pem, &key.serialize_pem(), NOW),
        (CaAttribute::Certificate, CaProblem::NotACa)
    );
}

#[test]
fn refuses_a_key_that_belongs_to_another_certificate() {
    let (ca, other) = (generated_ca(), generated_ca());
    assert_eq!(
        refusal(ca.cert_pem(), other.key_pem(), NOW),
        (CaAttribute::PrivateKey, CaProblem::KeyMismatch)
    );
    assert_eq!(
        refusal(&user_ca(RSA_PKCS8), P256_SEC1, NOW),
        (CaAttribute::PrivateKey, CaProblem::KeyMismatch),
        "a key of another type"
    );
}

#[test]
fn refuses_garbage_and_says_which_input() {
    let ca = generated_ca();
    assert_eq!(
        refusal("garbage", ca.key_pem(), NOW),
        (CaAttribute::Certificate, CaProblem::Unreadable)
    );
    assert_eq!(
        refusal(ca.cert_pem(), "garbage", NOW),
        (CaAttribute::PrivateKey, CaProblem::Unreadable)
    );
    assert_eq!(
        refusal(ca.key_pem(), ca.cert_pem(), NOW),
        (CaAttribute::Certificate, CaProblem::Unreadable)
    );
    assert_eq!(
        refusal(ca.cert_pem(), ca.cert_pem(), NOW),
        (CaAttribute::PrivateKey, CaProblem::Unreadable)
    );
    let truncated = &ca.cert_pem()[..ca.cert_pem().len() / 2];
    assert_eq!(
        refusal(truncated, ca.key_pem(), NOW),
        (CaAttribute::Certificate, CaProblem::Unreadable)
    );
    let not_der = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
    assert_eq!(
        refusal(not_der, ca.key_pem(), NOW),
        (CaAttribute::Certificate, CaProblem::Unreadable)
    );
}

#[test]
fn refuses_an_expired_or_not_yet_valid_ca() {
    let ca = CertificateAuthority::generate("main", YEAR, NOW).unwrap();
    let expired = refusal(ca.cert_pem(), ca.key_pem(), NOW + 2 * YEAR);
    assert_eq!(expired, (CaAttribute::Certificate, CaProblem::Expired));
    let early = refusal(ca.cert_pem(), ca.key_pem(), NOW - Duration::days(2));
    assert_eq!(early, (CaAttribute::Certificate, CaProblem::NotYetValid));
}

#[test]
fn refuses_key_types_cockroachdb_does_not_take() {
    let ed25519 = ED25519_PKCS8;
    let key = KeyPair::from_pem(ed25519).unwrap();
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert_pem = params.self_signed(&key).unwrap().pem();
    assert_eq!(
        refusal(&cert_pem, ed25519, NOW),
        (CaAttribute::Certificate, CaProblem::UnsupportedKeyType)
    );
    let ca = generated_ca();
    assert_eq!(
        refusal(ca.cert_pem(), ed25519, NOW),
        (CaAttribute::PrivateKey, CaProblem::UnsupportedKeyType)
    );
}

#[test]
fn refuses_a_subject_that_issued_certificates_could_not_name() {
    // Two DC attributes: rcgen would write the issuer with one, and CockroachDB would not find the CA.
    assert_eq!(
        refusal(OPENSSL_REPEATED_DC_CA, P256_SEC1, LATER),
        (CaAttribute::Certificate, CaProblem::UnsupportedSubject)
    );
}

#[test]
fn errors_name_the_terraform_attribute() {
    let error = CertificateAuthority::from_pem("garbage", "garbage", NOW).unwrap_err();
    assert_eq!(error.attribute.name(), "ca_certificate");
    assert!(error.to_string().starts_with("ca_certificate: "));
    assert_eq!(CaAttribute::PrivateKey.name(), "ca_private_key");
}

#[test]
fn user_ca_without_key_identifier_or_key_usage_works_and_leaves_point_at_nothing() {
    let cert_pem = OPENSSL_NO_SKI_CA;
    let node = assert_issues_working_certificates(cert_pem, P384_SEC1, LATER);
    with_cert(&node.cert_pem, |cert| {
        assert_eq!(key_identifiers(cert).1, None)
    });
}
