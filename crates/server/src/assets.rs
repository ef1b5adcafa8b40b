//! Static assets and pages for visitors: the banner script and stylesheet, the banner's
//! configuration (`/v1/banner`) and the demo site. (Owned by the banner work; see issue 4.)
//!
//! The files live in `web/` and are compiled in with `include_str!`, so the binary is the
//! whole deployment. They are served with an `ETag` and a day of caching: the snippet's URL
//! (`/banner.js`) never changes, so a longer lifetime would keep sites on an old banner.

pub mod banner;
pub mod demo;

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::{AppState, SharedState};

pub use banner::{banner_document, consent_hash, widget_purposes};

/// Routes serving the banner assets and the demo.
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/banner.js", get(banner_js))
        .route("/banner.css", get(banner_css))
        .route("/v1/banner", get(banner::get_banner))
        .route("/demo", get(demo::page))
        .route("/demo/{file}", get(demo::file))
}

/// A file compiled into the binary, with its validator computed once.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(body: &'static str, content_type: &'static str) -> Self {
        Asset {
            body,
            content_type,
            etag: OnceLock::new(),
        }
    }

    fn etag(&self) -> &str {
        self.etag.get_or_init(|| etag_of(self.body.as_bytes()))
    }
}

static BANNER_JS: Asset = Asset::new(
    include_str!("../../../web/banner.js"),
    "text/javascript; charset=utf-8",
);
static BANNER_CSS: Asset = Asset::new(
    include_str!("../../../web/banner.css"),
    "text/css; charset=utf-8",
);

/// A strong validator: the first 64 bits of the content's SHA-256.
fn etag_of(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let hash = custodian_policy::notice_hash(&text);
    let hex = &hash["sha256:".len()..];
    format!("\"{}\"", &hex[..16])
}

/// What sites cache the banner's files for.
const ASSET_CACHE: &str = "public, max-age=86400, stale-while-revalidate=604800";

/// The banner script: the one tag a site adds.
#[utoipa::path(get, path = "/banner.js", tag = "banner",
    responses(
        (status = 200, description = "The banner script", content_type = "text/javascript"),
        (status = 304, description = "Not modified (ETag matched)")))]
pub async fn banner_js(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    serve_asset(&state, &headers, &BANNER_JS)
}

/// The banner stylesheet, loaded by the script with a `<link>` so a strict CSP holds.
#[utoipa::path(get, path = "/banner.css", tag = "banner",
    responses(
        (status = 200, description = "The banner stylesheet", content_type = "text/css"),
        (status = 304, description = "Not modified (ETag matched)")))]
pub async fn banner_css(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    serve_asset(&state, &headers, &BANNER_CSS)
}

fn serve_asset(state: &AppState, req: &HeaderMap, asset: &Asset) -> Response {
    cached(
        req,
        asset.etag(),
        ASSET_CACHE,
        cors(state, req),
        asset.content_type,
        asset.body.into(),
    )
}

/// Answers 304 when the client holds `etag`, else the body, with caching and CORS headers.
fn cached(
    req: &HeaderMap,
    etag: &str,
    cache: &'static str,
    cors: CorsHeaders,
    content_type: &'static str,
    body: axum::body::Body,
) -> Response {
    let matches = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag = HeaderValue::from_str(etag).expect("an etag is ASCII");
    let mut res = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, etag);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    for (name, value) in cors {
        h.insert(name, value);
    }
    res
}

type CorsHeaders = Vec<(HeaderName, HeaderValue)>;

/// CORS for simple GETs, decided per request because the allowed origins live in the state:
/// any origin when none are configured, else the request's origin only when it is listed.
fn cors(state: &AppState, req: &HeaderMap) -> CorsHeaders {
    cors_for(state.allowed_origins.as_deref(), req.get(header::ORIGIN))
}

fn cors_for(allowed: Option<&[String]>, origin: Option<&HeaderValue>) -> CorsHeaders {
    let Some(list) = allowed else {
        return vec![(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        )];
    };
    // The answer depends on the Origin header, so caches must key on it.
    let mut out = vec![(header::VARY, HeaderValue::from_static("origin"))];
    if let Some(origin) =
        origin.filter(|o| list.iter().any(|a| a.trim().as_bytes() == o.as_bytes()))
    {
        out.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_origin_when_none_configured() {
        let h = cors_for(None, None);
        assert_eq!(
            h,
            vec![(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*")
            )]
        );
    }

    #[test]
    fn only_listed_origins_are_echoed() {
        let list = vec!["https://shop.example".to_owned()];
        let ok = HeaderValue::from_static("https://shop.example");
        let other = HeaderValue::from_static("https://evil.example");
        let yes = cors_for(Some(&list), Some(&ok));
        assert!(yes.contains(&(header::ACCESS_CONTROL_ALLOW_ORIGIN, ok.clone())));
        let no = cors_for(Some(&list), Some(&other));
        assert!(no
            .iter()
            .all(|(n, _)| n != header::ACCESS_CONTROL_ALLOW_ORIGIN));
        assert!(no.iter().any(|(n, _)| n == header::VARY));
    }

    #[test]
    fn etags_are_quoted_and_follow_the_content() {
        let a = etag_of(b"one");
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() == 18);
        assert_ne!(a, etag_of(b"two"));
        assert_eq!(a, etag_of(b"one"));
    }

    #[test]
    fn a_matching_etag_gets_304() {
        let mut req = HeaderMap::new();
        req.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"abc\""));
        let res = cached(&req, "\"abc\"", ASSET_CACHE, vec![], "text/css", "x".into());
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        let res = cached(
            &HeaderMap::new(),
            "\"abc\"",
            ASSET_CACHE,
            vec![],
            "text/css",
            "x".into(),
        );
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::ETAG], "\"abc\"");
    }
}
