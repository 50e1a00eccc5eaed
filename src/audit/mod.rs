//! The append-only audit log: every lifecycle step, who did it, and how it ended.

pub mod chain;
pub mod deferred;
pub mod repo;

use crate::domain::TenantId;
use crate::domain::UserId;
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    #[serde(rename = "SEARCH")]
    Search,
    #[serde(rename = "RESERVE")]
    Reserve,
    #[serde(rename = "PROVISION")]
    Provision,
    #[serde(rename = "RELEASE")]
    Release,
    #[serde(rename = "DEPROVISION")]
    Deprovision,
    #[serde(rename = "EXPIRE")]
    Expire,
    #[serde(rename = "CONNECT")]
    Connect,
    #[serde(rename = "ORPHAN")]
    Orphan,
    #[serde(rename = "UPLOAD")]
    Upload,
    #[serde(rename = "ALLOCATE")]
    Allocate,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "UPDATE_CAPABILITIES")]
    UpdateCapabilities,
    #[serde(rename = "PERMANENT_RELEASE")]
    PermanentRelease,
    #[serde(rename = "ASSIGN")]
    Assign,
    #[serde(rename = "UNASSIGN")]
    Unassign,
    #[serde(rename = "CNAM")]
    Cnam,
    #[serde(rename = "E911")]
    E911,
    #[serde(rename = "SETTINGS")]
    Settings,
    #[serde(rename = "APPROVAL_REQUEST")]
    ApprovalRequest,
    #[serde(rename = "APPROVE")]
    Approve,
    #[serde(rename = "DECLINE")]
    Decline,
    #[serde(rename = "PORT_CREATE")]
    PortCreate,
    #[serde(rename = "PORT_UPDATE")]
    PortUpdate,
    #[serde(rename = "PORT_LOA")]
    PortLoa,
    #[serde(rename = "PORT_SUBMIT")]
    PortSubmit,
    #[serde(rename = "PORT_CANCEL")]
    PortCancel,
    #[serde(rename = "PORT_STATUS")]
    PortStatus,
    /// A change to the DNIS pool or tracking numbers of the tenant's RingCX account.
    #[serde(rename = "RINGCX_POOL")]
    RingCxPool,
    #[serde(rename = "CARRIER_CREATE")]
    CarrierCreate,
    #[serde(rename = "CARRIER_DEFAULT")]
    CarrierDefault,
    #[serde(rename = "TOKEN_CREATE")]
    TokenCreate,
    #[serde(rename = "TOKEN_REVOKE")]
    TokenRevoke,
    #[serde(rename = "USER_DISABLE")]
    UserDisable,
    #[serde(rename = "USER_ENABLE")]
    UserEnable,
    #[serde(rename = "USER_CREATE")]
    UserCreate,
    #[serde(rename = "USER_ROLE")]
    UserRole,
    #[serde(rename = "PASSWORD_CHANGE")]
    PasswordChange,
    #[serde(rename = "SESSIONS_END")]
    SessionsEnd,
    /// A difference between Inward and the platform resolved from the Drift page.
    #[serde(rename = "RECONCILE")]
    Reconcile,
    /// A number moved from one routing target to another (details: `from`, `to`).
    #[serde(rename = "REROUTE")]
    Reroute,
    /// A webhook endpoint made, changed, deleted, or disabled after failing (details: `event`).
    #[serde(rename = "WEBHOOK")]
    Webhook,
    /// A hold given more time (details: `reservation_id`, `expires_at`, `was`).
    #[serde(rename = "EXTEND")]
    Extend,
    /// An identity provider set up, changed or removed (details: `event`, `name`).
    #[serde(rename = "IDENTITY_PROVIDER")]
    IdentityProvider,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::Search,
        Action::Reserve,
        Action::Provision,
        Action::Release,
        Action::Deprovision,
        Action::Expire,
        Action::Connect,
        Action::Orphan,
        Action::Upload,
        Action::Allocate,
        Action::Delete,
        Action::UpdateCapabilities,
        Action::PermanentRelease,
        Action::Assign,
        Action::Unassign,
        Action::Cnam,
        Action::E911,
        Action::Settings,
        Action::ApprovalRequest,
        Action::Approve,
        Action::Decline,
        Action::PortCreate,
        Action::PortUpdate,
        Action::PortLoa,
        Action::PortSubmit,
        Action::PortCancel,
        Action::PortStatus,
        Action::RingCxPool,
        Action::CarrierCreate,
        Action::CarrierDefault,
        Action::TokenCreate,
        Action::TokenRevoke,
        Action::UserDisable,
        Action::UserEnable,
        Action::UserCreate,
        Action::UserRole,
        Action::PasswordChange,
        Action::SessionsEnd,
        Action::Reconcile,
        Action::Reroute,
        Action::Webhook,
        Action::Extend,
        Action::IdentityProvider,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Search => "SEARCH",
            Action::Reserve => "RESERVE",
            Action::Provision => "PROVISION",
            Action::Release => "RELEASE",
            Action::Deprovision => "DEPROVISION",
            Action::Expire => "EXPIRE",
            Action::Connect => "CONNECT",
            Action::Orphan => "ORPHAN",
            Action::Upload => "UPLOAD",
            Action::Allocate => "ALLOCATE",
            Action::Delete => "DELETE",
            Action::UpdateCapabilities => "UPDATE_CAPABILITIES",
            Action::PermanentRelease => "PERMANENT_RELEASE",
            Action::Assign => "ASSIGN",
            Action::Unassign => "UNASSIGN",
            Action::Cnam => "CNAM",
            Action::E911 => "E911",
            Action::Settings => "SETTINGS",
            Action::ApprovalRequest => "APPROVAL_REQUEST",
            Action::Approve => "APPROVE",
            Action::Decline => "DECLINE",
            Action::PortCreate => "PORT_CREATE",
            Action::PortUpdate => "PORT_UPDATE",
            Action::PortLoa => "PORT_LOA",
            Action::PortSubmit => "PORT_SUBMIT",
            Action::PortCancel => "PORT_CANCEL",
            Action::PortStatus => "PORT_STATUS",
            Action::RingCxPool => "RINGCX_POOL",
            Action::Reconcile => "RECONCILE",
            Action::Reroute => "REROUTE",
            Action::Webhook => "WEBHOOK",
            Action::Extend => "EXTEND",
            Action::IdentityProvider => "IDENTITY_PROVIDER",
            Action::CarrierCreate => "CARRIER_CREATE",
            Action::CarrierDefault => "CARRIER_DEFAULT",
            Action::TokenCreate => "TOKEN_CREATE",
            Action::TokenRevoke => "TOKEN_REVOKE",
            Action::UserDisable => "USER_DISABLE",
            Action::UserEnable => "USER_ENABLE",
            Action::UserCreate => "USER_CREATE",
            Action::UserRole => "USER_ROLE",
            Action::PasswordChange => "PASSWORD_CHANGE",
            Action::SessionsEnd => "SESSIONS_END",
        }
    }

    pub fn parse(value: &str) -> Option<Action> {
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.as_str().eq_ignore_ascii_case(value))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Expired,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "SUCCESS",
            Outcome::Failure => "FAILURE",
            Outcome::Expired => "EXPIRED",
        }
    }
}

