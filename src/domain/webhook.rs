//! Webhooks' rules: the events an endpoint can subscribe to, which audit entry announces
//! which, the envelope an endpoint receives, its signature, and when a failed delivery is
//! tried again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use uuid::Uuid;

/// The envelope's `version`: raised only when a field changes meaning or goes away.
pub const ENVELOPE_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    NumberReserved,
    NumberHoldExpired,
    NumberProvisioned,
    NumberProvisionFailed,
    NumberRerouted,
    NumberReleased,
    NumberOrphaned,
    NumberDriftDetected,
    ApprovalRequested,
    ApprovalDecided,
    PortStatusChanged,
    E911StatusChanged,
    CnamStatusChanged,
    UploadCompleted,
    /// Sent on request to one endpoint; nobody subscribes to it.
    WebhookTest,
}

impl EventType {
    /// Every event an endpoint may subscribe to.
    pub const SUBSCRIBABLE: [EventType; 14] = [
        EventType::NumberReserved,
        EventType::NumberHoldExpired,
        EventType::NumberProvisioned,
        EventType::NumberProvisionFailed,
        EventType::NumberRerouted,
        EventType::NumberReleased,
        EventType::NumberOrphaned,
        EventType::NumberDriftDetected,
        EventType::ApprovalRequested,
        EventType::ApprovalDecided,
        EventType::PortStatusChanged,
        EventType::E911StatusChanged,
        EventType::CnamStatusChanged,
        EventType::UploadCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::NumberReserved => "number.reserved",
            EventType::NumberHoldExpired => "number.hold_expired",
            EventType::NumberProvisioned => "number.provisioned",
            EventType::NumberProvisionFailed => "number.provision_failed",
            EventType::NumberRerouted => "number.rerouted",
            EventType::NumberReleased => "number.released",
            EventType::NumberOrphaned => "number.orphaned",
            EventType::NumberDriftDetected => "number.drift_detected",
            EventType::ApprovalRequested => "approval.requested",
            EventType::ApprovalDecided => "approval.decided",
            EventType::PortStatusChanged => "port.status_changed",
            EventType::E911StatusChanged => "e911.status_changed",
            EventType::CnamStatusChanged => "cnam.status_changed",
            EventType::UploadCompleted => "upload.completed",
            EventType::WebhookTest => "webhook.test",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Self::SUBSCRIBABLE
            .into_iter()
            .chain([EventType::WebhookTest])
            .find(|t| t.as_str() == s)
    }

    /// What it tells, for the form that picks them.
    pub fn describe(self) -> &'static str {
        match self {
            EventType::NumberReserved => "a number was held",
            EventType::NumberHoldExpired => "a hold lapsed or was ended",
            EventType::NumberProvisioned => "a number was routed, or its activation completed",
            EventType::NumberProvisionFailed => "routing a number failed",
            EventType::NumberRerouted => "a number moved to another target",
            EventType::NumberReleased => "a number was released",
            EventType::NumberOrphaned => "a number's target was deleted on the platform",
            EventType::NumberDriftDetected => {
                "reconciliation found Inward and the platform disagree"
            }
            EventType::ApprovalRequested => "a premium number awaits approval",
            EventType::ApprovalDecided => "a premium approval was approved, declined or expired",
            EventType::PortStatusChanged => "a ported number moved (submitted, FOC, completed…)",
            EventType::E911StatusChanged => "a 911 address changed or the carrier answered",
            EventType::CnamStatusChanged => "a caller-ID name changed or the carrier answered",
            EventType::UploadCompleted => "an inventory upload finished",
            EventType::WebhookTest => "a test event sent from Inward",
        }
    }

    /// The event an audit entry (its `action` and `status`) announces. Migration 0036's
    /// `webhook_event_type` holds the same table, which the database applies as the entry is
    /// written; a test checks that they agree.
    pub fn for_audit(action: &str, status: &str) -> Option<EventType> {
        let success = status == "SUCCESS";
        Some(match action {
            "RESERVE" if success => EventType::NumberReserved,
            "EXPIRE" => EventType::NumberHoldExpired,
            "PROVISION" if success => EventType::NumberProvisioned,
            "PROVISION" if status == "FAILURE" => EventType::NumberProvisionFailed,
            "REROUTE" if success => EventType::NumberRerouted,
            "RELEASE" if success => EventType::NumberReleased,
            "ORPHAN" => EventType::NumberOrphaned,
            "APPROVAL_REQUEST" => EventType::ApprovalRequested,
            "APPROVE" | "DECLINE" => EventType::ApprovalDecided,
            "PORT_SUBMIT" | "PORT_CANCEL" | "PORT_STATUS" => EventType::PortStatusChanged,
            "E911" => EventType::E911StatusChanged,
            "CNAM" => EventType::CnamStatusChanged,
            "UPLOAD" => EventType::UploadCompleted,
            _ => return None,
        })
    }
}

