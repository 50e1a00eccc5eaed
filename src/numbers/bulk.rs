//! Acting on several numbers at once (re-route to one target, release, give one caller-ID
//! name): each number on its own, one after the other, so one refusal stops nothing and each
//! result says what became of its number.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::{E164, Target, policy::Principal};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// At most this many numbers in one request: each is a round of platform calls.
pub const MAX_NUMBERS: usize = 100;

#[derive(Debug, Clone, Serialize)]
pub struct Rerouted {
    pub number: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

impl Rerouted {
    pub fn message(&self) -> Option<&str> {
        self.error.as_ref()?["message"].as_str()
    }
}

/// The numbers asked for, each once (the same number in two formats counts once), in the
/// order given; too few or too many is a 422.
pub fn wanted(numbers: &[String]) -> AppResult<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<String> = numbers
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .map(|n| match E164::parse(&n) {
            Ok(parsed) => parsed.as_str().to_string(),
            Err(_) => n,
        })
        .filter(|n| seen.insert(n.clone()))
        .collect();
    if unique.is_empty() {
        return Err(AppError::invalid_field(
            "numbers",
            "Tick the numbers to act on first.",
        ));
    }
    if unique.len() > MAX_NUMBERS {
        return Err(AppError::invalid_field(
            "numbers",
            format!(
                "{} numbers were ticked; act on at most {MAX_NUMBERS} at a time.",
                unique.len()
            ),
        ));
    }
    Ok(unique)
}

/// Re-routes each number to `kind`/`target_id`.
pub async fn reroute_all(
    state: &AppState,
    caller: &Principal,
    numbers: &[String],
    kind: &str,
    target_id: &str,
    request_id: Option<&str>,
) -> AppResult<Vec<Rerouted>> {
    caller.tenant()?;
    let numbers = wanted(numbers)?;
    kind.parse::<crate::domain::TargetKind>()
        .map_err(|e| AppError::invalid_field("target.type", e))?;
    let mut results = Vec::with_capacity(numbers.len());
    for raw in numbers {
        let outcome = match E164::parse(&raw) {
            Ok(number) => super::reroute(state, caller, &number, kind, target_id, request_id).await,
            Err(e) => Err(AppError::invalid_field("number", e.to_string())),
        };
        results.push(match outcome {
            Ok(target) => Rerouted {
                number: raw,
                ok: true,
                target: Some(target),
                error: None,
            },
            Err(AppError::Internal(err)) => return Err(AppError::Internal(err)),
            Err(err) => Rerouted {
                number: raw,
                ok: false,
                target: None,
                error: Some(json!({ "code": err.code(), "message": err.public_message() })),
            },
        });
    }
    Ok(results)
}

#[derive(Debug, Deserialize)]
pub struct BulkRerouteRequest {
    pub numbers: Vec<String>,
    pub target: crate::domain::target::TargetSpec,
}

/// What became of one number of a bulk release or caller-ID change.
#[derive(Debug, Clone, Serialize)]
pub struct Done {
    pub number: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

impl Done {
    pub fn message(&self) -> Option<&str> {
        self.error.as_ref()?["message"].as_str()
    }

    /// Any failure is this number's result, so the report of the others is never lost (a
    /// failure of Inward itself is logged and named as such).
    fn of(number: String, outcome: AppResult<()>) -> AppResult<Done> {
        match outcome {
            Ok(()) => Ok(Done {
                number,
                ok: true,
                error: None,
            }),
            Err(err) => {
                err.log();
                Ok(Done {
                    number,
                    ok: false,
                    error: Some(json!({ "code": err.code(), "message": err.public_message() })),
                })
            }
        }
    }
}

/// Releases each number (each its own release saga).
pub async fn release_all(
    state: &AppState,
    caller: &Principal,
    numbers: &[String],
    request_id: Option<&str>,
) -> AppResult<Vec<Done>> {
    // As one by one: any member of the tenant may release its numbers.
    caller.tenant()?;
    let mut results = Vec::new();
    for raw in wanted(numbers)? {
        let outcome = match E164::parse(&raw) {
            Ok(number) => super::release(state, caller, &number, request_id)
                .await
                .map(|_| ()),
            Err(e) => Err(AppError::invalid_field("number", e.to_string())),
        };
        results.push(Done::of(raw, outcome)?);
    }
    Ok(results)
}

/// Gives each number the caller-ID name `name` (none: back to the tenant's default).
pub async fn cnam_all(
    state: &AppState,
    caller: &Principal,
    numbers: &[String],
    name: Option<&str>,
    request_id: Option<&str>,
) -> AppResult<Vec<Done>> {
    caller.tenant_admin()?;
    // A name the CNAM rules refuse is refused once, for all of them.
    crate::domain::cnam::Cnam::parse_optional(name)
        .map_err(|e| AppError::invalid_field("name", e.to_string()))?;
    let mut results = Vec::new();
    for raw in wanted(numbers)? {
        let outcome = match E164::parse(&raw) {
            Ok(number) => {
                crate::features::cnam::set_override(state, caller, &number, name, request_id)
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(AppError::invalid_field("number", e.to_string())),
        };
        results.push(Done::of(raw, outcome)?);
    }
    Ok(results)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkReleaseRequest {
    pub numbers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkCnamRequest {
    pub numbers: Vec<String>,
    /// Empty or null: the tenant's default name.
    pub name: Option<String>,
}
