//! The privacy team's console at `/console` (issue 14): server-rendered pages for the people
//! accountable for the policy — the overview with its charts, the request queue and each
//! request with every action as a form, consent look-up with ledger verification, the policy
//! and its versions, datastores and runs, retention and holds, users and tokens.
//!
//! No JavaScript: every action is a form posted to its own route and answered with a
//! redirect (POST-redirect-GET), under a strict Content-Security-Policy (`render.rs`). Sign-in,
//! sessions, CSRF and roles are in `auth.rs` (the rules themselves in `app::sessions`), the
//! words in English and German in `text.rs`, the templates in `templates/`, the charts drawn
//! as SVG in `charts.rs` and the TOTP enrolment's QR code in `qr.rs`. Handlers call the same
//! use cases as the admin API (`app::requests::act`, `app::holds`, …), and every sign-in and
//! action passes through `audit::console_audit`.

pub mod audit;
pub mod auth;
pub mod charts;
pub mod login;
pub mod overview;
pub mod pages;
pub mod qr;
pub mod render;
pub mod requests;
pub mod text;
pub mod users;

use axum::http::header;
use axum::response::IntoResponse;

/// A page's query or a form's fields, in order.
pub type Fields = Vec<(String, String)>;

pub fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

/// How the console is set up.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// A session ends after this many minutes without a request (OWASP: 15–30 for
    /// applications holding sensitive data).
    pub idle_minutes: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options { idle_minutes: 30 }
    }
}

impl Options {
    pub fn idle_micros(&self) -> i64 {
        self.idle_minutes.max(1) * 60_000_000
    }
}

/// The console's stylesheet (a file of its own: the pages have no inline style).
#[utoipa::path(get, path = "/assets/console.css", tag = "console",
    responses((status = 200, description = "Stylesheet of the console", content_type = "text/css")))]
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("../../../../web/console.css"),
    )
}
