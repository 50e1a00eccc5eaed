//! Who may do what. Handlers ask these functions; no role checks are written elsewhere.
//! Over 500 lines, a third of them unit tests: every role's answer in one place is the point.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{TenantId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    ResellerAdmin,
    TenantAdmin,
    TenantUser,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Operator,
    Reseller,
    Tenant,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub org_id: Uuid,
    pub org_kind: OrgKind,
    pub org_name: String,
    /// The reseller above the caller's tenant (or the caller's own reseller).
    pub parent_org_id: Option<Uuid>,
    /// The countries the caller's organization may hold numbers in, read with the
    /// principal so that a search or a hold needs no second look-up of the tenant.
    pub allowed_countries: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    NeedsTenant,
    NeedsRole(&'static str),
    /// A tenant admin uploading while its reseller has not allowed external numbers.
    ExternalNumbersOff,
    /// Approvals are a tenant's and its reseller's business.
    ApprovalsOfTenants,
    /// Users are managed by their organization's admins.
    UsersOfAdmins,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::NeedsTenant => f.write_str("this needs a tenant account: numbers are searched, held and routed by a tenant's users"),
            Denied::NeedsRole(what) => write!(f, "this needs the {what} role"),
            Denied::ExternalNumbersOff => f.write_str(
                "your tenant may not upload its own numbers: ask your reseller to set \"Allow external numbers\"",
            ),
            Denied::ApprovalsOfTenants => {
                f.write_str("approvals belong to tenants and their resellers")
            }
            Denied::UsersOfAdmins => {
                f.write_str("only your organization's admins manage its users")
            }
        }
    }
}

/// Who approves a tenant's premium reservations (tenant policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approver {
    /// Premium numbers need no approval.
    None,
    TenantAdmin,
    Reseller,
}

impl Approver {
    pub const ALL: [Approver; 3] = [Approver::None, Approver::TenantAdmin, Approver::Reseller];

    pub fn as_str(self) -> &'static str {
        match self {
            Approver::None => "none",
            Approver::TenantAdmin => "tenant_admin",
            Approver::Reseller => "reseller",
        }
    }

    pub fn parse(s: &str) -> Result<Approver, String> {
        Approver::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown approver “{s}”: use none, tenant_admin or reseller"))
    }

    /// Whether a tenant admin may change the policy from `self` to `to`. When the reseller
    /// approves premium numbers, that is the reseller's control over what its tenants spend:
    /// a tenant admin may make the policy stricter, never take the reseller out of it.
    pub fn tenant_may_change_to(self, to: Approver) -> bool {
        self != Approver::Reseller || to == Approver::Reseller
    }

    pub fn label(self) -> &'static str {
        match self {
            Approver::None => "No approval needed",
            Approver::TenantAdmin => "A tenant admin approves",
            Approver::Reseller => "The reseller approves",
        }
    }
}

/// Which numbers of the inventory a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InventoryView {
    Everything,
    /// A reseller: numbers in its inventory.
    Inventory(Uuid),
    /// A tenant admin: numbers allocated to the tenant or in use by it.
    Tenant(TenantId),
}

/// Which premium approvals a caller lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalsView {
    /// A tenant admin: every one of its tenant.
    Tenant(TenantId),
    /// A tenant user: the ones it asked for.
    Requester(UserId),
    /// A reseller admin: its tenants' that route approvals to it.
    Reseller(Uuid),
}

/// Which tenants' audit entries a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    Everything,
    TenantsOfReseller(Uuid),
    Tenant(TenantId),
}

impl Principal {
    /// The tenant on whose behalf numbers are searched, held and provisioned.
    pub fn tenant(&self) -> Result<TenantId, Denied> {
        match (self.org_kind, self.role) {
            (OrgKind::Tenant, Role::TenantAdmin | Role::TenantUser) => Ok(TenantId(self.org_id)),
            _ => Err(Denied::NeedsTenant),
        }
    }

    /// The tenant whose settings and platform connection the caller may change.
    pub fn manage_tenant(&self) -> Result<TenantId, Denied> {
        match (self.org_kind, self.role) {
            (OrgKind::Tenant, Role::TenantAdmin) => Ok(TenantId(self.org_id)),
            _ => Err(Denied::NeedsRole("tenant admin")),
        }
    }

