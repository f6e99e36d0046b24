//! The cluster's public key infrastructure: a CA (generated, or brought by the user), the `root` client certificate
//! and one node certificate per zone, shaped the way CockroachDB validates them.
//!
//! Everything here is a plain function of its inputs plus a clock reading passed in as `now`: nothing is cached and
//! nothing regenerates on its own. The resources decide when to issue, and use the inspection helpers to notice drift.
//!
//! Key material never reaches `Debug` output or error messages.

mod authority;
mod crypto;
mod error;
mod inspect;
mod issue;
mod pem;
mod private_key;
mod signer;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

use std::fmt;

pub use authority::CertificateAuthority;
pub use error::{CaAttribute, CaError, CaProblem, PkiError, PkiInput};
pub use inspect::{
    bundle_fingerprints, ca_bundle, certificate_fingerprint_sha256, certificate_matches_ca,
    certificate_not_after, certificates_digest, key_matches_certificate, node_certificate_covers,
};
pub use issue::{
    issue_client_certificate, issue_node_certificate, node_certificate_dns_names, validate_sql_user,
};

/// A certificate and its private key, both PEM. The key is PKCS#8 (`PRIVATE KEY`), which CockroachDB reads.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPairPem {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for KeyPairPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPairPem")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &REDACTED)
            .finish()
    }
}

/// What `Debug` prints in place of a private key.
const REDACTED: &str = "<redacted>";
