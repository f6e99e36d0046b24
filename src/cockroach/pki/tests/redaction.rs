//! Secrets stay out of `Debug`.

use crate::cockroach::pki::test_support::*;
use crate::cockroach::pki::*;

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
