//! Upload jobs: the request streams the file into the staging table (`csvstage`), then a
//! background task validates it with set-based SQL, records a summary, and — unless it is a
//! dry run — merges it into `numbers`. Status and progress live in `inventory_uploads`, so any
//! server instance shows the same progress.
//! Just over 500 lines: the job's states, its progress and its summary are one row read and
//! written together; the staging reader and the checks live in `csvstage` and `validate`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

mod merge;
mod rejected;
mod validate;

pub use merge::commit;
pub use rejected::rejected_csv;

use super::Uploader;
use super::csvstage::ChunkSource;
use crate::domain::UserId;
use crate::error::{AppError, AppResult};

/// Lines validated or merged per statement: the progress bar moves once per batch.
const BATCH: i64 = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    AllOrNothing,
    ValidOnly,
}

impl Mode {
    pub fn parse(raw: Option<&str>) -> AppResult<Mode> {
        match raw.map(str::trim).unwrap_or("all_or_nothing") {
            "" | "all_or_nothing" => Ok(Mode::AllOrNothing),
            "valid_only" => Ok(Mode::ValidOnly),
            other => Err(AppError::invalid_field(
                "mode",
                format!("mode “{other}” is not all_or_nothing or valid_only"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::AllOrNothing => "all_or_nothing",
            Mode::ValidOnly => "valid_only",
        }
    }
}

pub fn parse_bool(field: &str, raw: Option<&str>) -> AppResult<bool> {
    match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") | Some("0") | Some("off") => Ok(false),
        Some("true") | Some("1") | Some("on") => Ok(true),
        Some(other) => Err(AppError::invalid_field(
            field,
            format!("{field} must be true or false, not “{other}”"),
        )),
    }
}

/// Where an upload stands (`inventory_uploads.status`): received, checked (a dry run stops
/// at `Validated`), imported; or given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum UploadStatus {
    Receiving,
    Validating,
    Validated,
    Importing,
    Completed,
    Aborted,
    Failed,
}

impl UploadStatus {
    pub const ALL: [UploadStatus; 7] = [
        UploadStatus::Receiving,
        UploadStatus::Validating,
        UploadStatus::Validated,
        UploadStatus::Importing,
        UploadStatus::Completed,
        UploadStatus::Aborted,
        UploadStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Receiving => "receiving",
            UploadStatus::Validating => "validating",
            UploadStatus::Validated => "validated",
            UploadStatus::Importing => "importing",
            UploadStatus::Completed => "completed",
            UploadStatus::Aborted => "aborted",
            UploadStatus::Failed => "failed",
        }
    }

    /// Nothing more happens to the upload without someone asking (a validated dry run
    /// waits to be imported).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            UploadStatus::Validated
                | UploadStatus::Completed
                | UploadStatus::Aborted
                | UploadStatus::Failed
        )
    }

    /// The state in words, for the progress screen.
    pub fn in_words(self) -> &'static str {
        match self {
            UploadStatus::Receiving => "Receiving the file",
            UploadStatus::Validating => "Checking the rows",
            UploadStatus::Validated => "Checked: ready to import",
            UploadStatus::Importing => "Importing",
            UploadStatus::Completed => "Imported",
            UploadStatus::Aborted => "Nothing imported",
            UploadStatus::Failed => "Failed",
        }
    }
}

impl std::fmt::Display for UploadStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an upload that stopped making progress failed (`upload_sweep` gives up on it).
pub const STALE_MESSAGE: &str = "the upload stopped making progress (the server handling it was interrupted); nothing was imported: upload the file again";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: Uuid,
    pub org_id: Uuid,
    #[serde(skip)]
    pub user_id: UserId,
    pub filename: Option<String>,
    pub mode: String,
    pub dry_run: bool,
    pub status: UploadStatus,
    pub progress: i16,
    pub rows_total: i64,
    pub rows_to_add: i64,
    pub rows_to_update: i64,
    pub rows_unchanged: i64,
    pub rows_rejected: i64,
    pub rejected_by_reason: Value,
    pub rows_added: i64,
    pub rows_updated: i64,
    pub error: Option<String>,
    #[serde(skip)]
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub phase_started_at: Option<DateTime<Utc>>,
}

/// How fast the current phase goes, for the progress screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pace {
    /// Rows of the current phase done so far.
    pub rows_done: i64,
    pub rows_per_second: i64,
    pub seconds_left: i64,
}

/// The pace of a phase `elapsed_ms` into it: checking moves the progress from 5 to 50,
/// importing from 50 to 100. None until something has moved.
pub fn pace(status: UploadStatus, progress: i16, rows_total: i64, elapsed_ms: i64) -> Option<Pace> {
    let (from, to) = match status {
        UploadStatus::Validating => (5.0, 50.0),
        UploadStatus::Importing => (50.0, 100.0),
        _ => return None,
    };
    let share = ((f64::from(progress) - from) / (to - from)).clamp(0.0, 1.0);
    let rows_done = (rows_total as f64 * share).round() as i64;
    if rows_done == 0 || elapsed_ms <= 0 {
        return None;
    }
    let per_second = rows_done as f64 * 1000.0 / elapsed_ms as f64;
    Some(Pace {
        rows_done,
        rows_per_second: per_second.round() as i64,
        seconds_left: ((rows_total - rows_done) as f64 / per_second).ceil() as i64,
    })
}

