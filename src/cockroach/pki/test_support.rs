//! Shared by the PKI tests: fixed clocks and a way to look inside PEM certificates.

use time::{macros::datetime, Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::pem;
use super::CertificateAuthority;

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
