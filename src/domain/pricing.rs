//! Pricing rules (config `[pricing]`). Money is integer micro-dollars: $1.00 = 1_000_000.

use serde::{Deserialize, Serialize};

use super::vanity::keypad_digit;

pub type Micros = i64;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tariff {
    pub monthly_micros: Micros,
    pub setup_micros: Micros,
    pub per_minute_micros: Micros,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PremiumRules {
    /// Price multiplier for premium numbers, in percent (300 = three times the tariff).
    pub multiplier_percent: i64,
    /// A run of this many identical digits in the last seven is premium (555-7777).
    pub repeated_digits: usize,
    /// A line number ending in this many zeros is premium (555-1000).
    pub round_zeros: usize,
    /// Ascending or descending runs of this length in the line number (1234, 9876).
    pub sequence_length: usize,
    /// Words that, spelled on the keypad, make the last four or seven digits premium.
    pub words: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PricingConfig {
    pub local: Tariff,
    pub toll_free: Tariff,
    pub premium: PremiumRules,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub monthly_micros: Micros,
    pub setup_micros: Micros,
    pub per_minute_micros: Micros,
    /// Why the number is premium, if it is.
    pub premium: Option<String>,
}

impl PricingConfig {
    pub fn quote(&self, toll_free: bool, national: &str) -> Quote {
        let base = if toll_free {
            self.toll_free
        } else {
            self.local
        };
        let premium = self.premium.reason(national);
        let scale = |m: Micros| {
            if premium.is_some() {
                m * self.premium.multiplier_percent / 100
            } else {
                m
            }
        };
        Quote {
            monthly_micros: scale(base.monthly_micros),
            setup_micros: scale(base.setup_micros),
            per_minute_micros: base.per_minute_micros,
            premium,
        }
    }
}

impl PremiumRules {
    /// The first rule a ten-digit national number matches, as a phrase for people.
    pub fn reason(&self, national: &str) -> Option<String> {
        let digits = national.as_bytes();
        if digits.len() != 10 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let subscriber = &digits[3..];
        let line = &digits[6..];
        if self.repeated_digits > 1
            && longest_run(subscriber, |a, b| a == b) >= self.repeated_digits
        {
            return Some(format!("{} repeated digits", self.repeated_digits));
        }
        if self.round_zeros > 0
            && line.iter().rev().take_while(|d| **d == b'0').count() >= self.round_zeros
        {
            return Some("round number".to_string());
        }
        if self.sequence_length > 1 {
            let up = longest_run(line, |a, b| b == a + 1);
            let down = longest_run(line, |a, b| a == b + 1);
            if up.max(down) >= self.sequence_length {
                return Some("sequential digits".to_string());
            }
        }
        for word in &self.words {
            let spelled: Option<Vec<u8>> = word
                .chars()
                .map(|c| keypad_digit(c).map(|d| b'0' + d))
                .collect();
            if let Some(spelled) = spelled
                && !spelled.is_empty()
                && subscriber.ends_with(&spelled)
            {
                return Some(format!("spells {}", word.to_ascii_uppercase()));
            }
        }
        None
    }
}

fn longest_run(digits: &[u8], follows: impl Fn(u8, u8) -> bool) -> usize {
    let mut best = usize::from(!digits.is_empty());
    let mut run = best;
    for pair in digits.windows(2) {
        run = if follows(pair[0], pair[1]) {
            run + 1
        } else {
            1
        };
        best = best.max(run);
    }
    best
}

/// `$1.50` with at least two decimals, more when the amount needs them ($0.0045).
/// Written into one buffer: a search answers with three prices per number, and the two
/// `format!`s this took were about 5% of the server's CPU under 64 searching clients (`perf`).
pub fn format_money(micros: Micros) -> String {
    use std::fmt::Write;
    let abs = micros.unsigned_abs();
    let mut out = String::with_capacity(16);
    if micros < 0 {
        out.push('-');
    }
    out.push('$');
    // Writing into a String cannot fail.
    let _ = write!(out, "{}.", abs / 1_000_000);
    let mut fraction = abs % 1_000_000;
    let mut digits = [b'0'; 6];
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    let kept = digits
        .iter()
        .rposition(|&d| d != b'0')
        .map_or(2, |last| (last + 1).max(2));
    out.extend(digits[..kept].iter().map(|&d| char::from(d)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PricingConfig {
        PricingConfig {
            local: Tariff {
                monthly_micros: 1_000_000,
                setup_micros: 0,
                per_minute_micros: 4_000,
            },
            toll_free: Tariff {
                monthly_micros: 2_000_000,
                setup_micros: 1_000_000,
                per_minute_micros: 21_000,
            },
            premium: PremiumRules {
                multiplier_percent: 500,
                repeated_digits: 4,
                round_zeros: 3,
                sequence_length: 4,
                words: vec!["food".into(), "cash".into()],
            },
        }
    }

    #[test]
    fn ordinary_local_numbers_cost_the_local_tariff() {
        let q = config().quote(false, "5122064821");
        assert_eq!(
            q,
            Quote {
                monthly_micros: 1_000_000,
                setup_micros: 0,
                per_minute_micros: 4_000,
                premium: None
            }
        );
    }

    #[test]
    fn toll_free_costs_more_than_local() {
        let c = config();
        assert!(
            c.quote(true, "8772064821").monthly_micros
                > c.quote(false, "5122064821").monthly_micros
        );
        assert!(
            c.quote(true, "8772064821").per_minute_micros
                > c.quote(false, "5122064821").per_minute_micros
        );
    }

    #[test]
    fn premium_rules_apply_the_multiplier_to_recurring_and_setup_but_not_usage() {
        let c = config();
        let q = c.quote(true, "8885551000");
        assert_eq!(q.premium.as_deref(), Some("round number"));
        assert_eq!(q.monthly_micros, 10_000_000);
        assert_eq!(q.setup_micros, 5_000_000);
        assert_eq!(q.per_minute_micros, 21_000);
    }

    #[test]
    fn each_premium_rule_is_recognised() {
        let rules = config().premium;
        assert_eq!(
            rules.reason("5122067777").as_deref(),
            Some("4 repeated digits")
        );
        assert_eq!(
            rules.reason("5127777206").as_deref(),
            Some("4 repeated digits")
        );
        assert_eq!(
            rules.reason("5122061234").as_deref(),
            Some("sequential digits")
        );
        assert_eq!(
            rules.reason("5122069876").as_deref(),
            Some("sequential digits")
        );
        assert_eq!(rules.reason("8776873663").as_deref(), Some("spells FOOD"));
        assert_eq!(rules.reason("5122062274").as_deref(), Some("spells CASH"));
        assert_eq!(rules.reason("5122064821"), None);
        assert_eq!(rules.reason("not-digits"), None);
    }

    #[test]
    fn money_is_formatted_with_the_decimals_it_needs() {
        assert_eq!(format_money(1_000_000), "$1.00");
        assert_eq!(format_money(4_500), "$0.0045");
        assert_eq!(format_money(0), "$0.00");
        assert_eq!(format_money(12_340_000), "$12.34");
        assert_eq!(format_money(-250_000), "-$0.25");
        assert_eq!(format_money(1_500_000), "$1.50");
        assert_eq!(format_money(100_000), "$0.10");
        assert_eq!(format_money(1_000_001), "$1.000001");
        assert_eq!(format_money(123_456_780), "$123.45678");
        assert_eq!(format_money(i64::MIN), "-$9223372036854.775808");
    }
}
