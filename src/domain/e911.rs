//! E911 dispatchable locations (Ray Baum's Act): a street address with optional
//! building/floor/suite, checked before it is sent to the 911 provider, and the
//! registration status of a number.
//! Over 500 lines, a third of them unit tests: the address rules and the state table they
//! check against are one rule set.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Serialize;

use super::cnam::{MAX_ATTEMPTS, SyncEvent};

/// ZIP3 prefix -> state, from the `zipcodes` package (data/SOURCES.md).
const ZIP3_STATE: &str = include_str!("../../data/zip3-state.csv");

/// The states and territories whose addresses a US 911 provider registers.
pub const STATES: [&str; 56] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "PR", "VI", "GU", "AS", "MP",
];

fn zip3_table() -> &'static HashMap<String, String> {
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        ZIP3_STATE
            .lines()
            .skip(1)
            .filter_map(|line| {
                let (zip3, state) = line.trim().split_once(',')?;
                Some((zip3.to_string(), state.to_string()))
            })
            .collect()
    })
}

/// The state a ZIP prefix belongs to, if the prefix is assigned.
pub fn state_of_zip3(zip3: &str) -> Option<&'static str> {
    zip3_table().get(zip3).map(String::as_str)
}

/// One rule an address broke, with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// A sentence for people: the field stays in `field` (the API's `details.errors`), the
/// message names what it is about.
impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.message.chars();
        if let Some(first) = chars.next() {
            write!(f, "{}{}", first.to_uppercase(), chars.as_str())?;
        }
        if !self.message.ends_with(['.', '!', '?']) {
            f.write_str(".")?;
        }
        Ok(())
    }
}

/// What a user typed, before validation.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AddressInput {
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub zip: String,
    #[serde(default)]
    pub country: Option<String>,
}

impl AddressInput {
    /// An address written on one line, `street[, building/floor], city, ST ZIP[, US]` (the
    /// comma before the state optional, as `one_line` writes it), cut into its fields for
    /// `E911Address::parse` to check. None when it does not have that shape.
    pub fn from_one_line(raw: &str) -> Option<AddressInput> {
        let mut parts: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        // The part with the ZIP ends the address; a part after it, without digits, names
        // the country.
        let country = match parts.last() {
            Some(last) if !last.bytes().any(|b| b.is_ascii_digit()) => {
                parts.pop().map(str::to_string)
            }
            _ => None,
        };
        let last = parts.pop()?;
        let mut words: Vec<&str> = last.split_whitespace().collect();
        let mut zip = words.pop()?.to_string();
        // A Canadian postal code is written in two halves: `M5X 1A9`.
        let shaped = |w: &str, letter_first: bool| {
            w.len() == 3
                && w.bytes().enumerate().all(|(i, b)| {
                    if (i % 2 == 0) == letter_first {
                        b.is_ascii_alphabetic()
                    } else {
                        b.is_ascii_digit()
                    }
                })
        };
        if shaped(&zip, false) && words.last().is_some_and(|w| shaped(w, true)) {
            zip = format!("{} {zip}", words.pop()?);
        }
        let state = words.pop()?;
        let city = if words.is_empty() {
            parts.pop()?.to_string()
        } else {
            words.join(" ")
        };
        let street = parts.first()?.to_string();
        let location = (parts.len() > 1).then(|| parts[1..].join(", "));
        Some(AddressInput {
            street,
            location,
            city,
            state: state.to_string(),
            zip,
            country,
        })
    }
}

/// A dispatchable location that passed every check: required fields present, a US state or
/// territory code, a 5-digit ZIP (or ZIP+4) whose prefix belongs to that state, not a PO box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct E911Address {
    street: String,
    location: Option<String>,
    city: String,
    state: String,
    zip: String,
    country: String,
}

fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_po_box(street: &str) -> bool {
    let squashed: String = street
        .to_ascii_uppercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    squashed.starts_with("POBOX") || squashed.starts_with("POSTOFFICEBOX")
}

/// The value, or its refusal recorded under `field`.
fn checked<T>(
    errors: &mut Vec<FieldError>,
    field: &'static str,
    result: Result<T, String>,
) -> Option<T> {
    result
        .map_err(|message| errors.push(FieldError { field, message }))
        .ok()
}

fn country(raw: Option<&str>) -> Result<String, String> {
    let raw = raw.map(clean).unwrap_or_default();
    match raw.to_ascii_uppercase().as_str() {
        "" | "US" | "USA" | "UNITED STATES" | "UNITED STATES OF AMERICA" => Ok("US".to_string()),
        other => Err(format!(
            "“{other}” is outside the United States: E911 registration here covers US addresses only (country US)"
        )),
    }
}

