//! The two primitives rcgen does not expose, SHA-256 and secure random bytes, taken from the ring provider that
//! rustls already links, rather than adding a crypto dependency of our own.

use rustls::crypto::ring as provider;

pub(crate) fn sha256(data: &[u8]) -> Vec<u8> {
    // Any TLS 1.3 suite carries its hash; this one's is SHA-256 by definition.
    let suite = provider::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .expect("TLS13_AES_128_GCM_SHA256 is a TLS 1.3 suite");
    suite.common.hash_provider.hash(data).as_ref().to_vec()
}

/// A positive 127-bit serial number: random, so two certificates from one CA never share a serial (RFC 5280 §4.1.2.2),
/// and below 20 octets once DER-encoded.
pub(crate) fn random_serial() -> Result<rcgen::SerialNumber, rustls::crypto::GetRandomFailed> {
    let mut bytes = [0u8; 16];
    provider::default_provider()
        .secure_random
        .fill(&mut bytes)?;
    bytes[0] &= 0x7f;
    // A leading zero octet would be dropped by the DER encoding; keep the serial a full 16 octets.
    bytes[0] |= 0x40;
    Ok(rcgen::SerialNumber::from_slice(&bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_fips_180_test_vector() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn serials_are_positive_sixteen_octets_and_differ() {
        let first = random_serial().unwrap().to_bytes();
        let second = random_serial().unwrap().to_bytes();
        assert_eq!(first.len(), 16);
        assert_eq!(
            first[0] & 0x80,
            0,
            "the top bit would make the INTEGER negative"
        );
        assert_ne!(first, second);
    }
}
