//! The common reservation in one statement: every number asked for is free and offered to
//! the caller's tenant, and none is premium. The statement locks the numbers in E.164 order,
//! and only when it got all of them writes the reservation, the holds, the numbers' new
//! state and the RESERVE entries, all in one commit. When it did not get all of them it
//! writes nothing, and the full path in `holds.rs` works out why (taken, unknown, outside
//! the region, a lapsed hold to expire first) and answers precisely.
//!
//! The rules are the same as the full path's: the legal starting states come from
//! `transition`, the visibility rules from `TenantProfile::inventory_orgs`, aging from the
//! same predicate the search uses, and `holds_one_live_per_number` still refuses a second
//! live hold whatever this statement does.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::audit::{Action, Outcome};
use crate::domain::pricing::PricingConfig;
use crate::domain::{Event, NumberState, transition};
use crate::error::AppResult;
use crate::tenants::TenantProfile;

pub struct Request<'a> {
    pub tenant: &'a TenantProfile,
    pub user_id: Uuid,
    /// Sorted, without duplicates.
    pub wanted: &'a [String],
    pub reservation_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub justification: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub details: serde_json::Value,
}

/// Whether the one statement may decide this request: North American numbers only (their
/// national part is the E.164 without `+1`), none of them premium (an approval may be due).
pub fn applies(pricing: &PricingConfig, wanted: &[String]) -> bool {
    wanted.iter().all(|e164| {
        e164.strip_prefix("+1")
            .is_some_and(|national| pricing.quote(false, national).premium.is_none())
    })
}

/// The states a number may be reserved from, as `transition` says.
fn reservable() -> Vec<&'static str> {
    NumberState::ALL
        .into_iter()
        .filter(|from| transition(*from, Event::Reserve) == Ok(NumberState::Reserved))
        .map(NumberState::as_str)
        .collect()
}

const TAKE_SQL: &str = r#"
WITH candidates AS (
    SELECT e164 FROM numbers
    WHERE e164 = ANY($1) AND lifecycle = ANY($2) AND country = ANY($3)
      AND inventory_org_id = ANY($4)
      AND (allocated_tenant_id IS NULL OR allocated_tenant_id = $5)
      AND (aging_until IS NULL OR aging_until <= now() OR released_by = $5)
    ORDER BY e164
    FOR UPDATE
),
complete AS (
    SELECT count(*) = cardinality($1::text[]) AS all_free FROM candidates
),
reservation AS (
    INSERT INTO reservations (id, tenant_id, user_id, justification, expires_at)
    SELECT $6, $5, $7, $8, $9 FROM complete WHERE all_free
    RETURNING id
),
taken AS (
    UPDATE numbers n SET lifecycle = $10, reservation_id = r.id, tenant_id = $5, state_changed_at = now()
    FROM reservation r, candidates c
    WHERE n.e164 = c.e164 AND n.lifecycle = ANY($2)
    RETURNING n.e164, r.id AS reservation_id
),
held AS (
    INSERT INTO holds (reservation_id, e164, expires_at)
    SELECT reservation_id, e164, $9 FROM taken
),
audited AS (
    INSERT INTO audit_log (tenant_id, user_id, phone_number, action, status, request_id, justification, details)
    SELECT $5, $7, e164, $11, $12, $13, $8, $14 FROM taken ORDER BY e164
)
SELECT count(*) FROM taken
"#;

/// Takes every number or none. True when the reservation exists; false when the full path
/// must decide (nothing was written).
pub async fn take(pool: &PgPool, r: Request<'_>) -> AppResult<bool> {
    let taken: i64 = sqlx::query_scalar(TAKE_SQL)
        .bind(r.wanted)
        .bind(reservable())
        .bind(&r.tenant.allowed_countries)
        .bind(r.tenant.inventory_orgs())
        .bind(r.tenant.id)
        .bind(r.reservation_id)
        .bind(r.user_id)
        .bind(r.justification)
        .bind(r.expires_at)
        .bind(NumberState::Reserved.as_str())
        .bind(Action::Reserve.as_str())
        .bind(Outcome::Success.as_str())
        .bind(r.request_id)
        .bind(&r.details)
        .fetch_one(pool)
        .await?;
    Ok(taken as usize == r.wanted.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_reserved_from_the_states_transition_allows() {
        let mut states = reservable();
        states.sort_unstable();
        assert_eq!(states, ["available", "deprovisioned", "released"]);
    }

    #[test]
    fn premium_and_foreign_numbers_take_the_full_path() {
        let pricing = crate::config::AppConfig::defaults().pricing;
        assert!(applies(&pricing, &["+15125550143".into()]));
        assert!(!applies(&pricing, &["+442079460000".into()]));
        let premium = ["+15125557777", "+15125551000", "+15125553000"]
            .into_iter()
            .find(|n| pricing.quote(false, &n[2..]).premium.is_some())
            .expect("one of these is premium under the default rules");
        assert!(!applies(&pricing, &[premium.to_string()]));
    }
}
