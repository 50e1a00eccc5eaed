//! Single sign-on against an OpenID provider over real HTTP (the simulator, signing with real
//! RS256 keys): a first sign-in creates the user with its mapped role, an existing user is
//! linked, tokens that cannot be trusted are refused (bad signature, another audience,
//! expired, an address outside the provider's domains), a rotated key is fetched, a replayed
//! callback is refused, a disabled user stays out, and a required provider refuses passwords
//! but not API tokens.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::common::{Api, TestApp, error_code, spawn_app};
use inward::providers::simulator::oidc;

/// The OpenID provider simulator on a port of its own.
pub struct Idp {
    pub issuer: String,
    http: reqwest::Client,
}

impl Idp {
    pub async fn start() -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let router = oidc::router(oidc::SimState::new().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Idp {
            issuer,
            http: reqwest::Client::new(),
        }
    }

    pub async fn control(&self, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/__sim/oidc", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        r.json().await.unwrap()
    }

    pub async fn report(&self) -> Value {
        let r = self
            .http
            .get(format!("{}/__sim/oidc", self.issuer))
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    pub async fn claims(&self, email: &str, claims: Value) {
        let r = self
            .http
            .post(format!("{}/__sim/oidc/users", self.issuer))
            .json(&json!({ "email": email, "claims": claims }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
}

/// The operator sets up `idp` for globex, for globex.test.
pub async fn globex_provider(app: &TestApp, idp: &Idp, extra: Value) -> Value {
    let operator = app.api("operator@inward.test").await;
    let mut body = json!({
        "organization": "globex",
        "name": "Globex sign-in",
        "issuer": idp.issuer,
        "client_id": oidc::CLIENT_ID,
        "client_secret": oidc::CLIENT_SECRET,
        "domains": ["globex.test"],
        "role_claim": "groups",
        "role_map": { "inward-admins": "tenant_admin" },
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, made) = operator.post("/api/v1/identity-providers", body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    made
}

/// The operator sets up a provider for globex at an issuer nobody answers (port 9): enough for
/// tests that never sign in through it.
pub async fn unanswered_globex_provider(app: &TestApp) -> Value {
    let operator = app.api("operator@inward.test").await;
    let (status, made) = operator
        .post(
            "/api/v1/identity-providers",
            json!({ "organization": "globex", "name": "Globex", "issuer": "http://127.0.0.1:9",
                    "client_id": "inward", "client_secret": "s", "domains": ["globex.test"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    made
}

/// How a sign-in through the provider ended.
pub struct Ended {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
    /// The provider's redirect back to Inward, as the browser followed it.
    pub callback: Option<String>,
    pub http: reqwest::Client,
}

impl Ended {
    pub fn signed_in(&self) -> bool {
        self.status == StatusCode::SEE_OTHER && self.location.as_deref() == Some("/")
    }
}

fn location(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_string())
}

/// A browser choosing "Sign in with your company account" as `email`, following the
/// redirects to the provider and back.
pub async fn sign_in_through(app: &TestApp, email: &str) -> Ended {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(app.url("/login")).send().await.unwrap();
    let page = page.text().await.unwrap();
    let token = page
        .split("name=\"login_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let start = http
        .post(app.url("/login/sso"))
        .form(&[
            ("email", email),
            ("password", ""),
            ("next", "/"),
            ("login_token", &token),
        ])
        .send()
        .await
        .unwrap();
    let status = start.status();
    let page = start.text().await.unwrap();
    // The hand-off page moves on to the provider by itself (and offers a link).
    let to_provider = page
        .split("id=\"continue\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|href| href.replace("&#38;", "&").replace("&amp;", "&"))
        .filter(|_| status == StatusCode::OK);
    let Some(to_provider) = to_provider else {
        return Ended {
            status,
            location: None,
            body: page,
            callback: None,
            http,
        };
    };
    assert!(page.contains("http-equiv=\"refresh\""), "{page}");
    let at_provider = http.get(&to_provider).send().await.unwrap();
    assert_eq!(at_provider.status(), StatusCode::SEE_OTHER, "{to_provider}");
    let callback = location(&at_provider).unwrap();
    assert!(
        callback.starts_with(&app.url("/login/sso/callback")),
        "{callback}"
    );
    let back = http.get(&callback).send().await.unwrap();
    Ended {
        status: back.status(),
        location: location(&back),
        body: back.text().await.unwrap(),
        callback: Some(callback),
        http,
    }
}

/// Who the browser is signed in as, if anyone: the page's account link.
async fn signed_in_as(http: &reqwest::Client, app: &TestApp) -> Option<String> {
    let r = http.get(app.url("/account")).send().await.unwrap();
    if r.status() != StatusCode::OK {
        return None;
    }
    let page = r.text().await.unwrap();
    page.split("id=\"account-link\"")
        .nth(1)
        .and_then(|rest| rest.split('>').nth(1))
        .and_then(|rest| rest.split('<').next())
        .map(str::to_string)
}

async fn user(admin: &Api, email: &str) -> Option<Value> {
    let (status, body) = admin.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .cloned()
}

#[test]
fn a_first_sign_in_creates_the_user_with_its_mapped_role_and_links_existing_ones() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let idp = Idp::start().await;
        globex_provider(&app, &idp, json!({})).await;
        idp.claims(
            "lead@globex.test",
            json!({ "groups": ["sales", "inward-admins"] }),
        )
        .await;

        let lead = sign_in_through(&app, "lead@globex.test").await;
        assert!(lead.signed_in(), "{} {}", lead.status, lead.body);
        assert_eq!(
            signed_in_as(&lead.http, &app).await.as_deref(),
            Some("lead@globex.test")
        );
        let agent = sign_in_through(&app, "new.agent@globex.test").await;
        assert!(agent.signed_in(), "{}", agent.body);

        let admin = app.api("admin@globex.test").await;
        let lead_row = user(&admin, "lead@globex.test").await.unwrap();
        assert_eq!(lead_row["role"], "tenant_admin", "mapped from its groups");
        assert_eq!(
            user(&admin, "new.agent@globex.test").await.unwrap()["role"],
            "tenant_user",
            "no mapped group: the lowest role"
        );
        let created: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'USER_CREATE'
             AND details->>'via' = 'single sign-on'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(created, 2);

        // Again: the same user, found by the provider's subject.
        let again = sign_in_through(&app, "lead@globex.test").await;
        assert!(again.signed_in(), "{}", again.body);
        let (_, users) = admin.get("/api/v1/users").await;
        let leads = users["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["email"] == "lead@globex.test")
            .count();
        assert_eq!(leads, 1);

        // An existing user of the organization is linked; its role is the one its groups give.
        idp.claims("admin@globex.test", json!({ "groups": ["inward-admins"] }))
            .await;
        let existing = sign_in_through(&app, "admin@globex.test").await;
        assert!(existing.signed_in(), "{}", existing.body);
        let linked: Option<String> =
            sqlx::query_scalar("SELECT sso_subject FROM users WHERE email = 'admin@globex.test'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert!(linked.is_some_and(|s| s.starts_with("sim-")));
        assert_eq!(
            user(&admin, "admin@globex.test").await.unwrap()["role"],
            "tenant_admin"
        );

        // The company takes the lead's admin group away: the next sign-in brings the role down.
        idp.claims("lead@globex.test", json!({ "groups": ["sales"] }))
            .await;
        assert!(sign_in_through(&app, "lead@globex.test").await.signed_in());
        assert_eq!(
            user(&admin, "lead@globex.test").await.unwrap()["role"],
            "tenant_user"
        );

        // Under another issuer the same subject may be someone else: the links go, and each
        // user is linked again by its verified email.
        let other = Idp::start().await;
        let operator = app.api("operator@inward.test").await;
        let (_, listed) = operator.get("/api/v1/identity-providers").await;
        let path = format!(
            "/api/v1/identity-providers/{}",
            listed["identity_providers"][0]["id"].as_str().unwrap()
        );
        let (status, body) = operator
            .patch(&path, json!({ "issuer": other.issuer }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let linked: i64 =
            sqlx::query_scalar("SELECT count(*) FROM users WHERE sso_subject IS NOT NULL")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(linked, 0);
        assert!(sign_in_through(&app, "lead@globex.test").await.signed_in());

        // A user made by single sign-on has no password to sign in with.
        let by_password = crate::common::sign_in(
            &reqwest::Client::new(),
            &app.url(""),
            &[
                ("email", "lead@globex.test"),
                ("password", ""),
                ("next", "/"),
            ],
        )
        .await;
        assert_eq!(by_password.status(), StatusCode::UNAUTHORIZED);
    })
}

#[test]
fn tokens_that_cannot_be_trusted_are_refused() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let idp = Idp::start().await;
        globex_provider(&app, &idp, json!({})).await;
        let cases = [
            (
                json!({ "bad_signature": true }),
                "signature does not verify",
            ),
            (json!({ "hs256": true }), "cannot trust"),
            (json!({ "audience": "someone-else" }), "another application"),
            (json!({ "expired": true }), "expired"),
            (json!({ "email_verified": false }), "not verified"),
            (
                json!({ "email": "boss@initech.test" }),
                "not an address of the domains",
            ),
        ];
        for (set, said) in cases {
            idp.control(json!({ "set": set })).await;
            let ended = sign_in_through(&app, "mallory@globex.test").await;
            assert!(!ended.signed_in(), "{set}: signed in");
            assert!(
                matches!(
                    ended.status,
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                ),
                "{set}: {}",
                ended.status
            );
            assert!(ended.body.contains(said), "{set}: {}", ended.body);
            assert!(
                ended.body.contains("<form"),
                "the sign-in page, in its layout"
            );
            assert_eq!(signed_in_as(&ended.http, &app).await, None, "{set}");
        }
        for email in ["mallory@globex.test", "boss@initech.test"] {
            let made: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = $1")
                .bind(email)
                .fetch_one(&app.pool)
                .await
                .unwrap();
            assert_eq!(made, 0, "{email} was created");
        }
        idp.control(json!({ "set": {} })).await;
        assert!(
            sign_in_through(&app, "mallory@globex.test")
                .await
                .signed_in()
        );
    })
}

#[test]
fn a_rotated_key_is_fetched_and_a_replayed_callback_is_refused() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let idp = Idp::start().await;
        globex_provider(&app, &idp, json!({})).await;
        let first = sign_in_through(&app, "agent@globex.test").await;
        assert!(first.signed_in(), "{}", first.body);
        assert_eq!(idp.report().await["jwks_served"], 1);

        // The same callback again, from a browser holding the same state cookie.
        let callback = first.callback.unwrap();
        let state = url::Url::parse(&callback)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let replay = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(&callback)
            .header(COOKIE, format!("inward_sso={state}"))
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), StatusCode::FORBIDDEN);
        assert!(
            replay
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .all(|c| !c.to_str().unwrap().starts_with("inward_session="))
        );
        assert!(replay.text().await.unwrap().contains("already been used"));

        // The provider rotates its key: the next token names a key Inward has not seen, so
        // the keys are fetched again, once.
        let rotated = idp.control(json!({ "rotate": true })).await;
        assert_eq!(rotated["kid"], "key-2");
        let after = sign_in_through(&app, "agent@globex.test").await;
        assert!(after.signed_in(), "{}", after.body);
        assert_eq!(idp.report().await["jwks_served"], 2);
        let again = sign_in_through(&app, "agent@globex.test").await;
        assert!(again.signed_in(), "{}", again.body);
        assert_eq!(idp.report().await["jwks_served"], 2, "kept while it serves");

        // A callback that did not start in this browser is refused too.
        let stranger = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(after.callback.unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(stranger.status(), StatusCode::FORBIDDEN);
    })
}

#[test]
fn a_disabled_user_and_an_unknown_domain_stay_out() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let idp = Idp::start().await;
        globex_provider(&app, &idp, json!({})).await;
        let admin = app.api("admin@globex.test").await;
        let agent = user(&admin, "agent@globex.test").await.unwrap();
        let (status, body) = admin
            .post(
                &format!("/api/v1/users/{}/disable", agent["id"].as_str().unwrap()),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let ended = sign_in_through(&app, "agent@globex.test").await;
        assert_eq!(ended.status, StatusCode::FORBIDDEN);
        assert!(ended.body.contains("disabled"), "{}", ended.body);

        let unknown = sign_in_through(&app, "someone@elsewhere.test").await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert!(
            unknown
                .body
                .contains("No company sign-in is set up for elsewhere.test"),
            "{}",
            unknown.body
        );
        // An account made with a password is joined only to an address the provider verified;
        // a new account needs no such word.
        idp.control(json!({ "set": { "omit_email_verified": true } }))
            .await;
        let unverified = sign_in_through(&app, "admin@globex.test").await;
        assert_eq!(unverified.status, StatusCode::FORBIDDEN);
        assert!(
            unverified
                .body
                .contains("does not say the address is verified"),
            "{}",
            unverified.body
        );
        assert!(
            sign_in_through(&app, "newcomer@globex.test")
                .await
                .signed_in()
        );
        idp.control(json!({ "set": {} })).await;

        // The provider now says another person holds an address already tied to someone.
        assert!(sign_in_through(&app, "admin@globex.test").await.signed_in());
        idp.control(json!({ "set": { "subject": "someone-new" } }))
            .await;
        let reassigned = sign_in_through(&app, "admin@globex.test").await;
        assert_eq!(reassigned.status, StatusCode::FORBIDDEN);
        assert!(
            reassigned.body.contains("belongs to another account"),
            "{}",
            reassigned.body
        );
        idp.control(json!({ "set": {} })).await;

        let not_email = sign_in_through(&app, "not an email").await;
        assert_eq!(not_email.status, StatusCode::BAD_REQUEST);
        assert!(not_email.body.contains("work email"), "{}", not_email.body);
    })
}

#[test]
fn a_required_provider_refuses_passwords_but_not_api_tokens() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let idp = Idp::start().await;
        let made = globex_provider(&app, &idp, json!({})).await;
        let path = format!(
            "/api/v1/identity-providers/{}",
            made["id"].as_str().unwrap()
        );
        let agent_api = app.api("agent@globex.test").await;
        let admin = app.api("admin@globex.test").await;

        // The tenant's admin sees its provider and may make it required, and nothing else.
        let (status, listed) = admin.get("/api/v1/identity-providers").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed["identity_providers"].as_array().unwrap().len(), 1);
        assert!(listed.to_string().find("client_secret").is_none());
        let (status, body) = admin
            .patch(&path, json!({ "issuer": "https://evil.example" }))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, body) = admin.patch(&path, json!({ "required": true })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["required"], true);
        let (status, _) = agent_api.get(&path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "users do not manage sign-in");
        let initech = app.api("admin@initech.test").await;
        let (status, body) = initech.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

