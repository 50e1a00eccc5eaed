//! Vanity search patterns: `877-555-XXXX`, `8XX-OUR-FOOD`, `888-XXX-1000`.
//! Letters map to the phone keypad, `X` (or `?`) matches any one digit.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VanityPattern {
    /// One entry per position: `Some(digit)` or `None` for a wildcard.
    slots: Vec<Option<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("the pattern is empty")]
    Empty,
    #[error("“{0}” is not allowed in a pattern: use digits, letters and X as a wildcard")]
    BadCharacter(char),
    #[error("the pattern has {0} digits; a North American number has 10")]
    TooLong(usize),
    #[error("the pattern needs at least one digit or letter besides the X wildcards")]
    OnlyWildcards,
}

/// ITU E.161 keypad; Q and Z sit on 7 and 9.
pub fn keypad_digit(letter: char) -> Option<u8> {
    let digit = match letter.to_ascii_uppercase() {
        'A' | 'B' | 'C' => 2,
        'D' | 'E' | 'F' => 3,
        'G' | 'H' | 'I' => 4,
        'J' | 'K' | 'L' => 5,
        'M' | 'N' | 'O' => 6,
        'P' | 'Q' | 'R' | 'S' => 7,
        'T' | 'U' | 'V' => 8,
        'W' | 'Y' | 'Z' => 9,
        _ => return None,
    };
    Some(digit)
}

/// Where a pattern shorter than a number must sit in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// Anywhere in the ten digits.
    #[default]
    Contains,
    /// At their start (the area code first).
    StartsWith,
    /// At their end (the line number last).
    EndsWith,
}

impl Placement {
    pub fn parse(raw: &str) -> Option<Placement> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "contains" | "anywhere" => Some(Placement::Contains),
            "starts_with" | "start" => Some(Placement::StartsWith),
            "ends_with" | "end" => Some(Placement::EndsWith),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Contains => "contains",
            Placement::StartsWith => "starts_with",
            Placement::EndsWith => "ends_with",
        }
    }
}

impl VanityPattern {
    /// The pattern fixed at the start or the end of the number: a short pattern is padded
    /// with wildcards to ten digits, so it is searched as an anchored one (by its leading
    /// digits' range, or by its trailing digits through the suffix index).
    pub fn placed(self, placement: Placement) -> VanityPattern {
        let missing = 10usize.saturating_sub(self.slots.len());
        if missing == 0 {
            return self;
        }
        let mut slots = self.slots;
        match placement {
            Placement::Contains => {}
            Placement::StartsWith => slots.extend(std::iter::repeat_n(None, missing)),
            Placement::EndsWith => {
                slots.splice(0..0, std::iter::repeat_n(None, missing));
            }
        }
        VanityPattern { slots }
    }

    /// The digits of `national` the pattern matched, as a range of its ten digits: from its
    /// first to its last fixed digit (wildcards at either end are not part of the match).
    pub fn highlight(&self, national: &str) -> Option<std::ops::Range<usize>> {
        let at = self.position(national)?;
        let first = self.slots.iter().position(Option::is_some)?;
        let last = self.slots.iter().rposition(Option::is_some)?;
        Some(at + first..at + last + 1)
    }

    pub fn parse(input: &str) -> Result<Self, PatternError> {
        let mut slots = Vec::new();
        for c in input.trim().chars() {
            match c {
                '0'..='9' => slots.push(Some(c as u8 - b'0')),
                'X' | 'x' | '?' => slots.push(None),
                c if c.is_ascii_alphabetic() => slots.push(keypad_digit(c)),
                '-' | ' ' | '.' | '(' | ')' | '+' => {}
                other => return Err(PatternError::BadCharacter(other)),
            }
        }
        // A leading country code 1 on an 11-slot pattern is not part of the number.
        if slots.len() == 11 && slots[0] == Some(1) {
            slots.remove(0);
        }
        if slots.is_empty() {
            return Err(PatternError::Empty);
        }
        if slots.len() > 10 {
            return Err(PatternError::TooLong(slots.len()));
        }
        if slots.iter().all(Option::is_none) {
            return Err(PatternError::OnlyWildcards);
        }
        Ok(VanityPattern { slots })
    }

    /// A full ten-digit pattern matches position by position; a shorter one anywhere.
    pub fn is_anchored(&self) -> bool {
        self.slots.len() == 10
    }

    /// The SQL `LIKE` pattern over the ten national digits.
    pub fn sql_like(&self) -> String {
        let body: String = self
            .slots
            .iter()
            .map(|s| s.map(|d| char::from(b'0' + d)).unwrap_or('_'))
            .collect();
        if self.is_anchored() {
            body
        } else {
            format!("%{body}%")
        }
    }

    /// The fixed leading digits of an anchored pattern, which an index can range-scan.
    pub fn fixed_prefix(&self) -> String {
        if !self.is_anchored() {
            return String::new();
        }
        self.slots
            .iter()
            .map_while(|s| s.map(|d| char::from(b'0' + d)))
            .collect()
    }

    /// The fixed trailing digits of an anchored pattern, reversed (`XXX-XXX-CALL` gives
    /// `5522`): a prefix of `reverse(national)`, which an expression index can range-scan.
    pub fn fixed_suffix_reversed(&self) -> String {
        if !self.is_anchored() {
            return String::new();
        }
        self.slots
            .iter()
            .rev()
            .map_while(|s| s.map(|d| char::from(b'0' + d)))
            .collect()
    }