/// The list of events an endpoint subscribes to: known names, at least one, each once.
pub fn parse_events(names: &[String]) -> Result<Vec<EventType>, String> {
    if names.is_empty() {
        return Err("choose at least one event".into());
    }
    let mut chosen = Vec::new();
    for name in names {
        match EventType::parse(name.trim()) {
            Some(EventType::WebhookTest) | None => {
                return Err(format!(
                    "“{name}” is not an event; the events are {}",
                    EventType::SUBSCRIBABLE.map(EventType::as_str).join(", ")
                ));
            }
            Some(t) if !chosen.contains(&t) => chosen.push(t),
            Some(_) => {}
        }
    }
    Ok(chosen)
}

/// One event as sent: `{"id", "type", "version", "occurred_at", "tenant", "organization",
/// "data"}`. `tenant` is the tenant the event is about, or null for a reseller's own event
/// (an upload); `organization` is always set.
pub struct Envelope<'a> {
    pub id: Uuid,
    pub kind: EventType,
    pub occurred_at: DateTime<Utc>,
    pub organization: Uuid,
    pub organization_is_tenant: bool,
    pub number: Option<&'a str>,
    /// What was recorded (see migration 0036): the audit entry's fields, the drift row, or a
    /// test event's note.
    pub source: &'a Value,
}

impl Envelope<'_> {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "version": ENVELOPE_VERSION,
            "occurred_at": self.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "tenant": self.organization_is_tenant.then_some(self.organization),
            "organization": self.organization,
            "data": data(self.kind, self.number, self.source),
        })
    }
}

/// The event's `data`: the number, and what the type promises (documented per type in the
/// OpenAPI document's `webhooks`), then the recorded `details` in full.
pub fn data(kind: EventType, number: Option<&str>, source: &Value) -> Value {
    let mut out = Map::new();
    out.insert("number".into(), json!(number));
    let details = source.get("details").cloned().unwrap_or(Value::Null);
    let field = |key: &str| source.get(key).cloned().unwrap_or(Value::Null);
    match kind {
        EventType::NumberDriftDetected => {
            for key in [
                "class",
                "inward",
                "platform",
                "inward_target",
                "platform_target",
            ] {
                out.insert(key.into(), field(key));
            }
            return Value::Object(out);
        }
        EventType::WebhookTest => {
            out.insert("message".into(), field("message"));
            return Value::Object(out);
        }
        _ => {}
    }
    let outcome = field("status").as_str().map(str::to_ascii_lowercase);
    out.insert("outcome".into(), json!(outcome));
    out.insert("user_id".into(), field("user_id"));
    promote(kind, source, &details, &mut out);
    out.insert("details".into(), details);
    Value::Object(out)
}

