//! Argon2id password hashes (PHC strings) and random tokens stored as SHA-256 digests.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const MIN_PASSWORD_LEN: usize = 10;

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        password.chars().count() >= MIN_PASSWORD_LEN,
        "passwords need at least {MIN_PASSWORD_LEN} characters"
    );
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Verifies on a blocking thread (argon2 takes milliseconds of CPU, which would stall the
/// async workers under a flood of sign-ins), and with the same work for an unknown address
/// as for a known one, so the answer's timing does not tell which addresses exist.
pub async fn verify_password_off_thread(password: String, stored: Option<String>) -> bool {
    static UNKNOWN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        hash_password("no account has this password").unwrap_or_default()
    });
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| UNKNOWN.clone());
        verify_password(&password, &hash) && known
    })
    .await
    .unwrap_or(false)
}

/// A fresh 256-bit token, hex encoded, with a prefix that says what it is.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

pub fn token_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_only_the_right_password() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn tokens_are_unique_and_digests_stable() {
        let a = new_token("inw_");
        assert!(a.starts_with("inw_") && a.len() == 68);
        assert_ne!(a, new_token("inw_"));
        assert_eq!(token_digest(&a), token_digest(&a));
        assert_eq!(token_digest(&a).len(), 32);
    }
}
