//! SCRAM-SHA-256 password hashes as CockroachDB stores them (`SCRAM-SHA-256$<iterations>:<salt>$<stored
//! key>:<server key>`, base64): recognising a pre-hashed password, hashing a cleartext one, and checking a
//! password against a stored hash (what a login does).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;

/// CockroachDB's default cost (`server.user_login.password_hashes.default_cost.scram_sha_256`).
pub const DEFAULT_ITERATIONS: u32 = 10610;

struct Parsed {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

fn parse(s: &str) -> Option<Parsed> {
    let rest = s.strip_prefix("SCRAM-SHA-256$")?;
    let (head, keys) = rest.split_once('$')?;
    let (iterations, salt) = head.split_once(':')?;
    let (stored, server) = keys.split_once(':')?;
    Some(Parsed {
        iterations: iterations.parse().ok()?,
        salt: STANDARD.decode(salt).ok()?,
        stored_key: STANDARD.decode(stored).ok()?,
        server_key: STANDARD.decode(server).ok()?,
    })
}

/// A well-formed stored SCRAM hash: CockroachDB stores such a `PASSWORD` as given instead of hashing it.
pub fn is_hash(s: &str) -> bool {
    parse(s).is_some_and(|p| p.stored_key.len() == 32 && p.server_key.len() == 32)
}

fn keys(password: &str, salt: &[u8], iterations: NonZeroU32) -> ([u8; 32], [u8; 32]) {
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
    let mut stored = [0u8; 32];
    stored.copy_from_slice(digest::digest(&digest::SHA256, client_key.as_ref()).as_ref());
    let mut server = [0u8; 32];
    server.copy_from_slice(hmac::sign(&key, b"Server Key").as_ref());
    (stored, server)
}

/// The stored form of `password` with `salt`.
pub fn hash(password: &str, salt: &[u8], iterations: u32) -> String {
    let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    let (stored, server) = keys(password, salt, iterations);
    format!(
        "SCRAM-SHA-256${}:{}${}:{}",
        iterations,
        STANDARD.encode(salt),
        STANDARD.encode(stored),
        STANDARD.encode(server)
    )
}

/// Whether `password` logs in against the stored hash.
pub fn verify(stored: &str, password: &str) -> bool {
    parse(stored).is_some_and(|p| {
        let (s, k) = keys(password, &p.salt, p.iterations);
        s[..] == p.stored_key[..] && k[..] == p.server_key[..]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse", b"0123456789abcdef", 4096);
        assert!(is_hash(&h));
        assert!(verify(&h, "correct horse"));
        assert!(!verify(&h, "correct horsf"));
        assert!(!is_hash("SCRAM-SHA-256$x"));
        assert!(!is_hash("correct horse"));
    }
}
