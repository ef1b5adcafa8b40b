//! The HTTP edge of Custodian.
//!
//! A tour: [`build`] turns [`Settings`] into shared state (compiling the policy, loading
//! tokens lazily), [`router`] wires the routes of `routes/*` with the cross-cutting layers
//! (body limit, CORS, metrics, problem+json fallbacks), and [`serve`] runs it until a
//! shutdown signal. Only this crate knows axum; handlers call `custodian-core` for every
//! rule and `custodian-store` for every row.

pub mod assets;
pub mod auth;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use custodian_core::decide::Engine;
use custodian_core::subject::SubjectHasher;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use state::{AppState, Settings, SharedState};

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the policy cannot be compiled: {0}")]
    Compile(#[from] custodian_core::decide::CompileError),
}

/// Prepares everything the handlers share.
pub fn build(settings: Settings) -> Result<SharedState, BuildError> {
    let engine = Engine::compile(&settings.policy)?;
    let doc = routes::policy::policy_document(&settings.policy);
    let policy_json = serde_json::to_vec(&doc).unwrap_or_default().into();
    let notice_html = custodian_policy::render::html(&settings.policy);
    Ok(Arc::new(AppState {
        policy: Arc::new(settings.policy),
        engine,
        store: settings.store,
        hasher: SubjectHasher::new(&settings.secret),
        tokens: Default::default(),
        policy_json,
        notice_html,
        metrics: metrics::handle(),
        allowed_origins: settings.allowed_origins,
    }))
}

/// All routes with their layers.
pub fn router(state: SharedState) -> Router {
    let cors = cors_layer(state.allowed_origins.as_deref());
    let public = Router::new()
        .route("/v1/policy", get(routes::policy::get_policy))
        .layer(cors);
    Router::new()
        .route("/healthz", get(routes::ops::healthz))
        .route("/readyz", get(routes::ops::readyz))
        .route("/metrics", get(routes::ops::metrics))
        .route("/openapi.json", get(openapi_json))
        .route("/privacy", get(routes::policy::notice))
        .route("/v1/decide", post(routes::decide::decide))
        .merge(public)
        .merge(assets::routes())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(openapi::document())
}

/// CORS for the endpoints a banner on another origin calls. Only these routes get it.
fn cors_layer(origins: Option<&[String]>) -> CorsLayer {
    let allow = match origins {
        None => AllowOrigin::any(),
        Some(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|o| HeaderValue::from_str(o.trim()).ok()),
        ),
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            "sec-gpc".parse().expect("valid header name"),
        ])
}

/// Serves until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: SharedState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
