//! A tenant's saved dispatchable locations: one per site or floor, given to many numbers. A
//! number registered from one keeps its id, so that changing the saved address registers
//! every such number again. Owns `e911_addresses`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;

use super::e911::checked;
use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::E911AddressId;
use crate::domain::TenantId;
use crate::domain::e911::{AddressInput, E911Address};
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// A tenant keeps at most this many saved addresses.
pub const MAX_SAVED: i64 = 500;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SavedAddress {
    pub id: E911AddressId,
    pub label: String,
    pub street: String,
    pub location: Option<String>,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub country: String,
    pub updated_at: DateTime<Utc>,
    /// The numbers registered from it.
    #[sqlx(skip)]
    pub numbers: Vec<String>,
}

impl SavedAddress {
    pub fn input(&self) -> AddressInput {
        AddressInput {
            street: self.street.clone(),
            location: self.location.clone(),
            city: self.city.clone(),
            state: self.state.clone(),
            zip: self.zip.clone(),
            country: Some(self.country.clone()),
        }
    }

    pub fn one_line(&self) -> String {
        E911Address::parse(&self.input())
            .map(|a| a.one_line())
            .unwrap_or_else(|_| {
                format!("{}, {} {} {}", self.street, self.city, self.state, self.zip)
            })
    }
}

/// A saved address as typed: its label and the address.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SavedInput {
    #[serde(default)]
    pub label: String,
    #[serde(flatten)]
    pub address: AddressInput,
    /// Keep the address even when the address guide knows it in another form.
    #[serde(default)]
    pub as_typed: bool,
}

fn label(raw: &str) -> AppResult<String> {
    let label = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if label.is_empty() {
        return Err(AppError::invalid_field(
            "label",
            "name the address (like Austin HQ, floor 3), so that it can be chosen for a number",
        ));
    }
    if label.chars().count() > 60 || label.chars().any(char::is_control) {
        return Err(AppError::invalid_field(
            "label",
            "the name is limited to 60 characters, without control characters",
        ));
    }
    Ok(label)
}

const COLUMNS: &str = "id, label, street, location, city, state::text AS state, zip, country::text AS country, updated_at";

async fn with_numbers(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    mut saved: Vec<SavedAddress>,
) -> AppResult<Vec<SavedAddress>> {
    for (id, e164) in super::e911::numbers_by_saved(conn, tenant_id).await? {
        if let Some(s) = saved.iter_mut().find(|s| s.id == id) {
            s.numbers.push(e164);
        }
    }
    Ok(saved)
}

pub async fn list(state: &AppState, caller: &Principal) -> AppResult<Vec<SavedAddress>> {
    let tenant_id = caller.tenant()?;
    let mut conn = state.pool.acquire().await?;
    let saved = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM e911_addresses WHERE tenant_id = $1 ORDER BY lower(label)"
    ))
    .bind(tenant_id)
    .fetch_all(&mut *conn)
    .await?;
    with_numbers(&mut conn, tenant_id, saved).await
}

async fn find(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: E911AddressId,
) -> AppResult<SavedAddress> {
    let found: Option<SavedAddress> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM e911_addresses WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let found = found.ok_or_else(|| AppError::NotFound(format!("saved address {id}")))?;
    Ok(with_numbers(conn, tenant_id, vec![found]).await?.remove(0))
}

pub async fn get(
    state: &AppState,
    caller: &Principal,
    id: E911AddressId,
) -> AppResult<SavedAddress> {
    find(&mut *state.pool.acquire().await?, caller.tenant()?, id).await
}

/// The checked address a number is given when it is registered from `id`, the row held
/// (`FOR SHARE`) until the caller's transaction ends.
pub async fn address_held(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: E911AddressId,
) -> AppResult<E911Address> {
    let saved: Option<SavedAddress> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM e911_addresses WHERE tenant_id = $1 AND id = $2 FOR SHARE"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let saved = saved.ok_or_else(|| AppError::NotFound(format!("saved address {id}")))?;
    super::e911::parse_address(&saved.input())
}

fn label_taken(label: &str) -> AppError {
    AppError::conflict(
        "label_taken",
        format!("your tenant already has a saved address named “{label}”: choose another name"),
        json!({ "label": label }),
    )
}

fn audited(
    caller: &Principal,
    tenant_id: TenantId,
    request_id: Option<&str>,
    event: &str,
    id: E911AddressId,
    label: &str,
    address: Option<&E911Address>,
) -> Entry {
    Entry::new(Action::E911, Outcome::Success)
        .by(Some(tenant_id), Some(caller.user_id), request_id)
        .details(json!({ "event": event, "address_id": id, "label": label, "address": address }))
}

