//! Loading a private key in any unencrypted form CockroachDB accepts (PKCS#8, PKCS#1 RSA, SEC1 EC) into an rcgen
//! signing key.
//!
//! rcgen on ring reads PKCS#8 only, so PKCS#1 and SEC1 keys are first wrapped in a PKCS#8 envelope: the envelope is
//! the key's algorithm identifier plus the untouched original key, so nothing is re-encoded.

use crate::cockroach::validate::Invalid;
use rcgen::KeyPair;
use x509_parser::asn1_rs::{Any, Class, FromDer, Tag};
use x509_parser::objects::{oid2sn, oid_registry};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
};
use x509_parser::x509::AlgorithmIdentifier;

use super::error::{CaError, CaProblem};
use super::pem;

/// The key types CockroachDB and rcgen-on-ring both handle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    EcdsaP256,
    EcdsaP384,
    /// Anything else, described for the error message (`Ed25519`, `ECDSA secp521r1`...).
    Unsupported(String),
}

pub(crate) const SUPPORTED_KEYS: &str =
    "CockroachDB certificates here use RSA or ECDSA P-256/P-384 keys";

impl KeyKind {
    pub(crate) fn of(algorithm: &AlgorithmIdentifier<'_>) -> KeyKind {
        if algorithm.algorithm == OID_PKCS1_RSAENCRYPTION {
            return KeyKind::Rsa;
        }
        if algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY {
            return KeyKind::Unsupported(oid_name(&algorithm.algorithm));
        }
        match algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.as_oid().ok())
        {
            Some(curve) if curve == OID_EC_P256 => KeyKind::EcdsaP256,
            Some(curve) if curve == OID_NIST_EC_P384 => KeyKind::EcdsaP384,
            Some(curve) => KeyKind::Unsupported(format!("ECDSA {}", oid_name(&curve))),
            None => KeyKind::Unsupported("ECDSA with an unnamed curve".to_owned()),
        }
    }
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyKind::Rsa => f.write_str("RSA"),
            KeyKind::EcdsaP256 => f.write_str("ECDSA P-256"),
            KeyKind::EcdsaP384 => f.write_str("ECDSA P-384"),
            KeyKind::Unsupported(name) => f.write_str(name),
        }
    }
}

fn oid_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    match oid2sn(oid, oid_registry()) {
        Ok("ed25519") => "Ed25519".to_owned(),
        Ok(name) => name.to_owned(),
        Err(_) => oid.to_id_string(),
    }
}

/// Reads the user's key, blaming `ca_private_key` for anything wrong with it.
pub(crate) fn load(text: &str) -> Result<KeyPair, CaError> {
    let unreadable = |reason: Invalid| CaError::private_key(CaProblem::Unreadable, reason.0);
    // Legacy OpenSSL encryption keeps the usual label and adds headers; catch it before base64 decoding trips on them.
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(encrypted());
    }
    let block = pem::single_private_key(text).map_err(unreadable)?;
    let pkcs8 = match block.label.as_str() {
        "PRIVATE KEY" => block.contents,
        "RSA PRIVATE KEY" => wrap_pkcs1(&block.contents),
        "EC PRIVATE KEY" => wrap_sec1(&block.contents).map_err(unreadable)?,
        "ENCRYPTED PRIVATE KEY" => return Err(encrypted()),
        other => {
            return Err(CaError::private_key(
                CaProblem::UnsupportedKeyType,
                format!("a {other} block is not supported; {SUPPORTED_KEYS}"),
            ))
        }
    };
    let kind = pkcs8_key_kind(&pkcs8)
        .ok_or_else(|| unreadable(Invalid("the key is not valid DER".to_owned())))?;
    if let KeyKind::Unsupported(name) = kind {
        return Err(CaError::private_key(
            CaProblem::UnsupportedKeyType,
            format!("the key is {name}; {SUPPORTED_KEYS}"),
        ));
    }
    KeyPair::try_from(pkcs8.as_slice()).map_err(|error| {
        // ring refuses, among others, RSA keys under 2048 bits and EC keys without their public point.
        unreadable(Invalid(format!(
            "the {kind} key cannot be used for signing ({error})"
        )))
    })
}

fn encrypted() -> CaError {
    CaError::private_key(
        CaProblem::Encrypted,
        "the key is encrypted; provide it unencrypted (for example `openssl pkcs8 -topk8 -nocrypt`)",
    )
}

fn pkcs8_key_kind(pkcs8: &[u8]) -> Option<KeyKind> {
    // PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm AlgorithmIdentifier, privateKey OCTET STRING }
    let (_, info) = Any::from_der(pkcs8).ok()?;
    let (after_version, _version) = Any::from_der(info.data).ok()?;
    let (_, algorithm) = AlgorithmIdentifier::from_der(after_version).ok()?;
    Some(KeyKind::of(&algorithm))
}

/// PKCS#1 RSAPrivateKey -> PKCS#8 with the rsaEncryption algorithm (whose parameters are NULL, RFC 8017 A.1).
fn wrap_pkcs1(rsa_private_key: &[u8]) -> Vec<u8> {
    const RSA_ENCRYPTION: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    const NULL: &[u8] = &[0x05, 0x00];
    private_key_info(&[RSA_ENCRYPTION, NULL].concat(), rsa_private_key)
}

