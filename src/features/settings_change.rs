//! A change to a tenant's settings: checked, saved and audited in one transaction, with a
//! new default caller-ID name applied to every number without its own.

use serde::{Deserialize, Deserializer};
use serde_json::json;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::E164;
use crate::domain::cnam::Cnam;
use crate::domain::policy::{Approver, Principal};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::tenants::settings::{Saved, TenantSettings, UnassignedBehavior, load};

/// Distinguishes a field set to null (clear it) from a field left out (keep it).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A change to the settings; fields left out keep their value.
#[derive(Debug, Default, Deserialize)]
pub struct SettingsUpdate {
    #[serde(default, deserialize_with = "present")]
    pub cnam_default: Option<Option<String>>,
    #[serde(default)]
    pub require_e911: Option<bool>,
    #[serde(default)]
    pub unassigned_behavior: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub main_number: Option<Option<String>>,
    #[serde(default)]
    pub premium_approver: Option<String>,
}

/// The main number after the change: kept when not given, cleared when given empty.
fn main_number(change: &SettingsUpdate, before: &TenantSettings) -> AppResult<Option<String>> {
    let Some(raw) = &change.main_number else {
        return Ok(before.main_number.clone());
    };
    match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Ok(Some(
            E164::parse(s)
                .map_err(|e| AppError::invalid_field("main_number", e.to_string()))?
                .as_str()
                .to_string(),
        )),
    }
}

pub async fn update(
    state: &AppState,
    caller: &Principal,
    change: &SettingsUpdate,
    request_id: Option<&str>,
) -> AppResult<TenantSettings> {
    let tenant_id = caller.tenant_admin()?;
    let mut tx = state.pool.begin().await?;
    // Serialize concurrent updates of one tenant's settings.
    sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    let before = load(&mut tx, tenant_id).await?;

    let cnam_default = match &change.cnam_default {
        None => before.cnam_default(),
        Some(raw) => Cnam::parse_optional(raw.as_deref())
            .map_err(|e| AppError::invalid_field("cnam_default", e.to_string()))?,
    };
    let behavior = match &change.unassigned_behavior {
        None => before.behavior(),
        Some(raw) => UnassignedBehavior::parse(raw.trim())
            .map_err(|e| AppError::invalid_field("unassigned_behavior", e))?,
    };
    let main_number = main_number(change, &before)?;
    if behavior == UnassignedBehavior::MainNumber && main_number.is_none() {
        return Err(AppError::invalid_field(
            "main_number",
            "give the main number that calls to unrouted numbers should go to",
        ));
    }
    let require_e911 = change.require_e911.unwrap_or(before.require_e911);
    let approver = match &change.premium_approver {
        None => before.approver(),
        Some(raw) => Approver::parse(raw.trim())
            .map_err(|e| AppError::invalid_field("premium_approver", e))?,
    };
    if !before.approver().tenant_may_change_to(approver) {
        return Err(AppError::Forbidden(
            "your reseller approves premium numbers for this tenant: only the reseller can change that"
                .into(),
        ));
    }

    let saved = Saved {
        cnam_default: cnam_default.as_ref().map(Cnam::as_str),
        require_e911,
        behavior,
        main_number: main_number.as_deref(),
        approver,
    };
    crate::tenants::settings::save(&mut tx, tenant_id, &saved).await?;

    let default_changed = before.cnam_default.as_deref() != cnam_default.as_ref().map(Cnam::as_str);
    let resent = if default_changed {
        super::cnam::apply_default(&mut tx, tenant_id, cnam_default.as_ref()).await?
    } else {
        0
    };
    let after = load(&mut tx, tenant_id).await?;
    let entry = Entry::new(Action::Settings, Outcome::Success)
        .by(Some(tenant_id), Some(caller.user_id), request_id)
        .details(json!({ "before": before, "after": after, "cnam_resent": resent }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_tells_null_from_missing() {
        let clear: SettingsUpdate = serde_json::from_str(r#"{"cnam_default": null}"#).unwrap();
        assert_eq!(clear.cnam_default, Some(None));
        let keep: SettingsUpdate = serde_json::from_str(r#"{"require_e911": false}"#).unwrap();
        assert_eq!(keep.cnam_default, None);
        assert_eq!(keep.require_e911, Some(false));
    }
}
