use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::AvailableNumber;
use super::api::{CityQuery, lookup_cities};
use crate::auth::{PageCaller, RequestId};
use crate::domain::search::{SearchCriteria, SearchParams};
use crate::error::AppError;
use crate::reservations::order::Order;
use crate::search::cart::Cart;
use crate::state::AppState;
use crate::web::pages::{Chrome, NoticeQuery};
use crate::web::{Form, PageResult, render};

pub const STATES: [(&str, &str); 51] = [
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
];

#[derive(askama::Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub chrome: Chrome,
    pub params: SearchParams,
    pub states: &'static [(&'static str, &'static str)],
    pub searched: bool,
    pub error: Option<String>,
    pub results: Vec<AvailableNumber>,
    pub next_cursor: Option<String>,
    pub query_string: String,
    pub justification: String,
    /// The caller's cart: its numbers are ticked in the results, its totals shown under them.
    pub cart: Cart,
    pub cart_error: Option<String>,
    /// Ticks the cart refused (only in answers to a tick; see `cart::pages::CartSummary`).
    pub refused: String,
    /// "Hold a quantity" as typed, and why it was refused.
    pub order: OrderForm,
    /// A search for blocks of consecutive numbers: its results, as ranges.
    pub blocks: Vec<BlockRow>,
    /// How many numbers match (first pages only).
    pub count: Option<super::MatchCount>,
}

/// A block of consecutive numbers as the page lists it.
#[derive(Debug)]
pub struct BlockRow {
    pub first: String,
    pub last: String,
    pub count: usize,
    pub monthly: String,
    /// Its first number, as ten digits: which block "Hold this block" means.
    pub at: String,
}

impl BlockRow {
    /// The page's rows for a search's blocks, from the numbers they are made of.
    fn of(blocks: &[super::Block], numbers: &[AvailableNumber]) -> Vec<BlockRow> {
        let mut rest = numbers;
        let mut rows = Vec::new();
        for b in blocks {
            let (these, after) = rest.split_at(b.count.min(rest.len()));
            rest = after;
            let (Some(first), Some(last)) = (these.first(), these.last()) else {
                continue;
            };
            rows.push(BlockRow {
                first: first.national.clone(),
                last: last.national.clone(),
                count: these.len(),
                monthly: first.monthly.clone(),
                at: first.e164.trim_start_matches("+1").to_string(),
            });
        }
        rows
    }
}

/// (code, name, selected) for a state drop-down with `chosen` picked.
pub fn state_options(
    states: &'static [(&'static str, &'static str)],
    chosen: &str,
) -> Vec<(&'static str, &'static str, bool)> {
    states
        .iter()
        .map(|(code, name)| (*code, *name, code.eq_ignore_ascii_case(chosen)))
        .collect()
}

/// The order-by-quantity form under the results.
#[derive(Debug, Default)]
pub struct OrderForm {
    pub quantity: String,
    pub best_effort: bool,
    pub error: Option<String>,
}

impl SearchPage {
    pub fn in_cart(&self, e164: &str) -> bool {
        self.cart.contains(e164)
    }

    /// A refusal about the cart (too many ticked, a number taken) shows beside its totals.
    pub fn set_cart_error(&mut self, error: String) {
        self.cart_error = Some(error);
    }

    fn value(field: &Option<String>) -> &str {
        field.as_deref().unwrap_or("")
    }

    pub fn v_npa(&self) -> &str {
        Self::value(&self.params.npa)
    }

    pub fn v_nxx(&self) -> &str {
        Self::value(&self.params.nxx)
    }

    pub fn v_city(&self) -> &str {
        Self::value(&self.params.city)
    }

    pub fn v_rate_center(&self) -> &str {
        Self::value(&self.params.rate_center)
    }

    pub fn v_pattern(&self) -> &str {
        Self::value(&self.params.pattern)
    }

