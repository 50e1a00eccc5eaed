//! NICE CXone, through the Admin API as found in NICE's generated clients (there is no public
//! spec; see ../shared/providers/cxone-notes.md): OpenID discovery at the issuer, a password
//! grant with the access key, the tenant's API endpoint from `cxone-configuration`, and numbers
//! routed as points of contact (a skill plus a Studio script). Points of contact cannot be
//! deleted: deprovisioning deactivates them.
//!
//! One file over 500 lines: the platform's whole mapping (auth, discovery, paging, points of
//! contact) in one place, to hold against ../shared/providers/.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::http::{OutboundPolicy, PlatformHttp, Token, TokenSource, map_status, transport_error};
use super::{Activation, NumberRef, Platform, ProviderError, ProviderErrorKind, Routed};
use crate::domain::TenantId;
use crate::domain::{E164, Target, TargetKind};

const NAME: &str = "cxone";
pub const API_VERSION: &str = "v33.0";
/// Records per page of the listings that page with `skip`/`top`.
const PAGE: usize = 500;
/// Records of one listing Inward reads before it gives up, saying so.
const MAX_RECORDS: usize = 1_000_000;
/// CXone media type for inbound phone calls.
const PHONE_CALL: i64 = 4;

#[derive(Debug, Clone)]
pub struct CxoneConfig {
    pub issuer: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub client_id: String,
    pub client_secret: String,
    /// Script a queue (skill) target runs, and skill an IVR (script) target reports under.
    pub default_script: Option<String>,
    pub default_skill_id: Option<String>,
}

struct PasswordGrant {
    config: CxoneConfig,
    endpoint: OnceCell<String>,
    /// Discovery names further hosts; they are held to the same rule as the base URL.
    allow: crate::outbound::Allowlist,
}

impl PasswordGrant {
    fn reachable(&self, url: &str) -> Result<(), ProviderError> {
        crate::outbound::check_target(url, NAME, &self.allow)
            .map_err(|why| ProviderError::new(NAME, ProviderErrorKind::Validation, why))
    }
}

fn json_or(text: &str, what: &str) -> Result<Value, ProviderError> {
    serde_json::from_str(text).map_err(|_| {
        ProviderError::new(
            NAME,
            ProviderErrorKind::Transient,
            format!("{what} was not JSON"),
        )
    })
}

/// `tenantId` from the id_token's payload (no signature check: it only picks the API host).
fn tenant_from_id_token(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["tenantId"].as_str().map(str::to_string)
}

impl PasswordGrant {
    async fn token_endpoint(&self, http: &reqwest::Client) -> Result<String, ProviderError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        // The stored issuer is checked at every call, not only when it was saved.
        self.reachable(&url)?;
        let r = http
            .get(&url)
            .send()
            .await
            .map_err(|e| transport_error(NAME, &url, e))?;
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(
                map_status(NAME, status, &text, None).waiting(super::http::retry_after(&headers))
            );
        }
        json_or(&text, "OpenID discovery")?["token_endpoint"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::new(
                    NAME,
                    ProviderErrorKind::Transient,
                    "OpenID discovery has no token_endpoint",
                )
            })
    }
}

#[async_trait]
impl TokenSource for PasswordGrant {
    async fn fetch(
        &self,
        http: &reqwest::Client,
        _previous: Option<&Token>,
    ) -> Result<Token, ProviderError> {
        let endpoint = self.token_endpoint(http).await?;
        self.reachable(&endpoint)?;
        let answer = super::oauth::Exchange {
            provider: NAME,
            token_url: &endpoint,
            client_id: &self.config.client_id,
            client_secret: &self.config.client_secret,
            refused: "CXone refused the access key or the registered client (password grant)",
        }
        .run(
            http,
            super::oauth::Grant::Password {
                username: &self.config.access_key_id,
                password: &self.config.access_key_secret,
            },
        )
        .await?;
        if self.endpoint.get().is_none() {
            let tenant = answer
                .extra_fields()
                .id_token
                .as_deref()
                .and_then(tenant_from_id_token)
                .ok_or_else(|| {
                    ProviderError::new(
                        NAME,
                        ProviderErrorKind::Transient,
                        "the id_token carries no tenantId",
                    )
                })?;
            let url = format!(
                "{}/.well-known/cxone-configuration",
                self.config.issuer.trim_end_matches('/')
            );
            self.reachable(&url)?;
            let r = http
                .get(&url)
                .query(&[("tenantId", tenant)])
                .send()
                .await
                .map_err(|e| transport_error(NAME, &url, e))?;
            let config = json_or(&r.text().await.unwrap_or_default(), "cxone-configuration")?;
            let api = config["api_endpoint"].as_str().ok_or_else(|| {
                ProviderError::new(
                    NAME,
                    ProviderErrorKind::Transient,
                    "cxone-configuration has no api_endpoint",
                )
            })?;
            self.reachable(api)?;
            let _ = self.endpoint.set(api.trim_end_matches('/').to_string());
        }
        Ok(super::oauth::token(&answer, Duration::from_secs(3600)))
    }
}

