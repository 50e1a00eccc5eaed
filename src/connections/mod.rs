//! Tenant connections to their contact-center platform: what they are, how they are stored
//! (credentials sealed with `secrets::SecretBox`) and how an adapter is built from one.

pub mod api;
pub mod pages;
pub mod repo;
pub mod ringcx_pool;
pub mod routes;
pub mod sealing;
pub mod switch;
pub mod sync;

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::AppError;
use crate::providers::cxone::{Cxone, CxoneConfig};
use crate::providers::genesys::{Genesys, GenesysConfig};
use crate::providers::{Adapters, Platform};

/// What a connection's sealed credentials are bound to: a ciphertext copied to another
/// connection or tenant does not open there.
pub fn sealed_for(id: uuid::Uuid, tenant_id: crate::domain::TenantId) -> String {
    format!("connection:{id}:{tenant_id}")
}

/// Stored credentials that do not open: a configuration or tampering problem the tenant's
/// admin can mend by entering the credentials again, not a server fault.
pub fn unreadable(id: uuid::Uuid, err: crate::secrets::SecretError) -> AppError {
    tracing::error!(connection = %id, error = %err, "stored platform credentials do not open");
    AppError::conflict(
        "credentials_unreadable",
        format!(
            "the stored credentials of connection {id} cannot be opened ({err}); save the connection again with its credentials"
        ),
        serde_json::json!({ "connection_id": id }),
    )
}

/// NICE's issuer; the tenant's API host is discovered from it.
pub const CXONE_ISSUER: &str = "https://cxone.niceincontact.com";
use crate::providers::http::OutboundPolicy;
use crate::providers::ringcx::{RingCx, RingCxConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sandbox,
    Genesys,
    Cxone,
    RingCx,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sandbox => "sandbox",
            Kind::Genesys => "genesys",
            Kind::Cxone => "cxone",
            Kind::RingCx => "ringcx",
        }
    }

    /// The platform's name for people.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Sandbox => "the sandbox",
            Kind::Genesys => "Genesys Cloud CX",
            Kind::Cxone => "NICE CXone",
            Kind::RingCx => "RingCentral RingCX",
        }
    }

    pub fn parse(value: &str) -> Result<Kind, AppError> {
        match value {
            "sandbox" => Ok(Kind::Sandbox),
            "genesys" => Ok(Kind::Genesys),
            "cxone" => Ok(Kind::Cxone),
            "ringcx" => Ok(Kind::RingCx),
            other => Err(AppError::invalid_field(
                "kind",
                format!("unknown platform “{other}”: use genesys, cxone, ringcx or sandbox"),
            )),
        }
    }

    /// Credential fields each platform needs.
    pub fn credential_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Sandbox => &[],
            Kind::Genesys => &["client_id", "client_secret"],
            Kind::Cxone => &[
                "access_key_id",
                "access_key_secret",
                "client_id",
                "client_secret",
            ],
            Kind::RingCx => &["jwt", "client_id", "client_secret", "account_id"],
        }
    }

    /// Settings kept with the credentials that a platform may use but does not require.
    pub fn optional_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Cxone => &["default_script", "default_skill_id"],
            _ => &[],
        }
    }
}

/// A credential field's name for people, as the connection form labels it.
fn credential_label(field: &str) -> &str {
    match field {
        "client_id" => "the OAuth client id",
        "client_secret" => "the OAuth client secret",
        "access_key_id" => "the access key id",
        "access_key_secret" => "the access key secret",
        "jwt" => "the RingCentral JWT credential",
        "account_id" => "the RingCX account id",
        other => other,
    }
}

/// Genesys Cloud regions by their API domain (login host is `login.` + the same domain).
pub const GENESYS_REGIONS: [&str; 16] = [
    "mypurecloud.com",
    "use2.us-gov-pure.cloud",
    "usw2.pure.cloud",
    "cac1.pure.cloud",
    "mypurecloud.ie",
    "euw2.pure.cloud",
    "mypurecloud.de",
    "euc2.pure.cloud",
    "mec1.pure.cloud",
    "aps1.pure.cloud",
    "apne2.pure.cloud",
    "mypurecloud.jp",
    "apne3.pure.cloud",
    "mypurecloud.com.au",
    "sae1.pure.cloud",
    "apse1.pure.cloud",
];

#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionRequest {
    pub kind: String,
    pub region: Option<String>,
    pub base_url: Option<String>,
    #[serde(default)]
    pub credentials: Map<String, Value>,
    /// Saving another platform while numbers are routed on the current one needs this.
    #[serde(default)]
    pub confirm_switch: bool,
}

/// A request checked field by field; credentials keep only the fields the platform uses.
#[derive(Debug, Clone)]
pub struct ConnectionSpec {
    pub kind: Kind,
    pub region: Option<String>,
    pub base_url: Option<String>,
    pub credentials: Map<String, Value>,
}

