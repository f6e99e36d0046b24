//! Errors, worded for a Terraform diagnostic and free of key material.

use std::fmt;

/// Which input of a user-provided CA is wrong, so the resource can attach the diagnostic to that attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaAttribute {
    Certificate,
    PrivateKey,
}

impl CaAttribute {
    /// The attribute's name in the `crdb_multiregion_cluster` schema.
    pub fn name(self) -> &'static str {
        match self {
            CaAttribute::Certificate => "ca_certificate",
            CaAttribute::PrivateKey => "ca_private_key",
        }
    }
}

/// Why a CA was refused. Lets callers and tests branch without parsing the sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaProblem {
    /// Not PEM, not the expected PEM block, or not decodable DER.
    Unreadable,
    /// A password-protected key: the provider has nowhere to get the password from.
    Encrypted,
    /// Not RSA nor ECDSA P-256/P-384.
    UnsupportedKeyType,
    /// basicConstraints CA:true is missing, or keyUsage forbids signing certificates.
    NotACa,
    NotYetValid,
    Expired,
    /// The private key does not belong to the certificate.
    KeyMismatch,
    /// The subject cannot be written back byte for byte as the issuer of the certificates we sign, so they would not
    /// chain to it (for example a subject that repeats an attribute type, like two `DC=` or `OU=`).
    UnsupportedSubject,
}

/// A CA the provider cannot use, with the attribute to blame and a sentence for the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", .attribute.name())]
pub struct CaError {
    pub attribute: CaAttribute,
    pub problem: CaProblem,
    pub message: String,
}

impl CaError {
    pub(crate) fn certificate(problem: CaProblem, message: impl Into<String>) -> Self {
        Self {
            attribute: CaAttribute::Certificate,
            problem,
            message: message.into(),
        }
    }

    pub(crate) fn private_key(problem: CaProblem, message: impl Into<String>) -> Self {
        Self {
            attribute: CaAttribute::PrivateKey,
            problem,
            message: message.into(),
        }
    }
}

/// Which argument of a generate or issue call is unusable, for the resource to map onto its own attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkiInput {
    ClusterName,
    Validity,
    User,
    Zone,
    ClusterDomain,
}

impl fmt::Display for PkiInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PkiInput::ClusterName => "cluster name",
            PkiInput::Validity => "validity",
            PkiInput::User => "user",
            PkiInput::Zone => "zone",
            PkiInput::ClusterDomain => "cluster domain",
        })
    }
}

/// Failure to generate or issue a certificate, or to read one for inspection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PkiError {
    /// An argument that cannot go into a certificate as given.
    #[error("invalid {input}: {reason}")]
    InvalidInput { input: PkiInput, reason: String },
    /// The CA cannot sign: expired or not yet valid at `now`, or no longer loads (a CA edited in state by hand).
    #[error("the CA cannot be used: {0}")]
    Ca(#[from] CaError),
    /// A certificate given for inspection could not be read.
    #[error("the certificate cannot be read: {0}")]
    UnreadableCertificate(String),
    /// rcgen refused to build or sign a certificate.
    #[error("the certificate could not be created: {0}")]
    Signing(String),
}

impl PkiError {
    pub(crate) fn invalid(input: PkiInput, reason: impl Into<String>) -> Self {
        PkiError::InvalidInput {
            input,
            reason: reason.into(),
        }
    }

    pub(crate) fn signing(error: rcgen::Error) -> Self {
        // rcgen's messages describe the failure, never the key.
        PkiError::Signing(error.to_string())
    }
}
