//! Sealing stored platform credentials again under the current key: after a key rotation
//! (`secrets.previous_keys` still holds the old key), and for credentials sealed before they
//! were bound to their connection.

use uuid::Uuid;

use super::repo;
use crate::error::AppResult;
pub use crate::secrets::Resealed;
use crate::state::AppState;

/// Goes through every connection's credentials once.
pub async fn reseal_all(state: &AppState) -> AppResult<Resealed> {
    let mut report = Resealed::default();
    if !state.secrets.has_key() {
        return Ok(report);
    }
    let mut after = Uuid::nil();
    loop {
        let batch = repo::sealed_after(&state.pool, after, 200).await?;
        let Some((last, _, _)) = batch.last() else {
            break;
        };
        after = *last;
        for (id, tenant, sealed) in batch {
            let bound_to = super::sealed_for(id, tenant);
            match state.secrets.open(&sealed, &bound_to) {
                Ok(opened) if opened.stale => {
                    let again = state
                        .secrets
                        .seal(&opened.plaintext, &bound_to)
                        .map_err(|e| super::unreadable(id, e))?;
                    if repo::reseal(&state.pool, id, &sealed, &again).await? {
                        report.resealed += 1;
                    }
                }
                Ok(_) => report.current += 1,
                Err(_) => report.unreadable.push(id),
            }
        }
    }
    Ok(report)
}
