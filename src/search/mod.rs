//! Searching available numbers: by geography, exchange, rate center, city and vanity pattern,
//! and the cart the numbers found are gathered in before they are held together.

pub mod api;
pub mod cart;
pub mod coverage;
pub mod pages;
pub mod repo;
pub mod routes;

use serde::Serialize;

use crate::domain::pricing::{Quote, format_money};
use crate::domain::search::{SearchCriteria, check_region, consecutive_blocks};
use crate::error::{AppError, AppResult};
use crate::reads::ReadPools;
use crate::state::AppState;
use crate::tenants::TenantProfile;
use crate::{audit, domain::policy::Principal};

#[derive(Debug, Clone, Serialize)]
pub struct AvailableNumber {
    pub e164: String,
    pub national: String,
    pub kind: String,
    pub region: String,
    pub state: Option<String>,
    pub rate_center: Option<String>,
    pub city: Option<String>,
    pub monthly: String,
    pub setup: String,
    pub per_minute: String,
    pub monthly_micros: i64,
    pub setup_micros: i64,
    pub per_minute_micros: i64,
    pub premium: Option<String>,
    pub activation_notice: Option<String>,
    /// What it can carry: `voice`, `sms`, `mms`, `fax`, `e911`.
    pub capabilities: Vec<&'static str>,
    /// Which of its ten digits a vanity pattern matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlight: Option<Highlight>,
}

/// Digits `from..to` (0-based, `to` excluded) of the ten-digit national number.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Highlight {
    pub from: usize,
    pub to: usize,
}

impl AvailableNumber {
    /// The national number as shown, cut around the digits the pattern matched: (before,
    /// matched, after).
    pub fn marked(&self) -> (&str, &str, &str) {
        match self.highlight {
            Some(h) => crate::domain::search::mark_digits(&self.national, h.from..h.to),
            None => (&self.national, "", ""),
        }
    }
}

/// How many numbers match a search, counted up to a cap.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MatchCount {
    /// Counted; with `more`, the cap.
    pub matching: i64,
    /// More numbers match than were counted.
    pub more: bool,
}

pub struct SearchOutcome {
    pub numbers: Vec<AvailableNumber>,
    pub next_cursor: Option<String>,
    /// With `consecutive`: the blocks `numbers` is made of, in order.
    pub blocks: Option<Vec<Block>>,
    /// With `count` on a first page: how many numbers match.
    pub count: Option<MatchCount>,
}

/// A block of consecutive numbers in stock.
#[derive(Debug, Clone, Serialize)]
pub struct Block {
    pub first: String,
    pub last: String,
    pub count: usize,
}

/// Rows a block search reads at most per page; runs of stock are found among them.
const BLOCK_SCAN: i64 = 20_000;

/// Blocks of `size` consecutive numbers the tenant may hold, up to `max`, and where the next
/// page starts.
pub async fn find_blocks(
    state: &AppState,
    reads: ReadPools<'_>,
    tenant: &TenantProfile,
    criteria: &SearchCriteria,
    size: usize,
    max: usize,
) -> AppResult<(Vec<Vec<repo::NumberRow>>, Option<String>)> {
    let scan = SearchCriteria {
        limit: BLOCK_SCAN,
        consecutive: None,
        ..criteria.clone()
    };
    let pool = repo::pool_for(&scan, reads.main, reads.offer);
    let inline = state.config.tuning.inline_codes;
    let rows = repo::search(&mut *pool.acquire().await?, tenant, &scan, inline).await?;
    let nationals: Vec<u64> = rows
        .iter()
        .map(|r| r.national.parse().unwrap_or_default())
        .collect();
    let ranges = consecutive_blocks(&nationals, size);
    let more = ranges.len() > max || rows.len() as i64 == BLOCK_SCAN;
    let blocks: Vec<Vec<repo::NumberRow>> = ranges
        .into_iter()
        .take(max)
        .map(|r| rows[r].to_vec())
        .collect();
    // The next page starts after the last block, or, when the rows read held none, where a
    // run still open at their end may begin.
    let next_cursor = match blocks.last().and_then(|b| b.last()) {
        _ if !more => None,
        Some(last) => Some(last.national.clone()),
        None => rows
            .get(rows.len().saturating_sub(size))
            .map(|r| r.national.clone()),
    };
    Ok((blocks, next_cursor))
}

