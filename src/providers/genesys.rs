//! Genesys Cloud CX, through its published Platform API v2:
//! client-credentials tokens from `login.{region}`, owned unassigned DIDs from
//! `/telephony/providers/edges/didpools/dids?type=UNASSIGNED`, DIDs routed to a user
//! (`PATCH /users/{id}` addresses with the current version) or to a call route
//! (`PUT /architect/ivrs/{id}` with the whole `dnis[]`, read-modify-write). Genesys has no
//! DID owner type "queue": a queue is reached through the call route named after it.
//!
//! One file over 500 lines: the platform's whole mapping (tokens, DIDs, users, call routes)
//! in one place, to hold against ../shared/providers/.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::http::{OutboundPolicy, PlatformHttp, Token, TokenSource};
use super::{Activation, NumberRef, Platform, ProviderError, ProviderErrorKind, Routed};
use crate::domain::TenantId;
use crate::domain::{E164, Target, TargetKind};

const NAME: &str = "genesys";

#[derive(Debug, Clone)]
pub struct GenesysConfig {
    /// `https://api.mypurecloud.com` or a simulator's address.
    pub api_base: String,
    /// `https://login.mypurecloud.com` or a simulator's address.
    pub login_base: String,
    pub client_id: String,
    pub client_secret: String,
}

impl GenesysConfig {
    /// Region domain such as `mypurecloud.com`, `mypurecloud.ie` or `usw2.pure.cloud`.
    pub fn for_region(domain: &str, client_id: String, client_secret: String) -> Self {
        GenesysConfig {
            api_base: format!("https://api.{domain}"),
            login_base: format!("https://login.{domain}"),
            client_id,
            client_secret,
        }
    }
}

struct ClientCredentials {
    login_base: String,
    client_id: String,
    client_secret: String,
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn fetch(
        &self,
        http: &reqwest::Client,
        _previous: Option<&Token>,
    ) -> Result<Token, ProviderError> {
        let url = format!("{}/oauth/token", self.login_base.trim_end_matches('/'));
        let answer = super::oauth::Exchange {
            provider: NAME,
            token_url: &url,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            refused: "Genesys refused the client id or secret (OAuth client credentials grant)",
        }
        .run(http, super::oauth::Grant::ClientCredentials)
        .await?;
        Ok(super::oauth::token(&answer, Duration::from_secs(86_400)))
    }
}

/// Entries per page of a listing (Genesys allows up to 100 on most).
const PAGE_SIZE: usize = 100;
/// Pages of one listing Inward reads before it gives up, saying so: 1,000,000 entries.
const MAX_PAGES: u32 = 10_000;

pub struct Genesys {
    http: PlatformHttp,
    /// Serialises read-modify-write of one call route's or user's address list in this process;
    /// across processes the entity's `version` makes a stale write fail with 409.
    entity_locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl Genesys {
    pub fn new(config: GenesysConfig, retry: OutboundPolicy) -> Self {
        let tokens = Arc::new(ClientCredentials {
            login_base: config.login_base,
            client_id: config.client_id,
            client_secret: config.client_secret,
        });
        // Genesys allows about 300 requests a minute per token; stay under it.
        let http = PlatformHttp::new(
            NAME,
            config.api_base,
            tokens,
            240,
            retry,
            "inin-correlation-id",
        );
        Genesys {
            http,
            entity_locks: Mutex::new(HashMap::new()),
        }
    }

    async fn lock_for(&self, key: &str) -> Arc<Mutex<()>> {
        self.entity_locks
            .lock()
            .await
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    async fn list(&self, path: &str) -> Result<Vec<Value>, ProviderError> {
        self.list_with(path, &[]).await
    }

    /// Every entity of a paged listing (`pageSize`/`pageNumber`, until `pageCount` or a short
    /// page). No silent cap: a listing longer than `MAX_PAGES` pages fails and says so.
    async fn list_with(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, ProviderError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("pageSize", PAGE_SIZE.to_string()));
            q.push(("pageNumber", page.to_string()));
            let r = self.http.get(path, &q).await?;
            let entities = r.body["entities"].as_array().cloned().unwrap_or_default();
            let done = entities.len() < PAGE_SIZE
                || r.body["pageCount"]
                    .as_u64()
                    .is_some_and(|c| u64::from(page) >= c);
            out.extend(entities);
            if done {
                return Ok(out);
            }
        }
        Err(ProviderError::new(
            NAME,
            ProviderErrorKind::Unsupported,
            format!(
                "{path} lists more than {} entries; Inward reads at most that many",
                MAX_PAGES * PAGE_SIZE as u32
            ),
        ))
    }

