//! Holds the simulators and the adapters to the platforms' published specs
//! (tests/fixtures/providers/): every request an adapter sent and every answer a simulator
//! gave is matched to its operation and validated against the operation's schemas. Objects
//! are closed (a field the spec does not name is a violation) and read-only fields may not
//! be written. A simulator checks its traffic when the test drops it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use inward::providers::simulator::faults::Recorded;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    Genesys,
    Ringcx,
    /// No machine-readable spec is published where it can be fetched: the operations Inward
    /// calls, transcribed from ../shared/providers/cxone-notes.md.
    Cxone,
}

/// Paths the adapters call that the subsets do not hold: the platforms' sign-in hosts and
/// CXone's discovery. Their shapes are checked by the adapters' own tests.
const OUTSIDE: [&str; 5] = [
    "/oauth/token",
    "/restapi/oauth/token",
    "/auth/token",
    "/.well-known/openid-configuration",
    "/.well-known/cxone-configuration",
];

/// CXone's API paths carry the version the caller picked: `/inContactAPI/services/v33.0/…`.
fn without_cxone_prefix(path: &str) -> &str {
    path.strip_prefix("/inContactAPI/services/")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(version, _)| version.starts_with('v'))
        .map(|(version, _)| &path["/inContactAPI/services/".len() + version.len()..])
        .unwrap_or(path)
}

struct Operation {
    method: String,
    template: String,
    segments: Vec<Option<String>>,
    spec: Value,
}

pub struct Spec {
    which: Published,
    operations: Vec<Operation>,
    /// The spec's schemas, closed, once as a writer sees them and once as a reader does.
    for_requests: Value,
    for_answers: Value,
    compiled: Mutex<HashMap<(bool, String), Arc<jsonschema::Validator>>>,
}

pub fn spec(which: Published) -> &'static Spec {
    static GENESYS: OnceLock<Spec> = OnceLock::new();
    static RINGCX: OnceLock<Spec> = OnceLock::new();
    static CXONE: OnceLock<Spec> = OnceLock::new();
    match which {
        Published::Genesys => GENESYS.get_or_init(|| {
            Spec::new(
                which,
                include_str!("../fixtures/providers/genesys-cloud.subset.json"),
            )
        }),
        Published::Ringcx => RINGCX.get_or_init(|| {
            Spec::new(
                which,
                include_str!("../fixtures/providers/ringcx.subset.json"),
            )
        }),
        Published::Cxone => CXONE.get_or_init(|| {
            Spec::new(
                which,
                include_str!("../fixtures/providers/cxone.transcribed.json"),
            )
        }),
    }
}

