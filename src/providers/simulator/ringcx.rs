//! A RingCX stand-in: the RingCentral JWT grant, the RingCX token exchange (5 a minute, as the
//! real one) and refresh, gate groups, cloud route profile groups, the DNIS pool search and
//! `assignedDnis` GET/PUT/DELETE, with RingCX's `{generalMessage, details, requestUri,
//! timestamp}` errors. RingCX tokens live `min(token_ttl_seconds, 300)` seconds.
//! Admin: `DELETE /__sim/targets/{kind}/{id}` (kind `queue`/`gate`, `ivr`/`visualIvr`,
//! `cloudRouteProfile`) removes a target behind the adapter's back (its DNIS stay assigned to
//! the missing target, as a dangling assignment); `POST /__sim/expire-tokens` ends every RingCX
//! access token (refresh tokens stay valid). The DNIS pool (`search`, `dnisPool` POST/PUT,
//! `uploadDnisPool`, `updateBulkDnisPool`) and tracking-number groups are in `ringcx_pool.rs`.
//!
//! One file over 500 lines: every wire shape of the platform's routing side in one place, to
//! hold against ../shared/providers/.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Extension, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Form, Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Faults;

#[path = "ringcx_pool.rs"]
mod pool;

pub const CLIENT_ID: &str = "sim-client";
pub const CLIENT_SECRET: &str = "sim-secret";
pub const JWT: &str = "sim-jwt";
pub const ACCOUNT_ID: &str = "15580001";

