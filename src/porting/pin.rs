//! A port request's PIN at rest: sealed with the server's key, bound to its request and
//! tenant, opened only to submit it to the carrier.

use super::*;

/// What a port request's sealed PIN is bound to.
pub(super) fn pin_sealed_for(id: Uuid, tenant_id: TenantId) -> String {
    format!("port-pin:{id}:{tenant_id}")
}

/// The PIN as stored: sealed with the server's key for this port request (never in plain
/// text), or nothing.
pub(super) fn seal_pin(
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
) -> Result<String, crate::secrets::SecretError> {
    match sealed {
        Some(bytes) => String::from_utf8(
            state
                .secrets
                .open(bytes, &pin_sealed_for(id, tenant_id))?
                .plaintext,
        )
        .map_err(|_| crate::secrets::SecretError::Undecryptable),
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
pub async fn reseal_pins(state: &AppState) -> AppResult<crate::secrets::Resealed> {
    let mut report = crate::secrets::Resealed::default();
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
