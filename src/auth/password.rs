//! Password hashing (argon2id, OWASP parameters: m=19 MiB, t=2, p=1) and the password
//! policy. Hashing is CPU-heavy: callers run it on the blocking pool.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ApiError, FieldError};

pub const MIN_LENGTH: usize = 10;
/// Long inputs would make every hash expensive; no passphrase needs more.
pub const MAX_LENGTH: usize = 128;

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .unwrap_or_else(|e| unreachable!("constant argon2 parameters are valid: {e}"));
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        ApiError::internal()
    })
}

/// Whether `password` matches `stored`; a malformed stored hash never matches.
pub fn verify(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|parsed| hasher().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Spends the same work as verifying a real password, so a login for an unknown email
/// cannot be told apart by its timing.
pub fn verify_against_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("techx-dummy-password-for-timing").unwrap_or_default());
    let _ = verify(dummy, password);
}

/// Passwords people pick first; a real deployment can extend the list.
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "1111111111",
    "0000000000",
    "password123",
    "password1234",
    "passw0rd123",
    "qwertyuiop",
    "qwerty12345",
    "qwerty123456",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "abcdefghij",
    "abc1234567",
    "iloveyou123",
    "admin12345",
    "administrator",
    "letmein123",
    "welcome123",
    "changeme123",
    "matkhau123",
    "matkhau1234",
    "matkhaumoi",
    "anhyeuem123",
    "emyeuanh123",
    "vietnam123",
    "vietnam1234",
    "hanoi12345",
    "saigon1234",
    "techx12345",
    "sangiaodich",
];

/// Checks the policy: length, not the email (or its local part), not a common password.
pub fn check_policy(field: &str, password: &str, email: &str) -> Result<(), ApiError> {
    let problem =
        |message: String| Err(ApiError::validation(vec![FieldError::new(field, message)]));
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return problem(format!("must be at least {MIN_LENGTH} characters"));
    }
    if length > MAX_LENGTH {
        return problem(format!("must be at most {MAX_LENGTH} characters"));
    }
    let lowered = password.to_lowercase();
    let email = email.trim().to_lowercase();
    let local_part = email.split('@').next().unwrap_or_default();
    if lowered == email || (!local_part.is_empty() && lowered == local_part) {
        return problem("must not be your email address".to_owned());
    }
    if COMMON.contains(&lowered.as_str()) {
        return problem("is too common; choose a less guessable password".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify(&h, "correct horse battery"));
        assert!(!verify(&h, "correct horse batterY"));
        assert!(!verify("not a hash", "anything"));
        assert_ne!(h, hash("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn policy_names_the_rule() {
        let message = |p: &str| {
            check_policy("password", p, "lan.nguyen@example.vn").unwrap_err().errors[0]
                .message
                .clone()
        };
        assert_eq!(message("short"), "must be at least 10 characters");
        assert_eq!(message(&"x".repeat(129)), "must be at most 128 characters");
        assert_eq!(message("LAN.NGUYEN@example.vn"), "must not be your email address");
        assert_eq!(message("lan.nguyen"), "must not be your email address");
        assert!(message("Password123").contains("too common"));
        assert!(check_policy("password", "nông nghiệp xanh 2026", "lan@example.vn").is_ok());
    }
}
