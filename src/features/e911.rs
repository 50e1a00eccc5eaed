//! A number's E911 dispatchable location: setting it (one number, all of the tenant's, or a
//! bulk selection after a confirmation summary), and what the pages and API show.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::E164;
use crate::domain::E911AddressId;
use crate::domain::TenantId;
use crate::domain::e911::{AddressInput, E911Address, E911Status, FieldError};
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Bulk updates are limited to this many numbers per request.
pub const MAX_BULK: usize = 1000;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct E911View {
    #[sqlx(try_from = "String")]
    pub status: E911Status,
    pub street: Option<String>,
    pub location: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub reason: Option<String>,
    /// The saved address the number was registered from, if any.
    pub address_id: Option<E911AddressId>,
}

impl E911View {
    fn not_set() -> Self {
        E911View {
            status: E911Status::NotSet,
            street: None,
            location: None,
            city: None,
            state: None,
            zip: None,
            country: None,
            reason: None,
            address_id: None,
        }
    }

    pub fn label(&self) -> &'static str {
        self.status.label()
    }

    pub fn one_line(&self) -> Option<String> {
        let street = self.street.as_ref()?;
        let mut line = street.clone();
        if let Some(l) = &self.location {
            line.push_str(", ");
            line.push_str(l);
        }
        Some(format!(
            "{line}, {} {} {}",
            self.city.as_deref().unwrap_or(""),
            self.state.as_deref().unwrap_or(""),
            self.zip.as_deref().unwrap_or("")
        ))
    }

    /// The form's initial values: the current address, if any.
    pub fn field(&self, name: &str) -> &str {
        match name {
            "street" => self.street.as_deref(),
            "location" => self.location.as_deref(),
            "city" => self.city.as_deref(),
            "state" => self.state.as_deref(),
            "zip" => self.zip.as_deref(),
            // The form proposes the US, the only country registered today, for a new address.
            "country" => Some(self.country.as_deref().unwrap_or("US")),
            _ => None,
        }
        .unwrap_or("")
    }
}

const VIEW_COLUMNS: &str = "e.status, e.street, e.location, e.city, e.state::text AS state, e.zip, e.country::text AS country, e.reason, e.address_id";

pub async fn view(conn: &mut PgConnection, tenant_id: TenantId, e164: &str) -> AppResult<E911View> {
    let found: Option<E911View> = sqlx::query_as(&format!(
        "SELECT {VIEW_COLUMNS} FROM e911_records e JOIN numbers n ON n.e164 = e.e164 AND n.tenant_id = e.tenant_id
         WHERE e.e164 = $1 AND e.tenant_id = $2"
    ))
    .bind(e164)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?;
    Ok(found.unwrap_or_else(E911View::not_set))
}

/// An address that failed validation: 422 naming every rule that failed.
pub fn invalid_address(errors: Vec<FieldError>) -> AppError {
    AppError::invalid_fields("invalid_address", errors)
}

pub fn parse_address(input: &AddressInput) -> AppResult<E911Address> {
    E911Address::parse(input).map_err(invalid_address)
}

/// Where an address comes from: typed (`as_typed` keeps it even when the address guide knows
/// it in another form), or one of the tenant's saved addresses.
#[derive(Debug, Clone)]
pub enum AddressChoice {
    Typed { input: AddressInput, as_typed: bool },
    Saved(E911AddressId),
}

impl AddressChoice {
    /// The API's fields: `address_id`, or the address's own fields and `as_typed`.
    pub fn from_fields(
        address_id: Option<E911AddressId>,
        input: AddressInput,
        as_typed: bool,
    ) -> AppResult<AddressChoice> {
        match address_id {
            Some(_) if !input.street.trim().is_empty() => Err(AppError::invalid_field(
                "address_id",
                "give a saved address (address_id) or the address's fields, not both",
            )),
            Some(id) => Ok(AddressChoice::Saved(id)),
            None => Ok(AddressChoice::Typed { input, as_typed }),
        }
    }
}

