//! Whether a number is offered to a tenant: the one rule behind the search, the one-statement
//! reservation (`reservations::quick`) and the full reservation path (`reservations::holds`).
//! It is written twice, once in Rust and once in SQL, side by side here; the integration
//! test `offer` runs both (and both reservation paths, and the search) over the same
//! numbers and requires the same answer.
//!
//! A number is offered to a tenant when
//! - it is in stock: its state is one `transition` lets a reservation start from, and no
//!   tenant holds it;
//! - it belongs to an inventory the tenant draws from (`TenantProfile::inventory_orgs`);
//! - the reseller allocated it to nobody or to this tenant;
//! - it is not aging after a release by another tenant (`domain::aging`);
//! - its country is one the tenant may use.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::NumberState;
use crate::domain::TenantId;
use crate::domain::search::check_region;
use crate::tenants::TenantProfile;

/// The states a number is in stock in: back in inventory, reservable by whoever it is
/// offered to. The search indexes are partial on exactly this list (`IN_STOCK_SQL`).
pub const IN_STOCK: [NumberState; 3] = [
    NumberState::Available,
    NumberState::Released,
    NumberState::Deprovisioned,
];

/// `IN_STOCK` as SQL, written the way the search indexes' predicates are (migration 0019):
/// PostgreSQL uses a partial index only when the query's predicate implies the index's.
pub const IN_STOCK_SQL: &str = "('available', 'released', 'deprovisioned')";

/// What decides the offer, as stored on the number.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfferFacts {
    pub e164: String,
    #[sqlx(try_from = "String")]
    pub lifecycle: NumberState,
    pub tenant_id: Option<TenantId>,
    pub country: String,
    pub inventory_org_id: Uuid,
    pub allocated_tenant_id: Option<TenantId>,
    pub released_by: Option<TenantId>,
    pub aging_until: Option<DateTime<Utc>>,
}

/// The columns `OfferFacts` reads, for a `SELECT`.
pub const FACTS_COLUMNS: &str = "e164, lifecycle, tenant_id, country, inventory_org_id, allocated_tenant_id, released_by, aging_until";

/// The answer for one number and one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// The tenant may take it.
    Offered,
    /// The tenant may see it, but it is not in stock (held, in service, porting).
    Taken,
    /// The tenant may see it, but not use its country; the reason is for people.
    OutsideRegion(String),
    /// Not the tenant's to see: another inventory, allocated to another tenant, or aging
    /// for the tenant that released it. Answered as unknown, so nothing leaks.
    Hidden,
}

/// Whether a number in `state` with `holder` is in stock.
pub fn in_stock(state: NumberState, holder: Option<TenantId>) -> bool {
    holder.is_none() && state.is_reservable()
}

/// The offer rule in Rust.
pub fn decide(tenant: &TenantProfile, n: &OfferFacts, now: DateTime<Utc>) -> Offer {
    if !tenant.inventory_orgs().contains(&n.inventory_org_id)
        || n.allocated_tenant_id.is_some_and(|t| t != tenant.id)
        || !crate::domain::aging::offered_to(tenant.id, n.released_by, n.aging_until, now)
    {
        return Offer::Hidden;
    }
    // Exactly as the SQL form compares them (`country = ANY(…)`).
    if !tenant.allowed_countries.contains(&n.country) {
        let rule = check_region(&n.country, &tenant.allowed_countries)
            .err()
            .unwrap_or_else(|| format!("your tenant may not use numbers in {}", n.country));
        return Offer::OutsideRegion(rule);
    }
    if in_stock(n.lifecycle, n.tenant_id) {
        Offer::Offered
    } else {
        Offer::Taken
    }
}

/// The same rule in SQL, for the number aliased `n`: `tenant` is an SQL expression for the
/// tenant's id, `orgs` one for the uuid[] of its inventories, `countries` one for the
/// text[] of its countries. Each caller writes these its own way (literals for the search,
/// whose plans depend on them; columns of the batch for the one-statement reservation).
pub fn offered_sql(n: &str, tenant: &str, orgs: &str, countries: &str) -> String {
    format!(
        "{in_stock} AND {visible} AND {n}.country = ANY({countries})",
        in_stock = in_stock_sql(n),
        visible = visible_sql(n, tenant, orgs),
    )
}