    /// The capabilities asked for, as the drop-down's values write them.
    pub fn v_capabilities(&self) -> String {
        crate::domain::search::Capability::parse_list(Self::value(&self.params.capabilities))
            .map(|list| {
                list.iter()
                    .filter(|c| **c != crate::domain::search::Capability::Voice)
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    }

    pub fn v_pattern_match(&self) -> &str {
        Self::value(&self.params.pattern_match)
    }

    pub fn v_sort(&self) -> &str {
        Self::value(&self.params.sort)
    }

    /// "137 numbers match", or "More than 1,000" past the count's cap.
    pub fn count_line(&self) -> Option<String> {
        let count = self.count?;
        let n = crate::web::pages::grouped(count.matching);
        Some(match (count.more, count.matching) {
            (true, _) => format!("More than {n} numbers match"),
            (false, 1) => "1 number matches".to_string(),
            (false, _) => format!("{n} numbers match"),
        })
    }

    pub fn v_consecutive(&self) -> &str {
        Self::value(&self.params.consecutive)
    }

    pub fn v_limit(&self) -> &str {
        Self::value(&self.params.limit)
    }

    pub fn is_canada(&self) -> bool {
        Self::value(&self.params.country).eq_ignore_ascii_case("CA")
    }

    /// (code, name, selected) for the state drop-down.
    pub fn state_options(&self) -> Vec<(&'static str, &'static str, bool)> {
        state_options(self.states, Self::value(&self.params.state))
    }

    /// The folded filters open when one of them is in use.
    pub fn more_filters_used(&self) -> bool {
        [
            &self.params.nxx,
            &self.params.city,
            &self.params.rate_center,
            &self.params.pattern,
            &self.params.consecutive,
            &self.params.capabilities,
        ]
        .iter()
        .any(|f| f.as_deref().is_some_and(|v| !v.trim().is_empty()))
    }

    pub fn is_toll_free(&self) -> bool {
        matches!(self.params.kind.as_deref(), Some("toll_free"))
    }

    pub fn next_page_query(&self) -> Option<String> {
        let cursor = self.next_cursor.as_ref()?;
        let mut params = self.params.clone();
        params.cursor = Some(cursor.clone());
        serde_urlencoded::to_string(&params).ok()
    }
}

/// Runs the search described by `params` (if any field is set) and builds the page.
pub async fn search_page(
    state: &AppState,
    caller: &PageCaller,
    params: SearchParams,
    request_id: Option<&str>,
) -> Result<SearchPage, AppError> {
    let searched = [
        &params.state,
        &params.npa,
        &params.kind,
        &params.pattern,
        &params.city,
        &params.rate_center,
    ]
    .iter()
    .any(|f| f.as_deref().is_some_and(|v| !v.is_empty()));
    let mut page = SearchPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        query_string: serde_urlencoded::to_string(&params).unwrap_or_default(),
        params,
        states: &STATES,
        searched,
        error: None,
        results: Vec::new(),
        next_cursor: None,
        justification: String::new(),
        cart: Cart::empty(state.config.holds.max_numbers_per_reservation),
        cart_error: None,
        refused: String::new(),
        order: OrderForm::default(),
        blocks: Vec::new(),
        count: None,
    };
    if !searched {
        return Ok(page);
    }
    let criteria = page
        .params
        .parse(state.config.search.limits())
        .map(|c| SearchCriteria { count: true, ..c });
    match criteria {
        Err(err) => page.error = Some(err.to_string()),
        Ok(criteria) => match super::run(state, &caller.principal, &criteria, request_id).await {
            Ok(outcome) => {
                page.count = outcome.count;
                if let Some(blocks) = &outcome.blocks {
                    page.blocks = BlockRow::of(blocks, &outcome.numbers);
                }
                page.results = outcome.numbers;
                page.next_cursor = outcome.next_cursor;
                if !page.results.is_empty() {
                    page.cart = crate::search::cart::view(state, &caller.principal).await?;
                }
            }
            Err(AppError::Forbidden(rule)) => page.error = Some(rule),
            Err(other) => return Err(other),
        },
    }
    Ok(page)
}

pub async fn search(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Query(params): Query<SearchParams>,
    Query(notice): Query<NoticeQuery>,
) -> PageResult {
    caller.principal.tenant()?;
    let mut page = search_page(&state, &caller, params, request_id.as_deref()).await?;
    page.chrome = page.chrome.with_notice(notice.notice.as_deref());
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, render(&page)).into_response())
}

/// "Hold a quantity": an order by quantity matching the search the page shows; Inward picks
/// the numbers. Refused, the search again with the reason beside the form.
pub async fn order(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let params: SearchParams =
        serde_urlencoded::from_str(form.raw("q").unwrap_or("")).unwrap_or_default();
    let justification = form.get("justification").map(str::to_string);
    let quantity = form.get("quantity").unwrap_or("").trim().to_string();
    // A block search's page orders one of its blocks: the block size is the quantity.
    let filter = SearchParams {
        consecutive: None,
        ..params.clone()
    };
    let strategy = form.get("strategy");
    let outcome = match quantity.parse::<i64>() {
        Ok(n) => {
            let order = Order {
                quantity: n,
                filter: &filter,
                strategy,
                justification: justification.clone(),
                consecutive: params.consecutive.is_some(),
                block_at: form.get("block_at"),
            };
            crate::reservations::order::order(
                &state,
                &caller.principal,
                order,
                request_id.as_deref(),
            )
            .await
        }
        Err(_) => Err(AppError::invalid_field(
            "quantity",
            "enter how many numbers to hold, such as 20",
        )),
    };
    let err = match outcome {
        Ok(ordered) => {
            let to = format!("/reservations/{}?notice=ordered", ordered.reserved.id);
            return Ok(Redirect::to(&to).into_response());
        }
        Err(
            err @ (AppError::Conflict { .. }
            | AppError::Invalid { .. }
            | AppError::Forbidden(_)
            | AppError::NotFound(_)),
        ) => err,
        Err(other) => return Err(other.into()),
    };
    let mut page = search_page(&state, &caller, params, request_id.as_deref()).await?;
    page.order = OrderForm {
        quantity,
        best_effort: strategy == Some("best_effort"),
        error: Some(err.public_message()),
    };
    page.justification = justification.unwrap_or_default();
    Ok((err.status(), render(&page)).into_response())
}

#[derive(askama::Template)]
#[template(path = "city_options.html")]
struct CityOptions {
    cities: Vec<crate::search::repo::City>,
}

#[derive(Debug, serde::Deserialize)]
pub struct CityField {
    city: Option<String>,
    state: Option<String>,
}

/// Autocomplete for the city field: `<option>`s for its datalist.
pub async fn cities(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(field): Query<CityField>,
) -> Result<Response, crate::web::PageError> {
    let query = CityQuery {
        q: field.city,
        state: field.state,
    };
    let cities = lookup_cities(&state, &caller.principal, &query).await?;
    Ok(match askama::Template::render(&CityOptions { cities }) {
        Ok(html) => Html(html).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    })
}
