use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Action;
use super::repo::{self, AuditFilter};
use crate::auth::ApiCaller;
use crate::domain::E164;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    pub number: Option<String>,
    pub action: Option<String>,
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

impl AuditQuery {
    pub fn parse(&self) -> AppResult<AuditFilter> {
        let number = present(&self.number)
            .map(|n| E164::parse(n).map(|n| n.as_str().to_string()))
            .transpose()
            .map_err(|e| AppError::invalid_field("number", e.to_string()))?;
        let action = present(&self.action)
            .map(|a| {
                Action::parse(a).map(|a| a.as_str().to_string()).ok_or_else(|| {
                    AppError::invalid_field("action", format!("unknown action `{a}`: use SEARCH, RESERVE, PROVISION, RELEASE, DEPROVISION or EXPIRE"))
                })
            })
            .transpose()?;
        let user_id = present(&self.user)
            .map(|u| {
                u.parse::<Uuid>()
                    .map_err(|_| AppError::invalid_field("user", "user must be a user id (UUID)"))
            })
            .transpose()?;
        let before_id = present(&self.cursor)
            .map(|c| {
                c.parse::<i64>().map_err(|_| {
                    AppError::invalid_field("cursor", "the cursor is not one this server issued")
                })
            })
            .transpose()?;
        let limit = match present(&self.limit) {
            None => 50,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=500).contains(&n) => n,
                _ => {
                    return Err(AppError::invalid_field(
                        "limit",
                        "limit must be a number from 1 to 500",
                    ));
                }
            },
        };
        Ok(AuditFilter {
            number,
            action,
            user_id,
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
