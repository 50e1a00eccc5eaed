//! How far a hold may be extended: the hold time again from now, never past the longest a
//! hold may last from when it was taken.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtendRefused {
    /// Already held at least as long as an extension would give (a premium hold waiting for
    /// its approval is held until the approval's deadline).
    #[error("these numbers are already held until {0}, longer than an extension would give")]
    AlreadyLonger(DateTime<Utc>),
    /// The hold has lasted as long as a hold may.
    #[error(
        "a hold lasts at most {minutes} minutes from when it was taken: these numbers stay held until {until}"
    )]
    AtTheLimit { minutes: i64, until: DateTime<Utc> },
}

/// The new end of a hold taken at `taken_at` that ends at `ends_at`, extended at `now` by
/// `ttl`, within `max_hold` from when it was taken.
pub fn extended_until(
    now: DateTime<Utc>,
    taken_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    ttl: Duration,
    max_hold: Duration,
) -> Result<DateTime<Utc>, ExtendRefused> {
    let wanted = now + ttl;
    if ends_at >= wanted {
        return Err(ExtendRefused::AlreadyLonger(ends_at));
    }
    let until = wanted.min(taken_at + max_hold);
    if until <= ends_at {
        return Err(ExtendRefused::AtTheLimit {
            minutes: max_hold.num_minutes(),
            until: ends_at,
        });
    }
    Ok(until)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(minutes)
    }

    #[test]
    fn an_extension_gives_the_hold_time_again_from_now_within_the_limit() {
        let (ttl, max) = (Duration::minutes(15), Duration::minutes(60));
        // Taken at 0, ends at 15; extended at 10: until 25.
        assert_eq!(extended_until(at(10), at(0), at(15), ttl, max), Ok(at(25)));
        // Extended at 50 (ending at 55): 65 is past the hour, so until 60.
        assert_eq!(extended_until(at(50), at(0), at(55), ttl, max), Ok(at(60)));
        // At the hour's end there is nothing left to give.
        assert_eq!(
            extended_until(at(55), at(0), at(60), ttl, max),
            Err(ExtendRefused::AtTheLimit {
                minutes: 60,
                until: at(60)
            })
        );
        // A premium hold waiting for approval until 240 is not shortened.
        assert_eq!(
            extended_until(at(10), at(0), at(240), ttl, max),
            Err(ExtendRefused::AlreadyLonger(at(240)))
        );
    }
}
