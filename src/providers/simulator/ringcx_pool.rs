//! The simulated RingCX DNIS pool (`tnManager/search`, `dnisPool` POST/PUT, `uploadDnisPool`,
//! `updateBulkDnisPool`) and tracking-number groups. Records created or uploaded here join the
//! pool that `searchDnis` answers from, so a connection test imports them.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Multipart, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ACCOUNT_ID, Data, SimState, account_ok, assigned_json, authorized, error};

/// The `DnisPool` fields the simulator keeps for a record.
const KEPT: [&str; 6] = [
    "dnisDescription",
    "notes",
    "active",
    "dnisCategory",
    "carrier",
    "mediaCode",
];

/// A pool record as RingCX returns it (`DnisRecordDTO`).
pub fn record_json(data: &Data, dnis: &str) -> Value {
    let mut record = json!({
        "dnis": dnis, "dnisE164": format!("+{dnis}"), "active": true, "dnisCategory": "VOICE",
        "dnisManagedByRC": true,
    });
    if let Some(kept) = data.records.get(dnis).and_then(Value::as_object) {
        for (k, v) in kept {
            record[k] = v.clone();
        }
    }
    if let Some(Some(a)) = data.pool.get(dnis) {
        record["assignedDnis"] = assigned_json(data, dnis, a);
    }
    record
}

fn bad_request(uri: &str, message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "validation.exception",
        message,
        uri,
    )
}

/// RingCX's DNIS: 10 to 15 digits.
fn valid_dnis(dnis: &str) -> bool {
    (10..=15).contains(&dnis.len()) && dnis.bytes().all(|b| b.is_ascii_digit())
}

/// The records of a `DnisPool[]` body, each with a valid `dnis`, or the 400 RingCX answers.
fn records_of(body: &Value, uri: &str) -> Result<Vec<(String, Value)>, Box<Response>> {
    let Some(list) = body.as_array() else {
        return Err(Box::new(bad_request(
            uri,
            "the body must be an array of DnisPool",
        )));
    };
    if list.is_empty() {
        return Err(Box::new(bad_request(uri, "no DnisPool records given")));
    }
    let mut out = Vec::new();
    for (i, record) in list.iter().enumerate() {
        let dnis = record["dnis"].as_str().unwrap_or_default();
        if dnis.is_empty() {
            return Err(Box::new(bad_request(
                uri,
                &format!("dnisPool[{i}].dnis is required"),
            )));
        }
        if !valid_dnis(dnis) {
            return Err(Box::new(bad_request(
                uri,
                &format!("dnisPool[{i}].dnis `{dnis}` is not 10 to 15 digits"),
            )));
        }
        if !record.is_object() {
            return Err(Box::new(bad_request(
                uri,
                "each DnisPool must be an object",
            )));
        }
        out.push((dnis.to_string(), record.clone()));
    }
    Ok(out)
}

fn keep(data: &mut Data, dnis: &str, record: &Value) {
    let kept = data
        .records
        .entry(dnis.to_string())
        .or_insert_with(|| json!({}));
    for k in KEPT {
        if let Some(v) = record.get(k).filter(|v| !v.is_null()) {
            kept[k] = v.clone();
        }
    }
}

pub async fn search(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<HashMap<String, String>>,
    body: Option<Json<Value>>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    let criteria = body.map(|Json(b)| b).unwrap_or(Value::Null);
    let accounts: Vec<&str> = criteria["accountIds"]
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
    let number = |k: &str| query.get(k).and_then(|v| v.parse::<usize>().ok());
    let page = number("page").unwrap_or(0);
    let max_rows = number("maxRows").unwrap_or(100).clamp(1, 1000);
    let filter = criteria["dnisFilter"].as_str().unwrap_or_default();
    let data = state.lock().expect("sim lock");
    let matching: Vec<&String> = data.pool.keys().filter(|d| d.contains(filter)).collect();
    let records: Vec<Value> = matching
        .iter()
        .skip(page * max_rows)
        .take(max_rows)
        .map(|d| record_json(&data, d))
        .collect();
    let mut body = json!({
        "entries": if records.is_empty() { json!({}) } else {
            json!({ ACCOUNT_ID: { "name": "Simulated RingCX account", "records": records } })
        },
    });
    if query.get("count").is_some_and(|c| c == "true") {
        body["totalCount"] = json!(matching.len());
    }
    Json(body).into_response()
}

pub async fn create(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    let records = match records_of(&body, uri.path()) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let mut data = state.lock().expect("sim lock");
    if let Some((dnis, _)) = records.iter().find(|(d, _)| data.pool.contains_key(d)) {
        return error(
            StatusCode::CONFLICT,
            "dnis.exists",
            &format!("DNIS {dnis} is already in the pool"),
            uri.path(),
        );
    }
    let mut out = Vec::new();
    for (dnis, record) in &records {
        data.pool.insert(dnis.clone(), None);
        keep(&mut data, dnis, record);
        out.push(record_json(&data, dnis));
    }
    Json(Value::Array(out)).into_response()
}

