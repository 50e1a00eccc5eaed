//! `database.read_url`: searches read from a real streaming replica, a caller's own change
//! is read back from the primary, and holds are decided on the primary whatever the replica
//! shows. The test starts a primary and a replica of its own (`initdb`, then `pg_basebackup
//! -R`) on free ports, pauses the replica's replay to make it visibly stale, and stops and
//! removes both at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use reqwest::StatusCode;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};

use crate::common::error_code;

/// A primary and its streaming replica, each a PostgreSQL of this test's own.
struct Pair {
    dir: PathBuf,
    bin: PathBuf,
    primary_port: u16,
    replica_port: u16,
}

/// The newest installed PostgreSQL's programs (`scripts/test` installs them when missing).
fn pg_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server programs under /usr/lib/postgresql")
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .expect("initdb under /usr/lib/postgresql/*/bin")
        .1
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Runs `program` as the OS user `postgres` when the tests run as root: initdb and
/// postgres refuse to run as root.
fn as_postgres(program: &Path, args: &[&str]) -> Output {
    let mut command = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()))
}

fn must(program: &Path, args: &[&str]) -> String {
    let out = as_postgres(program, args);
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Pair {
    fn start() -> Pair {
        let bin = pg_bin();
        let dir = PathBuf::from(must(
            Path::new("/usr/bin/mktemp"),
            &["-d", "/tmp/inward-replica-XXXXXX"],
        ));
        let pair = Pair {
            dir,
            bin,
            primary_port: free_port(),
            replica_port: free_port(),
        };
        let primary = pair.data("primary");
        must(
            &pair.bin.join("initdb"),
            &[
                "-D",
                &primary,
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
        );
        // initdb's own pg_hba.conf lets local replication connections in (trust, as asked).
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(pair.dir.join("primary/postgresql.conf"))
            .expect("the primary's postgresql.conf");
        writeln!(
            conf,
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             fsync = off\nwal_level = replica\nmax_wal_senders = 4\nmax_connections = 100",
            pair.primary_port,
            pair.dir.display()
        )
        .expect("write postgresql.conf");
        pair.pg_ctl(&[
            "-D",
            &primary,
            "-l",
            &pair.data("primary.log"),
            "-w",
            "-t",
            "60",
            "start",
        ]);
        let port = pair.primary_port.to_string();
        let replica = pair.data("replica");
        must(
            &pair.bin.join("pg_basebackup"),
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &replica,
                "-R",
                "-X",
                "stream",
            ],
        );
        let port_option = format!("-p {}", pair.replica_port);
        pair.pg_ctl(&[
            "-D",
            &replica,
            "-l",
            &pair.data("replica.log"),
            "-o",
            &port_option,
            "-w",
            "-t",
            "60",
            "start",
        ]);
        pair
    }

    fn data(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn pg_ctl(&self, args: &[&str]) {
        must(&self.bin.join("pg_ctl"), args);
    }

    /// The primary, as the superuser (for `db::db_test_at`).
    fn primary(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.primary_port)
            .username("postgres")
            .database("postgres")
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for data in ["replica", "primary"] {
            let _ = as_postgres(
                &self.bin.join("pg_ctl"),
                &["-D", &self.data(data), "-m", "immediate", "-w", "stop"],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A superuser's connection to database `name` on the replica, once it has replayed the
/// database's creation.
async fn replica_connection(port: u16, name: &str) -> PgConnection {
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username("postgres")
        .database(name);
    for _ in 0..300 {
        if let Ok(conn) = PgConnection::connect_with(&options).await {
            return conn;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the replica never had database {name}");
}

/// Waits until the replica has replayed everything the primary has written so far.
async fn caught_up(primary: &PgPool, replica: &mut PgConnection) {
    let written: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(primary)
        .await
        .unwrap();
    for _ in 0..300 {
        let replayed: bool =
            sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn")
                .bind(&written)
                .fetch_one(&mut *replica)
                .await
                .unwrap();
        if replayed {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the replica did not catch up with {written}");
}

async fn set_replay(replica: &mut PgConnection, paused: bool) {
    let call = if paused {
        "SELECT pg_wal_replay_pause()"
    } else {
        "SELECT pg_wal_replay_resume()"
    };
    sqlx::query(call).execute(&mut *replica).await.unwrap();
    let want = if paused { "paused" } else { "not paused" };
    for _ in 0..100 {
        let state: String = sqlx::query_scalar("SELECT pg_get_wal_replay_pause_state()")
            .fetch_one(&mut *replica)
            .await
            .unwrap();
        if state == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the replica's replay did not become {want}");
}

#[test]
fn searches_read_the_replica_a_callers_change_the_primary_and_holds_stay_exact() {
    let pair = Pair::start();
    let (primary_port, replica_port) = (pair.primary_port, pair.replica_port);
    crate::db::db_test_at(&pair.primary(), |pool| async move {
        let name = pool.connect_options().get_database().unwrap().to_string();
        let read_url = format!(
            "postgres://{}@127.0.0.1:{replica_port}/{name}",
            crate::db::RUNTIME
        );
        let app = crate::common::spawn_app_with(pool.clone(), |c| {
            c.database.read_url = read_url;
            c.database.read_your_writes_seconds = 5;
        })
        .await;
        let agent = app.api("agent@globex.test").await;
        let admin = app.api("admin@globex.test").await;
        let mut replica = replica_connection(replica_port, &name).await;
        caught_up(&pool, &mut replica).await;
        let number = agent.find("npa=512", 1).await.remove(0);

        // From here the replica shows the stock as it was.
        set_replay(&mut replica, true).await;
        let (status, body) = admin.reserve(std::slice::from_ref(&number)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(app.number_state(&number).await, "reserved");
        assert!(
            agent.searches_to(&number).await,
            "the agent's search read the paused replica, where the number is still free"
        );
        assert!(
            !admin.searches_to(&number).await,
            "the admin just held it, and reads the primary"
        );
        let (status, body) = agent.reserve(std::slice::from_ref(&number)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(error_code(&body), "numbers_unavailable");
        assert!(
            !agent.searches_to(&number).await,
            "after trying to hold it, the agent reads the primary"
        );
        tokio::time::sleep(Duration::from_millis(5_100)).await;
        assert!(
            agent.searches_to(&number).await,
            "the window passed: the agent reads the replica again"
        );
        let holds: i64 =
            sqlx::query_scalar("SELECT count(*) FROM holds WHERE e164 = $1 AND ended_at IS NULL")
                .bind(&number)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(holds, 1, "held once, by the admin");

        set_replay(&mut replica, false).await;
        caught_up(&pool, &mut replica).await;
        assert!(
            !agent.searches_to(&number).await,
            "the replica caught up: the number is held"
        );
        replica.close().await.unwrap();

        // `inward serve` refuses a replica it could not read from as it reads the primary.
        let primary_url = format!(
            "postgres://{}@127.0.0.1:{primary_port}/{name}",
            crate::db::RUNTIME
        );
        for (read_url, naming) in [
            (
                format!("postgres://postgres@127.0.0.1:{replica_port}/{name}"),
                "database.read_url connects as postgres",
            ),
            (
                format!(
                    "postgres://{}@127.0.0.1:{}/{name}",
                    crate::db::RUNTIME,
                    free_port()
                ),
                "cannot connect to database.read_url",
            ),
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_inward"))
                .args(["serve", "--listen", "127.0.0.1:0"])
                .env("DATABASE_URL", &primary_url)
                .env("INWARD_DATABASE__READ_URL", &read_url)
                .env_remove("RUST_LOG")
                .output()
                .expect("run inward serve");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "served with {read_url}: {err}");
            assert!(err.contains(naming), "{read_url}: `{naming}` not in: {err}");
        }
    });
}