pub struct Cxone {
    grant: Arc<PasswordGrant>,
    retry: OutboundPolicy,
    http: OnceCell<PlatformHttp>,
    config: CxoneConfig,
}

impl Cxone {
    pub fn new(config: CxoneConfig, retry: OutboundPolicy) -> Self {
        let grant = Arc::new(PasswordGrant {
            config: config.clone(),
            endpoint: OnceCell::new(),
            allow: retry.allow.clone(),
        });
        Cxone {
            grant,
            retry,
            http: OnceCell::new(),
            config,
        }
    }

    /// The API client, once discovery has told us the tenant's API host.
    async fn api(&self) -> Result<&PlatformHttp, ProviderError> {
        self.http
            .get_or_try_init(|| async {
                let bootstrap =
                    crate::outbound::client(NAME, &self.retry.allow, Duration::from_secs(20))?;
                // The sign-in says where the tenant's API lives; its token is then the API
                // client's first, so the first call does not sign in again.
                let first = match self.grant.endpoint.get() {
                    None => Some(self.grant.fetch(&bootstrap, None).await?),
                    Some(_) => None,
                };
                let api = self.grant.endpoint.get().cloned().unwrap_or_default();
                let base = format!("{api}/inContactAPI/services/{API_VERSION}");
                // No published limit: stay well under what other platforms allow.
                let http = PlatformHttp::new(
                    NAME,
                    base,
                    self.grant.clone(),
                    200,
                    self.retry.clone(),
                    "CorrelationId",
                );
                Ok::<_, ProviderError>(match first {
                    Some(token) => http.with_token(token),
                    None => http,
                })
            })
            .await
    }

    /// Every record of a listing that pages with `skip` and `top`, until `totalRecords` is
    /// reached or a page comes back short. No silent cap: past `MAX_RECORDS` it fails, saying so.
    async fn all_pages(
        &self,
        path: &str,
        query: &[(&str, String)],
        key: &str,
    ) -> Result<Vec<Value>, ProviderError> {
        let api = self.api().await?;
        let mut out: Vec<Value> = Vec::new();
        loop {
            let mut q = query.to_vec();
            q.push(("skip", out.len().to_string()));
            q.push(("top", PAGE.to_string()));
            let r = api.get(path, &q).await?;
            let page = r.body[key].as_array().cloned().unwrap_or_default();
            let short = page.len() < PAGE;
            out.extend(page);
            let complete = r.body["totalRecords"]
                .as_u64()
                .is_some_and(|total| out.len() as u64 >= total);
            if short || complete {
                return Ok(out);
            }
            if out.len() >= MAX_RECORDS {
                return Err(ProviderError::new(
                    NAME,
                    ProviderErrorKind::Unsupported,
                    format!(
                        "{path} lists more than {MAX_RECORDS} records; Inward reads at most that many"
                    ),
                ));
            }
        }
    }

    async fn points_of_contact(&self) -> Result<Vec<Value>, ProviderError> {
        self.all_pages(
            "/points-of-contact",
            &[("mediaTypeId", PHONE_CALL.to_string())],
            "pointsOfContact",
        )
        .await
    }

    async fn skills(&self) -> Result<Vec<Target>, ProviderError> {
        let r = self
            .api()
            .await?
            .get("/skills", &[("mediaTypeId", PHONE_CALL.to_string())])
            .await?;
        let list = r.body["skills"].as_array().cloned().unwrap_or_default();
        Ok(list
            .iter()
            .filter(|s| s["isActive"] != false)
            .filter_map(|s| {
                let id = s["skillId"].as_i64()?.to_string();
                Some(Target {
                    kind: TargetKind::Queue,
                    id,
                    name: s["skillName"].as_str().unwrap_or_default().to_string(),
                })
            })
            .collect())
    }

    async fn scripts(&self) -> Result<Vec<Target>, ProviderError> {
        let list = self
            .all_pages(
                "/scripts/search",
                &[("mediaType", PHONE_CALL.to_string())],
                "scriptSearchDetails",
            )
            .await?;
        Ok(list
            .iter()
            .filter_map(|s| {
                let name = s["scriptName"].as_str()?.to_string();
                Some(Target {
                    kind: TargetKind::Ivr,
                    id: name.clone(),
                    name,
                })
            })
            .collect())
    }

