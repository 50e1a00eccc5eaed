//! The cart: numbers a user ticks in searches, kept on the server across searches and result
//! pages until they are reserved together. A cart never holds a number: someone else may take
//! one first, and the cart then says so and lets it go. It holds at most as many numbers as
//! one reservation may (`holds.max_numbers_per_reservation`), so that "Reserve all" can work.

pub mod api;
pub mod pages;
mod repo;
pub mod routes;

use serde::Serialize;
use serde_json::json;

use crate::domain::E164;
use crate::domain::e164::format_national;
use crate::domain::policy::Principal;
use crate::domain::pricing::format_money;
use crate::error::{AppError, AppResult};
use crate::reservations::holds::Reserved;
use crate::search::AvailableNumber;
use crate::state::AppState;
use crate::tenants::TenantProfile;

/// One number in the cart: its offer now (price, region), or none when it is no longer
/// offered to the tenant (taken by someone else, withdrawn from the inventory).
#[derive(Debug, Clone, Serialize)]
pub struct CartLine {
    pub e164: String,
    pub national: String,
    pub available: bool,
    pub offer: Option<AvailableNumber>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cart {
    pub numbers: Vec<CartLine>,
    pub count: usize,
    /// The most numbers the cart (and one reservation) may hold.
    pub limit: usize,
    pub monthly_total: String,
    pub setup_total: String,
    pub monthly_total_micros: i64,
    pub setup_total_micros: i64,
}

impl Cart {
    pub fn empty(limit: usize) -> Cart {
        Cart::of(Vec::new(), limit)
    }

    fn of(numbers: Vec<CartLine>, limit: usize) -> Cart {
        let offers = || numbers.iter().filter_map(|line| line.offer.as_ref());
        let monthly: i64 = offers().map(|o| o.monthly_micros).sum();
        let setup: i64 = offers().map(|o| o.setup_micros).sum();
        Cart {
            count: numbers.len(),
            limit,
            monthly_total: format_money(monthly),
            setup_total: format_money(setup),
            monthly_total_micros: monthly,
            setup_total_micros: setup,
            numbers,
        }
    }

    pub fn contains(&self, e164: &str) -> bool {
        self.numbers.iter().any(|line| line.e164 == e164)
    }

