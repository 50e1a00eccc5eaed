//! Outgoing email through an outbox table: callers queue a message in their transaction and
//! the delivery job sends it (SMTP), or writes it to the log when no SMTP server is configured.
//! Rows are claimed with a lease (SKIP LOCKED), so several instances share the work; an
//! email whose instance died after sending but before recording it is sent again (at least
//! once, never lost).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::PgConnection;

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

/// How long a claimed email is kept from other instances: above the relay's timeout for
/// every email of a batch, so a live claim does not lapse mid-batch.
const CLAIM_SECONDS: f64 = 600.0;

#[derive(sqlx::FromRow)]
struct Due {
    id: i64,
    to_address: String,
    subject: String,
    body: String,
}

/// Job step: sends (or logs) up to 50 queued emails; returns how many went out. The rows
/// are claimed with a lease and the claim committed before the relay is contacted, so
/// nothing is locked while a slow relay answers.
pub async fn deliver(state: &AppState) -> AppResult<usize> {
    let due: Vec<Due> = sqlx::query_as(
        "UPDATE outbox_emails SET claimed_until = now() + make_interval(secs => $2)
         WHERE id IN (
             SELECT id FROM outbox_emails
             WHERE sent_at IS NULL AND attempts < $1 AND (claimed_until IS NULL OR claimed_until < now())
             ORDER BY id LIMIT 50 FOR UPDATE SKIP LOCKED)
         RETURNING id, to_address, subject, body",
    )
    .bind(MAX_ATTEMPTS)
    .bind(CLAIM_SECONDS)
    .fetch_all(&state.pool)
    .await?;
    let config = &state.config.mail;
    let relay = (!config.smtp_host.trim().is_empty()).then(|| relay(config));
    let mut sent = 0;
    for email in due {
        let outcome = match &relay {
            None => {
                tracing::info!(to = %email.to_address, subject = %email.subject, body = %email.body,
                    "email (no SMTP server configured: logged, not sent)");
                Ok("log")
            }
            Some(relay) => send(relay, config, &email).await.map(|()| "smtp"),
        };
        match outcome {
            Ok(transport) => {
                sqlx::query(
                    "UPDATE outbox_emails SET sent_at = now(), transport = $2, claimed_until = NULL WHERE id = $1",
                )
                .bind(email.id)
                .bind(transport)
                .execute(&state.pool)
                .await?;
                sent += 1;
            }
            Err(err) => {
                tracing::warn!(to = %email.to_address, error = %err, "email delivery failed; will retry");
                sqlx::query(
                    "UPDATE outbox_emails SET attempts = attempts + 1, last_error = $2, claimed_until = NULL
                     WHERE id = $1",
                )
                .bind(email.id)
                .bind(err.to_string())
                .execute(&state.pool)
                .await?;
            }
        }
    }
    Ok(sent)
}

type Relay = AsyncSmtpTransport<Tokio1Executor>;

/// Plain SMTP to a relay (no authentication or TLS: a local MTA or a smarthost on the
/// private network).
fn relay(config: &MailConfig) -> Relay {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.smtp_host.trim())
        .port(config.smtp_port)
        .timeout(Some(Duration::from_secs(config.timeout_seconds.max(1))))
        .build()
}

async fn send(relay: &Relay, config: &MailConfig, email: &Due) -> anyhow::Result<()> {
    let message = Message::builder()
        .from(config.from.parse()?)
        .to(email.to_address.parse()?)
        .subject(email.subject.as_str())
        .header(ContentType::TEXT_PLAIN)
        .body(email.body.clone())?;
    // lettre's own timeout bounds the connection, not a relay that accepts and then stays
    // silent: the whole exchange is bounded here.
    let limit = Duration::from_secs(config.timeout_seconds.max(1));
    tokio::time::timeout(limit, relay.send(message))
        .await
        .map_err(|_| anyhow::anyhow!("the SMTP relay did not answer within {limit:?}"))??;
    Ok(())
}
