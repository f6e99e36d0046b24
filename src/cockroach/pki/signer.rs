//! A CA read from PEM and checked to be usable for signing CockroachDB certificates, with the blame for anything
//! wrong put on the certificate or on the key.

use rcgen::{Certificate, CertificateParams, DnType, Issuer, KeyPair, PublicKeyData};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER;
use x509_parser::prelude::FromDer;

use super::crypto::random_serial;
use super::error::{CaError, CaProblem, PkiError, PkiInput};
use super::pem;
use super::private_key::{self, KeyKind, SUPPORTED_KEYS};

/// How far back certificates are dated, so that a node whose clock is behind the machine running Terraform still
/// accepts them. CockroachDB's own `cockroach cert` backdates by the same day.
pub(crate) const CLOCK_SKEW_ALLOWANCE: Duration = Duration::days(1);

pub(crate) struct CaSigner {
    issuer: Issuer<'static, KeyPair>,
    cert_der: Vec<u8>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    has_subject_key_identifier: bool,
}

impl CaSigner {
    pub(crate) fn load(cert_pem: &str, key_pem: &str) -> Result<Self, CaError> {
        let cert_der = pem::single_certificate_der(cert_pem)
            .map_err(|reason| CaError::certificate(CaProblem::Unreadable, reason))?;
        let (_, cert) = X509Certificate::from_der(&cert_der).map_err(|error| {
            CaError::certificate(
                CaProblem::Unreadable,
                format!("the certificate is not valid X.509 ({error})"),
            )
        })?;
        ensure_is_ca(&cert)?;
        if let KeyKind::Unsupported(name) = KeyKind::of(&cert.public_key().algorithm) {
            return Err(CaError::certificate(
                CaProblem::UnsupportedKeyType,
                format!("the certificate's key is {name}; {SUPPORTED_KEYS}"),
            ));
        }

        let key = private_key::load(key_pem)?;
        if key.public_key_raw() != cert.public_key().subject_public_key.data.as_ref() {
            return Err(CaError::private_key(
                CaProblem::KeyMismatch,
                "the private key does not belong to the CA certificate (their public keys differ)",
            ));
        }

        let issuer = Issuer::from_ca_cert_der(&cert_der.as_slice().into(), key).map_err(|error| {
            CaError::certificate(
                CaProblem::UnsupportedSubject,
                format!("the certificate's subject or extensions cannot be used to sign certificates ({error})"),
            )
        })?;
        let not_before = cert.validity().not_before.to_datetime();
        let not_after = cert.validity().not_after.to_datetime();
        let has_subject_key_identifier = cert
            .iter_extensions()
            .any(|extension| extension.oid == OID_X509_EXT_SUBJECT_KEY_IDENTIFIER);
        let signer = CaSigner {
            issuer,
            cert_der,
            not_before,
            not_after,
            has_subject_key_identifier,
        };
        signer.sign_probe()?;
        Ok(signer)
    }

    pub(crate) fn ensure_valid_at(&self, now: OffsetDateTime) -> Result<(), CaError> {
        if now < self.not_before {
            return Err(CaError::certificate(
                CaProblem::NotYetValid,
                format!(
                    "the CA certificate is not valid before {} (now is {now})",
                    self.not_before
                ),
            ));
        }
        if now > self.not_after {
            return Err(CaError::certificate(
                CaProblem::Expired,
                format!("the CA certificate expired at {}", self.not_after),
            ));
        }
        Ok(())
    }

