//! API key secrets: their shape (`techx_live_` + a public lookup part + a secret part, so
//! secret scanners recognise a leaked one) and the keyed hash stored in their place.
//!
//! The hash is HMAC-SHA256 under a server-side pepper, not argon2: keys are random
//! 190-bit strings, so there is no dictionary to slow down, and a request must not pay
//! 20 ms for its credential. Without the pepper a stolen table cannot even be tested
//! against guesses.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

/// Every key starts with this.
pub const PREFIX: &str = "techx_live_";
/// Length of the public lookup part after the prefix (finds the row, names the key).
const LOOKUP_LEN: usize = 12;
/// Length of the secret part.
const SECRET_LEN: usize = 32;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_chars(n: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..n).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

/// A new key's shown prefix (`techx_live_` + lookup) and its whole secret.
pub fn generate() -> (String, String) {
    let prefix = format!("{PREFIX}{}", random_chars(LOOKUP_LEN));
    let secret = format!("{prefix}{}", random_chars(SECRET_LEN));
    (prefix, secret)
}

/// A new secret for an existing key: same prefix, new secret part.
pub fn regenerate(prefix: &str) -> String {
    format!("{prefix}{}", random_chars(SECRET_LEN))
}

/// Whether a credential looks like a key at all (decides which scheme checks it).
pub fn looks_like_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

/// The shown prefix of a well-formed key, `None` for anything else.
pub fn prefix_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(PREFIX)?;
    let well_formed =
        rest.len() == LOOKUP_LEN + SECRET_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric());
    well_formed.then(|| &key[..PREFIX.len() + LOOKUP_LEN])
}

/// Hashes and checks keys under the server's pepper.
#[derive(Clone)]
pub struct KeyHasher {
    pepper: Vec<u8>,
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(<redacted>)")
    }
}

impl KeyHasher {
    pub fn new(pepper: &[u8]) -> Self {
        Self { pepper: pepper.to_vec() }
    }

    fn mac(&self, key: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.pepper)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(key.as_bytes());
        mac
    }

    /// What is stored: lowercase hex of HMAC-SHA256(pepper, key).
    pub fn hash(&self, key: &str) -> String {
        super::tokens::hex(&self.mac(key).finalize().into_bytes())
    }

    /// Constant-time comparison with a stored hash.
    pub fn verify(&self, key: &str, stored: &str) -> bool {
        let expected = decode_hex(stored).unwrap_or_default();
        self.mac(key).verify_slice(&expected).is_ok()
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// The pepper used when `TECHX_API_KEY_PEPPER` is unset: derived from the JWT secret (its
/// own HMAC domain), so one shared secret configures a cluster.
pub fn derive_pepper(jwt_secret: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(jwt_secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(b"techx api key pepper v1");
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_shape_scanners_look_for() {
        let (prefix, key) = generate();
        assert!(key.starts_with(&prefix) && prefix.starts_with(PREFIX));
        assert_eq!(key.len(), PREFIX.len() + LOOKUP_LEN + SECRET_LEN);
        assert_eq!(prefix_of(&key), Some(prefix.as_str()));
        assert_ne!(regenerate(&prefix), key);
        for bad in
            ["", "techx_live_", "techx_live_short", &format!("{key}x"), &key.replace('t', "-")]
        {
            assert_eq!(prefix_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn hashes_verify_only_their_key_and_pepper() {
        let hasher = KeyHasher::new(b"pepper-pepper-pepper-pepper-pepper");
        let (_, key) = generate();
        let stored = hasher.hash(&key);
        assert_eq!(stored.len(), 64);
        assert!(hasher.verify(&key, &stored));
        assert!(!hasher.verify(&format!("{key}1"), &stored));
        assert!(!KeyHasher::new(b"another").verify(&key, &stored));
        assert!(!hasher.verify(&key, "zz"));
        assert_ne!(derive_pepper(b"a"), derive_pepper(b"b"));
    }
}
