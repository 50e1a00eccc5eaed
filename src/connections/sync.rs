//! Numbers a tenant's platform owns but has not assigned become searchable inventory of that
//! tenant alone (`inventory_org_id` = the tenant). Holds stay Inward's; the adapter re-checks
//! the platform just before it writes.

use crate::domain::TenantId;
use crate::domain::search::TOLL_FREE_NPAS;
use crate::error::AppResult;
use crate::providers::Platform;
use crate::state::AppState;

pub async fn import_unassigned(
    state: &AppState,
    tenant_id: TenantId,
    provider: &dyn Platform,
) -> AppResult<usize> {
    let numbers = provider.unassigned_numbers().await?;
    let nanp: Vec<String> = numbers
        .iter()
        .filter(|n| n.is_nanp())
        .map(|n| n.national_digits().to_string())
        .collect();
    if nanp.is_empty() {
        return Ok(0);
    }
    let toll_free: Vec<String> = TOLL_FREE_NPAS.iter().map(|s| s.to_string()).collect();
    // Place, state and rate center come from the NPA-NXX table; unknown exchanges keep the NPA.
    let inserted = sqlx::query(
        "INSERT INTO numbers (e164, country, kind, national, npa, nxx, state, region, rate_center, city, inventory_org_id)
         SELECT '+1' || d.national, coalesce(rc.country, 'US'),
                CASE WHEN substr(d.national, 1, 3) = ANY($3) THEN 'toll_free' ELSE 'local' END,
                d.national, substr(d.national, 1, 3), substr(d.national, 4, 3), rc.state,
                coalesce(rc.city || ', ' || rc.state, 'Area code ' || substr(d.national, 1, 3)), rc.rate_center, rc.city, $2
         FROM unnest($1::text[]) AS d(national)
         LEFT JOIN rate_centers rc ON rc.npa = substr(d.national, 1, 3) AND rc.nxx = substr(d.national, 4, 3)
         ON CONFLICT (e164) DO NOTHING",
    )
    .bind(&nanp)
    .bind(tenant_id)
    .bind(&toll_free)
    .execute(&state.pool)
    .await?;
    Ok(inserted.rows_affected() as usize)
}
