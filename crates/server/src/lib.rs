//! The HTTP edge of Custodian.
//!
//! A tour: [`build`] turns [`Settings`] into the shared state — the application's context
//! (`custodian_app::build`) plus what only HTTP needs (metrics, the pre-serialised policy, the
//! rendered notice, the allowed origins) — [`router`] wires the routes of `routes/*` with the
//! cross-cutting layers (body limit, CORS, metrics, problem+json fallbacks), and [`serve`]
//! runs it until a shutdown signal. Only this crate knows axum; a handler parses its input,
//! calls one use case of `custodian-app`, and answers; `error.rs` maps every `AppError` to a
//! problem document.

pub mod app;
pub mod assets;
pub mod auth;
pub mod console;
pub mod error;
pub mod extract;
pub mod html;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod origin;
pub mod outage;
pub mod routes;
pub mod security_headers;
pub mod state;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use custodian_app::background;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use custodian_app::BuildError;
pub use state::{AppState, Settings, SharedState};

use crate::error::ApiError;

/// Builds the application's context and the HTTP state around it.
pub async fn build(settings: Settings) -> Result<SharedState, BuildError> {
    let metrics = Arc::new(metrics::Metrics::default());
    let app = custodian_app::build(settings.app, metrics.clone()).await?;
    let rendered = std::sync::RwLock::new(Arc::new(state::Rendered::of(&app.policy)));
    Ok(Arc::new(AppState {
        app,
        metrics,
        rendered,
        allowed_origins: settings.allowed_origins,
        console: settings.console,
    }))
}

