//! Porting numbers in: the port request as the losing carrier needs it, the signed Letter of
//! Authorization, and each number's journey (submitted → acknowledged → FOC set → completed,
//! or rejected with the carrier's reason and resubmitted).

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::E164;
use super::e911::FieldError;

/// Numbers per port order, as carriers take them.
pub const MAX_NUMBERS: usize = 100;
/// Numbers per port request: more than `MAX_NUMBERS` are split into orders (`split_orders`).
pub const MAX_REQUEST_NUMBERS: usize = 1000;
/// The largest Letter of Authorization accepted (a signed one-page PDF is far smaller).
pub const MAX_LOA_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PortInput {
    #[serde(default)]
    pub numbers: Vec<String>,
    #[serde(default)]
    pub current_carrier: String,
    #[serde(default)]
    pub account_number: String,
    #[serde(default)]
    pub pin: String,
    #[serde(default)]
    pub account_name: String,
    #[serde(default)]
    pub service_address: String,
    /// `YYYY-MM-DD`, or empty (see `requested_foc`).
    #[serde(default)]
    pub requested_foc: String,
}

/// The old account's details, checked; the numbers are parsed separately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortDetails {
    current_carrier: String,
    account_number: String,
    /// Optional: the losing carrier may require one (47 CFR 52.36 lets it), many do not.
    #[serde(skip)]
    pin: Option<String>,
    account_name: String,
    service_address: String,
    /// The FOC date asked for; the business rules (`requested_foc`) are checked against the
    /// day of the request, this only that it is a date.
    requested_foc: Option<NaiveDate>,
}

/// A port request: 1 to 1,000 distinct numbers (sent as orders of at most 100) and the old
/// account's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    numbers: Vec<E164>,
    details: PortDetails,
}

fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl PortDetails {
    pub fn parse(input: &PortInput) -> Result<PortDetails, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut text = |field: &'static str, raw: &str, max: usize, what: &str| {
            let value = clean(raw);
            if value.is_empty() {
                errors.push(FieldError {
                    field,
                    message: format!("the {what} is required"),
                });
            } else if value.chars().count() > max {
                errors.push(FieldError {
                    field,
                    message: format!("the {what} is limited to {max} characters"),
                });
            }
            value
        };
        let current_carrier = text(
            "current_carrier",
            &input.current_carrier,
            100,
            "current carrier",
        );
        let account_name = text(
            "account_name",
            &input.account_name,
            100,
            "name on the old account",
        );
        let service_address = text(
            "service_address",
            &input.service_address,
            200,
            "service address on the old account",
        );
        // The service address is checked as an E911 address is (a street, a US city, state
        // and ZIP that agree, not a PO box): a mismatch with the losing carrier's records is
        // the commonest reason ports are rejected. It is kept as typed, which is what should
        // match those records word for word.
        if !service_address.is_empty()
            && service_address.chars().count() <= 200
            && let Err(message) = check_address(&service_address)
        {
            errors.push(FieldError {
                field: "service_address",
                message,
            });
        }
        let account_number = clean(&input.account_number);
        if account_number.is_empty() {
            errors.push(FieldError {
                field: "account_number",
                message: "the account number with the current carrier is required".into(),
            });
        } else if account_number.len() > 30
            || !account_number
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            errors.push(FieldError {
                field: "account_number",
                message: "the account number is up to 30 letters, digits and hyphens".into(),
            });
        }
        let pin = Some(input.pin.trim().to_string()).filter(|p| !p.is_empty());
        if pin
            .as_ref()
            .is_some_and(|p| !(4..=10).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            errors.push(FieldError {
                field: "pin",
                message: "the port-out PIN is 4 to 10 digits (ask the current carrier), or empty when it requires none".into(),
            });
        }
        let foc = input.requested_foc.trim();
        let requested_foc = if foc.is_empty() {
            None
        } else {
            let parsed = NaiveDate::parse_from_str(foc, "%Y-%m-%d").ok();
            if parsed.is_none() {
                errors.push(FieldError {
                    field: "requested_foc",
                    message: format!("“{foc}” is not a date: write it as YYYY-MM-DD"),
                });
            }
            parsed
        };
        if errors.is_empty() {
            Ok(PortDetails {
                current_carrier,
                account_number,
                pin,
                account_name,
                service_address,
                requested_foc,
            })
        } else {
            Err(errors)
        }
    }

    /// The details as stored, checked when they were saved: a submission sends them as they
    /// are (rules added since must not strand a request already made).
    pub fn stored(
        current_carrier: String,
        account_number: String,
        pin: Option<String>,
        account_name: String,
        service_address: String,
        requested_foc: Option<NaiveDate>,
    ) -> PortDetails {
        PortDetails {
            current_carrier,
            account_number,
            pin: pin.filter(|p| !p.is_empty()),
            account_name,
            service_address,
            requested_foc,
        }
    }

    pub fn requested_foc(&self) -> Option<NaiveDate> {
        self.requested_foc
    }

    pub fn current_carrier(&self) -> &str {
        &self.current_carrier
    }
    pub fn account_number(&self) -> &str {
        &self.account_number
    }
    pub fn pin(&self) -> Option<&str> {
        self.pin.as_deref()
    }
    pub fn account_name(&self) -> &str {
        &self.account_name
    }
    pub fn service_address(&self) -> &str {
        &self.service_address
    }
}

