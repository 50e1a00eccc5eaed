//! Search criteria, parsed from a query string into something the repository can trust.

use serde::{Deserialize, Serialize};

use super::vanity::{PatternError, Placement, VanityPattern};

pub const TOLL_FREE_NPAS: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];

const US_STATES: [&str; 51] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY",
];
const US_TERRITORIES: [&str; 4] = ["PR", "VI", "GU", "AS"];
const CA_PROVINCES: [&str; 13] = [
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
];

/// The country (ISO 3166 alpha-2) a NANP state or province code belongs to.
pub fn country_of_state(state: &str) -> Option<&'static str> {
    if US_STATES.contains(&state) || US_TERRITORIES.contains(&state) {
        Some("US")
    } else if CA_PROVINCES.contains(&state) {
        Some("CA")
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NumberKind {
    #[default]
    Local,
    TollFree,
}

impl NumberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NumberKind::Local => "local",
            NumberKind::TollFree => "toll_free",
        }
    }
}

/// The query string as it arrives; every field optional and untrusted.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SearchParams {
    pub country: Option<String>,
    pub state: Option<String>,
    pub npa: Option<String>,
    pub nxx: Option<String>,
    pub rate_center: Option<String>,
    pub city: Option<String>,
    pub kind: Option<String>,
    pub pattern: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
    /// Blocks of this many consecutive numbers instead of single numbers.
    pub consecutive: Option<String>,
    /// What the numbers must be able to do: `voice`, `sms`, `mms`, `fax`, `e911`, comma
    /// separated.
    pub capabilities: Option<String>,
    /// Where a short pattern sits: `contains` (default), `starts_with`, `ends_with`.
    pub pattern_match: Option<String>,
    /// `number` (default), `price` (cheapest first) or `price_desc`.
    pub sort: Option<String>,
    /// `true`: also count the numbers that match, up to `COUNT_CAP`.
    pub count: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchCriteria {
    pub country: String,
    pub kind: NumberKind,
    pub state: Option<String>,
    pub npa: Option<String>,
    pub nxx: Option<String>,
    pub rate_center: Option<String>,
    pub city: Option<String>,
    pub pattern: Option<VanityPattern>,
    pub limit: i64,
    /// Keyset cursor: results continue after this national number.
    pub after: Option<String>,
    /// Blocks of this many consecutive numbers (`limit` then counts blocks).
    pub consecutive: Option<usize>,
    /// What every number found can do.
    pub capabilities: Vec<Capability>,
    /// The order of the numbers of each page (pages follow number order).
    pub sort: Sort,
    /// Whether to count the numbers that match (on the first page only).
    pub count: bool,
}

/// How far a search counts the numbers that match: past it, "more than".
pub const COUNT_CAP: i64 = 1000;

/// The order of one page of results. Pages are cut in number order (the keyset cursor), so
/// a price order sorts the numbers of each page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Number,
    Price,
    PriceDesc,
}

impl Sort {
    pub fn parse(raw: &str) -> Option<Sort> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "number" => Some(Sort::Number),
            "price" | "price_asc" => Some(Sort::Price),
            "price_desc" | "-price" => Some(Sort::PriceDesc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Number => "number",
            Sort::Price => "price",
            Sort::PriceDesc => "price_desc",
        }
    }

    /// Orders `items` (in number order) by `price` (monthly, then setup), keeping number
    /// order among equal prices.
    pub fn apply<T>(self, items: &mut [T], price: impl Fn(&T) -> (i64, i64)) {
        match self {
            Sort::Number => {}
            Sort::Price => items.sort_by_key(|i| price(i)),
            Sort::PriceDesc => items.sort_by_key(|i| std::cmp::Reverse(price(i))),
        }
    }
}

/// What a number can carry, as its carriers provision it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    Voice,
    Sms,
    Mms,
    Fax,
    /// 911 service: a dispatchable location can be registered for the number.
    E911,
}

