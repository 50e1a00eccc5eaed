//! What a number's page shows about its caller-ID name, E911 address and unrouted calls: the
//! features slice's part of the page the numbers slice draws.

use super::cnam::CnamView;
use super::e911::E911View;
use crate::auth::PageCaller;
use crate::domain::cnam::SyncStatus;
use crate::domain::e911::E911Status;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::Refusal;

/// What the number page shows about CNAM, E911 and unrouted calls.
pub struct NumberFeatures {
    pub cnam: CnamView,
    pub e911: E911View,
    /// The values in the E911 form: the saved address, or what was typed when it was refused.
    pub e911_form: E911View,
    pub cnam_default: Option<String>,
    pub cnam_error: Option<String>,
    pub cnam_refusal: Refusal,
    pub e911_error: Option<String>,
    pub e911_refusal: Refusal,
    pub can_edit: bool,
    pub unassigned: String,
    pub require_e911: bool,
    /// The tenant's saved addresses, to choose one for the number.
    pub saved_addresses: Vec<super::e911_book::SavedAddress>,
    /// The address guide's candidates after the form was sent.
    pub e911_suggestions: Option<super::e911_pages::Suggestions>,
    /// Who is alerted when 911 is dialed from the number (the tenant's and its own).
    pub alert_contacts: Vec<super::e911_contacts::ContactRow>,
    pub contact_error: Option<String>,
    pub contact_refusal: Refusal,
    /// How each contact was reached by the test alert just sent.
    pub alert_deliveries: Option<Vec<super::e911_contacts::Delivery>>,
    pub alert_error: Option<String>,
}

impl NumberFeatures {
    /// The page refreshes the status while the provider has not answered yet.
    pub fn polling(&self) -> bool {
        self.cnam.status == SyncStatus::Pending || self.e911.status == E911Status::Pending
    }
}

pub async fn number_features(
    state: &AppState,
    caller: &PageCaller,
    e164: &str,
) -> Result<NumberFeatures, AppError> {
    let tenant_id = caller.principal.tenant()?;
    let mut conn = state.pool.acquire().await?;
    let cnam = super::cnam::view(&mut conn, tenant_id, e164).await?;
    let e911 = super::e911::view(&mut conn, tenant_id, e164).await?;
    let settings = crate::tenants::settings::load(&mut conn, tenant_id).await?;
    let alert_contacts = super::e911_contacts::list(&mut conn, tenant_id, Some(e164)).await?;
    drop(conn);
    let saved_addresses = super::e911_book::list(state, &caller.principal).await?;
    Ok(NumberFeatures {
        cnam,
        e911_form: e911.clone(),
        e911,
        cnam_default: settings.cnam_default.clone(),
        cnam_error: None,
        cnam_refusal: Refusal::default(),
        e911_error: None,
        e911_refusal: Refusal::default(),
        can_edit: caller.principal.is_tenant_admin(),
        unassigned: settings.unassigned_description(),
        require_e911: settings.require_e911,
        saved_addresses,
        e911_suggestions: None,
        alert_contacts,
        contact_error: None,
        contact_refusal: Refusal::default(),
        alert_deliveries: None,
        alert_error: None,
    })
}
