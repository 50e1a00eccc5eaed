//! The `cart_items` table (migration 0033): one row per user and number.

use crate::domain::TenantId;
use crate::domain::UserId;
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};

/// A transaction holding the user's cart lock: what it reads of the cart stays true until it
/// ends (a limit checked before adding; a cart reserved once, not twice by a double click).
pub async fn locked(
    pool: &PgPool,
    user_id: UserId,
) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('cart ' || $1::text, 0))")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// The user's cart, oldest first.
pub async fn numbers(db: impl PgExecutor<'_>, user_id: UserId) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT e164 FROM cart_items WHERE user_id = $1 ORDER BY added_at, e164")
        .bind(user_id)
        .fetch_all(db)
        .await
}

pub async fn add(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    tenant_id: TenantId,
    numbers: &[String],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cart_items (user_id, tenant_id, e164)
         SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(tenant_id)
    .bind(numbers)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn remove(pool: &PgPool, user_id: UserId, numbers: &[String]) -> sqlx::Result<u64> {
    if numbers.is_empty() {
        return Ok(0);
    }
    Ok(
        sqlx::query("DELETE FROM cart_items WHERE user_id = $1 AND e164 = ANY($2)")
            .bind(user_id)
            .bind(numbers)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

pub async fn clear(pool: &PgPool, user_id: UserId) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM cart_items WHERE user_id = $1")
        .bind(user_id)
        .execute(pool)
        .await?
        .rows_affected())
}

pub async fn count(pool: &PgPool, user_id: UserId) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM cart_items WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(pool)
        .await
}