    pub fn audit_scope(&self) -> Result<AuditScope, Denied> {
        match self.role {
            Role::Operator => Ok(AuditScope::Everything),
            Role::ResellerAdmin => Ok(AuditScope::TenantsOfReseller(self.org_id)),
            Role::TenantAdmin => Ok(AuditScope::Tenant(TenantId(self.org_id))),
            Role::TenantUser => Err(Denied::NeedsRole("tenant admin")),
        }
    }

    /// The tenant whose settings, CNAM and E911 data the caller may change: tenant admins only.
    pub fn tenant_admin(&self) -> Result<TenantId, Denied> {
        match (self.org_kind, self.role) {
            (OrgKind::Tenant, Role::TenantAdmin) => Ok(TenantId(self.org_id)),
            (OrgKind::Tenant, _) => Err(Denied::NeedsRole("tenant admin")),
            _ => Err(Denied::NeedsTenant),
        }
    }

    /// The reseller whose settings and aging numbers the caller manages: reseller admins only.
    /// The organization whose users this principal manages: its own, for any admin.
    pub fn managed_org(&self) -> Result<Uuid, Denied> {
        match self.role {
            Role::Operator | Role::ResellerAdmin | Role::TenantAdmin => Ok(self.org_id),
            Role::TenantUser => Err(Denied::UsersOfAdmins),
        }
    }

    pub fn reseller_admin(&self) -> Result<Uuid, Denied> {
        match (self.org_kind, self.role) {
            (OrgKind::Reseller, Role::ResellerAdmin) => Ok(self.org_id),
            _ => Err(Denied::NeedsRole("reseller admin")),
        }
    }

    /// The organization whose webhook endpoints the caller manages: a tenant admin's tenant
    /// or a reseller admin's reseller (whose endpoints hear of its tenants' events too).
    pub fn webhook_owner(&self) -> Result<Uuid, Denied> {
        match (self.org_kind, self.role) {
            (OrgKind::Tenant, Role::TenantAdmin) | (OrgKind::Reseller, Role::ResellerAdmin) => {
                Ok(self.org_id)
            }
            _ => Err(Denied::NeedsRole("tenant admin or reseller admin")),
        }
    }

    pub fn is_tenant_admin(&self) -> bool {
        self.tenant_admin().is_ok()
    }

    /// May this caller approve or decline premium reservations of `tenant` (whose reseller
    /// is `reseller`) under the tenant's `approver` policy?
    pub fn may_approve(
        &self,
        tenant: TenantId,
        reseller: Option<Uuid>,
        approver: Approver,
    ) -> bool {
        match (approver, self.org_kind, self.role) {
            (Approver::TenantAdmin, OrgKind::Tenant, Role::TenantAdmin) => {
                TenantId(self.org_id) == tenant
            }
            (Approver::Reseller, OrgKind::Reseller, Role::ResellerAdmin) => {
                Some(self.org_id) == reseller
            }
            _ => false,
        }
    }

    /// Whose approvals this caller may decide: its own tenant's as tenant admin, its
    /// tenants' as reseller admin.
    pub fn approval_scope(&self) -> Result<(Uuid, Approver), Denied> {
        match (self.org_kind, self.role) {
            (OrgKind::Tenant, Role::TenantAdmin) => Ok((self.org_id, Approver::TenantAdmin)),
            (OrgKind::Reseller, Role::ResellerAdmin) => Ok((self.org_id, Approver::Reseller)),
            _ => Err(Denied::NeedsRole("tenant admin or reseller admin")),
        }
    }

    /// Which inventory the caller sees: the operator all of it, a reseller admin its own, a
    /// tenant admin its tenant's numbers.
    pub fn inventory_view(&self) -> Result<InventoryView, Denied> {
        match self.role {
            Role::Operator => Ok(InventoryView::Everything),
            Role::ResellerAdmin => Ok(InventoryView::Inventory(self.org_id)),
            Role::TenantAdmin => Ok(InventoryView::Tenant(TenantId(self.org_id))),
            Role::TenantUser => Err(Denied::NeedsRole("tenant admin")),
        }
    }

