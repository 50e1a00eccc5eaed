//! The server's log, read from a real `inward serve`: each request's lines carry its request
//! id and, once signed in, its caller; a job step's lines name the job.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

#[test]
fn each_log_line_of_a_request_names_its_id_and_caller() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        let token = crate::multi_instance::migrated_demo(&pool, &url, &["512"]).await;
        let user: uuid::Uuid =
            sqlx::query_scalar("SELECT id FROM users WHERE email = 'agent@globex.test'")
                .fetch_one(&pool)
                .await
                .unwrap();
        let log = std::env::temp_dir().join(format!("inward-log-{}.txt", uuid::Uuid::new_v4()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_inward"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", &url)
            .env(
                "RUST_LOG",
                "info,tower_http=debug,inward::jobs=debug,sqlx=warn",
            )
            .env("INWARD_HOLDS__SWEEP_INTERVAL_SECONDS", "1")
            .env("INWARD_SECRETS__KEY", crate::genesys::SECRET_KEY)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(base) = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|b| b.starts_with("http://"))
            .map(str::to_string)
        else {
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
            panic!("inward serve did not start: {line:?}\n{text}");
        };

        let response = reqwest::Client::new()
            .get(format!("{base}/api/v1/numbers"))
            .bearer_auth(&token)
            .header("x-request-id", "trace-me-4711")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        // The response line is written as the request ends; a job pass within a second.
        let deadline = Instant::now() + Duration::from_secs(20);
        let text = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let answered = text.lines().any(|l| l.contains("trace-me-4711"));
            if (answered && text.contains("job step ran")) || Instant::now() > deadline {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(&log);

        let finished = text
            .lines()
            .find(|l| l.contains("request_id=trace-me-4711") && l.contains("finished processing"))
            .unwrap_or_else(|| panic!("no response line for the request:\n{text}"));
        assert!(
            finished.contains("path=/api/v1/numbers") && finished.contains(&format!("user={user}")),
            "the line names the path and the caller: {finished}"
        );
        assert!(
            text.lines()
                .any(|l| l.contains("job step ran") && l.contains("job{job=")),
            "job steps log inside their span:\n{text}"
        );
    })
}
