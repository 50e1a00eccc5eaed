//! The `job_runs` table: a periodic job runs on one instance per interval, the one whose
//! conditional UPDATE claims the row.

use sqlx::PgPool;

/// Claims the job for this interval; false when another instance ran it recently.
pub async fn claim(pool: &PgPool, name: &str, interval_seconds: i64) -> sqlx::Result<bool> {
    sqlx::query("INSERT INTO job_runs (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(name)
        .execute(pool)
        .await?;
    let claimed = sqlx::query(
        "UPDATE job_runs SET last_run_at = now() WHERE name = $1 AND last_run_at <= now() - make_interval(secs => $2)",
    )
    .bind(name)
    .bind(interval_seconds as f64)
    .execute(pool)
    .await?;
    Ok(claimed.rows_affected() == 1)
}