/// `PUT dnisPool` and `PUT updateBulkDnisPool`: every record must already be in the pool.
fn apply_updates(state: &SimState, body: &Value, uri: &str) -> Result<Vec<Value>, Box<Response>> {
    let records = records_of(body, uri)?;
    let mut data = state.lock().expect("sim lock");
    if let Some((dnis, _)) = records.iter().find(|(d, _)| !data.pool.contains_key(d)) {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            "dnis.not.found",
            &format!("DNIS {dnis} is not in the pool"),
            uri,
        )));
    }
    Ok(records
        .iter()
        .map(|(dnis, record)| {
            keep(&mut data, dnis, record);
            record_json(&data, dnis)
        })
        .collect())
}

pub async fn update(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    match apply_updates(&state, &body, uri.path()) {
        Ok(records) => Json(Value::Array(records)).into_response(),
        Err(r) => *r,
    }
}

pub async fn bulk_update(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    match apply_updates(&state, &body, uri.path()) {
        Ok(records) => Json(json!({
            "status": "SUCCESS",
            "message": format!("{} DNIS updated", records.len()),
            "updatedRows": records.len().to_string(),
        }))
        .into_response(),
        Err(r) => *r,
    }
}

/// A CSV of `dnis[,dnisDescription]` rows (a header row is allowed): valid new rows join the
/// pool; the report counts every row and names each refused one.
pub async fn upload(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<HashMap<String, String>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    if query.get("fileType").map(String::as_str) != Some("COMMA") {
        return bad_request(uri.path(), "fileType is required and must be COMMA");
    }
    let Ok(mut multipart) = multipart else {
        return bad_request(uri.path(), "the body must be multipart/form-data");
    };
    let mut file = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("file") {
            file = field.bytes().await.ok();
        }
    }
    let Some(file) = file else {
        return bad_request(uri.path(), "the multipart part `file` is required");
    };
    let text = String::from_utf8_lossy(&file);
    let mut lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    if lines
        .first()
        .is_some_and(|(_, l)| l.to_ascii_lowercase().starts_with("dnis"))
    {
        lines.remove(0);
    }
    let mut data = state.lock().expect("sim lock");
    let mut errors = Vec::new();
    let mut valid = 0u64;
    let mut records = Vec::new();
    for (line, row) in &lines {
        let mut fields = row.splitn(2, ',');
        let dnis = fields
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"')
            .trim_start_matches('+');
        let description = fields.next().unwrap_or_default().trim().trim_matches('"');
        if !valid_dnis(dnis) {
            errors.push(format!(
                "line {line}: `{dnis}` is not a DNIS of 10 to 15 digits"
            ));
        } else if data.pool.contains_key(dnis) {
            errors.push(format!("line {line}: DNIS {dnis} is already in the pool"));
        } else {
            valid += 1;
            data.pool.insert(dnis.to_string(), None);
            if !description.is_empty() {
                keep(&mut data, dnis, &json!({ "dnisDescription": description }));
            }
            records.push(record_json(&data, dnis));
        }
    }
    let mut status = json!({
        "errorMessage": errors,
        "totalRecords": lines.len(),
        "validRecords": valid,
        "validated": true,
    });
    // `errorCode` is a string when present; RingCX leaves it out of a clean upload.
    if !errors.is_empty() {
        status["errorCode"] = json!("dnis.upload.invalid.rows");
    }
    Json(json!({ "records": records, "uploadStatus": status })).into_response()
}

fn trac_group_json(id: i64, name: &str, numbers: &[Value]) -> Value {
    json!({ "tracGroupId": id, "groupName": name, "isDefault": false, "tracNumbers": numbers })
}

pub async fn trac_groups(
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
    let groups: Vec<Value> = data
        .trac_groups
        .iter()
        .map(|(id, (name, numbers))| trac_group_json(*id, name, numbers))
        .collect();
    Json(Value::Array(groups)).into_response()
}

pub async fn trac_numbers(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((account, group)): Path<(String, i64)>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    if let Err(r) = account_ok(&account, uri.path()) {
        return *r;
    }
    let data = state.lock().expect("sim lock");
    match data.trac_groups.get(&group) {
        Some((_, numbers)) => Json(Value::Array(numbers.clone())).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "trac.group.not.found",
            &format!("tracking group {group} does not exist"),
            uri.path(),
        ),
    }
}

pub async fn create_trac_number(
    State(state): State<SimState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((account, group)): Path<(String, i64)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = authorized(&state, &headers, uri.path()) {
        return *r;
    }
    if let Err(r) = account_ok(&account, uri.path()) {
        return *r;
    }
    if body["description"].as_str().is_none_or(str::is_empty) {
        return bad_request(uri.path(), "description is required");
    }
    let mut data = state.lock().expect("sim lock");
    let next = data
        .trac_groups
        .values()
        .flat_map(|(_, n)| n.iter().filter_map(|t| t["tracId"].as_i64()))
        .max()
        .unwrap_or(800)
        + 1;
    let Some((name, numbers)) = data.trac_groups.get_mut(&group) else {
        return error(
            StatusCode::NOT_FOUND,
            "trac.group.not.found",
            &format!("tracking group {group} does not exist"),
            uri.path(),
        );
    };
    let mut number = body.clone();
    number["tracId"] = json!(next);
    number["accountId"] = json!(ACCOUNT_ID);
    number["tracGroup"] = json!({ "tracGroupId": group, "groupName": name.clone() });
    let mut stored = number.clone();
    if let Some(o) = stored.as_object_mut() {
        o.remove("tracGroup");
    }
    numbers.push(stored);
    Json(number).into_response()
}
