//! The inventory's dashboard: stock by status, numbers by tenant and the aging timeline, each
//! bar linking to the filtered list. Counting a large inventory reads all of it, so the
//! dashboard is fetched after the page (htmx) and kept for a minute per scope and instance.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::Scope;
use super::conditions::Filter;
use super::conditions::push_conditions;
use crate::auth::PageCaller;
use crate::state::AppState;
use crate::web::PageError;
use crate::web::charts::{Bar, bars};

/// What the charts count.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    pub by_status: Vec<(String, i64)>,
    /// The tenants with the most numbers (holding or allocated) and the numbers of no tenant
    /// (None), eleven bars at most.
    pub by_tenant: Vec<(Option<Uuid>, String, i64)>,
    /// Numbers that leave aging each day of the next 30.
    pub aging: Vec<(NaiveDate, i64)>,
}

fn select(sql: &str, scope: Scope) -> QueryBuilder<'static, Postgres> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(sql);
    push_conditions(&mut q, scope, &Filter::default());
    q
}

pub async fn count(conn: &mut PgConnection, scope: Scope) -> sqlx::Result<Counts> {
    let by_status: Vec<(String, i64)> = select(
        "SELECT n.lifecycle::text, count(*) FROM numbers n WHERE ",
        scope,
    )
    .push(" GROUP BY n.lifecycle ORDER BY count(*) DESC, n.lifecycle")
    .build_query_as()
    .persistent(false)
    .fetch_all(&mut *conn)
    .await?;
    let tenants: Vec<(Option<Uuid>, Option<String>, i64)> = select(
        "SELECT t.id, t.name, c.numbers FROM (SELECT coalesce(n.tenant_id, n.allocated_tenant_id) AS tenant, count(*) AS numbers
         FROM numbers n WHERE ",
        scope,
    )
    .push(
        " GROUP BY 1 ORDER BY 2 DESC LIMIT 11) c LEFT JOIN organizations t ON t.id = c.tenant
         ORDER BY c.tenant IS NULL, c.numbers DESC, t.name",
    )
    .build_query_as()
    .persistent(false)
    .fetch_all(&mut *conn)
    .await?;
    let by_tenant = tenants
        .into_iter()
        .map(|(id, name, n)| {
            let name = match (id, name) {
                (None, _) => "No tenant".to_string(),
                (Some(_), Some(name)) => name,
                (Some(_), None) => "Another organization's tenant".to_string(),
            };
            (id, name, n)
        })
        .collect();
    let aging: Vec<(NaiveDate, i64)> = select(
        "SELECT (n.aging_until AT TIME ZONE 'UTC')::date, count(*) FROM numbers n
         WHERE n.aging_until > now() AND n.aging_until < now() + interval '30 days' AND ",
        scope,
    )
    .push(" GROUP BY 1 ORDER BY 1")
    .build_query_as()
    .persistent(false)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Counts {
        by_status,
        by_tenant,
        aging,
    })
}

fn tone(status: &str) -> &'static str {
    match status {
        "available" => "tone-ok",
        "active" => "tone-neutral",
        "orphaned" => "tone-bad",
        "released" | "deprovisioned" => "tone-none",
        _ => "tone-wait",
    }
}

/// The three charts, as HTML.
pub fn draw(counts: &Counts) -> String {
    let status: Vec<Bar> = counts
        .by_status
        .iter()
        .map(|(s, n)| {
            Bar::new(s.replace('_', " "), *n, format!("/inventory?status={s}")).tone(tone(s))
        })
        .collect();
    let tenants: Vec<Bar> = counts
        .by_tenant
        .iter()
        .map(|(id, name, n)| {
            let filter = id.map_or("unassigned".to_string(), |id| id.to_string());
            Bar::new(name.clone(), *n, format!("/inventory?tenant={filter}"))
        })
        .collect();
    let aging: Vec<Bar> = counts
        .aging
        .iter()
        .map(|(day, n)| {
            Bar::new(
                day.format("%b %-d").to_string(),
                *n,
                "/inventory?status=released",
            )
            .tone("tone-wait")
        })
        .collect();
    format!(
        "<div class=\"charts\" id=\"inventory-charts\">\
         <figure class=\"card\"><figcaption>Numbers by status</figcaption>{}</figure>\
         <figure class=\"card\"><figcaption>Numbers by tenant</figcaption>{}</figure>\
         <figure class=\"card\"><figcaption>Leaving aging, next 30 days</figcaption>{}</figure>\
         </div>",
        bars("chart-status", "Numbers by status", &status),
        bars("chart-tenants", "Numbers by tenant", &tenants),
        bars("chart-aging", "Numbers leaving aging, by day", &aging),
    )
}

