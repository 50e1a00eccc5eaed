//! What a tenant's numbers cost it in a month, from the audit log's record of when each
//! number became the tenant's (a successful PROVISION) and stopped being (a successful
//! RELEASE or DEPROVISION).
//!
//! A number is charged for every calendar day (UTC) of the month it was the tenant's for any
//! part of: the monthly price times those days over the days of the month, rounded to the
//! micro-dollar. Each provisioning in the month adds the setup fee. The premium surcharge is
//! the part of both that the premium multiplier adds to the base tariff.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::pricing::Micros;
use super::reports::Month;

/// The prices a number was provisioned at, and the base tariff of its kind then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChargedPrice {
    pub monthly_micros: Micros,
    pub setup_micros: Micros,
    pub base_monthly_micros: Micros,
    pub base_setup_micros: Micros,
    pub premium: Option<String>,
}

impl ChargedPrice {
    /// The tariff's price for `e164` now (a toll-free code, or local), premium rules applied.
    pub fn quoted(pricing: &super::pricing::PricingConfig, e164: &str) -> ChargedPrice {
        let national = e164.strip_prefix("+1").unwrap_or(e164);
        let toll_free = super::search::TOLL_FREE_NPAS.contains(&national.get(..3).unwrap_or(""));
        let quote = pricing.quote(toll_free, national);
        let base = if toll_free {
            pricing.toll_free
        } else {
            pricing.local
        };
        ChargedPrice {
            monthly_micros: quote.monthly_micros,
            setup_micros: quote.setup_micros,
            base_monthly_micros: base.monthly_micros,
            base_setup_micros: base.setup_micros,
            premium: quote.premium,
        }
    }
}

/// A start or an end of a tenant's use of one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UseEvent {
    Provisioned(ChargedPrice),
    Ended,
}

/// One number's charges in a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberCharge {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub days_active: u32,
    /// The monthly price, prorated by `days_active`, premium included.
    pub monthly_micros: Micros,
    /// Setup fees of the provisionings in the month, premium included.
    pub setup_micros: Micros,
    /// What the premium multiplier added to both.
    pub premium_micros: Micros,
    pub premium: Option<String>,
}

impl NumberCharge {
    pub fn total_micros(&self) -> Micros {
        self.monthly_micros + self.setup_micros
    }
}

fn prorate(monthly: Micros, days: u32, in_month: u32) -> Micros {
    let (monthly, days, in_month) = (i128::from(monthly), i128::from(days), i128::from(in_month));
    ((monthly * days + in_month / 2) / in_month.max(1)) as Micros
}

