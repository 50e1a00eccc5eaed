//! What the port pages and the API show: the tenant's requests and one request's numbers
//! and events.

use super::*;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PortSummary {
    pub id: Uuid,
    pub current_carrier: String,
    pub account_name: String,
    pub created_at: DateTime<Utc>,
    pub numbers: i64,
    pub completed: i64,
    pub rejected: i64,
    pub in_flight: i64,
}

pub async fn list(conn: &mut PgConnection, tenant_id: TenantId) -> AppResult<Vec<PortSummary>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.current_carrier, p.account_name, p.created_at, count(n.e164) AS numbers,
                count(*) FILTER (WHERE n.status = 'completed') AS completed,
                count(*) FILTER (WHERE n.status = 'rejected') AS rejected,
                count(*) FILTER (WHERE n.status IN ('submitted', 'acknowledged', 'foc_set')) AS in_flight
         FROM port_requests p JOIN port_numbers n ON n.port_id = p.id
         WHERE p.tenant_id = $1 GROUP BY p.id ORDER BY p.created_at DESC LIMIT 200",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PortView {
    pub id: Uuid,
    pub requested_by_email: String,
    pub current_carrier: String,
    pub account_number: String,
    pub account_name: String,
    pub service_address: String,
    pub target_type: String,
    pub target_name: String,
    pub loa_filename: Option<String>,
    pub loa_bytes: Option<i32>,
    pub loa_uploaded_at: Option<DateTime<Utc>>,
    pub bill_filename: Option<String>,
    pub bill_bytes: Option<i32>,
    pub bill_uploaded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub requested_foc: Option<chrono::NaiveDate>,
    /// Set when the request was split into orders of at most 100 numbers.
    pub batch_id: Option<Uuid>,
}

/// One order of a split request.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PortOrder {
    pub id: Uuid,
    pub numbers: i64,
    pub first: String,
    pub last: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PortNumber {
    pub e164: String,
    #[sqlx(try_from = "String")]
    pub status: PortStatus,
    pub reason: Option<String>,
    pub foc_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PortEventRow {
    pub e164: Option<String>,
    pub status: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortDetail {
    #[serde(flatten)]
    pub request: PortView,
    pub numbers: Vec<PortNumber>,
    pub events: Vec<PortEventRow>,
    /// The orders of its batch, in number order (this one among them); empty for a request
    /// sent as one order.
    pub orders: Vec<PortOrder>,
}

impl PortDetail {
    pub fn fixable(&self) -> bool {
        self.numbers
            .iter()
            .any(|n| matches!(n.status, PortStatus::Draft | PortStatus::Rejected))
    }
    /// "2 of 3": which order of its batch this is.
    pub fn order_of(&self) -> Option<(usize, usize)> {
        let at = self.orders.iter().position(|o| o.id == self.request.id)?;
        Some((at + 1, self.orders.len()))
    }

    pub fn cancellable(&self) -> bool {
        !self.numbers.iter().any(|n| n.status == PortStatus::FocSet)
            && self
                .numbers
                .iter()
                .any(|n| !matches!(n.status, PortStatus::Completed | PortStatus::Cancelled))
    }
}

pub async fn detail(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    id: Uuid,
) -> AppResult<PortDetail> {
    let request: PortView = sqlx::query_as(
        "SELECT p.id, u.email AS requested_by_email, p.current_carrier, p.account_number, p.account_name,
                p.service_address, p.target_type, p.target_name, p.loa_filename, octet_length(p.loa) AS loa_bytes,
                p.loa_uploaded_at, p.bill_filename, octet_length(p.bill) AS bill_bytes, p.bill_uploaded_at,
                p.created_at, p.requested_foc, p.batch_id
         FROM port_requests p JOIN users u ON u.id = p.requested_by WHERE p.id = $1 AND p.tenant_id = $2",
    )
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::NotFound("port request".into()))?;
    let numbers = sqlx::query_as(
        "SELECT e164, status, reason, foc_at, updated_at FROM port_numbers WHERE port_id = $1 ORDER BY e164",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let events = sqlx::query_as(
        "SELECT e164, status, message, at FROM port_events WHERE port_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let orders =
        match request.batch_id {
            None => Vec::new(),
            Some(batch) => sqlx::query_as(
                "SELECT p.id, count(n.e164) AS numbers, min(n.e164) AS first, max(n.e164) AS last
                 FROM port_requests p JOIN port_numbers n ON n.port_id = p.id
                 WHERE p.batch_id = $1 AND p.tenant_id = $2
                 GROUP BY p.id ORDER BY min(n.e164)",
            )
            .bind(batch)
            .bind(tenant_id)
            .fetch_all(&mut *conn)
            .await?,
        };
    Ok(PortDetail {
        request,
        numbers,
        events,
        orders,
    })
}
