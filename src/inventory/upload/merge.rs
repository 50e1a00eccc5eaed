//! The upload's merge into `numbers`: started from the summary screen (`commit`) or right
//! after validation, in one transaction that accounts for every line.

use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::validate::tune;
use super::{BATCH, Job, Mode, UploadStatus, fail, find, mark_failed, set_progress, stalled};
use crate::audit::{self, Action, Entry, Outcome};
use crate::error::{AppError, AppResult};
use crate::inventory::Uploader;

/// Decides an already validated upload (the summary screen's buttons).
pub async fn commit(pool: &PgPool, uploader: &Uploader, id: Uuid, mode: Mode) -> AppResult<Job> {
    let claimed = sqlx::query(
        "UPDATE inventory_uploads SET status = 'importing', mode = $3, progress = 50, updated_at = now(),
                phase_started_at = now()
         WHERE id = $1 AND org_id = $2 AND status = 'validated'",
    )
    .bind(id)
    .bind(uploader.org_id)
    .bind(mode.as_str())
    .execute(pool)
    .await?;
    let mut conn = pool.acquire().await?;
    let job = find(&mut conn, uploader.org_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("upload".into()))?;
    if claimed.rows_affected() == 0 {
        return Err(AppError::conflict(
            "upload_not_validated",
            format!(
                "this upload is {}; only a validated dry run can be imported",
                job.status
            ),
            json!({ "status": job.status }),
        ));
    }
    let pool = pool.clone();
    let uploader = uploader.clone();
    tokio::spawn(crate::db_scope::bypassing(
        crate::db_scope::Bypass::UploadPipeline,
        async move {
            if let Err(err) = import(&pool, &uploader, id, mode).await {
                err.log();
                fail(&pool, id, &err.public_message()).await;
            }
        },
    ));
    Ok(job)
}

/// The merge: one transaction, in batches of lines so the progress moves. All-or-nothing with
/// any rejected row writes nothing and ends `aborted`.
pub(super) async fn import(
    pool: &PgPool,
    uploader: &Uploader,
    id: Uuid,
    mode: Mode,
) -> AppResult<()> {
    // The connection lasts for the lookup only: what follows takes its own, and holding
    // one while waiting for another can starve the pool.
    let job = find(&mut *pool.acquire().await?, uploader.org_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("upload".into()))?;
    if mode == Mode::AllOrNothing && job.rows_rejected > 0 {
        return abort(pool, uploader, &job).await;
    }
    set_progress(pool, id, UploadStatus::Importing, 50).await?;
    let mut tx = pool.begin().await?;
    tune(&mut tx).await?;
    let (added, updated) = merge_lines(&mut tx, pool, uploader, &job).await?;
    // Every row meant to be added or updated was, or is accounted for: one taken since the
    // file was checked (by another upload, or a tenant) is rejected with its line, never
    // dropped in silence.
    let taken: Vec<i32> = if added < job.rows_to_add as u64 || updated < job.rows_to_update as u64 {
        sqlx::query_scalar(TAKEN_SQL)
            .bind(id)
            .bind(uploader.inventory_org())
            .fetch_all(&mut *tx)
            .await?
    } else {
        Vec::new()
    };
    let accounted = added + updated + taken.len() as u64;
    if accounted != (job.rows_to_add + job.rows_to_update) as u64 {
        return Err(AppError::Internal(anyhow::anyhow!(
            "upload {id}: {added} added, {updated} updated and {} taken do not account for {} rows to add and {} to update",
            taken.len(),
            job.rows_to_add,
            job.rows_to_update
        )));
    }
    if !taken.is_empty() && mode == Mode::AllOrNothing {
        tx.rollback().await?;
        return abort_taken(pool, uploader, job, &taken).await;
    }
    reject_taken(&mut tx, id, &taken).await?;
    // Also deletes the upload's validation result (trigger of migration 0009).
    let done = sqlx::query(
        "UPDATE inventory_uploads SET status = 'completed', progress = 100, rows_added = $2, rows_updated = $3,
                updated_at = now(), finished_at = now() WHERE id = $1 AND status <> 'failed'",
    )
    .bind(id)
    .bind(added as i64)
    .bind(updated as i64)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        // The sweeper failed it as stalled meanwhile: roll the merge back rather than
        // complete a job it already reported as failed.
        return Err(stalled());
    }
    let job = find(&mut tx, uploader.org_id, id).await?.unwrap_or(job);
    audit_upload(&mut tx, uploader, &job, Outcome::Success, added, updated).await?;
    tx.commit().await?;
    // Keep only what the rejected-rows download needs.
    sqlx::query("DELETE FROM inventory_upload_rows WHERE upload_id = $1 AND reason IS NULL")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// All-or-nothing with rejected rows: nothing is merged. The audit entry commits with the
