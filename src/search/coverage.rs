//! How many numbers are in stock where: per area code of a state, or per rate center of an
//! area code, before searching ("how many are there in 512?").

use axum::Json;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use serde::Serialize;

use super::repo::{self, Coverage};
use crate::auth::{ApiCaller, PageCaller};
use crate::domain::policy::Principal;
use crate::domain::search::{SearchCriteria, SearchParams, check_region};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::tenants::TenantProfile;
use crate::web::pages::{Chrome, grouped};
use crate::web::{PageResult, render};

/// What the coverage answers: its rows and their sum.
#[derive(Debug, Serialize)]
pub struct CoverageAnswer {
    /// `npa` (one row per area code) or `rate_center` (one per rate center of an area code).
    pub by: &'static str,
    pub areas: Vec<Coverage>,
    pub available: i64,
}

/// The numbers in stock the caller's tenant may hold that match `criteria` (its paging,
/// block size and order aside), per area code, or per rate center when an area code is given.
pub async fn count(
    state: &AppState,
    caller: &Principal,
    criteria: &SearchCriteria,
) -> AppResult<CoverageAnswer> {
    let tenant = TenantProfile::of_caller(caller)?;
    check_region(&criteria.country, &tenant.allowed_countries).map_err(AppError::Forbidden)?;
    let by_rate_center = criteria.npa.is_some();
    let mut conn = state.pool.acquire().await?;
    let areas = repo::coverage(&mut conn, &tenant, criteria, by_rate_center).await?;
    Ok(CoverageAnswer {
        by: if by_rate_center { "rate_center" } else { "npa" },
        available: areas.iter().map(|a| a.available).sum(),
        areas,
    })
}

fn criteria(state: &AppState, params: &SearchParams) -> AppResult<SearchCriteria> {
    params
        .parse(state.config.search.limits())
        .map_err(|e| AppError::invalid_field(e.field(), e.to_string()))
}

/// `GET /api/v1/numbers/coverage`: the search's parameters.
pub async fn api(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(params): Query<SearchParams>,
) -> AppResult<Json<CoverageAnswer>> {
    let criteria = criteria(&state, &params)?;
    Ok(Json(count(&state, &caller, &criteria).await?))
}

#[derive(askama::Template)]
#[template(path = "coverage.html")]
pub struct CoveragePage {
    pub chrome: Chrome,
    pub params: SearchParams,
    pub states: &'static [(&'static str, &'static str)],
    pub error: Option<String>,
    pub answer: Option<CoverageAnswer>,
}

impl CoveragePage {
    fn value(field: &Option<String>) -> &str {
        field.as_deref().unwrap_or("")
    }

    pub fn v_npa(&self) -> &str {
        Self::value(&self.params.npa)
    }

    pub fn is_toll_free(&self) -> bool {
        Self::value(&self.params.kind) == "toll_free"
    }

    pub fn is_canada(&self) -> bool {
        Self::value(&self.params.country).eq_ignore_ascii_case("CA")
    }

    pub fn state_options(&self) -> Vec<(&'static str, &'static str, bool)> {
        super::pages::state_options(self.states, Self::value(&self.params.state))
    }

    pub fn count(&self, n: &i64) -> String {
        grouped(*n)
    }

    /// The search page for one row: its area code, and its rate center when it has one.
    pub fn search_link(&self, area: &Coverage) -> String {
        let params = SearchParams {
            kind: self.params.kind.clone(),
            country: self.params.country.clone(),
            state: self.params.state.clone(),
            npa: Some(area.npa.clone()),
            rate_center: area.rate_center.clone(),
            ..SearchParams::default()
        };
        format!(
            "/search?{}",
            serde_urlencoded::to_string(&params).unwrap_or_default()
        )
    }

    /// The coverage of one area code, per rate center.
    pub fn drill_link(&self, area: &Coverage) -> String {
        let params = SearchParams {
            kind: self.params.kind.clone(),
            country: self.params.country.clone(),
            state: self.params.state.clone(),
            npa: Some(area.npa.clone()),
            ..SearchParams::default()
        };
        format!(
            "/search/coverage?{}",
            serde_urlencoded::to_string(&params).unwrap_or_default()
        )
    }
}

/// The Coverage page: a state (or toll-free) gives its area codes, an area code its rate
/// centers, each with how many numbers are in stock and a link to search them.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(params): Query<SearchParams>,
) -> PageResult {
    caller.principal.tenant()?;
    let asked = [&params.state, &params.npa, &params.kind]
        .iter()
        .any(|f| f.as_deref().is_some_and(|v| !v.trim().is_empty()));
    let mut page = CoveragePage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        params,
        states: &super::pages::STATES,
        error: None,
        answer: None,
    };
    if asked {
        let outcome = match criteria(&state, &page.params) {
            Ok(criteria) => count(&state, &caller.principal, &criteria).await,
            Err(err) => Err(err),
        };
        match outcome {
            Ok(answer) => page.answer = Some(answer),
            Err(err @ (AppError::Invalid { .. } | AppError::Forbidden(_))) => {
                page.error = Some(err.public_message());
                return Ok((err.status(), render(&page)).into_response());
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(render(&page))
}
