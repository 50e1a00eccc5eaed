//! A Genesys Cloud CX stand-in: OAuth client credentials, DID pools, users, queues and
//! Architect call routes (IVR configurations), with the real paths, payloads, `version`
//! checks and `ErrorBody` errors. Admin: `DELETE /__sim/targets/{kind}/{id}` removes a
//! target behind the adapter's back; `POST /__sim/expire-tokens` ends every token.
//!
//! One file over 500 lines: every wire shape of the platform in one place, to hold against
//! ../shared/providers/.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Faults;

pub const CLIENT_ID: &str = "sim-client";
pub const CLIENT_SECRET: &str = "sim-secret";

#[derive(Default)]
pub struct Data {
    pub tokens: HashMap<String, Instant>,
    pub users: BTreeMap<String, Value>,
    pub queues: BTreeMap<String, Value>,
    pub ivrs: BTreeMap<String, Value>,
    pub dids: Vec<String>,
}

impl Data {
    pub fn id_of(&self, kind: &str, name: &str) -> Option<String> {
        let map = match kind {
            "queue" => &self.queues,
            "user" => &self.users,
            _ => &self.ivrs,
        };
        map.values()
            .find(|e| e["name"] == name)
            .and_then(|e| e["id"].as_str().map(str::to_string))
    }

    /// Where a DID is routed now: (owner id, owner type).
    pub fn owner(&self, number: &str) -> Option<(String, &'static str)> {
        owner_of(self, number)
            .map(|(owner, kind)| (owner["id"].as_str().unwrap_or_default().to_string(), kind))
    }
}

pub type SimState = Arc<Mutex<Data>>;

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn seeded() -> SimState {
    let mut data = Data::default();
    for name in ["Sales", "Support"] {
        let qid = id();
        data.queues.insert(
            qid.clone(),
            json!({ "id": qid, "name": name, "memberCount": 3 }),
        );
        // The call route that carries the queue's DIDs, named after the queue.
        let rid = id();
        data.ivrs.insert(
            rid.clone(),
            json!({ "id": rid, "name": name, "dnis": [], "version": 1, "state": "active" }),
        );
    }
    let main = id();
    data.ivrs.insert(
        main.clone(),
        json!({ "id": main, "name": "Main Menu", "dnis": [], "version": 1, "state": "active" }),
    );
    for name in ["Ada Lovelace", "Grace Hopper"] {
        let uid = id();
        data.users.insert(
            uid.clone(),
            json!({ "id": uid, "name": name, "version": 1, "addresses": [], "state": "active" }),
        );
    }
    data.dids = (100..120).map(|n| format!("+1317222{n:04}")).collect();
    Arc::new(Mutex::new(data))
}

pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route(
            "/api/v2/telephony/providers/edges/didpools/dids",
            get(pool_dids),
        )
        .route("/api/v2/telephony/providers/edges/dids", get(dids))
        .route("/api/v2/routing/queues", get(list_queues))
        .route("/api/v2/routing/queues/{id}", get(get_queue))
        .route("/api/v2/users", get(list_users))
        .route("/api/v2/users/{id}", get(get_user).patch(patch_user))
        .route("/api/v2/architect/ivrs", get(list_ivrs))
        .route("/api/v2/architect/ivrs/{id}", get(get_ivr).put(put_ivr))
        .route("/__sim/targets/{kind}/{id}", delete(delete_target))
        .route("/__sim/expire-tokens", post(expire_tokens))
        .with_state(state)
}

pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let context = id();
    let mut response = (
        status,
        Json(json!({ "message": message, "code": code, "status": status.as_u16(), "contextId": context, "details": [], "errors": [] })),
    )
        .into_response();
    if let Ok(v) = context.parse() {
        response.headers_mut().insert("inin-correlation-id", v);
    }
    response
}

fn authorized(state: &SimState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let data = state
        .lock()
        .map_err(|_| Box::new(error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "lock")))?;
    match data.tokens.get(token) {
        Some(expiry) if *expiry > Instant::now() => Ok(()),
        _ => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "authentication.required",
            "No authentication bearer token specified in authorization header.",
        ))),
    }
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
}

async fn token(
    State(state): State<SimState>,
    Extension(faults): Extension<Arc<Faults>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if form.grant_type != "client_credentials" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "unsupported_grant_type" })),
        )
            .into_response();
    }
    if basic.as_deref() != Some(&format!("{CLIENT_ID}:{CLIENT_SECRET}")) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_client", "description": "client not found" })),
        )
            .into_response();
    }
    let ttl = faults.token_ttl();
    let access = id();
    if let Ok(mut data) = state.lock() {
        data.tokens
            .insert(access.clone(), Instant::now() + Duration::from_secs(ttl));
    }
    Json(json!({ "access_token": access, "token_type": "bearer", "expires_in": ttl }))
        .into_response()
}

