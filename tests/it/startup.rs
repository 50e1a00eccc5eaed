//! The binary refuses to start on a setting it cannot honour, naming the setting, and its
//! commands print their output alone on standard output, without colour codes.

use std::process::{Command, Output};

/// Runs `inward` with only the given `INWARD_…` variables (none inherited from the
/// test's own environment) and the database URL.
fn inward(url: &str, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_inward"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("INWARD_")) {
        command.env_remove(name);
    }
    command
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("RUST_LOG")
        .envs(vars.iter().copied());
    command.output().expect("run inward")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn refused(url: &str, vars: &[(&str, &str)], args: &[&str], naming: &[&str]) {
    let out = inward(url, vars, args);
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "{args:?} with {vars:?} started: {err}"
    );
    for part in naming {
        assert!(
            err.contains(part),
            "{args:?} with {vars:?}: `{part}` not in: {err}"
        );
    }
}

#[test]
fn settings_that_cannot_be_honoured_stop_the_process_and_are_named() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        let migrate = ["migrate"];
        refused(
            &url,
            &[("INWARD_HOLDS__TTL_SECOND", "60")],
            &migrate,
            &["ttl_second", "holds"],
        );
        refused(
            &url,
            &[("INWARD_SECRETS__KEY", "not-hex")],
            &migrate,
            &["secrets.key", "64 hex"],
        );
        refused(
            &url,
            &[("INWARD_SERVER__LISTEN", "127.0.0.1:http")],
            &migrate,
            &["server.listen", "127.0.0.1:http"],
        );
        refused(
            &url,
            &[("INWARD_METRICS__LISTEN", "metrics-host")],
            &migrate,
            &["metrics.listen", "metrics-host"],
        );
        refused(
            &url,
            &[("INWARD_OUTBOUND__ALLOW_HOSTS", "http://sim/")],
            &migrate,
            &["outbound.allow_hosts", "http://sim/"],
        );
        refused(
            &url,
            &[],
            &["serve", "--listen", "nowhere"],
            &["nowhere", "--listen"],
        );
        refused(
            &url,
            &[],
            &["serve", "--listen", "127.0.0.1:0"],
            &["secrets.key", "INWARD_SECRETS__KEY"],
        );
        refused(
            &url,
            &[
                ("INWARD_SECRETS__KEY", crate::genesys::SECRET_KEY),
                ("INWARD_SECRETS__PREVIOUS_KEYS", "not-a-key"),
            ],
            &migrate,
            &["INWARD_SECRETS__PREVIOUS_KEYS"],
        );

        let dir = std::env::temp_dir().join(format!("inward-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("inward.toml");
        std::fs::write(
            &file,
            "[holds]\nttl_seconds = 60\n[colour]\nname = \"blue\"\n",
        )
        .unwrap();
        refused(
            &url,
            &[("INWARD_CONFIG", file.to_str().unwrap())],
            &migrate,
            &["colour"],
        );
        std::fs::remove_dir_all(&dir).unwrap();

        // Nothing listens on port 9 (discard) of this host.
        refused(
            "postgres://postgres@127.0.0.1:9/inward",
            &[],
            &migrate,
            &["DATABASE_URL", "cannot connect"],
        );

        // Variables without a section are not settings (the scripts' own, for one).
        let out = inward(
            &url,
            &[
                ("INWARD_DEMO_DB", "inward"),
                ("INWARD_SCREENSHOTS", "/tmp/x"),
            ],
            &migrate,
        );
        assert!(out.status.success(), "{}", stderr(&out));
    })
}

#[test]
fn a_command_prints_its_answer_alone_and_logs_without_colour() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        let seeded = inward(&url, &[], &["seed-demo", "--per-exchange", "1"]);
        let log = stderr(&seeded);
        assert!(seeded.status.success(), "{log}");
        assert!(
            !log.contains("WARN"),
            "a normal seed warns about nothing: {log}"
        );
        assert!(!log.contains('\u{1b}'), "no colour codes in a file: {log}");

        let created = inward(
            &url,
            &[("RUST_LOG", "debug")],
            &["tokens", "create", "--email", "agent@globex.test"],
        );
        assert!(created.status.success(), "{}", stderr(&created));
        let stdout = String::from_utf8(created.stdout.clone()).unwrap();
        assert_eq!(stdout.lines().count(), 1, "only the token: {stdout}");
        assert!(stdout.starts_with("inw_"), "{stdout}");
        assert!(!stderr(&created).is_empty(), "the debug log went to stderr");
    })
}