/// 422 `address_suggestions`: the 911 provider's address guide knows the address in another
/// form; the caller sends one of the candidates, or the same address with `as_typed`.
pub fn suggestions(typed: &E911Address, candidates: &[E911Address]) -> AppError {
    AppError::Invalid {
        code: "address_suggestions",
        message: format!(
            "The 911 address guide knows “{}” as “{}”: use the suggested address, or keep yours as typed.",
            typed.one_line(),
            candidates
                .first()
                .map(E911Address::one_line)
                .unwrap_or_default()
        ),
        details: json!({
            "typed": typed,
            "candidates": candidates
                .iter()
                .map(|c| json!({ "address": c, "one_line": c.one_line() }))
                .collect::<Vec<_>>(),
        }),
    }
}

/// A typed address checked by the rules and then by the tenant's 911 provider, which may know
/// it in another form (refused with its candidates unless `as_typed`). A provider that cannot
/// be asked does not stop the user: its registration will say what it thinks of the address.
pub async fn checked(
    state: &AppState,
    tenant_id: TenantId,
    input: &AddressInput,
    as_typed: bool,
) -> AppResult<E911Address> {
    let address = parse_address(input)?;
    if as_typed {
        return Ok(address);
    }
    let candidates = match state
        .provider_for(tenant_id)
        .await?
        .carrier(crate::providers::CarrierFeature::E911)
    {
        Ok(carrier) => carrier
            .address_candidates(&address)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the 911 address guide did not answer");
                Vec::new()
            }),
        Err(_) => Vec::new(),
    };
    if candidates.is_empty() {
        Ok(address)
    } else {
        Err(suggestions(&address, &candidates))
    }
}

/// The address a choice names: a typed one checked before any transaction (the provider may
/// be slow), a saved one read inside the transaction that gives it to numbers and held there
/// (`FOR SHARE`): a change of it waits for that transaction and then registers these numbers
/// too, and it cannot be deleted from under them.
enum Chosen {
    Typed(E911Address),
    Saved(E911AddressId),
}

impl Chosen {
    async fn of(
        state: &AppState,
        tenant_id: TenantId,
        choice: &AddressChoice,
    ) -> AppResult<Chosen> {
        Ok(match choice {
            AddressChoice::Saved(id) => Chosen::Saved(*id),
            AddressChoice::Typed { input, as_typed } => {
                Chosen::Typed(checked(state, tenant_id, input, *as_typed).await?)
            }
        })
    }

    async fn read(
        self,
        conn: &mut PgConnection,
        tenant_id: TenantId,
    ) -> AppResult<(E911Address, Option<E911AddressId>)> {
        match self {
            Chosen::Typed(address) => Ok((address, None)),
            Chosen::Saved(id) => Ok((
                super::e911_book::address_held(conn, tenant_id, id).await?,
                Some(id),
            )),
        }
    }
}

/// Which numbers of the tenant an address is saved for.
#[derive(Debug, Clone, Copy)]
enum Which<'a> {
    All,
    Numbers(&'a [String]),
    /// Those registered from a saved address (which changed).
    UsingSaved(E911AddressId),
}

/// Saves the address for the given numbers of the tenant (all of them when `numbers` is
/// `None`) as `pending`, audits each, and returns the numbers changed.
#[allow(clippy::too_many_arguments)]
async fn save(
    conn: &mut PgConnection,
    caller: &Principal,
    tenant_id: TenantId,
    which: Which<'_>,
    address: &E911Address,
    address_id: Option<E911AddressId>,
    how: &str,
    request_id: Option<&str>,
) -> AppResult<Vec<String>> {
    let (numbers, saved) = match which {
        Which::All => (None, None),
        Which::Numbers(n) => (Some(n), None),
        Which::UsingSaved(id) => (None, Some(id)),
    };
    let changed: Vec<String> = sqlx::query_scalar(
        "INSERT INTO e911_records (e164, tenant_id, street, location, city, state, zip, country, status, address_id)
         SELECT n.e164, n.tenant_id, $3, $4, $5, $6, $7, $8, 'pending', $9 FROM numbers n
         WHERE n.tenant_id = $1 AND ($2::text[] IS NULL OR n.e164 = ANY($2))
           AND ($10::uuid IS NULL OR EXISTS (
               SELECT 1 FROM e911_records r WHERE r.e164 = n.e164 AND r.address_id = $10))
         ON CONFLICT (e164) DO UPDATE SET street = EXCLUDED.street, location = EXCLUDED.location,
             city = EXCLUDED.city, state = EXCLUDED.state, zip = EXCLUDED.zip, country = EXCLUDED.country,
             status = 'pending', reason = NULL, provider_ref = NULL, attempts = 0,
             address_id = EXCLUDED.address_id, next_attempt_at = now(), updated_at = now()
         RETURNING e164",
    )
    .bind(tenant_id)
    .bind(numbers)
    .bind(address.street())
    .bind(address.location())
    .bind(address.city())
    .bind(address.state())
    .bind(address.zip())
    .bind(address.country())
    .bind(address_id)
    .bind(saved)
    .fetch_all(&mut *conn)
    .await?;
    for e164 in &changed {
        let entry = Entry::new(Action::E911, Outcome::Success)
            .by(Some(tenant_id), Some(caller.user_id), request_id)
            .number(e164)
            .details(json!({
                "event": "changed", "how": how, "address": address,
                "address_id": address_id, "status": "pending"
            }));
        audit::repo::record(&mut *conn, &entry).await?;
    }
    Ok(changed)
}

