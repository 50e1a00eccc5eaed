//! Secrets at rest: AES-256-GCM, bound to the row they belong to. A sealed secret is
//! `IWS2`, the 8-byte id of the key that sealed it, a random 96-bit nonce and the ciphertext,
//! whose associated data names the row (`connection:<id>:<tenant>`, `port-pin:<id>:<tenant>`):
//! a ciphertext copied to another row does not open there. The current key seals; earlier
//! keys (`secrets.previous_keys`) still open what they sealed until it is sealed again
//! (`inward secrets rotate`, or the background job). Secrets sealed before rows were bound
//! (nonce and ciphertext alone, no associated data) still open, and are sealed again the same
//! way.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use serde::Serialize;
use sha2::{Digest, Sha256};

const MAGIC: &[u8] = b"IWS2";
const KEY_ID: usize = 8;
const NONCE: usize = 12;

/// What one pass of sealing stored secrets again under the current key found.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Resealed {
    /// Sealed again under the current key.
    pub resealed: usize,
    /// Already sealed under the current key, for their row.
    pub current: usize,
    /// Records (connections, port requests, webhook endpoints) whose secret opens with none
    /// of the configured keys.
    pub unreadable: Vec<uuid::Uuid>,
}

#[derive(Clone)]
struct SealingKey {
    id: [u8; KEY_ID],
    cipher: Aes256Gcm,
}

#[derive(Clone, Default)]
pub struct SecretBox {
    current: Option<SealingKey>,
    previous: Vec<SealingKey>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.current {
            Some(k) => write!(
                f,
                "SecretBox(key {}, {} previous)",
                crate::hex::encode(&k.id),
                self.previous.len()
            ),
            None => f.write_str("SecretBox(no key)"),
        }
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
    #[error(
        "INWARD_SECRETS__PREVIOUS_KEYS must list keys of 64 hex characters each, separated by commas"
    )]
    BadPreviousKey,
    #[error("sealed under key {0}, which is neither secrets.key nor one of secrets.previous_keys")]
    UnknownKey(String),
    #[error(
        "the sealed secret does not open: it was sealed for another record, altered, or under another key"
    )]
    Undecryptable,
}

/// How a secret opened: its plaintext, and whether it should be sealed again (an earlier key,
/// or the unbound format).
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    pub plaintext: Vec<u8>,
    pub stale: bool,
}

fn sealing_key(hex_key: &str) -> Option<SealingKey> {
    let bytes = crate::hex::decode(hex_key.trim()).filter(|b| b.len() == 32)?;
    let digest = Sha256::digest(&bytes);
    let mut id = [0; KEY_ID];
    id.copy_from_slice(&digest[..KEY_ID]);
    Some(SealingKey {
        id,
        cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
    })
}

impl SecretBox {
    /// Seals again under the current key every stale secret of a table: `batch` pages through
    /// the rows after an id (in id order), `write` replaces a sealed secret unless it changed
    /// meanwhile. `uuid` names an unreadable row in the report.
    pub async fn reseal_each<Id: Copy, Rows, Written>(
        &self,
        start: Id,
        bound_to: impl Fn(Id) -> String,
        uuid: impl Fn(Id) -> uuid::Uuid,
        batch: impl Fn(Id) -> Rows,
        write: impl Fn(Id, Vec<u8>, Vec<u8>) -> Written,
    ) -> anyhow::Result<Resealed>
    where
        Rows: Future<Output = sqlx::Result<Vec<(Id, Vec<u8>)>>>,
        Written: Future<Output = sqlx::Result<bool>>,
    {
        let mut report = Resealed::default();
        if !self.has_key() {
            return Ok(report);
        }
        let mut after = start;
        loop {
            let rows = batch(after).await?;
            let Some((last, _)) = rows.last() else {
                break;
            };
            after = *last;
            for (id, sealed) in rows {
                let bound = bound_to(id);
                match self.open(&sealed, &bound) {
                    Ok(opened) if opened.stale => {
                        let again = self.seal(&opened.plaintext, &bound)?;
                        if write(id, sealed, again).await? {
                            report.resealed += 1;
                        }
                    }
                    Ok(_) => report.current += 1,
                    Err(_) => report.unreadable.push(uuid(id)),
                }
            }
        }
        Ok(report)
    }

    /// No key: sealing and opening fail with `SecretError::NoKey`.
    pub fn none() -> Self {
        SecretBox::default()
    }

    pub fn from_hex_key(key: &str) -> Result<Self, SecretError> {
        Self::from_keys(key, &[])
    }

