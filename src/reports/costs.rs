//! The monthly cost allocation report: per tenant, the numbers it held in the month, for how
//! many days, and what they cost (prorated monthly price, setup fees, the premium part of
//! both). Tenant admins see their tenant, reseller admins each of their tenants, the
//! operator every tenant. Figures come from the audit log alone (`domain::costs`).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Serialize;

use super::{MonthQuery, accepts_csv, month_of};
use crate::audit::repo::UseEntry;
use crate::auth::{ApiCaller, PageCaller};
use crate::domain::TenantId;
use crate::domain::costs::{ChargedPrice, UseEvent, number_charge};
use crate::domain::policy::{Principal, Role};
use crate::domain::pricing::{Micros, PricingConfig, format_money};
use crate::domain::reports::Month;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::charts::{Bar, bars};
use crate::web::pages::Chrome;
use crate::web::{PageResult, render};

/// One number's line.
#[derive(Debug, Clone, Serialize)]
pub struct CostLine {
    pub number: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub days_active: u32,
    pub monthly_micros: Micros,
    pub setup_micros: Micros,
    pub premium_micros: Micros,
    pub total_micros: Micros,
    pub premium: Option<String>,
}

/// A tenant's numbers and their sums.
#[derive(Debug, Clone, Serialize)]
pub struct TenantCosts {
    pub tenant: String,
    pub name: String,
    pub numbers: usize,
    pub days_active: u32,
    pub monthly_micros: Micros,
    pub setup_micros: Micros,
    pub premium_micros: Micros,
    pub total_micros: Micros,
    pub total: String,
    pub lines: Vec<CostLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    pub month: String,
    pub tenants: Vec<TenantCosts>,
    pub total_micros: Micros,
    pub total: String,
}

/// The use events of one number, priced as recorded (or at today's tariff for entries written
/// before prices were recorded).
fn events(
    pricing: &PricingConfig,
    entries: &[UseEntry],
) -> Vec<(chrono::DateTime<chrono::Utc>, UseEvent)> {
    entries
        .iter()
        .map(|e| {
            let event = if e.action == "PROVISION" {
                let recorded = e
                    .details
                    .as_ref()
                    .and_then(|d| d.get("price"))
                    .and_then(|p| serde_json::from_value::<ChargedPrice>(p.clone()).ok());
                UseEvent::Provisioned(
                    recorded.unwrap_or_else(|| ChargedPrice::quoted(pricing, &e.phone_number)),
                )
            } else {
                UseEvent::Ended
            };
            (e.at, event)
        })
        .collect()
}

/// The report of `month` for the tenants the caller sees, or the one named `tenant`.
pub async fn report(
    state: &AppState,
    caller: &Principal,
    month: Month,
    tenant: Option<&str>,
) -> AppResult<CostReport> {
    if caller.role == Role::TenantUser {
        return Err(AppError::Forbidden(
            "costs are for the tenant's admins, its reseller and the operator".into(),
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let mut tenants = crate::tenants::visible_to(&mut conn, caller).await?;
    if let Some(slug) = tenant.map(str::trim).filter(|s| !s.is_empty()) {
        tenants.retain(|t| t.slug == slug);
        if tenants.is_empty() {
            return Err(AppError::NotFound(format!("tenant “{slug}”")));
        }
    }
    let ids: Vec<_> = tenants.iter().map(|t| t.id).collect();
    let entries = crate::audit::repo::number_uses(&mut conn, &ids, month.bounds()).await?;
    drop(conn);
    let pricing = &state.config.pricing;
    let now = chrono::Utc::now();
    // One pass over the entries (by tenant, then number): each number's line to its tenant.
    let mut lines_of: std::collections::HashMap<TenantId, Vec<CostLine>> = Default::default();
    for group in
        entries.chunk_by(|a, b| (a.tenant_id, &a.phone_number) == (b.tenant_id, &b.phone_number))
    {
        if let Some(c) = number_charge(month, now, &events(pricing, group)) {
            lines_of
                .entry(group[0].tenant_id)
                .or_default()
                .push(CostLine {
                    number: group[0].phone_number.clone(),
                    first_day: c.first_day,
                    last_day: c.last_day,
                    days_active: c.days_active,
                    total_micros: c.total_micros(),
                    monthly_micros: c.monthly_micros,
                    setup_micros: c.setup_micros,
                    premium_micros: c.premium_micros,
                    premium: c.premium,
                });
        }
    }
    let mut out = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        let lines = lines_of.remove(&tenant.id).unwrap_or_default();
        let sum = |f: fn(&CostLine) -> Micros| lines.iter().map(f).sum::<Micros>();
        let total_micros = sum(|l| l.total_micros);
        out.push(TenantCosts {
            tenant: tenant.slug,
            name: tenant.name,
            numbers: lines.len(),
            days_active: lines.iter().map(|l| l.days_active).sum(),
            monthly_micros: sum(|l| l.monthly_micros),
            setup_micros: sum(|l| l.setup_micros),
            premium_micros: sum(|l| l.premium_micros),
            total_micros,
            total: format_money(total_micros),
            lines,
        });
    }
    let total_micros = out.iter().map(|t| t.total_micros).sum();
    Ok(CostReport {
        month: month.label(),
        tenants: out,
        total_micros,
        total: format_money(total_micros),
    })
}

fn csv(report: &CostReport) -> AppResult<Response> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| AppError::Internal(anyhow::anyhow!(e));
    crate::web::csv::write(
        &mut out,
        [
            "tenant",
            "number",
            "first_day",
            "last_day",
            "days_active",
            "monthly",
            "setup",
            "premium_surcharge",
            "total",
        ],
    )
    .map_err(failed)?;
    for t in &report.tenants {
        for l in &t.lines {
            let cells = [
                t.tenant.clone(),
                l.number.clone(),
                l.first_day.to_string(),
                l.last_day.to_string(),
                l.days_active.to_string(),
                money(l.monthly_micros),
                money(l.setup_micros),
                money(l.premium_micros),
                money(l.total_micros),
            ];
            crate::web::csv::write(&mut out, cells.each_ref().map(String::as_str))
                .map_err(failed)?;
        }
    }
    let body = out
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e.to_string())))?;
    Ok(crate::web::csv::download(
        &format!("costs-{}.csv", report.month),
        body,
    ))
}

