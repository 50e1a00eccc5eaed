//! What every page shares: the navigation chrome and its notices.

use crate::domain::policy::Principal;

/// The logged-in user's bar, the CSRF token, and an optional notice.
pub struct Chrome {
    pub email: String,
    pub org_name: String,
    pub role: String,
    pub csrf: String,
    pub is_tenant: bool,
    pub can_audit: bool,
    pub is_tenant_admin: bool,
    pub can_inventory: bool,
    pub can_approve: bool,
    pub is_reseller_admin: bool,
    pub can_manage_users: bool,
    pub can_webhooks: bool,
    pub is_operator: bool,
    /// Tenant admins, reseller admins and the operator see the cost report.
    pub can_see_costs: bool,
    pub notice: Option<String>,
}

/// A count as people read it: 200000 → "200,000".
pub fn grouped(n: impl std::borrow::Borrow<i64>) -> String {
    let n = *n.borrow();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `?notice=code` after a redirect (see `Chrome::with_notice`), and the number it is about
/// (`&number=`), which the notice names when it is a phone number.
#[derive(Debug, serde::Deserialize)]
pub struct NoticeQuery {
    pub notice: Option<String>,
    pub number: Option<String>,
}

impl Chrome {
    pub fn new(principal: &Principal, csrf: &str) -> Self {
        Chrome {
            email: principal.email.clone(),
            org_name: principal.org_name.clone(),
            role: principal.role.as_str().replace('_', " "),
            csrf: csrf.to_string(),
            is_tenant: principal.is_tenant_member(),
            can_audit: principal.can_view_audit(),
            can_inventory: principal.inventory_view().is_ok(),
            is_tenant_admin: principal.is_tenant_admin(),
            can_approve: principal.approval_scope().is_ok(),
            is_reseller_admin: principal.reseller_admin().is_ok(),
            can_manage_users: principal.managed_org().is_ok(),
            can_webhooks: principal.webhook_owner().is_ok(),
            is_operator: principal.role == crate::domain::policy::Role::Operator,
            can_see_costs: principal.role != crate::domain::policy::Role::TenantUser,
            notice: None,
        }
    }

    /// Notices come from fixed codes in redirects, never from free text in the URL.
    /// A notice that names the number it is about: only a number that parses is shown, in
    /// national format, so the address cannot put words on the page.
    pub fn with_notice_about(self, code: Option<&str>, number: Option<&str>) -> Self {
        let national = number
            .and_then(|n| crate::domain::E164::parse(n).ok())
            .map(|n| crate::domain::e164::format_national(n.as_str()));
        let about = match (code, national) {
            (Some("provisioned"), Some(n)) => format!("{n} is provisioned."),
            (Some("released"), Some(n)) => {
                format!("{n} is released: it is back in the reseller's inventory.")
            }
            (Some("rerouted"), Some(n)) => {
                format!("{n} is re-routed: calls now go to its new target.")
            }
            _ => return self.with_notice(code),
        };
        Chrome {
            notice: Some(about),
            ..self
        }
    }

    pub fn with_notice(mut self, code: Option<&str>) -> Self {
        self.notice = code
            .and_then(|c| match c {
                "cancelled" => Some("Reservation cancelled: the numbers are back in inventory."),
                "provider_saved" => Some("Company sign-in saved."),
                "provider_removed" => Some("Company sign-in removed."),
                "extended" => Some("The hold runs for longer: see the new time left."),
                "ordered" => {
                    Some("Inward picked and held these numbers for you: provision them below.")
                }
                "provisioned" => Some("Number provisioned."),
                "provisioned_all" => Some("All the numbers are provisioned."),
                "released" => Some("Number released: it is back in the reseller's inventory."),
                "rerouted" => Some("Number re-routed: calls now go to its new target."),
                "welcome" => Some("Welcome back."),
                "cart_removed" => Some("Removed from the cart."),
                "cart_cleared" => Some("The cart is empty."),
                "cart_updated" => Some("Cart updated."),
                "cnam_saved" => {
                    Some("Caller-ID name saved: it is on its way to the CNAM database.")
                }
                "e911_saved" => {
                    Some("E911 address saved: it is being registered with the 911 provider.")
                }
                "e911_all_saved" => Some(
                    "E911 address saved for every number of this tenant: each is being registered.",
                ),
                "e911_bulk" => {
                    Some("E911 address saved for the selected numbers: each is being registered.")
                }
                "settings_saved" => Some("Tenant settings saved."),
                "e911_address_saved" => Some("Address saved: choose it for numbers on their page or in a bulk update."),
                "e911_address_changed" => Some(
                    "Address changed: every number that uses it is being registered again.",
                ),
                "e911_address_deleted" => Some("Saved address deleted."),
                "e911_contact_added" => Some("911 alert contact added."),
                "e911_contact_removed" => Some("911 alert contact removed."),
                "aging_saved" => {
                    Some("Aging period saved: it applies to numbers released from now on.")
                }
                "port_created" => {
                    Some("Port request created: upload the signed LOA, then submit it.")
                }
                "port_split" => Some(
                    "More than 100 numbers: the request is split into orders of at most 100, listed below, each sent and followed on its own. Each order needs its own signed LOA (its filled-in letter lists its numbers); a copy of the bill uploaded to one goes to all. Submit each.",
                ),
                "port_updated" => {
                    Some("Account details corrected: submit again to resend the rejected numbers.")
                }
                "port_submitted" => {
                    Some("Submitted to the current carrier. You will be notified of every change.")
                }
                "port_cancelled" => Some("Port request cancelled."),
                "loa_uploaded" => Some("Letter of Authorization uploaded."),
                "bill_uploaded" => Some("Copy of the bill uploaded."),
                "approved" => {
                    Some("Approved: the requester has been told and can provision the numbers.")
                }
                "declined" => Some(
                    "Declined: the numbers went back to inventory and the requester has been told.",
                ),
                _ => None,
            })
            .map(str::to_string);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(200000), "200,000");
        assert_eq!(grouped(-1234567), "-1,234,567");
        assert_eq!(grouped(i64::MIN), "-9,223,372,036,854,775,808");
    }
}
