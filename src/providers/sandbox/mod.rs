//! The built-in sandbox: a simulated carrier and contact-center platform whose state lives
//! in the `sandbox_*` tables, so every server instance sees the same sandbox. Failures can
//! be injected through `sandbox_faults` (`inward sandbox fail`).
//!
//! One file over 500 lines: it plays both traits, platform and carrier, against the same
//! `sandbox_*` tables, and reads best beside them.

use async_trait::async_trait;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    Activation, Carrier, NumberRef, Platform, PortProgress, ProviderError, ProviderErrorKind,
    RequestStatus,
};
use crate::config::SandboxConfig;
use crate::domain::TenantId;
use crate::domain::cnam::Cnam;
use crate::domain::e911::E911Address;
use crate::domain::{E164, Target, TargetKind};
use crate::group_commit::GroupCommit;

pub mod reservations;

const NAME: &str = "sandbox";

pub struct Sandbox {
    pool: PgPool,
    config: SandboxConfig,
    /// Reservations many people take at once are recorded together (as a carrier's
    /// system would take them concurrently), each answered on its own.
    reservations: GroupCommit<reservations::Reservation, Result<Option<String>, ProviderError>>,
}

impl Sandbox {
    /// Two writers: the statement does not wait for the WAL flush, and with more of them
    /// each batch held fewer reservations (see `reservations::batch`).
    pub const WRITERS: usize = 2;

    /// `writer_pool` carries the group-commit statements (see `state::writer_pool`);
    /// without `batching` (`tuning.group_commit`) each reservation is written alone.
    pub fn new(pool: PgPool, writer_pool: PgPool, config: SandboxConfig, batching: bool) -> Self {
        let reservations = GroupCommit::new(
            "sandbox_reservations",
            Self::WRITERS,
            256,
            writer_pool,
            reservations::reserve_together,
        )
        .batching(batching);
        Sandbox {
            pool,
            config,
            reservations,
        }
    }

    /// One injected fault taken from `sandbox_faults` (see `inject_fault`), as the error a
    /// flaky platform would give.
    async fn fault(&self, operation: &str) -> Result<(), ProviderError> {
        let injected: Option<String> = sqlx::query_scalar(
            "UPDATE sandbox_faults SET remaining = remaining - 1
             WHERE operation = $1 AND remaining > 0 RETURNING message",
        )
        .bind(operation)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        injected.map_or(Ok(()), |message| Err(injected_error(message)))
    }

    /// The operations a fault can be injected into (`inward sandbox fail --operation`).
    pub const FAULT_OPERATIONS: [&str; 10] = [
        "reserve",
        "release",
        "assign",
        "assign_answer",
        "unassign",
        "ensure_target",
        "cnam",
        "e911",
        "address_check",
        "port",
    ];

    pub async fn inject_fault(
        pool: &PgPool,
        operation: &str,
        times: i32,
        message: &str,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            Self::FAULT_OPERATIONS.contains(&operation),
            "no sandbox operation “{operation}”: use one of {}",
            Self::FAULT_OPERATIONS.join(", ")
        );
        anyhow::ensure!(times > 0, "--times must be at least 1");
        sqlx::query(
            "INSERT INTO sandbox_faults (operation, remaining, message) VALUES ($1, $2, $3)
             ON CONFLICT (operation) DO UPDATE SET remaining = EXCLUDED.remaining, message = EXCLUDED.message",
        )
        .bind(operation)
        .bind(times)
        .bind(message)
        .execute(pool)
        .await?;
        Ok(())
    }
}

/// Words the sandbox's CNAM database refuses, as carriers refuse promotional caller-ID names.
const PROMOTIONAL_WORDS: [&str; 5] = ["FREE", "WINNER", "PRIZE", "URGENT", "CASH"];

/// Why the sandbox's CNAM database refuses a name (decided when it is submitted, answered
/// when the delay has passed), so that `Failed` with a reason is easy to demonstrate.
pub fn cnam_rejection(name: &Cnam) -> Option<String> {
    if !name.as_str().chars().any(|c| c.is_ascii_alphabetic()) {
        return Some("the CNAM database refused it: a caller-ID name must contain letters".into());
    }
    let upper = name.as_str().to_ascii_uppercase();
    upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| PROMOTIONAL_WORDS.contains(w))
        .map(|w| {
            format!("the CNAM database refused it: promotional words such as “{w}” are not allowed")
        })
}

