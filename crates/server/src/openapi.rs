//! The OpenAPI document, generated from the handlers' annotations so it cannot drift from
//! the code; the answers every route shares are added in one place (`answers.rs`). Tests check
//! that every route of the router is described here and nothing else, that the document is
//! valid OpenAPI 3.1, and schemathesis checks the real binary against it
//! (`tests/schemathesis/run.sh`, docs/testing.md).

pub mod answers;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Custodian", description = "Privacy operations: decisions, consent, requests, retention, accountability."),
    paths(
        routes::ops::healthz,
        routes::ops::readyz,
        routes::ops::metrics,
        routes::ops::openapi,
        routes::policy::get_policy,
        routes::policy::notice,
        routes::policy::notice_css,
        routes::decide::decide,
        routes::consent::write,
        routes::consent::read,
        routes::consent::link,
        routes::consent::receipt,
        routes::consent::gpc_json,
        routes::unsubscribe::issue,
        routes::unsubscribe::confirm_page,
        routes::unsubscribe::one_click,
        routes::requests::submit,
        routes::requests::verify,
        routes::requests::status,
        routes::requests::status_page,
        routes::requests::archive,
        routes::privacy_center::home,
        routes::privacy_center::consents::show,
        routes::privacy_center::consents::save,
        routes::privacy_center::signin::sign_in_form,
        routes::privacy_center::signin::start_sign_in,
        routes::privacy_center::signin::finish_sign_in,
        routes::privacy_center::signin::sign_out,
        routes::privacy_center::requests::form,
        routes::privacy_center::requests::submit,
        routes::privacy_center::requests::verify_form,
        routes::privacy_center::requests::verify,
        routes::privacy_center::unsubscribe,
        routes::privacy_center::notices::show,
        routes::privacy_center::notices::save,
        routes::privacy_center::stylesheet,
        crate::console::stylesheet,
        crate::console::login::home,
        crate::console::login::login_form,
        crate::console::login::login,
        crate::console::login::login_totp,
        crate::console::login::logout,
        crate::console::login::account,
        crate::console::login::totp_begin,
        crate::console::login::totp_confirm,
        crate::console::overview::show,
        crate::console::requests::queue,
        crate::console::requests::show,
        crate::console::requests::act,
        crate::console::requests::export,
        crate::console::pages::consent,
        crate::console::pages::consent_lookup,
        crate::console::pages::verify_ledger,
        crate::console::pages::policy,
        crate::console::pages::datastores,
        crate::console::pages::retention,
        crate::console::pages::place_hold,
        crate::console::pages::lift_hold,
        crate::console::users::list,
        crate::console::users::add,
        crate::console::users::act,
        crate::console::users::create_token,
        crate::console::users::revoke_token,
        routes::admin::list,
        routes::admin::show,
        routes::admin::act,
        routes::admin::export,
        routes::subjects::record_event,
        routes::holds::place,
        routes::holds::list,
        routes::holds::lift,
        routes::audit::list,
        routes::incidents::create,
        routes::incidents::list,
        routes::incidents::show,
        routes::incidents::assess,
        routes::incidents::authority_notified,
        routes::incidents::close,
        routes::incidents::notify_subjects,
        routes::incidents::report,
        routes::disclosures::create,
        routes::disclosures::list,
        routes::disclosures::transparency,
        routes::notices::publish_version,
        routes::notices::list_versions,
        routes::notices::post_notice,
        routes::notices::upcoming,
        routes::notices::site_notices,
        routes::notices::records,
        crate::assets::banner_js,
        crate::assets::banner_css,
        crate::assets::banner::get_banner,
        crate::assets::demo::page,
        crate::assets::demo::file,
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "policy", description = "The active policy and its notice"),
        (name = "decisions", description = "May this processing happen?"),
        (name = "banner", description = "The consent banner, its configuration and the demo site"),
        (name = "requests", description = "Data-subject requests: intake, verification, status, the DPO's queue"),
        (name = "privacy centre", description = "Pages for people: consents, requests, unsubscribe"),
        (name = "consent", description = "The consent ledger, receipts, GPC and one-click unsubscribe"),
        (name = "retention", description = "Lifecycle events, legal holds and children's data"),
        (name = "accountability", description = "The audit trail, personal-data breaches and disclosures to authorities"),
        (name = "notices", description = "Policy versions and notices before changes; the records of processing"),
        (name = "console", description = "The privacy team's console: pages and forms for signed-in users"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    answers::complete(&mut doc);
    doc
}
