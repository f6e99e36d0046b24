//! ECDSA P-521 handshake signatures, which ring cannot verify: go-plugin's AutoMTLS client
//! certificate carries a P-521 key, and a Go client only sends its certificate when the server's
//! CertificateRequest lists a signature scheme that key can make.
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{
    alg_id, AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm,
};
use rustls::SignatureScheme;

#[derive(Debug)]
struct EcdsaP521Sha512;

impl SignatureVerificationAlgorithm for EcdsaP521Sha512 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        use p521::ecdsa::signature::Verifier as _;
        let key =
            p521::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let signature =
            p521::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify(message, &signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P521
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_SHA512
    }
}

static ECDSA_P521_SHA512: EcdsaP521Sha512 = EcdsaP521Sha512;
static P521_ONLY: [&dyn SignatureVerificationAlgorithm; 1] = [&ECDSA_P521_SHA512];

/// `base` plus ECDSA P-521 with SHA-512. Built once per process (the server has one verifier),
/// so the leaked tables are bounded.
pub fn with_p521(base: WebPkiSupportedAlgorithms) -> WebPkiSupportedAlgorithms {
    let mut all: Vec<&'static dyn SignatureVerificationAlgorithm> = base.all.to_vec();
    all.push(&ECDSA_P521_SHA512);
    let mut mapping: Vec<(
        SignatureScheme,
        &'static [&'static dyn SignatureVerificationAlgorithm],
    )> = base.mapping.to_vec();
    mapping.push((SignatureScheme::ECDSA_NISTP521_SHA512, &P521_ONLY));
    WebPkiSupportedAlgorithms {
        all: Vec::leak(all),
        mapping: Vec::leak(mapping),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_p521_signatures_and_rejects_tampering() {
        use p521::ecdsa::signature::Signer as _;
        let signing = p521::ecdsa::SigningKey::random(&mut p521::elliptic_curve::rand_core::OsRng);
        let public = p521::ecdsa::VerifyingKey::from(&signing).to_encoded_point(false);
        let signature: p521::ecdsa::Signature = signing.sign(b"handshake transcript");
        let der = signature.to_der();
        let alg = &ECDSA_P521_SHA512;
        assert!(alg
            .verify_signature(public.as_bytes(), b"handshake transcript", der.as_bytes())
            .is_ok());
        assert!(alg
            .verify_signature(public.as_bytes(), b"another transcript", der.as_bytes())
            .is_err());
    }

    #[test]
    fn the_scheme_is_offered_to_clients() {
        let algorithms =
            with_p521(rustls::crypto::ring::default_provider().signature_verification_algorithms);
        assert!(algorithms
            .supported_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }
}
