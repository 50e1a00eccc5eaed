//! Identifiers that say what they identify, so that a tenant's id cannot be passed where a
//! user's or a reservation's is wanted. Each is a UUID on the wire and in the database.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn as_uuid(self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id!(
    /// An organization of kind tenant: the customer whose numbers these are.
    TenantId
);
id!(
    /// A person who signs in.
    UserId
);
id!(
    /// A reservation: the holds one request took, provisioned or released together.
    ReservationId
);
id!(
    /// A webhook endpoint: where an organization's chosen events are POSTed.
    WebhookId
);
id!(
    /// An OpenID Connect provider an organization's users sign in through.
    IdentityProviderId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_and_writes_as_its_uuid() {
        let raw = "6f1c1b1e-8d3a-4d4e-9a55-0c1f3e2b7a10";
        let tenant: TenantId = raw.parse().unwrap();
        assert_eq!(tenant.to_string(), raw);
        assert_eq!(
            serde_json::to_string(&tenant).unwrap(),
            format!("\"{raw}\"")
        );
        let back: TenantId = serde_json::from_str(&format!("\"{raw}\"")).unwrap();
        assert_eq!(back, tenant);
        assert!("not-a-uuid".parse::<UserId>().is_err());
    }
}
id!(
    /// A dispatchable location a tenant saved to give to many numbers.
    E911AddressId
);
id!(
    /// Someone alerted when 911 is dialed from a tenant's numbers.
    E911ContactId
);
