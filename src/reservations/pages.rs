use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use chrono::Utc;

use super::provision::AssignmentSpec;
use super::repo::{self, ReservedNumber};
use crate::auth::{PageCaller, RequestId};
use crate::domain::ReservationId;
use crate::domain::target::TargetSpec;
use crate::domain::{E164, Target};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::pages::{Chrome, NoticeQuery};
use crate::web::{Form, PageResult, parse_id, render};

#[derive(askama::Template)]
#[template(path = "reservation.html")]
pub struct ReservationPage {
    chrome: Chrome,
    id: ReservationId,
    status: super::repo::ReservationStatus,
    expires_at: String,
    seconds_left: i64,
    justification: Option<String>,
    numbers: Vec<ReservedNumber>,
    targets: Vec<Target>,
    error: Option<String>,
    /// What was sent for the number whose provisioning was refused, to show it again.
    kept: Option<Kept>,
    notices: Vec<String>,
    approval: Option<crate::reservations::approvals::ApprovalRow>,
    /// Active and not waiting for a premium approval (whose deadline ends the hold).
    can_extend: bool,
    /// The tenant requires a registered E911 address before activation.
    require_e911: bool,
    /// E911 status of each number, for the policy above.
    e911: std::collections::HashMap<String, crate::features::FeatureStatus>,
}

impl ReservationPage {
    pub fn national(&self, e164: &str) -> String {
        crate::domain::e164::format_national(e164)
    }

    /// The number's E911 status (`not_set`, `pending`, `registered`, `failed`).
    pub fn e911_of(&self, e164: &str) -> String {
        self.e911
            .get(e164)
            .map(|f| f.e911_status.clone())
            .unwrap_or_else(|| "not_set".into())
    }

    pub fn countdown(&self) -> String {
        countdown(self.seconds_left)
    }

    /// Premium numbers wait for an approver: nothing can be provisioned until then.
    pub fn awaits_approval(&self) -> bool {
        self.approval.as_ref().is_some_and(|a| a.is_pending())
    }

    /// How many numbers still wait for a target (the "Provision all" form shows from two).
    pub fn waiting(&self) -> usize {
        self.numbers
            .iter()
            .filter(|n| n.state == "reserved")
            .count()
    }

    /// The value sent in `field` for `e164`, when its provisioning was refused.
    pub fn kept(&self, e164: &str, field: &str) -> &str {
        match &self.kept {
            Some(kept) if kept.number == e164 => kept
                .fields
                .iter()
                .find(|(k, _)| k == field)
                .map_or("", |(_, v)| v.as_str()),
            _ => "",
        }
    }

    pub fn targets_of(&self, kind: &str) -> Vec<&Target> {
        self.targets
            .iter()
            .filter(|t| t.kind.as_str() == kind)
            .collect()
    }
}

async fn reservation_page(
    state: &AppState,
    caller: &PageCaller,
    id: ReservationId,
    notice: Option<&str>,
) -> Result<ReservationPage, AppError> {
    let tenant_id = caller.principal.tenant()?;
    let mut conn = state.pool.acquire().await?;
    let reservation = repo::find(&mut conn, tenant_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("reservation".into()))?;
    let numbers = repo::numbers(&mut conn, id).await?;
    let approval = crate::reservations::approvals::of_reservation(&mut conn, tenant_id, id).await?;
    let require_e911 = crate::tenants::settings::load(&mut conn, tenant_id)
        .await?
        .require_e911;
    let e164s: Vec<String> = numbers.iter().map(|n| n.e164.clone()).collect();
    let e911 = crate::features::statuses(&mut conn, tenant_id, &e164s).await?;
    drop(conn);
    let now = Utc::now();
    let status = reservation.effective_status(now);
    let provider = state.platform_for(tenant_id).await?;
    let targets = if status.is_active() {
        state.targets(tenant_id, None).await?
    } else {
        Vec::new()
    };
    let mut notices: Vec<String> = numbers
        .iter()
        .filter(|n| n.state == "reserved" || n.state == "pending")
        .filter_map(|n| {
            provider
                .activation_notice(n.us_state.as_deref())
                .map(|text| format!("{}: {text}", crate::domain::e164::format_national(&n.e164)))
        })
        .collect();
    notices.dedup();
    Ok(ReservationPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf).with_notice(notice),
        id,
        seconds_left: if status.is_active() {
            (reservation.expires_at - now).num_seconds().max(0)
        } else {
            0
        },
        expires_at: reservation.expires_at.to_rfc3339(),
        status,
        justification: reservation.justification,
        numbers,
        targets,
        error: None,
        kept: None,
        notices,
        can_extend: status.is_active() && !approval.as_ref().is_some_and(|a| a.is_pending()),
        approval,
        require_e911,
        e911,
    })
}

