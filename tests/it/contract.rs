//! The API against its document (`static/openapi.json`, served at `/api/v1/openapi.json`).
//! Real answers from the core flows are validated against the schema documented for their
//! status, and a seeded fuzz run sends every documented operation inputs generated from its
//! schemas and then mutated (wrong types, missing fields, NUL, huge and odd strings), failing
//! on any 5xx and on any answer the document does not describe.
//!
//! `INWARD_FUZZ_CASES` sets the cases per operation and caller (default 6), `INWARD_FUZZ_SEED`
//! the seed (default 1); docs/api.md shows a longer run.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::common::{Api, spawn_app};

/// The document, with OpenAPI 3.0's `nullable` turned into JSON Schema's `null` type so a
/// JSON Schema validator can read its schemas.
pub struct Contract {
    doc: Value,
}

fn json_schema(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                match map.get("type").cloned() {
                    Some(Value::String(kind)) => {
                        map.insert("type".into(), json!([kind, "null"]));
                        if let Some(Value::Array(values)) = map.get_mut("enum") {
                            values.push(Value::Null);
                        }
                    }
                    // `allOf`, `$ref` and the like: the schema, or null.
                    _ => {
                        let description = map.remove("description");
                        let rest = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([rest, { "type": "null" }]));
                        if let Some(description) = description {
                            map.insert("description".into(), description);
                        }
                    }
                }
            }
            for child in map.values_mut() {
                json_schema(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json_schema),
        _ => {}
    }
}

/// The document, loaded once for every test's answers (`common::Api` checks each one).
pub static CONTRACT: std::sync::LazyLock<Contract> = std::sync::LazyLock::new(Contract::load);

impl Contract {
    /// The documented path template a concrete path answers to: the one whose literal
    /// segments match most (`/numbers/available` before `/numbers/{e164}`).
    pub fn template_for(&self, path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .filter_map(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                if parts.len() != segments.len() {
                    return None;
                }
                let mut literal = 0;
                for (part, segment) in parts.iter().zip(&segments) {
                    if part.starts_with('{') {
                        continue;
                    }
                    if part != segment {
                        return None;
                    }
                    literal += 1;
                }
                Some((literal, template.clone()))
            })
            .max()
            .map(|(_, template)| template)
    }

    /// `check` for an answer to a concrete path.
    pub fn check_path(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        body: &[u8],
    ) -> Result<(), String> {
        match self.template_for(path) {
            Some(template) => self.check(&template, method, status, body),
            // A path the API does not have: a 404 in the Error shape.
            None => {
                let error = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
                if status == StatusCode::NOT_FOUND && error["error"]["code"] == "not_found" {
                    Ok(())
                } else {
                    Err(format!(
                        "{method} {path} matches no documented path and answered {status}"
                    ))
                }
            }
        }
    }

    pub fn load() -> Contract {
        let mut doc: Value = serde_json::from_str(include_str!("../../static/openapi.json"))
            .expect("openapi.json is JSON");
        json_schema(&mut doc);
        Contract { doc }
    }

    /// Every documented operation: (path template, method, operation).
    fn operations(&self) -> Vec<(String, Method, Value)> {
        let mut out = Vec::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if let Ok(m) = method.to_uppercase().parse::<Method>()
                    && method != "parameters"
                {
                    let mut operation = operation.clone();
                    // Path-level parameters apply to every operation of the path.
                    let mut parameters = item["parameters"].as_array().cloned().unwrap_or_default();
                    parameters.extend(
                        operation["parameters"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default(),
                    );
                    operation["parameters"] =
                        Value::Array(parameters.into_iter().map(|p| self.resolve(&p)).collect());
                    out.push((path.clone(), m, operation));
                }
            }
        }
        out
    }

    /// Follows a local `$ref` (one level).
    fn resolve(&self, value: &Value) -> Value {
        match value["$ref"].as_str() {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.doc.pointer(pointer).cloned().unwrap_or(Value::Null)
            }
            None => value.clone(),
        }
    }

    /// Checks an answer to `method template` against the document: its status documented
    /// (or covered by `default`), and a JSON body matching the status's schema.
    pub fn check(
        &self,
        template: &str,
        method: &Method,
        status: StatusCode,
        body: &[u8],
    ) -> Result<(), String> {
        let responses = &self.doc["paths"][template][method.as_str().to_lowercase()]["responses"];
        if responses.is_null() {
            return Err(format!("{method} {template} is not documented"));
        }
        let documented = &responses[status.as_str()];
        let response = if documented.is_null() {
            &responses["default"]
        } else {
            documented
        };
        if response.is_null() || (status.is_success() && documented.is_null()) {
            return Err(format!(
                "{method} {template} answered {status}, which is not documented"
            ));
        }
        let Some(schema) = response.pointer("/content/application~1json/schema") else {
            return Ok(());
        };
        let instance: Value = serde_json::from_slice(body).map_err(|e| {
            format!(
                "{method} {template} {status}: documented as JSON, got {e}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )
        })?;
        let mut root = schema.clone();
        root.as_object_mut()
            .unwrap()
            .insert("components".into(), self.doc["components"].clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .map_err(|e| {
                format!("{method} {template} {status}: the schema does not compile: {e}")
            })?;
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .take(3)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{method} {template} {status}: {}; body {}",
                errors.join("; "),
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ))
        }
    }
}

