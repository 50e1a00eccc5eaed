//! Pure domain types and rules: no I/O here.

pub mod aging;
pub mod cnam;
pub mod costs;
pub mod e164;
pub mod e911;
pub mod e911_notify;
pub mod hold;
pub mod ids;
pub mod lifecycle;
pub mod order;
pub mod ownership;
pub mod policy;
pub mod port;
pub mod pricing;
pub mod reports;
pub mod search;
pub mod sso;
pub mod street;
pub mod target;
pub mod vanity;
pub mod webhook;

pub use e164::E164;
pub use ids::{
    E911AddressId, E911ContactId, IdentityProviderId, ReservationId, TenantId, UserId, WebhookId,
};
pub use lifecycle::{Event, NumberState, transition};
pub use target::{Target, TargetKind};
