//! The CA the provider generates.

use time::Duration;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ECDSA_WITH_SHA256,
};

use crate::cockroach::pki::test_support::*;
use crate::cockroach::pki::*;

#[test]
fn generated_ca_is_a_critical_ca_that_may_sign_certificates() {
    let ca = generated_ca();
    with_cert(ca.cert_pem(), |cert| {
        let basic_constraints = cert
            .basic_constraints()
            .unwrap()
            .expect("basicConstraints present");
        assert!(basic_constraints.critical);
        assert!(basic_constraints.value.ca);
        assert_eq!(basic_constraints.value.path_len_constraint, Some(0));
        let key_usage = cert.key_usage().unwrap().expect("keyUsage present");
        assert!(key_usage.critical);
        assert!(key_usage.value.key_cert_sign());
        assert!(key_usage.value.crl_sign());
        assert!(key_usage.value.digital_signature());
        assert_eq!(common_names(cert), ["Cockroach CA"]);
        assert_eq!(organizations(cert), ["Cockroach"]);
        let units: Vec<_> = cert
            .subject()
            .iter_organizational_unit()
            .map(|ou| ou.as_str().unwrap())
            .collect();
        assert_eq!(units, ["main"]);
        assert_eq!(
            cert.subject().as_raw(),
            cert.issuer().as_raw(),
            "self-signed"
        );
        assert!(cert.verify_signature(None).is_ok());
        assert!(
            key_identifiers(cert).0.is_some(),
            "subject key identifier lets leaves point at the CA"
        );
    });
}

#[test]
fn generated_ca_uses_ecdsa_p256_and_a_random_serial() {
    let (first, second) = (generated_ca(), generated_ca());
    with_cert(first.cert_pem(), |cert| {
        assert_eq!(
            cert.public_key().algorithm.algorithm,
            OID_KEY_TYPE_EC_PUBLIC_KEY
        );
        let curve = cert
            .public_key()
            .algorithm
            .parameters
            .as_ref()
            .unwrap()
            .as_oid()
            .unwrap();
        assert_eq!(curve, OID_EC_P256);
        assert_eq!(
            cert.signature_algorithm.algorithm,
            OID_SIG_ECDSA_WITH_SHA256
        );
        assert_eq!(cert.raw_serial().len(), 16);
    });
    let serial =
        |ca: &CertificateAuthority| with_cert(ca.cert_pem(), |cert| cert.raw_serial().to_vec());
    assert_ne!(serial(&first), serial(&second));
    assert_ne!(first.key_pem(), second.key_pem());
}

#[test]
fn generated_ca_is_backdated_a_day_and_lasts_the_validity_asked() {
    let ca = generated_ca();
    assert_eq!(not_before(ca.cert_pem()), whole(NOW) - Duration::days(1));
    assert_eq!(not_after(ca.cert_pem()), whole(NOW) + 10 * YEAR);
    assert_eq!(
        certificate_not_after(ca.cert_pem()).unwrap(),
        whole(NOW) + 10 * YEAR
    );
}

#[test]
fn generated_ca_refuses_bad_names_and_validities() {
    for name in ["", "a\nb", &"x".repeat(65)] {
        let error = CertificateAuthority::generate(name, YEAR, NOW).unwrap_err();
        assert!(
            matches!(
                error,
                PkiError::InvalidInput {
                    input: PkiInput::ClusterName,
                    ..
                }
            ),
            "{error}"
        );
    }
    for validity in [Duration::ZERO, -YEAR] {
        let error = CertificateAuthority::generate("main", validity, NOW).unwrap_err();
        assert_invalid_validity(&error);
    }
}

#[test]
fn absurd_validities_are_errors_not_panics() {
    for validity in [Duration::days(365 * 9000), Duration::MAX] {
        let error = CertificateAuthority::generate("main", validity, NOW).unwrap_err();
        assert_invalid_validity(&error);
    }
    let ca = generated_ca();
    // Clamped to the CA, so even an absurd request yields a usable certificate.
    let root = issue_client_certificate(&ca, "root", Duration::MAX, NOW).unwrap();
    assert_eq!(not_after(&root.cert_pem), not_after(ca.cert_pem()));
}
