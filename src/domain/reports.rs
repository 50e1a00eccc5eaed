//! Periods reports cover.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// A calendar month, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    /// `YYYY-MM`.
    pub fn parse(raw: &str) -> Result<Month, String> {
        let bad = || format!("“{raw}” is not a month: write it as YYYY-MM, like 2026-11");
        let (year, month) = raw.trim().split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(bad());
        }
        let first = NaiveDate::from_ymd_opt(
            year.parse().map_err(|_| bad())?,
            month.parse().map_err(|_| bad())?,
            1,
        )
        .ok_or_else(bad)?;
        Ok(Month { first })
    }

    /// The month `at` falls in.
    pub fn of(at: DateTime<Utc>) -> Month {
        Month {
            first: at.date_naive().with_day0(0).unwrap_or(at.date_naive()),
        }
    }

    /// Its first instant, and the first of the next month.
    pub fn bounds(self) -> (DateTime<Utc>, DateTime<Utc>) {
        let next = self
            .first
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(self.first);
        let start =
            |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
        (start(self.first), start(next))
    }

    pub fn label(self) -> String {
        self.first.format("%Y-%m").to_string()
    }
}

use chrono::Datelike;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_read_and_bounded_in_utc() {
        let december = Month::parse("2026-12").unwrap();
        let (from, to) = december.bounds();
        assert_eq!(from.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2027-01-01T00:00:00+00:00");
        assert_eq!(december.label(), "2026-12");
        let february = Month::parse("2028-02").unwrap().bounds();
        assert_eq!(february.1.to_rfc3339(), "2028-03-01T00:00:00+00:00");
        for bad in ["2026-13", "2026-1", "26-01", "december", "", "2026-00"] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
        let at: DateTime<Utc> = "2026-11-30T23:59:59Z".parse().unwrap();
        assert_eq!(Month::of(at).label(), "2026-11");
    }
}
