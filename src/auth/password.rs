//! Password hashing (argon2id, OWASP parameters: m=19 MiB, t=2, p=1) and the password
//! policy. Hashing is CPU-heavy: callers run it on the blocking pool.

use std::sync::{Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::{ApiError, FieldError};

pub const MIN_LENGTH: usize = 10;
/// Long inputs would make every hash expensive; no passphrase needs more.
pub const MAX_LENGTH: usize = 128;

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .unwrap_or_else(|e| unreachable!("constant argon2 parameters are valid: {e}"));
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Argon2 working memory (19 MiB per hash), kept for the next hash instead of freed.
///
/// Allocated per hash, the freed blocks stayed scattered over the allocator's per-thread
/// arenas: a burst of 450 logins left a debug server at 1.7 GB RSS. Callers hash at most
/// one per core at a time ([`blocking`]), so this holds that many buffers.
static WORKING_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
/// Buffers kept at most, whatever the concurrency of callers outside the API.
const MAX_POOLED_MEMORY: usize = 16;

fn with_memory<T>(blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    let mut memory = WORKING_MEMORY.lock().ok().and_then(|mut free| free.pop()).unwrap_or_default();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let result = work(&mut memory[..blocks]);
    if let Ok(mut free) = WORKING_MEMORY.lock() {
        if free.len() < MAX_POOLED_MEMORY {
            free.push(memory);
        }
    }
    result
}

/// The argon2 output of `password` with `salt` under `argon2`'s parameters, `len` bytes.
fn compute(argon2: &Argon2<'_>, password: &str, salt: &[u8], len: usize) -> Option<Output> {
    Output::init_with(len, |out| {
        with_memory(argon2.params().block_count(), |memory| {
            argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, memory)
        })
        .map_err(argon2::password_hash::Error::from)
    })
    .ok()
}

pub fn hash(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = hasher();
    let mut raw_salt = [0u8; 64];
    let output = salt
        .as_salt()
        .decode_b64(&mut raw_salt)
        .ok()
        .and_then(|raw| compute(&argon2, password, raw, Params::DEFAULT_OUTPUT_LEN));
    let params = ParamsString::try_from(argon2.params());
    let (Some(output), Ok(params)) = (output, params) else {
        tracing::error!("password hashing failed");
        return Err(ApiError::internal());
    };
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches `stored`; a malformed stored hash never matches.
pub fn verify(stored: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let algorithm = Algorithm::try_from(parsed.algorithm);
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from);
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, Params::try_from(&parsed))
    else {
        return false;
    };
    let mut raw_salt = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut raw_salt) else { return false };
    let argon2 = Argon2::new(algorithm, version, params);
    // `Output` compares in constant time.
    compute(&argon2, password, raw_salt, expected.len()).is_some_and(|output| output == expected)
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

/// Runs CPU-heavy password work on the blocking pool, at most one hash per core at a time.
///
/// Each argon2 hash holds 19 MiB; unbounded, a burst of logins spreads that over hundreds
/// of blocking threads whose allocator arenas keep it, and more parallel hashes than
/// cores only slow every one of them down. Waiting callers stay within the request
/// deadline.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::error::ApiError> {
    static HASHING: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = HASHING.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });
    let _permit = permits.acquire().await.map_err(crate::error::ApiError::internal_from)?;
    actix_web::web::block(work).await.map_err(crate::error::ApiError::internal_from)
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
    fn hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::generate(&mut OsRng);
        let theirs = hasher().hash_password(b"nong nghiep xanh", &salt).unwrap().to_string();
        assert!(verify(&theirs, "nong nghiep xanh"));
        assert!(!verify(&theirs, "nong nghiep xanh!"));
        let ours = hash("nong nghiep xanh").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(hasher().verify_password(b"nong nghiep xanh", &parsed).is_ok());
        // Other stored parameters (an older or cheaper setting) still verify.
        let cheap =
            Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8, 1, 1, None).unwrap());
        let old = cheap.hash_password(b"mat khau cu 2020", &salt).unwrap().to_string();
        assert!(verify(&old, "mat khau cu 2020"));
        assert!(!verify(&old, "mat khau cu 2021"));
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
