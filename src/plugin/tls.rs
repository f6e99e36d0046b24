//! go-plugin AutoMTLS: the host hands us its client certificate (`PLUGIN_CLIENT_CERT`), we make a
//! throwaway server certificate, publish it in the handshake line, and both sides pin each other.
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName as TlsName, ServerConfig, SignatureScheme};

/// PEM of the host's client certificate; its presence switches AutoMTLS on.
pub const CLIENT_CERT_KEY: &str = "PLUGIN_CLIENT_CERT";

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// `PLUGIN_CLIENT_CERT` held no parsable certificate.
    #[error("{CLIENT_CERT_KEY} is not a PEM certificate: {0}")]
    ClientCertPem(String),
    #[error("cannot generate the server certificate: {0}")]
    ServerCert(rcgen::Error),
    #[error("cannot configure TLS: {0}")]
    Rustls(rustls::Error),
}

/// The server side of AutoMTLS, ready to accept connections.
pub struct AutoMtls {
    /// DER of our certificate, published (base64) in the handshake line.
    pub server_cert_der: CertificateDer<'static>,
    pub config: Arc<ServerConfig>,
}

impl AutoMtls {
    /// Builds a server that requires the client to present exactly a certificate from
    /// `client_cert_pem`.
    pub fn new(client_cert_pem: &str) -> Result<Self, TlsSetupError> {
        let expected = parse_client_certs(client_cert_pem)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (server_cert_der, server_key) = generate_server_cert()?;
        let verifier = PinnedClientCert {
            expected,
            algorithms: provider.signature_verification_algorithms,
        };
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsSetupError::Rustls)?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(vec![server_cert_der.clone()], server_key)
            .map_err(TlsSetupError::Rustls)?;
        // grpc-go 1.67 and later (in newer Terraform releases) refuse a TLS server that does not
        // select h2 by ALPN.
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            server_cert_der,
            config: Arc::new(config),
        })
    }
}

fn parse_client_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsSetupError::ClientCertPem(error.to_string()))?;
    if certs.is_empty() {
        return Err(TlsSetupError::ClientCertPem("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

/// A fresh self-signed P-256 certificate for `localhost`, shaped like the one go-plugin makes
/// for itself (CA flag, server and client auth), since that is what Go hosts are known to
/// accept when they pin it as their only root.
pub fn generate_server_cert(
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsSetupError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(TlsSetupError::ServerCert)?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned()]).map_err(TlsSetupError::ServerCert)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "localhost");
    name.push(DnType::OrganizationName, "terraform-provider-crdb");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    // The host checks validity once, when it connects; tolerate a little clock skew.
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(365);
    let cert = params
        .self_signed(&key)
        .map_err(TlsSetupError::ServerCert)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key_der))
}