    /// The inventory the caller allocates, releases and equips with carriers: the
    /// operator's or a reseller admin's own.
    pub fn inventory_owner(&self) -> Result<Uuid, Denied> {
        match self.role {
            Role::Operator | Role::ResellerAdmin => Ok(self.org_id),
            _ => Err(Denied::NeedsRole("reseller admin")),
        }
    }

    /// Whether the caller may upload numbers: an inventory owner, or a tenant admin whose
    /// reseller allows its organization external numbers (`allows_external`).
    pub fn may_upload(&self, allows_external: bool) -> Result<(), Denied> {
        match self.role {
            Role::Operator | Role::ResellerAdmin => Ok(()),
            Role::TenantAdmin if allows_external => Ok(()),
            Role::TenantAdmin => Err(Denied::ExternalNumbersOff),
            Role::TenantUser => Err(Denied::NeedsRole("reseller admin or tenant admin")),
        }
    }

    /// Only the platform operator gives numbers back to the carrier for good.
    pub fn is_operator(&self) -> bool {
        self.role == Role::Operator
    }

    pub fn approvals_view(&self) -> Result<ApprovalsView, Denied> {
        match (self.org_kind, self.role) {
            (OrgKind::Tenant, Role::TenantAdmin) => {
                Ok(ApprovalsView::Tenant(TenantId(self.org_id)))
            }
            (OrgKind::Tenant, Role::TenantUser) => Ok(ApprovalsView::Requester(self.user_id)),
            (OrgKind::Reseller, Role::ResellerAdmin) => Ok(ApprovalsView::Reseller(self.org_id)),
            _ => Err(Denied::ApprovalsOfTenants),
        }
    }

    pub fn can_view_audit(&self) -> bool {
        self.audit_scope().is_ok()
    }

    pub fn is_tenant_member(&self) -> bool {
        self.tenant().is_ok()
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::ResellerAdmin => "reseller_admin",
            Role::TenantAdmin => "tenant_admin",
            Role::TenantUser => "tenant_user",
        }
    }

    /// Whether a user with this role may act with `other`'s rights (an API token's scope):
    /// its own role, or one of less in the same organization.
    pub fn can_act_as(self, other: Role) -> bool {
        self == other || (self == Role::TenantAdmin && other == Role::TenantUser)
    }

    /// The rights a token scoped to `scope` gives a user with this role: the scope, unless
    /// the user has since lost them (then the user's own).
    pub fn within(self, scope: Option<Role>) -> Role {
        match scope {
            Some(scope) if self.can_act_as(scope) => scope,
            _ => self,
        }
    }

    /// The kind of organization a user with this role must belong to.
    pub fn org_kind(self) -> OrgKind {
        match self {
            Role::Operator => OrgKind::Operator,
            Role::ResellerAdmin => OrgKind::Reseller,
            Role::TenantAdmin | Role::TenantUser => OrgKind::Tenant,
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Role::Operator,
            Role::ResellerAdmin,
            Role::TenantAdmin,
            Role::TenantUser,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| {
            format!("unknown role “{s}”: use operator, reseller_admin, tenant_admin or tenant_user")
        })
    }
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Operator => "operator",
            OrgKind::Reseller => "reseller",
            OrgKind::Tenant => "tenant",
        }
    }

    /// The kind an organization's parent must have.
    pub fn parent_kind(self) -> Option<OrgKind> {
        match self {
            OrgKind::Operator => None,
            OrgKind::Reseller => Some(OrgKind::Operator),
            OrgKind::Tenant => Some(OrgKind::Reseller),
        }
    }
}

