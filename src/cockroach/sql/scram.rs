//! SCRAM-SHA-256 as CockroachDB stores a password (`SCRAM-SHA-256$<iterations>:<salt>$<stored key>:<server
//! key>`, RFC 5802/7677 keys, base64): the provider hashes the cleartext itself and sends CockroachDB only this,
//! which it accepts as a pre-hashed password. The salt comes from the caller so this stays pure.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;

/// CockroachDB's default cost for new SCRAM hashes.
pub const ITERATIONS: NonZeroU32 = match NonZeroU32::new(10610) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};
pub const SALT_LEN: usize = 16;

/// (StoredKey, ServerKey) of RFC 5802.
fn keys(password: &str, salt: &[u8], iterations: NonZeroU32) -> (digest::Digest, hmac::Tag) {
    let mut salted = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        password.as_bytes(),
        &mut salted,
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    (
        digest::digest(&digest::SHA256, client_key.as_ref()),
        hmac::sign(&key, b"Server Key"),
    )
}

/// The stored form of `password` with `salt`.
pub fn hash(password: &str, salt: &[u8; SALT_LEN]) -> String {
    let (stored_key, server_key) = keys(password, salt, ITERATIONS);
    format!(
        "SCRAM-SHA-256${ITERATIONS}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key.as_ref()),
        STANDARD.encode(server_key.as_ref())
    )
}

/// A fresh random salt.
pub fn salt() -> Result<[u8; SALT_LEN], ring::error::Unspecified> {
    let mut salt = [0u8; SALT_LEN];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)?;
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_has_cockroachdbs_form_and_hides_the_password() {
        let h = hash("hunter2", &[7; SALT_LEN]);
        let parts: Vec<&str> = h.split(['$', ':']).collect();
        assert_eq!(parts[0], "SCRAM-SHA-256");
        assert_eq!(parts[1], "10610");
        assert_eq!(STANDARD.decode(parts[2]).unwrap(), [7; SALT_LEN]);
        assert_eq!(STANDARD.decode(parts[3]).unwrap().len(), 32);
        assert_eq!(STANDARD.decode(parts[4]).unwrap().len(), 32);
        assert!(!h.contains("hunter2"));
        assert_ne!(h, hash("hunter3", &[7; SALT_LEN]));
        assert_ne!(h, hash("hunter2", &[8; SALT_LEN]));
    }

    /// The server key of RFC 7677's example exchange (password `pencil`, salt `W22ZaJ0SNY7soEsUEjb6gQ==`, 4096
    /// iterations) signs its auth message into the RFC's server signature.
    #[test]
    fn keys_follow_rfc_7677() {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let (_, server_key) = keys("pencil", &salt, NonZeroU32::new(4096).unwrap());
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let signature = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, server_key.as_ref()),
            auth_message.as_bytes(),
        );
        assert_eq!(
            STANDARD.encode(signature.as_ref()),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }
}
