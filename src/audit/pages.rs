use axum::extract::{Query, State};

use super::api::AuditQuery;
use super::repo::{self, AuditRow};
use crate::auth::PageCaller;
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{PageResult, render};

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<AuditRow>,
    number: String,
    action: String,
    actions: [&'static str; super::Action::ALL.len()],
    next_query: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(query): Query<AuditQuery>,
) -> PageResult {
    let scope = caller.principal.audit_scope()?;
    let filter = query.parse()?;
    let mut conn = state.pool.acquire().await?;
    let entries = repo::list(&mut conn, &scope, &filter).await?;
    let next_query = (entries.len() as i64 == filter.limit)
        .then(|| {
            entries.last().map(|e| {
                let mut pairs = url::form_urlencoded::Serializer::new(String::new());
                if let Some(n) = &filter.number {
                    pairs.append_pair("number", n);
                }
                if let Some(a) = &filter.action {
                    pairs.append_pair("action", a);
                }
                pairs.append_pair("cursor", &e.id.to_string());
                pairs.finish()
            })
        })
        .flatten();
    Ok(render(&AuditPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        entries,
        number: filter.number.unwrap_or_default(),
        action: filter.action.unwrap_or_default(),
        actions: super::Action::ALL.map(super::Action::as_str),
        next_query,
    }))
}
