//! Reseller inventory: CSV upload through COPY into staging and a set-based merge,
//! allocation of numbers to a reseller's tenants and release back, delete, the inventory page
//! and its CSV export.

pub mod api;
pub mod assign;
pub mod bench;
pub mod carriers;
pub mod conditions;
pub mod csvout;
pub mod csvstage;
pub mod dashboard;
pub mod drawn;
pub mod manage;
pub mod pages;
pub mod repo;
pub mod routes;
pub mod upload;
pub mod upload_sweep;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::policy::{Denied, OrgKind, Principal, Role};
use crate::error::{AppError, AppResult};

/// The organization an upload is for, and who sent it.
#[derive(Debug, Clone)]
pub struct Uploader {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub kind: OrgKind,
    pub parent_org_id: Option<Uuid>,
}

impl Uploader {
    /// Operators and reseller admins upload to their inventory; a tenant admin may upload
    /// the tenant's own numbers when its reseller set "Allow external numbers".
    pub async fn for_caller(conn: &mut PgConnection, caller: &Principal) -> AppResult<Uploader> {
        match caller.role {
            Role::Operator | Role::ResellerAdmin => {}
            Role::TenantAdmin => {
                let allowed: bool = sqlx::query_scalar(
                    "SELECT allow_external_numbers FROM organizations WHERE id = $1",
                )
                .bind(caller.org_id)
                .fetch_one(conn)
                .await?;
                if !allowed {
                    return Err(AppError::Forbidden(
                        "your tenant may not upload its own numbers: ask your reseller to set \"Allow external numbers\"".into(),
                    ));
                }
            }
            Role::TenantUser => {
                return Err(Denied::NeedsRole("reseller admin or tenant admin").into());
            }
        }
        Ok(Uploader {
            org_id: caller.org_id,
            user_id: caller.user_id,
            kind: caller.org_kind,
            parent_org_id: caller.parent_org_id,
        })
    }

    pub fn inventory_org(&self) -> Uuid {
        self.org_id
    }

    /// A tenant uploading its own numbers: they are allocated to it.
    pub fn own_tenant(&self) -> Option<Uuid> {
        (self.kind == OrgKind::Tenant).then_some(self.org_id)
    }

    /// Carriers an upload may name: global ones, the uploader's and its parent's.
    pub fn carrier_orgs(&self) -> Vec<Uuid> {
        let mut orgs = vec![self.org_id];
        orgs.extend(self.parent_org_id);
        orgs
    }

    /// Tenants a row may be allocated to: NULL = any (the operator), else children of the
    /// reseller, or the tenant itself.
    pub fn tenant_scope(&self) -> Option<Uuid> {
        (self.kind != OrgKind::Operator).then_some(self.org_id)
    }
}

/// Which numbers a caller sees on the inventory page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everything,
    /// A reseller: numbers in its inventory.
    Inventory(Uuid),
    /// A tenant admin: numbers allocated to the tenant or in use by it.
    Tenant(Uuid),
}

impl Scope {
    pub fn for_caller(caller: &Principal) -> AppResult<Scope> {
        match caller.role {
            Role::Operator => Ok(Scope::Everything),
            Role::ResellerAdmin => Ok(Scope::Inventory(caller.org_id)),
            Role::TenantAdmin => Ok(Scope::Tenant(caller.org_id)),
            Role::TenantUser => Err(Denied::NeedsRole("tenant admin").into()),
        }
    }
}

/// Allocation and release are the inventory owner's: an operator or a reseller admin.
pub fn manager_org(caller: &Principal) -> AppResult<Uuid> {
    match caller.role {
        Role::Operator | Role::ResellerAdmin => Ok(caller.org_id),
        _ => Err(Denied::NeedsRole("reseller admin").into()),
    }
}

pub fn can_view(caller: &Principal) -> bool {
    Scope::for_caller(caller).is_ok()
}
