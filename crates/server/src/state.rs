//! What every handler shares: the application's [`Context`] and what only HTTP needs — the
//! route metrics, the pre-serialised `/v1/policy` body, the rendered notice and the origins
//! allowed to call the public endpoints from a browser.

use std::sync::Arc;

use custodian_app::Context;

use crate::metrics::Metrics;

/// How the server is set up: the application's settings and the HTTP-only ones.
pub struct Settings {
    pub app: custodian_app::Settings,
    /// Origins allowed to call the public endpoints from a browser; `None` means any.
    pub allowed_origins: Option<Vec<String>>,
    /// The privacy team's console (idle time of its sessions).
    pub console: crate::console::Options,
}

pub type SharedState = Arc<AppState>;

pub struct AppState {
    /// The use cases' shared context (policy, engine, store, consent, keys, clock, ids …).
    pub app: custodian_app::Shared,
    pub metrics: Arc<Metrics>,
    /// `GET /v1/policy`, serialised once: the policy only changes with a restart.
    pub policy_json: axum::body::Bytes,
    /// `GET /privacy`, rendered once per language of the policy (language tag → page).
    pub notice_html: std::collections::BTreeMap<String, String>,
    pub allowed_origins: Option<Vec<String>>,
    pub console: crate::console::Options,
}

/// Handlers read the context's parts (`state.policy`, `state.engine` …) directly and pass
/// `&state` where a use case takes `&Context`: the state *is* the context plus HTTP's own.
impl std::ops::Deref for AppState {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.app
    }
}