/// status, so a reader who sees the job finished also finds its entry, and a crash in
/// between loses neither.
async fn abort(pool: &PgPool, uploader: &Uploader, job: &Job) -> AppResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE inventory_uploads SET status = 'aborted', progress = 100, updated_at = now(), finished_at = now(),
                error = $2 WHERE id = $1",
    )
    .bind(job.id)
    .bind(format!(
        "{} rejected rows: nothing was imported (all-or-nothing)",
        job.rows_rejected
    ))
    .execute(&mut *tx)
    .await?;
    audit_upload(&mut tx, uploader, job, Outcome::Failure, 0, 0).await?;
    tx.commit().await?;
    Ok(())
}

/// All-or-nothing, and some numbers were taken since the file was checked: the merge was
/// rolled back; the taken lines are recorded as rejected and the upload fails.
async fn abort_taken(pool: &PgPool, uploader: &Uploader, job: Job, taken: &[i32]) -> AppResult<()> {
    let message = format!(
        "{} rows were taken since the file was checked (by another upload or a tenant): \
         nothing was imported (all-or-nothing); their lines are in the rejected-rows file",
        taken.len()
    );
    let mut tx = pool.begin().await?;
    reject_taken(&mut tx, job.id, taken).await?;
    mark_failed(&mut *tx, job.id, &message).await?;
    let job = find(&mut tx, uploader.org_id, job.id).await?.unwrap_or(job);
    audit_upload(&mut tx, uploader, &job, Outcome::Failure, 0, 0).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds and updates the checked lines in batches, moving the progress after each; returns
/// how many numbers were added and updated.
async fn merge_lines(
    tx: &mut PgConnection,
    pool: &PgPool,
    uploader: &Uploader,
    job: &Job,
) -> AppResult<(u64, u64)> {
    let id = job.id;
    let (to_add, to_update) = (job.rows_to_add > 0, job.rows_to_update > 0);
    let max_line: Option<i32> = sqlx::query_scalar(
        "SELECT max(line_no) FROM inventory_upload_checked WHERE upload_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if max_line.is_none() && (to_add || to_update) {
        // Validated before the result table existed (an upgrade in between).
        return Err(AppError::conflict(
            "upload_not_validated",
            "this upload was validated by an earlier version and cannot be imported; upload the file again",
            Value::Null,
        ));
    }
    let max_line = i64::from(max_line.unwrap_or(0));
    let (mut added, mut updated) = (0u64, 0u64);
    let mut from = 0i64;
    while from <= max_line {
        let to = (from + BATCH).min(i32::MAX as i64);
        if to_add {
            added += sqlx::query(INSERT_SQL)
                .bind(id)
                .bind(from as i32)
                .bind(to as i32)
                .bind(uploader.inventory_org())
                .bind(uploader.org_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        if to_update {
            updated += sqlx::query(UPDATE_SQL)
                .bind(id)
                .bind(from as i32)
                .bind(to as i32)
                .bind(uploader.inventory_org())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        from = to;
        set_progress(
            pool,
            id,
            UploadStatus::Importing,
            50 + 49 * from.min(max_line) / max_line.max(1),
        )
        .await?;
    }
    Ok((added, updated))
}

/// $1 upload, $2..$3 lines, $4 inventory org, $5 uploading org. In number order, so the
/// primary key and the search indexes (which end in `national`) grow at their right edge
/// rather than at random pages.
const INSERT_SQL: &str = r#"
INSERT INTO numbers (e164, country, kind, national, npa, nxx, state, region, rate_center, city, inventory_org_id,
                     voice, sms, fax, voice_carrier_id, sms_carrier_id, uploaded_by_org_id, allocated_tenant_id, upload_id,
                     mms, e911_capable)
SELECT c.e164, c.country, c.kind, c.national, substr(c.national, 1, 3), substr(c.national, 4, 3), c.state,
       c.region, c.rate_center, c.city, $4, c.voice, c.sms, c.fax, c.voice_carrier_id, c.sms_carrier_id, $5,
       c.tenant_id, $1, c.mms, c.e911_capable
FROM inventory_upload_checked c
WHERE c.upload_id = $1 AND c.line_no >= $2 AND c.line_no < $3 AND c.action = 'add'
ORDER BY c.e164
ON CONFLICT (e164) DO NOTHING
"#;

/// $1 upload, $2 inventory org: the lines meant to be added or updated that the merge could
/// not apply, because the number was taken since validation.
const TAKEN_SQL: &str = r#"
SELECT c.line_no FROM inventory_upload_checked c
WHERE c.upload_id = $1 AND (
    (c.action = 'add' AND NOT EXISTS (SELECT 1 FROM numbers n WHERE n.e164 = c.e164 AND n.upload_id = $1))
 OR (c.action = 'update' AND NOT EXISTS (SELECT 1 FROM numbers n WHERE n.e164 = c.e164
                                          AND n.inventory_org_id = $2 AND n.tenant_id IS NULL)))
ORDER BY c.line_no
"#;

/// Records the lines taken since validation as rejected, for the counts and the download.
async fn reject_taken(conn: &mut sqlx::PgConnection, id: Uuid, lines: &[i32]) -> sqlx::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE inventory_upload_rows SET reason = 'taken_since_validation',
                message = 'the number was taken since the file was checked (by another upload or a tenant)'
         WHERE upload_id = $1 AND line_no = ANY($2)",
    )
    .bind(id)
    .bind(lines)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE inventory_uploads SET rows_rejected = rows_rejected + $2,
                rejected_by_reason = coalesce(rejected_by_reason, '{}'::jsonb) || jsonb_build_object('taken_since_validation',
                    coalesce((rejected_by_reason->>'taken_since_validation')::bigint, 0) + $2)
         WHERE id = $1",
    )
    .bind(id)
    .bind(lines.len() as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Updates only numbers of the same inventory that no tenant is using.
const UPDATE_SQL: &str = r#"
UPDATE numbers n SET voice = c.voice, sms = c.sms, fax = c.fax, voice_carrier_id = c.voice_carrier_id,
       sms_carrier_id = c.sms_carrier_id, allocated_tenant_id = coalesce(c.tenant_id, n.allocated_tenant_id),
       mms = c.mms, e911_capable = c.e911_capable
FROM inventory_upload_checked c
WHERE c.upload_id = $1 AND c.line_no >= $2 AND c.line_no < $3 AND c.action = 'update'
  AND n.e164 = c.e164 AND n.inventory_org_id = $4 AND n.tenant_id IS NULL
"#;

async fn audit_upload(
    conn: &mut PgConnection,
    uploader: &Uploader,
    job: &Job,
    outcome: Outcome,
    added: u64,
    updated: u64,
) -> sqlx::Result<()> {
    let mut entry = Entry::new(Action::Upload, outcome)
        .by(
            uploader.own_tenant(),
            Some(uploader.user_id),
            job.request_id.as_deref(),
        )
        .org(uploader.org_id)
        .target("upload", Some(&job.id.to_string()))
        .details(json!({
            "filename": job.filename, "mode": job.mode, "rows": job.rows_total, "added": added,
            "updated": updated, "unchanged": job.rows_unchanged, "rejected": job.rows_rejected,
            "rejected_by_reason": job.rejected_by_reason, "org_id": uploader.org_id,
        }));
    if outcome == Outcome::Failure {
        entry = entry.error(format!(
            "{} rejected rows: nothing imported (all-or-nothing)",
            job.rows_rejected
        ));
    }
    audit::repo::record(conn, &entry).await
}
