//! The paging parameters every list takes: `limit` and the keyset `cursor`.

use crate::error::{AppError, AppResult};

/// The most rows a list answers at once.
pub const MAX_LIMIT: i64 = 500;

/// The page size asked for: `default` when not given (or blank), else 1 to `MAX_LIMIT`.
pub fn limit(raw: Option<&str>, default: i64) -> AppResult<i64> {
    match raw.map(str::trim).filter(|l| !l.is_empty()) {
        None => Ok(default),
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(AppError::invalid_field(
                "limit",
                format!("limit must be a number from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

/// The keyset cursor of the next page, as `parse` reads it; none when not given (or blank),
/// refused when it is not one this server issued.
pub fn cursor<T>(raw: Option<&str>, parse: impl FnOnce(&str) -> Option<T>) -> AppResult<Option<T>> {
    raw.map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            parse(c).ok_or_else(|| {
                AppError::invalid_field("cursor", "the cursor is not one this server issued")
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cursors_are_taken_or_refused_by_name() {
        assert_eq!(limit(None, 50).unwrap(), 50);
        assert_eq!(limit(Some("  "), 100).unwrap(), 100);
        assert_eq!(limit(Some("500"), 50).unwrap(), 500);
        for bad in ["0", "501", "ten", "-1"] {
            let err = limit(Some(bad), 50).unwrap_err();
            assert_eq!(err.details()["field"], "limit", "{bad}");
        }
        assert_eq!(
            cursor(Some(" 42 "), |c| c.parse::<i64>().ok()).unwrap(),
            Some(42)
        );
        assert_eq!(cursor(None, |c| c.parse::<i64>().ok()).unwrap(), None);
        let err = cursor(Some("x"), |c| c.parse::<i64>().ok()).unwrap_err();
        assert_eq!(err.details()["field"], "cursor");
    }
}