pub async fn show(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let id = ReservationId(parse_id(&id, "reservation")?);
    let mut page = reservation_page(&state, &caller, id, None).await?;
    page.chrome = page
        .chrome
        .with_notice_about(q.notice.as_deref(), q.number.as_deref());
    Ok(render(&page))
}

#[derive(askama::Template)]
#[template(path = "reservations.html")]
struct ReservationsPage {
    chrome: Chrome,
    reservations: Vec<(repo::ReservationRow, repo::ReservationStatus)>,
}

pub async fn list(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    let tenant_id = caller.principal.tenant()?;
    let mut conn = state.pool.acquire().await?;
    let rows = repo::list_for_user(&mut conn, tenant_id, Some(caller.principal.user_id)).await?;
    let now = Utc::now();
    let reservations = rows
        .into_iter()
        .map(|r| {
            let s = r.effective_status(now);
            (r, s)
        })
        .collect();
    Ok(render(&ReservationsPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        reservations,
    }))
}

/// One number's provision form: `target` is `kind:id`, or `extension:new` with `new_extension`.
pub async fn provision(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let id = ReservationId(parse_id(&id, "reservation")?);
    let form = Form::parse(&body);
    if form.raw("all") == Some("yes") {
        return provision_all(&state, &caller, request_id.as_deref(), id, &form).await;
    }
    let outcome = match one_assignment(&form) {
        Ok(spec) => {
            super::provision::provision(
                &state,
                &caller.principal,
                id,
                &[spec],
                request_id.as_deref(),
            )
            .await
        }
        Err(err) => Err(err),
    };
    let error = match outcome {
        Ok(results) => match results.iter().find(|r| !r.ok) {
            None => {
                let number = results
                    .first()
                    .map(|r| {
                        url::form_urlencoded::byte_serialize(r.number.as_bytes())
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                return Ok(Redirect::to(&format!(
                    "/reservations/{id}?notice=provisioned&number={number}"
                ))
                .into_response());
            }
            Some(failed) => AppError::ProviderPartial {
                message: format!(
                    "{} could not be provisioned: {}. It is still held; you can retry.",
                    failed.number,
                    failed.error.as_deref().unwrap_or("failed")
                ),
                details: serde_json::Value::Null,
            },
        },
        Err(err) => err,
    };
    error.log();
    let status = error.status();
    let mut page = reservation_page(&state, &caller, id, None).await?;
    page.error = Some(error.public_message());
    page.kept = form.raw("number").map(|number| Kept {
        number: number.to_string(),
        fields: form.pairs().to_vec(),
    });
    Ok((status, render(&page)).into_response())
}

/// The one number's row of the form: the number, its target (an existing one as
/// `kind:id`, or `kind:new` with the new extension's name) and its display name.
fn one_assignment(form: &Form) -> Result<AssignmentSpec, AppError> {
    let row = form
        .raw("number")
        .map(crate::domain::e164::format_national)
        .unwrap_or_else(|| "This number".into());
    let number = form
        .raw("number")
        .ok_or_else(|| AppError::invalid_field("number", "Which number? Reload the page."))?;
    let target = form.raw("target").unwrap_or("");
    let (kind, target_id) = target.split_once(':').ok_or_else(|| {
        AppError::invalid_field("target", format!("{row}: choose a routing target."))
    })?;
    let target = if target_id == "new" {
        let name = form
            .raw("new_extension")
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let name = name.ok_or_else(|| {
            AppError::invalid_field("new_extension", format!("{row}: name the new extension."))
        })?;
        TargetSpec {
            kind: kind.to_string(),
            id: None,
            name: Some(name.to_string()),
        }
    } else {
        TargetSpec {
            kind: kind.to_string(),
            id: Some(target_id.to_string()),
            name: None,
        }
    };
    let number =
        E164::parse(number).map_err(|e| AppError::invalid_field("number", e.to_string()))?;
    Ok(AssignmentSpec {
        number: number.to_string(),
        name: form.raw("display_name").map(str::to_string),
        target,
    })
}

pub async fn cancel(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> PageResult {
    let id = ReservationId(parse_id(&id, "reservation")?);
    super::cancel(&state, &caller.principal, id, request_id.as_deref()).await?;
    Ok(Redirect::to(&format!("/reservations/{id}?notice=cancelled")).into_response())
}

pub async fn extend(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> PageResult {
    let id = ReservationId(parse_id(&id, "reservation")?);
    match super::extend::extend(&state, &caller.principal, id, request_id.as_deref()).await {
        Ok(_) => Ok(Redirect::to(&format!("/reservations/{id}?notice=extended")).into_response()),
        // Refused: said on the reservation's page, above its numbers.
        Err(refused @ (AppError::Conflict { .. } | AppError::Gone { .. })) => {
            let mut page = reservation_page(&state, &caller, id, None).await?;
            page.error = Some(refused.public_message());
            Ok((refused.status(), render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// What the countdown shows before its script (static/app.js) runs: "14:59", or "3:59:59"
/// for a hold that waits hours for a premium approval.
fn countdown(seconds_left: i64) -> String {
    let left = seconds_left.max(0);
    let (hours, minutes, seconds) = (left / 3600, left % 3600 / 60, left % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// A row's form as it was sent.
pub struct Kept {
    number: String,
    fields: Vec<(String, String)>,
}

/// The reservation page's "Provision all" form: one existing target for every number still
/// waiting. Each number is its own saga; the error names each one that failed, and the
/// numbers that failed stay held for a retry.
async fn provision_all(
    state: &AppState,
    caller: &PageCaller,
    request_id: Option<&str>,
    id: ReservationId,
    form: &Form,
) -> PageResult {
    let outcome = async {
        let (kind, target_id) = form
            .raw("target")
            .and_then(|t| t.split_once(':'))
            .filter(|(_, id)| *id != "new" && !id.is_empty())
            .ok_or_else(|| {
                AppError::invalid_field("target", "Choose the target for all the numbers.")
            })?;
        let tenant_id = caller.principal.tenant()?;
        let mut conn = state.pool.acquire().await?;
        repo::find(&mut conn, tenant_id, id)
            .await?
            .ok_or_else(|| AppError::NotFound("reservation".into()))?;
        let specs: Vec<AssignmentSpec> = repo::numbers(&mut conn, id)
            .await?
            .into_iter()
            .filter(|n| n.state == "reserved")
            .map(|n| AssignmentSpec {
                number: n.e164,
                name: None,
                target: TargetSpec {
                    kind: kind.to_string(),
                    id: Some(target_id.to_string()),
                    name: None,
                },
            })
            .collect();
        drop(conn);
        if specs.is_empty() {
            return Err(AppError::invalid_field(
                "numbers",
                "No number of this reservation is waiting for a target.",
            ));
        }
        super::provision::provision(state, &caller.principal, id, &specs, request_id).await
    }
    .await;
    let error = match outcome {
        Ok(results) => {
            let failed: Vec<String> = results
                .iter()
                .filter(|r| !r.ok)
                .map(|r| {
                    format!(
                        "{}: {}",
                        crate::domain::e164::format_national(&r.number),
                        r.error.as_deref().unwrap_or("failed")
                    )
                })
                .collect();
            if failed.is_empty() {
                return Ok(
                    Redirect::to(&format!("/reservations/{id}?notice=provisioned_all"))
                        .into_response(),
                );
            }
            AppError::ProviderPartial {
                message: format!(
                    "{} of {} numbers could not be provisioned ({}). They are still held; you can retry.",
                    failed.len(),
                    results.len(),
                    failed.join("; ")
                ),
                details: serde_json::Value::Null,
            }
        }
        Err(err) => err,
    };
    error.log();
    let status = error.status();
    let mut page = reservation_page(state, caller, id, None).await?;
    page.error = Some(error.public_message());
    Ok((status, render(&page)).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_countdown_shows_hours_when_there_are_any() {
        assert_eq!(super::countdown(899), "14:59");
        assert_eq!(super::countdown(4 * 3600), "4:00:00");
        assert_eq!(super::countdown(3599), "59:59");
        assert_eq!(super::countdown(-5), "0:00");
    }
}
