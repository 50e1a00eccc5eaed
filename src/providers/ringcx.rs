//! RingCentral RingCX (formerly Engage Voice), through its published admin API.
//!
//! Auth is two steps: a RingCentral token (`POST {rc}/restapi/oauth/token`, JWT bearer grant,
//! HTTP Basic client id/secret) exchanged at `POST {ringcx}/api/auth/login/rc/accesstoken`
//! for a RingCX token that lives five minutes; after that the RingCX refresh token is used at
//! `POST {ringcx}/api/auth/token/refresh` (the exchange allows only 5 requests a minute).
//!
//! Search is the account's DNIS pool (`POST v2/.../tnManager/searchDnis`, unassigned records).
//! RingCX routes a DNIS to a gate (Inward `queue`), a visual IVR or a cloud route profile (both
//! Inward `ivr`: a bare numeric id is a visual IVR, `crp-<id>` a cloud route profile). RingCX
//! has no extensions, and no endpoint that lists visual IVRs: those are addressed by id only.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::http::{
    MultipartFile, OutboundPolicy, PlatformHttp, Token, TokenSource, map_status, transport_error,
};
use super::{Activation, NumberRef, Platform, ProviderError, ProviderErrorKind, Routed};
use crate::domain::TenantId;
use crate::domain::{E164, Target, TargetKind};

const NAME: &str = "ringcx";
/// RingCX access tokens expire after five minutes; the exchange response does not say so.
const RINGCX_TOKEN_LIFETIME: Duration = Duration::from_secs(300);
const TN: &str = "/v1/admin/utilities/tnManager";
/// Prefix of cloud route profile ids among Inward `ivr` targets.
const CLOUD_ROUTE_PREFIX: &str = "crp-";

#[derive(Debug, Clone)]
pub struct RingCxConfig {
    /// `https://platform.ringcentral.com` or a simulator's address.
    pub rc_base: String,
    /// `https://ringcx.ringcentral.com` or a simulator's address; the API is under `/voice/api`.
    pub ringcx_base: String,
    pub jwt: String,
    pub client_id: String,
    pub client_secret: String,
    pub account_id: String,
}

impl RingCxConfig {
    pub const RC_BASE: &'static str = "https://platform.ringcentral.com";
    pub const RINGCX_BASE: &'static str = "https://ringcx.ringcentral.com";

    pub fn new(jwt: String, client_id: String, client_secret: String, account_id: String) -> Self {
        RingCxConfig {
            rc_base: Self::RC_BASE.into(),
            ringcx_base: Self::RINGCX_BASE.into(),
            jwt,
            client_id,
            client_secret,
            account_id,
        }
    }
}

/// The RingCentral token and the RingCX refresh token, kept between fetches.
#[derive(Default)]
struct Session {
    rc_token: Option<(String, Instant)>,
    refresh_token: Option<String>,
}

struct RcExchange {
    rc_base: String,
    ringcx_base: String,
    jwt: String,
    client_id: String,
    client_secret: String,
    session: Mutex<Session>,
}

fn json_body(text: &str, what: &str) -> Result<Value, ProviderError> {
    serde_json::from_str(text).map_err(|_| {
        ProviderError::new(
            NAME,
            ProviderErrorKind::Transient,
            format!("{what} response was not JSON"),
        )
    })
}

impl RcExchange {
    async fn post_form(
        &self,
        http: &reqwest::Client,
        url: &str,
        form: &[(&str, &str)],
        basic: bool,
    ) -> Result<(reqwest::StatusCode, String, Option<Duration>), ProviderError> {
        let mut request = http.post(url).form(form);
        if basic {
            request = request.basic_auth(&self.client_id, Some(&self.client_secret));
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(NAME, url, e))?;
        let status = response.status();
        let wait = super::http::retry_after(response.headers());
        Ok((status, response.text().await.unwrap_or_default(), wait))
    }

