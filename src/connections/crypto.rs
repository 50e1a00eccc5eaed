//! Secrets at rest: AES-256-GCM with a random 96-bit nonce stored in front of the ciphertext.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};

#[derive(Clone)]
pub struct SecretBox {
    cipher: Option<Aes256Gcm>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.cipher.is_some() {
            "SecretBox(key set)"
        } else {
            "SecretBox(no key)"
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "no encryption key is configured: set INWARD_SECRETS__KEY to 64 hex characters (openssl rand -hex 32)"
    )]
    NoKey,
    #[error("INWARD_SECRETS__KEY must be 64 hex characters (32 bytes)")]
    BadKey,
    #[error("stored credentials cannot be decrypted with the configured key")]
    Undecryptable,
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

impl SecretBox {
    /// No key: sealing and opening fail with `SecretError::NoKey`.
    pub fn none() -> Self {
        SecretBox { cipher: None }
    }

    pub fn from_hex_key(key: &str) -> Result<Self, SecretError> {
        let key = key.trim();
        if key.is_empty() {
            return Ok(SecretBox { cipher: None });
        }
        let bytes = from_hex(key)
            .filter(|b| b.len() == 32)
            .ok_or(SecretError::BadKey)?;
        Ok(SecretBox {
            cipher: Some(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes))),
        })
    }

    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SecretError> {
        let cipher = self.cipher.as_ref().ok_or(SecretError::NoKey)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(&nonce, plaintext)
                .map_err(|_| SecretError::Undecryptable)?,
        );
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        let cipher = self.cipher.as_ref().ok_or(SecretError::NoKey)?;
        if sealed.len() < 12 {
            return Err(SecretError::Undecryptable);
        }
        let (nonce, body) = sealed.split_at(12);
        cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| SecretError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn sealed_secrets_round_trip_and_hide_the_plaintext() {
        let b = SecretBox::from_hex_key(KEY).unwrap();
        let sealed = b.seal(b"client-secret-123").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(b.open(&sealed).unwrap(), b"client-secret-123");
        assert_ne!(
            b.seal(b"x").unwrap(),
            b.seal(b"x").unwrap(),
            "fresh nonce each time"
        );
    }

    #[test]
    fn wrong_or_missing_keys_are_refused() {
        let sealed = SecretBox::from_hex_key(KEY).unwrap().seal(b"x").unwrap();
        let other = SecretBox::from_hex_key(&"ab".repeat(32)).unwrap();
        assert_eq!(other.open(&sealed), Err(SecretError::Undecryptable));
        assert_eq!(
            SecretBox::from_hex_key("").unwrap().seal(b"x"),
            Err(SecretError::NoKey)
        );
        assert!(SecretBox::from_hex_key("abc").is_err());
    }
}
