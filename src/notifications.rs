//! What Inward tells a person in the portal (an approval decided, a port moving, a number
//! that lost its target): written here, counted for the bell on every page, listed on the
//! Notifications page (`/notifications`, `GET /api/v1/notifications`) and marked read there.

use axum::Json;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use crate::auth::{ApiCaller, PageCaller};
use crate::domain::TenantId;
use crate::domain::UserId;
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::routes::Routes;
use crate::web::{PageResult, render};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Notification {
    pub id: i64,
    pub message: String,
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// Tells `user_id` of `tenant_id` something, with a link to where it happened.
pub async fn notify(
    conn: &mut PgConnection,
    user_id: UserId,
    tenant_id: TenantId,
    message: &str,
    link: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO notifications (user_id, tenant_id, message, link) VALUES ($1, $2, $3, $4)",
    )
    .bind(user_id)
    .bind(tenant_id)
    .bind(message)
    .bind(link)
    .execute(conn)
    .await?;
    Ok(())
}

/// Tells every admin of `tenant_id`, and `also` (the person most concerned), about a number.
pub async fn notify_admins(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    also: Option<UserId>,
    e164: &str,
    message: &str,
    link: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO notifications (tenant_id, user_id, phone_number, message, link)
         SELECT $1, u.id, $2, $3, $4 FROM users u
         WHERE u.org_id = $1 AND (u.role = 'tenant_admin' OR u.id = $5)",
    )
    .bind(tenant_id)
    .bind(e164)
    .bind(message)
    .bind(link)
    .bind(also)
    .execute(conn)
    .await?;
    Ok(())
}

/// Tells every admin of organization `org` (a tenant's or a reseller's) something.
pub async fn notify_org_admins(
    conn: &mut PgConnection,
    org: uuid::Uuid,
    message: &str,
    link: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO notifications (tenant_id, user_id, message, link)
         SELECT $1, u.id, $2, $3 FROM users u
         WHERE u.org_id = $1 AND u.role IN ('tenant_admin', 'reseller_admin') AND u.disabled_at IS NULL",
    )
    .bind(org)
    .bind(message)
    .bind(link)
    .execute(conn)
    .await?;
    Ok(())
}

/// What was said about a number is read once it is dealt with (re-routed).
pub async fn read_about(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    e164: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE notifications SET read_at = now() WHERE tenant_id = $1 AND phone_number = $2 AND read_at IS NULL")
        .bind(tenant_id)
        .bind(e164)
        .execute(conn)
        .await?;
    Ok(())
}

/// The user's unread notices that link to `link` (the page they concern).
pub async fn unread_for_page(
    conn: &mut PgConnection,
    user_id: UserId,
    link: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT message FROM notifications WHERE user_id = $1 AND link = $2 AND read_at IS NULL
         ORDER BY id DESC LIMIT 50",
    )
    .bind(user_id)
    .bind(link)
    .fetch_all(conn)
    .await
}

pub async fn unread_count(pool: &PgPool, user_id: UserId) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
        .bind(user_id)
        .fetch_one(pool)
        .await
}

/// The user's latest notifications, newest first.
pub async fn latest(pool: &PgPool, user_id: UserId, limit: i64) -> sqlx::Result<Vec<Notification>> {
    sqlx::query_as(
        "SELECT id, message, link, created_at, read_at FROM notifications WHERE user_id = $1
         ORDER BY id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Marks all of the user's notifications read; returns how many were unread.
pub async fn mark_all_read(pool: &PgPool, user_id: UserId) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL",
    )
    .bind(user_id)
    .execute(pool)
    .await?
    .rows_affected())
}

#[derive(askama::Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    notifications: Vec<Notification>,
}

/// The page shows the latest 100 with the unread ones marked, then counts them as read.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    let user = caller.principal.user_id;
    let notifications = latest(&state.pool, user, 100).await?;
    mark_all_read(&state.pool, user).await?;
    Ok(render(&NotificationsPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        notifications,
    }))
}

/// The bell in the navigation, fetched by each page after it loads.
pub async fn bell(State(state): State<AppState>, caller: PageCaller) -> AppResult<Response> {
    let unread = unread_count(&state.pool, caller.principal.user_id).await?;
    let count = match unread {
        0 => String::new(),
        1 => {
            "<span class=\"bell-count\">1<span class=\"sr-only\"> unread</span></span>".to_string()
        }
        n => format!("<span class=\"bell-count\">{n}<span class=\"sr-only\"> unread</span></span>"),
    };
    // Only the count is fetched: the link itself stays, with its `aria-current`.
    Ok(Html(format!(
        "<span id=\"bell-badge\" hx-get=\"/notifications/bell\" hx-trigger=\"every 60s\" hx-swap=\"outerHTML\">{count}</span>"
    ))
    .into_response())
}

pub async fn api_list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let unread = unread_count(&state.pool, caller.user_id).await?;
    let notifications = latest(&state.pool, caller.user_id, 100).await?;
    Ok(Json(
        json!({ "unread": unread, "notifications": notifications }),
    ))
}

pub async fn api_mark_read(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let marked = mark_all_read(&state.pool, caller.user_id).await?;
    Ok(Json(json!({ "marked": marked })))
}

/// Its JSON API, under `/api/v1`.
pub fn api_routes(r: Routes) -> Routes {
    r.at("/notifications", get(api_list))
        .at("/notifications/read", post(api_mark_read))
}

/// Its pages.
pub fn page_routes(r: Routes) -> Routes {
    r.at("/notifications", get(page))
        .at("/notifications/bell", get(bell))
}
