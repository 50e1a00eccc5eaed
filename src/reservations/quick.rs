//! The common reservation in one statement: every number asked for is free and offered to
//! the caller's tenant, and none is premium. The statement locks the numbers in E.164 order,
//! and only when it got all of them writes the reservation, the holds, the numbers' new
//! state and the RESERVE entries, all in one commit. When it did not get all of them it
//! writes nothing, and the full path in `holds.rs` works out why (taken, unknown, outside
//! the region, a lapsed hold to expire first) and answers precisely.
//!
//! Where the tenant's carrier is the sandbox, whose reservations are rows of this database,
//! the same statement takes the carrier's reservation of each number and keeps its
//! reference on the hold: one commit, instead of the hold, then the carrier's call, then
//! the reference.
//!
//! Which numbers it may take is `numbers::offer`, the rule the full path and the search
//! use too, and `holds_one_live_per_number` still refuses a second live hold whatever this
//! statement does.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::audit::{Action, Outcome};
use crate::domain::NumberState;
use crate::domain::ReservationId;
use crate::domain::UserId;
use crate::domain::pricing::PricingConfig;
use crate::error::AppResult;
use crate::numbers::offer;
use crate::providers::sandbox::reservations::{WITH_THE_HOLD, recorded_from};
use crate::tenants::TenantProfile;

/// One reservation for the statement. Owned, so that requests can wait together in the
/// group commit of `batch`.
pub struct Request {
    pub tenant: TenantProfile,
    pub user_id: UserId,
    /// Sorted, without duplicates.
    pub wanted: Vec<String>,
    pub reservation_id: ReservationId,
    pub expires_at: DateTime<Utc>,
    pub justification: Option<String>,
    pub request_id: Option<String>,
    pub details: serde_json::Value,
    /// The tenant's carrier keeps its reservations in Inward's database (the sandbox): the
    /// statement takes them with the holds, and keeps their references on the holds.
    pub with_carrier: bool,
}

/// Whether the one statement may decide this request: North American numbers only (their
/// national part is the E.164 without `+1`), none of them premium (an approval may be due).
pub fn applies(pricing: &PricingConfig, wanted: &[String]) -> bool {
    wanted.iter().all(|e164| {
        e164.strip_prefix("+1")
            .is_some_and(|national| pricing.quote(false, national).premium.is_none())
    })
}

/// Several reservations in one statement, each all or nothing. `req` numbers the requests;
/// their numbers, countries and inventories come as (req, value) pairs. No number may be
/// asked for by two requests of one statement (`batch` keeps them apart): a row is updated
/// once per statement.
static TAKE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"
WITH req AS (
    SELECT * FROM unnest($1::int[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[],
                         $6::timestamptz[], $7::text[], $8::jsonb[], $18::bool[])
        AS r(req, reservation_id, tenant_id, user_id, justification, expires_at, request_id, details,
             with_carrier)
),
wanted AS (SELECT * FROM unnest($9::int[], $10::text[]) AS w(req, e164)),
countries AS (SELECT * FROM unnest($11::int[], $12::text[]) AS c(req, country)),
inventories AS (SELECT * FROM unnest($13::int[], $14::uuid[]) AS i(req, org)),
candidates AS (
    SELECT n.e164, w.req FROM numbers n
    JOIN wanted w ON w.e164 = n.e164
    JOIN req r ON r.req = w.req
    WHERE {offered}
    ORDER BY n.e164
    FOR UPDATE OF n
),
complete AS (
    SELECT r.* FROM req r
    WHERE (SELECT count(*) FROM candidates c WHERE c.req = r.req)
        = (SELECT count(*) FROM wanted w WHERE w.req = r.req)
      AND NOT (r.with_carrier AND {carrier_fault_armed})
),
reservation AS (
    INSERT INTO reservations (id, tenant_id, user_id, justification, expires_at)
    SELECT reservation_id, tenant_id, user_id, justification, expires_at FROM complete
    RETURNING id
),
taken AS (
    UPDATE numbers n SET lifecycle = $15, reservation_id = k.reservation_id, tenant_id = k.tenant_id,
                         state_changed_at = now()
    FROM candidates c
    JOIN complete k ON k.req = c.req
    JOIN reservation rs ON rs.id = k.reservation_id
    WHERE n.e164 = c.e164 AND {in_stock}
    RETURNING n.e164, k.req, k.reservation_id, k.expires_at, k.tenant_id, k.user_id,
              k.justification, k.request_id, k.details, k.with_carrier
),
held AS (
    INSERT INTO holds (reservation_id, e164, expires_at, provider_ref)
    SELECT reservation_id, e164, expires_at,
           CASE WHEN with_carrier THEN {carrier_reference} END
    FROM taken
    RETURNING e164, provider_ref
),
carrier_reserved AS ({carrier_reserved}),
audited AS (
    INSERT INTO audit_log (tenant_id, user_id, phone_number, action, status, request_id, justification, details)
    SELECT tenant_id, user_id, e164, $16, $17, request_id, justification, details FROM taken ORDER BY e164
)
SELECT req, count(*) FROM taken GROUP BY req
"#,
        offered = offer::offered_sql(
            "n",
            "r.tenant_id",
            "ARRAY(SELECT i.org FROM inventories i WHERE i.req = w.req)",
            "ARRAY(SELECT c.country FROM countries c WHERE c.req = w.req)",
        ),
        in_stock = offer::in_stock_sql("n"),
        carrier_fault_armed = WITH_THE_HOLD.fault_armed,
        carrier_reference = WITH_THE_HOLD.new_reference,
        carrier_reserved = recorded_from("held"),
    )
});