/// Why the sandbox's 911 provider cannot register an address: it looks the street up in its
/// simulated MSAG (Master Street Address Guide), which only knows numbered street addresses.
pub fn e911_rejection(address: &E911Address) -> Option<String> {
    let house_number = address
        .street()
        .split_whitespace()
        .next()
        .is_some_and(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()));
    (!house_number).then(|| {
        format!(
            "address not found in the MSAG: “{}” has no house number; give the number on the street",
            address.street()
        )
    })
}

/// Why the sandbox's losing carrier refuses to release a number: a wrong PIN (the sandbox
/// takes `0000` as wrong) refuses every number, a line ending in 9999 is "not on the account".
pub fn port_rejection(number: &E164, details: &crate::domain::port::PortDetails) -> Option<String> {
    if details.pin() == Some("0000") {
        return Some("the losing carrier refused: the PIN does not match the account".into());
    }
    number.as_str().ends_with("9999").then(|| {
        format!(
            "the losing carrier refused: {} is not on account {}",
            number,
            details.account_number()
        )
    })
}

fn status_of(
    row: Option<(bool, Option<String>)>,
    what: &str,
    reference: &str,
) -> Result<RequestStatus, ProviderError> {
    match row {
        None => Err(ProviderError::new(
            NAME,
            ProviderErrorKind::NotFound,
            format!("no {what} request {reference}"),
        )),
        Some((false, _)) => Ok(RequestStatus::Pending),
        Some((true, None)) => Ok(RequestStatus::Done),
        Some((true, Some(reason))) => Ok(RequestStatus::Rejected(reason)),
    }
}

pub(super) fn injected_error(message: String) -> ProviderError {
    ProviderError::new(NAME, ProviderErrorKind::Transient, message)
}

pub(super) fn db_error(err: sqlx::Error) -> ProviderError {
    ProviderError::new(
        NAME,
        ProviderErrorKind::Transient,
        format!("sandbox storage: {err}"),
    )
}

fn to_target(row: (Uuid, String, String)) -> Result<Target, ProviderError> {
    let kind = row
        .1
        .parse::<TargetKind>()
        .map_err(|e| ProviderError::new(NAME, ProviderErrorKind::Validation, e))?;
    Ok(Target {
        kind,
        id: row.0.to_string(),
        name: row.2,
    })
}

