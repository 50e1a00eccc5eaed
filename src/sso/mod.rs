//! Single sign-on with OpenID Connect. The operator sets up identity providers per reseller or
//! tenant (issuer, client id, secret sealed like platform credentials, the email domains that
//! route to it, and how its claims map to roles); users of those domains sign in with "Sign in
//! with your company account" (`signin`), checked by `oidc`. An organization's admins see
//! their providers and may make one required: their users' passwords stop signing them in
//! (API tokens still work). The API is `/api/v1/identity-providers`, the page
//! `/identity-providers`; both call the functions here, which audit every change
//! (`IDENTITY_PROVIDER`).

pub mod api;
pub mod oidc;
pub mod pages;
pub mod repo;
pub mod routes;
pub mod sealing;
pub mod signin;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{self, Action, Entry, Outcome};
use crate::domain::policy::{OrgKind, Principal, Role};
use crate::domain::sso::{RoleMap, parse_domains};
use crate::domain::{IdentityProviderId, TenantId};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::tenants::Organization;
use repo::{Change, NewProvider, Provider};

/// What a provider's secret is sealed to: its own row.
pub fn sealed_for(id: IdentityProviderId) -> String {
    format!("identity_provider:{id}")
}

/// A provider's fields as sent (a form or a body); None: not sent.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// The reseller's or tenant's slug (on creation only).
    pub organization: Option<String>,
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub domains: Option<Vec<String>>,
    pub role_claim: Option<String>,
    pub role_map: Option<Value>,
    pub required: Option<bool>,
}

impl Input {
    /// Whether it says nothing but whether the provider is required.
    fn only_required(&self) -> bool {
        let Input {
            organization,
            name,
            issuer,
            client_id,
            client_secret,
            domains,
            role_claim,
            role_map,
            required: _,
        } = self;
        organization.is_none()
            && name.is_none()
            && issuer.is_none()
            && client_id.is_none()
            && client_secret.is_none()
            && domains.is_none()
            && role_claim.is_none()
            && role_map.is_none()
    }
}

fn operator_only(caller: &Principal) -> AppResult<()> {
    if caller.role == Role::Operator {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only the operator sets up identity providers".into(),
        ))
    }
}

/// Who may see providers: the operator (all), and resellers' and tenants' admins (theirs).
fn viewer(caller: &Principal) -> AppResult<()> {
    match caller.role {
        Role::Operator | Role::ResellerAdmin | Role::TenantAdmin => Ok(()),
        Role::TenantUser => Err(AppError::Forbidden(
            "your organization's admins manage its sign-in".into(),
        )),
    }
}

fn kind_of(org_kind: &str) -> OrgKind {
    match org_kind {
        "tenant" => OrgKind::Tenant,
        "reseller" => OrgKind::Reseller,
        _ => OrgKind::Operator,
    }
}

fn text(field: &str, value: &str, max: usize, what: &str) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::invalid_field(field, format!("enter the {what}")));
    }
    if value.chars().count() > max {
        return Err(AppError::invalid_field(
            field,
            format!("the {what} is longer than {max} characters"),
        ));
    }
    Ok(value.to_string())
}

fn check_issuer(state: &AppState, issuer: &str) -> AppResult<String> {
    let issuer = text("issuer", issuer, 2000, "issuer URL")?;
    crate::outbound::check_issuer_url(&issuer, &state.outbound_policy().allow)
        .map_err(|why| AppError::invalid_field("issuer", why))?;
    if issuer.contains('?') {
        return Err(AppError::invalid_field(
            "issuer",
            "an issuer URL has no query string",
        ));
    }
    Ok(issuer)
}

fn check_role_claim(raw: &str) -> AppResult<Option<String>> {
    let claim = raw.trim();
    if claim.chars().count() > 100 {
        return Err(AppError::invalid_field(
            "role_claim",
            "the claim name is longer than 100 characters",
        ));
    }
    Ok((!claim.is_empty()).then(|| claim.to_string()))
}