/// A value for `schema`: a valid one, or (when `wild`) one chosen to break things.
fn generate(
    rng: &mut StdRng,
    contract: &Contract,
    schema: &Value,
    wild: bool,
    depth: usize,
) -> Value {
    let schema = contract.resolve(schema);
    if wild && rng.gen_bool(0.25) {
        return odd_value(rng);
    }
    if let Some(values) = schema["enum"].as_array() {
        return values[rng.gen_range(0..values.len())].clone();
    }
    if let Some(options) = schema["anyOf"].as_array().or(schema["oneOf"].as_array()) {
        let pick = &options[rng.gen_range(0..options.len())];
        return generate(rng, contract, pick, wild, depth + 1);
    }
    let kind = match &schema["type"] {
        Value::String(kind) => kind.clone(),
        Value::Array(kinds) => kinds[0].as_str().unwrap_or("string").to_string(),
        _ if schema["properties"].is_object() => "object".into(),
        _ => "string".into(),
    };
    match kind.as_str() {
        "object" if depth < 4 => {
            let mut map = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(properties) = schema["properties"].as_object() {
                for (name, property) in properties {
                    let keep = required.contains(&name.as_str()) || rng.gen_bool(0.5);
                    let drop_required = wild && rng.gen_bool(0.1);
                    if keep && !drop_required {
                        map.insert(
                            name.clone(),
                            generate(rng, contract, property, wild, depth + 1),
                        );
                    }
                }
            }
            Value::Object(map)
        }
        "array" if depth < 4 => {
            let n = rng.gen_range(0..=3);
            Value::Array(
                (0..n)
                    .map(|_| generate(rng, contract, &schema["items"], wild, depth + 1))
                    .collect(),
            )
        }
        "integer" => json!(rng.gen_range(-2i64..500)),
        "number" => json!(rng.gen_range(-1.0..1000.0)),
        "boolean" => json!(rng.gen_bool(0.5)),
        _ => json!(plain_string(rng, &schema)),
    }
}

fn plain_string(rng: &mut StdRng, schema: &Value) -> String {
    match schema["format"].as_str() {
        Some("uuid") => uuid::Uuid::new_v4().to_string(),
        Some("date-time") => "2026-12-24T10:00:00Z".into(),
        Some("date") => "2026-12-24".into(),
        _ => ["+15125550100", "Sales", "TX", "512", "queue", "a", ""][rng.gen_range(0..7)].into(),
    }
}

/// Inputs that have broken parsers and databases before.
fn odd_value(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..10) {
        0 => json!("nul\u{0}byte"),
        1 => json!("x".repeat(70_000)),
        2 => json!(-9_223_372_036_854_775_808i64),
        3 => json!(1e308),
        4 => json!(null),
        5 => json!([]),
        6 => json!({ "nested": { "deeper": [1, "two", null] } }),
        7 => json!("☎️ 𝟙𝟚𝟛 \u{202e}"),
        8 => json!("'; DROP TABLE numbers; --"),
        _ => json!(true),
    }
}

fn path_value(rng: &mut StdRng, objects: &BTreeMap<&str, Vec<String>>, name: &str) -> String {
    let odd = [
        "0",
        "-1",
        "..",
        "%00",
        "%2e%2e%2f",
        "9".repeat(400).as_str(),
        "☎",
        "+1",
        "null",
    ]
    .map(str::to_string);
    if rng.gen_bool(0.6)
        && let Some(real) = objects.get(name)
    {
        return real[rng.gen_range(0..real.len())].clone();
    }
    if rng.gen_bool(0.5) {
        return uuid::Uuid::new_v4().to_string();
    }
    odd[rng.gen_range(0..odd.len())].clone()
}

struct Case {
    url: String,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
}

