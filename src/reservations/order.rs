//! Orders by quantity and criteria: "50 numbers in 512" (or in a rate center, or matching a
//! vanity pattern) as one request. Inward picks the first numbers the search finds, in
//! national order, and holds them as one reservation through the same path as chosen numbers
//! (locked in order, one live hold per number); numbers taken by someone else between the
//! search and the hold are replaced by searching again, a few times.

use crate::domain::E164;
use crate::domain::order::{Strategy, check_quantity, take};
use crate::domain::policy::Principal;
use crate::domain::search::{MAX_BLOCK, SearchParams, check_region};
use crate::error::{AppError, AppResult};
use crate::search::repo;
use crate::state::AppState;
use crate::tenants::TenantProfile;

use super::holds::{self, Reserved};

/// Rounds of search and hold before an order gives up to others taking the same numbers.
const ROUNDS: usize = 5;

/// An order as sent.
pub struct Order<'a> {
    pub quantity: i64,
    pub filter: &'a SearchParams,
    pub strategy: Option<&'a str>,
    pub justification: Option<String>,
    /// One block of `quantity` consecutive numbers.
    pub consecutive: bool,
    /// For a block: the one starting at this national number (`5125550100`), not another.
    pub block_at: Option<&'a str>,
}

/// What an order held.
pub struct Ordered {
    pub reserved: Reserved,
    pub requested: usize,
    pub strategy: Strategy,
}

pub async fn order(
    state: &AppState,
    caller: &Principal,
    order: Order<'_>,
    request_id: Option<&str>,
) -> AppResult<Ordered> {
    let tenant = TenantProfile::of_caller(caller)?;
    let max = state.config.holds.max_numbers_per_order;
    let quantity = check_quantity(order.quantity, max)
        .map_err(|why| AppError::invalid_field("quantity", why))?;
    let strategy =
        Strategy::parse(order.strategy).map_err(|why| AppError::invalid_field("strategy", why))?;
    if order.filter.consecutive.is_some() {
        return Err(AppError::invalid_field(
            "filter.consecutive",
            "for a block, send \"consecutive\": true beside the quantity",
        ));
    }
    if order.consecutive && quantity > MAX_BLOCK {
        return Err(AppError::invalid_field(
            "quantity",
            format!("a block holds 2 to {MAX_BLOCK} consecutive numbers"),
        ));
    }
    if order.consecutive && (quantity < 2 || strategy == Strategy::BestEffort) {
        return Err(AppError::invalid_field(
            "consecutive",
            "a block is 2 or more numbers, held whole (all_or_nothing)",
        ));
    }
    let filter = SearchParams {
        limit: None,
        cursor: None,
        ..order.filter.clone()
    };
    let mut criteria = filter
        .parse(state.config.search.limits())
        .map_err(|e| AppError::invalid_field(&format!("filter.{}", e.field()), e.to_string()))?;
    check_region(&criteria.country, &tenant.allowed_countries).map_err(AppError::Forbidden)?;
    criteria.limit = quantity as i64;
    let block_at = match order.block_at.map(str::trim) {
        Some(at) if order.consecutive => match at.parse::<u64>() {
            Ok(n) if at.len() == 10 && n > 0 => {
                criteria.after = Some(format!("{:010}", n - 1));
                Some(at)
            }
            _ => return Err(AppError::invalid_field("block_at", "not a 10-digit number")),
        },
        _ => None,
    };
    let inline = state.config.tuning.inline_codes;
    let mut round = 0;
    loop {
        round += 1;
        let found = if order.consecutive {
            let (blocks, _) = crate::search::find_blocks(
                state,
                state.primary_reads(),
                &tenant,
                &criteria,
                quantity,
                1,
            )
            .await?;
            let block = blocks.into_iter().next().unwrap_or_default();
            // The block chosen, gone (or cut short) since the page showed it.
            if let Some(at) = block_at
                && block.first().map(|r| r.national.as_str()) != Some(at)
            {
                return Err(AppError::conflict(
                    "numbers_unavailable",
                    "Someone took a number of that block a moment ago. Search again for another block.",
                    serde_json::json!({ "block_at": at }),
                ));
            }
            block
        } else {
            let pool = repo::pool_for(&criteria, &state.pool, &state.offer_pool);
            repo::search(&mut *pool.acquire().await?, &tenant, &criteria, inline).await?
        };
        let taken = take(quantity, found.len(), strategy).map_err(|short| {
            let message = if order.consecutive {
                format!(
                    "No block of {quantity} consecutive numbers matches. Ask for a smaller block or widen the search."
                )
            } else {
                format!(
                    "Only {} number(s) match; you asked for {}. Ask for fewer, widen the search, or take as many as match.",
                    short.available, short.requested
                )
            };
            AppError::conflict(
                "not_enough_numbers",
                message,
                serde_json::json!({ "requested": short.requested, "available": short.available }),
            )
        })?;
        let numbers = found[..taken]
            .iter()
            .map(|row| E164::from_stored(&row.e164).map_err(|e| AppError::Internal(e.into())))
            .collect::<AppResult<Vec<E164>>>()?;
        let held = holds::reserve_up_to(
            state,
            caller,
            numbers,
            order.justification.clone(),
            request_id,
            max,
        )
        .await;
        match held {
            Ok(reserved) => {
                return Ok(Ordered {
                    reserved,
                    requested: quantity,
                    strategy,
                });
            }
            // Someone held some of them since the search: search again without them.
            Err(AppError::Conflict {
                code: "numbers_unavailable",
                ..
            }) if round < ROUNDS => continue,
            Err(e) => return Err(e),
        }
    }
}
