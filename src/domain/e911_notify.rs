//! Who is told when someone dials 911 from a tenant's number. Kari's Law (47 CFR 9.16) asks a
//! multi-line system to notify a central point — a front desk, building security — so that
//! someone can meet the responders and lead them in. A tenant names its contacts; a number
//! may add its own (the people of the site where it rings).

use serde::{Deserialize, Serialize};

use super::E164;
use super::e911::FieldError;

/// At most this many contacts per tenant, its numbers' own included.
pub const MAX_CONTACTS: usize = 200;

/// What a user typed for a contact.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContactInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

/// A contact that can be reached: a name, and an email address, a phone for text messages,
/// or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<E164>,
}

fn blank_to_none(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Contact {
    pub fn parse(input: &ContactInput) -> Result<Contact, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = input.name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            errors.push(FieldError {
                field: "name",
                message: "the contact's name is required (a person or a desk, like Security)"
                    .into(),
            });
        } else if name.chars().count() > 80 || name.chars().any(char::is_control) {
            errors.push(FieldError {
                field: "name",
                message: "the name is limited to 80 characters, without control characters".into(),
            });
        }
        let email = blank_to_none(input.email.as_deref());
        // What the mailer cannot address cannot be notified.
        if let Some(e) = &email
            && (e.len() > 254 || e.parse::<lettre::Address>().is_err())
        {
            errors.push(FieldError {
                field: "email",
                message: format!("“{e}” is not an email address"),
            });
        }
        let phone = match blank_to_none(input.phone.as_deref()) {
            None => None,
            Some(raw) => match E164::parse(&raw) {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.push(FieldError {
                        field: "phone",
                        message: format!("“{raw}”: {e}"),
                    });
                    None
                }
            },
        };
        if email.is_none() && input.phone.as_deref().is_none_or(|p| p.trim().is_empty()) {
            errors.push(FieldError {
                field: "email",
                message: "give an email address, a mobile number for text messages, or both".into(),
            });
        }
        if errors.is_empty() {
            Ok(Contact { name, email, phone })
        } else {
            Err(errors)
        }
    }
}

/// Test alerts for one number are at least this far apart.
pub const TEST_INTERVAL_SECONDS: i64 = 60;

/// Seconds before another test alert may go out for a number last tested at `last`; None
/// when it may go now.
pub fn test_wait(
    last: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<i64> {
    let elapsed = (now - last?).num_seconds();
    (elapsed < TEST_INTERVAL_SECONDS)
        .then(|| (TEST_INTERVAL_SECONDS - elapsed).clamp(1, TEST_INTERVAL_SECONDS))
}

/// The alert sent to each contact: its subject line (the email's subject) and its body (the
/// email's text, and the text message).
pub fn alert(number: &E164, address: Option<&str>, test: bool) -> (String, String) {
    let place = address.map_or_else(
        || "no 911 address is registered for this number".to_string(),
        |a| format!("its registered 911 address is {a}"),
    );
    if test {
        (
            format!("TEST 911 alert from {number}"),
            format!(
                "This is a test of Inward's 911 alerts; no one dialed 911. If someone dials 911 \
                 from {number}, you will be told at once: {place}."
            ),
        )
    } else {
        (
            format!("911 call from {number}"),
            format!(
                "Someone dialed 911 from {number}; {place}. Meet the responders and lead them in."
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, email: Option<&str>, phone: Option<&str>) -> ContactInput {
        ContactInput {
            name: name.into(),
            email: email.map(Into::into),
            phone: phone.map(Into::into),
        }
    }

    #[test]
    fn a_contact_has_a_name_and_a_way_to_reach_it() {
        let c = Contact::parse(&input(" Front  desk ", Some("desk@globex.test"), None)).unwrap();
        assert_eq!(c.name, "Front desk");
        assert_eq!(c.email.as_deref(), Some("desk@globex.test"));
        let c = Contact::parse(&input("Security", Some(" "), Some("(512) 555-0100"))).unwrap();
        assert_eq!(c.email, None);
        assert_eq!(c.phone.unwrap().as_str(), "+15125550100");
    }

    #[test]
    fn each_problem_is_named_by_its_field() {
        let fields = |i: ContactInput| {
            Contact::parse(&i)
                .unwrap_err()
                .iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields(input("", Some("a@b.test"), None)), ["name"]);
        assert_eq!(fields(input("Desk", None, None)), ["email"]);
        assert_eq!(fields(input("Desk", Some("not mail"), None)), ["email"]);
        assert_eq!(fields(input("Desk", None, Some("12"))), ["phone"]);
        assert_eq!(
            fields(input(&"x".repeat(81), Some("a@b.test"), None)),
            ["name"]
        );
    }

    #[test]
    fn test_alerts_for_a_number_are_a_minute_apart() {
        let now = chrono::Utc::now();
        assert_eq!(test_wait(None, now), None);
        assert_eq!(
            test_wait(Some(now - chrono::Duration::seconds(15)), now),
            Some(45)
        );
        assert_eq!(
            test_wait(Some(now - chrono::Duration::seconds(60)), now),
            None
        );
        assert_eq!(
            test_wait(Some(now + chrono::Duration::seconds(5)), now),
            Some(60)
        );
    }

    #[test]
    fn the_alert_says_whether_it_is_a_test_and_where_the_caller_is() {
        let n = E164::parse("+15125550100").unwrap();
        let (subject, body) = alert(&n, Some("500 Congress Ave, Austin TX 78701"), true);
        assert!(subject.starts_with("TEST"));
        assert!(body.contains("no one dialed 911") && body.contains("500 Congress Ave"));
        let (subject, body) = alert(&n, None, false);
        assert_eq!(subject, "911 call from +15125550100");
        assert!(body.contains("no 911 address is registered"));
    }
}
