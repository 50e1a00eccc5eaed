//! The upload's validation: set-based SQL over the staged lines, one reason per rejected row.

use std::sync::LazyLock;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{BATCH, Job, UploadStatus, set_progress, stalled};
use crate::error::AppResult;
use crate::inventory::Uploader;
use crate::numbers::offer;

/// Set-based validation, in batches of lines so the progress moves. One reason per row: the
/// first rule it breaks, in the order of the CASE below. The result goes to
/// `inventory_upload_checked` (an INSERT; updating the staging rows in place rewrote every row
/// and its index entry); only the rejected lines' reasons are copied back to the staging rows,
/// for the rejected-rows download.
pub(super) async fn validate(pool: &PgPool, uploader: &Uploader, job: &Job) -> AppResult<()> {
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
pub(super) async fn tune(conn: &mut PgConnection) -> sqlx::Result<()> {
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
                                      sms_carrier_id, tenant_id, mms, e911_capable)
SELECT $1, c.line_no, c.reason,
       CASE c.reason
         WHEN c.staged_reason THEN c.staged_message
         WHEN 'invalid_number' THEN coalesce('“' || c.phone || '”', 'an empty phone number')
              || ' is not a valid North American number (NPA-NXX-XXXX, NPA and NXX 2-9, no N11)'
         WHEN 'invalid_boolean' THEN 'Voice, SMS and Fax must each be TRUE or FALSE (MMS and E911 too, or empty)'
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
       c.rate_center, c.city, c.voice_b, c.sms_b, c.fax_b, c.voice_carrier_id, c.sms_carrier_id, c.tenant_id,
       c.mms_v, c.e911_v
FROM (
    SELECT v.*,
           CASE
             WHEN v.staged_reason IS NOT NULL THEN v.staged_reason
             WHEN v.e164 IS NULL THEN 'invalid_number'
             WHEN v.voice_b IS NULL OR v.sms_b IS NULL OR v.fax_b IS NULL THEN 'invalid_boolean'
             WHEN (v.mms IS NOT NULL AND v.mms_b IS NULL) OR (v.e911 IS NOT NULL AND v.e911_b IS NULL)
               THEN 'invalid_boolean'
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
               r.mms, r.e911, b.mms_b, b.e911_b,
               -- An empty MMS or E911 cell keeps what the number has (a new one: no MMS, and
               -- 911 by its kind, NULL).
               coalesce(b.mms_b, ex.mms, false) AS mms_v,
               CASE WHEN r.e911 IS NULL THEN ex.e911_capable ELSE b.e911_b END AS e911_v,
               t.id AS tenant_id, k.voice_carrier_id, k.sms_carrier_id,
               ex.e164 AS existing, ex.inventory_org_id AS existing_org,
               {existing_in_use} AS existing_in_use,
               -- 911 compared as it applies: a TRUE for a local number changes nothing.
               (ex.voice, ex.sms, ex.fax, ex.voice_carrier_id, ex.sms_carrier_id, ex.mms,
                coalesce(ex.e911_capable, n.kind = 'local'))
                   IS NOT DISTINCT FROM (b.voice_b, b.sms_b, b.fax_b, k.voice_carrier_id, k.sms_carrier_id,
                                         coalesce(b.mms_b, ex.mms, false),
                                         coalesce(b.e911_b, ex.e911_capable, n.kind = 'local'))
                 AND (t.id IS NULL OR ex.allocated_tenant_id IS NOT DISTINCT FROM t.id) AS same
        FROM inventory_upload_rows r
        CROSS JOIN LATERAL (
            SELECT CASE upper(r.voice) WHEN 'TRUE' THEN true WHEN 'FALSE' THEN false END AS voice_b,
                   CASE upper(r.sms) WHEN 'TRUE' THEN true WHEN 'FALSE' THEN false END AS sms_b,
                   CASE upper(r.fax) WHEN 'TRUE' THEN true WHEN 'FALSE' THEN false END AS fax_b,
                   CASE upper(r.mms) WHEN 'TRUE' THEN true WHEN 'FALSE' THEN false END AS mms_b,
                   CASE upper(r.e911) WHEN 'TRUE' THEN true WHEN 'FALSE' THEN false END AS e911_b
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
                   x.voice_carrier_id, x.sms_carrier_id, x.allocated_tenant_id, x.mms, x.e911_capable
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
