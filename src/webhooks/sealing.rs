//! Sealing endpoints' signing secrets again under the current key after a key rotation, as
//! `connections::sealing` does for platform credentials.

use crate::domain::WebhookId;
use crate::error::AppResult;
use crate::secrets::Resealed;
use crate::state::AppState;

use super::{dispatch, repo};

/// Goes through every endpoint's secret once.
pub async fn reseal_all(state: &AppState) -> AppResult<Resealed> {
    let mut report = Resealed::default();
    if !state.secrets.has_key() {
        return Ok(report);
    }
    let mut after = WebhookId(uuid::Uuid::nil());
    loop {
        let batch = repo::sealed_after(&state.pool, after, 200).await?;
        let Some((last, _)) = batch.last() else {
            break;
        };
        after = *last;
        for (id, sealed) in batch {
            let bound_to = dispatch::sealed_for(id);
            match state.secrets.open(&sealed, &bound_to) {
                Ok(opened) if opened.stale => {
                    let again = state
                        .secrets
                        .seal(&opened.plaintext, &bound_to)
                        .map_err(|e| crate::error::AppError::Internal(anyhow::anyhow!(e)))?;
                    if repo::reseal(&state.pool, id, &sealed, &again).await? {
                        report.resealed += 1;
                    }
                }
                Ok(_) => report.current += 1,
                Err(_) => report.unreadable.push(id.0),
            }
        }
    }
    Ok(report)
}
