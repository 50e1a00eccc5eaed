//! Switching a tenant to another platform (or another account of the same one). Inward's
//! routed numbers point at targets of the platform they were provisioned on; after a switch
//! they route nowhere on the new one. Saving a switch therefore says how many numbers it
//! affects and wants a confirmation, and `reapply` routes each of them to the target of the
//! same kind and name on the new platform.

use serde::Serialize;
use serde_json::json;

use super::ConnectionSpec;
use super::repo::ConnectionRow;
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::TenantId;
use crate::domain::policy::Principal;
use crate::domain::{E164, Event, NumberState, TargetKind};
use crate::error::{AppError, AppResult};
use crate::numbers::{lifecycle, repo as numbers};
use crate::state::AppState;

/// Where a tenant's numbers are routed: the platform and which account of it. A tenant
/// without a connection is on the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub kind: String,
    pub region: Option<String>,
    pub base_url: Option<String>,
}

impl Platform {
    pub fn of(row: Option<&ConnectionRow>) -> Platform {
        match row {
            Some(row) => Platform {
                kind: row.kind.clone(),
                region: row.region.clone(),
                base_url: row.base_url.clone(),
            },
            None => Platform {
                kind: "sandbox".into(),
                region: None,
                base_url: None,
            },
        }
    }

    pub fn of_spec(spec: &ConnectionSpec) -> Platform {
        Platform {
            kind: spec.kind.as_str().into(),
            region: spec.region.clone(),
            base_url: spec.base_url.clone(),
        }
    }

    pub fn label(&self) -> String {
        match (&self.region, &self.base_url) {
            (_, Some(url)) => format!("{} at {url}", self.kind),
            (Some(region), None) => format!("{} {region}", self.kind),
            (None, None) => self.kind.clone(),
        }
    }
}

/// Saving `to` over `from` is refused while it would strand `routed` numbers, unless the
/// caller confirmed. New credentials for the same platform and account are no switch.
pub fn confirm(from: &Platform, to: &Platform, routed: usize, confirmed: bool) -> AppResult<()> {
    if from == to || routed == 0 || confirmed {
        return Ok(());
    }
    Err(AppError::conflict(
        "switch_affects_numbers",
        format!(
            "{routed} routed number{} {} routed on {}; on {} {} route nowhere until {} routing is re-applied. Confirm the switch, then re-apply their routing",
            if routed == 1 { "" } else { "s" },
            if routed == 1 { "is" } else { "are" },
            from.label(),
            to.label(),
            if routed == 1 {
                "it would"
            } else {
                "they would"
            },
            if routed == 1 { "its" } else { "their" },
        ),
        // The API confirms with `confirm_switch`, the page with a box beside the form.
        json!({ "affected_numbers": routed, "from": from.kind, "to": to.kind, "confirm_with": "confirm_switch" }),
    ))
}