/// A rejection reason in words, for people (the code stays in the API and the CSV).
pub fn reason_in_words(code: &str) -> &'static str {
    match code {
        "invalid_number" => "Not a valid phone number",
        "invalid_boolean" => "Voice, SMS or Fax not TRUE or FALSE",
        "unknown_tenant" => "Tenant not found among yours",
        "unknown_carrier" => "Carrier not found",
        "duplicate_in_inventory" => "Already in another organization's inventory",
        "duplicate_in_file" => "Listed twice in the file",
        "number_in_use" => "In use by a tenant",
        "invalid_country_code" => "Country code not a dialing code",
        "not_text" => "Not readable text",
        "wrong_column_count" => "Wrong number of columns",
        "control_character" => "Contains a control character",
        "record_too_long" => "Row too long",
        _ => "Other problem",
    }
}

impl Job {
    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "status": self.status, "progress": self.progress, "mode": self.mode,
            "dry_run": self.dry_run, "filename": self.filename,
            "counts": {
                "total": self.rows_total, "to_add": self.rows_to_add, "to_update": self.rows_to_update,
                "unchanged": self.rows_unchanged, "rejected": self.rows_rejected,
                "rejected_by_reason": self.rejected_by_reason,
                "added": self.rows_added, "updated": self.rows_updated,
            },
            "error": self.error, "created_at": self.created_at, "finished_at": self.finished_at,
            "pace": self.pace(),
        })
    }

    /// How fast the current phase goes (`pace`), reckoned now.
    pub fn pace(&self) -> Option<Pace> {
        let started = self.phase_started_at?;
        pace(
            self.status,
            self.progress,
            self.rows_total,
            (Utc::now() - started).num_milliseconds(),
        )
    }

    /// Rejected reasons, largest first, for the summary screen.
    pub fn reasons(&self) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = self
            .rejected_by_reason
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

const JOB_COLUMNS: &str = "id, org_id, user_id, filename, mode, dry_run, status, progress, rows_total, rows_to_add,
    rows_to_update, rows_unchanged, rows_rejected, rejected_by_reason, rows_added, rows_updated, error, request_id,
    created_at, updated_at, finished_at, phase_started_at";

/// A job of the caller's organization; another organization's job is "not found".
pub async fn find(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> sqlx::Result<Option<Job>> {
    sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM inventory_uploads WHERE id = $1 AND org_id = $2"
    ))
    .bind(id)
    .bind(org_id)
    .fetch_optional(conn)
    .await
}

/// One of the caller's organization's uploads, for those who may see uploads at all (the
/// admins who may list them): a tenant user reads neither its status nor its rejected rows.
pub async fn find_for(
    conn: &mut PgConnection,
    caller: &crate::domain::policy::Principal,
    id: Uuid,
) -> AppResult<Job> {
    caller.inventory_view()?;
    find(conn, caller.org_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("upload".into()))
}

pub async fn recent(conn: &mut PgConnection, org_id: Uuid) -> sqlx::Result<Vec<Job>> {
    sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM inventory_uploads WHERE org_id = $1 ORDER BY created_at DESC LIMIT 10"
    ))
    .bind(org_id)
    .fetch_all(conn)
    .await
}

pub struct NewUpload<'a> {
    pub uploader: &'a Uploader,
    pub filename: Option<String>,
    pub mode: Mode,
    pub dry_run: bool,
    pub request_id: Option<String>,
    /// `inventory.max_record_kib`, in bytes.
    pub max_record_bytes: usize,
}

/// Creates the job and streams the file into staging. On a refused file (empty, not an
/// inventory CSV) the job is marked failed and the error returned, so the API answers 422.
pub async fn receive(
    pool: &PgPool,
    new: NewUpload<'_>,
    source: &mut impl ChunkSource,
) -> AppResult<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO inventory_uploads (id, org_id, user_id, filename, mode, dry_run, status, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, 'receiving', $7)",
    )
    .bind(id)
    .bind(new.uploader.org_id)
    .bind(new.uploader.user_id)
    .bind(&new.filename)
    .bind(new.mode.as_str())
    .bind(new.dry_run)
    .bind(&new.request_id)
    .execute(pool)
    .await?;
    let mut conn = pool.acquire().await?;
    match super::csvstage::stage(&mut conn, id, source, new.max_record_bytes).await {
        Ok(staged) => {
            // Fresh statistics, so the set-based statements below get sensible plans.
            sqlx::query("SELECT analyze_upload_rows()")
                .execute(&mut *conn)
                .await?;
            let moved = sqlx::query(
                "UPDATE inventory_uploads SET status = 'validating', rows_total = $2, progress = 5, updated_at = now(),
                        phase_started_at = now()
                 WHERE id = $1 AND status <> 'failed'",
            )
            .bind(id)
            .bind(staged.rows)
            .execute(&mut *conn)
            .await?;
            if moved.rows_affected() == 0 {
                // The sweeper gave up on it while it streamed (see upload_sweep).
                drop_staging(&mut *conn, id).await?;
                return Err(AppError::conflict(
                    "upload_stalled",
                    "the upload took too long to arrive and was marked failed; upload the file again",
                    Value::Null,
                ));
            }
            Ok(id)
        }
        Err(err) => {
            drop(conn);
            fail(pool, id, &err.public_message()).await;
            Err(err)
        }
    }
}

