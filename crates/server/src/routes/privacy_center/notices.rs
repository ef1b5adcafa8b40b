//! `/privacy-center/notices`: the notices shown now, and for a signed-in person the choice to
//! get optional notices (a change of control, news, a non-material policy change) by e-mail and
//! on the sites. Mandatory notices — a material change of the policy, a breach — reach them
//! whatever they choose (GDPR Art. 12(1), 13(3), 34(1)).

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use custodian_app::announce;
use custodian_store::notices::NoticePreferences;

use super::page::{self, Page, Tab};
use super::{field, guard, hidden, Fields};
use crate::html::escape;
use crate::state::{AppState, SharedState};

/// The page's own words, English and German.
pub struct Words {
    title: &'static str,
    none: &'static str,
    choose: &'static str,
    by_email: &'static str,
    on_site: &'static str,
    mandatory: &'static str,
    save: &'static str,
    saved: &'static str,
    sign_in: &'static str,
}

pub fn words(lang: &str) -> Words {
    if lang == "de" {
        Words {
            title: "Hinweise",
            none: "Derzeit gibt es keine Hinweise.",
            choose: "Optionale Hinweise (ein Inhaberwechsel, Neuigkeiten, kleinere Änderungen der Datenschutzerklärung):",
            by_email: "per E-Mail erhalten",
            on_site: "auf unseren Seiten anzeigen",
            mandatory: "Über wesentliche Änderungen der Datenschutzerklärung und Datenschutzverletzungen informieren wir Sie immer.",
            save: "Speichern",
            saved: "Ihre Wahl ist gespeichert.",
            sign_in: "Melden Sie sich an, um zu wählen, welche Hinweise Sie erhalten.",
        }
    } else {
        Words {
            title: "Notices",
            none: "There are no notices at the moment.",
            choose: "Optional notices (a change of control, news, minor changes of the privacy policy):",
            by_email: "send them to me by e-mail",
            on_site: "show them to me on your sites",
            mandatory: "We always tell you about material changes of the privacy policy and about breaches.",
            save: "Save",
            saved: "Your choice is saved.",
            sign_in: "Sign in to choose which notices you get.",
        }
    }
}

/// The notices shown now, and the signed-in person's choices.
#[utoipa::path(get, path = "/privacy-center/notices", tag = "privacy centre",
    params(("lang" = Option<String>, Query)),
    responses((status = 200, description = "Notices, and the choice of optional ones", content_type = "text/html")))]
pub async fn show(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let lang = guard::language(&state, &headers, field(&q, "lang"));
    let w = words(&lang);
    let (seed, new_seed) = guard::csrf_seed(&headers);
    let token = guard::csrf_token(&state, &seed);
    let session = guard::session(&state, &headers).await;
    let prefs = match &session {
        Some(s) => match announce::preferences(&state, s).await {
            Ok(p) => Some(p),
            Err(e) => return super::consents::failure(&state, &lang, &e),
        },
        None => None,
    };
    let mut body = String::new();
    if field(&q, "saved") == Some("1") {
        body.push_str(&page::notice(true, w.saved));
    }
    let show_optional = prefs.as_ref().is_none_or(|p| p.optional_site);
    body.push_str(&list(&state, &lang, show_optional, &w));
    body.push_str(&format!("<p>{}</p>", w.mandatory));
    match prefs {
        Some(p) => body.push_str(&format!(
            r#"<form method="post" action="/privacy-center/notices">{hidden}<fieldset><legend>{choose}</legend>
<label><input type="checkbox" name="email" value="on"{e}> {by_email}</label>
<label><input type="checkbox" name="site" value="on"{s}> {on_site}</label></fieldset>
<button type="submit">{save}</button></form>"#,
            hidden = hidden(&token, &lang),
            choose = w.choose,
            e = if p.optional_email { " checked" } else { "" },
            s = if p.optional_site { " checked" } else { "" },
            by_email = w.by_email,
            on_site = w.on_site,
            save = w.save,
        )),
        None => body.push_str(&format!(
            r#"<p><a href="{}">{}</a></p>"#,
            escape(&page::with_lang("/privacy-center/sign-in", &lang)),
            w.sign_in
        )),
    }
    let html = page::render(
        &state,
        &Page {
            lang: &lang,
            title: w.title,
            tab: Tab::Home,
            here: "/privacy-center/notices",
            body,
        },
    );
    page::respond(
        StatusCode::OK,
        &lang,
        html,
        guard::csrf_cookies(&state, &seed, new_seed),
    )
}

/// The notices shown now, as a list (optional ones only when `show_optional`).
pub fn list(state: &AppState, lang: &str, show_optional: bool, w: &Words) -> String {
    let shown = announce::on_site(state, lang, show_optional);
    if shown.is_empty() {
        return format!("<p>{}</p>", w.none);
    }
    let items: String = shown
        .iter()
        .map(|n| {
            format!(
                r#"<li class="announcement"><h2>{}</h2><p>{}</p>{}</li>"#,
                escape(&n.title),
                escape(&n.body),
                n.effective_at
                    .as_deref()
                    .map(|e| format!(r#"<p><time datetime="{0}">{0}</time></p>"#, escape(e)))
                    .unwrap_or_default()
            )
        })
        .collect();
    format!(r#"<ul class="notices">{items}</ul>"#)
}

/// Saves the signed-in person's choice of optional notices.
#[utoipa::path(post, path = "/privacy-center/notices", tag = "privacy centre",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`csrf`, `lang`, and `email` / `site` = `on` for the channels kept"),
    responses((status = 303, description = "Saved; back to the notices page"),
        (status = 401, description = "Not signed in", content_type = "text/html"),
        (status = 403, description = "The CSRF check failed", content_type = "text/html")))]
pub async fn save(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: Result<Form<Fields>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (fields, lang) = match guard::posted(&state, &headers, form) {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let Some(subject) = guard::session(&state, &headers).await else {
        let t = super::text::texts(&lang);
        return page::error_page(
            &state,
            &lang,
            StatusCode::UNAUTHORIZED,
            t.sign_in_title,
            t.session_expired,
        );
    };
    let prefs = NoticePreferences {
        optional_email: field(&fields, "email") == Some("on"),
        optional_site: field(&fields, "site") == Some("on"),
        lang: Some(lang.clone()),
    };
    if let Err(e) = announce::set_preferences(&state, &subject, &prefs).await {
        return super::consents::failure(&state, &lang, &e);
    }
    page::see_other(
        &format!(
            "{}&saved=1",
            page::with_lang("/privacy-center/notices", &lang)
        ),
        Vec::new(),
    )
}