fn street(raw: &str) -> Result<String, String> {
    let street = clean(raw);
    if street.is_empty() {
        Err("the street address is required".into())
    } else if street.chars().count() > 100 {
        Err("the street address is limited to 100 characters".into())
    } else if is_po_box(&street) {
        Err(
            "a PO box is not a dispatchable location: give the street address where the phones are"
                .into(),
        )
    } else {
        Ok(street)
    }
}

fn location(raw: Option<&str>) -> Result<Option<String>, String> {
    let location = raw.map(clean).filter(|l| !l.is_empty());
    if location.as_ref().is_some_and(|l| l.chars().count() > 60) {
        return Err("building, floor and suite are limited to 60 characters".into());
    }
    Ok(location)
}

fn city(raw: &str) -> Result<String, String> {
    let city = clean(raw);
    if city.is_empty() {
        Err("the city is required".into())
    } else if city.chars().count() > 60 {
        Err("the city is limited to 60 characters".into())
    } else if !city
        .chars()
        .all(|c| c.is_alphabetic() || c == ' ' || c == '.' || c == '-' || c == '\'')
    {
        Err("the city may contain letters, spaces, periods, hyphens and apostrophes".into())
    } else {
        Ok(city)
    }
}

fn state(raw: &str) -> Result<String, String> {
    let state = clean(raw).to_ascii_uppercase();
    if state.is_empty() {
        Err("the state is required".into())
    } else if !STATES.contains(&state.as_str()) {
        Err(format!(
            "“{state}” is not a US state or territory code (two letters, e.g. TX)"
        ))
    } else {
        Ok(state)
    }
}

/// The ZIP code, checked against the state when the state itself is valid.
fn zip(raw: &str, state: Option<&str>) -> Result<String, String> {
    let zip = clean(raw);
    let well_formed = zip.len() == 5 && zip.bytes().all(|b| b.is_ascii_digit())
        || zip.len() == 10
            && zip.as_bytes()[5] == b'-'
            && zip
                .bytes()
                .enumerate()
                .all(|(i, b)| i == 5 || b.is_ascii_digit());
    if zip.is_empty() {
        return Err("the ZIP code is required".into());
    }
    if !well_formed {
        return Err(format!(
            "“{zip}” is not a ZIP code: use 5 digits or ZIP+4 (78701 or 78701-1234)"
        ));
    }
    match (state_of_zip3(&zip[..3]), state) {
        (None, _) => Err(format!(
            "{zip} is not in an assigned US ZIP prefix ({})",
            &zip[..3]
        )),
        (Some(zip_state), Some(state)) if zip_state != state => Err(format!(
            "ZIP {zip} is in {zip_state}, not {state}: check the state or the ZIP"
        )),
        _ => Ok(zip),
    }
}

impl E911Address {
    /// Every field checked, each refusal named by its field: the country first, then the
    /// others as the form lists them.
    pub fn parse(input: &AddressInput) -> Result<E911Address, Vec<FieldError>> {
        let mut errors = Vec::new();
        let country = checked(&mut errors, "country", country(input.country.as_deref()));
        let street = checked(&mut errors, "street", street(&input.street));
        let location = checked(&mut errors, "location", location(input.location.as_deref()));
        let city = checked(&mut errors, "city", city(&input.city));
        let state = checked(&mut errors, "state", state(&input.state));
        let zip = checked(&mut errors, "zip", zip(&input.zip, state.as_deref()));
        match (country, street, location, city, state, zip) {
            (Some(country), Some(street), Some(location), Some(city), Some(state), Some(zip)) => {
                Ok(E911Address {
                    street,
                    location,
                    city,
                    state,
                    zip,
                    country,
                })
            }
            _ => Err(errors),
        }
    }

    pub fn street(&self) -> &str {
        &self.street
    }

    /// The same place with its street line written otherwise (an address guide's candidate).
    pub fn with_street(&self, street: String) -> E911Address {
        E911Address {
            street,
            ..self.clone()
        }
    }
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }
    pub fn city(&self) -> &str {
        &self.city
    }
    pub fn state(&self) -> &str {
        &self.state
    }
    pub fn zip(&self) -> &str {
        &self.zip
    }
    pub fn country(&self) -> &str {
        &self.country
    }

    /// One line, as a dispatcher reads it.
    pub fn one_line(&self) -> String {
        let mut line = self.street.clone();
        if let Some(l) = &self.location {
            line.push_str(", ");
            line.push_str(l);
        }
        format!(
            "{line}, {} {} {}, {}",
            self.city, self.state, self.zip, self.country
        )
    }
}

/// Where a number's E911 registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum E911Status {
    NotSet,
    Pending,
    Registered,
    Failed,
}