/// In stock, in SQL (`in_stock`).
pub fn in_stock_sql(n: &str) -> String {
    format!("{n}.lifecycle IN {IN_STOCK_SQL} AND {n}.tenant_id IS NULL")
}

/// Held by a tenant or otherwise out of stock: a reseller may not move, change or delete it.
pub fn in_use_sql(n: &str) -> String {
    format!("({n}.tenant_id IS NOT NULL OR {n}.lifecycle NOT IN {IN_STOCK_SQL})")
}

/// Not `Offer::Hidden`, in SQL.
fn visible_sql(n: &str, tenant: &str, orgs: &str) -> String {
    format!(
        "{n}.inventory_org_id = ANY({orgs})
         AND ({n}.allocated_tenant_id IS NULL OR {n}.allocated_tenant_id = {tenant})
         AND ({n}.aging_until IS NULL OR {n}.aging_until <= now() OR {n}.released_by = {tenant})"
    )
}

/// Those of `wanted` Inward has at all, whoever holds them (through the owner's function:
/// another tenant's numbers are invisible under the policy on `numbers`).
pub async fn existing(
    conn: &mut sqlx::PgConnection,
    wanted: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT e164 FROM number_offer_facts($1)")
        .bind(wanted)
        .fetch_all(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn tenant() -> TenantProfile {
        TenantProfile {
            id: TenantId(Uuid::from_u128(10)),
            name: "Tenant".into(),
            parent_id: Some(Uuid::from_u128(5)),
            allowed_countries: vec!["US".into()],
        }
    }

    fn stock() -> OfferFacts {
        OfferFacts {
            e164: "+15125550143".into(),
            lifecycle: NumberState::Available,
            tenant_id: None,
            country: "US".into(),
            inventory_org_id: Uuid::from_u128(5),
            allocated_tenant_id: None,
            released_by: None,
            aging_until: None,
        }
    }

    #[test]
    fn the_stock_states_are_those_a_reservation_starts_from() {
        let from_transition: Vec<NumberState> = NumberState::ALL
            .into_iter()
            .filter(|s| in_stock(*s, None))
            .collect();
        assert_eq!(from_transition, IN_STOCK);
        let listed: Vec<String> = IN_STOCK
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(IN_STOCK_SQL, format!("({})", listed.join(", ")));
        assert!(!in_stock(
            NumberState::Available,
            Some(TenantId(Uuid::from_u128(10)))
        ));
    }

    #[test]
    fn a_number_in_stock_of_a_visible_inventory_is_offered() {
        let now = Utc::now();
        assert_eq!(decide(&tenant(), &stock(), now), Offer::Offered);
        for state in IN_STOCK {
            let n = OfferFacts {
                lifecycle: state,
                ..stock()
            };
            assert_eq!(decide(&tenant(), &n, now), Offer::Offered, "{state}");
        }
        let held = OfferFacts {
            lifecycle: NumberState::Active,
            tenant_id: Some(TenantId(Uuid::from_u128(11))),
            ..stock()
        };
        assert_eq!(decide(&tenant(), &held, now), Offer::Taken);
    }

    #[test]
    fn other_tenants_numbers_are_hidden() {
        let now = Utc::now();
        let cases = [
            OfferFacts {
                inventory_org_id: Uuid::from_u128(6),
                ..stock()
            },
            OfferFacts {
                allocated_tenant_id: Some(TenantId(Uuid::from_u128(11))),
                ..stock()
            },
            OfferFacts {
                released_by: Some(TenantId(Uuid::from_u128(11))),
                aging_until: Some(now + Duration::days(3)),
                ..stock()
            },
        ];
        for n in cases {
            assert_eq!(decide(&tenant(), &n, now), Offer::Hidden, "{n:?}");
        }
        let own_aging = OfferFacts {
            released_by: Some(TenantId(Uuid::from_u128(10))),
            aging_until: Some(now + Duration::days(3)),
            allocated_tenant_id: Some(TenantId(Uuid::from_u128(10))),
            ..stock()
        };
        assert_eq!(decide(&tenant(), &own_aging, now), Offer::Offered);
        let canadian = OfferFacts {
            country: "CA".into(),
            ..stock()
        };
        assert!(matches!(
            decide(&tenant(), &canadian, now),
            Offer::OutsideRegion(_)
        ));
    }
}
