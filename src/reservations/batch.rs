//! Group commit (`crate::group_commit`) for the common reservation and for the platform's
//! references on its holds. When many people reserve at once, most of the database's work
//! per hold is not the rows it writes but the statement around them: the round trip, the
//! snapshot, the commit and its WAL flush. Requests for `quick` therefore wait together
//! and are decided in one statement and one commit (`quick::take_many`), every request
//! still all or nothing on its own.
//!
//! What does not change: a request is answered only after its reservation, holds and RESERVE
//! entries are committed, and the same statement with the same locks (numbers in E.164 order,
//! `holds_one_live_per_number`) decides it, so a batch cannot double-hold anything a single
//! request could not.

use std::collections::HashSet;

use sqlx::PgPool;
use uuid::Uuid;

use super::quick::{self, Request};
use crate::domain::ReservationId;
use crate::error::{AppError, AppResult};
use crate::group_commit::GroupCommit;

/// Writers deciding batches at the same time. One would serialize every reservation behind
/// the last commit; many would bring back the per-statement cost the batching saves.
const WRITERS: usize = 4;
/// Requests per statement at most.
const MAX_BATCH: usize = 64;
/// Writers of the platform references. Their statements do not wait for the WAL flush, so
/// each ends quickly: with four, batches averaged 3.6 references, with two 5.2, and the
/// sandbox tenant's reservations went from 3,764 to 3,588–4,324 per second (`inward bench`).
const REFERENCE_WRITERS: usize = 2;

/// A platform's reference for one held number: (reservation, number, reference).
pub type Reference = (ReservationId, String, Option<String>);

#[derive(Clone)]
pub struct HoldWriter {
    takes: GroupCommit<Request, AppResult<bool>>,
    references: GroupCommit<Reference, AppResult<()>>,
}

impl HoldWriter {
    /// Connections its writers use at once (one each).
    pub const CONNECTIONS: usize = WRITERS + REFERENCE_WRITERS;

    /// `pool` is the writers' own (see `state::writer_pool`).
    /// Without `batching` (`tuning.group_commit`) each request writes its own.
    pub fn new(pool: PgPool, batching: bool) -> Self {
        let takes =
            GroupCommit::new("holds", WRITERS, MAX_BATCH, pool.clone(), decide).batching(batching);
        let references = GroupCommit::new(
            "hold_references",
            REFERENCE_WRITERS,
            MAX_BATCH * 4,
            pool,
            record,
        )
        .batching(batching);
        HoldWriter { takes, references }
    }

    /// As `quick::take_one`: true when the reservation exists, false when
    /// the full path must decide.
    pub async fn take(&self, request: Request) -> AppResult<bool> {
        self.takes.submit(request).await.unwrap_or_else(stopped)
    }

    /// Keeps the platform's references on the reservation's holds, so that the sweeper
    /// releases the platform's reservations with the holds.
    pub async fn record_references(&self, references: Vec<Reference>) -> AppResult<()> {
        for answer in self.references.submit_all(references).await {
            answer.unwrap_or_else(stopped)?;
        }
        Ok(())
    }
}

fn stopped<T>() -> AppResult<T> {
    // Only when the runtime is shutting down; whether it committed is unknown, as with a
    // dropped connection.
    Err(AppError::Internal(anyhow::anyhow!(
        "the hold writer stopped before answering"
    )))
}

/// Decides a batch of reservations, in as many statements as numbers they share.
async fn decide(pool: PgPool, requests: Vec<Request>) -> Vec<AppResult<bool>> {
    let mut answers: Vec<Option<AppResult<bool>>> = requests.iter().map(|_| None).collect();
    let mut pending: Vec<usize> = (0..requests.len()).collect();
    while !pending.is_empty() {
        let (now, later) = apart(&requests, pending);
        let batch: Vec<&Request> = now.iter().map(|&i| &requests[i]).collect();
        for (i, answer) in now.into_iter().zip(write(&pool, &batch).await) {
            answers[i] = Some(answer);
        }
        pending = later;
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(stopped))
        .collect()
}

