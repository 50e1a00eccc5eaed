//! Sealing providers' client secrets again under the current key after a key rotation.

use crate::domain::IdentityProviderId;
use crate::error::AppResult;
use crate::secrets::Resealed;
use crate::state::AppState;

use super::{repo, sealed_for};

/// Goes through every provider's secret once.
pub async fn reseal_all(state: &AppState) -> AppResult<Resealed> {
    let pool = &state.pool;
    Ok(state
        .secrets
        .reseal_each(
            IdentityProviderId(uuid::Uuid::nil()),
            sealed_for,
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