    /// The not-before and not-after of a certificate asked to last `validity` from `now`: backdated for clock skew,
    /// and kept inside the CA's own validity, since a certificate that outlives its CA stops working with it.
    pub(crate) fn leaf_validity(
        &self,
        validity: Duration,
        now: OffsetDateTime,
    ) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
        if validity <= Duration::ZERO {
            return Err(PkiError::invalid(
                PkiInput::Validity,
                format!("must be positive, got {validity}"),
            ));
        }
        let now = whole_seconds(now);
        self.ensure_valid_at(now)?;
        let not_before = (now - CLOCK_SKEW_ALLOWANCE).max(self.not_before);
        let not_after = now
            .checked_add(validity)
            .map_or(self.not_after, |wanted| wanted.min(self.not_after));
        Ok((not_before, not_after))
    }

    /// Signs `params` for `subject_key` with a fresh random serial and a key identifier linking it to the CA.
    pub(crate) fn sign(
        &self,
        mut params: CertificateParams,
        subject_key: &impl PublicKeyData,
    ) -> Result<Certificate, PkiError> {
        params.serial_number = Some(random_serial().map_err(|_| {
            PkiError::Signing("the system random number generator failed".to_owned())
        })?);
        // Without a subject key identifier on the CA there is nothing truthful to point at.
        params.use_authority_key_identifier_extension = self.has_subject_key_identifier;
        let certificate = params
            .signed_by(subject_key, &self.issuer)
            .map_err(PkiError::signing)?;
        self.ensure_chains(&certificate)?;
        Ok(certificate)
    }

    /// Signs a throwaway certificate so that a CA that cannot produce chaining certificates is refused when it is
    /// given, not later when a node certificate is needed.
    fn sign_probe(&self) -> Result<(), CaError> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, "probe");
        let probe = params
            .signed_by(self.issuer.key(), &self.issuer)
            .map_err(|error| {
                CaError::private_key(
                    CaProblem::Unreadable,
                    format!("the key cannot sign certificates ({error})"),
                )
            })?;
        self.ensure_chains(&probe)
    }

    /// Go's verifier (and so CockroachDB) links a certificate to its CA by comparing the issuer name byte for byte
    /// with the CA's subject; rcgen rebuilds the name from parsed attributes, which loses repeated attribute types.
    fn ensure_chains(&self, certificate: &Certificate) -> Result<(), CaError> {
        let (_, ca) =
            X509Certificate::from_der(&self.cert_der).expect("parsed when the signer was loaded");
        let (_, issued) = X509Certificate::from_der(certificate.der()).map_err(|error| {
            CaError::certificate(CaProblem::UnsupportedSubject, error.to_string())
        })?;
        if issued.issuer().as_raw() != ca.subject().as_raw() {
            return Err(CaError::certificate(
                CaProblem::UnsupportedSubject,
                format!(
                    "certificates signed by this CA would name their issuer differently from the CA's subject `{}` \
                     (subjects that repeat an attribute type or put several attributes in one RDN are not supported)",
                    ca.subject()
                ),
            ));
        }
        issued.verify_signature(Some(ca.public_key())).map_err(|_| {
            CaError::private_key(
                CaProblem::KeyMismatch,
                "signatures made with the private key do not verify with the CA certificate",
            )
        })
    }
}

pub(crate) fn whole_seconds(time: OffsetDateTime) -> OffsetDateTime {
    // X.509 times have whole seconds; comparing against finer times would make clamping off by a fraction.
    time.replace_nanosecond(0).expect("0 is a valid nanosecond")
}

fn ensure_is_ca(cert: &X509Certificate<'_>) -> Result<(), CaError> {
    let not_a_ca = |reason: &str| CaError::certificate(CaProblem::NotACa, reason.to_owned());
    let basic_constraints = cert
        .basic_constraints()
        .map_err(|_| not_a_ca("the certificate's basicConstraints extension is malformed"))?;
    if !basic_constraints.is_some_and(|extension| extension.value.ca) {
        return Err(not_a_ca(
            "the certificate is not a CA certificate (it lacks basicConstraints CA:TRUE); provide the CA, not a leaf",
        ));
    }
    let key_usage = cert
        .key_usage()
        .map_err(|_| not_a_ca("the certificate's keyUsage extension is malformed"))?;
    if key_usage.is_some_and(|extension| !extension.value.key_cert_sign()) {
        return Err(not_a_ca(
            "the certificate's keyUsage does not allow signing certificates (keyCertSign)",
        ));
    }
    Ok(())
}
