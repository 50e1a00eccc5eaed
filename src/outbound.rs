//! Where platform calls may go. A tenant admin chooses a connection's base URL, and the
//! server then calls it (test connection, the jobs): without a guard that is a way to make
//! the server reach its own network (metadata services, databases, admin ports) or any host
//! on the internet. Platform calls go only to
//! - the hosts each platform publishes its APIs under, over https (`published`), resolved to
//!   public addresses only by `PublicOnly`, which drops every other address (so a name that
//!   later resolves elsewhere is caught at each connection, not once at saving); or
//! - the hosts the operator admits with `outbound.allow_hosts` (`host` or `host:port`, http
//!   allowed, any address): how the simulators and private deployments are reached. A tenant
//!   cannot widen it.
//!
//! `check_target` judges a URL before any request; a refused one is never called, so its
//! refusal cannot say anything about what would have answered.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether an address belongs to the public internet (not loopback, private, link-local,
/// shared, documentation, multicast, broadcast or unspecified, in IPv4 or IPv6, nor an IPv4
/// address written inside IPv6).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            let first = v6.segments()[0];
            // IPv4-compatible (::a.b.c.d, deprecated): judged as the IPv4 address.
            if v6.segments()[..6].iter().all(|s| *s == 0)
                && !v6.is_loopback()
                && let Some(v4) = v6.to_ipv4()
            {
                return !v6.is_unspecified() && public_v4(v4);
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || first == 0x2002 // 6to4: an IPv4 address inside
                || (first == 0x2001 && v6.segments()[1] == 0) // Teredo
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || (first == 0x64 && v6.segments()[1] == 0xff9b)) // NAT64 of any IPv4
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

/// The hosts the operator admits beyond the platforms' own (`outbound.allow_hosts`).
#[derive(Debug, Clone, Default)]
pub struct Allowlist(Arc<Vec<(String, Option<u16>)>>);

impl Allowlist {
    /// Entries are `host` (any port) or `host:port`; an IPv6 address is written in brackets.
    pub fn parse(entries: &[String]) -> Result<Allowlist, String> {
        let mut rules = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let url = url::Url::parse(&format!("http://{entry}"))
                .ok()
                .filter(|u| u.path() == "/" && u.username().is_empty() && u.query().is_none())
                .ok_or_else(|| {
                    format!("outbound.allow_hosts: “{entry}” is not a host or host:port")
                })?;
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            // `Url` drops a port equal to the scheme's default: `host:80` names port 80 only.
            let port = url.port().or(entry.ends_with(":80").then_some(80));
            rules.push((host, port));
        }
        Ok(Allowlist(Arc::new(rules)))
    }

    pub fn admits(&self, host: &str, port: Option<u16>) -> bool {
        let host = host.to_ascii_lowercase();
        self.0
            .iter()
            .any(|(h, p)| *h == host && p.is_none_or(|p| Some(p) == port))
    }

    fn admits_name(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.0.iter().any(|(h, _)| *h == host)
    }
}

/// The domains each platform publishes its APIs and sign-in under.
fn published_domains(platform: &str) -> &'static [&'static str] {
    match platform {
        "genesys" => &[
            "mypurecloud.com",
            "mypurecloud.ie",
            "mypurecloud.de",
            "mypurecloud.jp",
            "mypurecloud.com.au",
            "pure.cloud",
            "us-gov-pure.cloud",
        ],
        "cxone" => &["niceincontact.com", "nice-incontact.com", "incontact.com"],
        "ringcx" => &["ringcentral.com"],
        _ => &[],
    }
}

/// Whether `host` is one of `platform`'s published API hosts.
pub fn published(platform: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    published_domains(platform)
        .iter()
        .any(|d| host.strip_suffix(d).is_some_and(|rest| rest.ends_with('.')))
}