fn check_role_map(raw: &Value, kind: OrgKind) -> AppResult<Value> {
    RoleMap::parse(raw, crate::auth::users::roles_for(kind))
        .map(|m| m.to_json())
        .map_err(|why| AppError::invalid_field("role_map", why))
}

fn check_domains(raw: &[String]) -> AppResult<Vec<String>> {
    parse_domains(raw).map_err(|why| AppError::invalid_field("domains", why))
}

fn audit_entry(
    caller: &Principal,
    request_id: Option<&str>,
    provider: &Provider,
    details: Value,
) -> Entry {
    let tenant = (provider.org_kind == "tenant").then_some(TenantId(provider.org_id));
    Entry::new(Action::IdentityProvider, Outcome::Success)
        .by(tenant, Some(caller.user_id), request_id)
        .org(provider.org_id)
        .target("identity_provider", Some(&provider.id.to_string()))
        .details(details)
}

fn not_found() -> AppError {
    AppError::NotFound("identity provider".into())
}

pub async fn list(state: &AppState, caller: &Principal) -> AppResult<Vec<Provider>> {
    viewer(caller)?;
    let mut conn = state.pool.acquire().await?;
    let all = repo::list(&mut conn).await?;
    Ok(all
        .into_iter()
        .filter(|p| caller.role == Role::Operator || p.org_id == caller.org_id)
        .collect())
}

/// The provider `raw` names, if the caller may see it; 404 otherwise.
pub async fn find(state: &AppState, caller: &Principal, raw: &str) -> AppResult<Provider> {
    viewer(caller)?;
    let id = IdentityProviderId(crate::web::parse_id(raw, "identity provider")?);
    let mut conn = state.pool.acquire().await?;
    repo::get(&mut conn, id)
        .await?
        .filter(|p| caller.role == Role::Operator || p.org_id == caller.org_id)
        .ok_or_else(not_found)
}

/// The organizations the operator may give a provider.
pub async fn organizations(state: &AppState, caller: &Principal) -> AppResult<Vec<Organization>> {
    operator_only(caller)?;
    let mut conn = state.pool.acquire().await?;
    crate::tenants::resellers_and_tenants(&mut conn).await
}

