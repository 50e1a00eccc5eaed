//! Who is alerted when 911 is dialed from a tenant's numbers (Kari's Law): the tenant's own
//! contacts, and those a number adds for its site. A test alert goes to each of them, by
//! email through the outbox and by text message through the carrier. Owns `e911_contacts`.

use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::e911::E911Status;
use crate::domain::e911_notify::{self, Contact, ContactInput, MAX_CONTACTS};
use crate::domain::ownership::Channel;
use crate::domain::policy::Principal;
use crate::domain::{E164, E911ContactId, TenantId};
use crate::error::{AppError, AppResult};
use crate::providers::CarrierFeature;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ContactRow {
    pub id: E911ContactId,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The number whose own contact this is; None for the tenant's contacts (every number).
    #[sqlx(rename = "e164")]
    pub number: Option<String>,
}

/// How one contact was reached by an alert.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub contact: String,
    pub channel: &'static str,
    pub to: String,
    /// Queued for the mailer, or accepted by the carrier.
    pub sent: bool,
    pub problem: Option<String>,
}

const COLUMNS: &str = "id, name, email, phone, e164";

/// The tenant's contacts; with `number`, those alerted for that number (the tenant's and the
/// number's own).
pub async fn list(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    number: Option<&str>,
) -> sqlx::Result<Vec<ContactRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM e911_contacts
         WHERE tenant_id = $1 AND ($2::text IS NULL OR e164 IS NULL OR e164 = $2)
         ORDER BY e164 NULLS FIRST, lower(name), id"
    ))
    .bind(tenant_id)
    .bind(number)
    .fetch_all(conn)
    .await
}

pub async fn add(
    state: &AppState,
    caller: &Principal,
    input: &ContactInput,
    number: Option<&E164>,
    request_id: Option<&str>,
) -> AppResult<ContactRow> {
    let tenant_id = caller.tenant_admin()?;
    let contact =
        Contact::parse(input).map_err(|e| AppError::invalid_fields("invalid_contact", e))?;
    let mut tx = state.pool.begin().await?;
    if let Some(n) = number {
        crate::numbers::repo::find(&mut tx, tenant_id, n.as_str())
            .await?
            .ok_or_else(|| AppError::NotFound(format!("number {n}")))?;
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM e911_contacts WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_CONTACTS as i64 {
        return Err(AppError::conflict(
            "too_many_contacts",
            format!("a tenant keeps at most {MAX_CONTACTS} 911 alert contacts"),
            json!({ "limit": MAX_CONTACTS }),
        ));
    }
    let row: ContactRow = sqlx::query_as(&format!(
        "INSERT INTO e911_contacts (tenant_id, e164, name, email, phone)
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(number.map(E164::as_str))
    .bind(&contact.name)
    .bind(&contact.email)
    .bind(contact.phone.as_ref().map(E164::as_str))
    .fetch_one(&mut *tx)
    .await?;
    let mut entry = Entry::new(Action::E911, Outcome::Success)
        .by(Some(tenant_id), Some(caller.user_id), request_id)
        .details(json!({ "event": "alert_contact_added", "contact": row }));
    if let Some(n) = number {
        entry = entry.number(n.as_str());
    }
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn remove(
    state: &AppState,
    caller: &Principal,
    id: E911ContactId,
    request_id: Option<&str>,
) -> AppResult<ContactRow> {
    let tenant_id = caller.tenant_admin()?;
    let mut tx = state.pool.begin().await?;
    let row: ContactRow = sqlx::query_as(&format!(
        "DELETE FROM e911_contacts WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("911 alert contact {id}")))?;
    let entry = Entry::new(Action::E911, Outcome::Success)
        .by(Some(tenant_id), Some(caller.user_id), request_id)
        .details(json!({ "event": "alert_contact_removed", "contact": row }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(row)
}

/// Sends a test alert for `number` to everyone alerted for it, and says how each was reached.
pub async fn test_alert(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    request_id: Option<&str>,
) -> AppResult<Vec<Delivery>> {
    let tenant_id = caller.tenant_admin()?;
    let mut conn = state.pool.acquire().await?;
    crate::numbers::repo::find(&mut conn, tenant_id, number.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    // Text messages cost money and reach people who never asked for them: one test a minute.
    let last =
        audit::repo::last_event_at(&mut conn, tenant_id, number.as_str(), "E911", "test_alert")
            .await?;
    if let Some(wait) = e911_notify::test_wait(last, chrono::Utc::now()) {
        return Err(AppError::conflict(
            "alert_too_soon",
            format!(
                "a test alert for {number} went out less than a minute ago: send another in {wait} seconds"
            ),
            json!({ "retry_after_seconds": wait }),
        ));
    }
    let contacts = list(&mut conn, tenant_id, Some(number.as_str())).await?;
    if contacts.is_empty() {
        return Err(AppError::Invalid {
            code: "no_alert_contacts",
            message: format!(
                "no one would be alerted for {number}: add your tenant's 911 alert contacts on the Emergency calling page, or this number's own below"
            ),
            details: json!({ "number": number }),
        });
    }
    let view = super::e911::view(&mut conn, tenant_id, number.as_str()).await?;
    drop(conn);
    let registered = (view.status == E911Status::Registered)
        .then(|| view.one_line())
        .flatten();
    let (subject, body) = e911_notify::alert(number, registered.as_deref(), true);
    let mut deliveries = Vec::new();
    // Text messages first, outside any transaction: the carrier may be slow.
    let carrier = state
        .provider_for(tenant_id)
        .await?
        .carrier(CarrierFeature::E911);
    for c in contacts.iter().filter(|c| c.phone.is_some()) {
        let to = c.phone.clone().unwrap_or_default();
        let result = match (&carrier, E164::parse(&to)) {
            (Ok(carrier), Ok(phone)) => carrier
                .send_to_number(&phone, Channel::Sms, &body)
                .await
                .map_err(|e| e.to_string()),
            (Err(e), _) => Err(e.to_string()),
            (_, Err(e)) => Err(e.to_string()),
        };
        deliveries.push(Delivery {
            contact: c.name.clone(),
            channel: "sms",
            to,
            sent: result.is_ok(),
            problem: result.err(),
        });
    }
    let mut tx = state.pool.begin().await?;
    for c in &contacts {
        if let Some(email) = &c.email {
            crate::mail::queue(&mut tx, email, &subject, &body).await?;
            deliveries.push(Delivery {
                contact: c.name.clone(),
                channel: "email",
                to: email.clone(),
                sent: true,
                problem: None,
            });
        }
    }
    let entry = Entry::new(
        Action::E911,
        if deliveries.iter().all(|d| d.sent) {
            Outcome::Success
        } else {
            Outcome::Failure
        },
    )
    .by(Some(tenant_id), Some(caller.user_id), request_id)
    .number(number.as_str())
    .details(json!({ "event": "test_alert", "deliveries": deliveries }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(deliveries)
}
