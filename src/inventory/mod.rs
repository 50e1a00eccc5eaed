//! Reseller inventory: CSV upload through COPY into staging and a set-based merge,
//! allocation of numbers to a reseller's tenants and release back, delete, the inventory page
//! and its CSV export.

pub mod api;
pub mod assign;
pub mod bench;
pub mod carriers;
pub mod conditions;
pub mod csvstage;
pub mod dashboard;
pub mod drawn;
pub mod manage;
pub mod ownership;
pub mod pages;
pub mod repo;
pub mod routes;
pub mod upload;
pub mod upload_sweep;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::TenantId;
use crate::domain::UserId;
use crate::domain::policy::{OrgKind, Principal};
use crate::error::AppResult;

/// The organization an upload is for, and who sent it.
#[derive(Debug, Clone)]
pub struct Uploader {
    pub org_id: Uuid,
    pub user_id: UserId,
    pub kind: OrgKind,
    pub parent_org_id: Option<Uuid>,
}

impl Uploader {
    /// Operators and reseller admins upload to their inventory; a tenant admin may upload
    /// the tenant's own numbers when its reseller set "Allow external numbers".
    pub async fn for_caller(conn: &mut PgConnection, caller: &Principal) -> AppResult<Uploader> {
        let allows_external: bool =
            sqlx::query_scalar("SELECT allow_external_numbers FROM organizations WHERE id = $1")
                .bind(caller.org_id)
                .fetch_one(conn)
                .await?;
        caller.may_upload(allows_external)?;
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
    pub fn own_tenant(&self) -> Option<TenantId> {
        (self.kind == OrgKind::Tenant).then_some(TenantId(self.org_id))
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

/// Which numbers a caller sees on the inventory page (decided by `domain::policy`).
pub type Scope = crate::domain::policy::InventoryView;