/// Dollars with six decimals, as a spreadsheet sums them.
fn money(micros: Micros) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

#[derive(Debug, serde::Deserialize)]
pub struct CostQuery {
    #[serde(flatten)]
    pub month: MonthQuery,
    pub tenant: Option<String>,
}

/// `GET /api/v1/reports/costs?month=YYYY-MM&tenant=slug`: JSON, or CSV with `Accept: text/csv`.
pub async fn api(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    headers: HeaderMap,
    Query(q): Query<CostQuery>,
) -> AppResult<Response> {
    let month = month_of(&q.month)?;
    let report = report(&state, &caller, month, q.tenant.as_deref()).await?;
    if accepts_csv(&headers) {
        return csv(&report);
    }
    Ok(Json(report).into_response())
}

#[derive(askama::Template)]
#[template(path = "costs.html")]
struct Page {
    chrome: Chrome,
    month: String,
    tenant: String,
    report: Option<CostReport>,
    chart: String,
    error: Option<String>,
}

impl Page {
    fn money(&self, micros: &Micros) -> String {
        format_money(*micros)
    }
}

/// The chart: each tenant's total, or, for one tenant, its twenty dearest numbers.
fn chart(report: &CostReport, month: &str) -> String {
    let cents = |m: Micros| (m + 5_000) / 10_000;
    let mut rows: Vec<Bar> = if report.tenants.len() == 1 {
        let mut lines: Vec<&CostLine> = report.tenants[0].lines.iter().collect();
        lines.sort_by_key(|l| std::cmp::Reverse(l.total_micros));
        lines
            .into_iter()
            .take(20)
            .map(|l| {
                Bar::new(
                    crate::domain::e164::format_national(&l.number),
                    cents(l.total_micros),
                    format!(
                        "#line-{}-{}",
                        report.tenants[0].tenant,
                        l.number.trim_start_matches('+')
                    ),
                )
            })
            .collect()
    } else {
        report
            .tenants
            .iter()
            .map(|t| {
                Bar::new(
                    t.name.clone(),
                    cents(t.total_micros),
                    format!("/reports/costs?month={month}&tenant={}", t.tenant),
                )
            })
            .collect()
    };
    rows.sort_by_key(|b| std::cmp::Reverse(b.value));
    let rows: Vec<Bar> = rows
        .into_iter()
        .map(|b| {
            let shown = format_money(b.value * 10_000);
            b.shown(shown)
        })
        .collect();
    bars("chart-costs", "Charges in the month", &rows)
}

/// The report's page, `/reports/costs`, with its chart and CSV download.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    headers: HeaderMap,
    Query(q): Query<CostQuery>,
) -> PageResult {
    let tenant = q.tenant.clone().unwrap_or_default();
    let mut page = Page {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        month: q.month.month.clone().unwrap_or_default(),
        tenant: tenant.clone(),
        report: None,
        chart: String::new(),
        error: None,
    };
    let outcome = match month_of(&q.month) {
        Ok(month) => report(&state, &caller.principal, month, Some(&tenant)).await,
        Err(err) => Err(err),
    };
    let report = match outcome {
        Ok(report) => report,
        Err(err @ (AppError::Invalid { .. } | AppError::NotFound(_))) => {
            page.error = Some(err.public_message());
            return Ok((err.status(), render(&page)).into_response());
        }
        Err(other) => return Err(other.into()),
    };
    if q.month.format.as_deref() == Some("csv") || accepts_csv(&headers) {
        return Ok(csv(&report)?);
    }
    page.month = report.month.clone();
    page.chart = chart(&report, &report.month);
    page.report = Some(report);
    Ok(render(&page).into_response())
}