impl E911Status {
    pub fn as_str(self) -> &'static str {
        match self {
            E911Status::NotSet => "not_set",
            E911Status::Pending => "pending",
            E911Status::Registered => "registered",
            E911Status::Failed => "failed",
        }
    }

    /// The statuses an `e911_records` row holds.
    pub const STORED: [E911Status; 3] = [
        E911Status::Pending,
        E911Status::Registered,
        E911Status::Failed,
    ];

    /// A stored status; no record at all is `NotSet`.
    pub fn from_stored(s: Option<&str>) -> Option<E911Status> {
        match s {
            None => Some(E911Status::NotSet),
            Some(s) => Self::STORED.into_iter().find(|v| v.as_str() == s),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            E911Status::NotSet => "Not set",
            E911Status::Pending => "Pending",
            E911Status::Registered => "Registered",
            E911Status::Failed => "Failed",
        }
    }

    /// Not set → Pending (address saved) → Registered, or Failed (correct it: Pending again).
    pub fn next(self, event: SyncEvent) -> Option<E911Status> {
        use E911Status::*;
        match (self, event) {
            (_, SyncEvent::Changed) => Some(Pending),
            (Pending, SyncEvent::ProviderAccepted) => Some(Registered),
            (Pending, SyncEvent::ProviderRejected) => Some(Failed),
            (Pending, SyncEvent::ProviderUnavailable { attempts }) => {
                Some(if attempts >= MAX_ATTEMPTS {
                    Failed
                } else {
                    Pending
                })
            }
            _ => None,
        }
    }

    /// May a number in this status be activated under "no activation without E911"?
    pub fn allows_activation(self) -> bool {
        self == E911Status::Registered
    }
}

impl std::fmt::Display for E911Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for E911Status {
    type Error = String;
    fn try_from(stored: String) -> Result<Self, Self::Error> {
        E911Status::from_stored(Some(&stored))
            .ok_or_else(|| format!("unknown E911 status {stored}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_line_address_is_cut_into_its_fields() {
        let cut = |raw: &str| AddressInput::from_one_line(raw);
        let a = cut("500 Congress Ave, Austin TX 78701").unwrap();
        assert_eq!(
            (
                a.street.as_str(),
                a.location,
                a.city.as_str(),
                a.state.as_str(),
                a.zip.as_str()
            ),
            ("500 Congress Ave", None, "Austin", "TX", "78701")
        );
        let b = cut("500 Congress Ave, Suite 300, Austin, TX 78701-1234, USA").unwrap();
        assert_eq!(b.location.as_deref(), Some("Suite 300"));
        assert_eq!((b.city.as_str(), b.zip.as_str()), ("Austin", "78701-1234"));
        assert_eq!(b.country.as_deref(), Some("USA"));
        // What `one_line` writes reads back.
        let parsed = E911Address::parse(&b).unwrap();
        let again = E911Address::parse(&cut(&parsed.one_line()).unwrap()).unwrap();
        assert_eq!(again, parsed);
        assert!(cut("500 Congress Ave").is_none());
        assert!(cut("Austin TX").is_none());
        let toronto = cut("100 King St W, Toronto, ON M5X 1A9").unwrap();
        assert_eq!(
            (toronto.state.as_str(), toronto.zip.as_str()),
            ("ON", "M5X 1A9")
        );
        assert_eq!(
            cut("1 Main St, Toronto ON M5V, Canada")
                .unwrap()
                .country
                .as_deref(),
            Some("Canada")
        );
    }

    #[test]
    fn a_rule_broken_reads_as_a_sentence_without_the_field_name() {
        let e = FieldError {
            field: "zip",
            message: "the ZIP code is required".into(),
        };
        assert_eq!(e.to_string(), "The ZIP code is required.");
        let e = FieldError {
            field: "state",
            message: "“XX” is not a US state or territory code (two letters, e.g. TX)".into(),
        };
        assert_eq!(
            e.to_string(),
            "“XX” is not a US state or territory code (two letters, e.g. TX)."
        );
    }

    fn input(street: &str, city: &str, state: &str, zip: &str) -> AddressInput {
        AddressInput {
            street: street.into(),
            location: None,
            city: city.into(),
            state: state.into(),
            zip: zip.into(),
            country: None,
        }
    }

    fn fields(result: Result<E911Address, Vec<FieldError>>) -> Vec<&'static str> {
        result.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_complete_us_address_parses_and_defaults_to_us() {
        let mut i = input(" 500  Congress Ave ", "Austin", "tx", "78701");
        i.location = Some("Floor 3, Suite 300".into());
        let a = E911Address::parse(&i).unwrap();
        assert_eq!(a.street(), "500 Congress Ave");
        assert_eq!(a.state(), "TX");
        assert_eq!(a.country(), "US");
        assert_eq!(a.location(), Some("Floor 3, Suite 300"));
        assert_eq!(
            a.one_line(),
            "500 Congress Ave, Floor 3, Suite 300, Austin TX 78701, US"
        );
        assert!(E911Address::parse(&input("1 Main St", "Anchorage", "AK", "99501-1234")).is_ok());
    }

    #[test]
    fn required_fields_are_named() {
        assert_eq!(
            fields(E911Address::parse(&input("", "", "", ""))),
            vec!["street", "city", "state", "zip"]
        );
        assert_eq!(
            fields(E911Address::parse(&input("  ", "Austin", "TX", "78701"))),
            vec!["street"]
        );
    }

    #[test]
    fn bad_state_codes_are_refused() {
        let errors = E911Address::parse(&input("1 Main St", "Austin", "XX", "78701")).unwrap_err();
        assert_eq!(errors[0].field, "state");
        assert!(
            errors[0].message.contains("not a US state"),
            "{}",
            errors[0].message
        );
        // Military "states" have no dispatchable street address.
        assert_eq!(
            fields(E911Address::parse(&input(
                "1 Main St",
                "APO",
                "AE",
                "09001"
            ))),
            vec!["state"]
        );
    }

    #[test]
    fn zip_format_is_five_digits_or_zip_plus_four() {
        for bad in ["7870", "787011", "78701-12", "ABCDE", "78701 1234"] {
            assert_eq!(
                fields(E911Address::parse(&input("1 Main St", "Austin", "TX", bad))),
                vec!["zip"],
                "{bad}"
            );
        }
    }

    #[test]
    fn the_zip_must_belong_to_the_state() {
        let errors = E911Address::parse(&input("1 Main St", "Austin", "CA", "78701")).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].message,
            "ZIP 78701 is in TX, not CA: check the state or the ZIP"
        );
        assert_eq!(state_of_zip3("100"), Some("NY"));
        assert_eq!(state_of_zip3("008"), Some("VI"));
        // 000 is not an assigned prefix.
        assert!(
            E911Address::parse(&input("1 Main St", "Nowhere", "NY", "00001")).unwrap_err()[0]
                .message
                .contains("not in an assigned")
        );
        assert!(E911Address::parse(&input("1 Main St", "San Juan", "PR", "00901")).is_ok());
    }