/// Why the service address on one line is refused, if it is: a US address by the E911
/// rules; a Canadian one (a province and a postal code) by its postal code's shape.
fn check_address(raw: &str) -> Result<(), String> {
    let input = super::e911::AddressInput::from_one_line(raw).ok_or_else(|| {
        "write the service address as street, city, state and ZIP: 500 Congress Ave, Austin, TX 78701"
            .to_string()
    })?;
    if super::search::country_of_state(&input.state.to_ascii_uppercase()) == Some("CA") {
        return canadian_postal_code(&input.zip);
    }
    super::e911::E911Address::parse(&input)
        .map(|_| ())
        .map_err(|errors| {
            let reasons: Vec<String> = errors.into_iter().map(|e| e.message).collect();
            format!("service address: {}", reasons.join("; "))
        })
}

/// A Canadian postal code: letter, digit, letter, an optional space, digit, letter, digit.
fn canadian_postal_code(code: &str) -> Result<(), String> {
    let squashed: Vec<u8> = code.bytes().filter(|b| *b != b' ').collect();
    let shaped = squashed.len() == 6
        && squashed.iter().enumerate().all(|(i, b)| {
            if i % 2 == 0 {
                b.is_ascii_alphabetic()
            } else {
                b.is_ascii_digit()
            }
        });
    if shaped {
        Ok(())
    } else {
        Err(format!(
            "service address: “{code}” is not a Canadian postal code (A1A 1A1)"
        ))
    }
}

impl PortRequest {
    pub fn parse(input: &PortInput) -> Result<PortRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut numbers: Vec<E164> = Vec::new();
        if input.numbers.is_empty() {
            errors.push(FieldError {
                field: "numbers",
                message: "give the numbers to port".into(),
            });
        }
        for raw in input.numbers.iter().filter(|r| !r.trim().is_empty()) {
            match E164::parse(raw) {
                Ok(n) if !numbers.contains(&n) => numbers.push(n),
                Ok(_) => {}
                Err(e) => errors.push(FieldError {
                    field: "numbers",
                    message: format!("“{}”: {e}", raw.trim()),
                }),
            }
        }
        if numbers.len() > MAX_REQUEST_NUMBERS {
            errors.push(FieldError {
                field: "numbers",
                message: format!(
                    "a port request takes at most {MAX_REQUEST_NUMBERS} numbers (sent as orders of {MAX_NUMBERS})"
                ),
            });
        }
        let details = PortDetails::parse(input);
        if let Err(more) = &details {
            errors.extend(more.iter().cloned());
        }
        match details {
            Ok(details) if errors.is_empty() => Ok(PortRequest { numbers, details }),
            _ => Err(errors),
        }
    }

    pub fn numbers(&self) -> &[E164] {
        &self.numbers
    }

    /// The orders the request is sent as: its numbers in order, cut into runs of at most
    /// `MAX_NUMBERS`, as even as they can be (150 numbers: 75 and 75), so that no order is
    /// a small remainder. One order when the numbers fit in one.
    pub fn split_orders(&self) -> Vec<Vec<E164>> {
        let mut sorted = self.numbers.clone();
        sorted.sort();
        let orders = sorted.len().div_ceil(MAX_NUMBERS).max(1);
        let (base, extra) = (sorted.len() / orders, sorted.len() % orders);
        let mut rest = sorted.as_slice();
        (0..orders)
            .map(|i| {
                let (this, after) = rest.split_at(base + usize::from(i < extra));
                rest = after;
                this.to_vec()
            })
            .collect()
    }

    pub fn details(&self) -> &PortDetails {
        &self.details
    }
}