/// Which product a DNIS is assigned to: (`gate` | `visualIvr` | `cloudRouteProfile`, id).
pub type Assignment = (&'static str, i64, String);

#[derive(Default)]
pub struct Data {
    pub rc_tokens: HashMap<String, Instant>,
    pub tokens: HashMap<String, Instant>,
    pub refresh_tokens: HashSet<String>,
    /// gateId → (gate group id, group name, gate name)
    pub gates: BTreeMap<i64, (i64, String, String)>,
    pub visual_ivrs: BTreeMap<i64, String>,
    /// cloudProfileId → (cloud group id, group name, profile name)
    pub cloud_route_profiles: BTreeMap<i64, (i64, String, String)>,
    /// dnis (digits) → its assignment, if any
    pub pool: BTreeMap<String, Option<Assignment>>,
    /// DNIS an admin in RingCX's UI assigns (to the given gate) just before our next PUT lands:
    /// the race between our re-check and our write, answered 409 as RingCX does.
    pub taken_before_put: HashMap<String, i64>,
    /// dnis → the pool record's own fields (`dnisDescription`, `notes`, `active`, …)
    pub records: BTreeMap<String, Value>,
    /// tracGroupId → (group name, its tracking numbers as `TracNumber` objects)
    pub trac_groups: BTreeMap<i64, (String, Vec<Value>)>,
}

impl Data {
    pub fn id_of(&self, kind: &str, name: &str) -> Option<i64> {
        match kind {
            "gate" | "queue" => self
                .gates
                .iter()
                .find(|(_, g)| g.2 == name)
                .map(|(id, _)| *id),
            "visualIvr" | "ivr" => self
                .visual_ivrs
                .iter()
                .find(|(_, n)| *n == name)
                .map(|(id, _)| *id),
            _ => self
                .cloud_route_profiles
                .iter()
                .find(|(_, p)| p.2 == name)
                .map(|(id, _)| *id),
        }
    }

    /// Where a number (E.164 or digits) is routed now: (product, id).
    pub fn owner(&self, number: &str) -> Option<(&'static str, i64)> {
        self.pool
            .get(number.trim_start_matches('+'))
            .cloned()
            .flatten()
            .map(|(kind, id, _)| (kind, id))
    }

    /// Assigns a DNIS as an admin in RingCX's own UI would.
    pub fn assign_directly(&mut self, number: &str, kind: &'static str, id: i64) {
        self.pool.insert(
            number.trim_start_matches('+').to_string(),
            Some((kind, id, "assigned in RingCX".into())),
        );
    }
}

pub type SimState = Arc<Mutex<Data>>;

fn token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn seeded() -> SimState {
    let mut data = Data::default();
    data.gates
        .insert(10101, (501, "Inbound".into(), "Sales".into()));
    data.gates
        .insert(10102, (501, "Inbound".into(), "Support".into()));
    data.gates.insert(
        10201,
        (502, "Outbound callbacks".into(), "Callbacks".into()),
    );
    data.visual_ivrs.insert(20201, "Main Menu".into());
    data.visual_ivrs.insert(20202, "Holiday Menu".into());
    data.cloud_route_profiles
        .insert(30301, (601, "Overflow".into(), "After hours".into()));
    for n in 100..120 {
        data.pool.insert(format!("1317333{n:04}"), None);
    }
    data.trac_groups.insert(
        701,
        (
            "Spring campaign".into(),
            vec![json!({ "tracId": 801, "accountId": ACCOUNT_ID, "description": "Radio spot" })],
        ),
    );
    Arc::new(Mutex::new(data))
}

pub fn router(state: SimState) -> Router {
    let tn = "/voice/api/v1/admin/utilities/tnManager";
    Router::new()
        .route("/restapi/oauth/token", post(rc_token))
        .route("/api/auth/login/rc/accesstoken", post(exchange))
        .route("/api/auth/token/refresh", post(refresh))
        .route(
            "/voice/api/v2/admin/utilities/tnManager/searchDnis",
            post(search_dnis),
        )
        .route(
            "/voice/api/v1/admin/accounts/{account}/gateGroups/withChildren",
            get(gate_groups),
        )
        .route(
            "/voice/api/v2-skinny/admin/accounts/{account}/cloudRouteProfileGroups",
            get(cloud_groups),
        )
        .route(
            "/voice/api/v2-skinny/admin/accounts/{account}/cloudRouteProfileGroups/withChildren",
            get(cloud_groups),
        )
        .route(
            &format!("{tn}/assignedDnis/{{dnis}}"),
            get(get_assigned).delete(delete_assigned),
        )
        .route(&format!("{tn}/assignedDnis/gates/{{id}}"), put(assign_gate))
        .route(
            &format!("{tn}/assignedDnis/visualIvrs/{{id}}"),
            put(assign_visual_ivr),
        )
        .route(
            &format!("{tn}/assignedDnis/cloudRouteProfiles/{{id}}"),
            put(assign_cloud_route_profile),
        )
        .route(&format!("{tn}/search"), post(pool::search))
        .route(
            &format!("{tn}/dnisPool"),
            post(pool::create).put(pool::update),
        )
        .route(&format!("{tn}/uploadDnisPool"), post(pool::upload))
        .route(&format!("{tn}/updateBulkDnisPool"), put(pool::bulk_update))
        .route(
            "/voice/api/v1/admin/accounts/{account}/tracGroups/withChildren",
            get(pool::trac_groups),
        )
        .route(
            "/voice/api/v1/admin/accounts/{account}/tracGroups/{group}/tracNumbers",
            get(pool::trac_numbers).post(pool::create_trac_number),
        )
        .route("/__sim/targets/{kind}/{id}", delete(delete_target))
        .route("/__sim/expire-tokens", post(expire_tokens))
        .with_state(state)
}

/// RingCX's error body.
pub fn error(status: StatusCode, code: &str, message: &str, uri: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut response = (
        status,
        Json(json!({
            "errorCode": code,
            "generalMessage": message,
            "details": message,
            "requestUri": uri,
            "timestamp": timestamp,
        })),
    )
        .into_response();
    if let Ok(v) = request_id.parse() {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

fn authorized(state: &SimState, headers: &HeaderMap, uri: &str) -> Result<(), Box<Response>> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let data = state.lock().map_err(|_| {
        Box::new(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "lock",
            uri,
        ))
    })?;
    match data.tokens.get(token) {
        Some(expiry) if *expiry > Instant::now() => Ok(()),
        _ => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "invalid.token",
            "Full authentication is required to access this resource",
            uri,
        ))),
    }
}

fn account_ok(account: &str, uri: &str) -> Result<(), Box<Response>> {
    if account == ACCOUNT_ID {
        Ok(())
    } else {
        Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "access.denied.exception",
            "You do not have permission to access this resource",
            uri,
        )))
    }
}

