//! Porting numbers in: a tenant admin creates a port request, uploads the signed Letter of
//! Authorization and submits it; each number then moves on its own (submitted → carrier
//! acknowledged → FOC date set → completed, or rejected with the carrier's reason, fixable
//! and resubmittable). On the FOC date the number becomes the tenant's, routed to the target
//! chosen in the request. Every status change is an event, a portal notification and an email.

pub mod api;
pub mod check;
pub mod letter;
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
use crate::domain::port::{
    PortDetails, PortDocument, PortEvent, PortInput, PortRequest, PortStatus,
};
use crate::domain::target::TargetSpec;
use crate::domain::{Target, TargetKind};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

mod pin;
pub mod routes;
mod submission;
mod sync;
mod view;

pub(crate) use pin::open_pin;
use pin::seal_pin;
pub use pin::{reseal_pins, seal_plaintext_pins};
pub use submission::{cancel, expire_drafts, submit};
pub use sync::sync;
pub use view::{PortDetail, PortEventRow, PortNumber, PortSummary, PortView, detail, list};

fn invalid(errors: Vec<FieldError>) -> AppError {
    AppError::invalid_fields("invalid_port_request", errors)
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

/// Creates the port request as one order, or, past 100 numbers, as several orders of one
/// batch (each its own port request); answers their ids, the first order's first.
pub async fn create(
    state: &AppState,
    caller: &Principal,
    request: &CreateRequest,
    request_id: Option<&str>,
) -> AppResult<Vec<Uuid>> {
    let tenant_id = caller.tenant_admin()?;
    let parsed = PortRequest::parse(&request.input).map_err(invalid)?;
    check_requested_foc(&request.input)?;
    let target = resolve_target(state, tenant_id, &request.target).await?;
    let numbers: Vec<String> = parsed
        .numbers()
        .iter()
        .map(|n| n.as_str().to_string())
        .collect();
    let mut tx = state.pool.begin().await?;
    refuse_unportable(&mut tx, tenant_id, &numbers).await?;
    let orders = parsed.split_orders();
    let ids: Vec<Uuid> = orders.iter().map(|_| Uuid::new_v4()).collect();
    let batch = (ids.len() > 1).then_some(ids[0]);
    for (i, (id, order)) in ids.iter().zip(&orders).enumerate() {
        let numbers: Vec<String> = order.iter().map(|n| n.as_str().to_string()).collect();
        let made = match batch {
            None => format!("created with {} numbers", numbers.len()),
            Some(_) => format!(
                "created with {} numbers: order {} of {}, made from a request of {}",
                numbers.len(),
                i + 1,
                ids.len(),
                parsed.numbers().len()
            ),
        };
        let order = Order {
            id: *id,
            batch,
            numbers: &numbers,
            created: &made,
        };
        insert_order(state, &mut tx, caller, &parsed, &target, order, request_id).await?;
    }
    tx.commit().await?;
    Ok(ids)
}

/// One order of a port request, as `create` writes it.
struct Order<'a> {
    id: Uuid,
    batch: Option<Uuid>,
    numbers: &'a [String],
    created: &'a str,
}

