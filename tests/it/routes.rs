//! Every route the server has (`startup::route_paths`, recorded as the router is built, so a
//! new route is visited without anyone listing it), each of its methods (read from the
//! `Allow` header of a 405), called by nobody, by each role of Globex's tree, and by
//! Initech's people with Globex's objects in the path.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{Api, Browser, TestApp, spawn_app};

/// Answers without a caller.
const PUBLIC: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/static/{*path}",
    "/login",
    "/login/sso",
    "/login/sso/callback",
    "/api/v1/openapi.json",
    "/api/v1/inventory/sample.csv",
    "/inventory/sample.csv",
];

/// Globex's objects, to put into the paths.
struct Objects(BTreeMap<&'static str, String>);

impl Objects {
    /// Objects of the same kinds that do not exist.
    fn absent() -> Objects {
        let made_up = uuid::Uuid::new_v4().to_string();
        let mut objects = BTreeMap::from([
            ("e164", "+12025550123".to_string()),
            ("group", "1".to_string()),
            ("action", "allocate".to_string()),
            ("*path", "missing.css".to_string()),
        ]);
        for kind in [
            "reservations",
            "ports",
            "tokens",
            "users",
            "tenants",
            "approvals",
            "connections",
            "uploads",
            "carriers",
            "webhooks",
            "identity-providers",
            "addresses",
            "contacts",
        ] {
            objects.insert(kind, made_up.clone());
        }
        objects.insert("delivery", "1".to_string());
        Objects(objects)
    }

    /// `template` with its parameters filled; the object a `{id}` names depends on where
    /// it stands. A parameter this does not know fails the test: a new kind of object needs
    /// a line here.
    fn fill(&self, template: &str) -> String {
        let mut out = Vec::new();
        let segments: Vec<&str> = template.split('/').collect();
        for (i, segment) in segments.iter().enumerate() {
            let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                out.push(segment.to_string());
                continue;
            };
            let key = match (name, segments[i - 1]) {
                ("id", owner) => owner,
                (other, _) => other,
            };
            let value = self
                .0
                .get(key)
                .unwrap_or_else(|| panic!("no object for `{name}` in {template}"));
            out.push(value.clone());
        }
        out.join("/")
    }
}

fn methods_of(allow: &str) -> Vec<Method> {
    allow
        .split(',')
        .map(|m| m.trim())
        .filter(|m| !m.is_empty() && *m != "HEAD")
        .map(|m| m.parse().unwrap())
        .collect()
}

struct Caller {
    name: &'static str,
    api: Api,
    page: Browser,
}

async fn call(app: &TestApp, who: Option<&Caller>, method: &Method, path: &str) -> StatusCode {
    let url = app.url(path);
    let api = path.starts_with("/api/");
    let request = match who {
        None => reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .request(method.clone(), &url),
        Some(c) if api => c
            .api
            .http
            .request(method.clone(), &url)
            .bearer_auth(&c.api.token),
        Some(c) => c.page.http.request(method.clone(), &url),
    };
    let request = match (method, api, who) {
        (&Method::GET | &Method::DELETE, _, _) => request,
        (_, true, _) => request.json(&json!({})),
        (_, false, Some(c)) => request.form(&[("csrf", c.page.csrf.as_str())]),
        (_, false, None) => request.form(&[("x", "")]),
    };
    request.send().await.unwrap().status()
}

