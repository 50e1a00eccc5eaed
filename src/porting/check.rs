//! The portability check before a port is submitted: per number, portable, not portable (with
//! the reason), already on our network, or toll-free. Toll-free numbers and numbers Inward has
//! are judged here; the rest by the tenant's carrier.

use serde::Serialize;

use crate::domain::E164;
use crate::domain::policy::Principal;
use crate::domain::port::{Portability, known_verdict};
use crate::error::{AppError, AppResult};
use crate::providers::CarrierFeature;
use crate::state::AppState;

/// Numbers one check judges at most.
pub const MAX_CHECKED: usize = 500;

/// One number's verdict, with the number as it was typed.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub number: String,
    pub e164: Option<String>,
    #[serde(flatten)]
    pub portability: Portability,
}

impl Verdict {
    pub fn label(&self) -> String {
        self.portability.label()
    }
}

/// The numbers as typed: one a line, or comma separated; blanks skipped.
pub fn typed(raw: &str) -> Vec<String> {
    raw.split(['\n', ','])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

pub async fn check(
    state: &AppState,
    caller: &Principal,
    numbers: &[String],
) -> AppResult<Vec<Verdict>> {
    let tenant = caller.tenant_admin()?;
    if numbers.is_empty() || numbers.len() > MAX_CHECKED {
        return Err(AppError::invalid_field(
            "numbers",
            format!("check 1 to {MAX_CHECKED} numbers at once"),
        ));
    }
    let parsed: Vec<Result<E164, String>> = numbers
        .iter()
        .map(|n| E164::parse(n).map_err(|e| e.to_string()))
        .collect();
    let valid: Vec<String> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|e| e.as_str().to_string()))
        .collect();
    let ours = crate::numbers::offer::existing(&mut *state.pool.acquire().await?, &valid).await?;
    let carrier = state
        .provider_for(tenant)
        .await?
        .carrier(CarrierFeature::Porting)?;
    let mut verdicts = Vec::with_capacity(numbers.len());
    for (typed, parsed) in numbers.iter().zip(parsed) {
        let (e164, portability) = match parsed {
            Err(reason) => (None, Portability::Invalid { reason }),
            Ok(number) => {
                let national = number.as_str().trim_start_matches("+1").to_string();
                let on_network = ours.iter().any(|o| o == number.as_str());
                let verdict = match known_verdict(&national, on_network) {
                    Some(known) => known,
                    None => carrier.portability(&number).await?,
                };
                (Some(number.as_str().to_string()), verdict)
            }
        };
        verdicts.push(Verdict {
            number: typed.clone(),
            e164,
            portability,
        });
    }
    Ok(verdicts)
}
