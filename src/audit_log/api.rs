use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::Action;
use crate::audit::repo::{self, AuditFilter};
use crate::auth::ApiCaller;
use crate::domain::E164;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    pub number: Option<String>,
    /// One action or several, comma-separated.
    pub action: Option<String>,
    /// Actions to leave out, comma-separated.
    pub exclude: Option<String>,
    /// A user id, or a user's email.
    pub user: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn timestamp(field: &str, value: Option<&str>) -> AppResult<Option<DateTime<Utc>>> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| {
                    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
                })
                .map_err(|_| {
                    AppError::invalid_field(
                        field,
                        format!("{field} must be an RFC 3339 time or a date (YYYY-MM-DD)"),
                    )
                })
        })
        .transpose()
}

/// A comma-separated list of action names, each checked.
fn action_list(field: &str, value: Option<&str>) -> AppResult<Vec<String>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            Action::parse(a)
                .map(|a| a.as_str().to_string())
                .ok_or_else(|| {
                    let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                    AppError::invalid_field(
                        field,
                        format!("unknown action “{a}”: use one of {}", known.join(", ")),
                    )
                })
        })
        .collect()
}

impl AuditQuery {
    /// The same filter as a query string, without the cursor: for the next page's link and
    /// the export.
    pub fn query_string(&self) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("number", &self.number),
            ("action", &self.action),
            ("exclude", &self.exclude),
            ("user", &self.user),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = present(value) {
                pairs.append_pair(key, v);
            }
        }
        pairs.finish()
    }

    pub fn parse(&self) -> AppResult<AuditFilter> {
        let number = present(&self.number)
            .map(|n| E164::parse(n).map(|n| n.as_str().to_string()))
            .transpose()
            .map_err(|e| AppError::invalid_field("number", e.to_string()))?;
        let actions = action_list("action", present(&self.action))?;
        let excluded = action_list("exclude", present(&self.exclude))?;
        let (user_id, user_email) = match present(&self.user) {
            None => (None, None),
            Some(u) => match u.parse::<crate::domain::UserId>() {
                Ok(id) => (Some(id), None),
                Err(_) if u.contains('@') && u.len() <= 254 => (None, Some(u.to_string())),
                Err(_) => {
                    return Err(AppError::invalid_field(
                        "user",
                        "user is a user's email or id",
                    ));
                }
            },
        };
        let before_id =
            crate::web::paging::cursor(self.cursor.as_deref(), |c| c.parse::<i64>().ok())?;
        let limit = crate::web::paging::limit(self.limit.as_deref(), 50)?;
        Ok(AuditFilter {
            number,
            actions,
            excluded,
            user_id,
            user_email,
            from: timestamp("from", present(&self.from))?,
            to: timestamp("to", present(&self.to))?,
            before_id,
            limit,
        })
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(query): Query<AuditQuery>,
) -> AppResult<Json<Value>> {
    let scope = caller.audit_scope()?;
    let filter = query.parse()?;
    let mut conn = state.pool.acquire().await?;
    let entries = repo::list(&mut conn, &scope, &filter).await?;
    let next_cursor = (entries.len() as i64 == filter.limit)
        .then(|| entries.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(Json(
        json!({ "entries": entries, "next_cursor": next_cursor }),
    ))
}

/// Every entry the filter selects (up to `EXPORT_MAX`), newest first, as CSV.
pub async fn export_csv(
    conn: &mut sqlx::PgConnection,
    scope: &crate::domain::policy::AuditScope,
    filter: &AuditFilter,
) -> AppResult<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| AppError::Internal(anyhow::anyhow!("csv: {e}"));
    out.write_record([
        "Time (UTC)",
        "User",
        "Number",
        "Action",
        "Target type",
        "Target",
        "Status",
        "Error",
        "Justification",
        "Request",
    ])
    .map_err(csv_err)?;
    let mut page = AuditFilter {
        limit: 5000,
        ..filter.clone()
    };
    let mut written = 0;
    loop {
        let rows = repo::list(conn, scope, &page).await?;
        for r in &rows {
            let at = r.at.format("%Y-%m-%d %H:%M:%S").to_string();
            crate::web::csv::write(
                &mut out,
                [
                    at.as_str(),
                    r.user_email.as_deref().unwrap_or("system"),
                    r.phone_number.as_deref().unwrap_or(""),
                    r.action.as_str(),
                    r.target_type.as_deref().unwrap_or(""),
                    r.target_id.as_deref().unwrap_or(""),
                    r.status.as_str(),
                    r.error_message.as_deref().unwrap_or(""),
                    r.justification.as_deref().unwrap_or(""),
                    r.request_id.as_deref().unwrap_or(""),
                ],
            )
            .map_err(csv_err)?;
        }
        written += rows.len();
        match rows.last() {
            Some(last) if rows.len() as i64 == page.limit && written < EXPORT_MAX => {
                page.before_id = Some(last.id)
            }
            _ => break,
        }
    }
    out.into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))
}

/// The most entries one export holds; narrow the dates for more.
pub const EXPORT_MAX: usize = 1_000_000;

pub async fn export(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(query): Query<AuditQuery>,
) -> AppResult<axum::response::Response> {
    let scope = caller.audit_scope()?;
    let filter = query.parse()?;
    let body = export_csv(&mut *state.pool.acquire().await?, &scope, &filter).await?;
    Ok(crate::web::csv::download("audit.csv", body))
}

/// The tamper-evident chain's head and its last verification (operators: sequence numbers
/// count every organisation's entries).
pub async fn chain(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    if !matches!(
        caller.audit_scope()?,
        crate::domain::policy::AuditScope::Everything
    ) {
        return Err(AppError::Forbidden(
            "the audit chain's state is for operators".into(),
        ));
    }
    let (seq, hash) = crate::audit::chain::head(&state.pool).await?;
    let last = crate::audit::chain::last_verification(&state.pool).await?;
    Ok(Json(json!({
        "head": { "seq": seq, "hash": crate::audit::chain::hex(&hash) },
        "last_verification": last,
    })))
}