    fn path_for(kind: TargetKind) -> &'static str {
        match kind {
            TargetKind::Queue => "/api/v2/routing/queues",
            TargetKind::Extension => "/api/v2/users",
            TargetKind::Ivr => "/api/v2/architect/ivrs",
        }
    }

    async fn get_optional(&self, path: &str) -> Result<Option<Value>, ProviderError> {
        match self.http.get(path, &[]).await {
            Ok(r) => Ok(Some(r.body)),
            Err(e) if e.kind == ProviderErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The DID record (a `DID`, whose `owner` and `ownerType` say who has it, if anyone).
    async fn did(&self, number: &E164) -> Result<Option<Value>, ProviderError> {
        let r = self
            .http
            .get(
                "/api/v2/telephony/providers/edges/dids",
                &[("phoneNumber", number.to_string())],
            )
            .await?;
        Ok(r.body["entities"]
            .as_array()
            .and_then(|e| e.first())
            .cloned())
    }

    /// The call route that carries a queue's DIDs: the IVR configuration named after the queue.
    async fn call_route_for_queue(&self, queue: &Target) -> Result<String, ProviderError> {
        let r = self
            .http
            .get("/api/v2/architect/ivrs", &[("name", queue.name.clone())])
            .await?;
        let found = r.body["entities"]
            .as_array()
            .and_then(|e| e.iter().find(|i| i["name"] == queue.name.as_str()).cloned());
        found.and_then(|i| i["id"].as_str().map(str::to_string)).ok_or_else(|| {
            ProviderError::new(
                NAME,
                ProviderErrorKind::NotFound,
                format!("queue “{}” has no call route: create an Architect call route named “{}” whose inbound flow transfers to the queue", queue.name, queue.name),
            )
        })
    }

    /// Adds or removes a DID in a call route's `dnis[]`, retrying once on a version conflict.
    async fn edit_call_route(
        &self,
        ivr_id: &str,
        number: &E164,
        add: bool,
    ) -> Result<(), ProviderError> {
        let lock = self.lock_for(ivr_id).await;
        let _guard = lock.lock().await;
        let path = format!("/api/v2/architect/ivrs/{ivr_id}");
        let mut name = ivr_id.to_string();
        for attempt in 0..2 {
            let mut ivr = self.http.get(&path, &[]).await?.body;
            if let Some(n) = ivr["name"].as_str() {
                name = n.to_string();
            }
            let mut dnis: Vec<String> = ivr["dnis"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let present = dnis.iter().any(|d| d == number.as_str());
            match (add, present) {
                (true, true) | (false, false) => return Ok(()),
                (true, false) => dnis.push(number.to_string()),
                (false, true) => dnis.retain(|d| d != number.as_str()),
            }
            ivr["dnis"] = json!(dnis);
            let body = writable(&ivr, IVR_WRITABLE);
            match self.http.send(Method::PUT, &path, &[], Some(&body)).await {
                Ok(_) => return Ok(()),
                Err(e) if e.kind == ProviderErrorKind::Conflict => {
                    tracing::info!(ivr_id, attempt, "the call route changed before our write");
                }
                Err(e) => return Err(e),
            }
        }
        Err(ProviderError::new(
            NAME,
            ProviderErrorKind::Conflict,
            format!(
                "call route “{name}” kept changing while Inward edited it (someone else is editing it); try again"
            ),
        ))
    }

    async fn edit_user(
        &self,
        user_id: &str,
        number: &E164,
        add: bool,
    ) -> Result<(), ProviderError> {
        let lock = self.lock_for(user_id).await;
        let _guard = lock.lock().await;
        let path = format!("/api/v2/users/{user_id}");
        for attempt in 0..2 {
            let user = self.http.get(&path, &[]).await?.body;
            let mut addresses: Vec<Value> =
                user["addresses"].as_array().cloned().unwrap_or_default();
            let present = addresses.iter().any(|a| a["address"] == number.as_str());
            match (add, present) {
                (true, true) | (false, false) => return Ok(()),
                // `display` is read-only in Genesys (it derives it): the name the user gave
                // stays in Inward.
                (true, false) => addresses.push(json!({
                    "address": number.as_str(), "mediaType": "PHONE", "type": "WORK",
                })),
                (false, true) => addresses.retain(|a| a["address"] != number.as_str()),
            }
            let addresses: Vec<Value> = addresses
                .iter()
                .map(|a| writable(a, CONTACT_WRITABLE))
                .collect();
            let patch = json!({ "addresses": addresses, "version": user["version"] });
            match self
                .http
                .send(Method::PATCH, &path, &[], Some(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.kind == ProviderErrorKind::Conflict => {
                    tracing::info!(user_id, attempt, "the user changed before our write");
                }
                Err(e) => return Err(e),
            }
        }
        Err(ProviderError::new(
            NAME,
            ProviderErrorKind::Conflict,
            "the Genesys user kept changing while Inward edited its addresses (someone else is editing it); try again",
        ))
    }
}

/// The fields of an `IVR` (call route) a `PUT` may carry; the rest (`id`, `state`, the dates,
/// `selfUri`, …) are read-only and are not sent back.
const IVR_WRITABLE: &[&str] = &[
    "name",
    "division",
    "description",
    "version",
    "dnis",
    "openHoursFlow",
    "closedHoursFlow",
    "holidayHoursFlow",
    "scheduleGroup",
];

/// The writable fields of a user's `Contact` (`display` is derived by Genesys).
const CONTACT_WRITABLE: &[&str] = &[
    "address",
    "mediaType",
    "type",
    "extension",
    "countryCode",
    "integration",
];

/// `entity` with only the `fields` a write may carry.
fn writable(entity: &Value, fields: &[&str]) -> Value {
    Value::Object(
        fields
            .iter()
            .filter_map(|f| entity.get(*f).map(|v| (f.to_string(), v.clone())))
            .collect(),
    )
}

/// A 403 says which Genesys permission the OAuth client's role lacks for this operation.
fn needs(permission: &'static str) -> impl Fn(ProviderError) -> ProviderError {
    move |mut err| {
        if err.kind == ProviderErrorKind::Forbidden {
            err.message = format!(
                "{} — grant the OAuth client's role “{permission}”",
                err.message
            );
        }
        err
    }
}

fn to_target(kind: TargetKind, entity: &Value) -> Option<Target> {
    Some(Target {
        kind,
        id: entity["id"].as_str()?.to_string(),
        name: entity["name"].as_str().unwrap_or_default().to_string(),
    })
}

#[async_trait]
impl Platform for Genesys {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn list_targets(
        &self,
        _tenant: TenantId,
        kind: Option<TargetKind>,
    ) -> Result<Vec<Target>, ProviderError> {
        let kinds = kind
            .map(|k| vec![k])
            .unwrap_or_else(|| TargetKind::ALL.to_vec());
        let mut targets = Vec::new();
        for kind in kinds {
            targets.extend(
                self.list(Self::path_for(kind))
                    .await?
                    .iter()
                    .filter_map(|e| to_target(kind, e)),
            );
        }
        Ok(targets)
    }

    async fn find_target(
        &self,
        _tenant: TenantId,
        kind: TargetKind,
        id: &str,
    ) -> Result<Option<Target>, ProviderError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Ok(None);
        }
        Ok(self
            .get_optional(&format!("{}/{id}", Self::path_for(kind)))
            .await?
            .and_then(|e| to_target(kind, &e)))
    }

    async fn create_extension(
        &self,
        _tenant: TenantId,
        name: &str,
    ) -> Result<Target, ProviderError> {
        Err(ProviderError::new(
            NAME,
            ProviderErrorKind::Unsupported,
            format!(
                "Genesys Cloud users are created in Genesys (with a division and email); create “{name}” there, then route the number to that user"
            ),
        ))
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

    async fn assign(
        &self,
        _tenant: TenantId,
        number: NumberRef<'_>,
        target: &Target,
        // Genesys derives what a user's number displays (`Contact.display` is read-only); the
        // display name stays in Inward.
        _display_name: Option<&str>,
    ) -> Result<Activation, ProviderError> {
        // The call route that will carry the DID (a queue's is the route named after it).
        let route = match target.kind {
            TargetKind::Extension => None,
            TargetKind::Ivr => Some(target.id.clone()),
            TargetKind::Queue => Some(self.call_route_for_queue(target).await?),
        };
        // Our hold is ours alone: an admin in Genesys's own UI may have taken the DID since.
        // It is ours only when it is already on this very user or call route.
        if let Some(did) = self.did(number.e164).await?
            && let Some((owner, kind)) = owner_of(&did)
        {
            let ours = match (&route, kind) {
                (None, "USER") => owner == target.id,
                (Some(route), "IVR_CONFIG") => owner == *route,
                _ => false,
            };
            if !ours {
                return Err(ProviderError::new(
                    NAME,
                    ProviderErrorKind::Conflict,
                    format!(
                        "{} is already assigned in Genesys Cloud to {kind} {}",
                        number.e164,
                        did["owner"]["name"].as_str().unwrap_or(owner)
                    ),
                ));
            }
        }
        match route {
            None => self
                .edit_user(&target.id, number.e164, true)
                .await
                .map_err(needs("directory:user:edit"))?,
            Some(route) => self
                .edit_call_route(&route, number.e164, true)
                .await
                .map_err(needs("routing:callRoute:edit"))?,
        }
        Ok(Activation::Immediate)
    }

    async fn unassign(&self, _tenant: TenantId, number: &E164) -> Result<(), ProviderError> {
        let Some(did) = self.did(number).await? else {
            return Ok(());
        };
        let Some((owner, kind)) = owner_of(&did) else {
            return Ok(());
        };
        match kind {
            "USER" => self.edit_user(owner, number, false).await,
            "IVR_CONFIG" => self.edit_call_route(owner, number, false).await,
            other => Err(ProviderError::new(
                NAME,
                ProviderErrorKind::Unsupported,
                format!("{number} is assigned to a {other} in Genesys Cloud; remove it there"),
            )),
        }
    }

    async fn activation(&self, number: &E164) -> Result<Option<Activation>, ProviderError> {
        Ok(self
            .did(number)
            .await?
            .filter(|d| owner_of(d).is_some())
            .map(|_| Activation::Immediate))
    }

    async fn unassigned_numbers(&self) -> Result<Vec<E164>, ProviderError> {
        let entities = self
            .list_with(
                "/api/v2/telephony/providers/edges/didpools/dids",
                &[("type", "UNASSIGNED".into())],
            )
            .await?;
        Ok(entities
            .iter()
            .filter_map(|e| e["number"].as_str())
            .filter_map(|n| E164::parse(n).ok())
            .collect())
    }

    /// A queue counts as there only while the call route that carries its DIDs is too.
    async fn target_exists(
        &self,
        tenant: TenantId,
        target: &Target,
    ) -> Result<bool, ProviderError> {
        let Some(found) = self.find_target(tenant, target.kind, &target.id).await? else {
            return Ok(false);
        };
        if target.kind != TargetKind::Queue {
            return Ok(true);
        }
        match self.call_route_for_queue(&found).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ProviderErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every DID of the organization with an owner: a user's is that user; a call route's
    /// is that route and also the queue it is named after.
    async fn routed_numbers(&self, _tenant: TenantId) -> Result<Vec<Routed>, ProviderError> {
        let dids = self
            .list("/api/v2/telephony/providers/edges/dids")
            .await
            .map_err(needs("telephony:plugin:all"))?;
        let queues: HashMap<String, String> = self
            .list(Self::path_for(TargetKind::Queue))
            .await?
            .iter()
            .filter_map(|q| {
                Some((
                    q["name"].as_str()?.to_string(),
                    q["id"].as_str()?.to_string(),
                ))
            })
            .collect();
        let mut routed = Vec::new();
        for did in &dids {
            let Some((owner, kind)) = owner_of(did) else {
                continue;
            };
            let Some(number) = did["phoneNumber"]
                .as_str()
                .and_then(|n| E164::parse(n).ok())
            else {
                continue;
            };
            let name = did["owner"]["name"].as_str().unwrap_or(owner).to_string();
            let target = |kind| Target {
                kind,
                id: owner.to_string(),
                name: name.clone(),
            };
            let (described, targets) = match kind {
                "USER" => (format!("user {name}"), vec![target(TargetKind::Extension)]),
                "IVR_CONFIG" => {
                    let mut targets = Vec::new();
                    if let Some(queue) = queues.get(&name) {
                        targets.push(Target {
                            kind: TargetKind::Queue,
                            id: queue.clone(),
                            name: name.clone(),
                        });
                    }
                    targets.push(target(TargetKind::Ivr));
                    (format!("call route {name}"), targets)
                }
                other => (format!("{} {name}", other.to_lowercase()), Vec::new()),
            };
            routed.push(Routed {
                e164: number.to_string(),
                described,
                targets,
            });
        }
        Ok(routed)
    }

    async fn test_connection(&self, _tenant: TenantId) -> Result<String, ProviderError> {
        let queues = self
            .http
            .get("/api/v2/routing/queues", &[("pageSize", "1".into())])
            .await
            .map_err(needs("routing:queue:view"))?;
        let dids = self
            .http
            .get(
                "/api/v2/telephony/providers/edges/didpools/dids",
                &[("type", "UNASSIGNED".into()), ("pageSize", "1".into())],
            )
            .await
            .map_err(needs("telephony:plugin:all"))?;
        Ok(format!(
            "connected to Genesys Cloud: {} queues, {} unassigned DIDs",
            queues.body["total"].as_u64().unwrap_or(0),
            dids.body["total"].as_u64().unwrap_or(0)
        ))
    }
}
/// Who has a DID now, as (owner id, owner type), or `None` when it is unassigned. A `DID`
/// from `/telephony/providers/edges/dids` has no `assigned` field (only a pool's
/// `DIDNumber` has): its `owner` is set exactly when it is assigned.
fn owner_of(did: &Value) -> Option<(&str, &str)> {
    let owner = did["owner"]["id"].as_str().filter(|id| !id.is_empty())?;
    Some((owner, did["ownerType"].as_str().unwrap_or("")))
}
