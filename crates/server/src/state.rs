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
    /// `GET /v1/policy` and `/privacy` of the version in force, rendered once per version
    /// (a scheduled version replaces the policy at its date: see [`AppState::rendered`]).
    pub rendered: std::sync::RwLock<Arc<Rendered>>,
    pub allowed_origins: Option<Vec<String>>,
    pub console: crate::console::Options,
}

/// What is rendered from one policy version.
pub struct Rendered {
    pub version: String,
    /// `GET /v1/policy`, serialised.
    pub policy_json: axum::body::Bytes,
    /// `GET /privacy`, per language of the policy (language tag → page).
    pub notice_html: std::collections::BTreeMap<String, String>,
}

impl Rendered {
    pub fn of(policy: &custodian_policy::Policy) -> Rendered {
        let doc = crate::routes::policy::policy_document(policy);
        Rendered {
            version: policy.policy.version.clone(),
            policy_json: serde_json::to_vec(&doc).unwrap_or_default().into(),
            // One page per language of the policy (GDPR Art. 12(1): in a language people read).
            notice_html: policy
                .policy
                .languages
                .iter()
                .map(|l| (l.clone(), custodian_policy::render::html_in(policy, l)))
                .collect(),
        }
    }
}

impl AppState {
    /// The rendered policy in force: rendered again the first time it is asked for after a
    /// new version took effect.
    pub fn rendered(&self) -> Arc<Rendered> {
        let current = self
            .rendered
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let policy = self.app.policy.clone();
        if current.version == policy.policy.version {
            return current;
        }
        let fresh = Arc::new(Rendered::of(&policy));
        *self.rendered.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        fresh
    }
}

/// Handlers read the context's parts (`state.policy`, `state.engine` …) directly and pass
/// `&state` where a use case takes `&Context`: the state *is* the context plus HTTP's own.
impl std::ops::Deref for AppState {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.app
    }
}
