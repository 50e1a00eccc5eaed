//! Porting numbers in: a tenant admin creates a port request, uploads the signed Letter of
//! Authorization and submits it; each number then moves on its own (submitted → carrier
//! acknowledged → FOC date set → completed, or rejected with the carrier's reason, fixable
//! and resubmittable). On the FOC date the number becomes the tenant's, routed to the target
//! chosen in the request. Every status change is an event, a portal notification and an email.

pub mod api;
pub mod pages;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::TenantId;
use crate::domain::UserId;
use crate::domain::e911::FieldError;
use crate::domain::policy::Principal;
use crate::domain::port::{PortDetails, PortEvent, PortInput, PortRequest, PortStatus, check_loa};
use crate::domain::{Target, TargetKind};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub mod routes;
mod sync;
pub use sync::sync;

fn invalid(errors: Vec<FieldError>) -> AppError {
    AppError::Invalid {
        code: "invalid_port_request",
        message: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        details: json!({ "errors": errors }),
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct TargetSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CreateRequest {
    #[serde(flatten)]
    pub input: PortInput,
    pub target: TargetSpec,
}

async fn resolve_target(
    state: &AppState,
    tenant: TenantId,
    spec: &TargetSpec,
) -> AppResult<Target> {
    let kind: TargetKind = spec
        .kind
        .parse()
        .map_err(|e: String| AppError::invalid_field("target.type", e))?;
    let provider = state.platform_for(tenant).await?;
    let found = match (
        spec.id.as_deref().filter(|s| !s.is_empty()),
        spec.name.as_deref().filter(|s| !s.is_empty()),
    ) {
        (Some(id), _) => provider.find_target(tenant, kind, id).await?,
        (None, Some(name)) => provider.find_target_by_name(tenant, kind, name).await?,
        (None, None) => {
            return Err(AppError::invalid_field(
                "target",
                "choose where the numbers are routed once ported",
            ));
        }
    };
    found.ok_or_else(|| {
        AppError::NotFound(format!(
            "{} among your tenant's routing targets",
            kind.label()
        ))
    })
}

#[allow(clippy::too_many_arguments)]
async fn audit_port(
    conn: &mut PgConnection,
    action: Action,
    outcome: Outcome,
    tenant_id: TenantId,
    user: Option<UserId>,
    request_id: Option<&str>,
    e164: Option<&str>,
    details: serde_json::Value,
) -> sqlx::Result<()> {
    let mut entry = Entry::new(action, outcome)
        .by(Some(tenant_id), user, request_id)
        .details(details);
    if let Some(n) = e164 {
        entry = entry.number(n);
    }
    audit::repo::record(conn, &entry).await
}

/// Records a status change: the timeline event, a portal notification and an email to the
/// requester.
async fn record_event(
    conn: &mut PgConnection,
    port_id: Uuid,
    e164: Option<&str>,
    status: &str,
    message: &str,
) -> AppResult<()> {
    sqlx::query("INSERT INTO port_events (port_id, e164, status, message) VALUES ($1, $2, $3, $4)")
        .bind(port_id)
        .bind(e164)
        .bind(status)
        .bind(message)
        .execute(&mut *conn)
        .await?;
    let (user_id, tenant_id, email): (UserId, TenantId, String) = sqlx::query_as(
        "SELECT u.id, p.tenant_id, u.email FROM port_requests p JOIN users u ON u.id = p.requested_by WHERE p.id = $1",
    )
    .bind(port_id)
    .fetch_one(&mut *conn)
    .await?;
    let link = format!("/ports/{port_id}");
    crate::notifications::notify(
        conn,
        user_id,
        tenant_id,
        &format!("Port request: {message}"),
        &link,
    )
    .await?;
    crate::mail::queue(
        conn,
        &email,
        &format!(
            "Port request {}: {}",
            &port_id.to_string()[..8],
            status.replace('_', " ")
        ),
        &format!("{message}\n\nFollow the port request in the portal: {link}\n"),
    )
    .await?;
    Ok(())
}

pub async fn create(
    state: &AppState,
    caller: &Principal,
    request: &CreateRequest,
    request_id: Option<&str>,
) -> AppResult<Uuid> {
    let tenant_id = caller.tenant_admin()?;
    let parsed = PortRequest::parse(&request.input).map_err(invalid)?;
    let target = resolve_target(state, tenant_id, &request.target).await?;
    let numbers: Vec<String> = parsed
        .numbers()
        .iter()
        .map(|n| n.as_str().to_string())
        .collect();
    let mut tx = state.pool.begin().await?;
    // Through the owner's function: another tenant's numbers are hidden from this one, and
    // are on the network all the same (migration 0031).
    let known: Vec<String> =
        sqlx::query_scalar("SELECT known FROM numbers_known($1) AS known ORDER BY 1")
            .bind(&numbers)
            .fetch_all(&mut *tx)
            .await?;
    if !known.is_empty() {
        return Err(AppError::conflict(
            "already_on_network",
            format!(
                "already on Inward's network, so there is nothing to port: {} (search and reserve them instead)",
                known.join(", ")
            ),
            json!({ "numbers": known }),
        ));
    }
    // Only the tenant's own requests count here: another tenant's draft holds nothing, and
    // whether another tenant ports a number is none of this one's business. Two submissions
    // of one number meet at `submit`, where the carriers would refuse the second anyway.
    let open: Vec<String> = sqlx::query_scalar(
        "SELECT n.e164 FROM port_numbers n JOIN port_requests r ON r.id = n.port_id
         WHERE n.e164 = ANY($1) AND r.tenant_id = $2 AND n.status NOT IN ('completed', 'cancelled')
         ORDER BY n.e164",
    )
    .bind(&numbers)
    .bind(tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    if !open.is_empty() {
        return Err(AppError::conflict(
            "port_open",
            format!(
                "already in one of your open port requests: {}",
                open.join(", ")
            ),
            json!({ "numbers": open }),
        ));
    }
    let id = Uuid::new_v4();
    let d = parsed.details();
    sqlx::query(
        "INSERT INTO port_requests (id, tenant_id, requested_by, current_carrier, account_number, pin_sealed, account_name,
                                    service_address, target_type, target_id, target_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(caller.user_id)
    .bind(d.current_carrier())
    .bind(d.account_number())
    .bind(seal_pin(state, d.pin(), id, tenant_id)?)
    .bind(d.account_name())
    .bind(d.service_address())
    .bind(target.kind.as_str())
    .bind(&target.id)
    .bind(&target.name)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO port_numbers (port_id, e164) SELECT $1, unnest($2::text[])")
        .bind(id)
        .bind(&numbers)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO port_events (port_id, status, message) VALUES ($1, 'draft', $2)")
        .bind(id)
        .bind(format!(
            "created with {} numbers; upload the signed LOA and submit",
            numbers.len()
        ))
        .execute(&mut *tx)
        .await?;
    for n in &numbers {
        audit_port(
            &mut tx,
            Action::PortCreate,
            Outcome::Success,
            tenant_id,
            Some(caller.user_id),
            request_id,
            Some(n),
            json!({ "port_id": id, "current_carrier": d.current_carrier() }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Locks the tenant's port request; 404 for anyone else's.
/// What a port request's sealed PIN is bound to.
fn pin_sealed_for(id: Uuid, tenant_id: TenantId) -> String {
    format!("port-pin:{id}:{tenant_id}")
}

/// The PIN as stored: sealed with the server's key for this port request (never in plain
/// text), or nothing.
fn seal_pin(
    state: &AppState,
    pin: Option<&str>,
    id: Uuid,
    tenant_id: TenantId,
) -> AppResult<Option<Vec<u8>>> {
    pin.map(|p| {
        state
            .secrets
            .seal(p.as_bytes(), &pin_sealed_for(id, tenant_id))
            .map_err(|e| {
                AppError::invalid_field(
                    "pin",
                    format!("the port-out PIN is stored encrypted, and this server cannot: {e}"),
                )
            })
    })
    .transpose()
}

/// The stored PIN for the carrier: opened from its seal, or a PIN stored before sealing.
/// `Undecryptable` and `UnknownKey` mean it cannot be opened here for good (another key, or
/// copied from another request); `NoKey` means this instance is missing its key (a
/// configuration to fix, not the tenant's PIN).
pub(crate) fn open_pin(
    state: &AppState,
    sealed: Option<&[u8]>,
    legacy: Option<String>,
    id: Uuid,
    tenant_id: TenantId,
) -> Result<String, crate::connections::crypto::SecretError> {
    match sealed {
        Some(bytes) => String::from_utf8(
            state
                .secrets
                .open(bytes, &pin_sealed_for(id, tenant_id))?
                .plaintext,
        )
        .map_err(|_| crate::connections::crypto::SecretError::Undecryptable),
        None => Ok(legacy.unwrap_or_default()),
    }
}

/// Job step: seals PINs stored in plain text, when the key is set.
pub async fn seal_plaintext_pins(state: &AppState) -> AppResult<usize> {
    if !state.secrets.has_key() {
        let plain: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM port_requests WHERE pin IS NOT NULL LIMIT 1")
                .fetch_optional(&state.pool)
                .await?;
        if plain.is_some() {
            tracing::warn!(
                "port PINs are stored in plain text: set INWARD_SECRETS__KEY to seal them"
            );
        }
        return Ok(0);
    }
    let plain: Vec<(Uuid, TenantId, String)> = sqlx::query_as(
        "SELECT id, tenant_id, pin FROM port_requests WHERE pin IS NOT NULL LIMIT 500",
    )
    .fetch_all(&state.pool)
    .await?;
    let mut sealed = 0;
    for (id, tenant_id, pin) in plain {
        let Some(bytes) = seal_pin(state, Some(&pin), id, tenant_id)? else {
            continue;
        };
        sealed += sqlx::query(
            "UPDATE port_requests SET pin_sealed = $2, pin = NULL WHERE id = $1 AND pin = $3",
        )
        .bind(id)
        .bind(bytes)
        .bind(&pin)
        .execute(&state.pool)
        .await?
        .rows_affected() as usize;
    }
    Ok(sealed)
}

/// Goes through every sealed PIN once, sealing again those that are stale.
pub async fn reseal_pins(state: &AppState) -> AppResult<crate::connections::sealing::Resealed> {
    let mut report = crate::connections::sealing::Resealed::default();
    if !state.secrets.has_key() {
        return Ok(report);
    }
    let mut after = Uuid::nil();
    loop {
        let batch: Vec<(Uuid, TenantId, Vec<u8>)> = sqlx::query_as(
            "SELECT id, tenant_id, pin_sealed FROM port_requests
             WHERE pin_sealed IS NOT NULL AND id > $1 ORDER BY id LIMIT 200",
        )
        .bind(after)
        .fetch_all(&state.pool)
        .await?;
        let Some((last, _, _)) = batch.last() else {
            break;
        };
        after = *last;
        for (id, tenant_id, was) in batch {
            let bound_to = pin_sealed_for(id, tenant_id);
            match state.secrets.open(&was, &bound_to) {
                Ok(opened) if opened.stale => {
                    let Ok(now) = state.secrets.seal(&opened.plaintext, &bound_to) else {
                        break;
                    };
                    report.resealed += sqlx::query(
                        "UPDATE port_requests SET pin_sealed = $3 WHERE id = $1 AND pin_sealed = $2",
                    )
                    .bind(id)
                    .bind(&was)
                    .bind(now)
                    .execute(&state.pool)
                    .await?
                    .rows_affected() as usize;
                }
                Ok(_) => report.current += 1,
                Err(_) => report.unreadable.push(id),
            }
        }
    }
    Ok(report)
}

async fn lock(conn: &mut PgConnection, tenant_id: TenantId, id: Uuid) -> AppResult<()> {
    sqlx::query("SELECT id FROM port_requests WHERE id = $1 AND tenant_id = $2 FOR UPDATE")
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::NotFound("port request".into()))?;
    Ok(())
}

async fn statuses(conn: &mut PgConnection, id: Uuid) -> AppResult<Vec<(String, PortStatus)>> {
    #[derive(sqlx::FromRow)]
    struct Held {
        e164: String,
        #[sqlx(try_from = "String")]
        status: PortStatus,
    }
    let rows: Vec<Held> = sqlx::query_as(
        "SELECT e164, status FROM port_numbers WHERE port_id = $1 ORDER BY e164 FOR UPDATE",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|h| (h.e164, h.status)).collect())
}

/// Corrects the old account's details (before submission, or to fix a rejection).
pub async fn update(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    input: &PortInput,
    request_id: Option<&str>,
) -> AppResult<()> {
    let tenant_id = caller.tenant_admin()?;
    let details = PortDetails::parse(input).map_err(invalid)?;
    let mut tx = state.pool.begin().await?;
    lock(&mut tx, tenant_id, id).await?;
    if details.pin().is_none() {
        // Keeping the PIN on file only helps if it can still be read.
        let (sealed, legacy): (Option<Vec<u8>>, Option<String>) =
            sqlx::query_as("SELECT pin_sealed, pin FROM port_requests WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if matches!(
            open_pin(state, sealed.as_deref(), legacy, id, tenant_id),
            Err(crate::connections::crypto::SecretError::Undecryptable
                | crate::connections::crypto::SecretError::UnknownKey(_))
        ) {
            return Err(AppError::invalid_field(
                "pin",
                "the PIN on file can no longer be read (the server's secrets key changed): enter it again",
            ));
        }
    }
    let fixable = statuses(&mut tx, id)
        .await?
        .iter()
        .any(|(_, s)| matches!(s, PortStatus::Draft | PortStatus::Rejected));
    if !fixable {
        return Err(AppError::conflict(
            "port_in_progress",
            "only a draft or a request with rejected numbers can be changed",
            json!(null),
        ));
    }
    sqlx::query(
        "UPDATE port_requests SET current_carrier = $2, account_number = $3,
                pin = CASE WHEN $4::bytea IS NULL THEN pin END, pin_sealed = coalesce($4, pin_sealed),
                account_name = $5, service_address = $6, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(details.current_carrier())
    .bind(details.account_number())
    .bind(seal_pin(state, details.pin(), id, tenant_id)?)
    .bind(details.account_name())
    .bind(details.service_address())
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO port_events (port_id, status, message) VALUES ($1, 'updated', 'account details corrected')")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit_port(
        &mut tx,
        Action::PortUpdate,
        Outcome::Success,
        tenant_id,
        Some(caller.user_id),
        request_id,
        None,
        json!({ "port_id": id, "details": details }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn upload_loa(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    filename: &str,
    bytes: &[u8],
    request_id: Option<&str>,
) -> AppResult<()> {
    let tenant_id = caller.tenant_admin()?;
    let mut tx = state.pool.begin().await?;
    lock(&mut tx, tenant_id, id).await?;
    check_loa(bytes).map_err(|e| AppError::Invalid {
        code: "invalid_loa",
        message: e,
        details: json!({ "field": "loa" }),
    })?;
    let filename: String = filename
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    sqlx::query("UPDATE port_requests SET loa = $2, loa_filename = $3, loa_uploaded_at = now(), updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(bytes)
        .bind(if filename.is_empty() { "loa.pdf" } else { filename.as_str() })
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO port_events (port_id, status, message) VALUES ($1, 'loa', $2)")
        .bind(id)
        .bind(format!(
            "Letter of Authorization uploaded ({} KiB)",
            bytes.len().div_ceil(1024)
        ))
        .execute(&mut *tx)
        .await?;
    audit_port(
        &mut tx,
        Action::PortLoa,
        Outcome::Success,
        tenant_id,
        Some(caller.user_id),
        request_id,
        None,
        json!({ "port_id": id, "bytes": bytes.len() }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The stored LOA of the tenant's port request.
pub async fn loa(state: &AppState, caller: &Principal, id: Uuid) -> AppResult<(String, Vec<u8>)> {
    let tenant_id = caller.tenant()?;
    let row: Option<(Option<String>, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT loa_filename, loa FROM port_requests WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&state.pool)
    .await?;
    match row {
        Some((name, Some(bytes))) => Ok((name.unwrap_or_else(|| "loa.pdf".into()), bytes)),
        Some(_) => Err(AppError::NotFound("Letter of Authorization".into())),
        None => Err(AppError::NotFound("port request".into())),
    }
}

/// Submits the draft and rejected numbers (a resubmission after a fix starts them again).
pub async fn submit(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    request_id: Option<&str>,
) -> AppResult<usize> {
    let tenant_id = caller.tenant_admin()?;
    let mut tx = state.pool.begin().await?;
    lock(&mut tx, tenant_id, id).await?;
    let has_loa: bool =
        sqlx::query_scalar("SELECT loa IS NOT NULL FROM port_requests WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    if !has_loa {
        return Err(AppError::invalid_field(
            "loa",
            "upload the signed Letter of Authorization (PDF) before submitting",
        ));
    }
    let mut submitted = Vec::new();
    let candidates: Vec<String> = statuses(&mut tx, id)
        .await?
        .into_iter()
        .filter(|(_, s)| s.next(PortEvent::Submit).is_ok())
        .map(|(e, _)| e)
        .collect();
    // A number another request has with the carriers cannot go twice; say which of this
    // request's numbers, and nothing about the other request.
    let busy: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT e164 FROM port_numbers
         WHERE e164 = ANY($1) AND port_id <> $2 AND status IN ('submitted', 'acknowledged', 'foc_set')
         ORDER BY e164",
    )
    .bind(&candidates)
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    if !busy.is_empty() {
        return Err(AppError::conflict(
            "port_in_flight_elsewhere",
            format!(
                "cannot be submitted now, another port of the same numbers is with the carriers: {}",
                busy.join(", ")
            ),
            json!({ "numbers": busy }),
        ));
    }
    for (e164, status) in statuses(&mut tx, id).await? {
        if let Ok(next) = status.next(PortEvent::Submit) {
            sqlx::query(
                "UPDATE port_numbers SET status = $3, reason = NULL, foc_at = NULL, provider_ref = NULL, attempts = 0,
                        next_check_at = now(), updated_at = now() WHERE port_id = $1 AND e164 = $2",
            )
            .bind(id)
            .bind(&e164)
            .bind(next.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                // Another tenant submitted the same number a moment ago.
                sqlx::Error::Database(db) if db.constraint() == Some("port_numbers_one_in_flight") => {
                    AppError::conflict(
                        "port_in_flight_elsewhere",
                        format!(
                            "cannot be submitted now, another port of the same number is with the carriers: {e164}"
                        ),
                        json!({ "numbers": [e164] }),
                    )
                }
                _ => AppError::from(e),
            })?;
            submitted.push(e164);
        }
    }
    if submitted.is_empty() {
        return Err(AppError::conflict(
            "nothing_to_submit",
            "no number of this request is a draft or rejected",
            json!(null),
        ));
    }
    for e164 in &submitted {
        record_event(
            &mut tx,
            id,
            Some(e164),
            "submitted",
            &format!("{e164} submitted to the current carrier"),
        )
        .await?;
        audit_port(
            &mut tx,
            Action::PortSubmit,
            Outcome::Success,
            tenant_id,
            Some(caller.user_id),
            request_id,
            Some(e164),
            json!({ "port_id": id }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(submitted.len())
}

/// Job step: drafts nobody submitted within `porting.draft_expiry_days` are cancelled, each
/// with an event and an audit entry. Returns how many numbers.
pub async fn expire_drafts(state: &AppState) -> AppResult<usize> {
    let days = state.config.porting.draft_expiry_days;
    let mut tx = state.pool.begin().await?;
    let expired: Vec<(Uuid, String, TenantId)> = sqlx::query_as(
        "UPDATE port_numbers n SET status = 'cancelled', updated_at = now()
         FROM port_requests r
         WHERE r.id = n.port_id AND n.status = 'draft'
           AND n.updated_at < now() - make_interval(days => $1)
         RETURNING n.port_id, n.e164, r.tenant_id",
    )
    .bind(days as i32)
    .fetch_all(&mut *tx)
    .await?;
    for (port_id, e164, tenant_id) in &expired {
        let message = format!("{e164} cancelled: the draft was not submitted within {days} days");
        record_event(&mut tx, *port_id, Some(e164), "cancelled", &message).await?;
        audit_port(
            &mut tx,
            Action::PortCancel,
            Outcome::Success,
            *tenant_id,
            None,
            None,
            Some(e164),
            json!({ "port_id": port_id, "reason": "draft expired" }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(expired.len())
}

/// Cancels the numbers not yet scheduled; refused once any number has its FOC date.
pub async fn cancel(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    request_id: Option<&str>,
) -> AppResult<usize> {
    let tenant_id = caller.tenant_admin()?;
    let mut tx = state.pool.begin().await?;
    lock(&mut tx, tenant_id, id).await?;
    let numbers = statuses(&mut tx, id).await?;
    if let Some((e164, status)) = numbers.iter().find(|(_, s)| *s == PortStatus::FocSet) {
        let reason = status.next(PortEvent::Cancel).unwrap_err();
        return Err(AppError::conflict(
            "foc_set",
            format!("{e164}: {reason}"),
            json!({ "number": e164 }),
        ));
    }
    let mut cancelled = 0;
    for (e164, status) in numbers {
        if let Ok(next) = status.next(PortEvent::Cancel) {
            sqlx::query("UPDATE port_numbers SET status = $3, updated_at = now() WHERE port_id = $1 AND e164 = $2")
                .bind(id)
                .bind(&e164)
                .bind(next.as_str())
                .execute(&mut *tx)
                .await?;
            record_event(
                &mut tx,
                id,
                Some(&e164),
                "cancelled",
                &format!("{e164} cancelled"),
            )
            .await?;
            audit_port(
                &mut tx,
                Action::PortCancel,
                Outcome::Success,
                tenant_id,
                Some(caller.user_id),
                request_id,
                Some(&e164),
                json!({ "port_id": id }),
            )
            .await?;
            cancelled += 1;
        }
    }
    if cancelled == 0 {
        return Err(AppError::conflict(
            "nothing_to_cancel",
            "every number of this request is completed or cancelled",
            json!(null),
        ));
    }
    tx.commit().await?;
    Ok(cancelled)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PortSummary {
    pub id: Uuid,
    pub current_carrier: String,
    pub account_name: String,
    pub created_at: DateTime<Utc>,
    pub numbers: i64,
    pub completed: i64,
    pub rejected: i64,
    pub in_flight: i64,
}

pub async fn list(conn: &mut PgConnection, tenant_id: TenantId) -> AppResult<Vec<PortSummary>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.current_carrier, p.account_name, p.created_at, count(n.e164) AS numbers,
                count(*) FILTER (WHERE n.status = 'completed') AS completed,
                count(*) FILTER (WHERE n.status = 'rejected') AS rejected,
                count(*) FILTER (WHERE n.status IN ('submitted', 'acknowledged', 'foc_set')) AS in_flight
         FROM port_requests p JOIN port_numbers n ON n.port_id = p.id
         WHERE p.tenant_id = $1 GROUP BY p.id ORDER BY p.created_at DESC LIMIT 200",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PortView {
    pub id: Uuid,
    pub requested_by_email: String,
    pub current_carrier: String,
    pub account_number: String,
    pub account_name: String,
    pub service_address: String,
    pub target_type: String,
    pub target_name: String,
    pub loa_filename: Option<String>,
    pub loa_bytes: Option<i32>,
    pub loa_uploaded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PortNumber {
    pub e164: String,
    #[sqlx(try_from = "String")]
    pub status: PortStatus,
    pub reason: Option<String>,
    pub foc_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PortEventRow {
    pub e164: Option<String>,
    pub status: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortDetail {
    #[serde(flatten)]
    pub request: PortView,
    pub numbers: Vec<PortNumber>,
    pub events: Vec<PortEventRow>,
}

impl PortDetail {
    pub fn fixable(&self) -> bool {
        self.numbers
            .iter()
            .any(|n| matches!(n.status, PortStatus::Draft | PortStatus::Rejected))
    }
    pub fn cancellable(&self) -> bool {
        !self.numbers.iter().any(|n| n.status == PortStatus::FocSet)
            && self
                .numbers
                .iter()
                .any(|n| !matches!(n.status, PortStatus::Completed | PortStatus::Cancelled))
    }
}

pub async fn detail(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: Uuid,
) -> AppResult<PortDetail> {
    let request: PortView = sqlx::query_as(
        "SELECT p.id, u.email AS requested_by_email, p.current_carrier, p.account_number, p.account_name,
                p.service_address, p.target_type, p.target_name, p.loa_filename, octet_length(p.loa) AS loa_bytes,
                p.loa_uploaded_at, p.created_at
         FROM port_requests p JOIN users u ON u.id = p.requested_by WHERE p.id = $1 AND p.tenant_id = $2",
    )
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::NotFound("port request".into()))?;
    let numbers = sqlx::query_as(
        "SELECT e164, status, reason, foc_at, updated_at FROM port_numbers WHERE port_id = $1 ORDER BY e164",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let events = sqlx::query_as(
        "SELECT e164, status, message, at FROM port_events WHERE port_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(PortDetail {
        request,
        numbers,
        events,
    })
}
