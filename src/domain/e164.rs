//! Phone numbers, parsed at the edge: an `E164` can only exist if it is a valid number.

use std::fmt;

use phonenumber::{Mode, country};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("empty phone number")]
    Empty,
    #[error(
        "“{0}” is not a phone number: use E.164 (+15125550100), a national format ((512) 555-0100) or a tel: URI"
    )]
    Unparseable(String),
    #[error("“{0}” is not a valid number: {1}")]
    Invalid(String, &'static str),
}

impl E164 {
    /// Accepts E.164, national US formats and RFC 3966 `tel:` URIs; US is the default country.
    pub fn parse(input: &str) -> Result<Self, NumberError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(NumberError::Empty);
        }
        let raw = match trimmed.get(..4) {
            Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => {
                // RFC 3966: parameters follow ';'. An extension or a subaddress names something
                // behind the number, which a DID is not; a phone-context only qualifies it.
                let mut parts = trimmed[4..].split(';');
                let number = parts.next().unwrap_or_default();
                for parameter in parts {
                    let name = parameter.split('=').next().unwrap_or_default();
                    if name.eq_ignore_ascii_case("ext") || name.eq_ignore_ascii_case("isub") {
                        return Err(NumberError::Invalid(
                            trimmed.to_string(),
                            "extensions and subaddresses are not DIDs",
                        ));
                    }
                }
                number
            }
            _ => trimmed,
        };
        if raw.chars().any(|c| c.is_ascii_alphabetic()) {
            return Err(NumberError::Unparseable(trimmed.to_string()));
        }
        check_characters(raw).map_err(|why| NumberError::Invalid(trimmed.to_string(), why))?;
        let parsed = phonenumber::parse(Some(country::Id::US), raw)
            .map_err(|_| NumberError::Unparseable(trimmed.to_string()))?;
        if parsed.extension().is_some() {
            return Err(NumberError::Invalid(
                trimmed.to_string(),
                "extensions are not DIDs",
            ));
        }
        let e164 = parsed.format().mode(Mode::E164).to_string();
        if parsed.code().value() == 1 {
            check_nanp(&e164[2..]).map_err(|why| NumberError::Invalid(trimmed.to_string(), why))?;
        } else if !parsed.is_valid() {
            return Err(NumberError::Invalid(
                trimmed.to_string(),
                "not a valid number for its country",
            ));
        }
        Ok(E164(e164))
    }

    /// Re-parses a value read back from the database, where it was stored as E.164.
    pub fn from_stored(stored: &str) -> Result<Self, NumberError> {
        Self::parse(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_nanp(&self) -> bool {
        self.0.starts_with("+1") && self.0.len() == 12
    }

    /// The ten NANP digits (NPA-NXX-XXXX), or the digits after the country code elsewhere.
    pub fn national_digits(&self) -> &str {
        if self.is_nanp() {
            &self.0[2..]
        } else {
            &self.0[1..]
        }
    }

    pub fn npa(&self) -> Option<&str> {
        self.is_nanp().then(|| &self.0[2..5])
    }

    /// `(512) 555-0100` for NANP numbers, E.164 otherwise.
    pub fn national_format(&self) -> String {
        format_national(&self.0)
    }

    pub fn tel_uri(&self) -> String {
        format!("tel:{}", self.0)
    }
}

/// Formats a stored E.164 string for people without re-validating it.
pub fn format_national(e164: &str) -> String {
    // Digits only: what reaches here may be a raw query value, and slicing a multi-byte
    // character would panic.
    if e164.len() == 12 && e164.starts_with("+1") && e164[2..].bytes().all(|b| b.is_ascii_digit()) {
        let d = &e164[2..];
        format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..])
    } else {
        e164.to_string()
    }
}

/// What a number may be written with: digits, one leading `+`, and the separators people
/// type (space, `-`, `.`, parentheses). Anything else — a second `+`, a slash, a NUL, an
/// emoji, an invisible zero-width or direction mark pasted along — is refused rather than
/// dropped, so that two different strings never silently name the same number.
pub fn check_characters(raw: &str) -> Result<(), &'static str> {
    let body = raw.strip_prefix('+').unwrap_or(raw);
    if body.starts_with('+') {
        return Err("a number has at most one leading +");
    }
    if !body.starts_with(|c: char| c.is_ascii_digit() || c == '(') {
        return Err("a number starts with +, a digit or an opening parenthesis");
    }
    if body.contains('+') {
        return Err("+ may only lead the number");
    }
    if body
        .chars()
        .any(|c| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')')))
    {
        return Err(
            "a number holds only digits, a leading +, spaces, dashes, dots and parentheses",
        );
    }
    Ok(())
}

