//! Outgoing email through an outbox table: callers queue a message in their transaction and
//! the delivery job sends it (SMTP), or writes it to the log when no SMTP server is configured.
//! Rows are claimed with SKIP LOCKED, so several instances never send one email twice.

use std::time::Duration;

use sqlx::PgConnection;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::MailConfig;
use crate::error::AppResult;
use crate::state::AppState;

const MAX_ATTEMPTS: i32 = 5;

pub async fn queue(
    conn: &mut PgConnection,
    to: &str,
    subject: &str,
    body: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO outbox_emails (to_address, subject, body) VALUES ($1, $2, $3)")
        .bind(to)
        .bind(subject)
        .bind(body)
        .execute(conn)
        .await?;
    Ok(())
}

/// Job step: sends (or logs) up to 50 queued emails; returns how many went out.
pub async fn deliver(state: &AppState) -> AppResult<usize> {
    let mut tx = state.pool.begin().await?;
    let due: Vec<(i64, String, String, String, i32)> = sqlx::query_as(
        "SELECT id, to_address, subject, body, attempts FROM outbox_emails
         WHERE sent_at IS NULL AND attempts < $1 ORDER BY id LIMIT 50 FOR UPDATE SKIP LOCKED",
    )
    .bind(MAX_ATTEMPTS)
    .fetch_all(&mut *tx)
    .await?;
    let mut sent = 0;
    for (id, to, subject, body, _) in due {
        let config = &state.config.mail;
        let outcome = if config.smtp_host.trim().is_empty() {
            tracing::info!(%to, %subject, %body, "email (no SMTP server configured: logged, not sent)");
            Ok("log")
        } else {
            send_smtp(config, &to, &subject, &body)
                .await
                .map(|_| "smtp")
        };
        match outcome {
            Ok(transport) => {
                sqlx::query(
                    "UPDATE outbox_emails SET sent_at = now(), transport = $2 WHERE id = $1",
                )
                .bind(id)
                .bind(transport)
                .execute(&mut *tx)
                .await?;
                sent += 1;
            }
            Err(err) => {
                tracing::warn!(%to, error = %err, "email delivery failed; will retry");
                sqlx::query(
                    "UPDATE outbox_emails SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                )
                .bind(id)
                .bind(err.to_string())
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(sent)
}

/// Plain SMTP to a relay (no authentication or TLS: a local MTA or a smarthost on the
/// private network).
async fn send_smtp(config: &MailConfig, to: &str, subject: &str, body: &str) -> anyhow::Result<()> {
    let connect = TcpStream::connect((config.smtp_host.as_str(), config.smtp_port));
    let stream = tokio::time::timeout(Duration::from_secs(10), connect).await??;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);

    async fn expect(
        read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
        codes: &[&str],
    ) -> anyhow::Result<()> {
        loop {
            let mut line = String::new();
            if read.read_line(&mut line).await? == 0 {
                anyhow::bail!("the SMTP server closed the connection");
            }
            if line.len() >= 4 && &line[3..4] == "-" {
                continue;
            }
            return if codes.iter().any(|c| line.starts_with(c)) {
                Ok(())
            } else {
                anyhow::bail!("SMTP: {}", line.trim_end())
            };
        }
    }

    expect(&mut read, &["220"]).await?;
    for (command, codes) in [
        ("EHLO inward\r\n".to_string(), &["250"][..]),
        (format!("MAIL FROM:<{}>\r\n", config.from), &["250"][..]),
        (format!("RCPT TO:<{to}>\r\n"), &["250", "251"][..]),
        ("DATA\r\n".to_string(), &["354"][..]),
    ] {
        write.write_all(command.as_bytes()).await?;
        expect(&mut read, codes).await?;
    }
    let stuffed: String = body
        .lines()
        .map(|l| {
            if l.starts_with('.') {
                format!(".{l}\r\n")
            } else {
                format!("{l}\r\n")
            }
        })
        .collect();
    let message = format!(
        "From: {}\r\nTo: {to}\r\nSubject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{stuffed}.\r\n",
        config.from
    );
    write.write_all(message.as_bytes()).await?;
    expect(&mut read, &["250"]).await?;
    write.write_all(b"QUIT\r\n").await?;
    Ok(())
}
