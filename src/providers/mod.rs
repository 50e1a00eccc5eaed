//! The contact-center platforms and carriers Inward provisions numbers on.
//! Holds are always Inward's database holds; a provider's native reservation, where it
//! has one, is taken as well and released when the hold ends.

pub mod cxone;
pub mod genesys;
pub mod http;
pub mod instrumented;
pub mod oauth;
pub mod ringcx;
pub mod sandbox;
pub mod simulator;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::TenantId;
use crate::domain::cnam::Cnam;
use crate::domain::e911::E911Address;
use crate::domain::{E164, Target, TargetKind};
pub use crate::error::provider::{ProviderError, ProviderErrorKind};

/// What the platform said about a number after it was assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Immediate,
    /// Carriers still propagate routing; the number is `pending` until then.
    Delayed,
}

/// A number as the platform routes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub e164: String,
    /// Where it goes, as the platform names it ("call route Sales").
    pub described: String,
    /// The Inward targets this routing counts as, the one to adopt first: a Genesys call
    /// route is also the queue it is named after, a CXone point of contact both its skill
    /// and its script. Empty when it goes somewhere Inward does not route to.
    pub targets: Vec<Target>,
}

impl Routed {
    pub fn reaches(&self, kind: TargetKind, id: &str) -> bool {
        self.targets.iter().any(|t| t.kind == kind && t.id == id)
    }
}

/// Where a request the provider answers later (a CNAM change, an E911 registration) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Done,
    /// The provider refused it; the reason is shown to the tenant so it can be corrected.
    Rejected(String),
}

/// Where a port-in of one number stands at the losing carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortProgress {
    Submitted,
    Acknowledged,
    FocSet(chrono::DateTime<chrono::Utc>),
    Completed(chrono::DateTime<chrono::Utc>),
    Rejected(String),
}

/// A number the provider should act on, with what it needs to know about it.
#[derive(Debug, Clone, Copy)]
pub struct NumberRef<'a> {
    pub e164: &'a E164,
    pub state: Option<&'a str>,
}

/// What only a carrier can do, named for the refusal a platform without one gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierFeature {
    Cnam,
    E911,
    Porting,
    Ownership,
}

impl CarrierFeature {
    fn named(self) -> &'static str {
        match self {
            CarrierFeature::Cnam => "caller-ID names (CNAM)",
            CarrierFeature::E911 => "E911 locations",
            CarrierFeature::Porting => "port-in requests",
            CarrierFeature::Ownership => "ownership checks of external numbers",
        }
    }
}

/// A contact-center platform: where a number rings. Every method is required, so the
/// metrics wrapper and each adapter say what they do for each one; `by_name`,
/// `exists_by_lookup` and `count_targets` are the usual bodies for the derived ones.
#[async_trait]
pub trait Platform: Send + Sync {
    fn name(&self) -> &'static str;

    async fn list_targets(
        &self,
        tenant: TenantId,
        kind: Option<TargetKind>,
    ) -> Result<Vec<Target>, ProviderError>;
    async fn find_target(
        &self,
        tenant: TenantId,
        kind: TargetKind,
        id: &str,
    ) -> Result<Option<Target>, ProviderError>;
    async fn find_target_by_name(
        &self,
        tenant: TenantId,
        kind: TargetKind,
        name: &str,
    ) -> Result<Option<Target>, ProviderError>;
    async fn create_extension(&self, tenant: TenantId, name: &str)
    -> Result<Target, ProviderError>;
    /// Compensation for `create_extension` when a later saga step fails.
    async fn delete_target(&self, tenant: TenantId, target: &Target) -> Result<(), ProviderError>;

    async fn assign(
        &self,
        tenant: TenantId,
        number: NumberRef<'_>,
        target: &Target,
        display_name: Option<&str>,
    ) -> Result<Activation, ProviderError>;
    /// Removes the number's routing; succeeds when it is already unassigned.
    async fn unassign(&self, tenant: TenantId, number: &E164) -> Result<(), ProviderError>;
    async fn activation(&self, number: &E164) -> Result<Option<Activation>, ProviderError>;
    /// Every number the platform routes for the tenant, and where (reconciliation reads it).
    async fn routed_numbers(&self, tenant: TenantId) -> Result<Vec<Routed>, ProviderError>;

    /// The warning shown before provisioning a number that activates slowly.
    fn activation_notice(&self, state: Option<&str>) -> Option<String>;

    /// Numbers the platform owns but has not assigned, offered in the tenant's search.
    async fn unassigned_numbers(&self) -> Result<Vec<E164>, ProviderError>;

    /// Whether a routing target still exists (the daily orphan check).
    async fn target_exists(&self, tenant: TenantId, target: &Target)
    -> Result<bool, ProviderError>;

    /// A cheap authenticated call that proves the connection works; says what it saw.
    async fn test_connection(&self, tenant: TenantId) -> Result<String, ProviderError>;
}

/// A carrier: what the number is at the telephone network (its caller-ID name, its 911
/// location, its port-in) and the carrier's own reservation of it. The three real platforms
/// have none of this; the sandbox plays a carrier as well as a platform.
#[async_trait]
pub trait Carrier: Send + Sync {
    /// Takes the carrier's own reservation; returns its reference, `None` when the carrier
    /// keeps no reservations.
    async fn reserve(&self, number: &E164) -> Result<Option<String>, ProviderError>;
    /// Whether its reservations are rows of Inward's own database (the sandbox's), which
    /// the hold's own statement takes (`sandbox::reservations::WITH_THE_HOLD`) instead of
    /// a `reserve` call after it.
    fn reserves_with_the_hold(&self) -> bool {
        false
    }
    async fn release_reservation(&self, reference: &str) -> Result<(), ProviderError>;