/// The days of the month, as bits from its first day, that `[start, end)` touches within
/// `[from, to)`; the one instant's day when they are equal.
fn days_touched(
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> u64 {
    let overlaps = if start == end {
        start >= from && start < to
    } else {
        start < to && end > from
    };
    if !overlaps {
        return 0;
    }
    let (start, end) = (start.max(from), end.min(to));
    let last = if end > start {
        end - chrono::Duration::microseconds(1)
    } else {
        start
    };
    let first = from.date_naive();
    let (a, b) = (start.date_naive(), last.date_naive());
    let mut days = 0;
    for day in (a - first).num_days()..=(b - first).num_days() {
        days |= 1u64 << day;
    }
    days
}

/// The charges of one number for one tenant in `month` up to `now` (the month so far, while
/// it runs), from its use events in time order (those before the month included: they say
/// whether it was in use on its first day). Each period of use is charged at the price of the
/// PROVISION that began it; a day two periods share is charged once, to the first. None when
/// the number was not the tenant's on any day of the month.
pub fn number_charge(
    month: Month,
    now: DateTime<Utc>,
    events: &[(DateTime<Utc>, UseEvent)],
) -> Option<NumberCharge> {
    let (from, end_of_month) = month.bounds();
    let to = end_of_month.min(now);
    if to <= from {
        return None;
    }
    let first = from.date_naive();
    let in_month = (end_of_month.date_naive() - first).num_days() as u32;
    // Periods of use: (start, end, the price it began at).
    let mut periods: Vec<(DateTime<Utc>, DateTime<Utc>, &ChargedPrice)> = Vec::new();
    let mut open: Option<(DateTime<Utc>, &ChargedPrice)> = None;
    for (at, event) in events {
        match event {
            // A PROVISION while in use (an activation completing, a re-route) is the same
            // use, at the same price, with no new setup fee.
            UseEvent::Provisioned(p) if open.is_none() => open = Some((*at, p)),
            UseEvent::Provisioned(_) => {}
            UseEvent::Ended => {
                if let Some((start, p)) = open.take() {
                    periods.push((start, *at, p));
                }
            }
        }
    }
    if let Some((start, p)) = open {
        periods.push((start, to, p));
    }
    let (mut days, mut monthly, mut base, mut setup, mut setup_premium) = (0u64, 0, 0, 0, 0);
    let mut premium = None;
    for (start, end, price) in periods {
        let touched = days_touched((start, end), (from, to)) & !days;
        if start >= from && start < to {
            setup += price.setup_micros;
            setup_premium += price.setup_micros - price.base_setup_micros;
        }
        if touched == 0 {
            continue;
        }
        days |= touched;
        monthly += prorate(price.monthly_micros, touched.count_ones(), in_month);
        base += prorate(price.base_monthly_micros, touched.count_ones(), in_month);
        premium = price.premium.clone();
    }
    if days == 0 {
        return None;
    }
    let first_day = first + chrono::Days::new(u64::from(days.trailing_zeros()));
    let last_day = first + chrono::Days::new(u64::from(63 - days.leading_zeros()));
    Some(NumberCharge {
        first_day,
        last_day,
        days_active: days.count_ones(),
        monthly_micros: monthly,
        setup_micros: setup,
        premium_micros: monthly - base + setup_premium,
        premium,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// A time after the months these tests look at.
    fn later() -> DateTime<Utc> {
        at("2027-06-01T00:00:00Z")
    }

    fn local() -> ChargedPrice {
        ChargedPrice {
            monthly_micros: 1_000_000,
            setup_micros: 0,
            base_monthly_micros: 1_000_000,
            base_setup_micros: 0,
            premium: None,
        }
    }

    fn premium_toll_free() -> ChargedPrice {
        ChargedPrice {
            monthly_micros: 10_000_000,
            setup_micros: 5_000_000,
            base_monthly_micros: 2_000_000,
            base_setup_micros: 1_000_000,
            premium: Some("spells FOOD".into()),
        }
    }

    #[test]
    fn a_number_used_mid_month_pays_for_the_days_it_was_held() {
        let november = Month::parse("2026-11").unwrap();
        let charge = number_charge(
            november,
            later(),
            &[
                (at("2026-11-10T14:00:00Z"), UseEvent::Provisioned(local())),
                (at("2026-11-20T09:00:00Z"), UseEvent::Ended),
            ],
        )
        .unwrap();
        // The 10th to the 20th: 11 of 30 days of $1.00.
        assert_eq!(charge.days_active, 11);
        assert_eq!(charge.first_day.to_string(), "2026-11-10");
        assert_eq!(charge.last_day.to_string(), "2026-11-20");
        assert_eq!(charge.monthly_micros, 366_667);
        assert_eq!((charge.setup_micros, charge.premium_micros), (0, 0));
    }

    #[test]
    fn a_premium_number_held_all_month_pays_the_month_and_its_surcharge() {
        let november = Month::parse("2026-11").unwrap();
        let events = [(
            at("2026-10-05T08:00:00Z"),
            UseEvent::Provisioned(premium_toll_free()),
        )];
        let charge = number_charge(november, later(), &events).unwrap();
        assert_eq!(charge.days_active, 30);
        assert_eq!(charge.monthly_micros, 10_000_000);
        assert_eq!(charge.setup_micros, 0, "set up in October");
        assert_eq!(charge.premium_micros, 8_000_000);
        // Provisioned in the month: the setup fee and its premium part too.
        let october = Month::parse("2026-10").unwrap();
        let charge = number_charge(october, later(), &events).unwrap();
        assert_eq!(charge.days_active, 27);
        assert_eq!(charge.setup_micros, 5_000_000);
        assert_eq!(charge.monthly_micros, 8_709_677); // 10 × 27 / 31
        assert_eq!(charge.premium_micros, 8_709_677 - 1_741_935 + 4_000_000);
    }

    #[test]
    fn released_and_provisioned_again_counts_each_day_once_and_each_setup() {
        let november = Month::parse("2026-11").unwrap();
        let events = [
            (
                at("2026-11-01T00:00:00Z"),
                UseEvent::Provisioned(premium_toll_free()),
            ),
            (at("2026-11-03T12:00:00Z"), UseEvent::Ended),
            (
                at("2026-11-03T18:00:00Z"),
                UseEvent::Provisioned(premium_toll_free()),
            ),
            // The activation completing: the same use.
            (
                at("2026-11-04T18:00:00Z"),
                UseEvent::Provisioned(premium_toll_free()),
            ),
            (at("2026-11-05T00:00:00Z"), UseEvent::Ended),
        ];
        let charge = number_charge(november, later(), &events).unwrap();
        assert_eq!(
            charge.days_active, 4,
            "the 1st to the 4th; ended at midnight"
        );
        assert_eq!(charge.setup_micros, 10_000_000);
    }

    #[test]
    fn each_period_is_charged_at_the_price_it_began_at() {
        let november = Month::parse("2026-11").unwrap();
        let events = [
            (
                at("2026-11-01T00:00:00Z"),
                UseEvent::Provisioned(premium_toll_free()),
            ),
            // The activation completing, recorded without a price: the same period.
            (at("2026-11-02T00:00:00Z"), UseEvent::Provisioned(local())),
            (at("2026-11-05T12:00:00Z"), UseEvent::Ended),
            (at("2026-11-20T00:00:00Z"), UseEvent::Provisioned(local())),
        ];
        let charge = number_charge(november, later(), &events).unwrap();
        // 5 days at $10 (the 1st to the 5th), 11 at $1 (the 20th to the 30th).
        assert_eq!(charge.days_active, 16);
        assert_eq!(charge.monthly_micros, 1_666_667 + 366_667);
        assert_eq!(charge.setup_micros, 5_000_000);
        assert_eq!(charge.premium_micros, 1_666_667 - 333_333 + 4_000_000);
        assert_eq!(charge.premium, None, "the latest period's");
    }

    #[test]
    fn the_running_month_is_charged_up_to_today() {
        let november = Month::parse("2026-11").unwrap();
        let events = [(at("2026-11-10T14:00:00Z"), UseEvent::Provisioned(local()))];
        let charge = number_charge(november, at("2026-11-12T08:00:00Z"), &events).unwrap();
        assert_eq!(charge.days_active, 3, "the 10th, 11th and 12th");
        assert_eq!(charge.last_day.to_string(), "2026-11-12");
        assert_eq!(charge.monthly_micros, 100_000);
        assert_eq!(
            number_charge(november, at("2026-11-09T00:00:00Z"), &events),
            None
        );
    }

    #[test]
    fn a_number_not_held_in_the_month_has_no_charge() {
        let november = Month::parse("2026-11").unwrap();
        let before = [
            (at("2026-10-01T00:00:00Z"), UseEvent::Provisioned(local())),
            (at("2026-11-01T00:00:00Z"), UseEvent::Ended),
        ];
        assert_eq!(number_charge(november, later(), &before), None);
        let after = [(at("2026-12-01T00:00:00Z"), UseEvent::Provisioned(local()))];
        assert_eq!(number_charge(november, later(), &after), None);
        let only_an_end = [(at("2026-11-02T00:00:00Z"), UseEvent::Ended)];
        assert_eq!(number_charge(november, later(), &only_an_end), None);
    }
}
