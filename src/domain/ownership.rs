//! Proving that a tenant holds an external number it uploaded: a code sent to the number by
//! SMS or by a voice call, typed back within ten minutes and five tries.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// How long a code may be typed back.
pub const CODE_MINUTES: i64 = 10;
/// Wrong codes allowed before a new one must be sent.
pub const MAX_TRIES: i32 = 5;

/// How the code reaches the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Voice,
}

impl Channel {
    pub fn parse(raw: &str) -> Option<Channel> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "sms" | "" => Some(Channel::Sms),
            "voice" | "call" => Some(Channel::Voice),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Voice => "voice",
        }
    }

    /// What the message says (read aloud, digit by digit, on a call).
    pub fn message(self, code: &str) -> String {
        match self {
            Channel::Sms => format!("Your Inward code is {code}. It proves you hold this number."),
            Channel::Voice => {
                let spoken: Vec<String> = code.chars().map(String::from).collect();
                format!(
                    "Your Inward code is {}. Again: {}.",
                    spoken.join(" "),
                    spoken.join(" ")
                )
            }
        }
    }
}

/// Six digits from a random number.
pub fn code_from(random: u64) -> String {
    format!("{:06}", random % 1_000_000)
}

/// What is kept of a code: its hash, bound to the number.
pub fn code_hash(e164: &str, code: &str) -> Vec<u8> {
    Sha256::digest(format!("{e164}:{code}").as_bytes()).to_vec()
}

/// When a code sent `at` stops being accepted.
pub fn expiry(at: DateTime<Utc>) -> DateTime<Utc> {
    at + Duration::minutes(CODE_MINUTES)
}

/// Why a typed code is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the code has expired: send a new one")]
    Expired,
    #[error("too many wrong codes: send a new one")]
    TooManyTries,
    #[error("that is not the code sent ({left} tries left)")]
    Wrong { left: i32 },
}

/// The pending check as stored.
pub struct Pending<'a> {
    pub hash: &'a [u8],
    pub tries: i32,
    pub expires_at: DateTime<Utc>,
}

/// Whether `typed` (spaces and dashes allowed) is the pending code for `e164` at `now`.
pub fn judge(
    e164: &str,
    typed: &str,
    pending: &Pending,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if now >= pending.expires_at {
        return Err(Refusal::Expired);
    }
    if pending.tries >= MAX_TRIES {
        return Err(Refusal::TooManyTries);
    }
    let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let given = code_hash(e164, &digits);
    // Compared whole, whatever the first difference.
    let same = given.len() == pending.hash.len()
        && given
            .iter()
            .zip(pending.hash)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(Refusal::Wrong {
            left: (MAX_TRIES - pending.tries - 1).max(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_accepted_once_typed_right_in_time_and_within_the_tries() {
        let now: DateTime<Utc> = "2026-12-07T12:00:00Z".parse().unwrap();
        let hash = code_hash("+15125550100", "042917");
        let pending = Pending {
            hash: &hash,
            tries: 0,
            expires_at: expiry(now),
        };
        assert_eq!(judge("+15125550100", "042 917", &pending, now), Ok(()));
        assert_eq!(
            judge("+15125550100", "042918", &pending, now),
            Err(Refusal::Wrong { left: 4 })
        );
        // The code of another number is not this one's.
        assert!(judge("+15125550101", "042917", &pending, now).is_err());
        let late = now + Duration::minutes(CODE_MINUTES);
        assert_eq!(
            judge("+15125550100", "042917", &pending, late),
            Err(Refusal::Expired)
        );
        let spent = Pending {
            tries: MAX_TRIES,
            ..pending
        };
        assert_eq!(
            judge("+15125550100", "042917", &spent, now),
            Err(Refusal::TooManyTries)
        );
    }

    #[test]
    fn codes_are_six_digits_and_channels_are_named() {
        assert_eq!(code_from(7), "000007");
        assert_eq!(code_from(1_234_567_890), "567890");
        assert_eq!(Channel::parse("Voice"), Some(Channel::Voice));
        assert_eq!(Channel::parse("fax"), None);
        assert!(Channel::Voice.message("123").contains("1 2 3"));
        assert!(Channel::Sms.message("123456").contains("123456"));
    }
}
