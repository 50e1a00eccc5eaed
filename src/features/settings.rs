//! Tenant settings: the default caller-ID name, the E911 activation policy and what calls to
//! a number without a route do.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::E164;
use crate::domain::cnam::Cnam;
use crate::domain::policy::{Approver, Principal};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What calls to a number with no route do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnassignedBehavior {
    /// Play the "this number is not in service" message.
    Message,
    /// Ring the tenant's main number instead.
    MainNumber,
    /// Reject the call (the caller hears a reorder tone).
    Reject,
}

impl UnassignedBehavior {
    pub const ALL: [UnassignedBehavior; 3] = [
        UnassignedBehavior::Message,
        UnassignedBehavior::MainNumber,
        UnassignedBehavior::Reject,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnassignedBehavior::Message => "message",
            UnassignedBehavior::MainNumber => "main_number",
            UnassignedBehavior::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Result<UnassignedBehavior, String> {
        UnassignedBehavior::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| format!("unknown behaviour “{s}”: use message, main_number or reject"))
    }

    pub fn label(self) -> &'static str {
        match self {
            UnassignedBehavior::Message => "Play a \"not in service\" message",
            UnassignedBehavior::MainNumber => "Send the call to the main number",
            UnassignedBehavior::Reject => "Reject the call",
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TenantSettings {
    pub tenant_id: Uuid,
    pub cnam_default: Option<String>,
    pub require_e911: bool,
    pub unassigned_behavior: String,
    pub main_number: Option<String>,
    /// Who approves premium reservations: `none`, `tenant_admin` or `reseller`.
    pub premium_approver: String,
    pub updated_at: Option<DateTime<Utc>>,
}

impl TenantSettings {
    pub fn behavior(&self) -> UnassignedBehavior {
        UnassignedBehavior::parse(&self.unassigned_behavior).unwrap_or(UnassignedBehavior::Message)
    }

    /// One sentence for the pages: what happens to a call to a number with no route.
    pub fn unassigned_description(&self) -> String {
        match (self.behavior(), &self.main_number) {
            (UnassignedBehavior::MainNumber, Some(main)) => format!(
                "Calls go to the main number {}",
                crate::domain::e164::format_national(main)
            ),
            (b, _) => b.label().to_string(),
        }
    }

    pub fn approver(&self) -> Approver {
        Approver::parse(&self.premium_approver).unwrap_or(Approver::TenantAdmin)
    }

    pub fn cnam_default(&self) -> Option<Cnam> {
        self.cnam_default
            .as_deref()
            .and_then(|c| Cnam::parse(c).ok())
    }
}

/// A tenant's settings; a tenant that never saved any has the defaults.
pub async fn load(conn: &mut PgConnection, tenant_id: Uuid) -> AppResult<TenantSettings> {
    sqlx::query_as(
        "SELECT o.id AS tenant_id, s.cnam_default, coalesce(s.require_e911, true) AS require_e911,
                coalesce(s.unassigned_behavior, 'message') AS unassigned_behavior, s.main_number,
                coalesce(s.premium_approver, 'tenant_admin') AS premium_approver, s.updated_at
         FROM organizations o LEFT JOIN tenant_settings s ON s.tenant_id = o.id
         WHERE o.id = $1 AND o.kind = 'tenant'",
    )
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound("tenant".into()))
}

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
    let main_number = match &change.main_number {
        None => before.main_number.clone(),
        Some(raw) => match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(
                E164::parse(s)
                    .map_err(|e| AppError::invalid_field("main_number", e.to_string()))?
                    .as_str()
                    .to_string(),
            ),
        },
    };
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

    sqlx::query(
        "INSERT INTO tenant_settings (tenant_id, cnam_default, require_e911, unassigned_behavior, main_number,
                                      premium_approver, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (tenant_id) DO UPDATE SET cnam_default = EXCLUDED.cnam_default, require_e911 = EXCLUDED.require_e911,
             unassigned_behavior = EXCLUDED.unassigned_behavior, main_number = EXCLUDED.main_number,
             premium_approver = EXCLUDED.premium_approver, updated_at = now()",
    )
    .bind(tenant_id)
    .bind(cnam_default.as_ref().map(Cnam::as_str))
    .bind(require_e911)
    .bind(behavior.as_str())
    .bind(&main_number)
    .bind(approver.as_str())
    .execute(&mut *tx)
    .await?;

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
    fn unassigned_behaviour_parses_its_three_choices_only() {
        for b in UnassignedBehavior::ALL {
            assert_eq!(UnassignedBehavior::parse(b.as_str()), Ok(b));
        }
        assert!(
            UnassignedBehavior::parse("voicemail")
                .unwrap_err()
                .contains("message, main_number or reject")
        );
    }

    #[test]
    fn an_update_tells_null_from_missing() {
        let clear: SettingsUpdate = serde_json::from_str(r#"{"cnam_default": null}"#).unwrap();
        assert_eq!(clear.cnam_default, Some(None));
        let keep: SettingsUpdate = serde_json::from_str(r#"{"require_e911": false}"#).unwrap();
        assert_eq!(keep.cnam_default, None);
        assert_eq!(keep.require_e911, Some(false));
    }
}