    /// Step one: a RingCentral access token from the JWT credential (reused while valid).
    async fn rc_token(&self, http: &reqwest::Client) -> Result<String, ProviderError> {
        let mut session = self.session.lock().await;
        if let Some((token, expires)) = &session.rc_token
            && *expires > Instant::now() + Duration::from_secs(60)
        {
            return Ok(token.clone());
        }
        let url = format!("{}/restapi/oauth/token", self.rc_base.trim_end_matches('/'));
        let (status, text, wait) = self
            .post_form(
                http,
                &url,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", &self.jwt),
                ],
                true,
            )
            .await?;
        if !status.is_success() {
            let mut err = map_status(NAME, status, &text, None);
            err.retry_after = wait;
            if matches!(status.as_u16(), 400 | 401) {
                err.kind = ProviderErrorKind::Unauthorized;
                err.message = "RingCentral refused the JWT credential or the app's client id/secret (JWT bearer grant)".into();
            }
            return Err(err);
        }
        let body = json_body(&text, "RingCentral token")?;
        let token = body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let expires_in = body["expires_in"].as_u64().unwrap_or(3600);
        session.rc_token = Some((
            token.clone(),
            Instant::now() + Duration::from_secs(expires_in),
        ));
        Ok(token)
    }

    /// Step two: the RingCX token for the RingCentral one (5 a minute: only when refresh fails).
    async fn exchange(&self, http: &reqwest::Client) -> Result<Value, ProviderError> {
        let rc_token = self.rc_token(http).await?;
        let url = format!(
            "{}/api/auth/login/rc/accesstoken?includeRefresh=true",
            self.ringcx_base.trim_end_matches('/')
        );
        let (status, text, wait) = self
            .post_form(
                http,
                &url,
                &[("rcAccessToken", &rc_token), ("rcTokenType", "Bearer")],
                false,
            )
            .await?;
        if !status.is_success() {
            let mut err = map_status(NAME, status, &text, None);
            err.retry_after = wait;
            if status.as_u16() == 401 {
                // A stale RingCentral token: the next attempt gets a new one.
                self.session.lock().await.rc_token = None;
                err.message = format!(
                    "RingCX did not accept the RingCentral token: is this RingCentral user a RingCX admin? ({})",
                    err.message
                );
            }
            return Err(err);
        }
        json_body(&text, "RingCX token exchange")
    }

    async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &str,
    ) -> Result<Option<Value>, ProviderError> {
        // The published API takes the refresh token as a query parameter, not in the body.
        let url = format!(
            "{}/api/auth/token/refresh?refresh_token={}",
            self.ringcx_base.trim_end_matches('/'),
            url::form_urlencoded::byte_serialize(refresh_token.as_bytes()).collect::<String>()
        );
        let (status, text, wait) = self.post_form(http, &url, &[], false).await?;
        if status.is_success() {
            return json_body(&text, "RingCX token refresh").map(Some);
        }
        if matches!(status.as_u16(), 400 | 401 | 403 | 404) {
            // The refresh token is spent or expired: fall back to a new exchange.
            return Ok(None);
        }
        let mut err = map_status(NAME, status, &text, None);
        err.retry_after = wait;
        Err(err)
    }
}

#[async_trait]
impl TokenSource for RcExchange {
    async fn fetch(
        &self,
        http: &reqwest::Client,
        previous: Option<&Token>,
    ) -> Result<Token, ProviderError> {
        let refresh_token = self.session.lock().await.refresh_token.clone();
        let mut details = None;
        if previous.is_some()
            && let Some(refresh_token) = refresh_token
        {
            details = self.refresh(http, &refresh_token).await?;
        }
        let details = match details {
            Some(d) => d,
            None => self.exchange(http).await?,
        };
        let access = details["accessToken"].as_str().unwrap_or_default();
        if access.is_empty() {
            return Err(ProviderError::new(
                NAME,
                ProviderErrorKind::Unauthorized,
                "RingCX returned no access token",
            ));
        }
        if let Some(refresh) = details["refreshToken"].as_str().filter(|r| !r.is_empty()) {
            self.session.lock().await.refresh_token = Some(refresh.to_string());
        }
        Ok(Token {
            access: access.to_string(),
            expires_at: Instant::now() + RINGCX_TOKEN_LIFETIME,
        })
    }
}

