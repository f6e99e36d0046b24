//! Questions the resources ask about certificates found in state or in a cluster, to decide whether to issue again.

use std::collections::BTreeSet;

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use super::crypto::{hex, sha256};
use super::error::PkiError;
use super::issue::{node_certificate_dns_names, LOOPBACK, NODE_PRINCIPAL};
use super::pem;

pub fn certificate_not_after(cert_pem: &str) -> Result<OffsetDateTime, PkiError> {
    let der = certificate_der(cert_pem)?;
    let cert = parse(&der)?;
    Ok(cert.validity().not_after.to_datetime())
}

/// Lowercase hex SHA-256 of the certificate's DER (what `openssl x509 -fingerprint -sha256` shows, without colons).
/// Public, so a plan can show that the CA changed without showing anything secret.
pub fn certificate_fingerprint_sha256(cert_pem: &str) -> Result<String, PkiError> {
    let der = certificate_der(cert_pem)?;
    parse(&der)?;
    Ok(hex(&sha256(&der)))
}

/// The SHA-256 fingerprints of every certificate in a bundle (a `ca.crt` may hold several CAs while they rotate),
/// in order; empty when the text cannot be read.
pub fn bundle_fingerprints(bundle_pem: &str) -> Vec<String> {
    pem::blocks(bundle_pem)
        .unwrap_or_default()
        .into_iter()
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| hex(&sha256(&block.contents)))
        .collect()
}

/// A `ca.crt` that trusts each of `cas` (PEM certificates), in order, each once.
pub fn ca_bundle(cas: &[&str]) -> String {
    let mut seen = Vec::new();
    let mut bundle = String::new();
    for ca in cas {
        let fingerprints = bundle_fingerprints(ca);
        if fingerprints.iter().all(|f| seen.contains(f)) {
            continue;
        }
        seen.extend(fingerprints);
        bundle.push_str(ca.trim());
        bundle.push('\n');
    }
    bundle
}

/// One digest of several public PEM texts (a trust bundle and a node certificate): what changes exactly when
/// one of them does. Public, like the texts it is made of.
pub fn certificates_digest(pems: &[&str]) -> String {
    let mut joined = Vec::new();
    for pem in pems {
        joined.extend_from_slice(pem.trim().as_bytes());
        joined.push(0);
    }
    hex(&sha256(&joined))
}

/// Whether a private key belongs to the (first) certificate of `cert_pem`: their public keys agree. `None` when
/// either cannot be read here (a key type CockroachDB does not use); the TLS handshake then judges it.
pub fn key_matches_certificate(cert_pem: &str, key_pem: &str) -> Option<bool> {
    let der = pem::blocks(cert_pem)
        .ok()?
        .into_iter()
        .find(|block| block.label == "CERTIFICATE")?
        .contents;
    let cert = parse(&der).ok()?;
    let key = super::private_key::load(key_pem).ok()?;
    Some(key.public_key_raw() == cert.public_key().subject_public_key.data.as_ref())
}

/// Whether `cert_pem` was issued by `ca_pem`: the issuer name matches the CA's subject and the signature verifies
/// with the CA's key. Anything unreadable counts as "no", which makes the caller issue a fresh certificate.
pub fn certificate_matches_ca(cert_pem: &str, ca_pem: &str) -> bool {
    let (Ok(cert_der), Ok(ca_der)) = (certificate_der(cert_pem), certificate_der(ca_pem)) else {
        return false;
    };
    let (Ok(cert), Ok(ca)) = (parse(&cert_der), parse(&ca_der)) else {
        return false;
    };
    cert.issuer().as_raw() == ca.subject().as_raw()
        && cert.verify_signature(Some(ca.public_key())).is_ok()
}

/// Whether a node certificate still serves `zone` under `cluster_domain`: the `node` principal, serverAuth and
/// clientAuth, and at least every name [`super::issue_node_certificate`] would put in it. Extra names are fine.
pub fn node_certificate_covers(cert_pem: &str, zone: &str, cluster_domain: &str) -> bool {
    let Ok(required) = node_certificate_dns_names(zone, cluster_domain) else {
        return false;
    };
    let Ok(der) = certificate_der(cert_pem) else {
        return false;
    };
    let Ok(cert) = parse(&der) else {
        return false;
    };
    let names = match cert.subject_alternative_name() {
        Ok(Some(extension)) => &extension.value.general_names,
        _ => return false,
    };
    let dns_names: BTreeSet<&str> = names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns_name) => Some(*dns_name),
            _ => None,
        })
        .collect();
    let has_loopback = names
        .iter()
        .any(|name| matches!(name, GeneralName::IPAddress(ip) if *ip == loopback_octets()));
    let is_node = cert
        .subject()
        .iter_common_name()
        .any(|cn| cn.as_str() == Ok(NODE_PRINCIPAL));
    let serves_both_ways = matches!(
        cert.extended_key_usage(),
        Ok(Some(extension)) if extension.value.server_auth && extension.value.client_auth
    );
    is_node
        && serves_both_ways
        && has_loopback
        && required
            .iter()
            .all(|name| dns_names.contains(name.as_str()))
}

fn loopback_octets() -> Vec<u8> {
    match LOOPBACK {
        std::net::IpAddr::V4(ip) => ip.octets().to_vec(),
        std::net::IpAddr::V6(ip) => ip.octets().to_vec(),
    }
}

fn certificate_der(cert_pem: &str) -> Result<Vec<u8>, PkiError> {
    pem::single_certificate_der(cert_pem).map_err(|e| PkiError::UnreadableCertificate(e.into()))
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    X509Certificate::from_der(der)
        .map(|(_, cert)| cert)
        .map_err(|error| PkiError::UnreadableCertificate(format!("not valid X.509 ({error})")))
}