impl Spec {
    fn new(which: Published, text: &str) -> Spec {
        let doc: Value = serde_json::from_str(text).unwrap();
        let mut operations = Vec::new();
        for (template, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                    continue;
                }
                let segments = template
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                    .collect();
                operations.push(Operation {
                    method: method.to_uppercase(),
                    template: template.clone(),
                    segments,
                    spec: op.clone(),
                });
            }
        }
        let schemas = match which {
            Published::Genesys => json!({ "definitions": doc["definitions"] }),
            Published::Ringcx | Published::Cxone => {
                json!({ "components": { "schemas": doc["components"]["schemas"] } })
            }
        };
        Spec {
            which,
            operations,
            for_requests: close(&schemas, true),
            for_answers: close(&schemas, false),
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// The operation a request was sent to; a literal segment beats a parameter.
    fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        let parts: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .filter(|op| op.method == method && op.segments.len() == parts.len())
            .filter(|op| {
                op.segments.iter().zip(&parts).all(|(s, p)| match s {
                    Some(literal) => literal == p,
                    None => !p.is_empty(),
                })
            })
            .max_by_key(|op| op.segments.iter().filter(|s| s.is_some()).count())
    }

    fn validate(&self, writing: bool, schema: &Value, instance: &Value) -> Vec<String> {
        let key = (writing, schema.to_string());
        let validator = {
            let mut compiled = self.compiled.lock().unwrap();
            compiled
                .entry(key)
                .or_insert_with(|| {
                    let mut root = if writing {
                        self.for_requests.clone()
                    } else {
                        self.for_answers.clone()
                    };
                    root["allOf"] = json!([close(schema, writing)]);
                    Arc::new(
                        jsonschema::options()
                            .with_draft(jsonschema::Draft::Draft4)
                            .build(&root)
                            .expect("the spec's schema compiles"),
                    )
                })
                .clone()
        };
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at `{}`", e, e.instance_path()))
            .collect()
    }

    fn body_schema(&self, op: &Value) -> Option<Value> {
        match self.which {
            Published::Genesys => op["parameters"]
                .as_array()?
                .iter()
                .find(|p| p["in"] == "body")
                .map(|p| p["schema"].clone()),
            Published::Ringcx | Published::Cxone => first_content(&op["requestBody"]["content"]),
        }
    }

    /// The declared answer for a status: `Some(None)` when it has no body.
    fn answer_schema(&self, op: &Value, status: u16) -> Option<Option<Value>> {
        let responses = &op["responses"];
        let declared = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))?;
        Some(match self.which {
            Published::Genesys => declared.get("schema").cloned(),
            Published::Ringcx | Published::Cxone => first_content(&declared["content"]),
        })
    }

    /// The platform's error body, for an error status the operation does not describe:
    /// Genesys publishes `ErrorBody`; RingCX's shape is from its developer guide
    /// (../shared/PROVIDERS.md), as its OpenAPI gives error statuses no body.
    fn error_schema(&self) -> Value {
        match self.which {
            Published::Genesys => json!({ "$ref": "#/definitions/ErrorBody" }),
            Published::Ringcx => json!({
                "type": "object",
                "required": ["generalMessage"],
                "properties": {
                    "generalMessage": { "type": "string" },
                    "details": {},
                    "requestUri": { "type": "string" },
                    "timestamp": { "type": "integer" },
                    "errorCode": { "type": "string" },
                    "validationErrors": { "type": "array" },
                },
            }),
            Published::Cxone => json!({
                "allOf": [{ "$ref": "#/components/schemas/Error" }],
                "required": ["error"],
            }),
        }
    }

    /// Every way one exchange departs from the spec.
    pub fn check(&self, r: &Recorded) -> Result<String, Vec<String>> {
        let path = match self.which {
            Published::Cxone => without_cxone_prefix(&r.path),
            _ => &r.path,
        };
        let at = format!("{} {}", r.method, path);
        let Some(op) = self.operation(&r.method, path) else {
            return Err(vec![format!("{at}: no such operation in the spec")]);
        };
        let name = format!("{} {}", op.method, op.template);
        let mut problems = Vec::new();

        let declared: Vec<&Value> = op.spec["parameters"]
            .as_array()
            .map(|p| p.iter().filter(|p| p["in"] == "query").collect())
            .unwrap_or_default();
        let mut sent: Vec<(String, String)> =
            serde_urlencoded::from_str(&r.query).unwrap_or_default();
        let body_schema = self.body_schema(&op.spec);
        // RingCX reads its token exchange's parameters with Spring's @RequestParam, which
        // takes them from the query or a form body alike; its guide sends them as a form,
        // which keeps the token out of URLs and logs.
        if body_schema.is_none()
            && let Value::String(form) = &r.body
            && let Ok(fields) = serde_urlencoded::from_str::<Vec<(String, String)>>(form)
            && !fields.is_empty()
            && !form.starts_with("--")
        {
            sent.extend(fields);
        }
        for (key, _) in &sent {
            if !declared.iter().any(|p| p["name"] == key.as_str()) {
                problems.push(format!(
                    "{name}: query parameter `{key}` is not in the spec"
                ));
            }
        }
        for p in declared.iter().filter(|p| p["required"] == true) {
            if !sent.iter().any(|(k, _)| p["name"] == k.as_str()) {
                problems.push(format!(
                    "{name}: required query parameter {} missing",
                    p["name"]
                ));
            }
        }

        let multipart = op.spec["requestBody"]["content"]
            .get("multipart/form-data")
            .is_some();
        match (body_schema, &r.body) {
            (None, Value::Null) => {}
            (None, Value::String(form)) if !form.starts_with("--") && !sent.is_empty() => {}
            (Some(schema), Value::String(parts)) if multipart => {
                problems.extend(multipart_problems(&name, &schema, parts));
            }
            (None, body) => problems.push(format!(
                "{name}: sends a body the spec has none for: {body}"
            )),
            (Some(_), Value::Null) => problems.push(format!("{name}: sends no body")),
            (Some(schema), body) => problems.extend(
                self.validate(true, &schema, body)
                    .into_iter()
                    .map(|e| format!("{name} request: {e}")),
            ),
        }

        if r.status != 0 {
            let declared = self.answer_schema(&op.spec, r.status);
            // An error the operation does not describe (or describes without a body) must
            // still have the platform's error shape; so must an injected fault.
            let declared = match declared {
                Some(Some(schema)) if !r.faulted => Some(Some(schema)),
                _ if r.status >= 400 => Some(Some(self.error_schema())),
                other => other,
            };
            match declared {
                None => problems.push(format!(
                    "{name}: answers {} which the spec does not declare",
                    r.status
                )),
                Some(None) => {}
                Some(Some(schema)) => problems.extend(
                    self.validate(false, &schema, &r.answer)
                        .into_iter()
                        .map(|e| format!("{name} answer {}: {e}", r.status)),
                ),
            }
        }
        if problems.is_empty() {
            Ok(name)
        } else {
            Err(problems)
        }
    }
}

