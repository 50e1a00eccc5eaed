//! RingCX as a contact-center platform: gates, visual IVRs and cloud route profiles as
//! targets; a DNIS assigned to one of them.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use super::*;
use crate::domain::TenantId;
use crate::providers::{Activation, NumberRef, Platform, Routed};

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