async fn insert_order(
    state: &AppState,
    tx: &mut PgConnection,
    caller: &Principal,
    parsed: &PortRequest,
    target: &Target,
    order: Order<'_>,
    request_id: Option<&str>,
) -> AppResult<()> {
    let tenant_id = caller.tenant_admin()?;
    let Order {
        id,
        batch,
        numbers,
        created,
    } = order;
    let d = parsed.details();
    sqlx::query(
        "INSERT INTO port_requests (id, tenant_id, requested_by, current_carrier, account_number, pin_sealed, account_name,
                                    service_address, target_type, target_id, target_name, requested_foc, batch_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
    .bind(d.requested_foc())
    .bind(batch)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO port_numbers (port_id, e164) SELECT $1, unnest($2::text[])")
        .bind(id)
        .bind(numbers)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO port_events (port_id, status, message) VALUES ($1, 'draft', $2)")
        .bind(id)
        .bind(format!("{created}; upload the signed LOA and submit"))
        .execute(&mut *tx)
        .await?;
    for n in numbers {
        audit_port(
            &mut *tx,
            Action::PortCreate,
            Outcome::Success,
            tenant_id,
            Some(caller.user_id),
            request_id,
            Some(n),
            json!({ "port_id": id, "batch_id": batch, "current_carrier": d.current_carrier() }),
        )
        .await?;
    }
    Ok(())
}

/// The requested FOC date within the carriers' rules, judged on today's date (UTC).
fn check_requested_foc(input: &PortInput) -> AppResult<()> {
    let today = chrono::Utc::now().date_naive();
    crate::domain::port::requested_foc(&input.requested_foc, today)
        .map(|_| ())
        .map_err(|why| AppError::invalid_field("requested_foc", why))
}

/// Refuses numbers already on Inward's network (nothing to port) and numbers in one of the
/// tenant's own open requests.
async fn refuse_unportable(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    numbers: &[String],
) -> AppResult<()> {
    // Through the owner's function: another tenant's numbers are hidden from this one, and
    // are on the network all the same (migration 0031).
    let known: Vec<String> =
        sqlx::query_scalar("SELECT known FROM numbers_known($1) AS known ORDER BY 1")
            .bind(numbers)
            .fetch_all(&mut *conn)
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
    .bind(numbers)
    .bind(tenant_id)
    .fetch_all(&mut *conn)
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
    Ok(())
}

/// Locks the tenant's port request; 404 for anyone else's.
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
    check_requested_foc(input)?;
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
            Err(crate::secrets::SecretError::Undecryptable
                | crate::secrets::SecretError::UnknownKey(_))
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
                account_name = $5, service_address = $6, requested_foc = $7, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(details.current_carrier())
    .bind(details.account_number())
    .bind(seal_pin(state, details.pin(), id, tenant_id)?)
    .bind(details.account_name())
    .bind(details.service_address())
    .bind(details.requested_foc())
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

/// The statements that store a document and read it back; fixed per kind, never built
/// from input. A letter names the numbers of its own order, so it stays with that order; the
/// copy of the bill is the account's, so the other orders of the batch still to be sent (in
/// draft, or with numbers to fix) that have none get it too.
fn document_sql(kind: PortDocument) -> (&'static str, &'static str) {
    match kind {
        PortDocument::Loa => (
            "UPDATE port_requests SET loa = $2, loa_filename = $3, loa_uploaded_at = now(), updated_at = now()
             WHERE id = $1 AND tenant_id = $4
             RETURNING id",
            "SELECT loa_filename, 'application/pdf', loa FROM port_requests WHERE id = $1 AND tenant_id = $2",
        ),
        PortDocument::Bill => (
            "UPDATE port_requests SET bill = $2, bill_filename = $3, bill_content_type = $4,
                    bill_uploaded_at = now(), updated_at = now()
             WHERE id = $1
                OR (bill IS NULL AND tenant_id = $5
                    AND batch_id = (SELECT batch_id FROM port_requests WHERE id = $1)
                    AND EXISTS (SELECT 1 FROM port_numbers n WHERE n.port_id = port_requests.id
                                  AND n.status IN ('draft', 'rejected')))
             RETURNING id",
            "SELECT bill_filename, bill_content_type, bill FROM port_requests WHERE id = $1 AND tenant_id = $2",
        ),
    }
}

/// Stores the signed LOA or the copy of the bill on the tenant's port request.
pub async fn upload_document(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    kind: PortDocument,
    filename: &str,
    bytes: &[u8],
    request_id: Option<&str>,
) -> AppResult<()> {
    let tenant_id = caller.tenant_admin()?;
    let mut tx = state.pool.begin().await?;
    lock(&mut tx, tenant_id, id).await?;
    let content_type = kind.check(bytes).map_err(|e| AppError::Invalid {
        code: match kind {
            PortDocument::Loa => "invalid_loa",
            PortDocument::Bill => "invalid_bill",
        },
        message: e,
        details: json!({ "field": kind.as_str() }),
    })?;
    let filename: String = filename
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let fallback = match kind {
        PortDocument::Loa => "loa.pdf",
        PortDocument::Bill => "bill",
    };
    let update = sqlx::query_scalar(document_sql(kind).0)
        .bind(id)
        .bind(bytes)
        .bind(if filename.is_empty() {
            fallback
        } else {
            filename.as_str()
        });
    // Only the bill keeps its content type (a letter is a PDF).
    let update = match kind {
        PortDocument::Loa => update.bind(tenant_id),
        PortDocument::Bill => update.bind(content_type).bind(tenant_id),
    };
    let ids: Vec<Uuid> = update.fetch_all(&mut *tx).await?;
    let label = kind.label();
    let mut uploaded = label.to_string();
    if let Some(first) = uploaded.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    sqlx::query(
        "INSERT INTO port_events (port_id, status, message) SELECT unnest($1::uuid[]), $2, $3",
    )
    .bind(&ids)
    .bind(kind.as_str())
    .bind(format!(
        "{uploaded} uploaded ({} KiB)",
        bytes.len().div_ceil(1024)
    ))
    .execute(&mut *tx)
    .await?;
    let action = match kind {
        PortDocument::Loa => Action::PortLoa,
        PortDocument::Bill => Action::PortUpdate,
    };
    audit_port(
        &mut tx,
        action,
        Outcome::Success,
        tenant_id,
        Some(caller.user_id),
        request_id,
        None,
        json!({ "port_id": id, "document": kind.as_str(), "bytes": bytes.len() }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A stored document of the tenant's port request: its file name, content type and bytes.
pub async fn document(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    kind: PortDocument,
) -> AppResult<(String, String, Vec<u8>)> {
    let tenant_id = caller.tenant()?;
    type Stored = (Option<String>, Option<String>, Option<Vec<u8>>);
    let row: Option<Stored> = sqlx::query_as(document_sql(kind).1)
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&state.pool)
        .await?;
    match row {
        Some((name, content_type, Some(bytes))) => Ok((
            name.unwrap_or_else(|| format!("{}.pdf", kind.as_str())),
            content_type.unwrap_or_else(|| "application/pdf".into()),
            bytes,
        )),
        Some(_) => Err(AppError::NotFound(kind.label().into())),
        None => Err(AppError::NotFound("port request".into())),
    }
}

/// The Letter of Authorization filled in from the tenant's port request (`letter.rs`), with a
/// file name for it.
pub async fn letter(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
) -> AppResult<(String, Vec<u8>)> {
    let tenant_id = caller.tenant()?;
    let mut conn = state.pool.acquire().await?;
    let port = detail(&mut conn, tenant_id, id).await?;
    let pin_on_file: bool = sqlx::query_scalar(
        "SELECT pin_sealed IS NOT NULL OR coalesce(pin, '') <> '' FROM port_requests WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let numbers: Vec<String> = port
        .numbers
        .iter()
        .map(|n| crate::domain::e164::format_national(&n.e164))
        .collect();
    let r = &port.request;
    let pdf = letter::render(&letter::Letter {
        port_id: id,
        customer: &caller.org_name,
        account_name: &r.account_name,
        service_address: &r.service_address,
        current_carrier: &r.current_carrier,
        account_number: &r.account_number,
        pin_on_file,
        requested_foc: r.requested_foc,
        numbers: &numbers,
        today: Utc::now().date_naive(),
    });
    Ok((format!("loa-to-sign-{}.pdf", &id.to_string()[..8]), pdf))
}

/// A document as a download named `name`.
pub fn download(name: &str, content_type: &str, bytes: Vec<u8>) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let disposition = format!("attachment; filename=\"{}\"", name.replace(['"', '\\'], ""));
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}