    /// What a point of contact routed to `target` is made of: a queue is a skill run with the
    /// connection's default script, an IVR a script run with its default skill.
    fn skill_and_script(&self, target: &Target) -> Result<(i64, String), ProviderError> {
        let (skill_id, script) = match target.kind {
            TargetKind::Queue => {
                let script = self
                    .config
                    .default_script
                    .clone()
                    .ok_or_else(|| Self::missing_default("script", "default_script"))?;
                (target.id.clone(), script)
            }
            TargetKind::Ivr => {
                let skill = self
                    .config
                    .default_skill_id
                    .clone()
                    .ok_or_else(|| Self::missing_default("skill", "default_skill_id"))?;
                (skill, target.id.clone())
            }
            TargetKind::Extension => return Err(no_extensions()),
        };
        let skill_id: i64 = skill_id.parse().map_err(|_| {
            ProviderError::new(
                NAME,
                ProviderErrorKind::Validation,
                format!("skill id “{skill_id}” is not a number"),
            )
        })?;
        Ok((skill_id, script))
    }

    fn missing_default(what: &str, field: &str) -> ProviderError {
        ProviderError::new(
            NAME,
            ProviderErrorKind::Validation,
            format!("a CXone point of contact needs a {what}: set “{field}” on the connection"),
        )
    }
}

fn no_extensions() -> ProviderError {
    ProviderError::new(
        NAME,
        ProviderErrorKind::Unsupported,
        "CXone routes numbers to skills and scripts, not extensions: route the number to a skill (queue) or a script (IVR)",
    )
}

#[async_trait]
impl Platform for Cxone {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn list_targets(
        &self,
        _tenant: TenantId,
        kind: Option<TargetKind>,
    ) -> Result<Vec<Target>, ProviderError> {
        // Asked for extensions (to provision or re-route to one), the answer says why there are
        // none, before anything is sent: as on RingCX.
        if kind == Some(TargetKind::Extension) {
            return Err(no_extensions());
        }
        let mut targets = Vec::new();
        if kind.is_none_or(|k| k == TargetKind::Queue) {
            targets.extend(self.skills().await?);
        }
        if kind.is_none_or(|k| k == TargetKind::Ivr) {
            targets.extend(self.scripts().await?);
        }
        Ok(targets)
    }

    async fn find_target(
        &self,
        tenant: TenantId,
        kind: TargetKind,
        id: &str,
    ) -> Result<Option<Target>, ProviderError> {
        Ok(self
            .list_targets(tenant, Some(kind))
            .await?
            .into_iter()
            .find(|t| t.id == id))
    }

    async fn create_extension(
        &self,
        _tenant: TenantId,
        _name: &str,
    ) -> Result<Target, ProviderError> {
        Err(no_extensions())
    }

