//! The HTTP edge of Custodian.
//!
//! A tour: [`build`] turns [`Settings`] into shared state (compiling the policy, loading
//! tokens lazily), [`router`] wires the routes of `routes/*` with the cross-cutting layers
//! (body limit, CORS, metrics, problem+json fallbacks), and [`serve`] runs it until a
//! shutdown signal. Only this crate knows axum; handlers call `custodian-core` for every
//! rule and `custodian-store` for every row.

pub mod app;
pub mod assets;
pub mod auth;
pub mod background;
pub mod consent_sync;
pub mod error;
pub mod extract;
pub mod html;
pub mod metrics;
pub mod openapi;
pub mod recording;
pub mod requests;
pub mod retention_job;
pub mod routes;
pub mod state;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use custodian_core::consent::ConsentMemory;
use custodian_core::deadline::BusinessCalendar;
use custodian_core::decide::Engine;
use custodian_core::seal::Sealer;
use custodian_core::signed::LinkSigner;
use custodian_core::subject::{SubjectHasher, SubjectRef};
use custodian_core::unsubscribe::Signer;
use custodian_store::writer::ConsentWriter;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use state::{AppState, Settings, SharedState};

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the policy cannot be compiled: {0}")]
    Compile(#[from] custodian_core::decide::CompileError),
    #[error("loading state from the store: {0}")]
    Store(#[from] custodian_store::StoreError),
    #[error("the policy's business calendar: {0}")]
    Calendar(#[from] custodian_core::deadline::CalendarError),
    #[error("retention: {0}")]
    Retention(#[from] retention_job::JobError),
}

/// Prepares everything the handlers share: compiles the policy, records its version, and
/// loads every subject's current consent into memory so decisions never wait on the store.
pub async fn build(settings: Settings) -> Result<SharedState, BuildError> {
    use futures_util::TryStreamExt;

    let policy = settings.policy;
    let store = settings.store;
    let engine = Engine::compile(&policy)?;
    let now = settings.clock.now_micros();

    let version = policy.policy.version.clone();
    let document = serde_json::to_string(&policy).unwrap_or_default();
    let mut versions = HashMap::new();
    let mut reask = HashMap::new();
    store
        .remember_policy_version(&version, &document, now)
        .await?;
    for (v, doc) in store.policy_versions().await? {
        if v == version {
            if doc != document {
                tracing::warn!(version = %v, "the policy file changed but its version did not; bump `policy.version` so consent records name the text people saw");
            }
            continue;
        }
        match serde_json::from_str::<custodian_policy::Policy>(&doc) {
            Ok(old) => {
                let changed = custodian_policy::diff::consent_purposes_changed(&old, &policy);
                reask.insert(v.clone(), changed.into_iter().collect());
                versions.insert(v, Arc::new(old));
            }
            Err(e) => {
                tracing::warn!(version = %v, error = %e, "a stored policy version cannot be read; consent recorded under it is treated as current")
            }
        }
    }

    let consent_seen = consent_sync::Watermarks::at_heads(&store).await?;
    let consents = ConsentMemory::default();
    let mut rows = store.all_consent_state();
    while let Some((subject, purpose, given)) = rows.try_next().await? {
        if let (Some(r), Some(slot)) = (
            SubjectRef::from_hex(&subject),
            engine.consent_slot(&purpose),
        ) {
            consents.set(r, slot, given);
        }
    }
    drop(rows);

    let calendar = BusinessCalendar::from_policy(&policy.calendar)?;
    let retention = retention_job::RetentionState::load(&policy, &store).await?;
    let doc = routes::policy::policy_document(&policy);
    let policy_json = serde_json::to_vec(&doc).unwrap_or_default().into();
    let notice_html = custodian_policy::render::html(&policy);
    let keyring =
        custodian_store::keyring::Keyring::new(settings.key_store.clone(), settings.master_key);
    if keyring.rotation_unfinished().await? {
        tracing::warn!(
            master_key = %keyring.master_id(),
            "some subject keys are wrapped by another master key: finish `custodian keys rotate`, or check that this is the right master key"
        );
    }
    let state = AppState {
        policy: Arc::new(policy),
        engine,
        writer: ConsentWriter::spawn(store.clone()),
        consents,
        consent_seen,
        device_links: Default::default(),
        versions,
        reask,
        hasher: SubjectHasher::new(&settings.secret),
        signer: Signer::new(&settings.secret),
        tokens: Default::default(),
        policy_json,
        notice_html,
        metrics: Default::default(),
        allowed_origins: settings.allowed_origins,
        public_url: settings.public_url.trim_end_matches('/').to_owned(),
        clock: settings.clock,
        sealer: Sealer::derived(&settings.secret, "requests"),
        code_key: custodian_core::seal::derive_key(&settings.secret, "verification codes").to_vec(),
        links: LinkSigner::new(&settings.secret),
        calendar,
        outbox: custodian_mail::Outbox::new(
            store.clone(),
            Sealer::derived(&settings.secret, "outbox"),
        )
        .with_keyring(keyring.clone()),
        keys_beside_data: keyring.stored_in(&store),
        keyring,
        intake: custodian_store::requests::IntakeWriter::spawn(store.clone()),
        run_keys: custodian_connectors::run::RunKeys::from_secret(&settings.secret),
        datastores: settings.datastores,
        smtp: settings.smtp,
        limiter: Default::default(),
        limits: settings.intake_limits,
        retention,
        store,
    };
    for (device, account) in state.store.all_links().await? {
        if let (Some(d), Some(a)) = (
            SubjectRef::from_hex(&device),
            SubjectRef::from_hex(&account),
        ) {
            state.add_link(d, a);
        }
    }
    Ok(Arc::new(state))
}

/// All routes with their layers.
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
        // Set before the CORS layer so that it wraps this fallback too: a preflight (OPTIONS)
        // must reach the CORS layer instead of the router's 405.
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(cors);
    Router::new()
        .route("/healthz", get(routes::ops::healthz))
        .route("/readyz", get(routes::ops::readyz))
        .route("/metrics", get(routes::ops::metrics))
        .route("/openapi.json", get(openapi_json))
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
            get(routes::privacy_center::consents::sign_in_form)
                .post(routes::privacy_center::consents::start_sign_in),
        )
        .route(
            "/privacy-center/sign-in/code",
            post(routes::privacy_center::consents::finish_sign_in),
        )
        .route(
            "/privacy-center/sign-out",
            post(routes::privacy_center::consents::sign_out),
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
            "/privacy-center/unsubscribe",
            get(routes::privacy_center::unsubscribe),
        )
        .route(
            "/assets/privacy-center.css",
            get(routes::privacy_center::stylesheet),
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
        .merge(public)
        .merge(assets::routes())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(metrics::TrackLayer(state.metrics.clone()))
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

/// Serves until `shutdown` completes, then lets in-flight requests finish, lets the outbox
/// finish its pass, and writes a last ledger checkpoint.
pub async fn serve(
    listener: TcpListener,
    state: SharedState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let jobs = background::spawn(state.clone());
    let app = app::app(state.clone()).per_connection();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    jobs.stop().await;
    background::checkpoint_once(&state).await;
    result
}
