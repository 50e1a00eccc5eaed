//! Email leaves through the outbox: the delivery job sends it to the SMTP relay (lettre,
//! over real TCP to a relay the test plays), and a relay that accepts and then stalls
//! neither holds the outbox rows locked nor keeps the job past its timeout.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::common::spawn_app_with;

/// A minimal SMTP relay: answers every command, keeps each message's DATA. Stalling, it
/// accepts connections and never says a word.
async fn relay(stall: bool) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = messages.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let kept = kept.clone();
            tokio::spawn(async move {
                if stall {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    drop(stream);
                    return;
                }
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 relay ready\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.to_ascii_uppercase();
                    let answer: &[u8] = if verb.starts_with("EHLO") || verb.starts_with("HELO") {
                        b"250 relay\r\n"
                    } else if verb.starts_with("DATA") {
                        write.write_all(b"354 go ahead\r\n").await.unwrap();
                        let mut data = String::new();
                        while let Ok(Some(line)) = lines.next_line().await {
                            if line == "." {
                                break;
                            }
                            data.push_str(&line);
                            data.push('\n');
                        }
                        kept.lock().unwrap().push(data);
                        b"250 queued\r\n"
                    } else if verb.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(answer).await.unwrap();
                }
            });
        }
    });
    (port, messages)
}

async fn queue(pool: &sqlx::PgPool, subject: &str) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    inward::mail::queue(&mut conn, "admin@globex.test", subject, "Your port moved.")
        .await
        .unwrap();
    sqlx::query_scalar("SELECT max(id) FROM outbox_emails")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[test]
fn queued_email_is_delivered_to_the_relay() {
    crate::db::db_test(|pool| async move {
        let (port, messages) = relay(false).await;
        let app = spawn_app_with(pool, |c| {
            c.mail.smtp_host = "127.0.0.1".into();
            c.mail.smtp_port = port;
        })
        .await;
        let id = queue(&app.pool, "Port request completed").await;
        let report = inward::jobs::run_once(&app.state).await;
        assert_eq!(report.emails, 1, "{report:?}");
        let received = messages.lock().unwrap().clone();
        assert_eq!(received.len(), 1);
        assert!(
            received[0].contains("Subject: Port request completed"),
            "{received:?}"
        );
        assert!(received[0].contains("Your port moved."), "{received:?}");
        let transport: Option<String> = sqlx::query_scalar(
            "SELECT transport FROM outbox_emails WHERE id = $1 AND sent_at IS NOT NULL",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(transport.as_deref(), Some("smtp"));
        // Sent once: the next pass has nothing to send.
        assert_eq!(inward::jobs::run_once(&app.state).await.emails, 0);
    })
}

#[test]
fn a_stalled_relay_locks_nothing_and_times_out() {
    crate::db::db_test(|pool| async move {
        let (port, _) = relay(true).await;
        let app = spawn_app_with(pool, |c| {
            c.mail.smtp_host = "127.0.0.1".into();
            c.mail.smtp_port = port;
            c.mail.timeout_seconds = 1;
        })
        .await;
        let id = queue(&app.pool, "Port request rejected").await;
        let started = Instant::now();
        let pass = tokio::spawn({
            let state = app.state.clone();
            async move { inward::jobs::run_once(&state).await }
        });
        // Meanwhile the row is claimed but not locked.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let claimed: bool = sqlx::query_scalar(
                "SELECT claimed_until IS NOT NULL FROM outbox_emails WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
            if claimed {
                break;
            }
            assert!(Instant::now() < deadline, "the job never claimed the email");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut tx = app.pool.begin().await.unwrap();
        sqlx::query("SELECT id FROM outbox_emails WHERE id = $1 FOR UPDATE NOWAIT")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .expect("the outbox row is not locked while the relay stalls");
        tx.rollback().await.unwrap();

        let report = pass.await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(report.emails, 0);
        let (attempts, error, claimed): (
            i32,
            Option<String>,
            Option<chrono::DateTime<chrono::Utc>>,
        ) = sqlx::query_as(
            "SELECT attempts, last_error, claimed_until FROM outbox_emails WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(attempts, 1);
        assert!(error.is_some());
        assert!(
            claimed.is_none(),
            "the claim is given back for the next pass"
        );
    })
}
