//! Single sign-on rules: which email domains a provider may route, which role a signing-in
//! user gets from the provider's claims, and whether an asserted email may sign in.

use std::collections::BTreeMap;

use serde_json::Value;

use super::policy::Role;

/// The domain of an email address, lower-cased, or None when it is not one.
pub fn email_domain(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    (!local.is_empty() && check_domain(&domain).is_ok()).then_some(domain)
}

/// A domain a provider answers for: letters, digits and hyphens in dot-separated labels, at
/// least two labels (no `com` alone, which would route half the world).
pub fn check_domain(domain: &str) -> Result<(), String> {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if domain.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(format!(
            "“{domain}” is not an email domain (like example.com, in lower case)"
        ));
    }
    Ok(())
}

/// The provider's domains as typed (comma, space or newline separated), checked, lower-cased,
/// without repeats; at least one.
pub fn parse_domains(raw: &[String]) -> Result<Vec<String>, String> {
    let mut domains: Vec<String> = raw
        .iter()
        .flat_map(|d| d.split([',', ' ', '\n', '\r', '\t']))
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    domains.sort();
    domains.dedup();
    if domains.is_empty() {
        return Err("name at least one email domain whose users sign in here".into());
    }
    if domains.len() > 50 {
        return Err("a provider answers for at most 50 email domains".into());
    }
    for d in &domains {
        check_domain(d)?;
    }
    Ok(domains)
}

/// Which claim value gives which role. Values are compared exactly, as providers send them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMap(pub BTreeMap<String, Role>);

impl RoleMap {
    /// Reads `{"claim value": "role"}`, accepting only roles of the provider's organization.
    pub fn parse(raw: &Value, allowed: &[Role]) -> Result<RoleMap, String> {
        let Some(object) = raw.as_object() else {
            return Err("the role map is an object of claim value to role".into());
        };
        if object.len() > 100 {
            return Err("a role map has at most 100 entries".into());
        }
        let mut map = BTreeMap::new();
        for (value, role) in object {
            let role = role
                .as_str()
                .and_then(|r| r.parse::<Role>().ok())
                .filter(|r| allowed.contains(r))
                .ok_or_else(|| {
                    format!(
                        "“{value}” maps to {role}, which is not a role of this organization ({})",
                        allowed
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            if value.is_empty() || value.len() > 200 {
                return Err("a claim value in the role map is 1 to 200 characters".into());
            }
            map.insert(value.clone(), role);
        }
        Ok(RoleMap(map))
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, r)| (k.clone(), Value::String(r.as_str().into())))
                .collect(),
        )
    }
}

/// The role of a user signing in for the first time: the highest role any of the claim's
/// values maps to, else the lowest role the organization has (`allowed` runs from highest to
/// lowest). The claim may be one string or a list of strings (groups).
pub fn role_from_claims(
    claims: &serde_json::Map<String, Value>,
    claim: Option<&str>,
    map: &RoleMap,
    allowed: &[Role],
) -> Option<Role> {
    let lowest = *allowed.last()?;
    let values: Vec<&str> = match claim.and_then(|c| claims.get(c)) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    allowed
        .iter()
        .find(|role| values.iter().any(|v| map.0.get(*v) == Some(role)))
        .copied()
        .or(Some(lowest))
}

/// Why an asserted email may not sign in through this provider, if it may not: a provider
/// speaks only for its own domains (another company's provider must not sign in our users),
/// and an address the provider itself has not verified proves nothing.
pub fn email_refusal(
    email: Option<&str>,
    verified: Option<bool>,
    domains: &[String],
) -> Option<String> {
    let Some(email) = email else {
        return Some(
            "your company account sent no email address; ask its admins to release the email claim"
                .into(),
        );
    };
    if verified == Some(false) {
        return Some(format!(
            "your company account says {email} is not verified; verify it there first"
        ));
    }
    match email_domain(email) {
        Some(d) if domains.contains(&d) => None,
        _ => Some(format!(
            "{email} is not an address of the domains this company sign-in answers for"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TENANT: &[Role] = &[Role::TenantAdmin, Role::TenantUser];

    fn claims(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn domains_are_lowered_split_and_checked() {
        let raw = vec![
            "Globex.test, @sub.globex.test".to_string(),
            "globex.test".into(),
        ];
        assert_eq!(
            parse_domains(&raw).unwrap(),
            vec!["globex.test".to_string(), "sub.globex.test".into()]
        );
        assert!(parse_domains(&[]).is_err());
        assert!(parse_domains(&["com".into()]).is_err());
        assert!(parse_domains(&["-bad.test".into()]).is_err());
        assert!(parse_domains(&["a_b.test".into()]).is_err());
        assert_eq!(email_domain("Jo@Globex.Test"), Some("globex.test".into()));
        assert_eq!(email_domain("jo@globex.test."), Some("globex.test".into()));
        assert_eq!(email_domain("@globex.test"), None);
        assert_eq!(email_domain("nobody"), None);
    }

    #[test]
    fn the_highest_mapped_role_wins_and_the_lowest_is_the_default() {
        let map = RoleMap::parse(
            &json!({"admins": "tenant_admin", "agents": "tenant_user"}),
            TENANT,
        )
        .unwrap();
        let groups = Some("groups");
        let both = claims(json!({"groups": ["agents", "admins"]}));
        assert_eq!(
            role_from_claims(&both, groups, &map, TENANT),
            Some(Role::TenantAdmin)
        );
        let one = claims(json!({"groups": "admins"}));
        assert_eq!(
            role_from_claims(&one, groups, &map, TENANT),
            Some(Role::TenantAdmin)
        );
        let none = claims(json!({"groups": ["sales"]}));
        assert_eq!(
            role_from_claims(&none, groups, &map, TENANT),
            Some(Role::TenantUser)
        );
        let missing = claims(json!({}));
        assert_eq!(
            role_from_claims(&missing, groups, &map, TENANT),
            Some(Role::TenantUser)
        );
        assert_eq!(
            role_from_claims(&both, None, &map, TENANT),
            Some(Role::TenantUser)
        );
    }

    #[test]
    fn a_role_map_names_only_the_organizations_roles() {
        assert!(RoleMap::parse(&json!({"ops": "operator"}), TENANT).is_err());
        assert!(RoleMap::parse(&json!({"ops": "emperor"}), TENANT).is_err());
        assert!(RoleMap::parse(&json!(["tenant_admin"]), TENANT).is_err());
        let map = RoleMap::parse(&json!({"a": "tenant_user"}), TENANT).unwrap();
        assert_eq!(map.to_json(), json!({"a": "tenant_user"}));
    }

    #[test]
    fn a_provider_speaks_only_for_its_domains_and_verified_addresses() {
        let domains = vec!["globex.test".to_string()];
        assert_eq!(email_refusal(Some("a@globex.test"), None, &domains), None);
        assert_eq!(
            email_refusal(Some("a@GLOBEX.test"), Some(true), &domains),
            None
        );
        assert!(email_refusal(Some("a@initech.test"), Some(true), &domains).is_some());
        assert!(email_refusal(Some("a@globex.test"), Some(false), &domains).is_some());
        assert!(email_refusal(None, None, &domains).is_some());
    }
}
