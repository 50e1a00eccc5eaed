//! A fresh, migrated database for each test, dropped when the test ends.
//!
//! `#[sqlx::test]` names each database after the test's path alone, so two checkouts
//! running the suite on one PostgreSQL collide, and its `DROP DATABASE` fails silently
//! while the server under test still holds connections from its other pools. Here each
//! database gets a random name, the test's runtime (with the server, its pools and its
//! listener) is shut down before the drop, and the drop forces out whatever is left, on
//! success and on failure alike.
//!
//! Each database is set up as `inward db setup-roles` does and migrated as the owner role;
//! the servers and commands under test connect as the runtime role, while the pool handed to
//! the test is the administrator's, for fixtures and for tampering on purpose.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::time::Duration;

use futures::FutureExt;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

/// The prefix of every test database, so a run killed half-way leaves databases that are
/// easy to find (`scripts/test` lists them).
pub const PREFIX: &str = "inward_test_";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn admin_options() -> PgConnectOptions {
    let url = std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must name a PostgreSQL database from which the tests may create \
         databases (scripts/test sets it)",
    );
    PgConnectOptions::from_str(&url).expect("DATABASE_URL is not a PostgreSQL URL")
}

async fn admin(server: &PgConnectOptions, statement: &str) {
    let mut conn = PgConnection::connect_with(server)
        .await
        .expect("connect to DATABASE_URL");
    sqlx::raw_sql(statement)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    let _ = conn.close().await;
}

pub const OWNER: &str = inward::roles::DEFAULT_OWNER;
pub const RUNTIME: &str = inward::roles::DEFAULT_RUNTIME;

/// `options` (a test database's) as the given role.
pub fn as_role(options: &PgConnectOptions, role: &str) -> PgConnectOptions {
    options.clone().username(role)
}

/// The URL of the database `options` names, for `role` (a child process's DATABASE_URL).
pub fn url_as(options: &PgConnectOptions, role: &str) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(options.get_database().unwrap());
    url.set_username(role).unwrap();
    url.set_password(None).unwrap();
    url.to_string()
}

/// The URL a server or command under test uses: the runtime role's.
pub fn runtime_url(options: &PgConnectOptions) -> String {
    url_as(options, RUNTIME)
}

/// A pool on the test database as the runtime role, for a server under test.
/// Built as the server builds its pools, so each connection carries its task's scope.
pub fn runtime_pool(pool: &PgPool) -> PgPool {
    inward::state::pool_options(10)
        .idle_timeout(Duration::from_secs(1))
        .connect_lazy_with(as_role(&pool.connect_options(), RUNTIME))
}

/// Runs `test` with a pool on a database of its own, set up and migrated as the quick
/// start does (`inward db setup-roles`, then `inward migrate` as the owner).
pub fn db_test<F, Fut>(test: F)
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = ()>,
{
    db_test_at(&admin_options(), test)
}

/// `db_test` on the server `server` names (as a superuser) instead of DATABASE_URL's.
pub fn db_test_at<F, Fut>(server: &PgConnectOptions, test: F)
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = format!("{PREFIX}{}", uuid::Uuid::new_v4().simple());
    runtime().block_on(admin(server, &format!("CREATE DATABASE {name}")));

    let rt = runtime();
    let outcome = rt.block_on(
        AssertUnwindSafe(async {
            let pool = PgPoolOptions::new()
                .max_connections(5)
                .idle_timeout(Duration::from_secs(1))
                .connect_with(server.clone().database(&name))
                .await
                .expect("connect to the test database");
            let mut conn = pool.acquire().await.unwrap();
            inward::roles::setup(&mut conn, OWNER, RUNTIME)
                .await
                .expect("set up the roles");
            drop(conn);
            let owner = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(as_role(&server.clone().database(&name), OWNER))
                .await
                .expect("connect as the owner role");
            inward::database::migrate(&owner).await.expect("migrate");
            owner.close().await;
            test(pool).await;
        })
        .catch_unwind(),
    );
    // Ends the server tasks the test spawned, and with them every pool they hold.
    rt.shutdown_timeout(Duration::from_secs(10));

    runtime().block_on(admin(
        server,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    ));
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