impl Capability {
    pub const ALL: [Capability; 5] = [
        Capability::Voice,
        Capability::Sms,
        Capability::Mms,
        Capability::Fax,
        Capability::E911,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Voice => "voice",
            Capability::Sms => "sms",
            Capability::Mms => "mms",
            Capability::Fax => "fax",
            Capability::E911 => "e911",
        }
    }

    /// The boolean expression over `numbers` that says it: 911 service follows the number's
    /// kind unless its inventory says otherwise (migration 0042).
    pub fn column(self) -> &'static str {
        match self {
            Capability::E911 => "coalesce(e911_capable, kind = 'local')",
            other => other.as_str(),
        }
    }

    /// `sms,fax` (any case, spaces allowed), without repeats, in a fixed order.
    pub fn parse_list(raw: &str) -> Result<Vec<Capability>, SearchError> {
        let mut found = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let lower = part.to_ascii_lowercase();
            let capability = Capability::ALL
                .into_iter()
                .find(|c| c.as_str() == lower)
                .ok_or_else(|| SearchError::BadCapability(part.chars().take(20).collect()))?;
            found.push(capability);
        }
        found.sort();
        found.dedup();
        Ok(found)
    }
}

/// Largest block of consecutive numbers a search finds (a DNIS range of 1,000).
pub const MAX_BLOCK: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("country “{0}” is not a two-letter ISO code")]
    BadCountry(String),
    #[error("“{0}” is not a US state or Canadian province code")]
    BadState(String),
    #[error("state {state} is in {country}, not {asked}")]
    StateOutsideCountry {
        state: String,
        country: String,
        asked: String,
    },
    #[error("area code “{0}” must be three digits starting with 2-9")]
    BadNpa(String),
    #[error("exchange “{0}” must be three digits starting with 2-9")]
    BadNxx(String),
    #[error("an exchange (NXX) needs an area code")]
    NxxWithoutNpa,
    #[error("kind must be “local” or “toll_free”, not “{0}”")]
    BadKind(String),
    #[error("local searches need a state or an area code")]
    LocalNeedsState,
    #[error("{0} is a toll-free code: search toll-free numbers instead")]
    TollFreeNpaInLocal(String),
    #[error("{0} is not a toll-free code (800, 833, 844, 855, 866, 877, 888)")]
    NotTollFree(String),
    #[error("limit must be a number from 1 to {0}")]
    BadLimit(i64),
    #[error("consecutive is a block size from 2 to {MAX_BLOCK}")]
    BadConsecutive,
    #[error("“{0}” is no capability: use voice, sms, mms, fax or e911")]
    BadCapability(String),
    #[error("pattern_match is contains, starts_with or ends_with")]
    BadPatternMatch,
    #[error("sort is number, price or price_desc")]
    BadSort,
    #[error("count is true or false")]
    BadCount,
    #[error("the cursor is not one this server issued")]
    BadCursor,
    #[error("{field} is too long (at most 64 characters)")]
    TooLong { field: &'static str },
    #[error("pattern: {0}")]
    Pattern(#[from] PatternError),
}

impl SearchError {
    pub fn field(&self) -> &'static str {
        match self {
            SearchError::BadCountry(_) => "country",
            SearchError::BadState(_)
            | SearchError::StateOutsideCountry { .. }
            | SearchError::LocalNeedsState => "state",
            SearchError::BadNpa(_)
            | SearchError::TollFreeNpaInLocal(_)
            | SearchError::NotTollFree(_) => "npa",
            SearchError::BadNxx(_) | SearchError::NxxWithoutNpa => "nxx",
            SearchError::BadKind(_) => "kind",
            SearchError::BadLimit(_) => "limit",
            SearchError::BadConsecutive => "consecutive",
            SearchError::BadCapability(_) => "capabilities",
            SearchError::BadPatternMatch => "pattern_match",
            SearchError::BadSort => "sort",
            SearchError::BadCount => "count",
            SearchError::BadCursor => "cursor",
            SearchError::TooLong { field } => field,
            SearchError::Pattern(_) => "pattern",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub local_default: i64,
    pub toll_free_default: i64,
    pub max: i64,
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn three_digits(value: &str) -> bool {
    value.len() == 3 && value.bytes().all(|b| b.is_ascii_digit()) && value.as_bytes()[0] >= b'2'
}

fn bounded(value: Option<&str>, field: &'static str) -> Result<Option<String>, SearchError> {
    match value {
        Some(v) if v.chars().count() > 64 => Err(SearchError::TooLong { field }),
        other => Ok(other.map(str::to_string)),
    }
}

impl SearchParams {
    pub fn parse(&self, limits: Limits) -> Result<SearchCriteria, SearchError> {
        let country = non_empty(&self.country)
            .unwrap_or("US")
            .to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(SearchError::BadCountry(country));
        }
        let kind = match non_empty(&self.kind) {
            None | Some("local") => NumberKind::Local,
            Some("toll_free") | Some("tollfree") | Some("toll-free") => NumberKind::TollFree,
            Some(other) => return Err(SearchError::BadKind(other.to_string())),
        };
        let state = non_empty(&self.state)
            .map(|s| state_in(s, &country))
            .transpose()?;
        let npa = non_empty(&self.npa)
            .map(|npa| area_code(npa, kind))
            .transpose()?;
        let nxx = non_empty(&self.nxx).map(str::to_string);
        if let Some(nxx) = &nxx {
            if !three_digits(nxx) {
                return Err(SearchError::BadNxx(nxx.clone()));
            }
            if npa.is_none() {
                return Err(SearchError::NxxWithoutNpa);
            }
        }
        let placement = match non_empty(&self.pattern_match) {
            None => Placement::Contains,
            Some(raw) => Placement::parse(raw).ok_or(SearchError::BadPatternMatch)?,
        };
        let pattern = non_empty(&self.pattern)
            .map(VanityPattern::parse)
            .transpose()?
            .map(|p| p.placed(placement));
        if kind == NumberKind::Local && state.is_none() && npa.is_none() {
            // A fully anchored pattern names its own area code, as carriers' portals allow.
            let implies_npa = pattern
                .as_ref()
                .is_some_and(|p| p.fixed_prefix().len() >= 3);
            if !implies_npa {
                return Err(SearchError::LocalNeedsState);
            }
        }
        // Refused in this order: the paging before the free-text fields.
        let limit = self.limit(kind, limits)?;
        let after = self.after()?;
        let capabilities = match non_empty(&self.capabilities) {
            None => Vec::new(),
            Some(raw) => Capability::parse_list(raw)?,
        };
        let consecutive = match non_empty(&self.consecutive) {
            None => None,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if (2..=MAX_BLOCK).contains(&n) => Some(n),
                _ => return Err(SearchError::BadConsecutive),
            },
        };
        let sort = match non_empty(&self.sort) {
            None => Sort::Number,
            Some(raw) => Sort::parse(raw).ok_or(SearchError::BadSort)?,
        };
        let count = match non_empty(&self.count)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => return Err(SearchError::BadCount),
        };
        Ok(SearchCriteria {
            country,
            kind,
            state,
            npa,
            nxx,
            rate_center: bounded(non_empty(&self.rate_center), "rate_center")?
                .map(|r| r.to_ascii_uppercase()),
            city: bounded(non_empty(&self.city), "city")?,
            pattern,
            limit,
            after,
            consecutive,
            capabilities,
            sort,
            count,
        })
    }

    fn limit(&self, kind: NumberKind, limits: Limits) -> Result<i64, SearchError> {
        let default = match kind {
            NumberKind::Local => limits.local_default,
            NumberKind::TollFree => limits.toll_free_default,
        };
        match non_empty(&self.limit) {
            None => Ok(default),
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=limits.max).contains(&n) => Ok(n),
                _ => Err(SearchError::BadLimit(limits.max)),
            },
        }
    }

    fn after(&self) -> Result<Option<String>, SearchError> {
        match non_empty(&self.cursor) {
            None => Ok(None),
            Some(c) if c.len() <= 15 && c.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(Some(c.to_string()))
            }
            Some(_) => Err(SearchError::BadCursor),
        }
    }
}