/// What a DNIS is routed to now, read from an `AssignedDnis`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Product {
    Gate(String),
    VisualIvr(String),
    CloudRouteProfile(String),
    /// A tracking number or something Inward does not route to.
    Other(String),
}

impl Product {
    fn from_assigned(body: &Value) -> Option<Product> {
        let id = |v: &Value| match v {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        if let Some(g) = id(&body["gate"]["gateId"]) {
            return Some(Product::Gate(g));
        }
        if let Some(v) = id(&body["visualIvr"]["visualIvrId"]) {
            return Some(Product::VisualIvr(v));
        }
        if let Some(c) = id(&body["cloudRouteProfile"]["cloudProfileId"]) {
            return Some(Product::CloudRouteProfile(c));
        }
        if body["tracNumber"].is_object() {
            return Some(Product::Other("tracking number".into()));
        }
        body["endPointType"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(|t| Product::Other(t.to_string()))
    }

    fn of_target(target: &Target) -> Result<Product, ProviderError> {
        match target.kind {
            TargetKind::Queue => Ok(Product::Gate(target.id.clone())),
            TargetKind::Ivr => Ok(match target.id.strip_prefix(CLOUD_ROUTE_PREFIX) {
                Some(id) => Product::CloudRouteProfile(id.to_string()),
                None => Product::VisualIvr(target.id.clone()),
            }),
            TargetKind::Extension => Err(no_extensions()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Product::Gate(id) => format!("queue (gate) {id}"),
            Product::VisualIvr(id) => format!("visual IVR {id}"),
            Product::CloudRouteProfile(id) => format!("cloud route profile {id}"),
            Product::Other(what) => what.clone(),
        }
    }
}

fn no_extensions() -> ProviderError {
    ProviderError::new(
        NAME,
        ProviderErrorKind::Unsupported,
        "RingCX has no extensions: it routes numbers to queues (gates), visual IVRs and cloud route profiles",
    )
}

/// RingCX's `dnis`: the number's digits without `+` (NANP numbers with the leading 1).
fn dnis_of(number: &E164) -> String {
    number.as_str().trim_start_matches('+').to_string()
}

fn e164_of(record: &Value) -> Option<E164> {
    if let Some(e) = record["dnisE164"].as_str()
        && let Ok(n) = E164::parse(e)
    {
        return Some(n);
    }
    let digits = record["dnis"].as_str()?;
    let candidate = if digits.len() == 10 {
        format!("+1{digits}")
    } else {
        format!("+{digits}")
    };
    E164::parse(&candidate).ok()
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

pub struct RingCx {
    http: PlatformHttp,
    account_id: String,
}

impl RingCx {
    pub fn new(config: RingCxConfig, retry: OutboundPolicy) -> Self {
        let tokens = Arc::new(RcExchange {
            rc_base: config.rc_base,
            ringcx_base: config.ringcx_base.clone(),
            jwt: config.jwt,
            client_id: config.client_id,
            client_secret: config.client_secret,
            session: Mutex::new(Session::default()),
        });
        // RingCX allows 120 requests a minute: 100 a minute plus a burst of 20 stays under it.
        let http = PlatformHttp::new(
            NAME,
            format!("{}/voice/api", config.ringcx_base.trim_end_matches('/')),
            tokens,
            100,
            retry,
            "x-request-id",
        )
        .with_burst(100, 20);
        RingCx {
            http,
            account_id: config.account_id,
        }
    }

    /// The RingCX account this connection works in.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    fn account_path(&self) -> String {
        url::form_urlencoded::byte_serialize(self.account_id.as_bytes()).collect()
    }

    async fn gates(&self) -> Result<Vec<Target>, ProviderError> {
        let path = format!(
            "/v1/admin/accounts/{}/gateGroups/withChildren",
            self.account_path()
        );
        let body = self.http.get(&path, &[]).await?.body;
        let mut out = Vec::new();
        for group in body.as_array().into_iter().flatten() {
            for gate in group["gates"].as_array().into_iter().flatten() {
                if let Some(id) = id_text(&gate["gateId"]) {
                    out.push(Target {
                        kind: TargetKind::Queue,
                        id,
                        name: gate["gateName"].as_str().unwrap_or_default().to_string(),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn cloud_route_profiles(&self) -> Result<Vec<Target>, ProviderError> {
        let path = format!(
            "/v2-skinny/admin/accounts/{}/cloudRouteProfileGroups/withChildren",
            self.account_path()
        );
        let body = self.http.get(&path, &[]).await?.body;
        let mut out = Vec::new();
        for group in body.as_array().into_iter().flatten() {
            for profile in group["cloudRouteProfiles"].as_array().into_iter().flatten() {
                if profile["isDeleted"] == true {
                    continue;
                }
                if let Some(id) = id_text(&profile["cloudProfileId"]) {
                    out.push(Target {
                        kind: TargetKind::Ivr,
                        id: format!("{CLOUD_ROUTE_PREFIX}{id}"),
                        name: format!(
                            "{} (cloud route profile)",
                            profile["profileName"].as_str().unwrap_or_default()
                        ),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The DNIS's current assignment; `None` when it is not assigned (RingCX answers 404).
    async fn assignment(&self, number: &E164) -> Result<Option<Product>, ProviderError> {
        let path = format!("{TN}/assignedDnis/{}", dnis_of(number));
        match self.http.get(&path, &[]).await {
            Ok(r) => Ok(Product::from_assigned(&r.body)),
            Err(e) if e.kind == ProviderErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn search(&self, dnis_state: &str, text: &str) -> Result<Vec<Value>, ProviderError> {
        let body = json!({
            "accountIds": [self.account_id],
            "dnisState": dnis_state,
            "searchText": text,
        });
        let r = self
            .http
            .send(
                Method::POST,
                "/v2/admin/utilities/tnManager/searchDnis",
                &[],
                Some(&body),
            )
            .await?;
        let mut records = Vec::new();
        if let Some(entries) = r.body["entries"].as_object() {
            for account in entries.values() {
                records.extend(account["records"].as_array().cloned().unwrap_or_default());
            }
        }
        Ok(records)
    }
}

/// One page of the DNIS pool (`tnManager/search`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PoolPage {
    pub records: Vec<Value>,
    /// RingCX's `totalCount` when it was asked to count (`count=true`).
    pub total: Option<u64>,
}

/// RingCX's report on an uploaded DNIS file (`DnisResponseValidation`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadReport {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_message: Vec<String>,
    #[serde(default)]
    pub total_records: u64,
    #[serde(default)]
    pub valid_records: u64,
    #[serde(default)]
    pub validated: bool,
}

/// RingCX's answer to a bulk update (`DnisBulkUpdateRespose`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkUpdateReport {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub updated_rows: Option<String>,
}

/// A new DNIS pool record (`DnisPool`) reserved for `account_id` (`reservedAccountId`, the
/// account that owns it): RingCX needs the digits; the rest is optional.
pub fn pool_record(account_id: &str, number: &E164, description: Option<&str>) -> Value {
    let mut record = json!({
        "dnis": dnis_of(number),
        "dnisE164": number.as_str(),
        "active": true,
        "dnisCategory": "VOICE",
        "reservedAccountId": account_id,
    });
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        record["dnisDescription"] = json!(d);
    }
    record
}

/// DNIS pool and tracking numbers: RingCX-only, so inherent methods rather than `Platform`.
impl RingCx {
    fn pool_record_list(body: &Value) -> Vec<Value> {
        match body {
            Value::Array(records) => records.clone(),
            Value::Object(map) => {
                // `entries` keyed by account (as `searchDnis`) or a flat `records` list.
                if let Some(entries) = map.get("entries").and_then(Value::as_object) {
                    entries
                        .values()
                        .flat_map(|a| a["records"].as_array().cloned().unwrap_or_default())
                        .collect()
                } else {
                    map.get("records")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                }
            }
            _ => Vec::new(),
        }
    }

    /// `POST tnManager/search?count=&page=&maxRows=`: the account's pool records whose DNIS
    /// contains `dnis_filter` (`TnManagerSearchCriteria`).
    pub async fn pool_search(
        &self,
        dnis_filter: &str,
        page: u32,
        max_rows: u32,
    ) -> Result<PoolPage, ProviderError> {
        let mut criteria = json!({
            "accountIds": [self.account_id],
            "criteriaType": "TFN_DID_MANAGER_CRITERIA",
        });
        if !dnis_filter.is_empty() {
            criteria["dnisFilter"] = json!(dnis_filter);
        }
        let query = [
            ("count", "true".to_string()),
            ("page", page.to_string()),
            ("maxRows", max_rows.to_string()),
        ];
        let r = self
            .http
            .send(
                Method::POST,
                &format!("{TN}/search"),
                &query,
                Some(&criteria),
            )
            .await?;
        Ok(PoolPage {
            records: Self::pool_record_list(&r.body),
            total: r.body["totalCount"].as_u64(),
        })
    }

    /// `POST tnManager/dnisPool` (SUPER_USER): creates pool records; returns them as stored.
    /// When the answer is lost the records are looked up by their DNIS, the pool's natural
    /// key, rather than created again: all of them there means the create landed.
    pub async fn pool_create(&self, records: &[Value]) -> Result<Vec<Value>, ProviderError> {
        let body = Value::Array(records.to_vec());
        match self
            .http
            .send(Method::POST, &format!("{TN}/dnisPool"), &[], Some(&body))
            .await
        {
            Ok(r) => Ok(Self::pool_record_list(&r.body)),
            Err(err) if err.may_have_applied() => {
                let mut found = Vec::with_capacity(records.len());
                for record in records {
                    let Some(dnis) = record["dnis"].as_str() else {
                        return Err(err);
                    };
                    let page = self.pool_search(dnis, 0, 10).await?;
                    match page.records.into_iter().find(|r| r["dnis"] == dnis) {
                        Some(stored) => found.push(stored),
                        None => return Err(err),
                    }
                }
                tracing::info!(
                    records = found.len(),
                    "RingCX lost the answer to a pool create that landed"
                );
                Ok(found)
            }
            Err(err) => Err(err),
        }
    }

    /// `PUT tnManager/dnisPool`: replaces one record's fields.
    pub async fn pool_update(&self, record: &Value) -> Result<Vec<Value>, ProviderError> {
        let body = json!([record]);
        let r = self
            .http
            .send(Method::PUT, &format!("{TN}/dnisPool"), &[], Some(&body))
            .await?;
        Ok(Self::pool_record_list(&r.body))
    }

    /// `POST tnManager/uploadDnisPool?fileType=COMMA`, the CSV as the multipart `file` part.
    pub async fn pool_upload_csv(&self, csv: &[u8]) -> Result<UploadReport, ProviderError> {
        let r = self
            .http
            .send_multipart(
                Method::POST,
                &format!("{TN}/uploadDnisPool"),
                &[("fileType", "COMMA".to_string())],
                MultipartFile {
                    field: "file",
                    file_name: "dnis.csv",
                    content_type: "text/csv",
                    bytes: csv,
                },
            )
            .await?;
        let status = if r.body["uploadStatus"].is_object() {
            &r.body["uploadStatus"]
        } else {
            &r.body
        };
        serde_json::from_value(status.clone()).map_err(|_| {
            ProviderError::new(
                NAME,
                ProviderErrorKind::Transient,
                "RingCX answered the upload without a report",
            )
        })
    }

    /// `PUT tnManager/updateBulkDnisPool`: the same change to many records (`DnisPool` list).
    pub async fn pool_bulk_update(
        &self,
        records: &[Value],
    ) -> Result<BulkUpdateReport, ProviderError> {
        let body = Value::Array(records.to_vec());
        let r = self
            .http
            .send(
                Method::PUT,
                &format!("{TN}/updateBulkDnisPool"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(serde_json::from_value(r.body).unwrap_or(BulkUpdateReport {
            message: None,
            status: None,
            updated_rows: None,
        }))
    }

    /// `GET accounts/{id}/tracGroups/withChildren`: tracking-number groups with their numbers.
    pub async fn tracking_groups(&self) -> Result<Vec<Value>, ProviderError> {
        let path = format!(
            "/v1/admin/accounts/{}/tracGroups/withChildren",
            self.account_path()
        );
        let body = self.http.get(&path, &[]).await?.body;
        Ok(body.as_array().cloned().unwrap_or_default())
    }

    /// `GET accounts/{id}/tracGroups/{group}/tracNumbers`.
    pub async fn tracking_numbers(&self, group: i64) -> Result<Vec<Value>, ProviderError> {
        let path = format!(
            "/v1/admin/accounts/{}/tracGroups/{group}/tracNumbers",
            self.account_path()
        );
        let body = self.http.get(&path, &[]).await?.body;
        Ok(body.as_array().cloned().unwrap_or_default())
    }

    /// `POST accounts/{id}/tracGroups/{group}/tracNumbers` (`TracNumber`): a tracking number
    /// in the group; RingCX answers with the record and its `tracId`.
    pub async fn create_tracking_number(
        &self,
        group: i64,
        description: &str,
        outbound_caller_id: Option<&E164>,
    ) -> Result<Value, ProviderError> {
        let path = format!(
            "/v1/admin/accounts/{}/tracGroups/{group}/tracNumbers",
            self.account_path()
        );
        let mut body = json!({ "accountId": self.account_id, "description": description });
        let caller_id = outbound_caller_id.map(dnis_of);
        if let Some(digits) = &caller_id {
            body["outboundCallerId"] = json!(digits);
        }
        // Sending the POST again after a lost answer could make a second tracking number, and
        // a tracking number has no natural key: the group's numbers are read before, so that
        // afterwards the one created is the new one with this description.
        let before: Vec<Value> = self.tracking_numbers(group).await?;
        let known: std::collections::HashSet<i64> =
            before.iter().filter_map(|t| t["tracId"].as_i64()).collect();
        match self.http.send(Method::POST, &path, &[], Some(&body)).await {
            Ok(r) => Ok(r.body),
            Err(err) if err.may_have_applied() => {
                let mut new: Vec<Value> = self
                    .tracking_numbers(group)
                    .await?
                    .into_iter()
                    .filter(|t| {
                        t["tracId"].as_i64().is_some_and(|id| !known.contains(&id))
                            && t["description"] == description
                            && caller_id
                                .as_ref()
                                .is_none_or(|digits| t["outboundCallerId"] == digits.as_str())
                    })
                    .collect();
                if new.len() == 1 {
                    tracing::info!(
                        group,
                        "RingCX lost the answer to a tracking number it created"
                    );
                    Ok(new.remove(0))
                } else {
                    Err(err)
                }
            }
            Err(err) => Err(err),
        }
    }
}

#[async_trait]
impl Platform for RingCx {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn list_targets(
        &self,
        _tenant: TenantId,
        kind: Option<TargetKind>,
    ) -> Result<Vec<Target>, ProviderError> {
        let mut targets = Vec::new();
        if matches!(kind, None | Some(TargetKind::Queue)) {
            targets.extend(self.gates().await?);
        }
        // Visual IVRs have no list endpoint: only cloud route profiles are listed as `ivr`.
        if matches!(kind, None | Some(TargetKind::Ivr)) {
            targets.extend(self.cloud_route_profiles().await?);
        }
        Ok(targets)
    }

    async fn find_target(
        &self,
        tenant: TenantId,
        kind: TargetKind,
        id: &str,
    ) -> Result<Option<Target>, ProviderError> {
        let numeric =
            |s: &str| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
        match kind {
            TargetKind::Extension => Err(no_extensions()),
            TargetKind::Queue if numeric(id) => Ok(self
                .list_targets(tenant, Some(kind))
                .await?
                .into_iter()
                .find(|t| t.id == id)),
            TargetKind::Ivr => match id.strip_prefix(CLOUD_ROUTE_PREFIX) {
                Some(rest) if numeric(rest) => Ok(self
                    .cloud_route_profiles()
                    .await?
                    .into_iter()
                    .find(|t| t.id == id)),
                // A visual IVR, by id only: RingCX cannot list them; the assignment checks it.
                None if numeric(id) => Ok(Some(Target {
                    kind,
                    id: id.to_string(),
                    name: format!("Visual IVR {id}"),
                })),
                _ => Ok(None),
            },
            _ => Ok(None),
        }
    }

    async fn find_target_by_name(
        &self,
        tenant: TenantId,
        kind: TargetKind,
        name: &str,
    ) -> Result<Option<Target>, ProviderError> {
        if kind == TargetKind::Extension {
            return Err(no_extensions());
        }
        let wanted = name.trim();
        Ok(self
            .list_targets(tenant, Some(kind))
            .await?
            .into_iter()
            .find(|t| {
                t.name.eq_ignore_ascii_case(wanted)
                    || t.name
                        .strip_suffix(" (cloud route profile)")
                        .is_some_and(|n| n.eq_ignore_ascii_case(wanted))
            }))
    }

    async fn create_extension(
        &self,
        _tenant: TenantId,
        _name: &str,
    ) -> Result<Target, ProviderError> {
        Err(no_extensions())
    }

    async fn delete_target(
        &self,
        _tenant: TenantId,
        _target: &Target,
    ) -> Result<(), ProviderError> {
        // `create_extension` refuses on this platform, so there is never one to take back.
        Ok(())
    }

    fn activation_notice(&self, _state: Option<&str>) -> Option<String> {
        // Routing on the platform takes effect when assigned; the carrier is not in the way.
        None
    }

    async fn assign(
        &self,
        _tenant: TenantId,
        number: NumberRef<'_>,
        target: &Target,
        display_name: Option<&str>,
    ) -> Result<Activation, ProviderError> {
        let wanted = Product::of_target(target)?;
        // Our hold is ours alone: an admin in RingCX's own UI may have assigned the DNIS since.
        match self.assignment(number.e164).await? {
            Some(current) if current == wanted => return Ok(Activation::Immediate),
            Some(current) => {
                return Err(ProviderError::new(
                    NAME,
                    ProviderErrorKind::Conflict,
                    format!(
                        "{} is already assigned in RingCX to {}",
                        number.e164,
                        current.describe()
                    ),
                ));
            }
            None => {}
        }
        let path = match &wanted {
            Product::Gate(id) => format!("{TN}/assignedDnis/gates/{id}"),
            Product::VisualIvr(id) => format!("{TN}/assignedDnis/visualIvrs/{id}"),
            Product::CloudRouteProfile(id) => format!("{TN}/assignedDnis/cloudRouteProfiles/{id}"),
            Product::Other(_) => return Err(no_extensions()),
        };
        let body = json!([{
            "dnis": dnis_of(number.e164),
            "isActive": true,
            "dnisDescription": display_name.unwrap_or(&target.name),
        }]);
        match self.http.send(Method::PUT, &path, &[], Some(&body)).await {
            Ok(_) => Ok(Activation::Immediate),
            Err(mut e) if e.kind == ProviderErrorKind::NotFound => {
                e.message = format!(
                    "RingCX account {} has no {} (or {} is not in its DNIS pool): {}",
                    self.account_id,
                    wanted.describe(),
                    number.e164,
                    e.message
                );
                Err(e)
            }
            Err(mut e) if e.kind == ProviderErrorKind::Conflict => {
                e.message = format!(
                    "{} was assigned in RingCX by someone else meanwhile: {}",
                    number.e164, e.message
                );
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn unassign(&self, _tenant: TenantId, number: &E164) -> Result<(), ProviderError> {
        if self.assignment(number).await?.is_none() {
            return Ok(());
        }
        let path = format!("{TN}/assignedDnis/{}", dnis_of(number));
        match self.http.send(Method::DELETE, &path, &[], None).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ProviderErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn activation(&self, number: &E164) -> Result<Option<Activation>, ProviderError> {
        Ok(self
            .assignment(number)
            .await?
            .map(|_| Activation::Immediate))
    }

    /// Every assigned DNIS of the account: a gate is a queue, a visual IVR or cloud route
    /// profile an IVR; a tracking number is routed but to nothing Inward routes to.
    async fn routed_numbers(&self, tenant: TenantId) -> Result<Vec<Routed>, ProviderError> {
        let names: HashMap<String, String> = self
            .list_targets(tenant, None)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let mut routed = Vec::new();
        for record in self.search("ASSIGNED", "").await? {
            let Some(product) = record["assignedDnis"]
                .as_object()
                .and_then(|a| Product::from_assigned(&Value::Object(a.clone())))
            else {
                continue;
            };
            let Some(number) = e164_of(&record) else {
                continue;
            };
            let target = match &product {
                Product::Gate(id) => Some((TargetKind::Queue, id.clone())),
                Product::VisualIvr(id) => Some((TargetKind::Ivr, id.clone())),
                Product::CloudRouteProfile(id) => {
                    Some((TargetKind::Ivr, format!("{CLOUD_ROUTE_PREFIX}{id}")))
                }
                Product::Other(_) => None,
            };
            routed.push(Routed {
                e164: number.to_string(),
                described: product.describe(),
                targets: target
                    .map(|(kind, id)| Target {
                        kind,
                        name: names
                            .get(&id)
                            .cloned()
                            .unwrap_or_else(|| product.describe()),
                        id,
                    })
                    .into_iter()
                    .collect(),
            });
        }
        Ok(routed)
    }

    async fn unassigned_numbers(&self) -> Result<Vec<E164>, ProviderError> {
        Ok(self
            .search("UNASSIGNED", "")
            .await?
            .iter()
            .filter(|r| r["active"] != false)
            .filter(|r| {
                r["assignedDnis"]
                    .as_object()
                    .is_none_or(|a| Product::from_assigned(&Value::Object(a.clone())).is_none())
            })
            .filter_map(e164_of)
            .collect())
    }

    async fn target_exists(
        &self,
        tenant: TenantId,
        target: &Target,
    ) -> Result<bool, ProviderError> {
        match Product::of_target(target) {
            // Visual IVRs cannot be looked up: RingCX has no endpoint for them.
            Ok(Product::VisualIvr(_)) => Ok(true),
            Ok(_) => Ok(self
                .find_target(tenant, target.kind, &target.id)
                .await?
                .is_some()),
            Err(_) => Ok(false),
        }
    }

    async fn test_connection(&self, _tenant: TenantId) -> Result<String, ProviderError> {
        let gates = self.gates().await?;
        let profiles = self.cloud_route_profiles().await?;
        let unassigned = self.unassigned_numbers().await?;
        Ok(format!(
            "connected to RingCX account {}: {} queues (gates), {} cloud route profiles, {} unassigned DNIS",
            self.account_id,
            gates.len(),
            profiles.len(),
            unassigned.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_name_their_product() {
        let gate = json!({"dnis": "13175550100", "gate": {"gateId": 4567, "gateName": "Support"}});
        assert_eq!(
            Product::from_assigned(&gate),
            Some(Product::Gate("4567".into()))
        );
        let crp = json!({"cloudRouteProfile": {"cloudProfileId": 9}});
        assert_eq!(
            Product::from_assigned(&crp),
            Some(Product::CloudRouteProfile("9".into()))
        );
        assert_eq!(Product::from_assigned(&json!({"dnis": "1"})), None);
        let ivr = Target {
            kind: TargetKind::Ivr,
            id: "crp-9".into(),
            name: "x".into(),
        };
        assert_eq!(
            Product::of_target(&ivr).unwrap(),
            Product::CloudRouteProfile("9".into())
        );
    }

    #[test]
    fn dnis_and_e164_convert_both_ways() {
        let n = E164::parse("+13175550100").unwrap();
        assert_eq!(dnis_of(&n), "13175550100");
        assert_eq!(e164_of(&json!({"dnis": "3175550100"})), Some(n.clone()));
        assert_eq!(e164_of(&json!({"dnis": "13175550100"})), Some(n.clone()));
        assert_eq!(
            e164_of(&json!({"dnis": "x", "dnisE164": "+13175550100"})),
            Some(n)
        );
    }
}