/// The largest copy of a bill accepted: within a request's 2 MiB, with room for a form's
/// framing.
pub const MAX_BILL_BYTES: usize = 1536 * 1024;

/// A document a port request carries: the signed Letter of Authorization, and a copy of a
/// recent bill of the old account (which carriers compare the request with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortDocument {
    Loa,
    Bill,
}

impl PortDocument {
    /// The form field and path segment that name it.
    pub fn as_str(self) -> &'static str {
        match self {
            PortDocument::Loa => "loa",
            PortDocument::Bill => "bill",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PortDocument::Loa => "Letter of Authorization",
            PortDocument::Bill => "copy of the bill",
        }
    }

    /// Its content type, read from the bytes themselves, or why they are refused.
    pub fn check(self, bytes: &[u8]) -> Result<&'static str, String> {
        match self {
            PortDocument::Loa => check_loa(bytes).map(|()| "application/pdf"),
            PortDocument::Bill => check_bill(bytes),
        }
    }
}

/// Why an uploaded copy of a bill is refused, if it is; else its content type (a PDF, or a
/// photo or scan as PNG or JPEG).
pub fn check_bill(bytes: &[u8]) -> Result<&'static str, String> {
    if bytes.is_empty() {
        return Err("the copy of the bill is empty".into());
    }
    if bytes.len() > MAX_BILL_BYTES {
        return Err(format!(
            "the copy of the bill is {} KiB; the limit is {} KiB",
            bytes.len().div_ceil(1024),
            MAX_BILL_BYTES / 1024
        ));
    }
    if bytes.starts_with(b"%PDF-") {
        Ok("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else {
        Err("the copy of the bill must be a PDF, or a photo or scan as PNG or JPEG".into())
    }
}

/// Why an uploaded Letter of Authorization is refused, if it is.
pub fn check_loa(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("the Letter of Authorization is empty".into());
    }
    if bytes.len() > MAX_LOA_BYTES {
        return Err(format!(
            "the Letter of Authorization is {} KiB; the limit is {} KiB",
            bytes.len().div_ceil(1024),
            MAX_LOA_BYTES / 1024
        ));
    }
    if !bytes.starts_with(b"%PDF-") {
        return Err(
            "the Letter of Authorization must be a PDF (signed and scanned or e-signed)".into(),
        );
    }
    Ok(())
}

/// Where one number of a port request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortStatus {
    Draft,
    Submitted,
    Acknowledged,
    FocSet,
    Completed,
    Rejected,
    Cancelled,
}