#[test]
fn every_route_refuses_strangers_and_other_tenants_and_never_fails() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let mut callers = Vec::new();
        for (name, email) in [
            ("operator", "operator@inward.test"),
            ("reseller", "reseller@acme.test"),
            ("tenant admin", "admin@globex.test"),
            ("tenant user", "agent@globex.test"),
            ("other tenant admin", "admin@initech.test"),
            ("other tenant user", "agent@initech.test"),
        ] {
            callers.push(Caller {
                name,
                api: app.api(email).await,
                page: app.browser(email).await,
            });
        }
        let globex_admin = &callers[2].api;
        let numbers = globex_admin.provisioned(1).await;
        let held = globex_admin.find("npa=512", 1).await;
        let (_, reservation) = globex_admin.reserve(&held).await;
        let (status, port) = globex_admin
            .post(
                "/api/v1/ports",
                json!({
                    "numbers": ["+13126200101"], "current_carrier": "Old Telco", "account_number": "ACC-1",
                    "account_name": "Globex", "service_address": "500 Congress Ave, Austin TX 78701",
                    "target": { "type": "queue", "name": "Sales" }
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{port}");
        let (_, token) = globex_admin
            .post("/api/v1/tokens", json!({ "name": "matrix" }))
            .await;
        let id = |sql: &'static str| {
            let pool = app.pool.clone();
            async move {
                let id: uuid::Uuid = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
                id.to_string()
            }
        };
        let (status, webhook) = globex_admin
            .post(
                "/api/v1/webhooks",
                json!({ "url": "http://127.0.0.1:9/hook", "events": ["number.reserved"] }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{webhook}");
        let webhook = webhook["id"].as_str().unwrap().to_string();
        let (status, body) = globex_admin
            .post(&format!("/api/v1/webhooks/{webhook}/test"), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let delivery: i64 = sqlx::query_scalar("SELECT min(id) FROM webhook_deliveries")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let provider = crate::sso::unanswered_globex_provider(&app).await;
        let (status, saved_address) = globex_admin
            .post(
                "/api/v1/e911/addresses",
                json!({ "label": "HQ", "street": "500 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{saved_address}");
        let (status, contact) = globex_admin
            .post(
                "/api/v1/e911/contacts",
                json!({ "name": "Front desk", "email": "desk@globex.test" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{contact}");
        let absent = uuid::Uuid::new_v4().to_string();
        let objects = Objects(BTreeMap::from([
            ("webhooks", webhook),
            (
                "identity-providers",
                provider["id"].as_str().unwrap().to_string(),
            ),
            ("delivery", delivery.to_string()),
            (
                "addresses",
                saved_address["id"].as_str().unwrap().to_string(),
            ),
            ("contacts", contact["id"].as_str().unwrap().to_string()),
            ("e164", numbers[0].clone()),
            (
                "reservations",
                reservation["id"].as_str().unwrap().to_string(),
            ),
            ("ports", port["id"].as_str().unwrap().to_string()),
            ("tokens", token["id"].as_str().unwrap().to_string()),
            (
                "users",
                id("SELECT id FROM users WHERE email = 'agent@globex.test'").await,
            ),
            (
                "tenants",
                id("SELECT id FROM organizations WHERE slug = 'globex'").await,
            ),
            // Globex has none of these: a made-up id must be refused the same way.
            ("approvals", absent.clone()),
            ("connections", absent.clone()),
            ("uploads", absent.clone()),
            ("carriers", absent.clone()),
            ("group", "1".to_string()),
            ("action", "allocate".to_string()),
            ("*path", "missing.css".to_string()),
        ]));

        let (status, _) = crate::porting::put_loa(
            globex_admin,
            port["id"].as_str().unwrap(),
            "application/pdf",
            b"%PDF-1.4\n%signed letter of agency\n%%EOF\n".to_vec(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "LOA");
        let (status, _) = crate::porting::put_document(
            globex_admin,
            port["id"].as_str().unwrap(),
            "bill",
            "application/pdf",
            b"%PDF-1.4\n%a bill\n%%EOF\n".to_vec(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "bill");
        let absent = Objects::absent();
        let paths = inward::startup::route_paths();
        assert!(paths.len() > 100, "{} routes", paths.len());
        let mut routes = Vec::new();
        for template in &paths {
            let mut path = objects.fill(template);
            let purge = Method::from_bytes(b"PURGE").unwrap();
            let probe = app
                .http
                .request(purge, app.url(&path))
                .send()
                .await
                .unwrap();
            assert_eq!(probe.status(), StatusCode::METHOD_NOT_ALLOWED, "{template}");
            let allow = probe.headers()["allow"].to_str().unwrap().to_string();
            // A search needs something to search for.
            if template == "/api/v1/numbers/available" || template == "/api/v1/numbers/coverage" {
                path.push_str("?npa=512&limit=5");
            }
            for method in methods_of(&allow) {
                routes.push((
                    template.clone(),
                    path.clone(),
                    absent.fill(template),
                    method,
                ));
            }
        }
        // Reads first, while every caller is signed in; then writes; then those that change
        // users; last those that end the caller's own sessions.
        let rank = |template: &str, method: &Method| {
            let ends_sessions = ["/me/", "/account/", "/logout"]
                .iter()
                .any(|p| template.contains(p));
            let changes_users = ["/disable", "/role"].iter().any(|p| template.contains(p));
            match (*method == Method::GET, changes_users, ends_sessions) {
                (true, _, _) => 0,
                (false, false, false) => 1,
                (false, true, _) => 2,
                (false, false, true) => 3,
            }
        };
        routes.sort_by_key(|(template, _, _, method)| rank(template, method));
        let mut failures = Vec::new();
        let mut readers: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        for (template, path, absent_path, method) in &routes {
            let public = PUBLIC.contains(&template.as_str());
            let anonymous = call(&app, None, method, path).await;
            if !public {
                let refused = if path.starts_with("/api/") {
                    anonymous == StatusCode::UNAUTHORIZED
                } else {
                    anonymous.is_redirection() || anonymous == StatusCode::FORBIDDEN
                };
                if !refused {
                    failures.push(format!("nobody {method} {template}: {anonymous}"));
                }
            }
            let names_globex_object = ["{e164}", "{id}"].iter().any(|p| template.contains(p));
            for caller in &callers {
                let status = call(&app, Some(caller), method, path).await;
                if status.is_server_error() {
                    failures.push(format!("{} {method} {template}: {status}", caller.name));
                }
                // Another tenant learns nothing about Globex's object: refused, and answered
                // exactly as for an object that does not exist (a body checked before the
                // object is the same 422 either way).
                if caller.name.starts_with("other tenant") && names_globex_object {
                    let unknown = call(&app, Some(caller), method, absent_path).await;
                    if !status.is_client_error() || status != unknown {
                        failures.push(format!(
                            "{} {method} {template}: {status} on Globex's object, {unknown} on none",
                            caller.name
                        ));
                    }
                }
                if *method == Method::GET && status.is_success() {
                    readers
                        .entry(template.clone())
                        .or_default()
                        .push(caller.name);
                }
            }
        }
        for (template, _, _, method) in &routes {
            if *method != Method::GET || PUBLIC.contains(&template.as_str()) {
                continue;
            }
            let who = readers.get(template).cloned().unwrap_or_default();
            // A tenant user reads nothing its own admin cannot.
            if who.contains(&"tenant user") && !who.contains(&"tenant admin") {
                failures.push(format!(
                    "GET {template}: the tenant user may, its admin may not: {who:?}"
                ));
            }
            // A route no role can read is dead or untested. Exceptions: made-up objects, a
            // RingCX page with no RingCX connection, an ownership check, which only a
            // tenant's own external numbers have (this test's number is the reseller's; see
            // ownership.rs), and `/`, which redirects each role home.
            let made_up = [
                "/approvals/",
                "/connections/{id}",
                "/uploads/{id}",
                "/carriers/{id}",
                "/ringcx-pool",
                "/ownership",
            ]
            .iter()
            .any(|p| template.contains(p))
                || template == "/";
            if who.is_empty() && !made_up {
                failures.push(format!("GET {template}: no role gets a 2xx"));
            }
        }
        let visited = routes.len();
        println!("{visited} route methods; readers: {readers:#?}");
        assert!(visited > paths.len(), "{visited} route methods");
        assert!(
            failures.is_empty(),
            "{} of {visited}:\n{}",
            failures.len(),
            failures.join("\n")
        );
    })
}