    /// The cart's numbers, space-separated (the search page re-ticks its boxes from them).
    pub fn e164_list(&self) -> String {
        self.numbers
            .iter()
            .map(|line| line.e164.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn unavailable(&self) -> usize {
        self.numbers.iter().filter(|line| !line.available).count()
    }
}

/// What a results page changes in the cart: the ticked numbers it lacks join it, and the
/// page's unticked numbers that are in it leave. Numbers of other pages are left alone.
pub fn changes(cart: &[String], shown: &[String], ticked: &[String]) -> (Vec<String>, Vec<String>) {
    let add = ticked
        .iter()
        .filter(|n| !cart.contains(n))
        .cloned()
        .collect();
    let remove = shown
        .iter()
        .filter(|n| cart.contains(n) && !ticked.contains(n))
        .cloned()
        .collect();
    (add, remove)
}

/// Whether `adding` more numbers fit beside the `held` ones, and if not, why in words.
pub fn room(held: usize, adding: usize, limit: usize) -> Result<(), String> {
    if held + adding <= limit {
        return Ok(());
    }
    let left = limit.saturating_sub(held);
    let fits = match left {
        0 => "it is full".to_string(),
        1 => "1 more fits".to_string(),
        n => format!("{n} more fit"),
    };
    Err(format!(
        "A reservation holds at most {limit} numbers, so the cart does too: it has {held} and {fits}. Tick fewer numbers, or reserve the cart first."
    ))
}

/// The sentence that follows a refusal naming numbers that have left the cart.
pub fn left_the_cart(dropped: usize, kept: usize) -> String {
    let them = if dropped == 1 { "It has" } else { "They have" };
    let rest = match kept {
        0 => "your cart is now empty".to_string(),
        1 => "the other number is still in your cart".to_string(),
        n => format!("the other {n} numbers are still in your cart"),
    };
    format!("{them} left your cart; {rest}.")
}

fn names(numbers: &[String]) -> String {
    numbers
        .iter()
        .map(|n| format_national(n))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse(numbers: &[String]) -> AppResult<Vec<String>> {
    let mut parsed: Vec<String> = numbers
        .iter()
        .map(|n| {
            E164::parse(n)
                .map(|e| e.as_str().to_string())
                .map_err(|e| AppError::invalid_field("numbers", e.to_string()))
        })
        .collect::<AppResult<_>>()?;
    parsed.sort();
    parsed.dedup();
    Ok(parsed)
}

/// The caller's cart with each number's offer as it stands now.
pub async fn view(state: &AppState, caller: &Principal) -> AppResult<Cart> {
    let tenant = TenantProfile::of_caller(caller)?;
    let limit = state.config.holds.max_numbers_per_reservation;
    let provider = state.platform_for(tenant.id).await?;
    let held = repo::numbers(&state.pool, caller.user_id).await?;
    if held.is_empty() {
        return Ok(Cart::of(Vec::new(), limit));
    }
    let mut offers: Vec<AvailableNumber> =
        crate::search::repo::offered(&mut *state.pool.acquire().await?, &tenant, &held)
            .await?
            .into_iter()
            .map(|row| crate::search::priced(&state.config.pricing, provider.as_ref(), row))
            .collect();
    let lines = held
        .into_iter()
        .map(|e164| {
            let offer = offers
                .iter()
                .position(|o| o.e164 == e164)
                .map(|at| offers.swap_remove(at));
            CartLine {
                national: format_national(&e164),
                available: offer.is_some(),
                offer,
                e164,
            }
        })
        .collect();
    Ok(Cart::of(lines, limit))
}

/// How a batch of numbers joins the cart when some are no longer offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adding {
    /// All of them or none (the API).
    AllOrNone,
    /// The offered ones; the others are named (a page of ticks, where one number taken a
    /// moment ago must not undo every other tick).
    Offered,
}

/// Adds numbers offered to the caller's tenant. Refuses when they would not fit; what
/// happens to numbers no longer offered is `mode`'s. The answer names numbers left out.
pub async fn add(
    state: &AppState,
    caller: &Principal,
    numbers: &[String],
    mode: Adding,
) -> AppResult<Option<String>> {
    let tenant = TenantProfile::of_caller(caller)?;
    let limit = state.config.holds.max_numbers_per_reservation;
    bounded(
        numbers.len(),
        limit.max(state.config.search.max_limit as usize),
    )?;
    let wanted = parse(numbers)?;
    if wanted.is_empty() {
        return Err(AppError::invalid_field(
            "numbers",
            "Choose at least one number to add to the cart.",
        ));
    }
    let mut tx = repo::locked(&state.pool, caller.user_id).await?;
    let held = repo::numbers(&mut *tx, caller.user_id).await?;
    let new: Vec<String> = wanted.into_iter().filter(|n| !held.contains(n)).collect();
    if new.is_empty() {
        return Ok(None);
    }
    let offered =
        crate::search::repo::offered(&mut *state.pool.acquire().await?, &tenant, &new).await?;
    let (joining, missing): (Vec<String>, Vec<String>) = new
        .into_iter()
        .partition(|n| offered.iter().any(|row| &row.e164 == n));
    let note = (!missing.is_empty()).then(|| {
        format!(
            "Not available to reserve: {}. Search again for numbers you can take.",
            names(&missing)
        )
    });
    if mode == Adding::AllOrNone
        && let Some(note) = note
    {
        return Err(AppError::conflict(
            "numbers_unavailable",
            note,
            json!({ "unavailable": missing }),
        ));
    }
    room(held.len(), joining.len(), limit)
        .map_err(|message| AppError::invalid("cart_full", message))?;
    repo::add(&mut *tx, caller.user_id, tenant.id, &joining).await?;
    tx.commit().await?;
    Ok(note)
}

/// A form or body naming more numbers than any page shows is refused before each is
/// parsed.
fn bounded(count: usize, most: usize) -> AppResult<()> {
    if count > most {
        return Err(AppError::invalid_field(
            "numbers",
            format!("At most {most} numbers can be sent at once."),
        ));
    }
    Ok(())
}

/// Takes numbers out of the cart; how many were in it.
pub async fn remove(state: &AppState, caller: &Principal, numbers: &[String]) -> AppResult<u64> {
    caller.tenant()?;
    bounded(
        numbers.len(),
        state.config.holds.max_numbers_per_reservation,
    )?;
    Ok(repo::remove(&state.pool, caller.user_id, &parse(numbers)?).await?)
}

pub async fn clear(state: &AppState, caller: &Principal) -> AppResult<()> {
    caller.tenant()?;
    repo::clear(&state.pool, caller.user_id).await?;
    Ok(())
}

/// Applies a results page's ticks (see `changes`): leaving first, so that unticking some and
/// ticking others on a full cart works. The answer names ticked numbers no longer offered,
/// which stay out of the cart.
pub async fn apply_ticks(
    state: &AppState,
    caller: &Principal,
    shown: &[String],
    ticked: &[String],
) -> AppResult<Option<String>> {
    caller.tenant()?;
    let page = state.config.search.max_limit as usize;
    bounded(shown.len(), page)?;
    bounded(ticked.len(), page)?;
    let shown = parse(shown)?;
    let ticked = parse(ticked)?;
    let held = repo::numbers(&state.pool, caller.user_id).await?;
    let (add_these, remove_these) = changes(&held, &shown, &ticked);
    repo::remove(&state.pool, caller.user_id, &remove_these).await?;
    if add_these.is_empty() {
        return Ok(None);
    }
    add(state, caller, &add_these, Adding::Offered).await
}

/// Reserves every number of the cart as one reservation, and empties the cart of them.
/// Numbers no longer offered leave the cart and are named; the rest stay for another try.
/// One at a time per user: a second click waits for the first and finds its numbers gone.
pub async fn reserve(
    state: &AppState,
    caller: &Principal,
    justification: Option<String>,
    request_id: Option<&str>,
) -> AppResult<Reserved> {
    let lock = repo::locked(&state.pool, caller.user_id).await?;
    let cart = view(state, caller).await?;
    if cart.count == 0 {
        return Err(AppError::invalid(
            "cart_empty",
            "Your cart is empty: tick numbers in a search first.",
        ));
    }
    if cart.count > cart.limit {
        return Err(AppError::invalid(
            "cart_full",
            format!(
                "A reservation holds at most {} numbers and your cart has {}: remove {} first.",
                cart.limit,
                cart.count,
                cart.count - cart.limit
            ),
        ));
    }
    let gone: Vec<String> = cart
        .numbers
        .iter()
        .filter(|line| !line.available)
        .map(|line| line.e164.clone())
        .collect();
    if !gone.is_empty() {
        repo::remove(&state.pool, caller.user_id, &gone).await?;
        return Err(AppError::conflict(
            "numbers_unavailable",
            format!(
                "No longer available: {}. {} Nothing was reserved.",
                names(&gone),
                left_the_cart(gone.len(), cart.count - gone.len())
            ),
            json!({ "unavailable": gone }),
        ));
    }
    let wanted: Vec<E164> = cart
        .numbers
        .iter()
        .map(|line| E164::parse(&line.e164))
        .collect::<Result<_, _>>()
        .map_err(|e| AppError::invalid_field("numbers", e.to_string()))?;
    let outcome =
        crate::reservations::reserve(state, caller, wanted, justification, request_id).await;
    let answer = match outcome {
        Ok(reserved) => {
            repo::remove(&state.pool, caller.user_id, &reserved.numbers).await?;
            Ok(reserved)
        }
        // Someone was quicker for some of them: those leave the cart, the rest stay.
        Err(AppError::Conflict {
            code: "numbers_unavailable",
            message,
            details,
        }) => {
            let taken: Vec<String> = details["unavailable"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            repo::remove(&state.pool, caller.user_id, &taken).await?;
            Err(AppError::Conflict {
                code: "numbers_unavailable",
                message: format!(
                    "{message} {} Nothing was reserved.",
                    left_the_cart(taken.len(), cart.count.saturating_sub(taken.len()))
                ),
                details,
            })
        }
        Err(other) => Err(other),
    };
    lock.commit().await?;
    answer
}

/// How many numbers the caller's cart holds (the navigation's count).
pub async fn count(state: &AppState, caller: &Principal) -> AppResult<i64> {
    Ok(repo::count(&state.pool, caller.user_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ticks_add_and_untick_remove_only_on_the_page_shown() {
        let cart = v(&["+15125550001", "+15125550002", "+13035550009"]);
        let shown = v(&["+15125550001", "+15125550002", "+15125550003"]);
        let ticked = v(&["+15125550001", "+15125550003"]);
        let (add, remove) = changes(&cart, &shown, &ticked);
        assert_eq!(add, v(&["+15125550003"]));
        // +13035550009 was ticked on another page: it stays.
        assert_eq!(remove, v(&["+15125550002"]));
    }

    #[test]
    fn nothing_changes_when_the_page_agrees_with_the_cart() {
        let cart = v(&["+15125550001"]);
        let (add, remove) = changes(&cart, &cart, &cart);
        assert!(add.is_empty() && remove.is_empty());
    }

    #[test]
    fn room_says_how_many_more_fit() {
        assert!(room(48, 2, 50).is_ok());
        let refusal = room(48, 3, 50).unwrap_err();
        assert!(refusal.contains("at most 50"), "{refusal}");
        assert!(refusal.contains("it has 48 and 2 more fit"), "{refusal}");
        assert!(room(49, 2, 50).unwrap_err().contains("1 more fits"));
        assert!(room(50, 1, 50).unwrap_err().contains("it is full"));
        assert!(
            room(0, 100, 50)
                .unwrap_err()
                .contains("it has 0 and 50 more fit")
        );
    }

    #[test]
    fn the_sentence_after_a_refusal_counts_what_stays() {
        assert_eq!(
            left_the_cart(1, 3),
            "It has left your cart; the other 3 numbers are still in your cart."
        );
        assert_eq!(
            left_the_cart(2, 1),
            "They have left your cart; the other number is still in your cart."
        );
        assert_eq!(
            left_the_cart(2, 0),
            "They have left your cart; your cart is now empty."
        );
    }
}