/// Writes a new saved address (`id` None) or changes one; the id written, None when `id` is
/// not the tenant's.
async fn store(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: Option<E911AddressId>,
    label: &str,
    address: &E911Address,
) -> AppResult<Option<E911AddressId>> {
    sqlx::query_scalar(
        "WITH changed AS (
             UPDATE e911_addresses SET label = $2, street = $3, location = $4, city = $5, state = $6,
                 zip = $7, country = $8, updated_at = now()
             WHERE $9::uuid IS NOT NULL AND tenant_id = $1 AND id = $9 RETURNING id),
         added AS (
             INSERT INTO e911_addresses (tenant_id, label, street, location, city, state, zip, country)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE $9::uuid IS NULL RETURNING id)
         SELECT id FROM changed UNION ALL SELECT id FROM added",
    )
    .bind(tenant_id)
    .bind(label)
    .bind(address.street())
    .bind(address.location())
    .bind(address.city())
    .bind(address.state())
    .bind(address.zip())
    .bind(address.country())
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(|e| {
        if e.as_database_error()
            .is_some_and(|d| d.constraint() == Some("e911_addresses_label"))
        {
            label_taken(label)
        } else {
            e.into()
        }
    })
}

pub async fn create(
    state: &AppState,
    caller: &Principal,
    input: &SavedInput,
    request_id: Option<&str>,
) -> AppResult<SavedAddress> {
    let tenant_id = caller.tenant_admin()?;
    let label = label(&input.label)?;
    let address = checked(state, tenant_id, &input.address, input.as_typed).await?;
    let mut tx = state.pool.begin().await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM e911_addresses WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_SAVED {
        return Err(AppError::conflict(
            "too_many_addresses",
            format!(
                "a tenant keeps at most {MAX_SAVED} saved addresses: delete one it no longer uses"
            ),
            json!({ "limit": MAX_SAVED }),
        ));
    }
    let id = store(&mut tx, tenant_id, None, &label, &address)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a new saved address was not stored")))?;
    let entry = audited(
        caller,
        tenant_id,
        request_id,
        "address_saved",
        id,
        &label,
        Some(&address),
    );
    audit::repo::record(&mut tx, &entry).await?;
    let saved = find(&mut tx, tenant_id, id).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Changes a saved address (and its label); every number registered from it is registered
/// again. Returns the address and those numbers.
pub async fn update(
    state: &AppState,
    caller: &Principal,
    id: E911AddressId,
    input: &SavedInput,
    request_id: Option<&str>,
) -> AppResult<(SavedAddress, Vec<String>)> {
    let tenant_id = caller.tenant_admin()?;
    let label = label(&input.label)?;
    find(&mut *state.pool.acquire().await?, tenant_id, id).await?;
    let address = checked(state, tenant_id, &input.address, input.as_typed).await?;
    let mut tx = state.pool.begin().await?;
    // Held until commit: a number given this address meanwhile waits, then reads the new one.
    let before: Option<SavedAddress> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM e911_addresses WHERE tenant_id = $1 AND id = $2 FOR UPDATE"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let before = before.ok_or_else(|| AppError::NotFound(format!("saved address {id}")))?;
    let moved = super::e911::parse_address(&before.input()).ok().as_ref() != Some(&address);
    if store(&mut tx, tenant_id, Some(id), &label, &address)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound(format!("saved address {id}")));
    }
    let mut entry = audited(
        caller,
        tenant_id,
        request_id,
        "address_changed",
        id,
        &label,
        Some(&address),
    );
    if let Some(details) = entry.details.as_mut() {
        details["previous"] = json!({ "label": before.label, "address": before.one_line() });
    }
    audit::repo::record(&mut tx, &entry).await?;
    // A new name alone leaves the numbers' registration as it is.
    let numbers = match moved {
        true => {
            super::e911::follow_saved(&mut tx, caller, tenant_id, id, &address, request_id).await?
        }
        false => Vec::new(),
    };
    let saved = find(&mut tx, tenant_id, id).await?;
    tx.commit().await?;
    Ok((saved, numbers))
}

/// Deletes a saved address no number uses.
pub async fn delete(
    state: &AppState,
    caller: &Principal,
    id: E911AddressId,
    request_id: Option<&str>,
) -> AppResult<()> {
    let tenant_id = caller.tenant_admin()?;
    let mut tx = state.pool.begin().await?;
    let saved = find(&mut tx, tenant_id, id).await?;
    if !saved.numbers.is_empty() {
        return Err(AppError::conflict(
            "address_in_use",
            format!(
                "“{}” is the 911 address of {} number(s) ({}): give them another address first",
                saved.label,
                saved.numbers.len(),
                saved
                    .numbers
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            json!({ "numbers": saved.numbers }),
        ));
    }
    // A number given the address meanwhile holds it through the foreign key.
    sqlx::query("DELETE FROM e911_addresses WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if e.as_database_error()
                .is_some_and(|d| d.is_foreign_key_violation())
            {
                AppError::conflict(
                    "address_in_use",
                    format!(
                        "“{}” was just given to a number: give it another address first",
                        saved.label
                    ),
                    json!({ "numbers": [] }),
                )
            } else {
                e.into()
            }
        })?;
    let entry = audited(
        caller,
        tenant_id,
        request_id,
        "address_deleted",
        id,
        &saved.label,
        None,
    );
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(())
}
