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

impl VanityPattern {
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
        let digits: Vec<u8> = national.bytes().map(|b| b.wrapping_sub(b'0')).collect();
        let fits = |window: &[u8]| {
            self.slots
                .iter()
                .zip(window)
                .all(|(slot, d)| slot.is_none_or(|s| s == *d))
        };
        if self.is_anchored() {
            digits.len() == 10 && fits(&digits)
        } else {
            digits.windows(self.slots.len()).any(fits)
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