/// What an event about an audit entry promises beyond the number and the outcome.
fn promote(kind: EventType, source: &Value, details: &Value, out: &mut Map<String, Value>) {
    let detail = |key: &str| details.get(key).cloned().unwrap_or(Value::Null);
    let field = |key: &str| source.get(key).cloned().unwrap_or(Value::Null);
    let action = field("action");
    let status = field("status");
    let target = match (field("target_type"), field("target_id")) {
        (Value::String(t), id) if !t.is_empty() => json!({ "type": t, "id": id }),
        _ => Value::Null,
    };
    match kind {
        EventType::NumberReserved => {
            out.insert("reservation_id".into(), detail("reservation_id"));
            out.insert("expires_at".into(), detail("expires_at"));
        }
        EventType::NumberHoldExpired => {
            out.insert("reservation_id".into(), detail("reservation_id"));
        }
        EventType::NumberProvisioned
        | EventType::NumberProvisionFailed
        | EventType::NumberReleased
        | EventType::NumberOrphaned => {
            out.insert("target".into(), target);
            out.insert("error".into(), field("error"));
        }
        EventType::NumberRerouted => {
            out.insert("from".into(), detail("from"));
            out.insert("to".into(), detail("to"));
        }
        EventType::ApprovalRequested => {
            for key in ["approval_id", "reservation_id", "deadline"] {
                out.insert(key.into(), detail(key));
            }
        }
        EventType::ApprovalDecided => {
            let decision = match (action.as_str(), status.as_str()) {
                (_, Some("EXPIRED")) => "expired",
                (Some("DECLINE"), _) => "declined",
                _ => "approved",
            };
            out.insert("approval_id".into(), detail("approval_id"));
            out.insert("reservation_id".into(), detail("reservation_id"));
            out.insert("decision".into(), json!(decision));
            out.insert("reason".into(), field("justification"));
        }
        EventType::PortStatusChanged => {
            let port_status = match action.as_str() {
                Some("PORT_SUBMIT") => json!("submitted"),
                Some("PORT_CANCEL") => json!("cancelled"),
                _ => detail("status"),
            };
            let foc_date = detail("foc_at")
                .as_str()
                .and_then(|at| at.get(..10))
                .map(str::to_string);
            out.insert("port_id".into(), detail("port_id"));
            out.insert("status".into(), port_status);
            out.insert("foc_date".into(), json!(foc_date));
            out.insert("reason".into(), detail("reason"));
        }
        EventType::E911StatusChanged | EventType::CnamStatusChanged => {
            out.insert("status".into(), detail("status"));
            out.insert("error".into(), field("error"));
        }
        EventType::UploadCompleted => {
            out.insert("upload_id".into(), field("target_id"));
            for key in [
                "filename",
                "rows",
                "added",
                "updated",
                "unchanged",
                "rejected",
            ] {
                out.insert(key.into(), detail(key));
            }
            out.insert("error".into(), field("error"));
        }
        EventType::NumberDriftDetected | EventType::WebhookTest => {}
    }
}

/// The `Inward-Signature` header of a body sent at `unix` seconds: `t=<unix>,v1=<hex of
/// HMAC-SHA256("<unix>.<body>") keyed by the endpoint's secret>`.
pub fn signature_header(
    secret: &str,
    unix: i64,
    body: &[u8],
) -> Result<String, hmac::digest::InvalidLength> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())?;
    mac.update(unix.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "t={unix},v1={}",
        crate::hex::encode(&mac.finalize().into_bytes())
    ))
}

/// How a failed delivery is tried again.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// The wait after the first failure; doubled after each further one.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// How long after the event Inward stops trying.
    pub give_up_after: Duration,
}

impl Retry {
    /// The wait after `failures` failed attempts (1 or more). `jitter` (0 to 1, random) spreads
    /// the waits of deliveries that failed together over the upper half of the back-off, so
    /// that a receiver that comes back is not hit by all of them at once.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let doubled = self
            .base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        let full = doubled.min(self.cap);
        full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// Whether a delivery made `age` ago is given up after its latest failure.
    pub fn gives_up(&self, age: Duration) -> bool {
        age >= self.give_up_after
    }
}

