//! Argon2id password hashes (PHC strings) and random tokens stored as SHA-256 digests.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const MIN_PASSWORD_LEN: usize = 12;
/// Longer passwords add nothing but hashing work an attacker could make us do.
pub const MAX_PASSWORD_LEN: usize = 256;

/// The most common passwords from breach corpora (`data/common-passwords.txt`, lower case),
/// refused whatever their length: they are the first an attacker tries.
static COMMON: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| {
        include_str!("../../data/common-passwords.txt")
            .lines()
            .collect()
    });

/// Why `password` may not be set, if it may not: too short, too long, or a common one.
pub fn policy_problem(password: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Some(format!(
            "passwords need at least {MIN_PASSWORD_LEN} characters (this one has {length})"
        ));
    }
    if length > MAX_PASSWORD_LEN {
        return Some(format!(
            "passwords have at most {MAX_PASSWORD_LEN} characters"
        ));
    }
    if COMMON.contains(password.to_lowercase().as_str()) {
        return Some(
            "this password is on the list of passwords most often seen in breaches; choose another"
                .into(),
        );
    }
    None
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    if let Some(problem) = policy_problem(password) {
        anyhow::bail!(problem);
    }
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

/// Runs argon2 work on the blocking pool (it takes milliseconds of CPU, which would stall
/// the async workers under a flood of sign-ins), at most one per core at a time, so that a
/// flood queues here instead of taking every core from the requests.
async fn argon2_off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    static SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    });
    let _slot = SLOTS.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// Verifies off the async workers (`argon2_off_thread`), with the same work for an unknown
/// address as for a known one, so the answer's timing does not tell which addresses exist.
pub async fn verify_password_off_thread(password: String, stored: Option<String>) -> bool {
    static UNKNOWN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        hash_password("no account has this password, ever").unwrap_or_default()
    });
    argon2_off_thread(move || {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| UNKNOWN.clone());
        verify_password(&password, &hash) && known
    })
    .await
    .unwrap_or(false)
}

/// `hash_password` off the async workers (`argon2_off_thread`).
pub async fn hash_password_off_thread(password: String) -> anyhow::Result<String> {
    argon2_off_thread(move || hash_password(&password))
        .await
        .unwrap_or_else(|| Err(anyhow::anyhow!("the hashing task stopped")))
}

/// A fresh 256-bit token, hex encoded, with a prefix that says what it is.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", crate::hex::encode(&bytes))
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
    fn short_long_and_common_passwords_are_refused() {
        assert!(hash_password("short").is_err());
        assert!(
            policy_problem("elevenchars")
                .unwrap()
                .contains("at least 12")
        );
        assert!(policy_problem("twelve chars").is_none());
        assert!(policy_problem(&"x".repeat(257)).is_some());
        // On every breach list, whatever the letter case.
        assert!(policy_problem("Password1234").unwrap().contains("breaches"));
        assert!(
            policy_problem("qwertyuiop123")
                .unwrap()
                .contains("breaches")
        );
        assert!(COMMON.len() > 10_000);
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