    #[test]
    fn non_us_countries_are_refused_and_us_spellings_accepted() {
        let mut i = input("1 Main St", "Austin", "TX", "78701");
        for us in ["US", "usa", "United States"] {
            i.country = Some(us.into());
            assert_eq!(E911Address::parse(&i).unwrap().country(), "US");
        }
        i.country = Some("CA".into());
        let errors = E911Address::parse(&i).unwrap_err();
        assert_eq!(errors[0].field, "country");
        assert!(errors[0].message.contains("US addresses only"));
    }

    #[test]
    fn po_boxes_and_odd_cities_are_refused() {
        for po in ["PO Box 12", "P.O. Box 12", "Post Office Box 9"] {
            assert_eq!(
                fields(E911Address::parse(&input(po, "Austin", "TX", "78701"))),
                vec!["street"]
            );
        }
        assert_eq!(
            fields(E911Address::parse(&input(
                "1 Main St",
                "Austin 7",
                "TX",
                "78701"
            ))),
            vec!["city"]
        );
        assert!(E911Address::parse(&input("1 Main St", "Coeur d'Alene", "ID", "83814")).is_ok());
        let mut i = input("1 Main St", "Austin", "TX", "78701");
        i.location = Some("x".repeat(61));
        assert_eq!(fields(E911Address::parse(&i)), vec!["location"]);
    }

    #[test]
    fn registration_moves_not_set_pending_registered_or_failed() {
        use E911Status::*;
        assert_eq!(NotSet.next(SyncEvent::Changed), Some(Pending));
        assert_eq!(Pending.next(SyncEvent::ProviderAccepted), Some(Registered));
        assert_eq!(Pending.next(SyncEvent::ProviderRejected), Some(Failed));
        assert_eq!(
            Failed.next(SyncEvent::Changed),
            Some(Pending),
            "a corrected address is sent again"
        );
        assert_eq!(
            Registered.next(SyncEvent::Changed),
            Some(Pending),
            "moving a number re-registers it"
        );
        assert_eq!(
            Pending.next(SyncEvent::ProviderUnavailable { attempts: 2 }),
            Some(Pending)
        );
        assert_eq!(
            Pending.next(SyncEvent::ProviderUnavailable {
                attempts: MAX_ATTEMPTS
            }),
            Some(Failed)
        );
        assert_eq!(NotSet.next(SyncEvent::ProviderAccepted), None);
        assert_eq!(Registered.next(SyncEvent::ProviderRejected), None);
        assert!(Registered.allows_activation());
        assert!(
            !Pending.allows_activation()
                && !NotSet.allows_activation()
                && !Failed.allows_activation()
        );
        assert_eq!(E911Status::from_stored(None), Some(NotSet));
        assert_eq!(
            E911Status::from_stored(Some("registered")),
            Some(Registered)
        );
    }
}