/// How re-applying went for one number.
#[derive(Debug, Clone, Serialize)]
pub struct Reapplied {
    pub number: String,
    /// `routed`, `no_matching_target` or `failed`.
    pub outcome: &'static str,
    pub target_type: Option<String>,
    pub target_name: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReapplyReport {
    pub routed: usize,
    pub no_matching_target: usize,
    pub failed: usize,
    pub results: Vec<Reapplied>,
}

impl ReapplyReport {
    fn from(results: Vec<Reapplied>) -> ReapplyReport {
        let count = |o: &str| results.iter().filter(|r| r.outcome == o).count();
        ReapplyReport {
            routed: count("routed"),
            no_matching_target: count("no_matching_target"),
            failed: count("failed"),
            results,
        }
    }
}

/// The tenant's routed numbers (active, pending or orphaned).
pub async fn routed_count(state: &AppState, tenant: TenantId) -> AppResult<usize> {
    Ok(numbers::routed_count(&state.pool, tenant).await?.max(0) as usize)
}

/// Routes every routed number of the caller's tenant to the target of the same kind and
/// name on the platform the tenant is connected to now. Numbers whose target has no
/// namesake there are left as they are (the Drift page shows them unrouted).
pub async fn reapply(
    state: &AppState,
    caller: &Principal,
    request_id: Option<&str>,
) -> AppResult<ReapplyReport> {
    let tenant = caller.manage_tenant()?;
    let provider = state.platform_for(tenant).await?;
    let mut results = Vec::new();
    for shown in numbers::shown_for_check(&state.pool, tenant, &[]).await? {
        let (Some(kind), Some(name)) = (shown.target_type.as_deref(), shown.target_name.clone())
        else {
            continue;
        };
        let Ok(kind) = kind.parse::<TargetKind>() else {
            continue;
        };
        let Ok(from) = shown.lifecycle.parse::<NumberState>() else {
            continue;
        };
        let Ok(number) = E164::parse(&shown.e164) else {
            continue;
        };
        let mut result = Reapplied {
            number: shown.e164.clone(),
            outcome: "routed",
            target_type: Some(kind.as_str().into()),
            target_name: Some(name.clone()),
            message: String::new(),
        };
        match route_again(state, tenant, &number, from, kind, &name, provider.as_ref()).await {
            Ok(Some(message)) => result.message = message,
            Ok(None) => {
                result.outcome = "no_matching_target";
                result.message = format!(
                    "no {} named “{name}” on this platform: create it, or route the number from the Drift page",
                    kind.label()
                );
            }
            Err(err) => {
                result.outcome = "failed";
                result.message = err.public_message();
            }
        }
        let outcome = if result.outcome == "routed" {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        let entry = Entry::new(Action::Connect, outcome)
            .by(Some(tenant), Some(caller.user_id), request_id)
            .number(&shown.e164)
            .details(json!({ "reapplied": result.outcome, "target_type": kind.as_str(), "target_name": name, "message": result.message }));
        audit::repo::record(&mut *state.pool.acquire().await?, &entry).await?;
        results.push(result);
    }
    Ok(ReapplyReport::from(results))
}

/// One number: find the namesake target, route the number to it, record it in Inward.
/// `None` when the platform has no such target.
async fn route_again(
    state: &AppState,
    tenant: TenantId,
    number: &E164,
    from: NumberState,
    kind: TargetKind,
    name: &str,
    provider: &dyn crate::providers::Platform,
) -> AppResult<Option<String>> {
    if crate::numbers::reroute::in_progress(&state.pool, number.as_str()).await? {
        return Err(crate::numbers::reroute::busy(number));
    }
    let Some(target) = provider.find_target_by_name(tenant, kind, name).await? else {
        return Ok(None);
    };
    let current = numbers::find(&mut *state.pool.acquire().await?, tenant, number.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    let number_ref = crate::providers::NumberRef {
        e164: number,
        state: current.us_state.as_deref(),
    };
    provider.unassign(tenant, number).await?;
    provider
        .assign(tenant, number_ref, &target, current.display_name.as_deref())
        .await?;
    let mut tx = state.pool.begin().await?;
    if !lifecycle::retargeted(
        &mut tx,
        number.as_str(),
        tenant,
        from,
        Event::Reapplied,
        &target,
    )
    .await?
    {
        return Err(AppError::conflict(
            "state_changed",
            format!(
                "{number} changed while its routing was re-applied; check it on the Drift page"
            ),
            json!(null),
        ));
    }
    tx.commit().await?;
    Ok(Some(format!(
        "routed to {} {} ({})",
        kind.label(),
        target.name,
        target.id
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(kind: &str, region: Option<&str>, base_url: Option<&str>) -> Platform {
        Platform {
            kind: kind.into(),
            region: region.map(str::to_string),
            base_url: base_url.map(str::to_string),
        }
    }

    #[test]
    fn new_credentials_for_the_same_account_are_no_switch() {
        let genesys = platform("genesys", Some("mypurecloud.de"), None);
        assert!(confirm(&genesys, &genesys.clone(), 12, false).is_ok());
    }

    #[test]
    fn another_platform_region_or_host_with_routed_numbers_needs_a_confirmation() {
        let from = platform("genesys", Some("mypurecloud.de"), None);
        for to in [
            platform("cxone", None, None),
            platform("genesys", Some("mypurecloud.ie"), None),
            platform("genesys", None, Some("https://api.example.test")),
            platform("sandbox", None, None),
        ] {
            let err = confirm(&from, &to, 3, false).unwrap_err();
            assert_eq!(err.status(), axum::http::StatusCode::CONFLICT, "{to:?}");
            let message = err.public_message();
            assert!(
                message.contains("3 routed numbers are routed on genesys mypurecloud.de"),
                "{message}"
            );
            assert!(confirm(&from, &to, 3, true).is_ok());
        }
    }

    #[test]
    fn a_switch_with_nothing_routed_needs_no_confirmation() {
        let from = Platform::of(None);
        assert_eq!(from.kind, "sandbox");
        assert!(confirm(&from, &platform("ringcx", None, None), 0, false).is_ok());
        let one = confirm(&from, &platform("ringcx", None, None), 1, false).unwrap_err();
        assert!(
            one.public_message()
                .starts_with("1 routed number is routed on sandbox")
        );
    }
}
