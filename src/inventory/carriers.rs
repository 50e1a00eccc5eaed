//! Voice carriers and SMS carrier profiles: a reseller admin lists the carriers its
//! uploads may name (global ones and its own), adds its own and picks its own default per kind;
//! the operator manages the global ones (`org_id` NULL). Every change is audited with the
//! acting organization.

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Carrier {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    /// NULL: global (the operator's), offered to every organization.
    pub org_id: Option<Uuid>,
    /// This carrier is its organization's default for its kind.
    pub is_default: bool,
    /// The one an upload row with an empty carrier column gets, for the caller.
    pub effective_default: bool,
    /// The caller may change it (choose it as its default).
    pub editable: bool,
}

/// Whose carriers a caller manages: `None` = the global ones (the operator).
fn owner(caller: &Principal) -> AppResult<Option<Uuid>> {
    let org = caller.inventory_owner()?;
    Ok((!caller.is_operator()).then_some(org))
}

fn parse_kind(kind: &str) -> AppResult<&'static str> {
    match kind.trim().to_ascii_lowercase().as_str() {
        "voice" => Ok("voice"),
        "sms" => Ok("sms"),
        _ => Err(AppError::invalid_field("kind", "“voice” or “sms”")),
    }
}

/// The carriers the caller may name: global ones and its own, with the effective default.
pub async fn list(state: &AppState, caller: &Principal) -> AppResult<Vec<Carrier>> {
    let owner = owner(caller)?;
    Ok(sqlx::query_as(
        "SELECT c.id, c.kind, c.name, c.org_id, c.is_default,
                c.id = (SELECT d.id FROM carriers d WHERE d.kind = c.kind AND d.is_default
                          AND (d.org_id IS NULL OR d.org_id = $1)
                        ORDER BY d.org_id NULLS LAST LIMIT 1) IS TRUE AS effective_default,
                c.org_id IS NOT DISTINCT FROM $1 AS editable
         FROM carriers c WHERE c.org_id IS NULL OR c.org_id = $1
         ORDER BY c.kind, lower(c.name)",
    )
    .bind(owner)
    .fetch_all(&state.pool)
    .await?)
}

#[derive(Debug, Clone, Deserialize)]
pub struct NewCarrier {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub is_default: bool,
}

pub async fn create(
    state: &AppState,
    caller: &Principal,
    new: &NewCarrier,
    request_id: Option<&str>,
) -> AppResult<Carrier> {
    let owner = owner(caller)?;
    let kind = parse_kind(&new.kind)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::invalid_field(
            "name",
            "from 1 to 100 characters, no control characters",
        ));
    }
    let mut tx = state.pool.begin().await?;
    // Serializes carrier changes of one organization (default flips included).
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('carriers:' || coalesce($1::text, '')))")
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    let taken: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM carriers WHERE kind = $1 AND lower(name) = lower($2)
                          AND (org_id IS NULL OR org_id IS NOT DISTINCT FROM $3))",
    )
    .bind(kind)
    .bind(name)
    .bind(owner)
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        return Err(AppError::conflict(
            "carrier_exists",
            format!("a {kind} carrier named “{name}” already exists"),
            json!(null),
        ));
    }
    if new.is_default {
        clear_default(&mut tx, owner, kind).await?;
    }
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO carriers (id, org_id, kind, name, is_default) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(owner)
    .bind(kind)
    .bind(name)
    .bind(new.is_default)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::new(Action::CarrierCreate, Outcome::Success)
        .by(None, Some(caller.user_id), request_id)
        .org(caller.org_id)
        .target("carrier", Some(&id.to_string()))
        .details(json!({ "kind": kind, "name": name, "is_default": new.is_default, "global": owner.is_none() }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    find(state, caller, id).await
}

async fn clear_default(
    tx: &mut sqlx::PgConnection,
    owner: Option<Uuid>,
    kind: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE carriers SET is_default = false
         WHERE org_id IS NOT DISTINCT FROM $1 AND kind = $2 AND is_default",
    )
    .bind(owner)
    .bind(kind)
    .execute(tx)
    .await?;
    Ok(())
}

async fn find(state: &AppState, caller: &Principal, id: Uuid) -> AppResult<Carrier> {
    list(state, caller)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| AppError::NotFound("carrier".into()))
}

/// Makes one of the caller's own carriers its default for that carrier's kind.
pub async fn set_default(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    request_id: Option<&str>,
) -> AppResult<Carrier> {
    let owner = owner(caller)?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('carriers:' || coalesce($1::text, '')))")
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    let row: Option<(String, String, Option<Uuid>)> = sqlx::query_as(
        "SELECT kind, name, org_id FROM carriers WHERE id = $1 AND (org_id IS NULL OR org_id = $2)",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(&mut *tx)
    .await?;
    let (kind, name, org) = row.ok_or_else(|| AppError::NotFound("carrier".into()))?;
    if org != owner {
        return Err(AppError::Forbidden(format!(
            "“{name}” is a global carrier: only the operator chooses the global default; add your own carrier to make it your default"
        )));
    }
    clear_default(&mut tx, owner, &kind).await?;
    sqlx::query("UPDATE carriers SET is_default = true WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::new(Action::CarrierDefault, Outcome::Success)
        .by(None, Some(caller.user_id), request_id)
        .org(caller.org_id)
        .target("carrier", Some(&id.to_string()))
        .details(json!({ "kind": kind, "name": name, "global": owner.is_none() }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    find(state, caller, id).await
}
