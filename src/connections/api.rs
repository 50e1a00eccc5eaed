use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ConnectionRequest, repo, switch};
use crate::audit::{self, Action, Entry, Outcome};
use crate::auth::{ApiCaller, RequestId};
use crate::caches::Topic;
use crate::domain::TenantId;
use crate::domain::policy::Principal;
use crate::error::{AppError, AppResult};
use crate::providers::ProviderErrorKind;
use crate::state::AppState;
use crate::web::{ApiJson, parse_id};

pub fn admin_tenant(caller: &Principal) -> AppResult<TenantId> {
    Ok(caller.manage_tenant()?)
}

/// A saved connection, and how many routed numbers the save moved off their platform.
pub struct Saved {
    pub row: repo::ConnectionRow,
    pub affected_numbers: usize,
}

/// Saves (replaces) the tenant's connection; returns it without credentials. A switch to
/// another platform while numbers are routed on this one needs `confirm_switch`.
pub async fn save(
    state: &AppState,
    caller: &Principal,
    request: &ConnectionRequest,
    request_id: Option<&str>,
) -> AppResult<Saved> {
    let tenant_id = admin_tenant(caller)?;
    let spec = request.parse()?;
    let current = repo::for_tenant(&mut *state.pool.acquire().await?, tenant_id).await?;
    let from = switch::Platform::of(current.as_ref());
    let to = switch::Platform::of_spec(&spec);
    let affected_numbers = if from == to {
        0
    } else {
        switch::routed_count(state, tenant_id).await?
    };
    switch::confirm(&from, &to, affected_numbers, request.confirm_switch)?;
    if let Some(url) = &spec.base_url {
        crate::outbound::check_target(url, spec.kind.as_str(), &state.outbound_policy().allow)
            .map_err(|why| AppError::invalid_field("base_url", why))?;
    }
    let plain = (!spec.credentials.is_empty())
        .then(|| serde_json::to_vec(&spec.credentials))
        .transpose()
        .map_err(|e| AppError::Internal(e.into()))?;
    if plain.is_some() && !state.secrets.has_key() {
        // The remedy is the operator's (the server's configuration): logged for them, and
        // the admin is told who can fix it.
        tracing::error!("{}", crate::secrets::SecretError::NoKey);
        return Err(AppError::invalid(
            "secrets_key_missing",
            "Credentials cannot be stored yet: this server has no encryption key. Ask your Inward operator to configure one.",
        ));
    }
    let mut tx = state.pool.begin().await?;
    let mut row = repo::upsert(
        &mut tx,
        tenant_id,
        spec.kind.as_str(),
        spec.region.as_deref(),
        spec.base_url.as_deref(),
    )
    .await?;
    // Sealed once the row's id is known, so the ciphertext is bound to this connection.
    if let Some(plain) = plain {
        let sealed = state
            .secrets
            .seal(&plain, &super::sealed_for(row.id, tenant_id))
            .map_err(|e| AppError::invalid("secrets_key_missing", e.to_string()))?;
        repo::set_credentials(&mut tx, row.id, &sealed).await?;
        row.credentials = Some(sealed);
    }
    let entry = Entry::new(Action::Connect, Outcome::Success)
        .by(Some(tenant_id), Some(caller.user_id), request_id)
        .details(json!({
            "kind": row.kind, "region": row.region, "base_url": row.base_url,
            "switched_from": (from != to).then(|| from.label()),
            "affected_numbers": affected_numbers,
        }));
    audit::repo::record(&mut tx, &entry).await?;
    tx.commit().await?;
    state.invalidation.retire_here(Topic::Connections);
    Ok(Saved {
        row,
        affected_numbers,
    })
}

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<ConnectionRequest>,
) -> AppResult<Response> {
    let saved = save(&state, &caller, &body, request_id.as_deref()).await?;
    let mut answer = json!(saved.row);
    answer["affected_numbers"] = json!(saved.affected_numbers);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Routes the tenant's routed numbers to the namesakes of their targets on the platform
/// the tenant is connected to now.
pub async fn reapply(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RequestId(request_id): RequestId,
) -> AppResult<Json<switch::ReapplyReport>> {
    Ok(Json(
        switch::reapply(&state, &caller, request_id.as_deref()).await?,
    ))
}

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> AppResult<Json<Value>> {
    let tenant_id = admin_tenant(&caller)?;
    let row = repo::for_tenant(&mut *state.pool.acquire().await?, tenant_id).await?;
    Ok(Json(
        json!({ "connections": row.into_iter().collect::<Vec<_>>() }),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let tenant_id = admin_tenant(&caller)?;
    let row = repo::find(
        &mut *state.pool.acquire().await?,
        tenant_id,
        parse_id(&id, "connection")?,
    )
    .await?;
    Ok(Json(json!(
        row.ok_or_else(|| AppError::NotFound("connection".into()))?
    )))
}

/// Deleting the connection moves the tenant to the sandbox: with routed numbers, only with
/// `?confirm_switch=true`.
pub async fn remove(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> AppResult<StatusCode> {
    let tenant_id = admin_tenant(&caller)?;
    let id = parse_id(&id, "connection")?;
    let row = repo::find(&mut *state.pool.acquire().await?, tenant_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("connection".into()))?;
    let confirmed = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "confirm_switch" && v == "true");
    let from = switch::Platform::of(Some(&row));
    let to = switch::Platform::of(None);
    if from != to {
        let routed = switch::routed_count(&state, tenant_id).await?;
        switch::confirm(&from, &to, routed, confirmed)?;
    }
    if repo::delete(&mut *state.pool.acquire().await?, tenant_id, id).await? {
        state.invalidation.retire_here(Topic::Connections);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("connection".into()))
    }
}

#[derive(Debug, serde::Serialize)]
pub struct TestOutcome {
    pub ok: bool,
    pub problem: Option<&'static str>,
    pub message: String,
    pub imported_numbers: usize,
}

/// Calls the platform and says exactly what failed; on success imports its unassigned numbers.
pub async fn run_test(state: &AppState, caller: &Principal, id: Uuid) -> AppResult<TestOutcome> {
    let tenant_id = admin_tenant(caller)?;
    repo::find(&mut *state.pool.acquire().await?, tenant_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("connection".into()))?;
    let provider = state.platform_for(tenant_id).await?;
    let failed = |err: &crate::providers::ProviderError| {
        let problem = match err.kind {
            ProviderErrorKind::Unauthorized => "bad_credentials",
            ProviderErrorKind::Forbidden => "missing_permission",
            ProviderErrorKind::Transient => "unreachable",
            ProviderErrorKind::RateLimited => "rate_limited",
            _ => "platform_error",
        };
        TestOutcome {
            ok: false,
            problem: Some(problem),
            message: err.message.clone(),
            imported_numbers: 0,
        }
    };
    // The import reads what the checks did not (numbers, points of contact): a permission it
    // lacks is a failed test like any other, not an error of the request.
    let outcome = match provider.test_connection(tenant_id).await {
        Ok(message) => {
            match super::sync::import_unassigned(state, tenant_id, provider.as_ref()).await {
                Ok(imported) => TestOutcome {
                    ok: true,
                    problem: None,
                    message,
                    imported_numbers: imported,
                },
                Err(AppError::Provider(err)) => failed(&err),
                Err(other) => return Err(other),
            }
        }
        Err(err) => failed(&err),
    };
    repo::record_test(
        &mut *state.pool.acquire().await?,
        id,
        outcome.ok,
        &outcome.message,
    )
    .await?;
    Ok(outcome)
}

pub async fn test(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let outcome = run_test(&state, &caller, parse_id(&id, "connection")?).await?;
    Ok(Json(json!(outcome)))
}