/// A multipart body sends exactly the parts its schema names, and every required one.
fn multipart_problems(name: &str, schema: &Value, body: &str) -> Vec<String> {
    let sent: Vec<&str> = body
        .split(" name=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let mut problems = Vec::new();
    for part in &sent {
        if schema["properties"].get(*part).is_none() {
            problems.push(format!(
                "{name}: multipart part `{part}` is not in the spec"
            ));
        }
    }
    for required in schema["required"].as_array().into_iter().flatten() {
        if !sent.iter().any(|p| required == p) {
            problems.push(format!("{name}: multipart part {required} missing"));
        }
    }
    problems
}

fn first_content(content: &Value) -> Option<Value> {
    let content = content.as_object()?;
    content
        .get("application/json")
        .or_else(|| content.values().next())
        .map(|c| c["schema"].clone())
        .filter(|s| !s.is_null())
}

/// Closes every object schema that names its properties (no field beyond them), lets
/// OpenAPI's `nullable` admit null and, for a writer, forbids read-only properties.
fn close(schema: &Value, writing: bool) -> Value {
    match schema {
        Value::Array(items) => Value::Array(items.iter().map(|s| close(s, writing)).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let value = if key == "properties" {
                    let props = value.as_object().cloned().unwrap_or_default();
                    Value::Object(
                        props
                            .into_iter()
                            .map(|(k, v)| {
                                if writing && v["readOnly"] == true {
                                    (k, json!({ "not": {}, "description": "read-only" }))
                                } else {
                                    (k, close(&v, writing))
                                }
                            })
                            .collect(),
                    )
                } else if key.starts_with("x-") || key == "example" {
                    continue;
                } else {
                    close(value, writing)
                };
                out.insert(key.clone(), value);
            }
            if writing
                && let (Some(Value::Array(required)), Some(Value::Object(props))) =
                    (out.get("required").cloned(), map.get("properties"))
            {
                let writable: Vec<Value> = required
                    .into_iter()
                    .filter(|name| {
                        name.as_str()
                            .is_none_or(|n| props.get(n).is_none_or(|p| p["readOnly"] != true))
                    })
                    .collect();
                out.insert("required".into(), Value::Array(writable));
            }
            let composed = ["allOf", "anyOf", "oneOf"]
                .iter()
                .any(|k| out.contains_key(*k));
            if out.contains_key("properties")
                && !out.contains_key("additionalProperties")
                && !composed
            {
                out.insert("additionalProperties".into(), json!(false));
            }
            if out.remove("nullable") == Some(json!(true)) {
                return json!({ "anyOf": [Value::Object(out), { "type": "null" }] });
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Checks a simulator's whole log; the answer is the operations it covered.
pub fn check_all(which: Published, log: &[Recorded]) -> Result<BTreeSet<String>, Vec<String>> {
    let spec = spec(which);
    let mut covered = BTreeSet::new();
    let mut problems = Vec::new();
    for r in log {
        // The simulator's own controls, used by tests to change its state.
        if r.path.starts_with("/__sim/") {
            continue;
        }
        if OUTSIDE.contains(&r.path.as_str()) {
            covered.insert(format!("{} {} (outside the spec)", r.method, r.path));
            continue;
        }
        match spec.check(r) {
            Ok(name) => {
                covered.insert(name);
            }
            Err(found) => problems.extend(found),
        }
    }
    problems.sort();
    problems.dedup();
    if problems.is_empty() {
        Ok(covered)
    } else {
        Err(problems)
    }
}