#[derive(Deserialize)]
struct RcTokenForm {
    grant_type: String,
    #[serde(default)]
    assertion: String,
}

async fn rc_token(
    State(state): State<SimState>,
    headers: HeaderMap,
    Form(form): Form<RcTokenForm>,
) -> Response {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if basic.as_deref() != Some(&format!("{CLIENT_ID}:{CLIENT_SECRET}")) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_client", "errorCode": "OAU-123", "error_description": "Invalid client", "message": "Invalid client" })),
        )
            .into_response();
    }
    if form.grant_type != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "unsupported_grant_type", "error_description": "Unsupported grant type" })),
        )
            .into_response();
    }
    if form.assertion != JWT {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant", "errorCode": "OAU-211", "error_description": "Invalid JWT token" })),
        )
            .into_response();
    }
    let access = token();
    if let Ok(mut data) = state.lock() {
        data.rc_tokens
            .insert(access.clone(), Instant::now() + Duration::from_secs(3600));
    }
    Json(json!({
        "access_token": access, "token_type": "bearer", "expires_in": 3600,
        "refresh_token": token(), "refresh_token_expires_in": 604800,
        "scope": "ReadAccounts", "owner_id": "62264425004",
    }))
    .into_response()
}

/// Form fields or query parameters: RingCX reads both.
fn params(query: HashMap<String, String>, body: &Bytes) -> HashMap<String, String> {
    let mut all = query;
    all.extend(url::form_urlencoded::parse(body).into_owned());
    all
}

fn issue(data: &mut Data, ttl: u64, refresh: Option<String>) -> Value {
    let access = token();
    let refresh = refresh.unwrap_or_else(token);
    data.tokens.insert(
        access.clone(),
        Instant::now() + Duration::from_secs(ttl.min(300)),
    );
    data.refresh_tokens.insert(refresh.clone());
    json!({
        "accessToken": access, "refreshToken": refresh, "tokenType": "Bearer",
        "mainAccountId": ACCOUNT_ID, "platformId": "sim", "adminId": 1001,
        "agentDetails": [], "adminUrl": "/admin", "agentUrl": "/agent", "ssoLogin": false,
    })
}

async fn exchange(
    State(state): State<SimState>,
    Extension(faults): Extension<Arc<Faults>>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let uri = "/api/auth/login/rc/accesstoken";
    let p = params(query, &body);
    let mut data = state.lock().expect("sim lock");
    let now = Instant::now();
    let rc = p.get("rcAccessToken").cloned().unwrap_or_default();
    let valid = data.rc_tokens.get(&rc).is_some_and(|e| *e > now);
    if !valid || p.get("rcTokenType").map(String::as_str) != Some("Bearer") {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid.rc.token",
            "Invalid RingCentral access token",
            uri,
        );
    }
    let include_refresh = p.get("includeRefresh").is_some_and(|v| v == "true");
    let mut details = issue(&mut data, faults.token_ttl(), None);
    if !include_refresh {
        details["refreshToken"] = Value::Null;
    }
    Json(details).into_response()
}

async fn refresh(
    State(state): State<SimState>,
    Extension(faults): Extension<Arc<Faults>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    // The published API takes `refresh_token` as a query parameter only.
    let mut data = state.lock().expect("sim lock");
    let Some(refresh) = query
        .get("refresh_token")
        .filter(|r| data.refresh_tokens.contains(*r))
        .cloned()
    else {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid.refresh.token",
            "Invalid refresh token",
            "/api/auth/token/refresh",
        );
    };
    Json(issue(&mut data, faults.token_ttl(), Some(refresh))).into_response()
}

async fn expire_tokens(State(state): State<SimState>) -> StatusCode {
    if let Ok(mut data) = state.lock() {
        data.tokens.clear();
    }
    StatusCode::NO_CONTENT
}