    /// The current key (empty: none) and the earlier ones still accepted for opening.
    pub fn from_keys(key: &str, previous: &[String]) -> Result<Self, SecretError> {
        let current = match key.trim() {
            "" => None,
            key => Some(sealing_key(key).ok_or(SecretError::BadKey)?),
        };
        let previous = previous
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty())
            .map(|k| sealing_key(k).ok_or(SecretError::BadPreviousKey))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SecretBox { current, previous })
    }

    pub fn has_key(&self) -> bool {
        self.current.is_some()
    }

    /// Seals `plaintext` for the record `bound_to` names.
    pub fn seal(&self, plaintext: &[u8], bound_to: &str) -> Result<Vec<u8>, SecretError> {
        let key = self.current.as_ref().ok_or(SecretError::NoKey)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend(
            key.cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: plaintext,
                        aad: bound_to.as_bytes(),
                    },
                )
                .map_err(|_| SecretError::Undecryptable)?,
        );
        Ok(out)
    }

    /// Opens a secret sealed for the record `bound_to` names.
    pub fn open(&self, sealed: &[u8], bound_to: &str) -> Result<Opened, SecretError> {
        let current = self.current.as_ref().ok_or(SecretError::NoKey)?;
        if let Some(rest) = sealed.strip_prefix(MAGIC)
            && rest.len() > KEY_ID + NONCE
        {
            let (id, rest) = rest.split_at(KEY_ID);
            let (nonce, body) = rest.split_at(NONCE);
            let key = std::iter::once(current)
                .chain(&self.previous)
                .find(|k| k.id == id)
                .ok_or_else(|| SecretError::UnknownKey(crate::hex::encode(id)))?;
            let plaintext = key
                .cipher
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: body,
                        aad: bound_to.as_bytes(),
                    },
                )
                .map_err(|_| SecretError::Undecryptable)?;
            return Ok(Opened {
                plaintext,
                stale: key.id != current.id,
            });
        }
        // The unbound format: nonce and ciphertext, no associated data.
        if sealed.len() < NONCE {
            return Err(SecretError::Undecryptable);
        }
        let (nonce, body) = sealed.split_at(NONCE);
        std::iter::once(current)
            .chain(&self.previous)
            .find_map(|k| k.cipher.decrypt(Nonce::from_slice(nonce), body).ok())
            .map(|plaintext| Opened {
                plaintext,
                stale: true,
            })
            .ok_or(SecretError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn other_key() -> String {
        "ab".repeat(32)
    }

    #[test]
    fn sealed_secrets_round_trip_and_hide_the_plaintext() {
        let b = SecretBox::from_hex_key(KEY).unwrap();
        let sealed = b.seal(b"client-secret-123", "connection:1").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        let opened = b.open(&sealed, "connection:1").unwrap();
        assert_eq!(opened.plaintext, b"client-secret-123");
        assert!(!opened.stale);
        assert_ne!(
            b.seal(b"x", "a").unwrap(),
            b.seal(b"x", "a").unwrap(),
            "fresh nonce each time"
        );
    }

    #[test]
    fn a_secret_does_not_open_for_another_record() {
        let b = SecretBox::from_hex_key(KEY).unwrap();
        let sealed = b.seal(b"x", "connection:1:tenant-a").unwrap();
        assert_eq!(
            b.open(&sealed, "connection:2:tenant-b"),
            Err(SecretError::Undecryptable)
        );
    }

    #[test]
    fn an_earlier_key_still_opens_and_says_the_secret_is_stale() {
        let old = SecretBox::from_hex_key(KEY).unwrap();
        let sealed = old.seal(b"x", "r").unwrap();
        let rotated = SecretBox::from_keys(&other_key(), &[KEY.to_string()]).unwrap();
        let opened = rotated.open(&sealed, "r").unwrap();
        assert_eq!(opened.plaintext, b"x");
        assert!(opened.stale);
        let resealed = rotated.seal(&opened.plaintext, "r").unwrap();
        assert!(!rotated.open(&resealed, "r").unwrap().stale);

        let forgotten = SecretBox::from_hex_key(&other_key()).unwrap();
        match forgotten.open(&sealed, "r") {
            Err(SecretError::UnknownKey(id)) => assert_eq!(id.len(), 16),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_unbound_format_opens_and_is_stale() {
        let key = sealing_key(KEY).unwrap();
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut legacy = nonce.to_vec();
        legacy.extend(key.cipher.encrypt(&nonce, b"pin".as_slice()).unwrap());
        let b = SecretBox::from_hex_key(KEY).unwrap();
        let opened = b.open(&legacy, "anything").unwrap();
        assert_eq!(opened.plaintext, b"pin");
        assert!(opened.stale);
    }

    #[test]
    fn wrong_malformed_or_missing_keys_are_refused() {
        let sealed = SecretBox::from_hex_key(KEY)
            .unwrap()
            .seal(b"x", "r")
            .unwrap();
        assert_eq!(
            SecretBox::from_hex_key("").unwrap().seal(b"x", "r"),
            Err(SecretError::NoKey)
        );
        assert_eq!(
            SecretBox::from_hex_key("").unwrap().open(&sealed, "r"),
            Err(SecretError::NoKey)
        );
        assert_eq!(
            SecretBox::from_hex_key("abc").unwrap_err(),
            SecretError::BadKey
        );
        assert_eq!(
            SecretBox::from_keys(KEY, &["nope".into()]).unwrap_err(),
            SecretError::BadPreviousKey
        );
    }
}