/// Sets one number's address, or with `apply_to_all` every number of the tenant's.
pub async fn set(
    state: &AppState,
    caller: &Principal,
    number: &E164,
    choice: &AddressChoice,
    apply_to_all: bool,
    request_id: Option<&str>,
) -> AppResult<(E911View, usize)> {
    let tenant_id = caller.tenant_admin()?;
    crate::numbers::repo::find(
        &mut *state.pool.acquire().await?,
        tenant_id,
        number.as_str(),
    )
    .await?
    .ok_or_else(|| AppError::NotFound(format!("number {number}")))?;
    // The address guide is asked before the transaction: nothing waits on it with locks held.
    let chosen = Chosen::of(state, tenant_id, choice).await?;
    let mut tx = state.pool.begin().await?;
    let (address, address_id) = chosen.read(&mut tx, tenant_id).await?;
    let only = [number.as_str().to_string()];
    let changed = save(
        &mut tx,
        caller,
        tenant_id,
        if apply_to_all {
            Which::All
        } else {
            Which::Numbers(&only)
        },
        &address,
        address_id,
        if apply_to_all {
            "apply_to_all"
        } else {
            "number"
        },
        request_id,
    )
    .await?;
    let view = view(&mut tx, tenant_id, number.as_str()).await?;
    tx.commit().await?;
    Ok((view, changed.len()))
}