async fn expire_tokens(State(state): State<SimState>) -> StatusCode {
    if let Ok(mut data) = state.lock() {
        data.tokens.clear();
    }
    StatusCode::NO_CONTENT
}

/// Who holds a DID: a call route's `dnis[]` or a user's addresses.
fn owner_of(data: &Data, number: &str) -> Option<(Value, &'static str)> {
    for ivr in data.ivrs.values() {
        if ivr["dnis"]
            .as_array()
            .is_some_and(|d| d.iter().any(|v| v == number))
        {
            return Some((
                json!({ "id": ivr["id"], "name": ivr["name"] }),
                "IVR_CONFIG",
            ));
        }
    }
    for user in data.users.values() {
        if user["addresses"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["address"] == number))
        {
            return Some((json!({ "id": user["id"], "name": user["name"] }), "USER"));
        }
    }
    None
}

/// A `DID` as `/telephony/providers/edges/dids` answers it: no `assigned` field; `owner`
/// and `ownerType` only while it is assigned.
fn did_json(data: &Data, number: &str) -> Value {
    let mut did = json!({
        "id": did_id(number), "name": number, "phoneNumber": number, "state": "active",
        "didPool": { "id": POOL_ID, "name": "Inward simulator pool" },
    });
    if let Some((owner, kind)) = owner_of(data, number) {
        did["owner"] = owner;
        did["ownerType"] = json!(kind);
    }
    did
}

/// A `DIDNumber` as a pool's `/didpools/dids` answers it, with `assigned`.
fn did_number_json(data: &Data, number: &str) -> Value {
    let mut did = json!({
        "id": did_id(number), "name": number, "number": number,
        "didPool": { "id": POOL_ID }, "assigned": false,
    });
    if let Some((owner, kind)) = owner_of(data, number) {
        did["assigned"] = json!(true);
        did["owner"] = owner;
        did["ownerType"] = json!(kind);
    }
    did
}

const POOL_ID: &str = "5a1c0000-0000-4000-8000-00000000d1d0";

/// A stable id per number, shaped like Genesys's ids.
fn did_id(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    format!(
        "d1d00000-0000-4000-8000-{:0>12}",
        &digits[digits.len().saturating_sub(12)..]
    )
}

/// One page of a listing as Genesys answers it: the page's entities, its counts, and the
/// URIs of the first, last, previous and next pages (`nextUri` only while pages remain).
fn page(entities: Vec<Value>, q: &HashMap<String, String>, path: &str) -> Value {
    let size: usize = q
        .get("pageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(25)
        .clamp(1, 500);
    let number: usize = q
        .get("pageNumber")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1);
    let total = entities.len();
    let count = total.div_ceil(size).max(1);
    let slice: Vec<Value> = entities
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    let mut rest: Vec<(&String, &String)> = q
        .iter()
        .filter(|(k, _)| *k != "pageNumber" && *k != "pageSize")
        .collect();
    rest.sort();
    let uri = |n: usize| {
        let mut pairs = vec![
            ("pageSize".to_string(), size.to_string()),
            ("pageNumber".to_string(), n.to_string()),
        ];
        pairs.extend(rest.iter().map(|(k, v)| ((*k).clone(), (*v).clone())));
        format!(
            "{path}?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    };
    let mut listing = json!({
        "entities": slice, "pageSize": size, "pageNumber": number, "total": total, "pageCount": count,
        "firstUri": uri(1), "selfUri": uri(number), "lastUri": uri(count),
    });
    if number < count {
        listing["nextUri"] = json!(uri(number + 1));
    }
    if number > 1 {
        listing["previousUri"] = json!(uri(number - 1));
    }
    listing
}

async fn pool_dids(
    State(state): State<SimState>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorized(&state, &headers) {
        return *r;
    }
    let Some(kind) = q.get("type") else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "Missing the required parameter 'type'",
        );
    };
    let data = state.lock().expect("sim lock");
    let matching = q.get("numberMatch").cloned().unwrap_or_default();
    let entities: Vec<Value> = data
        .dids
        .iter()
        .filter(|n| n.contains(&matching))
        .map(|n| did_number_json(&data, n))
        .filter(|d| match kind.as_str() {
            "ASSIGNED" => d["assigned"] == true,
            "UNASSIGNED" => d["assigned"] == false,
            _ => true,
        })
        .collect();
    Json(page(entities, &q, uri.path())).into_response()
}