impl ConnectionRequest {
    pub fn parse(&self) -> Result<ConnectionSpec, AppError> {
        let kind = Kind::parse(self.kind.trim())?;
        let region = self
            .region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        let base_url = self
            .base_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        if let Some(url) = &base_url {
            let parsed = url::Url::parse(url).map_err(|_| {
                AppError::invalid_field("base_url", format!("“{url}” is not a URL"))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(AppError::invalid_field(
                    "base_url",
                    "the base URL must be http or https",
                ));
            }
        }
        if kind == Kind::Genesys {
            match (&region, &base_url) {
                (None, None) => {
                    return Err(AppError::invalid_field(
                        "region",
                        "choose a Genesys Cloud region or give a base URL",
                    ));
                }
                (Some(r), None) if !GENESYS_REGIONS.contains(&r.as_str()) => {
                    return Err(AppError::invalid_field(
                        "region",
                        format!(
                            "unknown Genesys Cloud region “{r}”: use one of {}",
                            GENESYS_REGIONS.join(", ")
                        ),
                    ));
                }
                _ => {}
            }
        }
        let mut credentials = Map::new();
        for field in kind.credential_fields() {
            match self
                .credentials
                .get(*field)
                .and_then(Value::as_str)
                .map(str::trim)
            {
                Some(v) if !v.is_empty() && v.len() <= 4096 => {
                    credentials.insert(field.to_string(), Value::String(v.to_string()));
                }
                _ => {
                    return Err(AppError::invalid_field(
                        &format!("credentials.{field}"),
                        format!(
                            "{} is required for {}",
                            credential_label(field),
                            kind.label()
                        ),
                    ));
                }
            }
        }
        for field in kind.optional_fields() {
            let value = self
                .credentials
                .get(*field)
                .and_then(Value::as_str)
                .map(str::trim);
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                credentials.insert(field.to_string(), Value::String(v.to_string()));
            }
        }
        Ok(ConnectionSpec {
            kind,
            region,
            base_url,
            credentials,
        })
    }
}

/// Builds the adapters for a stored connection (none for the sandbox).
pub fn adapters(spec: &ConnectionSpec, retry: OutboundPolicy) -> Option<Adapters> {
    if spec.kind == Kind::RingCx {
        return Some(Adapters::ringcx(Arc::new(ringcx(spec, retry)?)));
    }
    Some(Adapters::platform(adapter(spec, retry)?))
}

fn adapter(spec: &ConnectionSpec, retry: OutboundPolicy) -> Option<Arc<dyn Platform>> {
    let text = |k: &str| {
        spec.credentials
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match spec.kind {
        Kind::Sandbox => None,
        Kind::Genesys => {
            let mut config = GenesysConfig::for_region(
                spec.region.as_deref().unwrap_or("mypurecloud.com"),
                text("client_id"),
                text("client_secret"),
            );
            if let Some(base) = &spec.base_url {
                // A base URL (a private deployment or the simulator) serves both API and login.
                config.api_base = base.clone();
                config.login_base = base.clone();
            }
            Some(Arc::new(Genesys::new(config, retry)))
        }
        Kind::Cxone => {
            let optional = |k: &str| {
                spec.credentials
                    .get(k)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let config = CxoneConfig {
                issuer: spec
                    .base_url
                    .clone()
                    .unwrap_or_else(|| CXONE_ISSUER.to_string()),
                access_key_id: text("access_key_id"),
                access_key_secret: text("access_key_secret"),
                client_id: text("client_id"),
                client_secret: text("client_secret"),
                default_script: optional("default_script"),
                default_skill_id: optional("default_skill_id"),
            };
            Some(Arc::new(Cxone::new(config, retry)))
        }
        Kind::RingCx => None,
    }
}

fn ringcx(spec: &ConnectionSpec, retry: OutboundPolicy) -> Option<RingCx> {
    if spec.kind != Kind::RingCx {
        return None;
    }
    let text = |k: &str| {
        spec.credentials
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut config = RingCxConfig::new(
        text("jwt"),
        text("client_id"),
        text("client_secret"),
        text("account_id"),
    );
    if let Some(base) = &spec.base_url {
        // A base URL (the simulator) serves both the RingCentral and the RingCX hosts.
        config.rc_base = base.clone();
        config.ringcx_base = base.clone();
    }
    Some(RingCx::new(config, retry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: &str, region: Option<&str>, creds: Value) -> ConnectionRequest {
        ConnectionRequest {
            kind: kind.into(),
            region: region.map(str::to_string),
            base_url: None,
            credentials: creds.as_object().cloned().unwrap_or_default(),
            confirm_switch: false,
        }
    }

    #[test]
    fn genesys_needs_a_known_region_and_both_credentials() {
        let ok = request(
            "genesys",
            Some("mypurecloud.ie"),
            serde_json::json!({"client_id": "a", "client_secret": "b", "extra": "x"}),
        );
        let spec = ok.parse().unwrap();
        assert_eq!(
            spec.credentials.len(),
            2,
            "unknown credential fields are dropped"
        );
        let err = request(
            "genesys",
            Some("moon"),
            serde_json::json!({"client_id": "a", "client_secret": "b"}),
        )
        .parse()
        .unwrap_err();
        assert!(err.to_string().contains("unknown Genesys Cloud region"));
        let err = request(
            "genesys",
            Some("mypurecloud.com"),
            serde_json::json!({"client_id": "a"}),
        )
        .parse()
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("the OAuth client secret is required for Genesys Cloud CX")
        );
        assert!(
            request("teams", None, serde_json::json!({}))
                .parse()
                .is_err()
        );
        let spec = request(
            "ringcx",
            None,
            serde_json::json!({"jwt": "j", "client_id": "a", "client_secret": "b", "account_id": "1"}),
        )
        .parse()
        .unwrap();
        assert_eq!((spec.kind, spec.credentials.len()), (Kind::RingCx, 4));
        let err = request(
            "ringcx",
            None,
            serde_json::json!({"client_id": "a", "client_secret": "b", "account_id": "1"}),
        )
        .parse()
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("the RingCentral JWT credential is required")
        );
        assert!(
            request("sandbox", None, serde_json::json!({}))
                .parse()
                .is_ok()
        );
    }
}
