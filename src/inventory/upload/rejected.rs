//! The rejected-rows download: the refused lines as CSV, each with its reason.

use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::inventory::csvstage;

/// Rejected rows as CSV, in file order, with an `Error` column; it re-imports once fixed.
pub async fn rejected_csv(pool: &PgPool, id: Uuid) -> AppResult<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = csvstage::HEADER.to_vec();
    header.push("Error");
    out.write_record(&header).map_err(csv_err)?;
    let mut after = 0i32;
    loop {
        let rows: Vec<RejectedRow> = sqlx::query_as(
            "SELECT line_no, country_code, phone, voice, sms, fax, voice_carrier, sms_carrier, tenant, mms, e911,
                    reason, message
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
            crate::web::csv::write(
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
                    r.mms.as_deref().unwrap_or(""),
                    r.e911.as_deref().unwrap_or(""),
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
    mms: Option<String>,
    e911: Option<String>,
    reason: String,
    message: Option<String>,
}
