//! Each cluster's own CA and a serving certificate for 127.0.0.1/localhost.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct ClusterPki {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

fn pki_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("certificate generation: {e}"))
}

/// A CA and an API server's serving certificate it signs, for 127.0.0.1 and localhost.
pub struct ServingPki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

/// A new CA with common name `ca_name` and a serving certificate it signs (the sandbox's clusters, and the real
/// control planes the provider's tests start).
pub fn serving_pki(ca_name: &str) -> std::io::Result<ServingPki> {
    let ca_key = KeyPair::generate().map_err(pki_error)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, ca_name);
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(pki_error)?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(pki_error)?;
    let mut params = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default.svc".to_string(),
    ])
    .map_err(pki_error)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "kube-apiserver");
    params.distinguished_name = dn;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = params.signed_by(&server_key, &issuer).map_err(pki_error)?;
    Ok(ServingPki {
        ca_pem,
        cert_pem: server_cert.pem(),
        key_pem: server_key.serialize_pem(),
        cert_der: server_cert.der().to_vec(),
        key_der: server_key.serialize_der(),
    })
}

impl ServingPki {
    /// A TLS server configuration presenting the serving certificate.
    pub fn server_config(&self) -> std::io::Result<Arc<rustls::ServerConfig>> {
        server_config(self.cert_der.clone(), self.key_der.clone())
    }
}

/// Generates a CA named after the cluster and a serving certificate it signs.
pub fn generate(cluster: &str) -> std::io::Result<ClusterPki> {
    let pki = serving_pki(&format!("kube-sandbox {cluster} CA"))?;
    Ok(ClusterPki {
        server_config: pki.server_config()?,
        ca_pem: pki.ca_pem,
    })
}

fn server_config(
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
) -> std::io::Result<Arc<rustls::ServerConfig>> {
    let chain = vec![CertificateDer::from(cert_der)];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(pki_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(pki_error)?;
    // HTTP/1.1 only: Go and kube-rs clients fall back to it when h2 is not offered.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
