//! Every certificate the module produces, parsed back and held against what CockroachDB checks
//! (docs: "Certificates (as CockroachDB validates them)").

use std::collections::BTreeSet;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use time::{macros::datetime, Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_SHA256WITHRSA, OID_SIG_ECDSA_WITH_SHA256,
};
use x509_parser::x509::X509Version;

use super::test_support::{generated_ca, verifies_with, with_cert, NOW, YEAR};
use super::*;

const RSA_PKCS1: &str = include_str!("testdata/rsa2048.pkcs1.pem");
const RSA_PKCS8: &str = include_str!("testdata/rsa2048.pkcs8.pem");
const P256_SEC1: &str = include_str!("testdata/p256.sec1.pem");
const P384_SEC1: &str = include_str!("testdata/p384.sec1.pem");
const OPENSSL_RSA_CA: &str = include_str!("testdata/openssl-rsa-ca.crt");
const OPENSSL_REPEATED_DC_CA: &str = include_str!("testdata/openssl-repeated-dc-ca.crt");
/// After the openssl-made fixtures' not-before (they were made without backdating).
const LATER: OffsetDateTime = datetime!(2030-01-01 00:00 UTC);

fn common_names(cert: &X509Certificate<'_>) -> Vec<String> {
    cert.subject()
        .iter_common_name()
        .map(|cn| cn.as_str().unwrap().to_owned())
        .collect()
}

fn organizations(cert: &X509Certificate<'_>) -> Vec<String> {
    cert.subject()
        .iter_organization()
        .map(|o| o.as_str().unwrap().to_owned())
        .collect()
}

fn key_identifiers(cert: &X509Certificate<'_>) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut subject = None;
    let mut authority = None;
    for extension in cert.iter_extensions() {
        match extension.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => subject = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority = aki.key_identifier.as_ref().map(|id| id.0.to_vec())
            }
            _ => {}
        }
    }
    (subject, authority)
}

fn not_after(cert_pem: &str) -> OffsetDateTime {
    with_cert(cert_pem, |cert| cert.validity().not_after.to_datetime())
}

fn not_before(cert_pem: &str) -> OffsetDateTime {
    with_cert(cert_pem, |cert| cert.validity().not_before.to_datetime())
}

fn whole(time: OffsetDateTime) -> OffsetDateTime {
    time.replace_nanosecond(0).unwrap()
}

fn node_cert(ca: &CertificateAuthority) -> KeyPairPem {
    issue_node_certificate(ca, "us-east1-b", "cluster.local", YEAR, NOW).unwrap()
}

/// A leaf's shape common to node and client certificates: v3, O=Cockroach, not a CA, signed by `ca` and linked to it
/// by name and key identifier, valid inside the CA, with a PKCS#8 key matching its public key.
fn assert_leaf_of(ca: &CertificateAuthority, leaf: &KeyPairPem) {
    assert!(
        verifies_with(&leaf.cert_pem, ca.cert_pem()),
        "signature does not verify with the CA"
    );
    assert!(certificate_matches_ca(&leaf.cert_pem, ca.cert_pem()));
    let (ca_subject, ca_key_id) = with_cert(ca.cert_pem(), |ca| {
        (ca.subject().as_raw().to_vec(), key_identifiers(ca).0)
    });
    with_cert(&leaf.cert_pem, |cert| {
        assert_eq!(cert.version(), X509Version::V3);
        assert_eq!(cert.issuer().as_raw(), ca_subject.as_slice());
        assert_eq!(
            key_identifiers(cert).1,
            ca_key_id,
            "authority key identifier must be the CA's"
        );
        assert_eq!(organizations(cert), ["Cockroach"]);
        let basic_constraints = cert
            .basic_constraints()
            .unwrap()
            .expect("basicConstraints present");
        assert!(!basic_constraints.value.ca);
        let key_usage = cert.key_usage().unwrap().expect("keyUsage present");
        assert!(key_usage.value.digital_signature() && key_usage.value.key_encipherment());
        assert!(!key_usage.value.key_cert_sign());
        assert_eq!(cert.raw_serial().len(), 16);
        let key = KeyPair::from_pem(&leaf.key_pem).expect("the key is PKCS#8 PEM");
        assert_eq!(
            key.public_key_raw(),
            cert.public_key().subject_public_key.data.as_ref()
        );
    });
    assert!(leaf.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(
        not_after(&leaf.cert_pem) <= not_after(ca.cert_pem()),
        "must not outlive the CA"
    );
    assert!(not_before(&leaf.cert_pem) >= not_before(ca.cert_pem()));
}

// --- generated CA -------------------------------------------------------------------------------------------------

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
                    what: "cluster name",
                    ..
                }
            ),
            "{error}"
        );
    }
    for validity in [Duration::ZERO, -YEAR] {
        let error = CertificateAuthority::generate("main", validity, NOW).unwrap_err();
        assert!(
            matches!(
                error,
                PkiError::InvalidInput {
                    what: "validity",
                    ..
                }
            ),
            "{error}"
        );
    }
}

