//! Inward's two cookies, the session and the sign-in form's token. Behind https
//! (`server.secure_cookies`) they are named with the `__Host-` prefix: a browser then keeps
//! them only if they were set over https, by this host, for path `/`, so neither a sibling
//! subdomain nor a plain-http page can plant or overwrite one.

use axum::http::{HeaderMap, header};
use cookie::SameSite;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookie {
    Session,
    /// Ties the sign-in form to this browser (login CSRF): a cross-site page can post the
    /// form but cannot read or set the cookie.
    Login,
    /// Ties a sign-in sent to an identity provider to the browser that started it: the
    /// provider's callback must come back to the same browser (`sso::signin`).
    SignOn,
}

#[derive(Debug, Clone, Copy)]
pub struct Cookies {
    pub secure: bool,
}

impl Cookies {
    pub fn name(self, cookie: Cookie) -> &'static str {
        match (cookie, self.secure) {
            (Cookie::Session, false) => "inward_session",
            (Cookie::Session, true) => "__Host-inward_session",
            (Cookie::Login, false) => "inward_login",
            (Cookie::Login, true) => "__Host-inward_login",
            (Cookie::SignOn, false) => "inward_sso",
            (Cookie::SignOn, true) => "__Host-inward_sso",
        }
    }

    /// A `Set-Cookie` value; `None` for `max_age` clears the cookie.
    pub fn set(self, which: Cookie, value: &str, max_age: Option<i64>) -> String {
        // The session goes with top-level navigation from other sites (a link in an email
        // opens signed in); the form token never leaves this site.
        let same_site = match which {
            Cookie::Session => SameSite::Lax,
            Cookie::Login => SameSite::Strict,
            // Sent on the provider's redirect back, a top-level navigation from its site.
            Cookie::SignOn => SameSite::Lax,
        };
        let mut built = cookie::Cookie::build((self.name(which), value))
            .path("/")
            .http_only(true)
            .same_site(same_site)
            .max_age(cookie::time::Duration::seconds(max_age.unwrap_or(0)));
        if self.secure {
            built = built.secure(true);
        }
        built.build().to_string()
    }

    /// The cookie's value, if the request carries it under this configuration's name.
    pub fn get(self, headers: &HeaderMap, which: Cookie) -> Option<String> {
        let wanted = self.name(which);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == wanted)
            .map(|c| c.value().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_are_host_only_and_the_others_are_not() {
        let secure = Cookies { secure: true };
        let set = cookie::Cookie::parse(secure.set(Cookie::Session, "abc", Some(60))).unwrap();
        assert_eq!((set.name(), set.value()), ("__Host-inward_session", "abc"));
        assert_eq!(set.path(), Some("/"));
        assert_eq!(set.http_only(), Some(true));
        assert_eq!(set.secure(), Some(true));
        assert_eq!(set.same_site(), Some(SameSite::Lax));
        assert_eq!(set.max_age(), Some(cookie::time::Duration::seconds(60)));
        let plain = Cookies { secure: false };
        let cleared = cookie::Cookie::parse(plain.set(Cookie::Login, "", None)).unwrap();
        assert_eq!((cleared.name(), cleared.value()), ("inward_login", ""));
        assert_eq!(cleared.secure(), None, "not Secure over plain http");
        assert_eq!(cleared.same_site(), Some(SameSite::Strict));
        assert_eq!(cleared.max_age(), Some(cookie::time::Duration::ZERO));
        let mut headers = HeaderMap::new();
        headers.insert(
            "cookie",
            "inward_session=plain; __Host-inward_session=host"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            secure.get(&headers, Cookie::Session).as_deref(),
            Some("host")
        );
        assert_eq!(
            plain.get(&headers, Cookie::Session).as_deref(),
            Some("plain")
        );
    }
}