async fn dids(
    State(state): State<SimState>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorized(&state, &headers) {
        return *r;
    }
    let data = state.lock().expect("sim lock");
    let entities: Vec<Value> = data
        .dids
        .iter()
        .filter(|n| q.get("phoneNumber").is_none_or(|p| p == *n))
        .map(|n| did_json(&data, n))
        .collect();
    Json(page(entities, &q, uri.path())).into_response()
}

macro_rules! listing {
    ($name:ident, $field:ident) => {
        async fn $name(
            State(state): State<SimState>,
            headers: HeaderMap,
            uri: Uri,
            Query(q): Query<HashMap<String, String>>,
        ) -> Response {
            if let Err(r) = authorized(&state, &headers) {
                return *r;
            }
            let data = state.lock().expect("sim lock");
            let entities: Vec<Value> = data
                .$field
                .values()
                .filter(|e| q.get("name").is_none_or(|n| e["name"] == n.as_str()))
                .cloned()
                .collect();
            Json(page(entities, &q, uri.path())).into_response()
        }
    };
}

macro_rules! getter {
    ($name:ident, $field:ident, $what:literal) => {
        async fn $name(
            State(state): State<SimState>,
            headers: HeaderMap,
            Path(id): Path<String>,
        ) -> Response {
            if let Err(r) = authorized(&state, &headers) {
                return *r;
            }
            let data = state.lock().expect("sim lock");
            match data.$field.get(&id) {
                Some(e) => Json(e.clone()).into_response(),
                None => error(
                    StatusCode::NOT_FOUND,
                    "not.found",
                    concat!("The ", $what, " was not found"),
                ),
            }
        }
    };
}

listing!(list_queues, queues);
listing!(list_users, users);
listing!(list_ivrs, ivrs);
getter!(get_queue, queues, "queue");
getter!(get_user, users, "user");
getter!(get_ivr, ivrs, "IVR config");

async fn patch_user(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(uid): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = authorized(&state, &headers) {
        return *r;
    }
    let mut data = state.lock().expect("sim lock");
    let Some(user) = data.users.get(&uid).cloned() else {
        return error(StatusCode::NOT_FOUND, "not.found", "The user was not found");
    };
    if body.get("version").and_then(Value::as_i64).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "version is required",
        );
    }
    if body["version"] != user["version"] {
        return error(
            StatusCode::CONFLICT,
            "general.conflict",
            "The version supplied does not match the current version of the user",
        );
    }
    let mut updated = user;
    if let Some(addresses) = body.get("addresses") {
        for a in addresses.as_array().into_iter().flatten() {
            if let Some(number) = a["address"].as_str()
                && let Some((owner, _)) = owner_of(&data, number)
                && owner["id"] != uid.as_str()
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad.request",
                    "The address is already in use",
                );
            }
        }
        updated["addresses"] = addresses.clone();
    }
    updated["version"] = json!(updated["version"].as_i64().unwrap_or(1) + 1);
    data.users.insert(uid, updated.clone());
    Json(updated).into_response()
}

async fn put_ivr(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = authorized(&state, &headers) {
        return *r;
    }
    let mut data = state.lock().expect("sim lock");
    let Some(current) = data.ivrs.get(&rid).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "not.found",
            "The IVR config was not found",
        );
    };
    if body["name"].as_str().is_none_or(str::is_empty) {
        return error(StatusCode::BAD_REQUEST, "bad.request", "name is required");
    }
    if body.get("version").is_some() && body["version"] != current["version"] {
        return error(
            StatusCode::CONFLICT,
            "general.conflict",
            "The IVR config was modified by another request",
        );
    }
    for number in body["dnis"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some((owner, _)) = owner_of(&data, number)
            && owner["id"] != rid.as_str()
        {
            return error(
                StatusCode::BAD_REQUEST,
                "dnis.in.use",
                "A DNIS is already in use by another call route",
            );
        }
    }
    let mut updated = current;
    updated["name"] = body["name"].clone();
    updated["dnis"] = body.get("dnis").cloned().unwrap_or(json!([]));
    updated["version"] = json!(updated["version"].as_i64().unwrap_or(1) + 1);
    data.ivrs.insert(rid, updated.clone());
    Json(updated).into_response()
}

async fn delete_target(
    State(state): State<SimState>,
    Path((kind, tid)): Path<(String, String)>,
) -> StatusCode {
    let mut data = state.lock().expect("sim lock");
    let removed = match kind.as_str() {
        "queue" => data.queues.remove(&tid).is_some(),
        "extension" | "user" => data.users.remove(&tid).is_some(),
        "ivr" => data.ivrs.remove(&tid).is_some(),
        _ => false,
    };
    if removed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