        let refused = crate::common::sign_in(
            &reqwest::Client::new(),
            &app.url(""),
            &[
                ("email", "agent@globex.test"),
                ("password", crate::common::PASSWORD),
                ("next", "/"),
            ],
        )
        .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("signs in with its company account")
        );
        // Other tenants' passwords still work, and the agent's API token too.
        app.browser("agent@initech.test").await;
        let (status, _) = agent_api.get("/api/v1/numbers").await;
        assert_eq!(status, StatusCode::OK);
        assert!(sign_in_through(&app, "agent@globex.test").await.signed_in());

        let (status, body) = admin.patch(&path, json!({ "required": false })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app.browser("agent@globex.test").await;
    })
}

#[test]
fn the_operator_manages_providers_and_bad_input_is_refused() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let idp = Idp::start().await;
        let operator = app.api("operator@inward.test").await;
        let good = json!({
            "organization": "initech", "name": "Initech", "issuer": idp.issuer,
            "client_id": "inward", "client_secret": "s", "domains": ["initech.test"],
        });
        let with = |k: &str, v: Value| {
            let mut b = good.clone();
            b[k] = v;
            b
        };
        for (body, field) in [
            (with("organization", json!("nobody")), "organization"),
            (with("issuer", json!("https://10.1.2.3")), "issuer"),
            (with("issuer", json!("ftp://idp.example.com")), "issuer"),
            (with("domains", json!(["com"])), "domains"),
            (with("domains", json!([])), "domains"),
            (with("name", json!(" ")), "name"),
            (with("client_secret", json!("")), "client_secret"),
            (with("role_map", json!({ "x": "operator" })), "role_map"),
            (with("role_map", json!(["tenant_admin"])), "role_map"),
        ] {
            let (status, err) = operator.post("/api/v1/identity-providers", body).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {err}");
            assert_eq!(err["error"]["details"]["field"], field, "{err}");
        }
        let (status, err) = operator
            .post("/api/v1/identity-providers", with("bogus", json!(1)))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");

        let (status, made) = operator
            .post("/api/v1/identity-providers", good.clone())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let (status, err) = operator
            .post(
                "/api/v1/identity-providers",
                with("domains", json!(["other.test", "Initech.test"])),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{err}");
        assert_eq!(error_code(&err), "domain_taken");
        let (_, listed) = operator.get("/api/v1/identity-providers").await;
        assert_eq!(listed["identity_providers"].as_array().unwrap().len(), 1);

        let tenant_admin = app.api("admin@initech.test").await;
        let (status, _) = tenant_admin
            .post("/api/v1/identity-providers", good.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let path = format!(
            "/api/v1/identity-providers/{}",
            made["id"].as_str().unwrap()
        );
        let (status, _) = tenant_admin.delete(&path).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, changed) = operator
            .patch(
                &path,
                json!({ "domains": ["initech.test", "initech.example"], "client_secret": "t" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(
            changed["domains"],
            json!(["initech.example", "initech.test"])
        );
        let (status, _) = operator.get("/api/v1/identity-providers/not-an-id").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = operator.delete(&path).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = operator.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let audited: i64 =
            sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'IDENTITY_PROVIDER'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(audited, 3, "created, changed, deleted");
    })
}

#[test]
fn the_company_sign_in_page_sets_up_shows_and_requires_a_provider() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let idp = Idp::start().await;
        let operator = app.browser("operator@inward.test").await;
        let (status, page) = operator.get("/identity-providers").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("No identity providers yet"));
        let mut fields = vec![
            ("organization", "globex"),
            ("name", "Globex sign-in"),
            ("issuer", "http://10.0.0.9"),
            ("client_id", oidc::CLIENT_ID),
            ("client_secret", oidc::CLIENT_SECRET),
            ("domains", "globex.test"),
            ("role_claim", "groups"),
            ("role_map", "inward-admins = tenant_admin"),
            ("required", "false"),
        ];
        let refused = operator.post_form("/identity-providers", &fields).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = refused.text().await.unwrap();
        assert!(body.contains("id=\"issuer-error\""), "{body}");
        assert!(
            body.contains("value=\"Globex sign-in\""),
            "typed values kept"
        );
        fields[2].1 = &idp.issuer;
        let made = operator.post_form("/identity-providers", &fields).await;
        assert_eq!(made.status(), StatusCode::SEE_OTHER);
        let (_, page) = operator
            .get("/identity-providers?notice=provider_saved")
            .await;
        assert!(page.contains("Company sign-in saved"));
        assert!(page.contains("globex.test"));

        let admin = app.browser("admin@globex.test").await;
        let (status, page) = admin.get("/identity-providers").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Globex sign-in") && !page.contains("New identity provider"));
        let id: String = sqlx::query_scalar("SELECT id::text FROM identity_providers")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let required = admin
            .post_form(
                &format!("/identity-providers/{id}"),
                &[("required", "true")],
            )
            .await;
        assert_eq!(required.status(), StatusCode::SEE_OTHER);
        let (_, page) = admin.get("/identity-providers").await;
        assert!(page.contains("Allow passwords again"), "{page}");
        let forbidden = admin
            .post_form(&format!("/identity-providers/{id}"), &[("name", "Mine")])
            .await;
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
        assert!(
            forbidden
                .text()
                .await
                .unwrap()
                .contains("the operator changes the rest")
        );
        let agent = app.browser("agent@initech.test").await;
        let (status, _) = agent.get("/identity-providers").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    })
}

#[test]
fn a_discovery_document_naming_a_private_address_is_not_followed() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let idp = Idp::start().await;
        globex_provider(&app, &idp, json!({})).await;
        idp.control(json!({ "set": { "jwks_uri": "http://10.1.2.3/keys" } }))
            .await;
        let ended = sign_in_through(&app, "agent@globex.test").await;
        assert_eq!(ended.status, StatusCode::BAD_GATEWAY, "{}", ended.body);
        assert!(ended.body.contains("could not reach"), "{}", ended.body);
        assert!(
            !ended.body.contains("10.1.2.3"),
            "the page tells nothing of it"
        );
        assert_eq!(idp.report().await["jwks_served"], 0);
    })
}