    /// Sends a caller-ID name to the CNAM database; returns the request's reference.
    async fn submit_cnam(
        &self,
        tenant: TenantId,
        number: &E164,
        name: &Cnam,
    ) -> Result<String, ProviderError>;
    async fn cnam_status(&self, reference: &str) -> Result<RequestStatus, ProviderError>;

    /// Registers a dispatchable location with the 911 provider; returns the request's reference.
    async fn submit_e911(
        &self,
        tenant: TenantId,
        number: &E164,
        address: &E911Address,
    ) -> Result<String, ProviderError>;
    async fn e911_status(&self, reference: &str) -> Result<RequestStatus, ProviderError>;
    /// The forms in which the 911 provider's address guide knows `address`, best first, when
    /// it would register it otherwise than typed; empty when it takes it as it is. Asked before
    /// an address is saved, so that the user chooses.
    async fn address_candidates(
        &self,
        address: &E911Address,
    ) -> Result<Vec<E911Address>, ProviderError>;

    /// Submits a port-in of one number with the old account's details; returns its reference.
    async fn submit_port(
        &self,
        tenant: TenantId,
        number: &E164,
        details: &crate::domain::port::PortDetails,
    ) -> Result<String, ProviderError>;
    async fn port_status(&self, reference: &str) -> Result<PortProgress, ProviderError>;

    /// Whether the number could be ported in from its current carrier (a toll-free number,
    /// or one already in Inward, is judged before asking).
    async fn portability(
        &self,
        number: &E164,
    ) -> Result<crate::domain::port::Portability, ProviderError>;

    /// Sends `message` (with an ownership code) to the number, by SMS or a voice call.
    async fn send_to_number(
        &self,
        number: &E164,
        channel: crate::domain::ownership::Channel,
        message: &str,
    ) -> Result<(), ProviderError>;

    /// The last message the carrier sent to the number when it can show it (the sandbox,
    /// which has no phones); None for a carrier that reaches real ones.
    async fn shown_message(&self, number: &E164) -> Result<Option<String>, ProviderError>;
}

/// `find_target_by_name` as a case-insensitive match over `list_targets`.
pub async fn by_name(
    platform: &(impl Platform + ?Sized),
    tenant: TenantId,
    kind: TargetKind,
    name: &str,
) -> Result<Option<Target>, ProviderError> {
    Ok(platform
        .list_targets(tenant, Some(kind))
        .await?
        .into_iter()
        .find(|t| t.name.eq_ignore_ascii_case(name)))
}

/// `target_exists` as a `find_target` that finds it.
pub async fn exists_by_lookup(
    platform: &(impl Platform + ?Sized),
    tenant: TenantId,
    target: &Target,
) -> Result<bool, ProviderError> {
    Ok(platform
        .find_target(tenant, target.kind, &target.id)
        .await?
        .is_some())
}

/// `test_connection` as a listing of every routing target.
pub async fn count_targets(
    platform: &(impl Platform + ?Sized),
    tenant: TenantId,
) -> Result<String, ProviderError> {
    let targets = platform.list_targets(tenant, None).await?;
    Ok(format!(
        "connected: {} routing targets visible",
        targets.len()
    ))
}

/// Everything that speaks for one tenant's numbers: the platform that routes them, the
/// carrier behind it when Inward can reach one, and for RingCX the same adapter again for
/// what only RingCX has (DNIS pool, tracking numbers). Built once per stored connection and
/// shared, so one token session and one throttle speak for it.
#[derive(Clone)]
pub struct Adapters {
    pub platform: Arc<dyn Platform>,
    carrier: Option<Arc<dyn Carrier>>,
    pub ringcx: Option<Arc<ringcx::RingCx>>,
}

impl Adapters {
    pub fn platform(platform: Arc<dyn Platform>) -> Self {
        Adapters {
            platform,
            carrier: None,
            ringcx: None,
        }
    }

    pub fn ringcx(adapter: Arc<ringcx::RingCx>) -> Self {
        Adapters {
            platform: adapter.clone(),
            carrier: None,
            ringcx: Some(adapter),
        }
    }

    /// The sandbox, which is both.
    pub fn platform_and_carrier<T: Platform + Carrier + 'static>(adapter: Arc<T>) -> Self {
        Adapters {
            platform: adapter.clone(),
            carrier: Some(adapter),
            ringcx: None,
        }
    }

    /// The same adapters with each call's latency and errors recorded.
    pub fn instrumented(self) -> Self {
        let name = self.platform.name();
        Adapters {
            platform: Arc::new(instrumented::Instrumented::new(name, self.platform)),
            carrier: self
                .carrier
                .map(|c| Arc::new(instrumented::Instrumented::new(name, c)) as Arc<dyn Carrier>),
            ringcx: self.ringcx,
        }
    }

    /// The carrier, or the refusal a tenant sees when its platform has none to reach.
    pub fn carrier(&self, feature: CarrierFeature) -> Result<Arc<dyn Carrier>, ProviderError> {
        self.carrier.clone().ok_or_else(|| {
            let provider = self.platform.name();
            ProviderError::new(
                provider,
                ProviderErrorKind::Unsupported,
                format!(
                    "{} are kept by the carrier, and {provider} has no API for them: ask your carrier to set them",
                    feature.named()
                ),
            )
        })
    }

    /// The carrier that keeps its own reservations next to Inward's holds, if any.
    pub fn reserving_carrier(&self) -> Option<Arc<dyn Carrier>> {
        self.carrier.clone()
    }
}
