//! Shared by the PKI tests: fixed clocks and a way to look inside PEM certificates.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use time::{macros::datetime, Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Version;

use super::{
    certificate_matches_ca, issue_client_certificate, issue_node_certificate,
    node_certificate_covers, pem, private_key, CaAttribute, CaError, CaProblem,
    CertificateAuthority, KeyPairPem, PkiError, PkiInput,
};

pub(crate) const NOW: OffsetDateTime = datetime!(2026-11-22 14:00:00.123456789 UTC);
pub(crate) const YEAR: Duration = Duration::days(365);

pub(crate) fn generated_ca() -> CertificateAuthority {
    CertificateAuthority::generate("main", 10 * YEAR, NOW).unwrap()
}

/// Runs `inspect` on the parsed certificate; the closure form keeps the borrowed DER alive.
pub(crate) fn with_cert<R>(cert_pem: &str, inspect: impl FnOnce(&X509Certificate<'_>) -> R) -> R {
    let der = pem::single_certificate_der(cert_pem).unwrap();
    let (rest, cert) = X509Certificate::from_der(&der).unwrap();
    assert!(rest.is_empty(), "trailing bytes after the certificate");
    inspect(&cert)
}

pub(crate) fn verifies_with(cert_pem: &str, ca_pem: &str) -> bool {
    with_cert(ca_pem, |ca| {
        with_cert(cert_pem, |cert| {
            cert.verify_signature(Some(ca.public_key())).is_ok()
        })
    })
}

pub(crate) const RSA_PKCS1: &str = include_str!("testdata/rsa2048.pkcs1.pem");
pub(crate) const RSA_PKCS8: &str = include_str!("testdata/rsa2048.pkcs8.pem");
pub(crate) const P256_SEC1: &str = include_str!("testdata/p256.sec1.pem");
pub(crate) const P384_SEC1: &str = include_str!("testdata/p384.sec1.pem");
pub(crate) const ED25519_PKCS8: &str = include_str!("testdata/ed25519.pkcs8.pem");
pub(crate) const OPENSSL_RSA_CA: &str = include_str!("testdata/openssl-rsa-ca.crt");
pub(crate) const OPENSSL_REPEATED_DC_CA: &str = include_str!("testdata/openssl-repeated-dc-ca.crt");
pub(crate) const OPENSSL_NO_SKI_CA: &str = include_str!("testdata/openssl-no-ski-ca.crt");
/// After the openssl-made fixtures' not-before (they were made without backdating).
pub(crate) const LATER: OffsetDateTime = datetime!(2030-01-01 00:00 UTC);

pub(crate) fn common_names(cert: &X509Certificate<'_>) -> Vec<String> {
    cert.subject()
        .iter_common_name()
        .map(|cn| cn.as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn organizations(cert: &X509Certificate<'_>) -> Vec<String> {
    cert.subject()
        .iter_organization()
        .map(|o| o.as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn key_identifiers(cert: &X509Certificate<'_>) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
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

pub(crate) fn not_after(cert_pem: &str) -> OffsetDateTime {
    with_cert(cert_pem, |cert| cert.validity().not_after.to_datetime())
}

pub(crate) fn not_before(cert_pem: &str) -> OffsetDateTime {
    with_cert(cert_pem, |cert| cert.validity().not_before.to_datetime())
}

pub(crate) fn whole(time: OffsetDateTime) -> OffsetDateTime {
    time.replace_nanosecond(0).unwrap()
}

pub(crate) fn node_cert(ca: &CertificateAuthority) -> KeyPairPem {
    issue_node_certificate(ca, "us-east1-b", "cluster.local", YEAR, NOW).unwrap()
}

/// A leaf's shape common to node and client certificates: v3, O=Cockroach, not a CA, signed by `ca` and linked to it
/// by name and key identifier, valid inside the CA, with a PKCS#8 key matching its public key.
pub(crate) fn assert_leaf_of(ca: &CertificateAuthority, leaf: &KeyPairPem) {
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

pub(crate) fn refusal(
    cert_pem: &str,
    key_pem: &str,
    now: OffsetDateTime,
) -> (CaAttribute, CaProblem) {
    let error = CertificateAuthority::from_pem(cert_pem, key_pem, now).unwrap_err();
    assert!(!error.message.is_empty());
    assert_no_key_material(&format!("{error} {error:?}"), key_pem);
    (error.attribute, error.problem)
}

/// The base64 body of a PEM key must never be echoed, whatever the labels the message mentions.
pub(crate) fn assert_no_key_material(text: &str, key_pem: &str) {
    for line in key_pem
        .lines()
        .filter(|line| !line.starts_with("-----") && line.len() > 8)
    {
        assert!(!text.contains(line), "key material in: {text}");
    }
}

/// A CA self-signed with `key_pem` (any format `private_key::load` takes), valid from `NOW` for ten years.
pub(crate) fn user_ca(key_pem: &str) -> String {
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
pub(crate) fn assert_issues_working_certificates(
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

/// Fails unless `error` refuses a validity (zero, negative, or beyond what a certificate can carry).
pub(crate) fn assert_invalid_validity(error: &PkiError) {
    assert!(
        matches!(
            error,
            PkiError::InvalidInput {
                input: PkiInput::Validity,
                ..
            }
        ),
        "{error}"
    );
}

/// Fails unless `error` refuses to issue from an expired CA.
pub(crate) fn assert_expired_ca(error: &PkiError) {
    assert!(
        matches!(
            error,
            PkiError::Ca(CaError {
                problem: CaProblem::Expired,
                ..
            })
        ),
        "{error}"
    );
}