/// One entry to append. Build with `Entry::new` and the `with_*` setters.
#[derive(Debug, Clone)]
pub struct Entry {
    pub tenant_id: Option<TenantId>,
    pub user_id: Option<UserId>,
    pub phone_number: Option<String>,
    pub action: Action,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub status: Outcome,
    pub error_message: Option<String>,
    pub request_id: Option<String>,
    pub justification: Option<String>,
    pub details: Option<serde_json::Value>,
    /// The organization that acted (a reseller's inventory work has no tenant).
    pub org_id: Option<Uuid>,
}

impl Entry {
    pub fn new(action: Action, status: Outcome) -> Self {
        Entry {
            tenant_id: None,
            user_id: None,
            phone_number: None,
            action,
            target_type: None,
            target_id: None,
            status,
            error_message: None,
            request_id: None,
            justification: None,
            details: None,
            org_id: None,
        }
    }

    /// Records the acting organization, so its own scoped audit log shows the entry.
    pub fn org(mut self, org_id: Uuid) -> Self {
        self.org_id = Some(org_id);
        self
    }

    pub fn by(
        mut self,
        tenant_id: Option<TenantId>,
        user_id: Option<UserId>,
        request_id: Option<&str>,
    ) -> Self {
        self.tenant_id = tenant_id;
        self.user_id = user_id;
        self.request_id = request_id.map(str::to_string);
        self
    }

    pub fn number(mut self, e164: &str) -> Self {
        self.phone_number = Some(e164.to_string());
        self
    }

    pub fn target(mut self, kind: &str, id: Option<&str>) -> Self {
        self.target_type = Some(kind.to_string());
        self.target_id = id.map(str::to_string);
        self
    }

    pub fn error(mut self, message: impl Into<String>) -> Self {
        self.error_message = Some(message.into());
        self
    }

    pub fn justification(mut self, text: Option<&str>) -> Self {
        self.justification = text.map(str::to_string);
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}
