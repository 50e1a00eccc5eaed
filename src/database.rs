//! The connection to PostgreSQL and the schema's migrations: how every command, the server
//! and the benchmark reach the database.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};

use crate::config::AppConfig;

pub async fn connect(config: &AppConfig) -> anyhow::Result<PgPool> {
    connect_logging(config, log::LevelFilter::Warn).await
}

/// `slow`: the level at which statements slower than a second are logged.
pub async fn connect_logging(config: &AppConfig, slow: log::LevelFilter) -> anyhow::Result<PgPool> {
    // JIT compilation pays off for long analytic queries, not for Inward's short ones: a
    // vanity search whose estimated cost crosses jit_above_cost spent 8-17 ms compiling.
    let options = PgConnectOptions::from_str(&config.database.url)
        .map_err(|e| {
            anyhow::anyhow!(
                "database.url (DATABASE_URL) is not a PostgreSQL URL ({:?}): {e}",
                config.database
            )
        })?
        .options([("jit", "off")])
        .log_slow_statements(slow, std::time::Duration::from_secs(1));
    let unreachable = |e: sqlx::Error| {
        anyhow::anyhow!(
            "cannot connect to the database named by database.url (DATABASE_URL) ({:?}): {e}",
            config.database
        )
    };
    // One connection first: the pool would retry until its timeout and then report only
    // that it timed out, where this reports why (refused, unknown database, bad password).
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), options.connect())
        .await
        .map_err(|_| unreachable(sqlx::Error::PoolTimedOut))?
        .map_err(unreachable)?;
    let pool =
        crate::state::pool_options(config.database.max_connections).connect_lazy_with(options);
    drop(first);
    Ok(pool)
}

/// Applies the pending migrations; with none pending it changes nothing, so any role may
/// run it then.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    if pending_migrations(pool).await?.is_empty() {
        return Ok(());
    }
    sqlx::migrate!("./migrations")
        .run(pool)
        .await
        .map_err(|e| {
            let e = e.to_string();
            if e.contains("permission denied") || e.contains("must be owner") {
                anyhow::anyhow!(
                    "{e}: migrations run as the schema's owner role (see `inward db setup-roles`)"
                )
            } else {
                anyhow::anyhow!(e)
            }
        })?;
    crate::roles::narrow_after_migrate(pool).await?;
    Ok(())
}

/// The migrations this binary carries that the database lacks; an error when the database
/// has some this binary does not know (a newer Inward migrated it).
async fn pending_migrations(pool: &PgPool) -> anyhow::Result<Vec<String>> {
    let migrator = sqlx::migrate!("./migrations");
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    let applied: Vec<i64> = if exists {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    let unknown: Vec<i64> = applied
        .iter()
        .copied()
        .filter(|v| !migrator.iter().any(|m| m.version == *v))
        .collect();
    anyhow::ensure!(
        unknown.is_empty(),
        "the database has migrations this binary does not know ({unknown:?}): a newer Inward migrated it; start the newer binary, or restore a backup"
    );
    Ok(migrator
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| format!("{:04}_{}", m.version, m.description.replace(' ', "_")))
        .collect())
}

/// Refuses a database whose migrations differ from this binary's.
pub async fn schema_is_current(pool: &PgPool) -> anyhow::Result<()> {
    let pending = pending_migrations(pool).await?;
    anyhow::ensure!(
        pending.is_empty(),
        "the database needs {} migration(s) this binary carries ({}): run `inward migrate` with the schema owner's role, or start with `inward serve --migrate --allow-owner`",
        pending.len(),
        pending.join(", ")
    );
    Ok(())
}

/// The values a table's `status` column may hold, as its CHECK in `migrations/` lists them:
/// for the tests that hold each status enum to its column.
#[cfg(test)]
pub fn allowed_statuses(table: &str) -> Vec<String> {
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations")
        .map(|e| std::fs::read_to_string(e.expect("file").path()).expect("read"))
        .collect::<Vec<_>>();
    let sql = migrations
        .iter()
        .find_map(|m| m.split(&format!("CREATE TABLE {table} (")).nth(1))
        .unwrap_or_else(|| panic!("no CREATE TABLE {table}"));
    let check = sql
        .split("CHECK (status IN (")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no status CHECK on {table}"));
    check
        .split(',')
        .map(|v| v.trim().trim_matches('\'').to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::allowed_statuses;

    #[test]
    fn each_status_enum_names_exactly_what_its_column_allows() {
        use crate::audit::Outcome;
        use crate::domain::cnam::SyncStatus;
        use crate::domain::e911::E911Status;
        use crate::domain::port::PortStatus;
        use crate::inventory::upload::UploadStatus;
        use crate::reservations::approvals::ApprovalStatus;
        use crate::reservations::repo::ReservationStatus;
        let named = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            allowed_statuses("approvals"),
            named(&ApprovalStatus::ALL.map(ApprovalStatus::as_str))
        );
        assert_eq!(
            allowed_statuses("reservations"),
            named(&ReservationStatus::ALL.map(ReservationStatus::as_str))
        );
        assert_eq!(
            allowed_statuses("inventory_uploads"),
            named(&UploadStatus::ALL.map(UploadStatus::as_str))
        );
        assert_eq!(
            allowed_statuses("port_numbers"),
            named(&PortStatus::ALL.map(PortStatus::as_str))
        );
        assert_eq!(
            allowed_statuses("audit_log"),
            named(&Outcome::ALL.map(Outcome::as_str))
        );
        assert_eq!(
            allowed_statuses("cnam_records"),
            named(&SyncStatus::STORED.map(SyncStatus::as_str))
        );
        assert_eq!(
            allowed_statuses("e911_records"),
            named(&E911Status::STORED.map(E911Status::as_str))
        );
    }
}