/// SEC1 ECPrivateKey -> PKCS#8 with id-ecPublicKey and the curve the key names in its `[0] parameters`.
fn wrap_sec1(ec_private_key: &[u8]) -> Result<Vec<u8>, Invalid> {
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let invalid = || Invalid("the EC private key is not valid DER".to_owned());
    let (_, key) = Any::from_der(ec_private_key).map_err(|_| invalid())?;
    let mut fields = key.data;
    while !fields.is_empty() {
        let (rest, field) = Any::from_der(fields).map_err(|_| invalid())?;
        if field.class() == Class::ContextSpecific && field.tag() == Tag(0) {
            // The explicit [0] holds the curve's complete OBJECT IDENTIFIER element.
            return Ok(private_key_info(
                &[EC_PUBLIC_KEY, field.data].concat(),
                ec_private_key,
            ));
        }
        fields = rest;
    }
    Err(Invalid(
        "the EC private key does not name its curve; export it with its parameters".to_owned(),
    ))
}

fn private_key_info(algorithm_fields: &[u8], private_key: &[u8]) -> Vec<u8> {
    const VERSION_0: &[u8] = &[0x02, 0x01, 0x00];
    let algorithm = der_element(0x30, algorithm_fields);
    let key = der_element(0x04, private_key);
    der_element(0x30, &[VERSION_0, &algorithm, &key].concat())
}

fn der_element(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut element = vec![tag];
    let length = content.len();
    if length < 0x80 {
        element.push(length as u8);
    } else {
        let octets = length.to_be_bytes();
        let significant = &octets[octets.iter().take_while(|&&octet| octet == 0).count()..];
        element.push(0x80 | significant.len() as u8);
        element.extend_from_slice(significant);
    }
    element.extend_from_slice(content);
    element
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cockroach::pki::error::CaAttribute;
    use rcgen::{PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256};

    const RSA_PKCS1: &str = include_str!("testdata/rsa2048.pkcs1.pem");
    const RSA_PKCS8: &str = include_str!("testdata/rsa2048.pkcs8.pem");

    fn problem(text: &str) -> CaProblem {
        let error = load(text).unwrap_err();
        assert_eq!(error.attribute, CaAttribute::PrivateKey);
        assert!(
            !error.message.contains("-----"),
            "no PEM echoed: {}",
            error.message
        );
        error.problem
    }

    #[test]
    fn reads_pkcs1_rsa_as_the_same_key_as_its_pkcs8_form() {
        let from_pkcs1 = load(RSA_PKCS1).unwrap();
        let from_pkcs8 = load(RSA_PKCS8).unwrap();
        assert_eq!(from_pkcs1.algorithm(), &PKCS_RSA_SHA256);
        assert_eq!(from_pkcs1.public_key_raw(), from_pkcs8.public_key_raw());
    }

    #[test]
    fn reads_sec1_ecdsa_keys_on_both_supported_curves() {
        assert_eq!(
            load(include_str!("testdata/p256.sec1.pem"))
                .unwrap()
                .algorithm(),
            &PKCS_ECDSA_P256_SHA256
        );
        assert_eq!(
            load(include_str!("testdata/p384.sec1.pem"))
                .unwrap()
                .algorithm(),
            &PKCS_ECDSA_P384_SHA384
        );
    }

    #[test]
    fn reads_the_pkcs8_keys_rcgen_writes() {
        let key = KeyPair::generate().unwrap();
        assert_eq!(
            load(&key.serialize_pem()).unwrap().public_key_raw(),
            key.public_key_raw()
        );
    }

    #[test]
    fn refuses_key_types_cockroachdb_does_not_take() {
        assert_eq!(
            problem(include_str!("testdata/ed25519.pkcs8.pem")),
            CaProblem::UnsupportedKeyType
        );
        assert_eq!(
            problem(include_str!("testdata/p521.sec1.pem")),
            CaProblem::UnsupportedKeyType
        );
        assert!(load(include_str!("testdata/p521.sec1.pem"))
            .unwrap_err()
            .message
            .contains("secp521r1"));
    }

    #[test]
    fn refuses_encrypted_keys_in_both_encodings() {
        assert_eq!(
            problem(include_str!("testdata/p256.encrypted.pem")),
            CaProblem::Encrypted
        );
        let legacy = RSA_PKCS1.replacen(
            "-----\n",
            "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\n",
            1,
        );
        assert_eq!(problem(&legacy), CaProblem::Encrypted);
    }

    #[test]
    fn refuses_garbage() {
        assert_eq!(problem("not a key"), CaProblem::Unreadable);
        assert_eq!(
            problem("-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n"),
            CaProblem::Unreadable
        );
        assert_eq!(
            problem("-----BEGIN EC PRIVATE KEY-----\nAAEC\n-----END EC PRIVATE KEY-----\n"),
            CaProblem::Unreadable
        );
    }

    #[test]
    fn der_lengths_use_the_long_form_from_128_octets() {
        assert_eq!(der_element(0x04, &[7; 3])[..2], [0x04, 3]);
        assert_eq!(der_element(0x04, &[7; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(der_element(0x04, &[7; 1200])[..4], [0x04, 0x82, 0x04, 0xb0]);
    }
}
