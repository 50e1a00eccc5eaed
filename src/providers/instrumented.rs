//! An adapter that wraps another and records each call's latency and errors
//! (`provider_call_duration_seconds`, `provider_errors_total`) per platform and operation.
//! `Platform` and `Carrier` have no default bodies, so a method added to either does not
//! compile until it is forwarded here too.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::{
    Activation, Carrier, NumberRef, Platform, PortProgress, ProviderError, RequestStatus, Routed,
};
use crate::domain::TenantId;
use crate::domain::cnam::Cnam;
use crate::domain::e911::E911Address;
use crate::domain::{E164, Target, TargetKind};

pub struct Instrumented<T: ?Sized> {
    /// The platform's name, which the carrier behind it is counted under too.
    name: &'static str,
    inner: Arc<T>,
}

impl<T: ?Sized> Instrumented<T> {
    pub fn new(name: &'static str, inner: Arc<T>) -> Self {
        Instrumented { name, inner }
    }

    async fn observe<R>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<R, ProviderError>>,
    ) -> Result<R, ProviderError> {
        let started = Instant::now();
        let result = call.await;
        let error = result.as_ref().err().map(ProviderError::code);
        crate::metrics::provider_call(self.name, operation, started.elapsed().as_secs_f64(), error);
        result
    }
}

#[async_trait]
impl Platform for Instrumented<dyn Platform> {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn list_targets(
        &self,
        tenant: TenantId,
        kind: Option<TargetKind>,
    ) -> Result<Vec<Target>, ProviderError> {
        self.observe("list_targets", self.inner.list_targets(tenant, kind))
            .await
    }

    async fn find_target(
        &self,
        tenant: TenantId,
        kind: TargetKind,
        id: &str,
    ) -> Result<Option<Target>, ProviderError> {
        self.observe("find_target", self.inner.find_target(tenant, kind, id))
            .await
    }

    async fn find_target_by_name(
        &self,
        tenant: TenantId,
        kind: TargetKind,
        name: &str,
    ) -> Result<Option<Target>, ProviderError> {
        self.observe(
            "find_target_by_name",
            self.inner.find_target_by_name(tenant, kind, name),
        )
        .await
    }

    async fn create_extension(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Target, ProviderError> {
        self.observe(
            "create_extension",
            self.inner.create_extension(tenant, name),
        )
        .await
    }

    async fn delete_target(&self, tenant: TenantId, target: &Target) -> Result<(), ProviderError> {
        self.observe("delete_target", self.inner.delete_target(tenant, target))
            .await
    }

    async fn assign(
        &self,
        tenant: TenantId,
        number: NumberRef<'_>,
        target: &Target,
        display_name: Option<&str>,
    ) -> Result<Activation, ProviderError> {
        self.observe(
            "assign",
            self.inner.assign(tenant, number, target, display_name),
        )
        .await
    }

    async fn unassign(&self, tenant: TenantId, number: &E164) -> Result<(), ProviderError> {
        self.observe("unassign", self.inner.unassign(tenant, number))
            .await
    }

    async fn activation(&self, number: &E164) -> Result<Option<Activation>, ProviderError> {
        self.observe("activation", self.inner.activation(number))
            .await
    }

    async fn routed_numbers(&self, tenant: TenantId) -> Result<Vec<Routed>, ProviderError> {
        self.observe("routed_numbers", self.inner.routed_numbers(tenant))
            .await
    }

    fn activation_notice(&self, state: Option<&str>) -> Option<String> {
        self.inner.activation_notice(state)
    }

    async fn unassigned_numbers(&self) -> Result<Vec<E164>, ProviderError> {
        self.observe("unassigned_numbers", self.inner.unassigned_numbers())
            .await
    }

    async fn target_exists(
        &self,
        tenant: TenantId,
        target: &Target,
    ) -> Result<bool, ProviderError> {
        self.observe("target_exists", self.inner.target_exists(tenant, target))
            .await
    }

    async fn test_connection(&self, tenant: TenantId) -> Result<String, ProviderError> {
        self.observe("test_connection", self.inner.test_connection(tenant))
            .await
    }
}

#[async_trait]
impl Carrier for Instrumented<dyn Carrier> {
    async fn reserve(&self, number: &E164) -> Result<Option<String>, ProviderError> {
        self.observe("reserve", self.inner.reserve(number)).await
    }

    fn reserves_with_the_hold(&self) -> bool {
        self.inner.reserves_with_the_hold()
    }

    async fn portability(
        &self,
        number: &E164,
    ) -> Result<crate::domain::port::Portability, ProviderError> {
        self.observe("portability", self.inner.portability(number))
            .await
    }

    async fn address_candidates(
        &self,
        address: &E911Address,
    ) -> Result<Vec<E911Address>, ProviderError> {
        self.observe("address_candidates", self.inner.address_candidates(address))
            .await
    }

    async fn send_to_number(
        &self,
        number: &E164,
        channel: crate::domain::ownership::Channel,
        message: &str,
    ) -> Result<(), ProviderError> {
        self.observe(
            "send_to_number",
            self.inner.send_to_number(number, channel, message),
        )
        .await
    }

    async fn shown_message(&self, number: &E164) -> Result<Option<String>, ProviderError> {
        self.observe("shown_message", self.inner.shown_message(number))
            .await
    }

    async fn release_reservation(&self, reference: &str) -> Result<(), ProviderError> {
        self.observe(
            "release_reservation",
            self.inner.release_reservation(reference),
        )
        .await
    }

    async fn submit_cnam(
        &self,
        tenant: TenantId,
        number: &E164,
        name: &Cnam,
    ) -> Result<String, ProviderError> {
        self.observe("submit_cnam", self.inner.submit_cnam(tenant, number, name))
            .await
    }

    async fn cnam_status(&self, reference: &str) -> Result<RequestStatus, ProviderError> {
        self.observe("cnam_status", self.inner.cnam_status(reference))
            .await
    }

    async fn submit_e911(
        &self,
        tenant: TenantId,
        number: &E164,
        address: &E911Address,
    ) -> Result<String, ProviderError> {
        self.observe(
            "submit_e911",
            self.inner.submit_e911(tenant, number, address),
        )
        .await
    }

    async fn e911_status(&self, reference: &str) -> Result<RequestStatus, ProviderError> {
        self.observe("e911_status", self.inner.e911_status(reference))
            .await
    }

    async fn submit_port(
        &self,
        tenant: TenantId,
        number: &E164,
        details: &crate::domain::port::PortDetails,
    ) -> Result<String, ProviderError> {
        self.observe(
            "submit_port",
            self.inner.submit_port(tenant, number, details),
        )
        .await
    }

    async fn port_status(&self, reference: &str) -> Result<PortProgress, ProviderError> {
        self.observe("port_status", self.inner.port_status(reference))
            .await
    }
}
