//! The sandbox carrier's own reservations (`sandbox_reservations`). A reservation asked for
//! on its own is recorded by a group commit, as a carrier's system would take many at once;
//! a common hold takes it inside the hold's own statement instead (`WITH_THE_HOLD`,
//! `recorded_from`), since the sandbox keeps its reservations in Inward's database: one
//! commit then makes the hold, the reservation and the reference the sweeper releases it by.

use sqlx::PgPool;
use uuid::Uuid;

use super::{db_error, injected_error};
use crate::providers::ProviderError;

/// A reservation to record: (reference, number).
pub type Reservation = (String, String);

/// A new reservation's reference, as the sandbox's carrier gives it.
pub fn new_reference() -> String {
    format!("sbx-res-{}", Uuid::new_v4())
}

/// The parts of a hold's statement that take the sandbox's reservation with the hold.
pub struct WithTheHold {
    /// True while a reservation fault is armed: the hold's statement then leaves the
    /// request to the full path, whose separate `reserve` call takes the fault.
    pub fault_armed: &'static str,
    /// A new reference, as `new_reference` makes it.
    pub new_reference: &'static str,
}

pub const WITH_THE_HOLD: WithTheHold = WithTheHold {
    fault_armed: "EXISTS (SELECT 1 FROM sandbox_faults WHERE operation = 'reserve' AND remaining > 0)",
    new_reference: "'sbx-res-' || gen_random_uuid()::text",
};

/// Records the reservations of `held`, a CTE of the hold's statement with columns
/// `provider_ref` and `e164` (rows without a reference are not the sandbox's).
pub fn recorded_from(held: &str) -> String {
    format!(
        "INSERT INTO sandbox_reservations (ref, e164) \
         SELECT provider_ref, e164 FROM {held} WHERE provider_ref IS NOT NULL"
    )
}

/// Records a batch of reservations in one statement while no fault is armed; with one
/// armed, each alone, so that each call takes its own fault as `fault` does.
pub async fn reserve_together(
    pool: PgPool,
    batch: Vec<Reservation>,
) -> Vec<Result<Option<String>, ProviderError>> {
    let (references, numbers): (Vec<&str>, Vec<&str>) = batch
        .iter()
        .map(|(reference, e164)| (reference.as_str(), e164.as_str()))
        .unzip();
    // The sandbox stands in for a carrier's own system, whose durability is not Inward's,
    // so it commits without waiting for the WAL flush, as a remote call would not wait on
    // Inward's disk.
    let recorded = sqlx::query(
        "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
         INSERT INTO sandbox_reservations (ref, e164)
         SELECT r.ref, r.e164 FROM unnest($1::text[], $2::text[]) AS r(ref, e164), relaxed
         WHERE NOT EXISTS (SELECT 1 FROM sandbox_faults WHERE operation = 'reserve' AND remaining > 0)",
    )
    .bind(&references)
    .bind(&numbers)
    .execute(&pool)
    .await;
    match recorded {
        Ok(done) if done.rows_affected() == batch.len() as u64 => batch
            .into_iter()
            .map(|(reference, _)| Ok(Some(reference)))
            .collect(),
        Ok(_) => {
            let mut answers = Vec::with_capacity(batch.len());
            for (reference, e164) in batch {
                answers.push(reserve_alone(&pool, reference, &e164).await);
            }
            answers
        }
        Err(err) => {
            let err = db_error(err);
            batch.iter().map(|_| Err(err.clone())).collect()
        }
    }
}

/// One round trip: an injected fault refuses the reservation, or it is recorded.
async fn reserve_alone(
    pool: &PgPool,
    reference: String,
    e164: &str,
) -> Result<Option<String>, ProviderError> {
    let injected: Option<String> = sqlx::query_scalar(
        "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)),
              fault AS (UPDATE sandbox_faults SET remaining = remaining - 1
                        WHERE operation = 'reserve' AND remaining > 0 RETURNING message),
              recorded AS (INSERT INTO sandbox_reservations (ref, e164)
                           SELECT $1, $2 FROM relaxed WHERE NOT EXISTS (SELECT 1 FROM fault))
         SELECT message FROM fault",
    )
    .bind(&reference)
    .bind(e164)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    injected.map_or(Ok(Some(reference)), |message| Err(injected_error(message)))
}
