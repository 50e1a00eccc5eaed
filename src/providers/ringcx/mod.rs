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

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

mod auth;
mod platform;
mod pool;

pub use pool::{BulkUpdateReport, PoolPage, UploadReport, pool_record};

use super::http::{OutboundPolicy, PlatformHttp};
use super::{ProviderError, ProviderErrorKind};
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
        let tokens = Arc::new(auth::RcExchange::new(&config));
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