/// `formatted` (a number as shown, digits among separators) cut around its digits
/// `digits`: (before, those digits with what separates them, after).
pub fn mark_digits(formatted: &str, digits: std::ops::Range<usize>) -> (&str, &str, &str) {
    let mut start = None;
    let mut end = 0;
    let mut seen = 0;
    for (at, c) in formatted.char_indices() {
        if !c.is_ascii_digit() {
            continue;
        }
        if seen == digits.start {
            start = Some(at);
        }
        if seen + 1 == digits.end {
            end = at + 1;
            break;
        }
        seen += 1;
    }
    match start {
        Some(start) if start < end => (
            &formatted[..start],
            &formatted[start..end],
            &formatted[end..],
        ),
        _ => (formatted, "", ""),
    }
}

/// The blocks of `size` consecutive numbers in `nationals` (ascending, as numbers), as index
/// ranges: each run of consecutive numbers is cut into blocks from its first number, and what
/// is left of a run too short for another block is skipped.
pub fn consecutive_blocks(nationals: &[u64], size: usize) -> Vec<std::ops::Range<usize>> {
    let mut blocks = Vec::new();
    let mut start = 0;
    for i in 1..=nationals.len() {
        let continues = i < nationals.len() && nationals[i] == nationals[i - 1] + 1;
        if !continues {
            let mut at = start;
            while size > 0 && at + size <= i {
                blocks.push(at..at + size);
                at += size;
            }
            start = i;
        }
    }
    blocks
}

