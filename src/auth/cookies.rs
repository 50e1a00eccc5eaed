//! Inward's two cookies, the session and the sign-in form's token. Behind https
//! (`server.secure_cookies`) they are named with the `__Host-` prefix: a browser then keeps
//! them only if they were set over https, by this host, for path `/`, so neither a sibling
//! subdomain nor a plain-http page can plant or overwrite one.

use axum::http::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookie {
    Session,
    /// Ties the sign-in form to this browser (login CSRF): a cross-site page can post the
    /// form but cannot read or set the cookie.
    Login,
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
        }
    }

    /// A `Set-Cookie` value; `None` for `max_age` clears the cookie.
    pub fn set(self, cookie: Cookie, value: &str, max_age: Option<i64>) -> String {
        // The session goes with top-level navigation from other sites (a link in an email
        // opens signed in); the form token never leaves this site.
        let same_site = match cookie {
            Cookie::Session => "Lax",
            Cookie::Login => "Strict",
        };
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={}{secure}",
            self.name(cookie),
            max_age.unwrap_or(0)
        )
    }

    /// The cookie's value, if the request carries it under this configuration's name.
    pub fn get(self, headers: &HeaderMap, cookie: Cookie) -> Option<String> {
        super::cookie(headers, self.name(cookie))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_are_host_only_and_the_others_are_not() {
        let secure = Cookies { secure: true };
        let set = secure.set(Cookie::Session, "abc", Some(60));
        assert_eq!(
            set,
            "__Host-inward_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        let plain = Cookies { secure: false };
        assert_eq!(
            plain.set(Cookie::Login, "", None),
            "inward_login=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );
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