/// Accepts a client only if its end-entity certificate is byte-for-byte one we were given.
///
/// webpki's standard verifier cannot be used: go-plugin's client certificate is self-signed
/// with the CA flag set, which webpki rejects as "CA used as end entity". Pinning the exact DER
/// is stricter than chain building anyway; the handshake signatures are still verified, so a
/// peer must hold the private key, not just a copy of the certificate.
#[derive(Debug)]
struct PinnedClientCert {
    expected: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClientCert {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[TlsName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self
            .expected
            .iter()
            .any(|cert| cert.as_ref() == end_entity.as_ref())
        {
            Ok(ClientCertVerified::assertion())
        } else {
            tracing::warn!("refused a TLS client whose certificate is not the host's");
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if dss.scheme == SignatureScheme::ECDSA_NISTP521_SHA512 {
            return verify_p521_sha512(message, cert, dss.signature());
        }
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if dss.scheme == SignatureScheme::ECDSA_NISTP521_SHA512 {
            return verify_p521_sha512(message, cert, dss.signature());
        }
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        // Go only sends its certificate if we offer a scheme matching its key, so P-521 must
        // be on the list even though ring does not provide it.
        let mut schemes = vec![SignatureScheme::ECDSA_NISTP521_SHA512];
        schemes.extend(self.algorithms.supported_schemes());
        schemes
    }
}

/// Verifies an ECDSA P-521/SHA-512 handshake signature (DER-encoded, as TLS carries it) against
/// the public key of `cert`, which must be a P-521 key: TLS 1.3 binds the scheme to the curve.
fn verify_p521_sha512(
    message: &[u8],
    cert: &CertificateDer<'_>,
    signature: &[u8],
) -> Result<HandshakeSignatureValid, rustls::Error> {
    use p521::ecdsa::signature::Verifier as _;
    use x509_parser::oid_registry::{OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P521};
    use x509_parser::prelude::{FromDer as _, X509Certificate};

    let bad_cert = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding);
    let bad_signature =
        || rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature);
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).map_err(|_| bad_cert())?;
    let key = parsed.public_key();
    let curve = key
        .algorithm
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.as_oid().ok());
    if key.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY || curve != Some(OID_NIST_EC_P521) {
        return Err(rustls::Error::PeerMisbehaved(
            rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
        ));
    }
    let verifying_key = p521::ecdsa::VerifyingKey::from_sec1_bytes(&key.subject_public_key.data)
        .map_err(|_| bad_cert())?;
    let signature = p521::ecdsa::Signature::from_der(signature).map_err(|_| bad_signature())?;
    verifying_key
        .verify(message, &signature)
        .map(|()| HandshakeSignatureValid::assertion())
        .map_err(|_| bad_signature())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    #[test]
    fn server_cert_is_for_localhost_with_both_auth_usages() {
        let (der, _) = generate_server_cert().unwrap();
        let (_, cert) = X509Certificate::from_der(der.as_ref()).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert!(san
            .value
            .general_names
            .iter()
            .any(|name| matches!(name, GeneralName::DNSName("localhost"))));
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth);
        assert!(cert.is_ca());
        assert!(cert.validity().is_valid());
        assert_eq!(
            cert.public_key()
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok()),
            Some(oid_registry::OID_EC_P256)
        );
    }

    #[test]
    fn every_server_cert_is_fresh() {
        assert_ne!(
            generate_server_cert().unwrap().0,
            generate_server_cert().unwrap().0
        );
    }

    #[test]
    fn client_pem_must_hold_a_certificate() {
        assert!(matches!(
            AutoMtls::new("not pem"),
            Err(TlsSetupError::ClientCertPem(_))
        ));
        let host = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let mtls = AutoMtls::new(&host.cert.pem()).unwrap();
        assert_eq!(mtls.config.alpn_protocols, vec![b"h2".to_vec()]);
    }

    #[test]
    fn verifier_pins_the_exact_certificate() {
        let host = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let stranger = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let verifier = PinnedClientCert {
            expected: parse_client_certs(&host.cert.pem()).unwrap(),
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        };
        assert!(verifier.client_auth_mandatory());
        let now = UnixTime::now();
        assert!(verifier
            .verify_client_cert(host.cert.der(), &[], now)
            .is_ok());
        assert!(verifier
            .verify_client_cert(stranger.cert.der(), &[], now)
            .is_err());
    }

    const HOST_P521_CERT: &str = include_str!("../../tests/fixtures/host-p521-cert.pem");
    const HOST_P521_KEY: &str = include_str!("../../tests/fixtures/host-p521-key.pem");

    fn host_p521_signer() -> p521::ecdsa::SigningKey {
        use p521::pkcs8::DecodePrivateKey as _;
        let der = PrivatePkcs8KeyDer::from_pem_slice(HOST_P521_KEY.as_bytes()).unwrap();
        let secret = p521::SecretKey::from_pkcs8_der(der.secret_pkcs8_der()).unwrap();
        p521::ecdsa::SigningKey::from_bytes(&secret.to_bytes()).unwrap()
    }

    fn host_p521_cert() -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(HOST_P521_CERT.as_bytes()).unwrap()
    }

    fn sign_p521(message: &[u8]) -> Vec<u8> {
        use p521::ecdsa::signature::Signer as _;
        let signature: p521::ecdsa::Signature = host_p521_signer().sign(message);
        signature.to_der().as_bytes().to_vec()
    }

    #[test]
    fn p521_handshake_signatures_of_go_plugin_hosts_verify() {
        let message = b"TLS 1.3, client CertificateVerify";
        let signature = sign_p521(message);
        assert!(verify_p521_sha512(message, &host_p521_cert(), &signature).is_ok());
        assert!(verify_p521_sha512(b"another transcript", &host_p521_cert(), &signature).is_err());
        let mut tampered = signature.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(verify_p521_sha512(message, &host_p521_cert(), &tampered).is_err());
    }

    #[test]
    fn p521_scheme_is_refused_for_a_key_on_another_curve() {
        let p256 = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let message = b"transcript";
        assert!(verify_p521_sha512(message, p256.cert.der(), &sign_p521(message)).is_err());
    }

    #[test]
    fn p521_is_offered_so_go_clients_send_their_certificate() {
        let verifier = PinnedClientCert {
            expected: parse_client_certs(HOST_P521_CERT).unwrap(),
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        };
        let schemes = verifier.supported_verify_schemes();
        assert!(schemes.contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
        assert!(schemes.contains(&SignatureScheme::ECDSA_NISTP256_SHA256));
        assert!(verifier
            .verify_client_cert(&host_p521_cert(), &[], UnixTime::now())
            .is_ok());
    }
}