/// Runs a search for the caller's tenant and writes the SEARCH audit entry.
pub async fn run(
    state: &AppState,
    caller: &Principal,
    criteria: &SearchCriteria,
    request_id: Option<&str>,
) -> AppResult<SearchOutcome> {
    let tenant = TenantProfile::of_caller(caller)?;
    let tenant_id = tenant.id;
    check_region(&criteria.country, &tenant.allowed_countries).map_err(AppError::Forbidden)?;
    let reads = state.reads_for(caller.user_id);
    let pool = repo::pool_for(criteria, reads.main, reads.offer);
    // The adapter first: on a cache miss it reads the database too, and a request holding
    // one connection while it waits for a second can starve the pool under load.
    let provider = state.platform_for(tenant_id).await?;
    let inline = state.config.tuning.inline_codes;
    let (rows, next_cursor, blocks) = match criteria.consecutive {
        Some(size) => {
            let max = criteria.limit as usize;
            let (found, next) = find_blocks(state, reads, &tenant, criteria, size, max).await?;
            let blocks = found
                .iter()
                .map(|b| Block {
                    first: b.first().map(|r| r.e164.clone()).unwrap_or_default(),
                    last: b.last().map(|r| r.e164.clone()).unwrap_or_default(),
                    count: b.len(),
                })
                .collect();
            (found.into_iter().flatten().collect(), next, Some(blocks))
        }
        None => {
            let rows = repo::search(&mut *pool.acquire().await?, &tenant, criteria, inline).await?;
            let next_cursor = (rows.len() as i64 == criteria.limit)
                .then(|| rows.last().map(|r| r.national.clone()))
                .flatten();
            (rows, next_cursor, None)
        }
    };
    let count = match criteria.count && criteria.after.is_none() && blocks.is_none() {
        false => None,
        true => {
            let cap = crate::domain::search::COUNT_CAP;
            let conn = &mut *pool.acquire().await?;
            let counted = repo::count(conn, &tenant, criteria, inline, cap + 1).await?;
            Some(MatchCount {
                matching: counted.min(cap),
                more: counted > cap,
            })
        }
    };
    let mut numbers: Vec<AvailableNumber> = rows
        .into_iter()
        .map(|row| {
            let highlight = criteria
                .pattern
                .as_ref()
                .and_then(|p| p.highlight(&row.national))
                .map(|r| Highlight {
                    from: r.start,
                    to: r.end,
                });
            AvailableNumber {
                highlight,
                ..priced(&state.config.pricing, provider.as_ref(), row)
            }
        })
        .collect();
    if blocks.is_none() {
        criteria
            .sort
            .apply(&mut numbers, |n| (n.monthly_micros, n.setup_micros));
    }
    let entry = audit::Entry::new(audit::Action::Search, audit::Outcome::Success)
        .by(Some(tenant_id), Some(caller.user_id), request_id)
        .details(serde_json::json!({ "criteria": describe(criteria), "results": numbers.len() }));
    if state.config.tuning.deferred_search_audit {
        state.deferred_audit.record(entry).await;
    } else {
        state.deferred_audit.record_now(&entry).await?;
    }
    Ok(SearchOutcome {
        numbers,
        next_cursor,
        blocks,
        count,
    })
}

/// A number in stock with its price for the tenant and what its platform warns of.
pub fn priced(
    pricing: &crate::domain::pricing::PricingConfig,
    provider: &dyn crate::providers::Platform,
    row: repo::NumberRow,
) -> AvailableNumber {
    let quote: Quote = pricing.quote(row.kind == "toll_free", &row.national);
    AvailableNumber {
        national: crate::domain::e164::format_national(&row.e164),
        activation_notice: provider.activation_notice(row.state.as_deref()),
        monthly: format_money(quote.monthly_micros),
        setup: format_money(quote.setup_micros),
        per_minute: format_money(quote.per_minute_micros),
        monthly_micros: quote.monthly_micros,
        setup_micros: quote.setup_micros,
        per_minute_micros: quote.per_minute_micros,
        premium: quote.premium,
        e164: row.e164,
        kind: row.kind,
        region: row.region,
        state: row.state,
        rate_center: row.rate_center,
        city: row.city,
        capabilities: [
            (row.voice, "voice"),
            (row.sms, "sms"),
            (row.mms, "mms"),
            (row.fax, "fax"),
            (row.e911, "e911"),
        ]
        .into_iter()
        .filter_map(|(has, name)| has.then_some(name))
        .collect(),
        highlight: None,
    }
}

fn describe(c: &SearchCriteria) -> serde_json::Value {
    serde_json::json!({
        "country": c.country, "kind": c.kind.as_str(), "state": c.state, "npa": c.npa, "nxx": c.nxx,
        "rate_center": c.rate_center, "city": c.city, "pattern": c.pattern.as_ref().map(|p| p.sql_like()),
        "limit": c.limit, "consecutive": c.consecutive, "sort": c.sort.as_str(),
        "capabilities": c.capabilities.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
    })
}