#[async_trait]
impl Platform for Sandbox {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn list_targets(
        &self,
        tenant: TenantId,
        kind: Option<TargetKind>,
    ) -> Result<Vec<Target>, ProviderError> {
        let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
            "SELECT id, kind, name FROM sandbox_targets
             WHERE tenant_id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR kind = $2)
             ORDER BY kind, lower(name)",
        )
        .bind(tenant)
        .bind(kind.map(TargetKind::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.into_iter().map(to_target).collect()
    }

    async fn find_target(
        &self,
        tenant: TenantId,
        kind: TargetKind,
        id: &str,
    ) -> Result<Option<Target>, ProviderError> {
        let Ok(id) = id.parse::<Uuid>() else {
            return Ok(None);
        };
        let row: Option<(Uuid, String, String)> = sqlx::query_as(
            "SELECT id, kind, name FROM sandbox_targets
             WHERE tenant_id = $1 AND kind = $2 AND id = $3 AND deleted_at IS NULL",
        )
        .bind(tenant)
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(to_target).transpose()
    }

    async fn find_target_by_name(
        &self,
        tenant: TenantId,
        kind: TargetKind,
        name: &str,
    ) -> Result<Option<Target>, ProviderError> {
        let row: Option<(Uuid, String, String)> = sqlx::query_as(
            "SELECT id, kind, name FROM sandbox_targets
             WHERE tenant_id = $1 AND kind = $2 AND lower(name) = lower($3) AND deleted_at IS NULL",
        )
        .bind(tenant)
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(to_target).transpose()
    }

    async fn create_extension(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Target, ProviderError> {
        self.fault("ensure_target").await?;
        let id = Uuid::new_v4();
        let inserted = sqlx::query(
            "INSERT INTO sandbox_targets (id, tenant_id, kind, name) VALUES ($1, $2, 'extension', $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(tenant)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        if inserted.rows_affected() == 0 {
            return Err(ProviderError::new(
                NAME,
                ProviderErrorKind::Conflict,
                format!("an extension named “{name}” already exists"),
            ));
        }
        Ok(Target {
            kind: TargetKind::Extension,
            id: id.to_string(),
            name: name.to_string(),
        })
    }

    async fn delete_target(&self, tenant: TenantId, target: &Target) -> Result<(), ProviderError> {
        let Ok(id) = target.id.parse::<Uuid>() else {
            return Ok(());
        };
        sqlx::query(
            "UPDATE sandbox_targets SET deleted_at = now() WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id)
        .bind(tenant)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn assign(
        &self,
        tenant: TenantId,
        number: NumberRef<'_>,
        target: &Target,
        display_name: Option<&str>,
    ) -> Result<Activation, ProviderError> {
        self.fault("assign").await?;
        let Ok(target_id) = target.id.parse::<Uuid>() else {
            return Err(ProviderError::new(
                NAME,
                ProviderErrorKind::NotFound,
                format!("no target {}", target.id),
            ));
        };
        let slow = self.activation_notice(number.state).is_some();
        let delay = if slow {
            self.config.activation_delay_seconds
        } else {
            0
        };
        // Idempotent: assigning the same number to the same target twice is one assignment.
        let row: Option<(Uuid,)> = sqlx::query_as(
            "INSERT INTO sandbox_assignments (e164, tenant_id, target_id, display_name, active_at)
             SELECT $1, $2, t.id, $4, now() + make_interval(secs => $5)
             FROM sandbox_targets t WHERE t.id = $3 AND t.tenant_id = $2 AND t.deleted_at IS NULL
             ON CONFLICT (e164) DO UPDATE SET display_name = EXCLUDED.display_name
                 WHERE sandbox_assignments.target_id = EXCLUDED.target_id
             RETURNING target_id",
        )
        .bind(number.e164.as_str())
        .bind(tenant)
        .bind(target_id)
        .bind(display_name)
        .bind(delay as f64)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        if row.is_some() {
            // `assign_answer`: the assignment is made and its answer lost on the way back,
            // as a timeout at a platform's edge does.
            self.fault("assign_answer").await?;
        }
        match row {
            Some(_) if slow => Ok(Activation::Delayed),
            Some(_) => Ok(Activation::Immediate),
            None => {
                let exists = self
                    .find_target(tenant, target.kind, &target.id)
                    .await?
                    .is_some();
                let (kind, message) = if exists {
                    (
                        ProviderErrorKind::Conflict,
                        format!("{} is already assigned elsewhere", number.e164),
                    )
                } else {
                    (
                        ProviderErrorKind::NotFound,
                        format!("{} {} does not exist", target.kind, target.id),
                    )
                };
                Err(ProviderError::new(NAME, kind, message))
            }
        }
    }

    async fn unassign(&self, tenant: TenantId, number: &E164) -> Result<(), ProviderError> {
        self.fault("unassign").await?;
        sqlx::query("DELETE FROM sandbox_assignments WHERE e164 = $1 AND tenant_id = $2")
            .bind(number.as_str())
            .bind(tenant)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn routed_numbers(&self, tenant: TenantId) -> Result<Vec<super::Routed>, ProviderError> {
        let rows: Vec<(String, Uuid, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT a.e164, a.target_id, t.kind, t.name FROM sandbox_assignments a
             LEFT JOIN sandbox_targets t ON t.id = a.target_id AND t.deleted_at IS NULL
             WHERE a.tenant_id = $1 ORDER BY a.e164",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(e164, target, kind, name)| {
                let name = name.unwrap_or_else(|| format!("deleted target {target}"));
                super::Routed {
                    described: name.clone(),
                    targets: kind
                        .and_then(|k| k.parse().ok())
                        .map(|kind| Target {
                            kind,
                            id: target.to_string(),
                            name,
                        })
                        .into_iter()
                        .collect(),
                    e164,
                }
            })
            .collect())
    }

    async fn activation(&self, number: &E164) -> Result<Option<Activation>, ProviderError> {
        let active: Option<bool> = sqlx::query_scalar(
            "SELECT active_at <= now() FROM sandbox_assignments WHERE e164 = $1",
        )
        .bind(number.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(active.map(|done| {
            if done {
                Activation::Immediate
            } else {
                Activation::Delayed
            }
        }))
    }

    fn activation_notice(&self, state: Option<&str>) -> Option<String> {
        let state = state?;
        self.config
            .slow_activation_states
            .iter()
            .any(|s| s.eq_ignore_ascii_case(state))
            .then(|| format!("Numbers in {state} can take up to 24 hours to activate."))
    }

    /// The sandbox's numbers are Inward's own inventory; it owns none besides.
    async fn unassigned_numbers(&self) -> Result<Vec<E164>, ProviderError> {
        Ok(Vec::new())
    }

    async fn target_exists(
        &self,
        tenant: TenantId,
        target: &Target,
    ) -> Result<bool, ProviderError> {
        super::exists_by_lookup(self, tenant, target).await
    }

    async fn test_connection(&self, tenant: TenantId) -> Result<String, ProviderError> {
        super::count_targets(self, tenant).await
    }
}

#[async_trait]
impl Carrier for Sandbox {
    async fn portability(
        &self,
        number: &E164,
    ) -> Result<crate::domain::port::Portability, ProviderError> {
        self.fault("portability").await?;
        let national = number.as_str().trim_start_matches("+1");
        let in_service: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM rate_centers WHERE npa = $1 AND nxx = $2)",
        )
        .bind(national.get(..3).unwrap_or_default())
        .bind(national.get(3..6).unwrap_or_default())
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(crate::domain::port::sandbox_portability(
            national, in_service,
        ))
    }

    async fn send_to_number(
        &self,
        number: &E164,
        channel: crate::domain::ownership::Channel,
        message: &str,
    ) -> Result<(), ProviderError> {
        self.fault("send_to_number").await?;
        sqlx::query("INSERT INTO sandbox_messages (e164, channel, body) VALUES ($1, $2, $3)")
            .bind(number.as_str())
            .bind(channel.as_str())
            .bind(message)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn shown_message(&self, number: &E164) -> Result<Option<String>, ProviderError> {
        sqlx::query_scalar(
            "SELECT body FROM sandbox_messages WHERE e164 = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(number.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)
    }

    fn reserves_with_the_hold(&self) -> bool {
        true
    }

    async fn reserve(&self, number: &E164) -> Result<Option<String>, ProviderError> {
        let reference = reservations::new_reference();
        self.reservations
            .submit((reference, number.as_str().to_string()))
            .await
            .unwrap_or_else(|| {
                Err(ProviderError::new(
                    NAME,
                    ProviderErrorKind::Transient,
                    "the sandbox stopped before answering",
                ))
            })
    }

    async fn release_reservation(&self, reference: &str) -> Result<(), ProviderError> {
        self.fault("release").await?;
        let found = sqlx::query(
            "UPDATE sandbox_reservations SET released_at = coalesce(released_at, now()) WHERE ref = $1",
        )
        .bind(reference)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        if found.rows_affected() == 0 {
            return Err(ProviderError::new(
                NAME,
                ProviderErrorKind::NotFound,
                format!("no reservation {reference}"),
            ));
        }
        Ok(())
    }

    async fn submit_cnam(
        &self,
        _tenant: TenantId,
        number: &E164,
        name: &Cnam,
    ) -> Result<String, ProviderError> {
        self.fault("cnam").await?;
        let reference = format!("sbx-cnam-{}", Uuid::new_v4());
        sqlx::query(
            "INSERT INTO sandbox_cnam_requests (ref, e164, name, ready_at, rejection)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5)",
        )
        .bind(&reference)
        .bind(number.as_str())
        .bind(name.as_str())
        .bind(self.config.cnam_delay_seconds as f64)
        .bind(cnam_rejection(name))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(reference)
    }

    async fn cnam_status(&self, reference: &str) -> Result<RequestStatus, ProviderError> {
        let row: Option<(bool, Option<String>)> = sqlx::query_as(
            "SELECT ready_at <= now(), rejection FROM sandbox_cnam_requests WHERE ref = $1",
        )
        .bind(reference)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        status_of(row, "CNAM", reference)
    }

    async fn submit_e911(
        &self,
        _tenant: TenantId,
        number: &E164,
        address: &E911Address,
    ) -> Result<String, ProviderError> {
        self.fault("e911").await?;
        let reference = format!("sbx-e911-{}", Uuid::new_v4());
        sqlx::query(
            "INSERT INTO sandbox_e911_requests (ref, e164, address, ready_at, rejection)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5)",
        )
        .bind(&reference)
        .bind(number.as_str())
        .bind(serde_json::to_value(address).unwrap_or_default())
        .bind(self.config.e911_delay_seconds as f64)
        .bind(e911_rejection(address))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(reference)
    }

    async fn e911_status(&self, reference: &str) -> Result<RequestStatus, ProviderError> {
        let row: Option<(bool, Option<String>)> = sqlx::query_as(
            "SELECT ready_at <= now(), rejection FROM sandbox_e911_requests WHERE ref = $1",
        )
        .bind(reference)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        status_of(row, "E911", reference)
    }

    /// The simulated MSAG keeps streets in the USPS standard form.
    async fn address_candidates(
        &self,
        address: &E911Address,
    ) -> Result<Vec<E911Address>, ProviderError> {
        self.fault("address_check").await?;
        Ok(crate::domain::street::standardized(address.street())
            .map(|street| address.with_street(street))
            .into_iter()
            .collect())
    }

    async fn submit_port(
        &self,
        _tenant: TenantId,
        number: &E164,
        details: &crate::domain::port::PortDetails,
    ) -> Result<String, ProviderError> {
        self.fault("port").await?;
        let reference = format!("sbx-port-{}", Uuid::new_v4());
        sqlx::query("INSERT INTO sandbox_ports (ref, e164, rejection) VALUES ($1, $2, $3)")
            .bind(&reference)
            .bind(number.as_str())
            .bind(port_rejection(number, details))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(reference)
    }

    async fn port_status(&self, reference: &str) -> Result<PortProgress, ProviderError> {
        let row: Option<(chrono::DateTime<chrono::Utc>, Option<String>)> =
            sqlx::query_as("SELECT submitted_at, rejection FROM sandbox_ports WHERE ref = $1")
                .bind(reference)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        let Some((submitted, rejection)) = row else {
            return Err(ProviderError::new(
                NAME,
                ProviderErrorKind::NotFound,
                format!("no port request {reference}"),
            ));
        };
        let now = chrono::Utc::now();
        let after = |secs: i64| submitted + chrono::Duration::seconds(secs);
        let foc = after(self.config.port_complete_seconds);
        Ok(if now < after(self.config.port_ack_seconds) {
            PortProgress::Submitted
        } else if let Some(reason) = rejection {
            PortProgress::Rejected(reason)
        } else if now < after(self.config.port_foc_seconds) {
            PortProgress::Acknowledged
        } else if now < foc {
            PortProgress::FocSet(foc)
        } else {
            PortProgress::Completed(foc)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::e911::AddressInput;

    #[test]
    fn the_cnam_database_refuses_names_without_letters_and_promotional_words() {
        assert!(cnam_rejection(&Cnam::parse("ACME PLUMBING").unwrap()).is_none());
        assert!(
            cnam_rejection(&Cnam::parse("555-0100").unwrap())
                .unwrap()
                .contains("must contain letters")
        );
        assert!(
            cnam_rejection(&Cnam::parse("Free Pizza").unwrap())
                .unwrap()
                .contains("“FREE”")
        );
        assert!(
            cnam_rejection(&Cnam::parse("Freedom Co").unwrap()).is_none(),
            "whole words only"
        );
    }

    #[test]
    fn the_msag_needs_a_house_number() {
        let parse = |street: &str| {
            E911Address::parse(&AddressInput {
                street: street.into(),
                city: "Austin".into(),
                state: "TX".into(),
                zip: "78701".into(),
                ..Default::default()
            })
            .unwrap()
        };
        assert!(e911_rejection(&parse("500 Congress Ave")).is_none());
        assert!(
            e911_rejection(&parse("Congress Ave"))
                .unwrap()
                .contains("MSAG")
        );
    }
}
