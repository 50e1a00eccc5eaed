//! Tenants as the lifecycle sees them: their place in the organization tree and policy.

pub mod settings;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::TenantId;
use crate::error::{AppError, AppResult};

pub const OPERATOR_ORG_ID: Uuid = Uuid::from_u128(1);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantProfile {
    pub id: TenantId,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub allowed_countries: Vec<String>,
}

impl TenantProfile {
    /// Inventory a tenant may draw from: carrier stock (held by the operator), its reseller's,
    /// and its own (numbers its connected platform owns, and external numbers it uploaded).
    /// Numbers allocated to another tenant are excluded by the callers (`allocated_tenant_id`).
    pub fn inventory_orgs(&self) -> Vec<Uuid> {
        let mut orgs = vec![OPERATOR_ORG_ID, self.id.0];
        orgs.extend(self.parent_id);
        orgs
    }

    /// Whether a number of a visible inventory is offered to this tenant.
    pub fn may_use(&self, inventory_org: Uuid, allocated_to: Option<TenantId>) -> bool {
        self.inventory_orgs().contains(&inventory_org) && allocated_to.is_none_or(|t| t == self.id)
    }
}

impl TenantProfile {
    /// The caller's own tenant, as read with the principal in the same request (no query).
    pub fn of_caller(caller: &crate::domain::policy::Principal) -> AppResult<TenantProfile> {
        let id = caller.tenant()?;
        Ok(TenantProfile {
            id,
            name: caller.org_name.clone(),
            parent_id: caller.parent_org_id,
            allowed_countries: caller.allowed_countries.clone(),
        })
    }
}

pub async fn profile(conn: &mut PgConnection, tenant_id: TenantId) -> AppResult<TenantProfile> {
    sqlx::query_as(
        "SELECT id, name, parent_id, allowed_countries FROM organizations WHERE id = $1 AND kind = 'tenant'",
    )
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound("tenant".into()))
}

/// The tenants an operator's check covers: one by its slug, or all of them, by slug.
pub async fn ids_and_slugs(
    pool: &sqlx::PgPool,
    slug: Option<&str>,
) -> AppResult<Vec<(TenantId, String)>> {
    let tenants: Vec<(TenantId, String)> = sqlx::query_as(
        "SELECT id, slug FROM organizations WHERE kind = 'tenant' AND ($1::text IS NULL OR slug = $1) ORDER BY slug",
    )
    .bind(slug)
    .fetch_all(pool)
    .await?;
    if let Some(slug) = slug
        && tenants.is_empty()
    {
        return Err(crate::error::AppError::NotFound(format!("tenant “{slug}”")));
    }
    Ok(tenants)
}

/// A reseller or tenant, as the operator picks one (identity providers, say).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Organization {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub kind: String,
}

/// Every reseller and tenant, resellers first.
pub async fn resellers_and_tenants(conn: &mut PgConnection) -> AppResult<Vec<Organization>> {
    Ok(sqlx::query_as(
        "SELECT id, slug, name, kind FROM organizations WHERE kind <> 'operator'
         ORDER BY kind = 'tenant', name",
    )
    .fetch_all(conn)
    .await?)
}

/// A reseller or tenant by its slug.
pub async fn organization(conn: &mut PgConnection, slug: &str) -> AppResult<Option<Organization>> {
    Ok(sqlx::query_as(
        "SELECT id, slug, name, kind FROM organizations WHERE kind <> 'operator' AND slug = $1",
    )
    .bind(slug)
    .fetch_optional(conn)
    .await?)
}

/// A tenant as a report names it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct TenantName {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
}

/// The tenants whose figures the caller may see: every tenant for the operator, a
/// reseller's own tenants for its admins, a tenant admin's own tenant; by name.
pub async fn visible_to(
    conn: &mut PgConnection,
    caller: &crate::domain::policy::Principal,
) -> AppResult<Vec<TenantName>> {
    use crate::domain::policy::Role;
    let (everyone, parent, own) = match caller.role {
        Role::Operator => (true, None, None),
        Role::ResellerAdmin => (false, Some(caller.org_id), None),
        Role::TenantAdmin => (false, None, Some(caller.org_id)),
        Role::TenantUser => return Ok(Vec::new()),
    };
    Ok(sqlx::query_as(
        "SELECT id, slug, name FROM organizations
         WHERE kind = 'tenant' AND ($1 OR parent_id = $2 OR id = $3)
         ORDER BY name",
    )
    .bind(everyone)
    .bind(parent)
    .bind(own)
    .fetch_all(conn)
    .await?)
}