// --- client certificate -------------------------------------------------------------------------------------------

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
        matches!(error, PkiError::InvalidInput { what: "user", .. }),
        "{error}"
    );
}

// --- node certificate ---------------------------------------------------------------------------------------------

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
    assert!(
        matches!(
            &error,
            PkiError::Ca(CaError {
                problem: CaProblem::Expired,
                ..
            })
        ),
        "{error}"
    );
    let error = issue_client_certificate(&ca, "root", YEAR, NOW + 2 * YEAR).unwrap_err();
    assert!(
        matches!(
            &error,
            PkiError::Ca(CaError {
                problem: CaProblem::Expired,
                ..
            })
        ),
        "{error}"
    );
}

#[test]
fn leaves_refuse_non_positive_validity() {
    let error = issue_client_certificate(&generated_ca(), "root", Duration::ZERO, NOW).unwrap_err();
    assert!(
        matches!(
            error,
            PkiError::InvalidInput {
                what: "validity",
                ..
            }
        ),
        "{error}"
    );
}

// --- inspection helpers -------------------------------------------------------------------------------------------

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

// --- a CA the user brings -----------------------------------------------------------------------------------------

fn refusal(cert_pem: &str, key_pem: &str, now: OffsetDateTime) -> (CaAttribute, CaProblem) {
    let error = CertificateAuthority::from_pem(cert_pem, key_pem, now).unwrap_err();
    assert!(!error.message.is_empty());
    assert_no_key_material(&format!("{error} {error:?}"), key_pem);
    (error.attribute, error.problem)
}

/// The base64 body of a PEM key must never be echoed, whatever the labels the message mentions.
fn assert_no_key_material(text: &str, key_pem: &str) {
    for line in key_pem
        .lines()
        .filter(|line| !line.starts_with("-----") && line.len() > 8)
    {
        assert!(!text.contains(line), "key material in: {text}");
    }
}

/// A CA self-signed with `key_pem` (any format `private_key::load` takes), valid from `NOW` for ten years.
fn user_ca(key_pem: &str) -> String {
    let key = private_key::load(key_pem).unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "Team CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    params.not_before = NOW - Duration::hours(1);
    params.not_after = NOW + 10 * YEAR;
    params.self_signed(&key).unwrap().pem()
}

/// What users do with a CA they bring: load it, issue a node certificate, check it chains.
fn assert_issues_working_certificates(
    cert_pem: &str,
    key_pem: &str,
    now: OffsetDateTime,
) -> KeyPairPem {
    let ca = CertificateAuthority::from_pem(cert_pem, key_pem, now).unwrap();
    assert_eq!(
        (ca.cert_pem(), ca.key_pem()),
        (cert_pem, key_pem),
        "kept verbatim for Terraform state"
    );
    let node = issue_node_certificate(&ca, "zone", "cluster.local", YEAR, now).unwrap();
    assert!(verifies_with(&node.cert_pem, cert_pem));
    assert!(certificate_matches_ca(&node.cert_pem, cert_pem));
    assert!(node_certificate_covers(
        &node.cert_pem,
        "zone",
        "cluster.local"
    ));
    let root = issue_client_certificate(&ca, "root", YEAR, now).unwrap();
    assert!(verifies_with(&root.cert_pem, cert_pem));
    node
}

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
    let ed25519 = include_str!("testdata/ed25519.pkcs8.pem");
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

// --- secrets stay out of Debug ------------------------------------------------------------------------------------

#[test]
fn debug_output_never_shows_private_keys() {
    let ca = generated_ca();
    let root = issue_client_certificate(&ca, "root", YEAR, NOW).unwrap();
    let user = CertificateAuthority::from_pem(&user_ca(RSA_PKCS1), RSA_PKCS1, NOW).unwrap();
    for debug in [
        format!("{ca:?}"),
        format!("{root:?}"),
        format!("{user:?}"),
        format!("{ca:#?}"),
    ] {
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert!(
            debug.contains("BEGIN CERTIFICATE"),
            "certificates are public and useful when debugging"
        );
    }
}

#[test]
fn absurd_validities_are_errors_not_panics() {
    for validity in [Duration::days(365 * 9000), Duration::MAX] {
        let error = CertificateAuthority::generate("main", validity, NOW).unwrap_err();
        assert!(
            matches!(
                error,
                PkiError::InvalidInput {
                    what: "validity",
                    ..
                }
            ),
            "{error}"
        );
    }
    let ca = generated_ca();
    // Clamped to the CA, so even an absurd request yields a usable certificate.
    let root = issue_client_certificate(&ca, "root", Duration::MAX, NOW).unwrap();
    assert_eq!(not_after(&root.cert_pem), not_after(ca.cert_pem()));
}

#[test]
fn user_ca_without_key_identifier_or_key_usage_works_and_leaves_point_at_nothing() {
    let cert_pem = include_str!("testdata/openssl-no-ski-ca.crt");
    let node = assert_issues_working_certificates(cert_pem, P384_SEC1, LATER);
    with_cert(&node.cert_pem, |cert| {
        assert_eq!(key_identifiers(cert).1, None)
    });
}