    pub fn matches(&self, national: &str) -> bool {
        self.position(national).is_some()
    }

    /// Where in `national` the pattern matches first: 0 for an anchored one that fits.
    fn position(&self, national: &str) -> Option<usize> {
        let digits: Vec<u8> = national.bytes().map(|b| b.wrapping_sub(b'0')).collect();
        let fits = |window: &[u8]| {
            self.slots
                .iter()
                .zip(window)
                .all(|(slot, d)| slot.is_none_or(|s| s == *d))
        };
        if self.is_anchored() {
            (digits.len() == 10 && fits(&digits)).then_some(0)
        } else {
            digits.windows(self.slots.len()).position(fits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_map_to_the_keypad() {
        let word: String = "OURFOOD"
            .chars()
            .map(|c| char::from(b'0' + keypad_digit(c).unwrap()))
            .collect();
        assert_eq!(word, "6873663");
        assert_eq!(keypad_digit('q'), Some(7));
        assert_eq!(keypad_digit('z'), Some(9));
        assert_eq!(keypad_digit('1'), None);
    }

    #[test]
    fn the_documented_examples_become_like_patterns() {
        assert_eq!(
            VanityPattern::parse("877-555-XXXX").unwrap().sql_like(),
            "877555____"
        );
        assert_eq!(
            VanityPattern::parse("8XX-OUR-FOOD").unwrap().sql_like(),
            "8__6873663"
        );
        assert_eq!(
            VanityPattern::parse("888-XXX-1000").unwrap().sql_like(),
            "888___1000"
        );
        assert_eq!(
            VanityPattern::parse("1-800-FLOWERS").unwrap().sql_like(),
            "8003569377"
        );
        assert_eq!(VanityPattern::parse("FOOD").unwrap().sql_like(), "%3663%");
    }

    #[test]
    fn fixed_prefix_is_the_leading_digits_of_an_anchored_pattern() {
        assert_eq!(
            VanityPattern::parse("877-555-XXXX").unwrap().fixed_prefix(),
            "877555"
        );
        assert_eq!(
            VanityPattern::parse("8XX-OUR-FOOD").unwrap().fixed_prefix(),
            "8"
        );
        assert_eq!(VanityPattern::parse("FOOD").unwrap().fixed_prefix(), "");
    }

    #[test]
    fn fixed_suffix_is_the_trailing_digits_of_an_anchored_pattern_reversed() {
        let suffix = |p: &str| VanityPattern::parse(p).unwrap().fixed_suffix_reversed();
        assert_eq!(suffix("XXX-XXX-CALL"), "5522");
        assert_eq!(suffix("8XX-OUR-FOOD"), "3663786");
        assert_eq!(suffix("877-555-XXXX"), "");
        assert_eq!(suffix("FOOD"), "");
    }

    #[test]
    fn matching_honours_wildcards_and_anchoring() {
        let p = VanityPattern::parse("8XX-OUR-FOOD").unwrap();
        assert!(p.matches("8776873663"));
        assert!(!p.matches("7776873663"));
        let anywhere = VanityPattern::parse("FOOD").unwrap();
        assert!(anywhere.matches("5125553663"));
        assert!(!anywhere.matches("5125553664"));
    }

    #[test]
    fn a_short_pattern_can_be_placed_at_the_start_or_the_end() {
        let food = || VanityPattern::parse("FOOD").unwrap();
        assert_eq!(food().placed(Placement::Contains).sql_like(), "%3663%");
        assert_eq!(
            food().placed(Placement::StartsWith).sql_like(),
            "3663______"
        );
        let end = food().placed(Placement::EndsWith);
        assert_eq!(end.sql_like(), "______3663");
        assert_eq!(end.fixed_suffix_reversed(), "3663");
        let whole = VanityPattern::parse("8XX-OUR-FOOD").unwrap();
        assert_eq!(whole.clone().placed(Placement::EndsWith), whole);
        assert_eq!(Placement::parse(" Ends_With"), Some(Placement::EndsWith));
        assert_eq!(Placement::parse("middle"), None);
    }

    #[test]
    fn the_highlight_spans_the_fixed_digits_that_matched() {
        let food = VanityPattern::parse("FOOD").unwrap();
        assert_eq!(food.highlight("5125553663"), Some(6..10));
        assert_eq!(food.highlight("3663555121"), Some(0..4));
        assert_eq!(food.highlight("5125551234"), None);
        let anchored = VanityPattern::parse("8XX-OUR-FOOD").unwrap();
        assert_eq!(anchored.highlight("8776873663"), Some(0..10));
        let end = VanityPattern::parse("XXX-XXX-CALL").unwrap();
        assert_eq!(end.highlight("5125552255"), Some(6..10));
        let middle = VanityPattern::parse("5X5").unwrap();
        assert_eq!(middle.highlight("2125551234"), Some(3..6));
    }

    #[test]
    fn bad_patterns_say_why() {
        assert_eq!(VanityPattern::parse(""), Err(PatternError::Empty));
        assert_eq!(
            VanityPattern::parse("XXX-XXX"),
            Err(PatternError::OnlyWildcards)
        );
        assert_eq!(
            VanityPattern::parse("877*"),
            Err(PatternError::BadCharacter('*'))
        );
        assert_eq!(
            VanityPattern::parse("877-555-12345"),
            Err(PatternError::TooLong(11))
        );
    }
}