impl std::fmt::Display for PortStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored status (`port_numbers.status`) read back.
impl TryFrom<String> for PortStatus {
    type Error = String;
    fn try_from(stored: String) -> Result<Self, Self::Error> {
        PortStatus::parse(&stored).ok_or_else(|| format!("unknown port status {stored}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortEvent {
    Submit,
    CarrierAcknowledged,
    FocDateSet,
    FocDateReached,
    CarrierRejected,
    Cancel,
}

impl PortStatus {
    pub const ALL: [PortStatus; 7] = [
        PortStatus::Draft,
        PortStatus::Submitted,
        PortStatus::Acknowledged,
        PortStatus::FocSet,
        PortStatus::Completed,
        PortStatus::Rejected,
        PortStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PortStatus::Draft => "draft",
            PortStatus::Submitted => "submitted",
            PortStatus::Acknowledged => "acknowledged",
            PortStatus::FocSet => "foc_set",
            PortStatus::Completed => "completed",
            PortStatus::Rejected => "rejected",
            PortStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<PortStatus> {
        PortStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The status in words (`foc_set` is "FOC set").
    pub fn label(self) -> &'static str {
        match self {
            PortStatus::FocSet => "FOC set",
            other => other.as_str(),
        }
    }

    /// The carrier is working on it: the job follows it.
    pub fn in_flight(self) -> bool {
        matches!(
            self,
            PortStatus::Submitted | PortStatus::Acknowledged | PortStatus::FocSet
        )
    }

    /// Submitted, acknowledged → FOC set → completed; rejected (fix and submit again);
    /// cancelled any time before the FOC date is set.
    pub fn next(self, event: PortEvent) -> Result<PortStatus, String> {
        use PortEvent as E;
        use PortStatus as S;
        match (self, event) {
            (S::Draft | S::Rejected, E::Submit) => Ok(S::Submitted),
            (S::Submitted, E::CarrierAcknowledged) => Ok(S::Acknowledged),
            (S::Acknowledged, E::FocDateSet) => Ok(S::FocSet),
            (S::FocSet, E::FocDateReached) => Ok(S::Completed),
            (S::Submitted | S::Acknowledged, E::CarrierRejected) => Ok(S::Rejected),
            (S::Draft | S::Submitted | S::Acknowledged | S::Rejected, E::Cancel) => {
                Ok(S::Cancelled)
            }
            (S::FocSet, E::Cancel) => Err(
                "the FOC date is set: the carriers have scheduled the move, so it can no longer be cancelled here".into(),
            ),
            (from, event) => Err(format!("a {} number cannot take {event:?}", from.as_str())),
        }
    }
}

/// A requested FOC date is at least this many business days after the request.
pub const FOC_MIN_BUSINESS_DAYS: usize = 3;
/// ... and at most this many days after it.
pub const FOC_MAX_DAYS: i64 = 30;

/// The US federal holiday `day` is (observed: a Saturday's on the Friday before, a Sunday's
/// on the Monday after), when carriers schedule no port.
pub fn federal_holiday(day: NaiveDate) -> Option<&'static str> {
    let year = day.year();
    let nth = |month: u32, weekday: Weekday, n: u8| {
        NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
    };
    let last_monday_of_may = (1..=5)
        .rev()
        .find_map(|n| NaiveDate::from_weekday_of_month_opt(year, 5, Weekday::Mon, n));
    let observed = |month: u32, dom: u32| {
        NaiveDate::from_ymd_opt(year, month, dom).map(|d| match d.weekday() {
            Weekday::Sat => d.pred_opt().unwrap_or(d),
            Weekday::Sun => d.succ_opt().unwrap_or(d),
            _ => d,
        })
    };
    let holidays = [
        (observed(1, 1), "New Year's Day"),
        (nth(1, Weekday::Mon, 3), "Martin Luther King Jr. Day"),
        (nth(2, Weekday::Mon, 3), "Washington's Birthday"),
        (last_monday_of_may, "Memorial Day"),
        (observed(6, 19), "Juneteenth"),
        (observed(7, 4), "Independence Day"),
        (nth(9, Weekday::Mon, 1), "Labor Day"),
        (nth(10, Weekday::Mon, 2), "Columbus Day"),
        (observed(11, 11), "Veterans Day"),
        (nth(11, Weekday::Thu, 4), "Thanksgiving Day"),
        (observed(12, 25), "Christmas Day"),
    ];
    // New Year's Day of next year observed on this year's December 31.
    if day.month() == 12 && day.day() == 31 && day.weekday() == Weekday::Fri {
        return Some("New Year's Day");
    }
    holidays
        .into_iter()
        .find(|(d, _)| *d == Some(day))
        .map(|(_, name)| name)
}

/// Monday to Friday, not a federal holiday.
pub fn business_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && federal_holiday(day).is_none()
}

/// The FOC date asked for (`YYYY-MM-DD`), within the carriers' rules: a business day, at least
/// `FOC_MIN_BUSINESS_DAYS` business days after `today` and at most `FOC_MAX_DAYS` days after
/// it. Empty: none asked for (the carrier gives the earliest it can).
pub fn requested_foc(raw: &str, today: NaiveDate) -> Result<Option<NaiveDate>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("“{raw}” is not a date: write it as YYYY-MM-DD"))?;
    if let Some(holiday) = federal_holiday(day) {
        return Err(format!(
            "{day} is {holiday}: carriers port on business days only"
        ));
    }
    if !business_day(day) {
        return Err(format!(
            "{day} is a {}: carriers port on business days only",
            day.format("%A")
        ));
    }
    let earliest = today
        .iter_days()
        .skip(1)
        .filter(|d| business_day(*d))
        .nth(FOC_MIN_BUSINESS_DAYS - 1)
        .unwrap_or(today);
    if day < earliest {
        return Err(format!(
            "the earliest date a carrier can meet is {earliest}, {FOC_MIN_BUSINESS_DAYS} business days from today"
        ));
    }
    if (day - today).num_days() > FOC_MAX_DAYS {
        return Err(format!(
            "a requested date is at most {FOC_MAX_DAYS} days out (by {})",
            today + chrono::Duration::days(FOC_MAX_DAYS)
        ));
    }
    Ok(Some(day))
}