/// Whether an endpoint that has failed `run` attempts in a row is switched off.
pub fn disables(run: i32, after: u32) -> bool {
    after > 0 && run >= 0 && run as u32 >= after
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_the_time_and_the_body() {
        // Computed apart: python3 -c 'import hmac,hashlib;
        // print(hmac.new(b"whsec_x", b"1700000000.{\"a\":1}", hashlib.sha256).hexdigest())'
        assert_eq!(
            signature_header("whsec_x", 1_700_000_000, b"{\"a\":1}").unwrap(),
            "t=1700000000,v1=b3438763ab46d9634b9844c8722818eaf523f803db1327484c6067462a5fd6d1"
        );
        assert_ne!(
            signature_header("whsec_x", 1_700_000_001, b"{\"a\":1}").unwrap(),
            signature_header("whsec_x", 1_700_000_000, b"{\"a\":1}").unwrap()
        );
    }

    #[test]
    fn retries_double_up_to_the_cap_and_jitter_stays_in_the_upper_half() {
        let r = Retry {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(86_400),
        };
        assert_eq!(r.delay(1, 1.0), Duration::from_secs(10));
        assert_eq!(r.delay(2, 1.0), Duration::from_secs(20));
        assert_eq!(r.delay(4, 1.0), Duration::from_secs(80));
        assert_eq!(r.delay(9, 1.0), Duration::from_secs(2560));
        assert_eq!(r.delay(10, 1.0), Duration::from_secs(3600));
        assert_eq!(r.delay(500, 1.0), Duration::from_secs(3600));
        assert_eq!(r.delay(1, 0.0), Duration::from_secs(5));
        assert_eq!(r.delay(0, 1.0), Duration::from_secs(10));
        assert!(!r.gives_up(Duration::from_secs(86_399)));
        assert!(r.gives_up(Duration::from_secs(86_400)));
    }

    #[test]
    fn an_endpoint_is_disabled_after_the_configured_run() {
        assert!(!disables(4, 5));
        assert!(disables(5, 5));
        assert!(!disables(1_000, 0), "0 never disables");
    }

    #[test]
    fn events_are_parsed_once_each_and_unknown_ones_named() {
        let ok = parse_events(&["number.reserved".into(), "number.reserved".into()]).unwrap();
        assert_eq!(ok, [EventType::NumberReserved]);
        assert!(parse_events(&[]).is_err());
        let err = parse_events(&["number.bought".into()]).unwrap_err();
        assert!(err.contains("number.bought") && err.contains("upload.completed"));
        assert!(parse_events(&["webhook.test".into()]).is_err());
        for t in EventType::SUBSCRIBABLE {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn audit_entries_announce_their_events() {
        assert_eq!(
            EventType::for_audit("RESERVE", "SUCCESS"),
            Some(EventType::NumberReserved)
        );
        assert_eq!(EventType::for_audit("RESERVE", "FAILURE"), None);
        assert_eq!(
            EventType::for_audit("APPROVE", "EXPIRED"),
            Some(EventType::ApprovalDecided)
        );
        assert_eq!(EventType::for_audit("SEARCH", "SUCCESS"), None);
    }

    #[test]
    fn data_promotes_what_each_type_promises() {
        let port = json!({ "action": "PORT_STATUS", "status": "SUCCESS",
            "details": { "port_id": "p1", "status": "foc_set", "foc_at": "2026-12-09T00:00:00Z" } });
        let d = data(EventType::PortStatusChanged, Some("+15125550100"), &port);
        assert_eq!(d["status"], "foc_set");
        assert_eq!(d["foc_date"], "2026-12-09");
        assert_eq!(d["number"], "+15125550100");
        assert_eq!(d["outcome"], "success");
        let declined = json!({ "action": "DECLINE", "status": "SUCCESS", "justification": "too dear",
            "details": { "approval_id": "a1" } });
        let d = data(EventType::ApprovalDecided, None, &declined);
        assert_eq!(
            (d["decision"].as_str(), d["reason"].as_str()),
            (Some("declined"), Some("too dear"))
        );
        let expired = json!({ "action": "APPROVE", "status": "EXPIRED", "details": {} });
        assert_eq!(
            data(EventType::ApprovalDecided, None, &expired)["decision"],
            "expired"
        );
        let routed = json!({ "action": "PROVISION", "status": "SUCCESS", "target_type": "queue", "target_id": "q1" });
        assert_eq!(
            data(EventType::NumberProvisioned, None, &routed)["target"],
            json!({ "type": "queue", "id": "q1" })
        );
        let drift = json!({ "class": "unrouted", "inward": "active", "platform": "not routed" });
        let d = data(EventType::NumberDriftDetected, Some("+15125550100"), &drift);
        assert_eq!(d["class"], "unrouted");
        assert!(d.get("details").is_none());
    }
}