/// Whether a platform call to `url` may be made (see the module's rules).
pub fn check_target(url: &str, platform: &str, allow: &Allowlist) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|_| format!("“{url}” is not a URL"))?;
    let host = match parsed.host() {
        Some(url::Host::Domain(name)) => name.to_string(),
        Some(url::Host::Ipv4(v4)) => v4.to_string(),
        Some(url::Host::Ipv6(v6)) => format!("[{v6}]"),
        None => return Err(format!("“{url}” names no host")),
    };
    if allow.admits(&host, parsed.port_or_known_default()) {
        return Ok(());
    }
    let domains = published_domains(platform);
    if parsed.scheme() == "https" && published(platform, &host) {
        return Ok(());
    }
    Err(if domains.is_empty() {
        format!("{host} is not a host Inward may call")
    } else {
        format!(
            "{host} is not a host the platform publishes its API under (https on {}); the operator can admit others with outbound.allow_hosts",
            domains
                .iter()
                .map(|d| format!("*.{d}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Whether a webhook endpoint's URL may be registered: https to a host that is not this
/// machine's or a private network's by its name or address, or a host of `allow` (http
/// allowed). Names are resolved again at each delivery, public addresses only (`client`).
pub fn check_webhook_url(url: &str, allow: &Allowlist) -> Result<(), String> {
    check_public_url(url, allow, "webhook")
}

/// Whether an identity provider's issuer may be set up: the same rules as a webhook's URL,
/// since Inward fetches its discovery document, keys and tokens.
pub fn check_issuer_url(url: &str, allow: &Allowlist) -> Result<(), String> {
    check_public_url(url, allow, "identity provider")
}

/// `what`: how the messages name the URL's use.
fn check_public_url(url: &str, allow: &Allowlist, what: &str) -> Result<(), String> {
    if url.len() > 2000 {
        return Err("the URL is longer than 2000 characters".into());
    }
    let parsed = url::Url::parse(url).map_err(|_| format!("“{url}” is not a URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("put no credentials in a {what} URL"));
    }
    if parsed.fragment().is_some() {
        return Err(format!("a {what} URL has no #fragment"));
    }
    let host = match parsed.host() {
        // `localhost.` is `localhost`.
        Some(url::Host::Domain(name)) => name.trim_end_matches('.').to_ascii_lowercase(),
        Some(url::Host::Ipv4(v4)) => v4.to_string(),
        Some(url::Host::Ipv6(v6)) => format!("[{v6}]"),
        None => return Err(format!("“{url}” names no host")),
    };
    if matches!(parsed.scheme(), "http" | "https")
        && allow.admits(&host, parsed.port_or_known_default())
    {
        return Ok(());
    }
    if parsed.scheme() != "https" {
        return Err(format!("{what} URLs must be https"));
    }
    let private_name = host == "localhost"
        || [".localhost", ".local", ".internal", ".home.arpa", ".lan"]
            .iter()
            .any(|suffix| host.ends_with(suffix))
        || !host.contains('.');
    let private_address = match parsed.host() {
        Some(url::Host::Ipv4(v4)) => !is_public(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => !is_public(IpAddr::V6(v6)),
        _ => false,
    };
    if private_address || (private_name && matches!(parsed.host(), Some(url::Host::Domain(_)))) {
        return Err(format!(
            "{host} is not on the public internet: a {what} URL names a public address (the operator can admit a host with outbound.allow_hosts)"
        ));
    }
    Ok(())
}

/// Resolves names to their public addresses only, except the operator's allowlisted names.
struct PublicOnly(Allowlist);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let anywhere = self.0.admits_name(name.as_str());
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| anywhere || is_public(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address: outbound calls may only reach the internet"
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The client for platform calls, resolving names through the guard. Building fails only on
/// a broken TLS setup; a client without the guard is no fallback, so the error is returned.
pub fn client(
    provider: &'static str,
    allow: &Allowlist,
    timeout: Duration,
) -> Result<reqwest::Client, crate::error::ProviderError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .user_agent("inward/0.1")
        // A redirect could lead anywhere; platforms' APIs do not redirect.
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment would resolve names itself, past the guard.
        .no_proxy()
        .dns_resolver(Arc::new(PublicOnly(allow.clone())))
        .build()
        .map_err(|e| {
            crate::error::ProviderError::new(
                provider,
                crate::error::provider::ProviderErrorKind::Unsupported,
                format!("Inward cannot make HTTPS calls on this server: {e}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::7f00:1",
            "::a00:1",
            "2002:7f00:1::",
            "fec0::1",
            "2001:0:4136:e378::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "203.0.114.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn webhook_urls_are_https_to_public_hosts_or_allowlisted() {
        let none = Allowlist::default();
        assert!(check_webhook_url("https://hooks.example.com/inward", &none).is_ok());
        assert!(check_webhook_url("https://8.8.8.8/x", &none).is_ok());
        for refused in [
            "http://hooks.example.com/inward",
            "https://127.0.0.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://10.0.0.5/x",
            "https://localhost/x",
            "https://metadata.google.internal/x",
            "https://metadata.google.internal./x",
            "https://localhost./x",
            "https://intranet/x",
            "https://user:pw@hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "not a url",
        ] {
            assert!(check_webhook_url(refused, &none).is_err(), "{refused}");
        }
        let allow = Allowlist::parse(&["127.0.0.1".into()]).unwrap();
        assert!(check_webhook_url("http://127.0.0.1:9000/hook", &allow).is_ok());
        assert!(check_webhook_url("http://127.0.0.2:9000/hook", &allow).is_err());
    }

    #[tokio::test]
    async fn names_that_resolve_to_this_machine_are_not_followed() {
        use std::str::FromStr;
        let refused = PublicOnly(Allowlist::default())
            .resolve(Name::from_str("localhost").unwrap())
            .await
            .err()
            .expect("localhost resolves to no public address");
        assert!(
            refused.to_string().contains("no public address"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn allowlisted_names_resolve_anywhere() {
        use std::str::FromStr;
        let allow = Allowlist::parse(&["localhost".into()]).unwrap();
        let found = PublicOnly(allow)
            .resolve(Name::from_str("localhost").unwrap())
            .await
            .expect("an allowlisted name resolves");
        assert!(found.count() > 0);
    }

    #[test]
    fn only_published_hosts_over_https_or_allowlisted_ones_are_called() {
        let none = Allowlist::default();
        for url in [
            "http://127.0.0.1:9100",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost:8080",
            "https://evil.example",
            "https://mypurecloud.com.evil.example",
            "https://evilmypurecloud.com",
            "http://api.mypurecloud.com",
        ] {
            assert!(check_target(url, "genesys", &none).is_err(), "{url}");
        }
        assert!(check_target("https://api.mypurecloud.ie/api/v2", "genesys", &none).is_ok());
        assert!(check_target("https://login.usw2.pure.cloud", "genesys", &none).is_ok());
        assert!(check_target("https://api-na1.niceincontact.com", "cxone", &none).is_ok());
        assert!(check_target("https://api-na1.niceincontact.com", "genesys", &none).is_err());
        assert!(check_target("https://ringcx.ringcentral.com/voice", "ringcx", &none).is_ok());

        let allow = Allowlist::parse(&["127.0.0.1".into(), "sim.internal:9100".into()]).unwrap();
        assert!(check_target("http://127.0.0.1:9100/x", "genesys", &allow).is_ok());
        assert!(check_target("http://sim.internal:9100", "cxone", &allow).is_ok());
        assert!(check_target("http://sim.internal:9101", "cxone", &allow).is_err());
        assert!(
            check_target("http://2130706433/", "genesys", &allow).is_ok(),
            "the same address"
        );
        assert!(check_target("http://10.0.0.1", "genesys", &allow).is_err());
        let eighty = Allowlist::parse(&["10.0.0.5:80".into()]).unwrap();
        assert!(check_target("http://10.0.0.5/", "genesys", &eighty).is_ok());
        assert!(check_target("http://10.0.0.5:6379/", "genesys", &eighty).is_err());
        assert!(Allowlist::parse(&["http://x/".into()]).is_err());
        assert!(Allowlist::parse(&["a b".into()]).is_err());
    }
}
