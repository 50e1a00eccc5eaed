//! A NICE CXone stand-in: OpenID discovery, the password grant with access keys, the
//! `cxone-configuration` lookup, and the Admin API's phone numbers, skills, scripts and points
//! of contact under `/inContactAPI/services/v33.0`, with `{error, error_description}` errors.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::{Value, json};

use super::Faults;
use crate::providers::cxone::API_VERSION;

pub const ACCESS_KEY_ID: &str = "sim-access-key";
pub const ACCESS_KEY_SECRET: &str = "sim-access-secret";
pub const CLIENT_ID: &str = "sim-client";
pub const CLIENT_SECRET: &str = "sim-secret";
const TENANT: &str = "11eb-sim-tenant";

#[derive(Default)]
pub struct Data {
    pub tokens: HashMap<String, Instant>,
    pub skills: BTreeMap<i64, Value>,
    pub scripts: Vec<String>,
    pub numbers: Vec<String>,
    /// Points of contact by contact code.
    pub contacts: BTreeMap<i64, Value>,
}

impl Data {
    pub fn skill_id(&self, name: &str) -> Option<i64> {
        self.skills
            .values()
            .find(|s| s["skillName"] == name)
            .and_then(|s| s["skillId"].as_i64())
    }

    /// The active point of contact for a number: (skill id, script name).
    pub fn route(&self, number: &str) -> Option<(i64, String)> {
        self.contacts
            .values()
            .find(|c| c["contactAddress"] == number && c["isActive"] == true)
            .map(|c| {
                (
                    c["defaultSkillId"].as_i64().unwrap_or_default(),
                    c["scriptName"].as_str().unwrap_or_default().to_string(),
                )
            })
    }
}

pub type SimState = Arc<Mutex<Data>>;

pub fn seeded() -> SimState {
    let mut data = Data::default();
    for (id, name) in [(4001, "Sales"), (4002, "Support"), (4003, "Billing")] {
        data.skills.insert(
            id,
            json!({ "skillId": id, "skillName": name, "mediaTypeId": 4, "isActive": true }),
        );
    }
    data.scripts = vec!["Main IVR".into(), "After Hours".into()];
    data.numbers = (300..320).map(|n| format!("+1303555{n:04}")).collect();
    Arc::new(Mutex::new(data))
}

pub fn router(state: SimState) -> Router {
    let api = format!("/inContactAPI/services/{API_VERSION}");
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/cxone-configuration", get(cxone_configuration))
        .route("/auth/token", post(token))
        .route(&format!("{api}/phone-numbers"), get(phone_numbers))
        .route(&format!("{api}/skills"), get(skills))
        .route(&format!("{api}/scripts/search"), get(scripts))
        .route(
            &format!("{api}/points-of-contact"),
            get(list_contacts).post(create_contact),
        )
        .route(
            &format!("{api}/points-of-contact/{{id}}"),
            get(get_contact).put(update_contact),
        )
        .route("/__sim/targets/{kind}/{id}", delete(delete_target))
        .with_state(state)
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": code, "error_description": description })),
    )
        .into_response();
    if let Ok(v) = uuid::Uuid::new_v4().to_string().parse() {
        response.headers_mut().insert("CorrelationId", v);
    }
    response
}

fn base_of(headers: &HeaderMap) -> String {
    format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
    )
}

async fn discovery(headers: HeaderMap) -> Json<Value> {
    let base = base_of(&headers);
    Json(json!({ "issuer": base, "token_endpoint": format!("{base}/auth/token") }))
}

async fn cxone_configuration(
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("tenantId").map(String::as_str) != Some(TENANT) {
        return error(
            StatusCode::NOT_FOUND,
            "tenant_not_found",
            "unknown tenantId",
        );
    }
    Json(json!({ "api_endpoint": base_of(&headers), "area": "na1", "tenantId": TENANT }))
        .into_response()
}

async fn token(
    State(state): State<SimState>,
    Extension(faults): Extension<Arc<Faults>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if basic.as_deref() != Some(&format!("{CLIENT_ID}:{CLIENT_SECRET}")) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client is not registered",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("password")
        || form.get("username").map(String::as_str) != Some(ACCESS_KEY_ID)
        || form.get("password").map(String::as_str) != Some(ACCESS_KEY_SECRET)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid access key",
        );
    }
    let ttl = faults.token_ttl();
    let access = uuid::Uuid::new_v4().to_string();
    if let Ok(mut data) = state.lock() {
        data.tokens
            .insert(access.clone(), Instant::now() + Duration::from_secs(ttl));
    }
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let id_token = format!(
        "{}.{}.sig",
        engine.encode(br#"{"alg":"none"}"#),
        engine.encode(json!({ "tenantId": TENANT }).to_string())
    );
    Json(json!({ "access_token": access, "token_type": "Bearer", "expires_in": ttl, "id_token": id_token })).into_response()
}

fn authorized(state: &SimState, headers: &HeaderMap) -> Option<Box<Response>> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let ok = state
        .lock()
        .ok()
        .and_then(|d| d.tokens.get(token).copied())
        .is_some_and(|expiry| expiry > Instant::now());
    (!ok).then(|| {
        Box::new(error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The access token is missing or expired",
        ))
    })
}

macro_rules! guard {
    ($state:expr, $headers:expr) => {
        if let Some(denied) = authorized(&$state, &$headers) {
            return *denied;
        }
    };
}

