//! Tenant settings (owner of `tenant_settings`): the default caller-ID name, the E911 activation policy and what calls to
//! a number without a route do.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::TenantId;
use crate::domain::cnam::Cnam;
use crate::domain::policy::Approver;
use crate::error::{AppError, AppResult};

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
    pub tenant_id: TenantId,
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
/// What a tenant admin saves on the settings page.
pub struct Saved<'a> {
    pub cnam_default: Option<&'a str>,
    pub require_e911: bool,
    pub behavior: UnassignedBehavior,
    pub main_number: Option<&'a str>,
    pub approver: Approver,
}

pub async fn save(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    saved: &Saved<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tenant_settings (tenant_id, cnam_default, require_e911, unassigned_behavior, main_number,
                                      premium_approver, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (tenant_id) DO UPDATE SET cnam_default = EXCLUDED.cnam_default, require_e911 = EXCLUDED.require_e911,
             unassigned_behavior = EXCLUDED.unassigned_behavior, main_number = EXCLUDED.main_number,
             premium_approver = EXCLUDED.premium_approver, updated_at = now()",
    )
    .bind(tenant_id)
    .bind(saved.cnam_default)
    .bind(saved.require_e911)
    .bind(saved.behavior.as_str())
    .bind(saved.main_number)
    .bind(saved.approver.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn load(conn: &mut PgConnection, tenant_id: TenantId) -> AppResult<TenantSettings> {
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
}
