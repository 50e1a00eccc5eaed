//! CNAM (caller-ID name): what may be sent to the national CNAM database, which name a
//! number shows (per-number override over tenant default), and how its sync status moves.

use std::fmt;

use serde::Serialize;

/// The most characters the CNAM databases store.
pub const MAX_LEN: usize = 15;

/// Punctuation carriers accept in a CNAM besides letters, digits and spaces.
pub const PUNCTUATION: &str = ",.-&'";

/// A caller-ID name that carriers accept: 1 to 15 characters of ASCII letters, digits,
/// single spaces and `, . - & '`. Surrounding spaces are trimmed and runs of spaces become
/// one before the rules are checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Cnam(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CnamError {
    Empty,
    TooLong { chars: usize },
    Character { found: char, position: usize },
}

impl fmt::Display for CnamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CnamError::Empty => f.write_str("the caller-ID name is empty"),
            CnamError::TooLong { chars } => write!(
                f,
                "the caller-ID name has {chars} characters; carriers store at most {MAX_LEN}"
            ),
            CnamError::Character { found, position } => write!(
                f,
                "“{found}” (character {position}) is not allowed: use letters, digits, spaces and {PUNCTUATION}"
            ),
        }
    }
}

impl std::error::Error for CnamError {}

impl Cnam {
    pub fn parse(raw: &str) -> Result<Cnam, CnamError> {
        let normalized = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if normalized.is_empty() {
            return Err(CnamError::Empty);
        }
        if let Some((index, found)) = normalized
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == ' ' || PUNCTUATION.contains(*c)))
        {
            return Err(CnamError::Character {
                found,
                position: index + 1,
            });
        }
        let chars = normalized.chars().count();
        if chars > MAX_LEN {
            return Err(CnamError::TooLong { chars });
        }
        Ok(Cnam(normalized))
    }

    /// An optional name from a form or JSON: blank means "none".
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Cnam>, CnamError> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => Cnam::parse(s).map(Some),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cnam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name a number shows: its own override wins over the tenant default.
pub fn effective<'a>(
    override_name: Option<&'a Cnam>,
    default: Option<&'a Cnam>,
) -> Option<&'a Cnam> {
    override_name.or(default)
}

/// Where a number's CNAM stands with the provider. `NotSet` is no record at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    NotSet,
    Pending,
    Synced,
    Failed,
}

/// What happened to a CNAM sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncEvent {
    /// A new name was saved: it must be sent again, whatever happened before.
    Changed,
    ProviderAccepted,
    ProviderRejected,
    /// The provider could not be reached; `attempts` so far, including this one.
    ProviderUnavailable {
        attempts: i32,
    },
}

/// After this many failed attempts to reach the provider a sync is marked failed.
pub const MAX_ATTEMPTS: i32 = 5;

