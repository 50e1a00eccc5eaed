//! A request leaving draft: submitted to the carrier, cancelled by its tenant, or expired
//! unsubmitted.

use super::*;

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
    refuse_in_flight_elsewhere(&mut tx, id).await?;
    let mut submitted = Vec::new();
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

/// A number another request has with the carriers cannot go twice; says which of this
/// request's numbers, and nothing about the other request.
async fn refuse_in_flight_elsewhere(conn: &mut PgConnection, id: Uuid) -> AppResult<()> {
    let candidates: Vec<String> = statuses(&mut *conn, id)
        .await?
        .into_iter()
        .filter(|(_, s)| s.next(PortEvent::Submit).is_ok())
        .map(|(e, _)| e)
        .collect();
    let busy: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT e164 FROM port_numbers
         WHERE e164 = ANY($1) AND port_id <> $2 AND status IN ('submitted', 'acknowledged', 'foc_set')
         ORDER BY e164",
    )
    .bind(&candidates)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    if busy.is_empty() {
        return Ok(());
    }
    Err(AppError::conflict(
        "port_in_flight_elsewhere",
        format!(
            "cannot be submitted now, another port of the same numbers is with the carriers: {}",
            busy.join(", ")
        ),
        json!({ "numbers": busy }),
    ))
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