pub async fn fail(pool: &PgPool, id: Uuid, message: &str) {
    if let Err(err) = mark_failed(pool, id, message).await {
        tracing::error!(error = %err, upload = %id, "could not mark the upload failed");
    }
    let _ = drop_staging(pool, id).await;
}

/// Marks the upload failed, saying why.
pub(super) async fn mark_failed<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
    message: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE inventory_uploads SET status = 'failed', error = $2, updated_at = now(), finished_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(message)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes the upload's staging rows (its rejected-rows file goes with them).
pub(super) async fn drop_staging<'e>(db: impl sqlx::PgExecutor<'e>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM inventory_upload_rows WHERE upload_id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

async fn set_progress(
    pool: &PgPool,
    id: Uuid,
    status: UploadStatus,
    progress: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE inventory_uploads SET status = $2, progress = $3, updated_at = now(),
                phase_started_at = CASE WHEN status = $2 THEN phase_started_at ELSE now() END
         WHERE id = $1 AND status <> 'failed'",
    )
    .bind(id)
    .bind(status)
    .bind(progress.clamp(0, 100) as i16)
    .execute(pool)
    .await?;
    Ok(())
}

/// Runs validation, then the merge unless it is a dry run. Meant for `tokio::spawn`.
pub async fn process(pool: PgPool, uploader: Uploader, id: Uuid) {
    if let Err(err) = try_process(&pool, &uploader, id).await {
        err.log();
        fail(&pool, id, &err.public_message()).await;
    }
}

async fn try_process(pool: &PgPool, uploader: &Uploader, id: Uuid) -> AppResult<()> {
    // The connection lasts for the lookup only: what follows takes its own, and holding
    // one while waiting for another can starve the pool.
    let job = find(&mut *pool.acquire().await?, uploader.org_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("upload".into()))?;
    if job.status == UploadStatus::Failed {
        // Failed by the sweeper meanwhile: it already cleaned up.
        return Ok(());
    }
    validate::validate(pool, uploader, &job).await?;
    if job.dry_run {
        sqlx::query(
            "UPDATE inventory_uploads SET status = 'validated', progress = 100, updated_at = now(), finished_at = now()
             WHERE id = $1 AND status <> 'failed'",
        )
        .bind(id)
        .execute(pool)
        .await?;
        return Ok(());
    }
    let mode = Mode::parse(Some(&job.mode))?;
    merge::import(pool, uploader, id, mode).await
}

/// A sample file for the "download a sample" link.
pub fn sample_csv() -> &'static str {
    "Country Code,Phone Number,Voice,SMS,Fax,Voice Carrier Name,SMS Carrier Profile,Tenant\n\
     1,(512) 555-0100,TRUE,TRUE,FALSE,,,\n\
     1,5125550101,TRUE,FALSE,FALSE,Sandbox Voice,,\n\
     44,020 7946 0958,TRUE,FALSE,FALSE,,,\n"
}

/// The sweeper failed the upload as stalled while this step ran (see `upload_sweep`).
fn stalled() -> AppError {
    AppError::conflict("upload_stalled", STALE_MESSAGE, Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_counts_the_rows_of_the_current_phase() {
        // Checking 200,000 rows, half way (progress 27.5 of 5..50), after 10 s.
        let p = pace(UploadStatus::Validating, 27, 200_000, 10_000).expect("moving");
        assert_eq!(p.rows_done, 97_778);
        assert_eq!(p.rows_per_second, 9_778);
        assert_eq!(p.seconds_left, 11);
        // Importing: 50..100.
        let p = pace(UploadStatus::Importing, 75, 1_000, 5_000).expect("moving");
        assert_eq!(
            (p.rows_done, p.rows_per_second, p.seconds_left),
            (500, 100, 5)
        );
        // Nothing has moved yet, or the phase is over: no pace to tell.
        assert_eq!(pace(UploadStatus::Validating, 5, 1_000, 2_000), None);
        assert_eq!(pace(UploadStatus::Importing, 80, 1_000, 0), None);
        assert_eq!(pace(UploadStatus::Validated, 100, 1_000, 2_000), None);
    }

    #[test]
    fn every_reason_a_row_can_have_has_words() {
        for code in [
            "invalid_number",
            "invalid_boolean",
            "unknown_tenant",
            "unknown_carrier",
            "duplicate_in_inventory",
            "duplicate_in_file",
            "number_in_use",
            "invalid_country_code",
            "not_text",
            "wrong_column_count",
            "control_character",
            "record_too_long",
        ] {
            assert_ne!(reason_in_words(code), "Other problem", "{code}");
        }
    }
}
