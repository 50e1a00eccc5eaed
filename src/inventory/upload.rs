//! Upload jobs: the request streams the file into the staging table (`csvstage`), then a
//! background task validates it with set-based SQL, records a summary, and — unless it is a
//! dry run — merges it into `numbers`. Status and progress live in `inventory_uploads`, so any
//! server instance shows the same progress.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::Uploader;
use super::csvstage::{self, ChunkSource};
use crate::audit::{self, Action, Entry, Outcome};
use crate::error::{AppError, AppResult};
use crate::numbers::offer;

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
    pub user_id: Uuid,
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
    match csvstage::stage(&mut conn, id, source, new.max_record_bytes).await {
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
    validate(pool, uploader, &job).await?;
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
    import(pool, uploader, id, mode).await
}

/// Set-based validation, in batches of lines so the progress moves. One reason per row: the
/// first rule it breaks, in the order of the CASE below. The result goes to
/// `inventory_upload_checked` (an INSERT; updating the staging rows in place rewrote every row
/// and its index entry); only the rejected lines' reasons are copied back to the staging rows,
/// for the rejected-rows download.
async fn validate(pool: &PgPool, uploader: &Uploader, job: &Job) -> AppResult<()> {
    let (voice_default, sms_default) = default_carriers(pool, uploader).await?;
    let mut tx = pool.begin().await?;
    tune(&mut tx).await?;
    let max_line: i64 = sqlx::query_scalar(
        "SELECT coalesce(max(line_no), 0)::bigint FROM inventory_upload_rows WHERE upload_id = $1",
    )
    .bind(job.id)
    .fetch_one(&mut *tx)
    .await?;
    let mut from = 0i64;
    while from <= max_line {
        let to = from + BATCH;
        sqlx::query(&VALIDATE_SQL)
            .bind(job.id)
            .bind(from as i32)
            .bind(to.min(i32::MAX as i64) as i32)
            .bind(uploader.org_id)
            .bind(uploader.carrier_orgs())
            .bind(uploader.tenant_scope())
            .bind(voice_default)
            .bind(sms_default)
            .bind(uploader.own_tenant())
            .execute(&mut *tx)
            .await?;
        from = to;
        // On the pool, not in the transaction: others see the progress while it runs.
        set_progress(
            pool,
            job.id,
            UploadStatus::Validating,
            5 + 45 * from.min(max_line) / max_line.max(1),
        )
        .await?;
    }
    // A later line repeating a number, whatever became of the first one. Last in the CASE
    // order: only lines that passed every other rule. The byte order ("C") sorts the numbers
    // about 30% faster than the database's collation, and equality is all this needs.
    sqlx::query(
        "UPDATE inventory_upload_checked c SET reason = 'duplicate_in_file', action = NULL,
                message = 'the number is also on line ' || d.first_line
         FROM (SELECT line_no, first_line FROM
                 (SELECT line_no, min(line_no) OVER (PARTITION BY e164 COLLATE \"C\") AS first_line
                  FROM inventory_upload_rows WHERE upload_id = $1 AND e164 IS NOT NULL) w
               WHERE w.first_line <> w.line_no) d
         WHERE c.upload_id = $1 AND c.line_no = d.line_no AND c.reason IS NULL",
    )
    .bind(job.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE inventory_upload_rows s SET reason = c.reason, message = c.message
         FROM inventory_upload_checked c
         WHERE c.upload_id = $1 AND c.reason IS NOT NULL
           AND s.upload_id = $1 AND s.line_no = c.line_no AND s.reason IS DISTINCT FROM c.reason",
    )
    .bind(job.id)
    .execute(&mut *tx)
    .await?;
    let summed = sqlx::query(
        "UPDATE inventory_uploads u SET
            rows_to_add = c.adds, rows_to_update = c.updates, rows_unchanged = c.unchanged,
            rows_rejected = c.rejected, rejected_by_reason = c.by_reason, progress = 50, updated_at = now()
         FROM (SELECT count(*) FILTER (WHERE action = 'add') AS adds,
                      count(*) FILTER (WHERE action = 'update') AS updates,
                      count(*) FILTER (WHERE action = 'unchanged') AS unchanged,
                      count(*) FILTER (WHERE reason IS NOT NULL) AS rejected,
                      coalesce((SELECT jsonb_object_agg(reason, n) FROM
                          (SELECT reason, count(*) AS n FROM inventory_upload_checked
                           WHERE upload_id = $1 AND reason IS NOT NULL GROUP BY reason) r), '{}') AS by_reason
               FROM inventory_upload_checked WHERE upload_id = $1) c
         WHERE u.id = $1 AND u.status <> 'failed'",
    )
    .bind(job.id)
    .execute(&mut *tx)
    .await?;
    if summed.rows_affected() == 0 {
        // The sweeper failed it meanwhile and cleaned up what was committed; roll back the
        // result rather than leave it behind.
        return Err(stalled());
    }
    tx.commit().await?;
    Ok(())
}

/// Settings for the upload's long set-based statements, for their transaction only. JIT
/// compilation cost about 1.4 s per 50,000-line batch and saved nothing on these plans;
/// the duplicate search sorts every line of the file by number.
async fn tune(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SET LOCAL jit = off")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// $1 upload, $2..$3 line range, $4 uploading org, $5 orgs whose carriers it may name,
/// $6 tenants it may allocate to (NULL = any tenant: the operator), $7/$8 default carriers,
/// $9 the uploading tenant when a tenant uploads its own numbers.
///
/// The CSV reader already set `e164` for every valid number (`country` too outside NANP), or
/// the reason. Tenants and carriers the file may name are a few rows, resolved once per
/// statement and hash-joined, instead of a lookup per line.
static VALIDATE_SQL: LazyLock<String> = LazyLock::new(|| {
    r#"
WITH tenant_names AS (
    SELECT DISTINCT ON (k.name) k.name, o.id
    FROM organizations o
    CROSS JOIN LATERAL (VALUES (lower(o.slug), 0), (lower(o.name), 1)) k(name, pref)
    WHERE o.kind = 'tenant' AND ($6::uuid IS NULL OR o.parent_id = $6 OR o.id = $6)
    ORDER BY k.name, k.pref, o.id
), carrier_names AS (
    SELECT DISTINCT ON (k.kind, lower(k.name)) k.kind, lower(k.name) AS name, k.id
    FROM carriers k
    WHERE k.org_id IS NULL OR k.org_id = ANY($5)
    ORDER BY k.kind, lower(k.name), k.org_id NULLS LAST
)
INSERT INTO inventory_upload_checked (upload_id, line_no, reason, message, action, e164, country, kind, national,
                                      state, region, rate_center, city, voice, sms, fax, voice_carrier_id,
                                      sms_carrier_id, tenant_id)
SELECT $1, c.line_no, c.reason,
       CASE c.reason
         WHEN c.staged_reason THEN c.staged_message
         WHEN 'invalid_number' THEN coalesce('“' || c.phone || '”', 'an empty phone number')
              || ' is not a valid North American number (NPA-NXX-XXXX, NPA and NXX 2-9, no N11)'
         WHEN 'invalid_boolean' THEN 'Voice, SMS and Fax must each be TRUE or FALSE'
         WHEN 'unknown_tenant' THEN 'no tenant “' || c.tenant || '” of yours'
         WHEN 'unknown_carrier' THEN
           CASE WHEN c.voice_carrier IS NOT NULL AND c.named_voice IS NULL
                THEN 'no voice carrier named “' || c.voice_carrier || '”'
                ELSE 'no SMS carrier profile named “' || c.sms_carrier || '”' END
         WHEN 'duplicate_in_inventory' THEN 'the number is already in another organization''s inventory'
         WHEN 'number_in_use'
           THEN 'the number is in use by a tenant: capabilities, carriers and allocation change only while it is unassigned'
       END,
       CASE WHEN c.reason IS NOT NULL THEN NULL
            WHEN c.existing IS NULL THEN 'add'
            WHEN c.same THEN 'unchanged' ELSE 'update' END,
       c.e164, c.country, c.kind, c.national, c.state,
       CASE WHEN c.kind = 'toll_free' THEN 'Toll-free (US/Canada)'
            WHEN c.city IS NOT NULL THEN c.city || ', ' || c.state
            WHEN c.e164 LIKE '+1%' THEN 'NPA ' || substr(c.national, 1, 3)
            ELSE c.country END,
       c.rate_center, c.city, c.voice_b, c.sms_b, c.fax_b, c.voice_carrier_id, c.sms_carrier_id, c.tenant_id
FROM (
    SELECT v.*,
           CASE
             WHEN v.staged_reason IS NOT NULL THEN v.staged_reason
             WHEN v.e164 IS NULL THEN 'invalid_number'
             WHEN v.voice_b IS NULL OR v.sms_b IS NULL OR v.fax_b IS NULL THEN 'invalid_boolean'
             WHEN v.tenant IS NOT NULL AND v.named_tenant IS NULL THEN 'unknown_tenant'
             WHEN v.voice_carrier IS NOT NULL AND v.named_voice IS NULL THEN 'unknown_carrier'
             WHEN v.sms_carrier IS NOT NULL AND v.named_sms IS NULL THEN 'unknown_carrier'
             WHEN v.existing IS NOT NULL AND v.existing_org <> $4 THEN 'duplicate_in_inventory'
             WHEN v.existing IS NOT NULL AND NOT v.same AND v.existing_in_use THEN 'number_in_use'
           END AS reason
    FROM (
        SELECT r.line_no, r.e164, r.reason AS staged_reason, r.message AS staged_message, r.phone, r.tenant,
               r.voice_carrier, r.sms_carrier, n.country, n.kind, n.national, rc.state, rc.rate_center, rc.city,
               b.voice_b, b.sms_b, b.fax_b, t0.id AS named_tenant, vc.id AS named_voice, sc.id AS named_sms,
               t.id AS tenant_id, k.voice_carrier_id, k.sms_carrier_id,
               ex.e164 AS existing, ex.inventory_org_id AS existing_org,
               {existing_in_use} AS existing_in_use,
               (ex.voice, ex.sms, ex.fax, ex.voice_carrier_id, ex.sms_carrier_id)
                   IS NOT DISTINCT FROM (b.voice_b, b.sms_b, b.fax_b, k.voice_carrier_id, k.sms_carrier_id)
                 AND (t.id IS NULL OR ex.allocated_tenant_id IS NOT DISTINCT FROM t.id) AS same
        FROM inventory_upload_rows r
        CROSS JOIN LATERAL (
            SELECT CASE upper(r.voice) WHEN 'TRUE' THEN true WHEN 'FALSE' THEN false END AS voice_b,
                   CASE upper(r.sms) WHEN 'TRUE' THEN true WHEN 'FALSE' THEN false END AS sms_b,
                   CASE upper(r.fax) WHEN 'TRUE' THEN true WHEN 'FALSE' THEN false END AS fax_b
        ) b
        LEFT JOIN rate_centers rc ON r.e164 LIKE '+1%'
            AND rc.npa = substr(r.e164, 3, 3)::char(3) AND rc.nxx = substr(r.e164, 6, 3)::char(3)
        CROSS JOIN LATERAL (
            SELECT coalesce(r.country, rc.country, 'US') AS country,
                   CASE WHEN r.e164 LIKE '+1%' THEN substr(r.e164, 3) ELSE substr(r.e164, 2) END AS national,
                   CASE WHEN r.country IS NULL AND substr(r.e164, 3, 3) IN ('800', '833', '844', '855', '866', '877', '888')
                        THEN 'toll_free' ELSE 'local' END AS kind
        ) n
        LEFT JOIN tenant_names t0 ON t0.name = lower(r.tenant)
        CROSS JOIN LATERAL (SELECT coalesce($9::uuid, t0.id) AS id) t
        LEFT JOIN carrier_names vc ON vc.kind = 'voice' AND vc.name = lower(r.voice_carrier)
        LEFT JOIN carrier_names sc ON sc.kind = 'sms' AND sc.name = lower(r.sms_carrier)
        CROSS JOIN LATERAL (
            SELECT coalesce(vc.id, CASE WHEN b.voice_b THEN $7::uuid END) AS voice_carrier_id,
                   coalesce(sc.id, CASE WHEN b.sms_b THEN $8::uuid END) AS sms_carrier_id
        ) k
        -- One primary-key probe per line, in number order within the batch. As a plain join the
        -- planner may hash the whole inventory instead, which at millions of numbers is a full
        -- scan of `numbers` per batch; LIMIT 1 (e164 is the key) keeps it a nested loop.
        LEFT JOIN LATERAL (
            SELECT x.e164, x.inventory_org_id, x.tenant_id, x.lifecycle, x.voice, x.sms, x.fax,
                   x.voice_carrier_id, x.sms_carrier_id, x.allocated_tenant_id
            FROM numbers x WHERE x.e164 = r.e164 LIMIT 1
        ) ex ON true
        WHERE r.upload_id = $1 AND r.line_no >= $2 AND r.line_no < $3
    ) v
) c
"#
    .replace("{existing_in_use}", &offer::in_use_sql("ex"))
});

async fn default_carriers(
    pool: &PgPool,
    uploader: &Uploader,
) -> sqlx::Result<(Option<Uuid>, Option<Uuid>)> {
    let pick = |kind: &'static str| {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM carriers WHERE kind = $1 AND is_default AND (org_id IS NULL OR org_id = ANY($2))
             ORDER BY org_id NULLS LAST LIMIT 1",
        )
        .bind(kind)
        .bind(uploader.carrier_orgs())
    };
    Ok((
        pick("voice").fetch_optional(pool).await?,
        pick("sms").fetch_optional(pool).await?,
    ))
}

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
async fn import(pool: &PgPool, uploader: &Uploader, id: Uuid, mode: Mode) -> AppResult<()> {
    // The connection lasts for the lookup only: what follows takes its own, and holding
    // one while waiting for another can starve the pool.
    let job = find(&mut *pool.acquire().await?, uploader.org_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("upload".into()))?;
    if mode == Mode::AllOrNothing && job.rows_rejected > 0 {
        // The audit entry commits with the status, so a reader who sees the job finished
        // also finds its entry, and a crash in between loses neither.
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE inventory_uploads SET status = 'aborted', progress = 100, updated_at = now(), finished_at = now(),
                    error = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(format!(
            "{} rejected rows: nothing was imported (all-or-nothing)",
            job.rows_rejected
        ))
        .execute(&mut *tx)
        .await?;
        audit_upload(&mut tx, uploader, &job, Outcome::Failure, 0, 0).await?;
        tx.commit().await?;
        return Ok(());
    }
    set_progress(pool, id, UploadStatus::Importing, 50).await?;
    let (to_add, to_update) = (job.rows_to_add > 0, job.rows_to_update > 0);
    let mut tx = pool.begin().await?;
    tune(&mut tx).await?;
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
        let message = format!(
            "{} rows were taken since the file was checked (by another upload or a tenant): \
             nothing was imported (all-or-nothing); their lines are in the rejected-rows file",
            taken.len()
        );
        let mut tx = pool.begin().await?;
        reject_taken(&mut tx, id, &taken).await?;
        mark_failed(&mut *tx, id, &message).await?;
        let job = find(&mut tx, uploader.org_id, id).await?.unwrap_or(job);
        audit_upload(&mut tx, uploader, &job, Outcome::Failure, 0, 0).await?;
        tx.commit().await?;
        return Ok(());
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

/// $1 upload, $2..$3 lines, $4 inventory org, $5 uploading org. In number order, so the
/// primary key and the search indexes (which end in `national`) grow at their right edge
/// rather than at random pages.
const INSERT_SQL: &str = r#"
INSERT INTO numbers (e164, country, kind, national, npa, nxx, state, region, rate_center, city, inventory_org_id,
                     voice, sms, fax, voice_carrier_id, sms_carrier_id, uploaded_by_org_id, allocated_tenant_id, upload_id)
SELECT c.e164, c.country, c.kind, c.national, substr(c.national, 1, 3), substr(c.national, 4, 3), c.state,
       c.region, c.rate_center, c.city, $4, c.voice, c.sms, c.fax, c.voice_carrier_id, c.sms_carrier_id, $5,
       c.tenant_id, $1
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
       sms_carrier_id = c.sms_carrier_id, allocated_tenant_id = coalesce(c.tenant_id, n.allocated_tenant_id)
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

/// Rejected rows as CSV, in file order, with an `Error` column; it re-imports once fixed.
pub async fn rejected_csv(pool: &PgPool, id: Uuid) -> AppResult<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = csvstage::HEADER.to_vec();
    header.push("Error");
    out.write_record(&header).map_err(csv_err)?;
    let mut after = 0i32;
    loop {
        let rows: Vec<RejectedRow> = sqlx::query_as(
            "SELECT line_no, country_code, phone, voice, sms, fax, voice_carrier, sms_carrier, tenant, reason, message
             FROM inventory_upload_rows WHERE upload_id = $1 AND reason IS NOT NULL AND line_no > $2
             ORDER BY line_no LIMIT 10000",
        )
        .bind(id)
        .bind(after)
        .fetch_all(pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.line_no;
        for r in &rows {
            let error = format!(
                "line {}: {}: {}",
                r.line_no,
                r.reason,
                r.message.as_deref().unwrap_or("")
            );
            super::csvout::write(
                &mut out,
                [
                    r.country_code.as_deref().unwrap_or(""),
                    r.phone.as_deref().unwrap_or(""),
                    r.voice.as_deref().unwrap_or(""),
                    r.sms.as_deref().unwrap_or(""),
                    r.fax.as_deref().unwrap_or(""),
                    r.voice_carrier.as_deref().unwrap_or(""),
                    r.sms_carrier.as_deref().unwrap_or(""),
                    r.tenant.as_deref().unwrap_or(""),
                    error.as_str(),
                ],
            )
            .map_err(csv_err)?;
        }
    }
    out.into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))
}

fn csv_err(err: csv::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("csv: {err}"))
}

#[derive(sqlx::FromRow)]
struct RejectedRow {
    line_no: i32,
    country_code: Option<String>,
    phone: Option<String>,
    voice: Option<String>,
    sms: Option<String>,
    fax: Option<String>,
    voice_carrier: Option<String>,
    sms_carrier: Option<String>,
    tenant: Option<String>,
    reason: String,
    message: Option<String>,
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