impl SyncStatus {
    /// The statuses a `cnam_records` row holds.
    pub const STORED: [SyncStatus; 3] =
        [SyncStatus::Pending, SyncStatus::Synced, SyncStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::NotSet => "not_set",
            SyncStatus::Pending => "pending",
            SyncStatus::Synced => "synced",
            SyncStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<SyncStatus> {
        Self::STORED.into_iter().find(|v| v.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            SyncStatus::NotSet => "Not set",
            SyncStatus::Pending => "Pending",
            SyncStatus::Synced => "Synced",
            SyncStatus::Failed => "Failed",
        }
    }

    /// The next status, or `None` when the event does not apply (a late answer for a sync
    /// that already ended is ignored).
    pub fn next(self, event: SyncEvent) -> Option<SyncStatus> {
        match (self, event) {
            (_, SyncEvent::Changed) => Some(SyncStatus::Pending),
            (SyncStatus::Pending, SyncEvent::ProviderAccepted) => Some(SyncStatus::Synced),
            (SyncStatus::Pending, SyncEvent::ProviderRejected) => Some(SyncStatus::Failed),
            (SyncStatus::Pending, SyncEvent::ProviderUnavailable { attempts }) => {
                Some(if attempts >= MAX_ATTEMPTS {
                    SyncStatus::Failed
                } else {
                    SyncStatus::Pending
                })
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for SyncStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for SyncStatus {
    type Error = String;
    fn try_from(stored: String) -> Result<Self, Self::Error> {
        SyncStatus::parse(&stored).ok_or_else(|| format!("unknown CNAM status {stored}"))
    }
}

/// Seconds to wait before retrying after `attempts` failed calls: 2, 4, 8 … capped at 5 min.
pub fn retry_delay_seconds(attempts: i32) -> i64 {
    let exp = attempts.clamp(1, 8) as u32;
    (1i64 << exp).min(300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifteen_characters_are_accepted_sixteen_are_not() {
        assert_eq!(
            Cnam::parse("ACME PLUMBING CO").unwrap_err(),
            CnamError::TooLong { chars: 16 }
        );
        assert_eq!(
            Cnam::parse("ACME PLUMBING C").unwrap().as_str(),
            "ACME PLUMBING C"
        );
        assert!(
            CnamError::TooLong { chars: 16 }
                .to_string()
                .contains("at most 15")
        );
    }

    #[test]
    fn letters_digits_spaces_and_carrier_punctuation_only() {
        assert_eq!(
            Cnam::parse("O'Neil & Sons, Inc.").unwrap_err(),
            CnamError::TooLong { chars: 19 }
        );
        assert_eq!(
            Cnam::parse("O'Neil & Co.-24").unwrap().as_str(),
            "O'Neil & Co.-24"
        );
        assert_eq!(
            Cnam::parse("ACME!").unwrap_err(),
            CnamError::Character {
                found: '!',
                position: 5
            }
        );
        assert!(matches!(
            Cnam::parse("Café"),
            Err(CnamError::Character { found: 'é', .. })
        ));
        assert!(matches!(
            Cnam::parse("A@B"),
            Err(CnamError::Character { found: '@', .. })
        ));
        assert!(matches!(
            Cnam::parse("A\u{7}B"),
            Err(CnamError::Character { .. })
        ));
        let message = Cnam::parse("ACME!").unwrap_err().to_string();
        assert!(
            message.contains("not allowed") && message.contains("character 5"),
            "{message}"
        );
    }

    #[test]
    fn spaces_are_trimmed_and_collapsed_and_blank_is_empty() {
        assert_eq!(
            Cnam::parse("  ACME   PLUMBING ").unwrap().as_str(),
            "ACME PLUMBING"
        );
        assert_eq!(Cnam::parse("   ").unwrap_err(), CnamError::Empty);
        assert_eq!(Cnam::parse_optional(Some("  ")).unwrap(), None);
        assert_eq!(Cnam::parse_optional(None).unwrap(), None);
        assert!(Cnam::parse_optional(Some("A#")).is_err());
    }

    #[test]
    fn the_override_wins_over_the_tenant_default() {
        let default = Cnam::parse("GLOBEX").unwrap();
        let own = Cnam::parse("GLOBEX SALES").unwrap();
        assert_eq!(effective(Some(&own), Some(&default)), Some(&own));
        assert_eq!(effective(None, Some(&default)), Some(&default));
        assert_eq!(effective(Some(&own), None), Some(&own));
        assert_eq!(effective(None, None), None);
    }

    #[test]
    fn sync_status_moves_pending_to_synced_or_failed() {
        use SyncEvent::*;
        use SyncStatus::*;
        assert_eq!(Pending.next(ProviderAccepted), Some(Synced));
        assert_eq!(Pending.next(ProviderRejected), Some(Failed));
        assert_eq!(
            Pending.next(ProviderUnavailable { attempts: 1 }),
            Some(Pending)
        );
        assert_eq!(
            Pending.next(ProviderUnavailable {
                attempts: MAX_ATTEMPTS
            }),
            Some(Failed)
        );
        for from in [Pending, Synced, Failed] {
            assert_eq!(from.next(Changed), Some(Pending), "a change always resends");
        }
        assert_eq!(Synced.next(ProviderRejected), None);
        assert_eq!(Failed.next(ProviderAccepted), None);
        assert_eq!(SyncStatus::parse("synced"), Some(Synced));
        assert_eq!(SyncStatus::parse("done"), None);
    }

    #[test]
    fn retries_back_off_and_are_capped() {
        assert_eq!(retry_delay_seconds(1), 2);
        assert_eq!(retry_delay_seconds(2), 4);
        assert_eq!(retry_delay_seconds(20), 256);
        assert!(retry_delay_seconds(100) <= 300);
    }
}