fn assigned_json(data: &Data, dnis: &str, a: &Assignment) -> Value {
    let (kind, id, description) = a;
    let mut body = json!({
        "dnis": dnis, "dnisE164": format!("+{dnis}"), "dnisDescription": description,
        "isActive": true, "endPointType": kind.to_uppercase(), "endPointId": id.to_string(),
    });
    match *kind {
        "gate" => {
            let (group, group_name, name) = data.gates.get(id).cloned().unwrap_or_default();
            body["gate"] = json!({ "gateId": id, "gateName": name, "gateGroupId": group,
                "gateGroup": { "gateGroupId": group, "groupName": group_name }, "accountId": ACCOUNT_ID, "isActive": true });
        }
        "visualIvr" => {
            let name = data.visual_ivrs.get(id).cloned().unwrap_or_default();
            body["visualIvr"] = json!({ "visualIvrId": id, "visualIvrName": name, "accountId": ACCOUNT_ID, "isActive": true });
        }
        _ => {
            let (group, _, name) = data
                .cloud_route_profiles
                .get(id)
                .cloned()
                .unwrap_or_default();
            body["cloudRouteProfile"] = json!({ "cloudProfileId": id, "profileName": name, "cloudGroupId": group, "accountId": ACCOUNT_ID, "isActive": true });
        }
    }
    body
}

