//! What every handler shares: the active policy and its compiled engine, the store, the
//! subject hasher and the token cache.

use std::sync::Arc;

use custodian_core::decide::Engine;
use custodian_core::subject::SubjectHasher;
use custodian_policy::Policy;
use custodian_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::TokenCache;

/// How the server is set up; built by the CLI from flags, environment and config file.
pub struct Settings {
    pub policy: Policy,
    pub store: Store,
    /// Keys subject references; created once by `serve` and kept.
    pub secret: Vec<u8>,
    /// Origins allowed to call the public endpoints from a browser; `None` means any.
    pub allowed_origins: Option<Vec<String>>,
}

pub type SharedState = Arc<AppState>;

pub struct AppState {
    pub policy: Arc<Policy>,
    pub engine: Engine,
    pub store: Store,
    pub hasher: SubjectHasher,
    pub tokens: TokenCache,
    /// `GET /v1/policy`, serialised once: the policy only changes with a restart.
    pub policy_json: axum::body::Bytes,
    /// `GET /privacy`, rendered once.
    pub notice_html: String,
    pub metrics: PrometheusHandle,
    pub allowed_origins: Option<Vec<String>>,
}