/// Splits off the requests that share a number with an earlier one of the batch: a row is
/// changed once per statement, so they go into the next statement, which then finds the
/// number taken (or free again) as it would one request later.
fn apart(requests: &[Request], pending: Vec<usize>) -> (Vec<usize>, Vec<usize>) {
    let mut seen = HashSet::new();
    let (mut now, mut later) = (Vec::with_capacity(pending.len()), Vec::new());
    for i in pending {
        let wanted = &requests[i].wanted;
        if wanted.iter().any(|e164| seen.contains(e164.as_str())) {
            later.push(i);
        } else {
            seen.extend(wanted.iter().map(String::as_str));
            now.push(i);
        }
    }
    (now, later)
}

async fn write(pool: &PgPool, batch: &[&Request]) -> Vec<AppResult<bool>> {
    match quick::take_many(pool, batch).await {
        Ok(done) => done.into_iter().map(Ok).collect(),
        Err(err) if batch.len() > 1 => {
            // One request's failure must not become the others': each alone, as it would
            // have run without company.
            tracing::warn!(error = %err, requests = batch.len(), "a batch of holds failed; deciding each alone");
            let mut answers = Vec::with_capacity(batch.len());
            for request in batch {
                answers.push(quick::take_one(pool, request).await);
            }
            answers
        }
        Err(err) => vec![Err(err)],
    }
}

async fn record(pool: PgPool, references: Vec<Reference>) -> Vec<AppResult<()>> {
    match write_references(&pool, &references).await {
        Ok(()) => references.iter().map(|_| Ok(())).collect(),
        Err(err) if references.len() > 1 => {
            tracing::warn!(error = %err, references = references.len(), "a batch of platform references failed; writing each alone");
            let mut answers = Vec::with_capacity(references.len());
            for reference in references {
                answers.push(write_references(&pool, std::slice::from_ref(&reference)).await);
            }
            answers
        }
        Err(err) => vec![Err(err)],
    }
}

/// Committed without waiting for the WAL flush (set_config(…, true) lasts for this
/// statement's own transaction): the holds themselves are already durable, and a crash that
/// lost a reference would only leave the platform's reservation to lapse on the platform's
/// side instead of being released early by the sweeper.
async fn write_references(pool: &PgPool, references: &[Reference]) -> AppResult<()> {
    let mut columns: (Vec<Uuid>, Vec<&str>, Vec<Option<&str>>) = Default::default();
    for (reservation, e164, reference) in references {
        columns.0.push(reservation.0);
        columns.1.push(e164);
        columns.2.push(reference.as_deref());
    }
    sqlx::query(
        "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
         UPDATE holds h SET provider_ref = r.reference
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS r(reservation_id, e164, reference), relaxed
         WHERE h.reservation_id = r.reservation_id AND h.e164 = r.e164",
    )
    .bind(columns.0)
    .bind(columns.1)
    .bind(columns.2)
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TenantId, UserId};
    use crate::tenants::TenantProfile;
    use chrono::Utc;

    fn request(numbers: &[&str]) -> Request {
        Request {
            tenant: TenantProfile {
                id: TenantId(Uuid::nil()),
                name: "t".into(),
                parent_id: None,
                allowed_countries: vec!["US".into()],
            },
            user_id: UserId(Uuid::nil()),
            wanted: numbers.iter().map(|n| n.to_string()).collect(),
            reservation_id: ReservationId(Uuid::new_v4()),
            expires_at: Utc::now(),
            justification: None,
            request_id: None,
            details: serde_json::Value::Null,
            with_carrier: false,
        }
    }

    fn wanted(requests: &[Request], batch: &[usize]) -> Vec<Vec<String>> {
        batch.iter().map(|&i| requests[i].wanted.clone()).collect()
    }

    #[test]
    fn requests_sharing_a_number_go_to_separate_statements() {
        let requests = vec![
            request(&["+15125550001", "+15125550002"]),
            request(&["+15125550003"]),
            request(&["+15125550002"]),
            request(&["+15125550004", "+15125550001"]),
            request(&["+15125550005"]),
        ];
        let (now, later) = apart(&requests, (0..requests.len()).collect());
        assert_eq!(
            wanted(&requests, &now),
            [
                vec!["+15125550001", "+15125550002"],
                vec!["+15125550003"],
                vec!["+15125550005"]
            ]
        );
        assert_eq!(
            wanted(&requests, &later),
            [vec!["+15125550002"], vec!["+15125550004", "+15125550001"]]
        );
        let (now, later) = apart(&requests, later);
        assert_eq!(
            now.len(),
            2,
            "the deferred two share nothing with each other"
        );
        assert!(later.is_empty());
    }
}
