//! A number's lifecycle events, each written here and only here: the state change on
//! `numbers` (checked against `domain::transition`, conditional on the state and holder it
//! moves from) together with what the event takes away from the previous holder. The
//! callers own their own tables (holds, attempts, audit) and call these inside their
//! transaction.
//!
//! Two set-based statements are the exceptions, both kept in step by tests: the
//! one-statement reservation (`reservations::quick`, the same offer rule as `reserve`, checked
//! by the offer matrix test) and a reseller's bulk return to inventory (`inventory::manage`).
//! `tests::only_this_module_moves_a_number` fails on any other writer of `lifecycle`.

use serde_json::json;
use sqlx::PgConnection;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::ReservationId;
use crate::domain::TenantId;
use crate::domain::{E164, Event, NumberState, Target, transition};
use crate::error::{AppError, AppResult};

fn parse(state: &str) -> AppResult<NumberState> {
    state
        .parse()
        .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))
}

fn state_changed(e164: &str) -> AppError {
    AppError::conflict(
        "state_changed",
        format!("{e164} changed meanwhile; reload"),
        json!(null),
    )
}

/// Reserve: the number is held for `tenant_id` under `reservation_id`. The caller has locked
/// the row and checked the offer; a number that moved meanwhile is a 409.
pub async fn reserve(
    conn: &mut PgConnection,
    e164: &str,
    reservation_id: ReservationId,
    tenant_id: TenantId,
) -> AppResult<()> {
    let from: String = sqlx::query_scalar("SELECT lifecycle FROM numbers WHERE e164 = $1")
        .bind(e164)
        .fetch_one(&mut *conn)
        .await?;
    let from = parse(&from)?;
    let to = transition(from, Event::Reserve)?;
    let moved = sqlx::query(
        "UPDATE numbers SET lifecycle = $2, reservation_id = $3, tenant_id = $4, state_changed_at = now()
         WHERE e164 = $1 AND lifecycle = $5",
    )
    .bind(e164)
    .bind(to.as_str())
    .bind(reservation_id)
    .bind(tenant_id)
    .bind(from.as_str())
    .execute(&mut *conn)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(state_changed(e164));
    }
    Ok(())
}

/// A hold ends without provisioning (`CancelHold` or `ExpireHold`): the number goes back to
/// stock, if it is still reserved under that reservation.
pub async fn unreserve(
    conn: &mut PgConnection,
    e164: &str,
    reservation_id: ReservationId,
    event: Event,
) -> AppResult<bool> {
    Ok(unreserve_many(conn, &[e164], &[reservation_id], event).await? == 1)
}

/// `unreserve` for a batch: `numbers[i]` under `reservations[i]`. Returns how many moved.
pub async fn unreserve_many(
    conn: &mut PgConnection,
    numbers: &[&str],
    reservations: &[ReservationId],
    event: Event,
) -> AppResult<u64> {
    let to = transition(NumberState::Reserved, event)?;
    let moved = sqlx::query(
        "UPDATE numbers n SET lifecycle = $3, reservation_id = NULL, tenant_id = NULL, state_changed_at = now()
         FROM unnest($1::text[], $2::uuid[]) AS e(e164, reservation_id)
         WHERE n.e164 = e.e164 AND n.reservation_id = e.reservation_id AND n.lifecycle = 'reserved'",
    )
    .bind(numbers)
    .bind(reservations)
    .bind(to.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(moved.rows_affected())
}

/// A provisioning saga claims the reserved number (the caller has locked it and checked the
/// hold). A number that moved meanwhile is a 409.
pub async fn start_provisioning(
    conn: &mut PgConnection,
    e164: &str,
    reservation_id: ReservationId,
    from: NumberState,
) -> AppResult<NumberState> {
    let to = transition(from, Event::StartProvisioning)?;
    let moved = sqlx::query(
        "UPDATE numbers SET lifecycle = $2, state_changed_at = now()
         WHERE e164 = $1 AND reservation_id = $3 AND lifecycle = $4",
    )
    .bind(e164)
    .bind(to.as_str())
    .bind(reservation_id)
    .bind(from.as_str())
    .execute(&mut *conn)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(state_changed(e164));
    }
    Ok(to)
}