/// All routes with their layers.
///
/// Kept whole: the route table, so every path, its method and its handler are seen together.
pub fn router(state: SharedState) -> Router {
    let cors = cors_layer(state.allowed_origins.as_deref());
    let public = Router::new()
        .route("/v1/policy", get(routes::policy::get_policy))
        .route(
            "/v1/consent",
            get(routes::consent::read).post(routes::consent::write),
        )
        .route("/.well-known/gpc.json", get(routes::consent::gpc_json))
        .route("/v1/requests", post(routes::requests::submit))
        .route("/v1/requests/{id}/verify", post(routes::requests::verify))
        .route("/v1/policy/upcoming", get(routes::notices::upcoming))
        .route("/v1/notices", get(routes::notices::site_notices))
        // Set before the CORS layer so that it wraps this fallback too: a preflight (OPTIONS)
        // must reach the CORS layer instead of the router's 405.
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(cors);
    Router::new()
        .route("/healthz", get(routes::ops::healthz))
        .route("/readyz", get(routes::ops::readyz))
        .route("/metrics", get(routes::ops::metrics))
        .route("/openapi.json", get(routes::ops::openapi))
        .route("/privacy", get(routes::policy::notice))
        .route("/assets/notice.css", get(routes::policy::notice_css))
        .route("/v1/decide", post(routes::decide::decide))
        .route("/v1/consent/link", post(routes::consent::link))
        .route("/v1/unsubscribe-links", post(routes::unsubscribe::issue))
        .route("/v1/receipts/{id}", get(routes::consent::receipt))
        .route(
            "/u/{token}",
            get(routes::unsubscribe::confirm_page).post(routes::unsubscribe::one_click),
        )
        .route("/v1/requests/{id}", get(routes::requests::status))
        .route("/v1/requests/{id}/archive", get(routes::requests::archive))
        .route("/requests/{id}", get(routes::requests::status_page))
        .route("/privacy-center", get(routes::privacy_center::home))
        .route(
            "/privacy-center/consents",
            get(routes::privacy_center::consents::show)
                .post(routes::privacy_center::consents::save),
        )
        .route(
            "/privacy-center/sign-in",
            get(routes::privacy_center::signin::sign_in_form)
                .post(routes::privacy_center::signin::start_sign_in),
        )
        .route(
            "/privacy-center/sign-in/code",
            post(routes::privacy_center::signin::finish_sign_in),
        )
        .route(
            "/privacy-center/sign-out",
            post(routes::privacy_center::signin::sign_out),
        )
        .route(
            "/privacy-center/requests",
            get(routes::privacy_center::requests::form)
                .post(routes::privacy_center::requests::submit),
        )
        .route(
            "/privacy-center/verify",
            get(routes::privacy_center::requests::verify_form)
                .post(routes::privacy_center::requests::verify),
        )
        .route(
            "/privacy-center/notices",
            get(routes::privacy_center::notices::show).post(routes::privacy_center::notices::save),
        )
        .route(
            "/privacy-center/unsubscribe",
            get(routes::privacy_center::unsubscribe),
        )
        .route(
            "/assets/privacy-center.css",
            get(routes::privacy_center::stylesheet),
        )
        .route(
            "/v1/admin/policy-versions",
            get(routes::notices::list_versions).post(routes::notices::publish_version),
        )
        .route("/v1/admin/notices", post(routes::notices::post_notice))
        .route(
            "/v1/admin/records-of-processing",
            get(routes::notices::records),
        )
        .route("/v1/admin/requests", get(routes::admin::list))
        .route("/v1/admin/requests/{id}", get(routes::admin::show))
        .route("/v1/admin/requests/{id}/export", get(routes::admin::export))
        .route("/v1/admin/requests/{id}/{action}", post(routes::admin::act))
        .route("/v1/subjects/events", post(routes::subjects::record_event))
        .route(
            "/v1/admin/holds",
            get(routes::holds::list).post(routes::holds::place),
        )
        .route(
            "/v1/admin/holds/{id}",
            axum::routing::delete(routes::holds::lift),
        )
        .route("/v1/admin/audit", get(routes::audit::list))
        .route(
            "/v1/admin/incidents",
            get(routes::incidents::list).post(routes::incidents::create),
        )
        .route("/v1/admin/incidents/{id}", get(routes::incidents::show))
        .route(
            "/v1/admin/incidents/{id}/assess",
            post(routes::incidents::assess),
        )
        .route(
            "/v1/admin/incidents/{id}/authority-notified",
            post(routes::incidents::authority_notified),
        )
        .route(
            "/v1/admin/incidents/{id}/close",
            post(routes::incidents::close),
        )
        .route(
            "/v1/admin/incidents/{id}/notify-subjects",
            post(routes::incidents::notify_subjects),
        )
        .route(
            "/v1/admin/incidents/{id}/report",
            get(routes::incidents::report),
        )
        .route(
            "/v1/admin/disclosures",
            get(routes::disclosures::list).post(routes::disclosures::create),
        )
        .route("/transparency", get(routes::disclosures::transparency))
        .route("/console", get(console::login::home))
        .route(
            "/console/login",
            get(console::login::login_form).post(console::login::login),
        )
        .route("/console/login/totp", post(console::login::login_totp))
        .route("/console/logout", post(console::login::logout))
        .route("/console/account", get(console::login::account))
        .route("/console/account/totp", post(console::login::totp_begin))
        .route(
            "/console/account/totp/confirm",
            post(console::login::totp_confirm),
        )
        .route("/console/overview", get(console::overview::show))
        .route("/console/requests", get(console::requests::queue))
        .route("/console/requests/{id}", get(console::requests::show))
        .route(
            "/console/requests/{id}/export",
            get(console::requests::export),
        )
        .route(
            "/console/requests/{id}/{action}",
            post(console::requests::act),
        )
        .route(
            "/console/consent",
            get(console::pages::consent).post(console::pages::consent_lookup),
        )
        .route(
            "/console/consent/verify",
            post(console::pages::verify_ledger),
        )
        .route("/console/policy", get(console::pages::policy))
        .route("/console/datastores", get(console::pages::datastores))
        .route("/console/retention", get(console::pages::retention))
        .route("/console/retention/holds", post(console::pages::place_hold))
        .route(
            "/console/retention/holds/{id}/lift",
            post(console::pages::lift_hold),
        )
        .route(
            "/console/users",
            get(console::users::list).post(console::users::add),
        )
        .route("/console/users/{id}/{action}", post(console::users::act))
        .route("/console/tokens", post(console::users::create_token))
        .route(
            "/console/tokens/{id}/revoke",
            post(console::users::revoke_token),
        )
        .route("/assets/console.css", get(console::stylesheet))
        .merge(public)
        .merge(assets::routes())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            outage::layer,
        ))
        .layer(security_headers::SecurityHeadersLayer {
            https: state.public_url.starts_with("https:"),
        })
        .layer(metrics::TrackLayer(state.metrics.clone()))
        .with_state(state)
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

/// Serves plain HTTP with the default limits; see [`serve_with`].
pub async fn serve(
    listener: TcpListener,
    state: SharedState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, listen::Options::default(), shutdown).await
}

/// Serves until `shutdown` completes, then lets in-flight requests finish, lets the outbox
/// finish its pass, and writes a last ledger checkpoint and consent image.
pub async fn serve_with(
    listener: TcpListener,
    state: SharedState,
    options: listen::Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let jobs = background::spawn(state.app.clone(), state.console.idle_micros());
    let result = listen::run(listener, app::app(state.clone()), options, shutdown).await;
    jobs.stop().await;
    background::checkpoint_once(&state.app).await;
    // A clean stop leaves an image of consent memory as it is, so the next start reads it
    // and next to nothing of the ledger.
    if let Err(e) = custodian_app::consent_image::save(&state.app).await {
        tracing::warn!(error = %e, "the consent image was not written at stop");
    }
    result
}
