//! Inventory upload jobs left behind: an upload whose server crashed mid-way stays in
//! `receiving`, `validating` or `importing` with no progress; it is marked failed with a
//! message that says so and its staging rows deleted. Staging rows of finished uploads are
//! deleted after the retention period.

use serde_json::json;
use uuid::Uuid;

use super::upload::{STALE_MESSAGE, UploadStatus, drop_staging, mark_failed};
use crate::audit::{self, Action, Entry, Outcome};
use crate::error::AppResult;
use crate::state::AppState;

/// Why a checked dry run nobody imported was closed.
const NOT_IMPORTED_MESSAGE: &str =
    "the validated upload was not imported within the retention period; upload the file again";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct UploadSweep {
    /// Unfinished uploads marked failed.
    pub stale_failed: usize,
    /// Uploads whose staging rows were deleted after the retention period.
    pub staging_cleaned: usize,
}

pub async fn sweep(state: &AppState) -> AppResult<UploadSweep> {
    let cfg = &state.config.inventory;
    let mut tx = state.pool.begin().await?;
    let stale: Vec<(Uuid, Uuid, crate::domain::UserId, String)> = sqlx::query_as(
        "SELECT id, org_id, user_id, status FROM inventory_uploads
         WHERE status IN ('receiving', 'validating', 'importing')
           AND updated_at < now() - make_interval(mins => $1::int)
         ORDER BY updated_at LIMIT 100 FOR UPDATE SKIP LOCKED",
    )
    .bind(cfg.upload_stale_minutes.clamp(1, 100_000) as i32)
    .fetch_all(&mut *tx)
    .await?;
    for (id, org, user, status) in &stale {
        mark_failed(&mut *tx, *id, STALE_MESSAGE).await?;
        drop_staging(&mut *tx, *id).await?;
        let entry = Entry::new(Action::Upload, Outcome::Failure)
            .by(None, Some(*user), None)
            .org(*org)
            .target("upload", Some(&id.to_string()))
            .error(STALE_MESSAGE)
            .details(json!({ "stalled_in": status }));
        audit::repo::record(&mut tx, &entry).await?;
    }
    // Finished uploads past retention; a validated upload nobody imported is closed too.
    let old: Vec<(Uuid, UploadStatus)> = sqlx::query_as(
        "SELECT id, status FROM inventory_uploads u
         WHERE status IN ('validated', 'completed', 'aborted', 'failed')
           AND coalesce(finished_at, updated_at) < now() - make_interval(hours => $1::int)
           AND EXISTS (SELECT 1 FROM inventory_upload_rows r WHERE r.upload_id = u.id)
         ORDER BY finished_at LIMIT 100 FOR UPDATE SKIP LOCKED",
    )
    .bind(cfg.staging_retention_hours.clamp(0, 1_000_000) as i32)
    .fetch_all(&mut *tx)
    .await?;
    for (id, status) in &old {
        if *status == UploadStatus::Validated {
            mark_failed(&mut *tx, *id, NOT_IMPORTED_MESSAGE).await?;
        }
        drop_staging(&mut *tx, *id).await?;
    }
    tx.commit().await?;
    Ok(UploadSweep {
        stale_failed: stale.len(),
        staging_cleaned: old.len(),
    })
}