pub async fn create(
    state: &AppState,
    caller: &Principal,
    input: &Input,
    request_id: Option<&str>,
) -> AppResult<Provider> {
    operator_only(caller)?;
    let slug = input.organization.as_deref().unwrap_or_default().trim();
    if slug.is_empty() {
        return Err(AppError::invalid_field(
            "organization",
            "choose the reseller or tenant whose users sign in through it",
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let org = crate::tenants::organization(&mut conn, slug)
        .await?
        .ok_or_else(|| {
            AppError::invalid_field(
                "organization",
                format!("there is no reseller or tenant “{slug}”"),
            )
        })?;
    drop(conn);
    let kind = kind_of(&org.kind);
    let name = text(
        "name",
        input.name.as_deref().unwrap_or_default(),
        100,
        "name",
    )?;
    let issuer = check_issuer(state, input.issuer.as_deref().unwrap_or_default())?;
    let client_id = text(
        "client_id",
        input.client_id.as_deref().unwrap_or_default(),
        500,
        "client id",
    )?;
    let secret = text(
        "client_secret",
        input.client_secret.as_deref().unwrap_or_default(),
        2000,
        "client secret",
    )?;
    let domains = check_domains(input.domains.as_deref().unwrap_or_default())?;
    let role_claim = check_role_claim(input.role_claim.as_deref().unwrap_or_default())?;
    let role_map = check_role_map(input.role_map.as_ref().unwrap_or(&json!({})), kind)?;
    let id = IdentityProviderId(Uuid::new_v4());
    let sealed = state
        .secrets
        .seal(secret.as_bytes(), &sealed_for(id))
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    let mut tx = state.pool.begin().await?;
    repo::create(
        &mut tx,
        &NewProvider {
            id,
            org_id: org.id,
            name: &name,
            issuer: &issuer,
            client_id: &client_id,
            secret_sealed: &sealed,
            role_claim: role_claim.as_deref(),
            role_map: &role_map,
            required: input.required.unwrap_or(false),
            domains: &domains,
        },
    )
    .await?;
    let provider = repo::get(&mut tx, id).await?.ok_or_else(not_found)?;
    let details = json!({ "event": "created", "name": name, "issuer": issuer,
                          "domains": domains, "required": provider.required });
    audit::repo::record(
        &mut tx,
        &audit_entry(caller, request_id, &provider, details),
    )
    .await?;
    tx.commit().await?;
    Ok(provider)
}

/// The operator changes any field but the organization; the organization's admins only
/// whether the provider is required.
pub async fn update(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    input: &Input,
    request_id: Option<&str>,
) -> AppResult<Provider> {
    let provider = find(state, caller, raw).await?;
    if input.organization.is_some() {
        return Err(AppError::invalid_field(
            "organization",
            "a provider stays with its organization; remove it and set up another",
        ));
    }
    if caller.role != Role::Operator && !input.only_required() {
        return Err(AppError::Forbidden(
            "your organization's admins may only make its company sign-in required or optional; the operator changes the rest".into(),
        ));
    }
    let kind = kind_of(&provider.org_kind);
    let change = Change {
        name: input
            .name
            .as_deref()
            .map(|n| text("name", n, 100, "name"))
            .transpose()?,
        issuer: input
            .issuer
            .as_deref()
            .map(|i| check_issuer(state, i))
            .transpose()?,
        client_id: input
            .client_id
            .as_deref()
            .map(|c| text("client_id", c, 500, "client id"))
            .transpose()?,
        secret_sealed: match input.client_secret.as_deref().map(str::trim) {
            Some(secret) if !secret.is_empty() => Some(
                state
                    .secrets
                    .seal(secret.as_bytes(), &sealed_for(provider.id))
                    .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?,
            ),
            _ => None,
        },
        role_claim: input
            .role_claim
            .as_deref()
            .map(check_role_claim)
            .transpose()?,
        role_map: input
            .role_map
            .as_ref()
            .map(|m| check_role_map(m, kind))
            .transpose()?,
        required: input.required,
        domains: input.domains.as_deref().map(check_domains).transpose()?,
    };
    let mut tx = state.pool.begin().await?;
    repo::update(&mut tx, provider.id, &change).await?;
    // A subject is unique within one issuer only: under another, the same subject may be
    // someone else, so users are linked again by their verified email.
    let unlinked = match &change.issuer {
        Some(issuer) if *issuer != provider.issuer => {
            crate::auth::federated::unlink_all(&mut tx, provider.id).await?
        }
        _ => 0,
    };
    let after = repo::get(&mut tx, provider.id)
        .await?
        .ok_or_else(not_found)?;
    let details = json!({ "event": "changed", "name": change.name, "issuer": change.issuer,
                          "client_id": change.client_id,
                          "secret_changed": change.secret_sealed.is_some(),
                          "domains": change.domains, "role_claim": change.role_claim,
                          "role_map": change.role_map, "required": change.required,
                          "users_unlinked": unlinked });
    audit::repo::record(&mut tx, &audit_entry(caller, request_id, &after, details)).await?;
    tx.commit().await?;
    state.sso.forget(&provider.issuer);
    Ok(after)
}

pub async fn delete(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    request_id: Option<&str>,
) -> AppResult<Provider> {
    operator_only(caller)?;
    let provider = find(state, caller, raw).await?;
    let mut tx = state.pool.begin().await?;
    if !repo::delete(&mut tx, provider.id).await? {
        return Err(not_found());
    }
    let details = json!({ "event": "deleted", "name": provider.name, "issuer": provider.issuer });
    audit::repo::record(
        &mut tx,
        &audit_entry(caller, request_id, &provider, details),
    )
    .await?;
    tx.commit().await?;
    state.sso.forget(&provider.issuer);
    Ok(provider)
}