/// Takes every number of each request or none of them. For each request, in order: true
/// when its reservation exists; false when the full path must decide (nothing was written
/// for it).
pub async fn take_many(pool: &PgPool, requests: &[&Request]) -> AppResult<Vec<bool>> {
    let mut columns = Columns::default();
    for (req, r) in (0i32..).zip(requests) {
        columns.push(req, r);
    }
    let taken: Vec<(i32, i64)> = sqlx::query_as(&TAKE_SQL)
        .bind(&columns.req)
        .bind(&columns.reservation_id)
        .bind(&columns.tenant_id)
        .bind(&columns.user_id)
        .bind(&columns.justification)
        .bind(&columns.expires_at)
        .bind(&columns.request_id)
        .bind(&columns.details)
        .bind(&columns.wanted_req)
        .bind(&columns.wanted)
        .bind(&columns.country_req)
        .bind(&columns.country)
        .bind(&columns.inventory_req)
        .bind(&columns.inventory)
        .bind(NumberState::Reserved.as_str())
        .bind(Action::Reserve.as_str())
        .bind(Outcome::Success.as_str())
        .bind(&columns.with_carrier)
        .fetch_all(pool)
        .await?;
    let mut done = vec![false; requests.len()];
    for (req, count) in taken {
        if let Some(r) = usize::try_from(req).ok().and_then(|i| requests.get(i)) {
            done[req as usize] = count as usize == r.wanted.len();
        }
    }
    Ok(done)
}

/// One request alone: true when its reservation exists.
pub async fn take_one(pool: &PgPool, request: &Request) -> AppResult<bool> {
    let done = take_many(pool, &[request]).await?;
    Ok(done.first().copied().unwrap_or(false))
}

/// The requests as the statement's arrays.
#[derive(Default)]
struct Columns {
    req: Vec<i32>,
    reservation_id: Vec<Uuid>,
    tenant_id: Vec<Uuid>,
    user_id: Vec<Uuid>,
    justification: Vec<Option<String>>,
    expires_at: Vec<DateTime<Utc>>,
    request_id: Vec<Option<String>>,
    details: Vec<serde_json::Value>,
    with_carrier: Vec<bool>,
    wanted_req: Vec<i32>,
    wanted: Vec<String>,
    country_req: Vec<i32>,
    country: Vec<String>,
    inventory_req: Vec<i32>,
    inventory: Vec<Uuid>,
}

impl Columns {
    fn push(&mut self, req: i32, r: &Request) {
        self.req.push(req);
        self.reservation_id.push(r.reservation_id.0);
        self.tenant_id.push(r.tenant.id.0);
        self.user_id.push(r.user_id.0);
        self.justification.push(r.justification.clone());
        self.expires_at.push(r.expires_at);
        self.request_id.push(r.request_id.clone());
        self.details.push(r.details.clone());
        self.with_carrier.push(r.with_carrier);
        for e164 in &r.wanted {
            self.wanted_req.push(req);
            self.wanted.push(e164.clone());
        }
        for country in &r.tenant.allowed_countries {
            self.country_req.push(req);
            self.country.push(country.clone());
        }
        for org in r.tenant.inventory_orgs() {
            self.inventory_req.push(req);
            self.inventory.push(org);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