/// A count that takes longer than this is given up (the page says the charts are missing).
const COUNT_TIMEOUT: &str = "10s";

#[derive(Debug, serde::Deserialize)]
pub struct DashboardQuery {
    /// Set by "Count again": the counts are taken now rather than shown from the last minute.
    again: Option<String>,
}

/// `GET /inventory/dashboard`: the charts of the caller's inventory, for the page to fetch.
pub async fn fragment(
    State(state): State<AppState>,
    caller: PageCaller,
    axum::extract::Query(q): axum::extract::Query<DashboardQuery>,
) -> Result<Response, PageError> {
    let scope = caller.principal.inventory_view()?;
    let key = super::drawn::key(scope);
    let asked = chrono::Utc::now();
    let again = q.again.is_some();
    if !again && let Some(html) = state.dashboards.fresh(&key) {
        return Ok(Html(html).into_response());
    }
    let _counting = state.dashboards.one_count_at_a_time().await;
    // Counted by the one before us while we waited?
    let kept = if again {
        state.dashboards.drawn_since(&key, asked)
    } else {
        state.dashboards.fresh(&key)
    };
    if let Some(html) = kept {
        return Ok(Html(html).into_response());
    }
    let mut tx = state.pool.begin().await?;
    sqlx::query(&format!("SET LOCAL statement_timeout = '{COUNT_TIMEOUT}'"))
        .execute(&mut *tx)
        .await?;
    let counts = match count(&mut tx, scope).await {
        Ok(counts) => counts,
        Err(err) => {
            tracing::warn!(error = %err, "the inventory dashboard could not be counted");
            return Ok(Html(
                "<p class=\"muted\" id=\"dashboard-unavailable\">The charts could not be counted just now; the list below is complete.</p>"
                    .to_string(),
            )
            .into_response());
        }
    };
    tx.commit().await?;
    let html = format!(
        "{}<p class=\"muted\" id=\"dashboard-counted\">Counted at {} UTC. <button type=\"button\" class=\"btn-link\" id=\"count-again\" hx-get=\"/inventory/dashboard?again=1\" hx-target=\"#dashboard\">Count again</button></p>",
        draw(&counts),
        chrono::Utc::now().format("%H:%M:%S")
    );
    state.dashboards.keep(key, html.clone());
    Ok(Html(html).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bar_links_to_its_filtered_list() {
        let tenant = Uuid::nil();
        let html = draw(&Counts {
            by_status: vec![("available".into(), 90), ("porting_in".into(), 3)],
            by_tenant: vec![
                (Some(tenant), "Globex".into(), 12),
                (None, "No tenant".into(), 81),
            ],
            aging: vec![(NaiveDate::from_ymd_opt(2026, 12, 24).unwrap(), 4)],
        });
        let bar = |href: &str, label: &str, value: &str| {
            html.contains(&format!(r#"<a href="{href}">"#))
                && html.contains(&format!(r#"text-anchor="end">{label}</text>"#))
                && html.contains(&format!(r#"class="chart-value">{value}</text>"#))
        };
        assert!(
            bar("/inventory?status=available", "available", "90"),
            "{html}"
        );
        assert!(
            bar("/inventory?status=porting_in", "porting in", "3"),
            "{html}"
        );
        assert!(
            bar(&format!("/inventory?tenant={tenant}"), "Globex", "12"),
            "{html}"
        );
        assert!(
            bar("/inventory?tenant=unassigned", "No tenant", "81"),
            "{html}"
        );
        assert!(bar("/inventory?status=released", "Dec 24", "4"), "{html}");
    }
}