    async fn find_target_by_name(
        &self,
        tenant: TenantId,
        kind: TargetKind,
        name: &str,
    ) -> Result<Option<Target>, ProviderError> {
        super::by_name(self, tenant, kind, name).await
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

    async fn target_exists(
        &self,
        tenant: TenantId,
        target: &Target,
    ) -> Result<bool, ProviderError> {
        super::exists_by_lookup(self, tenant, target).await
    }

    async fn assign(
        &self,
        _tenant: TenantId,
        number: NumberRef<'_>,
        target: &Target,
        display_name: Option<&str>,
    ) -> Result<Activation, ProviderError> {
        let (skill_id, script) = self.skill_and_script(target)?;
        let name = display_name.unwrap_or(number.e164.as_str());
        let api = self.api().await?;
        // Re-read just before writing: the number may have a point of contact already.
        let existing = self
            .points_of_contact()
            .await?
            .into_iter()
            .find(|p| p["contactAddress"] == number.e164.as_str());
        match existing {
            Some(poc)
                if poc["isActive"] == true
                    && (poc["defaultSkillId"].as_i64() != Some(skill_id)
                        || poc["scriptName"] != script.as_str()) =>
            {
                Err(ProviderError::new(
                    NAME,
                    ProviderErrorKind::Conflict,
                    format!(
                        "{} is already an active point of contact in CXone ({})",
                        number.e164,
                        poc["contactDescription"]
                            .as_str()
                            .unwrap_or("another route")
                    ),
                ))
            }
            Some(poc) => {
                let code = poc["contactCode"].as_i64().unwrap_or_default();
                let body = json!({ "pointOfContactName": name, "skillId": skill_id, "isActive": true, "scriptName": script });
                api.send(
                    Method::PUT,
                    &format!("/points-of-contact/{code}"),
                    &[],
                    Some(&body),
                )
                .await?;
                Ok(Activation::Immediate)
            }
            None => {
                let body = json!({
                    "pointOfContact": number.e164.as_str(), "pointOfContactName": name, "skillId": skill_id,
                    "isActive": true, "mediaTypeId": PHONE_CALL, "scriptName": script,
                });
                match api
                    .send(Method::POST, "/points-of-contact", &[], Some(&body))
                    .await
                {
                    Ok(_) => Ok(Activation::Immediate),
                    // A retried POST whose first attempt landed: re-read before calling it a conflict.
                    Err(err) if err.kind == ProviderErrorKind::Conflict => {
                        let ours = self.points_of_contact().await?.iter().any(|p| {
                            p["contactAddress"] == number.e164.as_str()
                                && p["defaultSkillId"].as_i64() == Some(skill_id)
                                && p["scriptName"] == script.as_str()
                        });
                        if ours {
                            Ok(Activation::Immediate)
                        } else {
                            Err(err)
                        }
                    }
                    Err(err) => Err(err),
                }
            }
        }
    }

    async fn unassign(&self, _tenant: TenantId, number: &E164) -> Result<(), ProviderError> {
        let Some(poc) = self
            .points_of_contact()
            .await?
            .into_iter()
            .find(|p| p["contactAddress"] == number.as_str() && p["isActive"] == true)
        else {
            return Ok(());
        };
        let code = poc["contactCode"].as_i64().unwrap_or_default();
        let body = json!({
            "pointOfContactName": poc["contactDescription"], "skillId": poc["defaultSkillId"],
            "isActive": false, "scriptName": poc["scriptName"],
        });
        self.api()
            .await?
            .send(
                Method::PUT,
                &format!("/points-of-contact/{code}"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(())
    }

    async fn activation(&self, number: &E164) -> Result<Option<Activation>, ProviderError> {
        let active = self
            .points_of_contact()
            .await?
            .iter()
            .any(|p| p["contactAddress"] == number.as_str() && p["isActive"] == true);
        Ok(active.then_some(Activation::Immediate))
    }

    /// Every active point of contact: it reaches its skill (a queue) and its script (an IVR).
    async fn routed_numbers(&self, _tenant: TenantId) -> Result<Vec<Routed>, ProviderError> {
        let skills: HashMap<String, String> = self
            .skills()
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let mut routed = Vec::new();
        for poc in self.points_of_contact().await? {
            if poc["isActive"] != true {
                continue;
            }
            let Some(number) = poc["contactAddress"]
                .as_str()
                .and_then(|n| E164::parse(n).ok())
            else {
                continue;
            };
            let skill = poc["defaultSkillId"].as_i64().map(|id| id.to_string());
            let script = poc["scriptName"].as_str().unwrap_or_default().to_string();
            let mut targets = Vec::new();
            if let Some(skill) = &skill {
                targets.push(Target {
                    kind: TargetKind::Queue,
                    id: skill.clone(),
                    name: skills
                        .get(skill)
                        .cloned()
                        .unwrap_or_else(|| format!("skill {skill}")),
                });
            }
            if !script.is_empty() {
                targets.push(Target {
                    kind: TargetKind::Ivr,
                    id: script.clone(),
                    name: script.clone(),
                });
            }
            // The default script marks a queue route, the default skill an IVR route.
            if self.config.default_skill_id.as_deref() == skill.as_deref()
                && self.config.default_script.as_deref() != Some(script.as_str())
            {
                targets.reverse();
            }
            routed.push(Routed {
                e164: number.to_string(),
                described: format!(
                    "point of contact → skill {}, script {script}",
                    targets
                        .iter()
                        .find(|t| t.kind == TargetKind::Queue)
                        .map_or("none", |t| t.name.as_str())
                ),
                targets,
            });
        }
        Ok(routed)
    }

    async fn unassigned_numbers(&self) -> Result<Vec<E164>, ProviderError> {
        let numbers = self
            .all_pages(
                "/phone-numbers",
                &[("searchString", String::new())],
                "phoneCollection",
            )
            .await?;
        let routed: Vec<String> = self
            .points_of_contact()
            .await?
            .iter()
            .filter(|p| p["isActive"] == true)
            .filter_map(|p| p["contactAddress"].as_str().map(str::to_string))
            .collect();
        Ok(numbers
            .iter()
            .filter_map(|p| p["phonenumber"].as_str())
            .filter_map(|n| E164::parse(n).ok())
            .filter(|n| !routed.iter().any(|r| r == n.as_str()))
            .collect())
    }

    async fn test_connection(&self, tenant: TenantId) -> Result<String, ProviderError> {
        let skills = self.skills().await?.len();
        let scripts = self.scripts().await?.len();
        // Provisioning writes points of contact: a role that cannot read them fails here.
        let contacts = self.points_of_contact().await?.len();
        let _ = tenant;
        Ok(format!(
            "connected to NICE CXone: {skills} skills, {scripts} scripts, {contacts} points of contact"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_comes_from_the_id_token_payload() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"tenantId":"11e9-abc","sub":"x"}"#);
        assert_eq!(
            tenant_from_id_token(&format!("e30.{payload}.sig")).as_deref(),
            Some("11e9-abc")
        );
        assert_eq!(tenant_from_id_token("not-a-jwt"), None);
    }
}
