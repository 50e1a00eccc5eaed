//! Sealing endpoints' signing secrets again under the current key after a key rotation, as
//! `connections::sealing` does for platform credentials.

use crate::domain::WebhookId;
use crate::error::AppResult;
use crate::secrets::Resealed;
use crate::state::AppState;

use super::{dispatch, repo};

/// Goes through every endpoint's secret once.
pub async fn reseal_all(state: &AppState) -> AppResult<Resealed> {
    let pool = &state.pool;
    Ok(state
        .secrets
        .reseal_each(
            WebhookId(uuid::Uuid::nil()),
            dispatch::sealed_for,
            |id| id.0,
            |after| {
                let pool = pool.clone();
                async move { repo::sealed_after(&pool, after, 200).await }
            },
            |id, was, sealed| {
                let pool = pool.clone();
                async move { repo::reseal(&pool, id, &was, &sealed).await }
            },
        )
        .await?)
}
