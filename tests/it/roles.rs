//! The runtime role the server connects as: every way a schema owner could rewrite the audit
//! log is refused to it, the ordinary work still goes through (an entry written is sealed),
//! and `inward serve` refuses to start as a role that could change the schema.

use std::process::Command;

use sqlx::{Connection, PgConnection, PgPool};

use crate::db::{OWNER, RUNTIME, as_role, url_as};

async fn as_runtime(pool: &PgPool) -> PgConnection {
    PgConnection::connect_with(&as_role(&pool.connect_options(), RUNTIME))
        .await
        .expect("connect as the runtime role")
}

async fn entries(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Each statement that, run as `postgres`, rewrote or emptied the audit log: as the runtime
/// role each one fails with SQLSTATE 42501 (insufficient privilege) and changes nothing.
#[test]
fn every_bypass_of_the_audit_log_is_refused_to_the_runtime_role() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        let admin = app.api("admin@globex.test").await;
        admin.provisioned(1).await;
        let before = entries(&pool).await;
        assert!(before > 0);
        inward::audit::chain::seal_pending(&pool).await.unwrap();
        let head: (i64, Vec<u8>) = sqlx::query_as("SELECT seq, hash FROM audit_chain_head")
            .fetch_one(&pool)
            .await
            .unwrap();

        let bypasses = [
            "SET LOCAL session_replication_role = replica",
            "UPDATE audit_log SET status = 'FAILURE'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER ALL",
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete",
            "DROP TRIGGER audit_log_no_update_delete ON audit_log",
            "DROP TABLE audit_log",
            "INSERT INTO audit_log (at, action, status, details) \
             VALUES ('2020-01-01', 'RELEASE', 'SUCCESS', '{\"forged\": true}')",
            "INSERT INTO audit_seals (seq, entry_id, hash) VALUES (999999, 999999, '\\x00')",
            "UPDATE audit_chain_head SET seq = 0",
            "DELETE FROM audit_seals",
            "UPDATE audit_verifications SET broken_at = NULL",
            "ALTER FUNCTION audit_seal_pending(int) SECURITY INVOKER",
            "DELETE FROM audit_unsealed",
            "DROP TRIGGER audit_log_queued_for_sealing ON audit_log",
            "ALTER FUNCTION audit_queue_for_sealing() SECURITY INVOKER",
            "INSERT INTO audit_unsealed (entry_id) VALUES (999999)",
            "CREATE TABLE shadow (id int)",
            "SELECT setval('audit_log_id_seq', 1)",
            "DELETE FROM _sqlx_migrations",
            "SET ROLE inward_owner",
            "GRANT inward_owner TO inward_runtime",
        ];
        let mut conn = as_runtime(&pool).await;
        for statement in bypasses {
            let mut tx = conn.begin().await.unwrap();
            let refused = sqlx::raw_sql(statement).execute(&mut *tx).await;
            let code = match &refused {
                Err(sqlx::Error::Database(e)) => e.code().map(|c| c.to_string()),
                _ => None,
            };
            assert_eq!(
                code.as_deref(),
                Some("42501"),
                "{statement} was not refused for lack of privilege: {refused:?}"
            );
            tx.rollback().await.unwrap();
        }
        conn.close().await.unwrap();

        assert_eq!(
            entries(&pool).await,
            before,
            "nothing was written or removed"
        );
        let after: (i64, Vec<u8>) = sqlx::query_as("SELECT seq, hash FROM audit_chain_head")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(after, head, "the chain's head is untouched");
        let verified = inward::audit::chain::verify(&pool, 1, None)
            .await
            .unwrap()
            .expect("the chain verifies");
        assert_eq!(verified.verified_to, head.0);
    })
}

/// The runtime role writes entries the way the server does, and asks for them to be sealed
/// (as its sealer does); sealing runs with its owner's rights.
#[test]
fn the_runtime_role_writes_entries_and_the_owner_seals_them() {
    crate::db::db_test(|pool| async move {
        let mut conn = as_runtime(&pool).await;
        sqlx::query("SELECT set_config('inward.scope', 'all', false)")
            .execute(&mut conn)
            .await
            .unwrap();
        for _ in 0..3 {
            sqlx::query("INSERT INTO audit_log (action, status) VALUES ('LOGIN', 'SUCCESS')")
                .execute(&mut conn)
                .await
                .unwrap();
        }
        // Sealing runs with its owner's rights whoever asks for it.
        let sealed: i32 = sqlx::query_scalar("SELECT audit_seal_pending(1000)")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(sealed >= 3, "{sealed}");
        conn.close().await.unwrap();
        let (entries, seals): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM audit_seals)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(entries >= 3);
        assert_eq!(entries, seals);
        let verified = inward::audit::chain::verify(&pool, 1, None)
            .await
            .unwrap()
            .expect("the chain verifies");
        assert_eq!(verified.verified_to, entries);
    })
}