#[derive(Debug, Clone, Deserialize)]
pub struct BulkRequest {
    pub numbers: Vec<String>,
    #[serde(default)]
    pub address: AddressInput,
    /// A saved address instead of `address`.
    #[serde(default)]
    pub address_id: Option<E911AddressId>,
    /// Keep the typed address even when the address guide suggests another form.
    #[serde(default)]
    pub as_typed: bool,
    #[serde(default)]
    pub confirm: bool,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BulkLine {
    pub e164: String,
    pub current_status: String,
    pub current_address: Option<String>,
}

/// The confirmation summary of a bulk update, and whether it was applied.
#[derive(Debug, Clone, Serialize)]
pub struct BulkSummary {
    pub address: String,
    pub count: usize,
    /// Numbers that have no address yet.
    pub new: usize,
    /// Numbers that move from another address.
    pub moving: usize,
    pub numbers: Vec<BulkLine>,
    pub confirmed: bool,
    pub updated: usize,
}

/// Without `confirm`, says what the update would do; with it, does it.
pub async fn bulk(
    state: &AppState,
    caller: &Principal,
    request: &BulkRequest,
    request_id: Option<&str>,
) -> AppResult<BulkSummary> {
    let tenant_id = caller.tenant_admin()?;
    if request.numbers.is_empty() {
        return Err(AppError::invalid_field(
            "numbers",
            "select at least one number",
        ));
    }
    if request.numbers.len() > MAX_BULK {
        return Err(AppError::invalid_field(
            "numbers",
            format!("a bulk update takes at most {MAX_BULK} numbers"),
        ));
    }
    let mut numbers: Vec<String> = Vec::with_capacity(request.numbers.len());
    for raw in &request.numbers {
        let n = E164::parse(raw)
            .map_err(|e| AppError::invalid_field("numbers", format!("“{raw}”: {e}")))?;
        if !numbers.iter().any(|x| x == n.as_str()) {
            numbers.push(n.as_str().to_string());
        }
    }
    let choice = AddressChoice::from_fields(
        request.address_id,
        request.address.clone(),
        request.as_typed,
    )?;
    let chosen = Chosen::of(state, tenant_id, &choice).await?;
    let mut tx = state.pool.begin().await?;
    let (address, address_id) = chosen.read(&mut tx, tenant_id).await?;
    let lines: Vec<BulkLine> = sqlx::query_as(
        "SELECT n.e164, coalesce(e.status, 'not_set') AS current_status,
                e.street || coalesce(', ' || e.location, '') || ', ' || e.city || ' ' || e.state || ' ' || e.zip AS current_address
         FROM numbers n LEFT JOIN e911_records e ON e.e164 = n.e164 AND e.tenant_id = n.tenant_id
         WHERE n.tenant_id = $1 AND n.e164 = ANY($2) ORDER BY n.e164",
    )
    .bind(tenant_id)
    .bind(&numbers)
    .fetch_all(&mut *tx)
    .await?;
    let unknown: Vec<&String> = numbers
        .iter()
        .filter(|n| !lines.iter().any(|l| &l.e164 == *n))
        .collect();
    if !unknown.is_empty() {
        return Err(AppError::NotFound(format!(
            "{} among your tenant's numbers",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let new = lines.iter().filter(|l| l.current_address.is_none()).count();
    let mut summary = BulkSummary {
        address: address.one_line(),
        count: lines.len(),
        new,
        moving: lines.len() - new,
        numbers: lines,
        confirmed: false,
        updated: 0,
    };
    if request.confirm {
        let changed = save(
            &mut tx,
            caller,
            tenant_id,
            Which::Numbers(&numbers),
            &address,
            address_id,
            "bulk",
            request_id,
        )
        .await?;
        tx.commit().await?;
        summary.confirmed = true;
        summary.updated = changed.len();
    }
    Ok(summary)
}

/// A saved address changed: every number registered from it is registered again with the
/// new address. Returns the numbers.
pub async fn follow_saved(
    conn: &mut PgConnection,
    caller: &Principal,
    tenant_id: TenantId,
    id: E911AddressId,
    address: &E911Address,
    request_id: Option<&str>,
) -> AppResult<Vec<String>> {
    save(
        conn,
        caller,
        tenant_id,
        Which::UsingSaved(id),
        address,
        Some(id),
        "saved_address",
        request_id,
    )
    .await
}

/// The numbers registered from each of the tenant's saved addresses.
pub async fn numbers_by_saved(
    conn: &mut PgConnection,
    tenant_id: TenantId,
) -> sqlx::Result<Vec<(E911AddressId, String)>> {
    sqlx::query_as(
        "SELECT e.address_id, e.e164 FROM e911_records e
         JOIN numbers n ON n.e164 = e.e164 AND n.tenant_id = e.tenant_id
         WHERE e.tenant_id = $1 AND e.address_id IS NOT NULL ORDER BY e.address_id, e.e164",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await
}

/// The numbers among `numbers` whose E911 address is not registered, with their status.
pub async fn unregistered(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    numbers: &[String],
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT n.e164, coalesce(e.status, 'not_set') FROM numbers n
         LEFT JOIN e911_records e ON e.e164 = n.e164 AND e.tenant_id = $1
         WHERE n.e164 = ANY($2) AND coalesce(e.status, 'not_set') <> 'registered' ORDER BY n.e164",
    )
    .bind(tenant_id)
    .bind(numbers)
    .fetch_all(conn)
    .await
}

/// The activation policy: refuses when the tenant requires a registered E911 address and
/// some of `numbers` lack one.
pub async fn check_activation_policy(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    numbers: &[String],
) -> AppResult<()> {
    let settings = crate::tenants::settings::load(conn, tenant_id).await?;
    if !settings.require_e911 {
        return Ok(());
    }
    let missing = unregistered(conn, tenant_id, numbers).await?;
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing
        .iter()
        .map(|(n, s)| format!("{} (E911 {})", n, s.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ");
    Err(AppError::conflict(
        "e911_required",
        format!(
            "your tenant's policy is not to activate numbers without a registered E911 address: {list}. \
             A tenant admin sets the address on each number's page (Numbers → the number → E911 address); \
             provision again once it shows Registered"
        ),
        Value::Array(
            missing
                .iter()
                .map(|(n, s)| json!({ "number": n, "e911_status": s }))
                .collect(),
        ),
    ))
}