async fn phone_numbers(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    guard!(state, headers);
    let data = state.lock().expect("sim lock");
    let search = q.get("searchString").cloned().unwrap_or_default();
    let numbers: Vec<Value> = data
        .numbers
        .iter()
        .filter(|n| n.contains(&search))
        .map(|n| json!({ "phonenumber": n }))
        .collect();
    let total = numbers.len();
    let (page, links) = window(numbers, &q, "phone-numbers");
    Json(json!({ "totalRecords": total, "phoneCollection": page, "_links": links })).into_response()
}

/// One page of a listing by `skip` and `top` (all of it without `top`), with the `_links`
/// CXone answers: `next` while records remain.
fn window(all: Vec<Value>, q: &HashMap<String, String>, path: &str) -> (Vec<Value>, Value) {
    let skip: usize = q.get("skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    let top: usize = q
        .get("top")
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip(skip).take(top).collect();
    let mut links = json!({ "self": format!("/{path}?skip={skip}") });
    if skip.saturating_add(page.len()) < total {
        links["next"] = json!(format!("/{path}?skip={}&top={top}", skip + page.len()));
    }
    (page, links)
}

async fn skills(State(state): State<SimState>, headers: HeaderMap) -> Response {
    guard!(state, headers);
    let data = state.lock().expect("sim lock");
    Json(json!({ "skills": data.skills.values().cloned().collect::<Vec<_>>() })).into_response()
}

async fn scripts(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    guard!(state, headers);
    let data = state.lock().expect("sim lock");
    let details: Vec<Value> = data.scripts.iter().enumerate().map(|(i, s)| json!({ "masterID": 900 + i, "scriptName": s, "status": "Active", "mediaType": 4 })).collect();
    let total = details.len();
    let (page, links) = window(details, &q, "scripts/search");
    Json(json!({ "totalRecords": total, "scriptSearchDetails": page, "_links": links }))
        .into_response()
}

/// Points of contact page by `skip`/`top` but carry no total or links.
async fn list_contacts(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    guard!(state, headers);
    let data = state.lock().expect("sim lock");
    let (page, _) = window(
        data.contacts.values().cloned().collect(),
        &q,
        "points-of-contact",
    );
    Json(json!({ "pointsOfContact": page })).into_response()
}

async fn get_contact(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    guard!(state, headers);
    let data = state.lock().expect("sim lock");
    match data.contacts.get(&id) {
        Some(c) => Json(json!({ "pointsOfContact": [c] })).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Point of contact not found",
        ),
    }
}

fn check_route(data: &Data, body: &Value) -> Option<Response> {
    let skill = body["skillId"].as_i64();
    if skill.is_none_or(|s| !data.skills.contains_key(&s)) {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "invalid_skill",
            "skillId does not exist",
        ));
    }
    let script = body["scriptName"].as_str().unwrap_or_default();
    if !data.scripts.iter().any(|s| s == script) {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "invalid_script",
            "scriptName does not exist",
        ));
    }
    if body["pointOfContactName"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "invalid_name",
            "pointOfContactName is required",
        ));
    }
    None
}

async fn create_contact(
    State(state): State<SimState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    guard!(state, headers);
    let mut data = state.lock().expect("sim lock");
    if let Some(bad) = check_route(&data, &body) {
        return bad;
    }
    let number = body["pointOfContact"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !data.numbers.contains(&number) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_point_of_contact",
            "the number is not configured on this business unit",
        );
    }
    if data
        .contacts
        .values()
        .any(|c| c["contactAddress"] == number.as_str())
    {
        return error(
            StatusCode::CONFLICT,
            "duplicate",
            "a point of contact for this address exists",
        );
    }
    let code = 7000 + data.contacts.len() as i64;
    data.contacts.insert(code, json!({
        "contactCode": code, "contactAddress": number, "contactDescription": body["pointOfContactName"],
        "defaultSkillId": body["skillId"], "scriptName": body["scriptName"], "isActive": body.get("isActive").cloned().unwrap_or(json!(true)),
        "mediaTypeId": body.get("mediaTypeId").cloned().unwrap_or(json!(4)),
    }));
    StatusCode::OK.into_response()
}

async fn update_contact(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Response {
    guard!(state, headers);
    let mut data = state.lock().expect("sim lock");
    if body.get("pointOfContact").is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "read_only",
            "pointOfContact cannot be changed",
        );
    }
    if body["isActive"] != false
        && let Some(bad) = check_route(&data, &body)
    {
        return bad;
    }
    let Some(contact) = data.contacts.get_mut(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Point of contact not found",
        );
    };
    contact["contactDescription"] = body["pointOfContactName"].clone();
    contact["defaultSkillId"] = body["skillId"].clone();
    contact["scriptName"] = body["scriptName"].clone();
    contact["isActive"] = body.get("isActive").cloned().unwrap_or(json!(true));
    StatusCode::OK.into_response()
}

async fn delete_target(
    State(state): State<SimState>,
    Path((kind, id)): Path<(String, String)>,
) -> StatusCode {
    let mut data = state.lock().expect("sim lock");
    let removed = match kind.as_str() {
        "queue" | "skill" => id
            .parse()
            .ok()
            .and_then(|id: i64| data.skills.remove(&id))
            .is_some(),
        "ivr" | "script" => {
            let before = data.scripts.len();
            data.scripts.retain(|s| s != &id);
            before != data.scripts.len()
        }
        _ => false,
    };
    if removed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