/// A state or territory code, which must be in the country searched.
fn state_in(raw: &str, country: &str) -> Result<String, SearchError> {
    let state = raw.to_ascii_uppercase();
    let in_country =
        country_of_state(&state).ok_or_else(|| SearchError::BadState(state.clone()))?;
    if in_country != country {
        return Err(SearchError::StateOutsideCountry {
            state,
            country: in_country.to_string(),
            asked: country.to_string(),
        });
    }
    Ok(state)
}

/// An area code, toll-free exactly when the search is.
fn area_code(raw: &str, kind: NumberKind) -> Result<String, SearchError> {
    if !three_digits(raw) {
        return Err(SearchError::BadNpa(raw.to_string()));
    }
    let toll_free = TOLL_FREE_NPAS.contains(&raw);
    match kind {
        NumberKind::Local if toll_free => Err(SearchError::TollFreeNpaInLocal(raw.to_string())),
        NumberKind::TollFree if !toll_free => Err(SearchError::NotTollFree(raw.to_string())),
        _ => Ok(raw.to_string()),
    }
}

/// The per-tenant region whitelist: the rule's wording is shown to the user as is.
pub fn check_region(country: &str, allowed: &[String]) -> Result<(), String> {
    if allowed.iter().any(|c| c.eq_ignore_ascii_case(country)) {
        Ok(())
    } else {
        Err(format!(
            "your tenant may only use numbers in {} (region whitelist); {country} is not allowed",
            if allowed.is_empty() {
                "no country".to_string()
            } else {
                allowed.join(", ")
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        local_default: 20,
        toll_free_default: 10,
        max: 100,
    };

    fn params(pairs: &[(&str, &str)]) -> SearchParams {
        let value: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        serde_json::from_value(serde_json::Value::Object(value)).unwrap()
    }

    #[test]
    fn marked_digits_keep_the_separators_inside_the_match() {
        assert_eq!(
            mark_digits("(512) 555-3663", 6..10),
            ("(512) 555-", "3663", "")
        );
        assert_eq!(
            mark_digits("(512) 555-3663", 3..8),
            ("(512) ", "555-36", "63")
        );
        assert_eq!(
            mark_digits("(512) 555-3663", 0..3),
            ("(", "512", ") 555-3663")
        );
        assert_eq!(mark_digits("+44 20", 5..9), ("+44 20", "", ""));
    }

    #[test]
    fn a_page_sorted_by_price_keeps_number_order_among_equal_prices() {
        let mut page = vec![("a", 2), ("b", 1), ("c", 2), ("d", 1)];
        Sort::Price.apply(&mut page, |n| (n.1, 0));
        assert_eq!(page, [("b", 1), ("d", 1), ("a", 2), ("c", 2)]);
        let mut page = vec![("a", 2), ("b", 1), ("c", 2), ("d", 1)];
        Sort::PriceDesc.apply(&mut page, |n| (n.1, 0));
        assert_eq!(page, [("a", 2), ("c", 2), ("b", 1), ("d", 1)]);
        Sort::Number.apply(&mut page, |n| (n.1, 0));
        assert_eq!(page[0], ("a", 2));
    }

    #[test]
    fn sort_placement_and_count_are_read_or_refused_by_name() {
        let c = params(&[
            ("npa", "512"),
            ("pattern", "FOOD"),
            ("pattern_match", "ends_with"),
        ])
        .parse(LIMITS)
        .unwrap();
        assert_eq!(c.pattern.unwrap().sql_like(), "______3663");
        let c = params(&[("npa", "512"), ("sort", "price_desc"), ("count", "TRUE")])
            .parse(LIMITS)
            .unwrap();
        assert_eq!((c.sort, c.count), (Sort::PriceDesc, true));
        for (field, value) in [
            ("pattern_match", "middle"),
            ("sort", "cheap"),
            ("count", "yes"),
        ] {
            let p = params(&[("npa", "512"), ("pattern", "FOOD"), (field, value)]);
            assert_eq!(p.parse(LIMITS).unwrap_err().field(), field);
        }
        // Placed at the start, a pattern names its area code: no state needed.
        let c = params(&[("pattern", "512555"), ("pattern_match", "starts_with")])
            .parse(LIMITS)
            .unwrap();
        assert_eq!(c.pattern.unwrap().fixed_prefix(), "512555");
    }

    #[test]
    fn capabilities_are_read_from_a_list_without_repeats() {
        assert_eq!(
            Capability::parse_list(" SMS, fax,sms ").unwrap(),
            vec![Capability::Sms, Capability::Fax]
        );
        assert_eq!(Capability::parse_list("").unwrap(), vec![]);
        assert_eq!(
            Capability::parse_list("telex"),
            Err(SearchError::BadCapability("telex".into()))
        );
        assert_eq!(
            Capability::parse_list("E911,mms").unwrap(),
            vec![Capability::Mms, Capability::E911]
        );
        let p = params(&[("npa", "512"), ("capabilities", "sms,telex")]);
        assert_eq!(p.parse(LIMITS).unwrap_err().field(), "capabilities");
    }

    #[test]
    fn runs_of_consecutive_numbers_are_cut_into_blocks_from_their_start() {
        let n = [
            5125550100, 5125550101, 5125550102, 5125550103, 5125550104, // a run of 5
            5125550200, 5125550201, // a run of 2
            5125550300, // alone
            5125550400, 5125550401, 5125550402, // a run of 3
        ];
        assert_eq!(consecutive_blocks(&n, 2), vec![0..2, 2..4, 5..7, 8..10]);
        assert_eq!(consecutive_blocks(&n, 3), vec![0..3, 8..11]);
        assert_eq!(consecutive_blocks(&n, 5), vec![0..5]);
        assert!(consecutive_blocks(&n, 6).is_empty());
        assert!(consecutive_blocks(&[], 2).is_empty());
        let sized = params(&[("npa", "512"), ("consecutive", "10")]);
        assert_eq!(sized.parse(LIMITS).unwrap().consecutive, Some(10));
        for bad in ["1", "1001", "ten", "-3"] {
            let p = params(&[("npa", "512"), ("consecutive", bad)]);
            assert_eq!(p.parse(LIMITS), Err(SearchError::BadConsecutive), "{bad}");
        }
    }

    #[test]
    fn each_refusal_names_the_first_fault_in_the_order_the_criteria_are_read() {
        let long = "x".repeat(65);
        let both = params(&[("state", "TX"), ("limit", "0"), ("city", &long)]);
        assert_eq!(both.parse(LIMITS), Err(SearchError::BadLimit(100)));
        let city = params(&[("state", "TX"), ("city", &long)]);
        assert_eq!(
            city.parse(LIMITS),
            Err(SearchError::TooLong { field: "city" })
        );
        let npa = params(&[("state", "ZZ"), ("npa", "12")]);
        assert_eq!(npa.parse(LIMITS), Err(SearchError::BadState("ZZ".into())));
    }

    #[test]
    fn defaults_are_us_local_with_twenty_results() {
        let c = params(&[("state", "tx")]).parse(LIMITS).unwrap();
        assert_eq!(
            (c.country.as_str(), c.kind, c.state.as_deref(), c.limit),
            ("US", NumberKind::Local, Some("TX"), 20)
        );
    }

    #[test]
    fn toll_free_defaults_to_ten_results_and_needs_no_state() {
        let c = params(&[("kind", "toll_free")]).parse(LIMITS).unwrap();
        assert_eq!(c.limit, 10);
        assert_eq!(
            params(&[("kind", "toll_free"), ("limit", "25")])
                .parse(LIMITS)
                .unwrap()
                .limit,
            25
        );
    }

    #[test]
    fn local_searches_need_a_state_or_an_area_code() {
        assert_eq!(params(&[]).parse(LIMITS), Err(SearchError::LocalNeedsState));
        assert!(params(&[("npa", "512")]).parse(LIMITS).is_ok());
        assert!(params(&[("pattern", "512-XXX-7777")]).parse(LIMITS).is_ok());
        assert_eq!(
            params(&[("pattern", "FOOD")]).parse(LIMITS),
            Err(SearchError::LocalNeedsState)
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("country", "USA")], "country"),
            (&[("state", "ZZ")], "state"),
            (&[("state", "ON")], "state"),
            (&[("npa", "12")], "npa"),
            (&[("npa", "800")], "npa"),
            (&[("kind", "toll_free"), ("npa", "512")], "npa"),
            (&[("npa", "512"), ("nxx", "1x1")], "nxx"),
            (&[("state", "TX"), ("nxx", "206")], "nxx"),
            (&[("kind", "mobile")], "kind"),
            (&[("state", "TX"), ("limit", "0")], "limit"),
            (&[("state", "TX"), ("limit", "101")], "limit"),
            (&[("state", "TX"), ("cursor", "abc")], "cursor"),
            (&[("state", "TX"), ("pattern", "5*")], "pattern"),
        ];
        for (pairs, field) in cases {
            let err = params(pairs).parse(LIMITS).unwrap_err();
            assert_eq!(err.field(), *field, "{pairs:?}: {err}");
        }
    }

    #[test]
    fn canadian_provinces_belong_to_canada() {
        let c = params(&[("country", "ca"), ("state", "on")])
            .parse(LIMITS)
            .unwrap();
        assert_eq!((c.country.as_str(), c.state.as_deref()), ("CA", Some("ON")));
        assert_eq!(country_of_state("QC"), Some("CA"));
        assert_eq!(country_of_state("TX"), Some("US"));
    }

    #[test]
    fn the_region_whitelist_names_its_rule() {
        let us = vec!["US".to_string()];
        assert!(check_region("US", &us).is_ok());
        let err = check_region("CA", &us).unwrap_err();
        assert!(
            err.contains("region whitelist") && err.contains("only use numbers in US"),
            "{err}"
        );
    }
}