async fn search_dnis(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Json(request): Json<Value>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    let data = state.lock().expect("sim lock");
    let accounts: Vec<&str> = request["accountIds"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if accounts.iter().any(|a| *a != ACCOUNT_ID) {
        return error(
            StatusCode::FORBIDDEN,
            "access.denied.exception",
            "You do not have permission to access this resource",
            uri.path(),
        );
    }
    let state_filter = request["dnisState"].as_str().unwrap_or("");
    let text = request["searchText"].as_str().unwrap_or("");
    let records: Vec<Value> = data
        .pool
        .iter()
        .filter(|(dnis, _)| dnis.contains(text))
        .filter(|(_, a)| match state_filter {
            "UNASSIGNED" => a.is_none(),
            "ASSIGNED" => a.is_some(),
            _ => true,
        })
        .map(|(dnis, a)| {
            let mut record = pool::record_json(&data, dnis);
            record["dnisState"] = json!(if a.is_some() {
                "ASSIGNED"
            } else {
                "UNASSIGNED"
            });
            if let Some(a) = a {
                record["assignedDnis"] = assigned_json(&data, dnis, a);
            }
            record
        })
        .collect();
    let total = records.len();
    let entries = if accounts.is_empty() || records.is_empty() {
        json!({})
    } else {
        json!({ ACCOUNT_ID: { "name": "Simulated RingCX account", "records": records } })
    };
    Json(json!({ "entries": entries, "totalCount": total })).into_response()
}

async fn gate_groups(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(account): Path<String>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    if let Err(r) = account_ok(&account, uri.path()) {
        return *r;
    }
    let data = state.lock().expect("sim lock");
    let mut groups: BTreeMap<i64, Value> = BTreeMap::new();
    for (id, (group, group_name, name)) in &data.gates {
        groups.entry(*group).or_insert_with(
            || json!({ "gateGroupId": group, "groupName": group_name, "gates": [] }),
        )["gates"]
            .as_array_mut()
            .expect("gates array")
            .push(json!({ "gateId": id, "gateName": name, "gateDesc": "", "gateOpen": true }));
    }
    Json(json!(groups.into_values().collect::<Vec<_>>())).into_response()
}

fn cloud_group_list(data: &Data, children: bool) -> Value {
    let mut groups: BTreeMap<i64, Value> = BTreeMap::new();
    for (id, (group, group_name, name)) in &data.cloud_route_profiles {
        let entry = groups.entry(*group).or_insert_with(|| {
            json!({ "cloudGroupId": group, "groupName": group_name, "accountId": ACCOUNT_ID,
                    "cloudRouteProfiles": [], "cloudRouteDestinations": [] })
        });
        if children {
            entry["cloudRouteProfiles"]
                .as_array_mut()
                .expect("profiles array")
                .push(
                    json!({ "cloudProfileId": id, "profileName": name, "cloudGroupId": group,
                              "accountId": ACCOUNT_ID, "isActive": true, "isDeleted": false }),
                );
        }
    }
    json!(groups.into_values().collect::<Vec<_>>())
}

/// Both the plain list and `…/withChildren`; only the latter carries the profiles.
async fn cloud_groups(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(account): Path<String>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    if let Err(r) = account_ok(&account, uri.path()) {
        return *r;
    }
    let with_children = uri.path().ends_with("/withChildren");
    Json(cloud_group_list(
        &state.lock().expect("sim lock"),
        with_children,
    ))
    .into_response()
}

async fn get_assigned(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(dnis): Path<String>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    let data = state.lock().expect("sim lock");
    match data.pool.get(&dnis) {
        Some(Some(a)) => Json(assigned_json(&data, &dnis, a)).into_response(),
        _ => error(
            StatusCode::NOT_FOUND,
            "dnis.not.assigned",
            "No assignment found for this DNIS",
            uri.path(),
        ),
    }
}

async fn delete_assigned(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(dnis): Path<String>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    let mut data = state.lock().expect("sim lock");
    match data.pool.get_mut(&dnis) {
        Some(slot @ Some(_)) => {
            *slot = None;
            Json(json!(true)).into_response()
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "dnis.not.assigned",
            "No assignment found for this DNIS",
            uri.path(),
        ),
    }
}

fn assign(
    state: &SimState,
    headers: &HeaderMap,
    uri: &str,
    kind: &'static str,
    id: &str,
    body: &Value,
) -> Response {
    if let Err(r) = authorized(state, headers, uri) {
        return *r;
    }
    let mut data = state.lock().expect("sim lock");
    let Ok(id) = id.parse::<i64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "The target id must be an integer",
            uri,
        );
    };
    let exists = match kind {
        "gate" => data.gates.contains_key(&id),
        "visualIvr" => data.visual_ivrs.contains_key(&id),
        _ => data.cloud_route_profiles.contains_key(&id),
    };
    if !exists {
        return error(
            StatusCode::NOT_FOUND,
            "entity.not.found",
            &format!("{kind} {id} not found"),
            uri,
        );
    }
    let Some(items) = body.as_array() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "The body must be an array of AssignedDnis",
            uri,
        );
    };
    let mut wanted = Vec::new();
    for item in items {
        let Some(dnis) = item["dnis"].as_str() else {
            return error(
                StatusCode::BAD_REQUEST,
                "bad.request",
                "dnis is required",
                uri,
            );
        };
        if let Some(gate) = data.taken_before_put.remove(dnis) {
            data.pool.insert(
                dnis.to_string(),
                Some(("gate", gate, "assigned in RingCX".into())),
            );
        }
        match data.pool.get(dnis) {
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    "dnis.not.found",
                    &format!("DNIS {dnis} is not in the account's DNIS pool"),
                    uri,
                );
            }
            Some(Some((k, i, _))) if (*k, *i) != (kind, id) => {
                return error(
                    StatusCode::CONFLICT,
                    "dnis.already.assigned",
                    &format!("DNIS {dnis} is already assigned"),
                    uri,
                );
            }
            _ => {}
        }
        let description = item["dnisDescription"].as_str().unwrap_or("").to_string();
        wanted.push((dnis.to_string(), description));
    }
    let mut out = Vec::new();
    for (dnis, description) in wanted {
        let a: Assignment = (kind, id, description);
        out.push(assigned_json(&data, &dnis, &a));
        data.pool.insert(dnis, Some(a));
    }
    Json(json!(out)).into_response()
}

async fn assign_gate(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    assign(&state, &headers, uri.path(), "gate", &id, &body)
}

async fn assign_visual_ivr(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    assign(&state, &headers, uri.path(), "visualIvr", &id, &body)
}

async fn assign_cloud_route_profile(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    assign(
        &state,
        &headers,
        uri.path(),
        "cloudRouteProfile",
        &id,
        &body,
    )
}

async fn delete_target(
    State(state): State<SimState>,
    Path((kind, id)): Path<(String, String)>,
) -> StatusCode {
    let Ok(id) = id.trim_start_matches("crp-").parse::<i64>() else {
        return StatusCode::NOT_FOUND;
    };
    let mut data = state.lock().expect("sim lock");
    let removed = match kind.as_str() {
        "queue" | "gate" => data.gates.remove(&id).is_some(),
        "ivr" | "visualIvr" => data.visual_ivrs.remove(&id).is_some(),
        "cloudRouteProfile" => data.cloud_route_profiles.remove(&id).is_some(),
        _ => false,
    };
    if removed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
