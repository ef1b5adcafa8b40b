//! Whether a form post comes from our own origin, by the headers a browser sends with it
//! (OWASP CSRF Prevention Cheat Sheet, "Verifying origin with standard headers" and "Fetch
//! Metadata headers"). The console and the privacy centre both ask here, besides checking
//! their forms' signed tokens:
//!
//! - `Sec-Fetch-Site`, when sent, must say `same-origin`;
//! - `Origin`, when sent, must be the public URL's origin or name the `Host` the request came
//!   to. `Origin: null` is refused — and is what a browser sends with every form post from a
//!   page under `Referrer-Policy: no-referrer` (Fetch, "serializing a request origin"), which
//!   is why our pages send `same-origin` instead;
//! - with no `Origin` (older browsers), a `Referer`, when sent, must be on our origin the same
//!   way;
//! - neither sent (a client that is not a browser): the token alone decides.

use axum::http::{header, HeaderMap};

use crate::state::AppState;

/// Whether a POST comes from our own origin (see the module's rules).
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let fetch_site_ok = headers
        .get("sec-fetch-site")
        .is_none_or(|v| v.as_bytes() == b"same-origin");
    let text = |name| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    let origin_ok = match (text(header::ORIGIN), text(header::REFERER)) {
        (Some(origin), _) => ours(state, headers, origin),
        (None, Some(referer)) => ours(state, headers, origin_of(referer)),
        (None, None) => true,
    };
    fetch_site_ok && origin_ok
}

/// `scheme://host[:port]` of a URL (the whole text when it has no path).
fn origin_of(url: &str) -> &str {
    let Some((_, rest)) = url.split_once("://") else {
        return "";
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &url[..url.len() - rest.len() + end]
}

fn ours(state: &AppState, headers: &HeaderMap, origin: &str) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    !origin.is_empty()
        && (origin == origin_of(state.public_url.trim_end_matches('/'))
            || origin
                .split_once("://")
                .is_some_and(|(_, h)| !host.is_empty() && h.eq_ignore_ascii_case(host)))
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn the_origin_of_a_url_is_its_scheme_host_and_port() {
        assert_eq!(origin_of("https://a.example/x?y#z"), "https://a.example");
        assert_eq!(origin_of("http://a.example:8080"), "http://a.example:8080");
        assert_eq!(origin_of("https://a.example?q"), "https://a.example");
        assert_eq!(origin_of("null"), "");
    }
}