/// NANP numbering plan: NPA and NXX start with 2-9 and are not N11 service codes.
fn check_nanp(ten: &str) -> Result<(), &'static str> {
    let b = ten.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
        return Err("NANP numbers have ten digits");
    }
    if b[0] < b'2' {
        return Err("area codes start with 2-9");
    }
    if b[1] == b'1' && b[2] == b'1' {
        return Err("N11 codes are service codes, not area codes");
    }
    if b[3] < b'2' {
        return Err("exchange codes (NXX) start with 2-9");
    }
    if b[4] == b'1' && b[5] == b'1' {
        return Err("N11 exchange codes are not assignable");
    }
    Ok(())
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for E164 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for E164 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        E164::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_e164_national_and_tel_uri() {
        for input in [
            "+15125550100",
            "(512) 555-0100",
            "512-555-0100",
            "512.555.0100",
            "1 512 555 0100",
            "tel:+1-512-555-0100",
            "TEL:+15125550100;phone-context=example.com",
        ] {
            assert_eq!(
                E164::parse(input).unwrap().as_str(),
                "+15125550100",
                "{input}"
            );
        }
    }

    #[test]
    fn accepts_toll_free_and_foreign_numbers() {
        assert_eq!(
            E164::parse("1-877-555-1000").unwrap().as_str(),
            "+18775551000"
        );
        assert_eq!(
            E164::parse("+44 20 7946 0018").unwrap().as_str(),
            "+442079460018"
        );
    }

    #[test]
    fn refuses_malformed_numbers_with_a_reason() {
        assert_eq!(E164::parse("  "), Err(NumberError::Empty));
        assert!(matches!(
            E164::parse("hello"),
            Err(NumberError::Unparseable(_))
        ));
        assert!(matches!(
            E164::parse("512-555"),
            Err(NumberError::Invalid(..) | NumberError::Unparseable(_))
        ));
        assert!(matches!(
            E164::parse("+1 112 555 0100"),
            Err(NumberError::Invalid(..))
        ));
        assert!(matches!(
            E164::parse("+1 212 155 0100"),
            Err(NumberError::Invalid(
                _,
                "exchange codes (NXX) start with 2-9"
            ))
        ));
        assert!(matches!(
            E164::parse("+1 911 555 0100"),
            Err(NumberError::Invalid(..))
        ));
        assert!(matches!(
            E164::parse("+1 512 155 0100"),
            Err(NumberError::Invalid(..))
        ));
        assert!(matches!(
            E164::parse("+44 12"),
            Err(NumberError::Invalid(..) | NumberError::Unparseable(_))
        ));
        assert!(E164::parse("+15125550100 ext. 12").is_err());
    }

    #[test]
    fn refuses_characters_that_would_be_dropped_silently() {
        for input in [
            "++15125550100",
            "📞15125550100",
            "-15125550100",
            "+1512/5550100",
            "+1512\u{200b}5550100",
            "\u{200f}+15125550100",
            "+1512\u{202e}5550100",
            "+15125550100\0",
            "+1 512 555 0100+",
            "tel:+15125550100;ext=99",
            "tel:+15125550100;isub=12",
        ] {
            assert!(
                matches!(E164::parse(input), Err(NumberError::Invalid(..))),
                "{input:?}: {:?}",
                E164::parse(input)
            );
        }
        assert_eq!(
            E164::parse("tel:+15125550100;ext=99")
                .unwrap_err()
                .to_string(),
            "“tel:+15125550100;ext=99” is not a valid number: extensions and subaddresses are not DIDs"
        );
    }

    #[test]
    fn formats_for_people_and_links() {
        let n = E164::parse("+15125550100").unwrap();
        assert_eq!(n.national_format(), "(512) 555-0100");
        assert_eq!(n.tel_uri(), "tel:+15125550100");
        assert_eq!(n.npa(), Some("512"));
        assert_eq!(n.national_digits(), "5125550100");
        // Anything else is shown as it came, even text that is not a number at all.
        assert_eq!(format_national("+112é345678"), "+112é345678");
        assert_eq!(format_national("+1512555010x"), "+1512555010x");
        assert_eq!(format_national("+4930123456"), "+4930123456");
    }

    #[test]
    fn serde_parses_at_the_edge() {
        let n: E164 = serde_json::from_str("\"(512) 555-0100\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"+15125550100\"");
        assert!(serde_json::from_str::<E164>("\"12\"").is_err());
    }
}