fn serve(url: &str, extra: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_inward"));
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("DATABASE_URL", url)
        .env("INWARD_SECRETS__KEY", crate::genesys::SECRET_KEY)
        .env("RUST_LOG", "error");
    command.output().expect("run inward serve")
}

/// `inward serve` refuses the superuser and the schema's owner, naming the rights and the
/// way out; the runtime role serves (the multi-instance tests run it that way).
#[test]
fn serve_refuses_roles_that_can_change_the_schema() {
    crate::db::db_test(|pool| async move {
        let options = pool.connect_options();
        let superuser = url_as(&options, options.get_username());
        for (url, rights) in [
            (superuser, "it is a superuser"),
            (url_as(&options, OWNER), "it owns tables of schema public"),
        ] {
            let out = serve(&url, &[]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{url} served: {err}");
            for part in [rights, "inward db setup-roles", "--allow-owner"] {
                assert!(err.contains(part), "`{part}` not in: {err}");
            }
        }
    })
}

/// `--allow-owner` is the way out the refusal names: the superuser then serves.
#[test]
fn allow_owner_lets_the_superuser_serve() {
    crate::db::db_test(|pool| async move {
        use std::io::BufRead;
        let options = pool.connect_options();
        let mut child = Command::new(env!("CARGO_BIN_EXE_inward"))
            .args(["serve", "--listen", "127.0.0.1:0", "--allow-owner"])
            .env("DATABASE_URL", url_as(&options, options.get_username()))
            .env("INWARD_SECRETS__KEY", crate::genesys::SECRET_KEY)
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(line.contains("Inward is listening on http://"), "{line:?}");
    })
}

/// Migrating is the owner's: the runtime role, asked to apply a pending migration, is told
/// which role to use, and the schema is unchanged.
#[test]
fn the_runtime_role_cannot_migrate_and_is_told_who_can() {
    crate::db::db_test(|pool| async move {
        let options = pool.connect_options();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)")
            .execute(&pool)
            .await
            .unwrap();
        let (ok, out) = crate::cli::inward(&url_as(&options, RUNTIME), &["migrate"], None);
        assert!(!ok, "{out}");
        assert!(out.contains("schema's owner role"), "{out}");
        assert!(out.contains("inward db setup-roles"), "{out}");
    })
}

/// `inward db setup-roles` on a database first migrated by a superuser (an install from
/// before the roles): ownership moves to the owner role, the runtime role gets its rights,
/// a second run changes nothing, and `inward migrate` runs as the owner.
#[test]
fn setup_roles_takes_over_a_database_migrated_by_a_superuser() {
    crate::db::db_test(|pool| async move {
        let options = pool.connect_options();
        let superuser = url_as(&options, options.get_username());
        // What a superuser-run install left: a table the owner does not own.
        sqlx::query("CREATE TABLE left_by_superuser (id int)")
            .execute(&pool)
            .await
            .unwrap();
        for _ in 0..2 {
            let (ok, out) = crate::cli::inward(&superuser, &["db", "setup-roles"], None);
            assert!(ok, "{out}");
            assert!(out.contains("owned by inward_owner"), "{out}");
        }
        let owner: String = sqlx::query_scalar(
            "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE relname = 'left_by_superuser'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(owner, OWNER);
        let mut conn = as_runtime(&pool).await;
        sqlx::query("INSERT INTO left_by_superuser VALUES (1)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();

        let (ok, out) = crate::cli::inward(&url_as(&options, OWNER), &["migrate"], None);
        assert!(ok, "{out}");
        let (ok, out) = crate::cli::inward(
            &superuser,
            &["db", "setup-roles", "--runtime", "Bad-Name"],
            None,
        );
        assert!(!ok);
        assert!(out.contains("not a usable role name"), "{out}");
    })
}