/// Whether a number can be ported in, before a port is submitted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Portability {
    Portable,
    NotPortable {
        reason: String,
    },
    /// Already in Inward: nothing to port.
    OnNetwork,
    /// Toll-free numbers move through RespOrg changes, not a port.
    TollFree,
    /// Not a phone number.
    Invalid {
        reason: String,
    },
}

impl Portability {
    pub fn label(&self) -> String {
        match self {
            Portability::Portable => "portable".into(),
            Portability::NotPortable { reason } => format!("not portable: {reason}"),
            Portability::OnNetwork => "already on our network: nothing to port".into(),
            Portability::TollFree => "toll-free: moved with a RespOrg change, not a port".into(),
            Portability::Invalid { reason } => reason.clone(),
        }
    }

    pub fn portable(&self) -> bool {
        *self == Portability::Portable
    }
}

/// What needs no carrier to judge: a toll-free number, or one Inward already has.
pub fn known_verdict(national: &str, on_network: bool) -> Option<Portability> {
    if crate::domain::search::TOLL_FREE_NPAS.contains(&national.get(..3).unwrap_or_default()) {
        return Some(Portability::TollFree);
    }
    on_network.then_some(Portability::OnNetwork)
}

/// The sandbox carrier's answer: an exchange no carrier serves cannot be ported, nor (its
/// stand-in for the losing carrier's refusals) a line ending in 99, under a port-out freeze.
pub fn sandbox_portability(national: &str, exchange_in_service: bool) -> Portability {
    if !exchange_in_service {
        return Portability::NotPortable {
            reason: format!(
                "no carrier serves {}-{}: the exchange is not in service",
                &national[..3.min(national.len())],
                national.get(3..6).unwrap_or_default()
            ),
        };
    }
    if national.ends_with("99") {
        return Portability::NotPortable {
            reason: "the current carrier has a port-out freeze on it; the account holder must lift it first".into(),
        };
    }
    Portability::Portable
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PortInput {
        PortInput {
            numbers: vec![
                "+13126200101".into(),
                "(312) 620-0102".into(),
                "+13126200101".into(),
            ],
            current_carrier: "Old Telco".into(),
            account_number: "ACC-12345".into(),
            pin: "1234".into(),
            account_name: "Globex Support".into(),
            service_address: "500 Congress Ave, Austin TX 78701".into(),
            requested_foc: String::new(),
        }
    }

    #[test]
    fn a_complete_request_parses_with_distinct_numbers() {
        let r = PortRequest::parse(&input()).unwrap();
        assert_eq!(r.numbers().len(), 2);
        assert_eq!(r.details().pin(), Some("1234"));
        let without = PortInput {
            pin: "  ".into(),
            ..input()
        };
        assert_eq!(PortRequest::parse(&without).unwrap().details().pin(), None);
        assert_eq!(r.details().current_carrier(), "Old Telco");
    }

    #[test]
    fn every_missing_or_bad_field_is_named() {
        let errors = PortRequest::parse(&PortInput::default()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "numbers",
                "current_carrier",
                "account_name",
                "service_address",
                "account_number",
            ]
        );
        let mut bad = input();
        bad.pin = "12a4".into();
        bad.numbers.push("not a number".into());
        bad.account_number = "ACC 1;".into();
        let fields: Vec<_> = PortRequest::parse(&bad)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["numbers", "account_number", "pin"]);
        let mut many = input();
        many.numbers = (0..1001).map(|i| format!("+1312620{i:04}")).collect();
        assert!(
            PortRequest::parse(&many).unwrap_err()[0]
                .message
                .contains("at most 1000")
        );
    }

    #[test]
    fn the_service_address_is_checked_as_an_e911_address_is() {
        let with = |address: &str| {
            let mut request = input();
            request.service_address = address.into();
            PortDetails::parse(&request)
        };
        assert_eq!(
            with("500 Congress Ave,  Austin TX 78701")
                .unwrap()
                .service_address(),
            "500 Congress Ave, Austin TX 78701",
            "kept as typed, spaces tidied"
        );
        assert!(with("100 King St W, Toronto, ON M5X 1A9").is_ok());
        assert!(
            with("100 King St W, Toronto, ON 12345").unwrap_err()[0]
                .message
                .contains("Canadian postal code")
        );
        for (address, why) in [
            (
                "500 Congress Ave, Austin TX 10001",
                "ZIP 10001 is in NY, not TX",
            ),
            ("PO Box 12, Austin TX 78701", "PO box"),
            ("500 Congress Ave", "street, city, state and ZIP"),
            ("500 Congress Ave, Austin XX 78701", "not a US state"),
        ] {
            let errors = with(address).unwrap_err();
            assert_eq!(errors[0].field, "service_address", "{address}");
            assert!(
                errors[0].message.contains(why),
                "{address}: {}",
                errors[0].message
            );
        }
    }

    #[test]
    fn more_than_a_hundred_numbers_are_split_into_even_orders_in_number_order() {
        let sizes = |n: usize| {
            let mut request = input();
            request.numbers = (0..n).rev().map(|i| format!("+1312620{i:04}")).collect();
            let orders = PortRequest::parse(&request).unwrap().split_orders();
            for order in &orders {
                assert!(
                    order.windows(2).all(|w| w[0] < w[1]),
                    "each order in number order"
                );
            }
            let all: Vec<E164> = orders.iter().flatten().cloned().collect();
            assert!(
                all.windows(2).all(|w| w[0] < w[1]),
                "orders follow each other"
            );
            assert_eq!(all.len(), n, "every number in exactly one order");
            orders.iter().map(Vec::len).collect::<Vec<_>>()
        };
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(100), [100]);
        assert_eq!(sizes(101), [51, 50]);
        assert_eq!(sizes(150), [75, 75]);
        assert_eq!(sizes(250), [84, 83, 83]);
        assert_eq!(sizes(1000), [100; 10]);
    }

    #[test]
    fn a_bill_is_a_pdf_png_or_jpeg_within_its_limit() {
        assert_eq!(check_bill(b"%PDF-1.4 ..."), Ok("application/pdf"));
        assert_eq!(check_bill(b"\x89PNG\r\n\x1a\n...."), Ok("image/png"));
        assert_eq!(check_bill(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), Ok("image/jpeg"));
        assert!(check_bill(b"GIF89a").unwrap_err().contains("PNG or JPEG"));
        assert!(check_bill(b"").unwrap_err().contains("empty"));
        let big = [b"%PDF-".as_slice(), &vec![b' '; MAX_BILL_BYTES]].concat();
        assert!(check_bill(&big).unwrap_err().contains("limit"));
        assert_eq!(PortDocument::Loa.check(b"%PDF-1.7"), Ok("application/pdf"));
        assert!(PortDocument::Loa.check(b"\x89PNG\r\n\x1a\n").is_err());
    }

    #[test]
    fn the_loa_must_be_a_pdf_within_the_size_limit() {
        assert!(check_loa(b"%PDF-1.7\n...").is_ok());
        assert!(check_loa(b"GIF89a").unwrap_err().contains("must be a PDF"));
        assert!(check_loa(b"").unwrap_err().contains("empty"));
        let mut big = b"%PDF-1.7".to_vec();
        big.resize(MAX_LOA_BYTES + 1, b' ');
        assert!(
            check_loa(&big)
                .unwrap_err()
                .contains("the limit is 1024 KiB")
        );
    }

    #[test]
    fn portability_is_judged_toll_free_first_then_on_network_then_by_the_carrier() {
        assert_eq!(
            known_verdict("8005550100", true),
            Some(Portability::TollFree)
        );
        assert_eq!(
            known_verdict("3126200101", true),
            Some(Portability::OnNetwork)
        );
        assert_eq!(known_verdict("3126200101", false), None);
        assert_eq!(
            sandbox_portability("3126200101", true),
            Portability::Portable
        );
        assert!(matches!(
            sandbox_portability("3126200199", true),
            Portability::NotPortable { .. }
        ));
        let unserved = sandbox_portability("3129990101", false);
        assert_eq!(
            unserved.label(),
            "not portable: no carrier serves 312-999: the exchange is not in service"
        );
        assert!(Portability::Portable.portable() && !unserved.portable());
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn federal_holidays_are_known_with_their_observed_days() {
        assert_eq!(federal_holiday(day("2026-11-26")), Some("Thanksgiving Day"));
        assert_eq!(federal_holiday(day("2026-12-25")), Some("Christmas Day"));
        // July 4th 2026 is a Saturday: observed on Friday the 3rd.
        assert_eq!(federal_holiday(day("2026-07-03")), Some("Independence Day"));
        assert_eq!(federal_holiday(day("2026-07-04")), None);
        assert_eq!(federal_holiday(day("2026-05-25")), Some("Memorial Day"));
        assert_eq!(
            federal_holiday(day("2027-01-18")),
            Some("Martin Luther King Jr. Day")
        );
        // New Year's Day 2028 is a Saturday: observed on Friday, December 31, 2027.
        assert_eq!(federal_holiday(day("2027-12-31")), Some("New Year's Day"));
        assert_eq!(federal_holiday(day("2026-12-08")), None);
        assert!(business_day(day("2026-12-08")));
        assert!(!business_day(day("2026-12-12")), "a Saturday");
    }

    #[test]
    fn a_requested_foc_date_is_a_business_day_three_business_days_to_thirty_days_out() {
        // Monday, December 7, 2026.
        let today = day("2026-12-07");
        assert_eq!(requested_foc("", today), Ok(None));
        assert_eq!(
            requested_foc("2026-12-10", today),
            Ok(Some(day("2026-12-10")))
        );
        assert!(
            requested_foc("2026-12-09", today)
                .unwrap_err()
                .contains("earliest date a carrier can meet is 2026-12-10")
        );
        assert!(
            requested_foc("2026-12-12", today)
                .unwrap_err()
                .contains("Saturday")
        );
        assert!(
            requested_foc("2026-12-25", today)
                .unwrap_err()
                .contains("Christmas")
        );
        assert_eq!(
            requested_foc("2027-01-06", today),
            Ok(Some(day("2027-01-06")))
        );
        assert!(
            requested_foc("2027-01-07", today)
                .unwrap_err()
                .contains("at most 30 days")
        );
        assert!(
            requested_foc("next week", today)
                .unwrap_err()
                .contains("YYYY-MM-DD")
        );
        // Over Thanksgiving, the lead time skips the holiday: Wednesday the 25th + 3 business
        // days is Tuesday, December 1 (Thursday 26th is the holiday).
        assert!(requested_foc("2026-11-30", day("2026-11-25")).is_err());
        assert!(requested_foc("2026-12-01", day("2026-11-25")).is_ok());
    }

    #[test]
    fn a_number_moves_through_the_port_journey() {
        use PortEvent as E;
        use PortStatus as S;
        assert_eq!(S::Draft.next(E::Submit), Ok(S::Submitted));
        assert_eq!(
            S::Submitted.next(E::CarrierAcknowledged),
            Ok(S::Acknowledged)
        );
        assert_eq!(S::Acknowledged.next(E::FocDateSet), Ok(S::FocSet));
        assert_eq!(S::FocSet.next(E::FocDateReached), Ok(S::Completed));
        assert_eq!(S::Submitted.next(E::CarrierRejected), Ok(S::Rejected));
        assert_eq!(
            S::Rejected.next(E::Submit),
            Ok(S::Submitted),
            "fixed and resubmitted"
        );
        assert_eq!(S::Acknowledged.next(E::Cancel), Ok(S::Cancelled));
        assert!(
            S::FocSet
                .next(E::Cancel)
                .unwrap_err()
                .contains("FOC date is set")
        );
        assert!(S::Completed.next(E::Cancel).is_err());
        assert!(S::Draft.next(E::FocDateReached).is_err());
        assert!(S::Cancelled.next(E::Submit).is_err());
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        assert!(S::FocSet.in_flight() && !S::Rejected.in_flight());
    }
}