fn case(
    rng: &mut StdRng,
    contract: &Contract,
    template: &str,
    operation: &Value,
    objects: &BTreeMap<&str, Vec<String>>,
) -> Case {
    let wild = rng.gen_bool(0.5);
    let mut path = template.to_string();
    let mut query = Vec::new();
    for parameter in operation["parameters"].as_array().unwrap() {
        let name = parameter["name"].as_str().unwrap_or_default();
        match parameter["in"].as_str() {
            Some("path") => {
                let value = path_value(rng, objects, name);
                path = path.replace(&format!("{{{name}}}"), &value);
            }
            Some("query") if parameter["required"] == true || rng.gen_bool(0.5) => {
                let value = generate(rng, contract, &parameter["schema"], wild, 0);
                let mut text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                // A URL has a length limit of its own; the body is where size is tried.
                text.truncate(2000);
                query.push((name.to_string(), text));
            }
            _ => {}
        }
    }
    let mut url = path;
    if !query.is_empty() {
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query.iter())
            .finish();
        url = format!("{url}?{encoded}");
    }
    let content = operation
        .pointer("/requestBody/content")
        .and_then(Value::as_object);
    let (content_type, body) = match content {
        Some(content) if content.contains_key("application/json") => {
            let schema = &content["application/json"]["schema"];
            let mut value = generate(rng, contract, schema, wild, 0);
            if wild && rng.gen_bool(0.2) {
                value = odd_value(rng);
            }
            let bytes = if wild && rng.gen_bool(0.1) {
                b"{\"unterminated\": ".to_vec()
            } else {
                serde_json::to_vec(&value).unwrap()
            };
            (Some("application/json"), Some(bytes))
        }
        Some(content) => {
            let kind = content.keys().next().unwrap().as_str();
            let body = match rng.gen_range(0..3) {
                0 => b"Country Code,Phone Number,Voice,SMS,Fax\n1,5125550100,TRUE,FALSE,FALSE\n"
                    .to_vec(),
                1 => b"%PDF-1.4\n%%EOF\n".to_vec(),
                _ => (0..rng.gen_range(0..2000))
                    .map(|_| rng.r#gen::<u8>())
                    .collect(),
            };
            let kind = match kind {
                "text/csv" => "text/csv",
                "application/pdf" => "application/pdf",
                _ => "multipart/form-data; boundary=fuzz",
            };
            (Some(kind), Some(body))
        }
        None => (None, None),
    };
    Case {
        url,
        content_type,
        body,
    }
}

async fn send(api: &Api, method: &Method, case: &Case) -> (StatusCode, Vec<u8>) {
    let mut request = api
        .http
        .request(method.clone(), format!("{}{}", api.base, case.url))
        .bearer_auth(&api.token);
    if let Some(kind) = case.content_type {
        request = request.header("content-type", kind);
    }
    if let Some(body) = &case.body {
        request = request.body(body.clone());
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    (status, answer.bytes().await.unwrap().to_vec())
}

#[test]
fn every_documented_operation_survives_fuzzed_input_and_answers_as_documented() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let contract = Contract::load();
        let seed: u64 = std::env::var("INWARD_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        let cases: usize = std::env::var("INWARD_FUZZ_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(6);
        let mut rng = StdRng::seed_from_u64(seed);
        let admin = app.api("admin@globex.test").await;
        let numbers = admin.provisioned(2).await;
        let held = admin.find("npa=512", 1).await;
        let (_, reservation) = admin.reserve(&held).await;
        let objects = BTreeMap::from([
            ("e164", numbers.clone()),
            ("id", vec![reservation["id"].as_str().unwrap().to_string()]),
        ]);
        let mut callers = Vec::new();
        for email in [
            "admin@globex.test",
            "agent@globex.test",
            "reseller@acme.test",
            "operator@inward.test",
        ] {
            callers.push(app.api(email).await);
        }
        let operations = contract.operations();
        assert!(operations.len() > 60, "{} operations", operations.len());
        let mut failures = Vec::new();
        let mut sent = 0;
        let mut answered = BTreeMap::<u16, usize>::new();
        for (template, method, operation) in &operations {
            // Ending the callers' own sessions or tokens would blunt the rest of the run.
            if template.starts_with("/api/v1/me/") {
                continue;
            }
            for caller in &callers {
                for _ in 0..cases {
                    let case = case(&mut rng, &contract, template, operation, &objects);
                    let (status, body) = send(caller, method, &case).await;
                    sent += 1;
                    *answered.entry(status.as_u16()).or_default() += 1;
                    if status.is_server_error() {
                        failures.push(format!(
                            "{method} {}: {status} {}",
                            &case.url[..case.url.len().min(200)],
                            String::from_utf8_lossy(&body[..body.len().min(200)])
                        ));
                    } else if let Err(problem) = contract.check(template, method, status, &body) {
                        failures.push(format!(
                            "{problem} (url {})",
                            &case.url[..case.url.len().min(200)]
                        ));
                    }
                }
            }
        }
        println!("fuzz seed {seed}: {sent} requests, answers by status {answered:?}");
        failures.sort();
        failures.dedup();
        assert!(
            failures.is_empty(),
            "{} failures of {sent}:\n{}",
            failures.len(),
            failures[..failures.len().min(40)].join("\n")
        );
    })
}

#[test]
fn every_api_route_declares_the_path_parameters_it_has() {
    let contract = Contract::load();
    let mut problems = Vec::new();
    for template in inward::startup::route_paths() {
        if !template.starts_with("/api/v1/") || template == "/api/v1/openapi.json" {
            continue;
        }
        let in_path: Vec<&str> = template
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (path, method, operation) in contract.operations() {
            if path != template {
                continue;
            }
            let mut declared: Vec<String> = operation["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap_or_default().to_string())
                .collect();
            declared.sort();
            let mut wanted: Vec<String> = in_path.iter().map(|s| s.to_string()).collect();
            wanted.sort();
            if declared != wanted {
                problems.push(format!(
                    "{method} {template}: declares {declared:?}, has {wanted:?}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
