//! The Audit log page: filters by number, action, user and dates; searches (which outnumber
//! everything else) are left out unless asked for; the filtered range downloads as CSV.

use axum::extract::{RawQuery, State};

use super::api::AuditQuery;
use crate::audit::repo::{self, AuditRow};
use crate::auth::PageCaller;
use crate::state::AppState;
use crate::web::pages::Chrome;
use crate::web::{PageResult, render};

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<AuditRow>,
    form: PageQuery,
    actions: Vec<&'static str>,
    /// The filter as a query string, for the export and the next page.
    query: String,
    next_cursor: Option<i64>,
    /// The last check of the tamper-evident chain.
    chain: Option<crate::audit::chain::Verification>,
    /// Sequence numbers count every organisation's entries: operators only.
    show_sequence: bool,
}

/// The page's form: the API's filter (actions to show and to leave out, each chosen from a
/// list that allows several), plus whether to show searches.
#[derive(Debug, Default)]
pub struct PageQuery {
    number: String,
    action: Vec<String>,
    exclude: Vec<String>,
    user: String,
    from: String,
    to: String,
    searches: String,
    cursor: Option<String>,
}

impl PageQuery {
    /// Read from the query string by hand: a list that allows several sends its key again
    /// for each choice.
    fn parse(raw: Option<&str>) -> PageQuery {
        let mut q = PageQuery::default();
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "number" => q.number = value,
                "action" if !value.trim().is_empty() => q.action.extend(split(&value)),
                "exclude" if !value.trim().is_empty() => q.exclude.extend(split(&value)),
                "user" => q.user = value,
                "from" => q.from = value,
                "to" => q.to = value,
                "searches" => q.searches = value,
                "cursor" => q.cursor = Some(value),
                _ => {}
            }
        }
        q
    }

    fn include_searches(&self) -> bool {
        !self.searches.is_empty() || self.action.iter().any(|a| a.eq_ignore_ascii_case("SEARCH"))
    }

    fn shows(&self, action: &str) -> bool {
        self.action.iter().any(|a| a == action)
    }

    fn leaves_out(&self, action: &str) -> bool {
        self.exclude.iter().any(|a| a == action)
    }

    /// The API's filter. `leave_out_searches`: the page's own default, added when the
    /// filter is built but never written into its links (the next page or the export would
    /// then carry it as the person's choice).
    fn to_api(&self, leave_out_searches: bool) -> AuditQuery {
        let given = |v: &str| (!v.trim().is_empty()).then(|| v.to_string());
        let mut exclude = self.exclude.clone();
        if self.include_searches() {
            exclude.retain(|a| a != "SEARCH");
        } else if leave_out_searches && !exclude.iter().any(|a| a == "SEARCH") {
            exclude.push("SEARCH".to_string());
        }
        AuditQuery {
            number: given(&self.number),
            action: (!self.action.is_empty()).then(|| self.action.join(",")),
            exclude: (!exclude.is_empty()).then(|| exclude.join(",")),
            user: given(&self.user),
            from: given(&self.from),
            to: given(&self.to),
            cursor: self.cursor.clone(),
            limit: None,
        }
    }
}

fn split(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

pub async fn list(
    State(state): State<AppState>,
    caller: PageCaller,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let form = PageQuery::parse(raw.as_deref());
    let scope = caller.principal.audit_scope()?;
    let show_sequence = matches!(scope, crate::domain::policy::AuditScope::Everything);
    let chain = crate::audit::chain::last_verification(&state.pool).await?;
    let filter = form.to_api(true).parse()?;
    let mut conn = state.pool.acquire().await?;
    let entries = repo::list(&mut conn, &scope, &filter).await?;
    let next_cursor = (entries.len() as i64 == filter.limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let mut query = form.to_api(false).query_string();
    if form.include_searches() && !form.searches.is_empty() {
        query.push_str(if query.is_empty() {
            "searches=1"
        } else {
            "&searches=1"
        });
    }
    Ok(render(&AuditPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        entries,
        form,
        actions: crate::audit::Action::ALL
            .iter()
            .map(|a| a.as_str())
            .collect(),
        query,
        next_cursor,
        chain,
        show_sequence,
    }))
}

/// The filtered range as CSV, as the page shows it (searches left out unless asked for).
pub async fn export(
    State(state): State<AppState>,
    caller: PageCaller,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let form = PageQuery::parse(raw.as_deref());
    let scope = caller.principal.audit_scope()?;
    let mut api = form.to_api(true);
    api.cursor = None;
    let filter = api.parse()?;
    let body = super::api::export_csv(&mut *state.pool.acquire().await?, &scope, &filter).await?;
    Ok(crate::web::csv::download("audit.csv", body))
}