/// The platform routes the number to `target`: active, or pending activation (`event`). None
/// when the number is no longer this reservation's provisioning (recovery decided it).
pub async fn provisioned(
    conn: &mut PgConnection,
    e164: &str,
    reservation_id: ReservationId,
    event: Event,
    target: &Target,
    display_name: Option<&str>,
) -> AppResult<Option<NumberState>> {
    let to = transition(NumberState::Provisioning, event)?;
    let routed = sqlx::query(
        "UPDATE numbers SET lifecycle = $2, reservation_id = NULL, target_type = $3, target_id = $4,
                target_name = $5, display_name = $6, state_changed_at = now()
         WHERE e164 = $1 AND lifecycle = 'provisioning' AND reservation_id = $7",
    )
    .bind(e164)
    .bind(to.as_str())
    .bind(target.kind.as_str())
    .bind(&target.id)
    .bind(&target.name)
    .bind(display_name)
    .bind(reservation_id)
    .execute(&mut *conn)
    .await?;
    Ok((routed.rows_affected() == 1).then_some(to))
}

/// A provisioning saga gave up: the number is reserved again under its reservation, so the
/// hold decides what happens next.
pub async fn provisioning_failed(
    conn: &mut PgConnection,
    e164: &str,
    reservation_id: ReservationId,
) -> AppResult<bool> {
    let to = transition(NumberState::Provisioning, Event::ProvisioningFailed)?;
    let moved = sqlx::query(
        "UPDATE numbers SET lifecycle = $3, state_changed_at = now()
         WHERE e164 = $1 AND reservation_id = $2 AND lifecycle = 'provisioning'",
    )
    .bind(e164)
    .bind(reservation_id)
    .bind(to.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// The platform reports the pending number live. False when it is no longer pending there.
pub async fn activated(
    conn: &mut PgConnection,
    e164: &str,
    tenant_id: TenantId,
) -> AppResult<bool> {
    let to = transition(NumberState::Pending, Event::ActivationCompleted)?;
    let moved = sqlx::query(
        "UPDATE numbers SET lifecycle = $3, state_changed_at = now(), activation_claimed_until = NULL
         WHERE e164 = $1 AND tenant_id = $2 AND lifecycle = 'pending'",
    )
    .bind(e164)
    .bind(tenant_id)
    .bind(to.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// The number's target is gone from the platform: orphaned, with the grace period starting
/// now. Locks the row; false when the number is not this tenant's or cannot be orphaned.
pub async fn orphaned(conn: &mut PgConnection, e164: &str, tenant_id: TenantId) -> AppResult<bool> {
    let current: Option<String> = sqlx::query_scalar(
        "SELECT lifecycle FROM numbers WHERE e164 = $1 AND tenant_id = $2 FOR UPDATE",
    )
    .bind(e164)
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(Ok(from)) = current.map(|s| s.parse::<NumberState>()) else {
        return Ok(false);
    };
    let Ok(to) = transition(from, Event::TargetDeleted) else {
        return Ok(false);
    };
    let moved = sqlx::query(
        "UPDATE numbers SET lifecycle = $3, orphaned_at = now(), state_changed_at = now()
         WHERE e164 = $1 AND tenant_id = $2 AND lifecycle = $4",
    )
    .bind(e164)
    .bind(tenant_id)
    .bind(to.as_str())
    .bind(from.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// The number is routed to `target` (an orphan re-routed, the platform's routing adopted by
/// reconciliation, routing re-applied after a platform switch): `target` becomes Inward's,
/// the number is active, and the tenant's "lost its target" notifications about it are read.
/// False when it changed meanwhile.
pub async fn retargeted(
    conn: &mut PgConnection,
    e164: &str,
    tenant_id: TenantId,
    from: NumberState,
    event: Event,
    target: &Target,
) -> AppResult<bool> {
    if !retarget(conn, e164, tenant_id, from, event, target).await? {
        return Ok(false);
    }
    crate::notifications::read_about(conn, tenant_id, e164).await?;
    Ok(true)
}

async fn retarget(
    conn: &mut PgConnection,
    e164: &str,
    tenant_id: TenantId,
    from: NumberState,
    event: Event,
    target: &Target,
) -> AppResult<bool> {
    let to = transition(from, event)?;
    let moved = sqlx::query(
        "UPDATE numbers SET lifecycle = $3, target_type = $4, target_id = $5, target_name = $6, orphaned_at = NULL, state_changed_at = now()
         WHERE e164 = $1 AND tenant_id = $2 AND lifecycle = $7",
    )
    .bind(e164)
    .bind(tenant_id)
    .bind(to.as_str())
    .bind(target.kind.as_str())
    .bind(&target.id)
    .bind(&target.name)
    .bind(from.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// A port completes: the number joins Inward already routed to `target` for `tenant_id`.
/// False when the number appeared on the network meanwhile. `place` is what the rate-center
/// table knows of it: (city, state, country, rate center).
pub async fn ported_in(
    conn: &mut PgConnection,
    number: &E164,
    tenant_id: TenantId,
    target: &Target,
    place: Option<&(String, String, String, String)>,
) -> AppResult<bool> {
    let to = transition(NumberState::PortingIn, Event::FocDateReached)?;
    join_routed(conn, number, tenant_id, to, target, place, "Ported number").await
}

/// Reconciliation adopts a number Inward did not know, which the tenant's platform routes:
/// it joins Inward as the tenant's own, active on `target`. False when it appeared in
/// Inward meanwhile.
pub async fn adopted_unknown(
    conn: &mut PgConnection,
    number: &E164,
    tenant_id: TenantId,
    target: &Target,
) -> AppResult<bool> {
    let to = NumberState::Active;
    join_routed(
        conn,
        number,
        tenant_id,
        to,
        target,
        None,
        "Found on the platform",
    )
    .await
}

/// A number new to Inward joins it routed for `tenant_id`, in its own inventory.
async fn join_routed(
    conn: &mut PgConnection,
    number: &E164,
    tenant_id: TenantId,
    to: NumberState,
    target: &Target,
    place: Option<&(String, String, String, String)>,
    unplaced: &str,
) -> AppResult<bool> {
    let national = number.national_digits().to_string();
    // The first six digits, as the CHECK on `numbers` wants them (migration 0011).
    let npa: String = national.chars().take(3).collect();
    let nxx: String = national.chars().skip(3).take(3).collect();
    let toll_free = crate::domain::search::TOLL_FREE_NPAS.contains(&npa.as_str());
    let inserted = sqlx::query(
        "INSERT INTO numbers (e164, country, kind, national, npa, nxx, state, region, rate_center, city, inventory_org_id,
                              tenant_id, lifecycle, target_type, target_id, target_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15)
         ON CONFLICT (e164) DO NOTHING",
    )
    .bind(number.as_str())
    .bind(place.map(|p| p.2.as_str()).unwrap_or("US"))
    .bind(if toll_free { "toll_free" } else { "local" })
    .bind(&national)
    .bind(&npa)
    .bind(&nxx)
    .bind(place.map(|p| p.1.as_str()))
    .bind(match place {
        Some((city, st, _, _)) => format!("{city}, {st}"),
        None if toll_free => "Toll-free (US/Canada)".into(),
        None => unplaced.into(),
    })
    .bind(place.map(|p| p.3.as_str()))
    .bind(place.map(|p| p.0.as_str()))
    .bind(tenant_id)
    .bind(to.as_str())
    .bind(target.kind.as_str())
    .bind(&target.id)
    .bind(&target.name)
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The number leaves `tenant_id` for state `to`, if it is still that tenant's number in state
/// `from`: held by nobody, routed nowhere, and aging for that tenant as its reseller set
/// (`domain::aging`: only the tenant that let it go is offered it until the period ends).
/// What the tenant set on it (CNAM, E911, assignment) goes in the same statement (migration
/// 0035). False when it was not (it changed meanwhile).
async fn leave(
    conn: &mut PgConnection,
    e164: &str,
    tenant_id: TenantId,
    from: &str,
    to: NumberState,
) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE numbers SET lifecycle = $3, tenant_id = NULL, target_type = NULL, target_id = NULL, target_name = NULL,
                display_name = NULL, orphaned_at = NULL, state_changed_at = now(),
                released_at = now(), released_by = $2,
                aging_until = now() + make_interval(days => (
                    SELECT nullif(coalesce(s.aging_days, 45), 0) FROM organizations o
                    JOIN organizations r ON r.id = o.parent_id AND r.kind = 'reseller'
                    LEFT JOIN reseller_settings s ON s.reseller_id = r.id WHERE o.id = $2))
         WHERE e164 = $1 AND tenant_id = $2 AND lifecycle = $4",
    )
    .bind(e164)
    .bind(tenant_id)
    .bind(to.as_str())
    .bind(from)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// The tenant released the number, which its platform no longer routes: it leaves the
/// tenant, and what the tenant set on it goes too. False when the number had changed
/// meanwhile (deprovisioned and taken by another tenant, say): then nothing is touched, as
/// what is set on it now may be the next holder's.
pub async fn released(
    conn: &mut PgConnection,
    e164: &str,
    tenant_id: TenantId,
    from: &str,
) -> AppResult<bool> {
    let to = transition(parse(from)?, Event::Release)?;
    Ok(leave(conn, e164, tenant_id, from, to).await?)
}

/// Records an orphan's deprovisioning once its platform no longer routes it: back in stock,
/// held by nobody, with the tenant's settings withdrawn and a `DEPROVISION` entry. False when
/// the number is no longer that tenant's orphan (re-routed or released meanwhile).
pub async fn deprovisioned(
    conn: &mut PgConnection,
    e164: &str,
    tenant_id: TenantId,
) -> AppResult<bool> {
    let to = transition(NumberState::Orphaned, Event::GracePeriodElapsed)?;
    if !leave(conn, e164, tenant_id, NumberState::Orphaned.as_str(), to).await? {
        return Ok(false);
    }
    let entry = Entry::new(Action::Deprovision, Outcome::Success)
        .by(Some(tenant_id), None, None)
        .number(e164)
        .details(json!({ "reason": "orphaned past the grace period" }));
    audit::repo::record(conn, &entry).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Files allowed to change `numbers.lifecycle`, besides this one (see the module comment).
    /// The bench and the demo seed write their own fixtures.
    const SET_BASED: &[&str] = &[
        "src/reservations/quick.rs",
        "src/inventory/manage.rs",
        "src/bench/data.rs",
        "src/bench/holds.rs",
        "src/seed.rs",
    ];

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Whether `sql` (one file's text) changes a number's lifecycle: an UPDATE of `numbers`
    /// that sets `lifecycle`, or an INSERT into `numbers` that names it.
    fn moves_a_number(text: &str) -> bool {
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        flat.match_indices("UPDATE numbers").any(|(at, _)| {
            let rest = &flat[at..];
            let set = rest.find(" SET ").map(|s| &rest[s..]).unwrap_or("");
            let clause = &set[..set.find(" WHERE ").unwrap_or(set.len()).min(400)];
            clause.contains("lifecycle =")
        }) || flat.match_indices("INSERT INTO numbers (").any(|(at, _)| {
            let rest = &flat[at..];
            rest[..rest.find(')').unwrap_or(rest.len())].contains("lifecycle")
        })
    }

    #[test]
    fn the_detector_sees_both_kinds_of_write() {
        assert!(moves_a_number(
            "sqlx::query(\"UPDATE numbers SET lifecycle = $2,\n  tenant_id = NULL WHERE e164 = $1\")"
        ));
        assert!(moves_a_number(
            "INSERT INTO numbers (e164, tenant_id, lifecycle) VALUES"
        ));
        assert!(!moves_a_number(
            "UPDATE numbers SET voice = $2 WHERE e164 = $1 AND lifecycle = 'reserved'"
        ));
        assert!(!moves_a_number(
            "INSERT INTO numbers (e164, country) VALUES"
        ));
    }

    #[test]
    fn only_this_module_moves_a_number() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        rust_files(&root.join("src"), &mut files);
        let writers: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .filter(|p| p != "src/numbers/lifecycle.rs" && !SET_BASED.contains(&p.as_str()))
            .filter(|p| moves_a_number(&std::fs::read_to_string(root.join(p)).unwrap()))
            .collect();
        assert!(
            writers.is_empty(),
            "these files change a number's lifecycle outside numbers::lifecycle: {writers:?}"
        );
    }
}