impl FromStr for OrgKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [OrgKind::Operator, OrgKind::Reseller, OrgKind::Tenant]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown organization kind “{s}”: use reseller or tenant"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_inventory_is_seen_and_kept_by_whom_the_roles_say() {
        let org = Uuid::from_u128(7);
        let view = |r| principal(r, r.org_kind()).inventory_view();
        assert_eq!(view(Role::Operator), Ok(InventoryView::Everything));
        assert_eq!(view(Role::ResellerAdmin), Ok(InventoryView::Inventory(org)));
        assert_eq!(
            view(Role::TenantAdmin),
            Ok(InventoryView::Tenant(TenantId(org)))
        );
        assert!(view(Role::TenantUser).is_err());
        let owner = |r| principal(r, r.org_kind()).inventory_owner();
        assert_eq!(owner(Role::Operator), Ok(org));
        assert_eq!(owner(Role::ResellerAdmin), Ok(org));
        assert!(owner(Role::TenantAdmin).is_err());
        assert!(owner(Role::TenantUser).is_err());
        let upload = |r, allowed| principal(r, r.org_kind()).may_upload(allowed);
        assert!(upload(Role::ResellerAdmin, false).is_ok());
        assert!(upload(Role::TenantAdmin, true).is_ok());
        assert_eq!(
            upload(Role::TenantAdmin, false),
            Err(Denied::ExternalNumbersOff)
        );
        assert!(upload(Role::TenantUser, true).is_err());
        assert!(principal(Role::Operator, OrgKind::Operator).is_operator());
        assert!(!principal(Role::ResellerAdmin, OrgKind::Reseller).is_operator());
    }

    #[test]
    fn approvals_are_listed_to_their_tenant_requester_or_reseller() {
        let (user, org) = (Uuid::nil(), Uuid::from_u128(7));
        let view = |r| principal(r, r.org_kind()).approvals_view();
        assert_eq!(
            view(Role::TenantAdmin),
            Ok(ApprovalsView::Tenant(TenantId(org)))
        );
        assert_eq!(
            view(Role::TenantUser),
            Ok(ApprovalsView::Requester(UserId(user)))
        );
        assert_eq!(view(Role::ResellerAdmin), Ok(ApprovalsView::Reseller(org)));
        assert_eq!(view(Role::Operator), Err(Denied::ApprovalsOfTenants));
    }

    #[test]
    fn a_token_acts_with_its_scope_never_above_its_user() {
        assert!(Role::TenantAdmin.can_act_as(Role::TenantUser));
        assert!(!Role::TenantUser.can_act_as(Role::TenantAdmin));
        assert!(!Role::ResellerAdmin.can_act_as(Role::TenantUser));
        assert_eq!(
            Role::TenantAdmin.within(Some(Role::TenantUser)),
            Role::TenantUser
        );
        assert_eq!(Role::TenantAdmin.within(None), Role::TenantAdmin);
        // Demoted since the token was made: the user's own, lower, role.
        assert_eq!(
            Role::TenantUser.within(Some(Role::TenantAdmin)),
            Role::TenantUser
        );
    }

    #[test]
    fn a_tenant_admin_cannot_take_the_reseller_out_of_premium_approvals() {
        use Approver::*;
        assert!(!Reseller.tenant_may_change_to(None));
        assert!(!Reseller.tenant_may_change_to(TenantAdmin));
        assert!(Reseller.tenant_may_change_to(Reseller));
        for from in [None, TenantAdmin] {
            for to in Approver::ALL {
                assert!(from.tenant_may_change_to(to), "{from:?} -> {to:?}");
            }
        }
    }

    use super::*;

    fn principal(role: Role, kind: OrgKind) -> Principal {
        Principal {
            user_id: UserId(Uuid::nil()),
            email: "a@example.com".into(),
            role,
            org_id: Uuid::from_u128(7),
            org_kind: kind,
            org_name: "Org".into(),
            parent_org_id: None,
            allowed_countries: vec!["US".into()],
        }
    }

    #[test]
    fn only_tenant_members_act_for_a_tenant() {
        assert_eq!(
            principal(Role::TenantUser, OrgKind::Tenant).tenant(),
            Ok(TenantId(Uuid::from_u128(7)))
        );
        assert_eq!(
            principal(Role::TenantAdmin, OrgKind::Tenant).tenant(),
            Ok(TenantId(Uuid::from_u128(7)))
        );
        assert_eq!(
            principal(Role::ResellerAdmin, OrgKind::Reseller).tenant(),
            Err(Denied::NeedsTenant)
        );
        assert_eq!(
            principal(Role::Operator, OrgKind::Operator).tenant(),
            Err(Denied::NeedsTenant)
        );
    }

    #[test]
    fn audit_scope_follows_the_organization_tree() {
        assert_eq!(
            principal(Role::Operator, OrgKind::Operator).audit_scope(),
            Ok(AuditScope::Everything)
        );
        assert_eq!(
            principal(Role::ResellerAdmin, OrgKind::Reseller).audit_scope(),
            Ok(AuditScope::TenantsOfReseller(Uuid::from_u128(7)))
        );
        assert_eq!(
            principal(Role::TenantAdmin, OrgKind::Tenant).audit_scope(),
            Ok(AuditScope::Tenant(TenantId(Uuid::from_u128(7))))
        );
        assert!(
            principal(Role::TenantUser, OrgKind::Tenant)
                .audit_scope()
                .is_err()
        );
    }

    #[test]
    fn every_admin_manages_the_users_of_its_own_organization_and_no_one_else_does() {
        for (role, kind) in [
            (Role::Operator, OrgKind::Operator),
            (Role::ResellerAdmin, OrgKind::Reseller),
            (Role::TenantAdmin, OrgKind::Tenant),
        ] {
            assert_eq!(principal(role, kind).managed_org(), Ok(Uuid::from_u128(7)));
        }
        assert_eq!(
            principal(Role::TenantUser, OrgKind::Tenant).managed_org(),
            Err(Denied::UsersOfAdmins)
        );
    }

    #[test]
    fn only_tenant_admins_change_tenant_settings_cnam_and_e911() {
        assert_eq!(
            principal(Role::TenantAdmin, OrgKind::Tenant).tenant_admin(),
            Ok(TenantId(Uuid::from_u128(7)))
        );
        assert_eq!(
            principal(Role::TenantUser, OrgKind::Tenant).tenant_admin(),
            Err(Denied::NeedsRole("tenant admin"))
        );
        assert_eq!(
            principal(Role::ResellerAdmin, OrgKind::Reseller).tenant_admin(),
            Err(Denied::NeedsTenant)
        );
        assert!(!principal(Role::Operator, OrgKind::Operator).is_tenant_admin());
        assert_eq!(
            principal(Role::ResellerAdmin, OrgKind::Reseller).reseller_admin(),
            Ok(Uuid::from_u128(7))
        );
        assert!(
            principal(Role::TenantAdmin, OrgKind::Tenant)
                .reseller_admin()
                .is_err()
        );
    }

    #[test]
    fn premium_approvers_follow_the_tenant_policy() {
        let tenant = TenantId(Uuid::from_u128(7));
        let reseller = Some(Uuid::from_u128(9));
        let admin = principal(Role::TenantAdmin, OrgKind::Tenant);
        let user = principal(Role::TenantUser, OrgKind::Tenant);
        let mut acme = principal(Role::ResellerAdmin, OrgKind::Reseller);
        acme.org_id = Uuid::from_u128(9);
        let other_reseller = principal(Role::ResellerAdmin, OrgKind::Reseller);
        assert!(admin.may_approve(tenant, reseller, Approver::TenantAdmin));
        assert!(!admin.may_approve(
            TenantId(Uuid::from_u128(8)),
            reseller,
            Approver::TenantAdmin
        ));
        assert!(!admin.may_approve(tenant, reseller, Approver::Reseller));
        assert!(!user.may_approve(tenant, reseller, Approver::TenantAdmin));
        assert!(acme.may_approve(tenant, reseller, Approver::Reseller));
        assert!(!acme.may_approve(tenant, reseller, Approver::TenantAdmin));
        assert!(!other_reseller.may_approve(tenant, reseller, Approver::Reseller));
        assert!(!admin.may_approve(tenant, reseller, Approver::None));
        assert!(user.approval_scope().is_err());
        assert_eq!(Approver::parse("reseller"), Ok(Approver::Reseller));
        assert!(Approver::parse("boss").is_err());
    }

    #[test]
    fn roles_and_kinds_parse_and_belong_together() {
        assert_eq!("tenant_admin".parse::<Role>(), Ok(Role::TenantAdmin));
        assert!("admin".parse::<Role>().is_err());
        assert_eq!(Role::ResellerAdmin.org_kind(), OrgKind::Reseller);
        assert_eq!(OrgKind::Tenant.parent_kind(), Some(OrgKind::Reseller));
        assert_eq!("tenant".parse::<OrgKind>(), Ok(OrgKind::Tenant));
    }
}