/// The server process; killed when the test ends, whether it passed or not.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_copied_binary_serves_the_whole_ui_with_cacheable_assets() {
    crate::db::db_test(|pool| async move {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;

        let url = crate::db::runtime_url(&pool.connect_options());
        let dir = std::env::temp_dir().join(format!("inward-copy-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("inward");
        std::fs::copy(env!("CARGO_BIN_EXE_inward"), &copy).unwrap();
        let mut child = Command::new(&copy)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("INWARD_SECRETS__KEY", crate::genesys::SECRET_KEY)
            .current_dir(&dir)
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let served = Served(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line.trim().rsplit(' ').next().unwrap().to_string();
        assert!(base.starts_with("http://"), "{line}");

        let http = reqwest::Client::new();
        let login = http.get(format!("{base}/login")).send().await.unwrap();
        assert_eq!(login.status(), 200);
        let html = login.text().await.unwrap();
        let css = html
            .split('"')
            .find(|part| part.starts_with("/static/app.css?v="))
            .unwrap_or_else(|| panic!("no hashed stylesheet link in {html}"))
            .to_string();

        let sheet = http.get(format!("{base}{css}")).send().await.unwrap();
        assert_eq!(sheet.status(), 200);
        let header = |r: &reqwest::Response, name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        assert!(header(&sheet, "content-type").starts_with("text/css"));
        assert!(header(&sheet, "cache-control").contains("immutable"));
        let etag = header(&sheet, "etag");
        assert!(sheet.text().await.unwrap().contains('{'), "a stylesheet");

        let unversioned = http
            .get(format!("{base}/static/app.css"))
            .send()
            .await
            .unwrap();
        assert_eq!(header(&unversioned, "cache-control"), "no-cache");
        let revalidated = http
            .get(format!("{base}/static/app.css"))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(revalidated.status(), 304);

        for script in ["/static/app.js", "/static/vendor/htmx-2.0.11.min.js"] {
            let js = http.get(format!("{base}{script}")).send().await.unwrap();
            assert_eq!(js.status(), 200, "{script}");
            assert!(
                header(&js, "content-type").contains("javascript"),
                "{script}"
            );
        }
        let missing = http
            .get(format!("{base}/static/nothing.css"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        drop(served);
        std::fs::remove_dir_all(&dir).unwrap();
    })
}

/// A client that connects and then sends nothing, or only part of a request head, loses the
/// connection after `server.header_read_timeout_seconds`; a prompt client is served as usual.
#[test]
fn slow_and_idle_connections_are_closed_after_the_header_timeout() {
    crate::db::db_test(|pool| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let app = crate::common::spawn_app_with(pool, |c| {
            c.server.header_read_timeout_seconds = 1;
            c.server.body_stall_seconds = 1;
        })
        .await;
        let mut idle = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let mut partial = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        partial
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: inward\r\nX-Slow: ")
            .await
            .unwrap();
        for (what, stream) in [("idle", &mut idle), ("partial", &mut partial)] {
            let mut answer = Vec::new();
            let read = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                stream.read_to_end(&mut answer),
            )
            .await;
            assert!(
                read.is_ok(),
                "{what}: the connection is still open after 5 s"
            );
            let answer = String::from_utf8_lossy(&answer);
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
                "{what}: {answer}"
            );
        }
        // A body that stops arriving ends its request.
        let mut stalled = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        stalled
            .write_all(
                b"POST /login HTTP/1.1\r\nHost: inward\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=",
            )
            .await
            .unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(6),
            stalled.read_to_end(&mut answer),
        )
        .await;
        assert!(read.is_ok(), "a stalled body keeps its request open");
        let (status, _) = app
            .http
            .get(app.url("/healthz"))
            .send()
            .await
            .map(|r| (r.status(), ()))
            .unwrap();
        assert!(status.is_success());
    })
}

/// `inward serve` no longer migrates unless asked: a database behind the binary is refused,
/// naming the migration and the two ways forward.
#[test]
fn serve_refuses_a_database_with_pending_migrations_unless_asked_to_migrate() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)")
            .execute(&pool)
            .await
            .unwrap();
        refused(
            &url,
            &[("INWARD_SECRETS__KEY", crate::genesys::SECRET_KEY)],
            &["serve", "--listen", "127.0.0.1:0"],
            &["needs 1 migration", "inward migrate", "serve --migrate"],
        );
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99990101000000, 'from the future', true, '\\x00', 0)")
            .execute(&pool)
            .await
            .unwrap();
        refused(
            &url,
            &[("INWARD_SECRETS__KEY", crate::genesys::SECRET_KEY)],
            &["serve", "--listen", "127.0.0.1:0"],
            &["does not know", "99990101000000"],
        );
    })
}
