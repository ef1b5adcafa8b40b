//! The privacy centre's markup, apart from the handlers: each function renders one piece of a
//! page from values the handler has already read, escaping every value that is not ours.

use super::hidden;
use super::page::with_lang;
use super::text::{Texts, COUNTRIES};
use crate::html::escape;
use crate::state::AppState;
use custodian_app::consent::ConsentView;
use custodian_app::requests::MAX_DETAILS;

/// The purpose's short label in `lang`, else in the policy's first language, else its name.
pub fn label(state: &AppState, purpose: &str, lang: &str) -> String {
    let Some(p) = state.policy.purpose(purpose) else {
        return purpose.to_owned();
    };
    p.consent
        .as_ref()
        .and_then(|c| {
            c.label.get(lang).or_else(|| {
                state
                    .policy
                    .policy
                    .languages
                    .first()
                    .and_then(|l| c.label.get(l))
            })
        })
        .cloned()
        .unwrap_or_else(|| p.name.clone())
}

pub fn when(state: &AppState, at: &str) -> String {
    at.parse::<jiff::Timestamp>()
        .map(|t| custodian_app::requests::human_time(state, t.as_microsecond()))
        .unwrap_or_else(|_| at.to_owned())
}

/// One fieldset per consent purpose: its label, notice, current state and a yes/no choice.
pub fn purpose_fields(
    state: &AppState,
    t: &Texts,
    lang: &str,
    prefix: &str,
    view: &ConsentView,
) -> String {
    let mut out = String::new();
    for p in &view.purposes {
        let id = format!("{prefix}-{}", p.purpose);
        let notice = state.policy.notice_text(&p.purpose, lang).unwrap_or("");
        let status = match (p.given, &p.at) {
            (Some(g), Some(at)) => {
                let at = when(state, at);
                let what = if g { t.given_on } else { t.refused_on }.replace("{at}", &at);
                match &p.source {
                    Some(s) => format!("{what} ({})", t.via.replace("{source}", &t.source(s))),
                    None => what,
                }
            }
            _ => t.not_asked.to_owned(),
        };
        let reask = if p.must_reask {
            format!(
                r#"<p class="reask" id="{}-reask"><strong>{}</strong></p>"#,
                escape(&id),
                t.reask
            )
        } else {
            String::new()
        };
        let described = if p.must_reask {
            format!("{id}-notice {id}-state {id}-reask")
        } else {
            format!("{id}-notice {id}-state")
        };
        let checked = |want: bool| {
            if p.given == Some(want) {
                " checked"
            } else {
                ""
            }
        };
        out.push_str(&format!(
            r#"<fieldset class="purpose" aria-describedby="{described}">
<legend>{label}</legend>
<p id="{id}-notice">{notice}</p>
<p id="{id}-state" class="state">{current}: {status}</p>
{reask}<div class="choices">
<span><input type="radio" id="{id}-yes" name="choice.{name}" value="yes"{yes}><label for="{id}-yes">{t_yes}</label></span>
<span><input type="radio" id="{id}-no" name="choice.{name}" value="no"{no}><label for="{id}-no">{t_no}</label></span>
</div>
</fieldset>
"#,
            described = escape(&described),
            label = escape(&label(state, &p.purpose, lang)),
            id = escape(&id),
            notice = escape(notice),
            current = t.current,
            status = escape(&status),
            name = escape(&p.purpose),
            yes = checked(true),
            no = checked(false),
            t_yes = t.yes,
            t_no = t.no,
        ));
    }
    out
}

pub fn choice_form(
    state: &AppState,
    t: &Texts,
    lang: &str,
    token: &str,
    target: &str,
    view: &ConsentView,
) -> String {
    format!(
        r#"<form method="post" action="/privacy-center/consents" class="consents">{hidden}<input type="hidden" name="for" value="{target}">{fields}<button type="submit">{save}</button></form>"#,
        hidden = hidden(token, lang),
        fields = purpose_fields(state, t, lang, target, view),
        save = t.save,
    )
}

pub fn email_form(t: &Texts, lang: &str, token: &str, value: &str) -> String {
    format!(
        r#"<form method="post" action="/privacy-center/sign-in" class="inline">{hidden}<label for="signin-email">{email}</label><input id="signin-email" name="email" type="email" autocomplete="email" required value="{value}"><button type="submit">{send}</button></form>"#,
        hidden = hidden(token, lang),
        email = t.email,
        value = escape(value),
        send = t.send_code,
    )
}

/// The note shown when the browser sends a Global Privacy Control signal.
pub fn gpc_note(t: &Texts, purposes: &[String]) -> String {
    format!(
        r#"<div class="notice info"><p>{}</p></div>"#,
        escape(&t.gpc_note.replace("{purposes}", &purposes.join(", ")))
    )
}

/// The consents page's section for this browser.
pub fn device_section(t: &Texts, known: bool, form: &str) -> String {
    format!(
        r#"<section aria-labelledby="device-h" id="device"><h2 id="device-h">{}</h2><p>{}</p>{}</section>"#,
        t.this_browser,
        if known {
            t.browser_known
        } else {
            t.browser_new
        },
        form,
    )
}

/// The consents page's section for a confirmed address: its choices and a sign-out button
/// when signed in (`form`), otherwise the form to sign in.
pub fn account_section(t: &Texts, lang: &str, token: &str, form: Option<&str>) -> String {
    let inner = match form {
        Some(form) => format!(
            r#"<p>{}</p>{}<form method="post" action="/privacy-center/sign-out">{}<button type="submit" class="secondary">{}</button></form>"#,
            t.signed_in,
            form,
            hidden(token, lang),
            t.sign_out,
        ),
        None => sign_in_intro(t, lang, token),
    };
    format!(
        r#"<section aria-labelledby="account-h" id="account"><h2 id="account-h">{}</h2>{inner}</section>"#,
        t.your_email
    )
}

/// Why to sign in, and the address form.
pub fn sign_in_intro(t: &Texts, lang: &str, token: &str) -> String {
    format!(
        "<p>{}</p>{}",
        t.sign_in_intro,
        email_form(t, lang, token, "")
    )
}

/// The form for the code that was mailed (prefilled with `code`).
pub fn code_form(t: &Texts, lang: &str, token: &str, minutes: u32, code: &str) -> String {
    format!(
        r#"<p>{sent}</p><form method="post" action="/privacy-center/sign-in/code" class="inline">{hidden}<label for="signin-code">{label}</label><input id="signin-code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{{6}}" maxlength="6" required aria-describedby="signin-code-hint" value="{code}"><span id="signin-code-hint" class="hint">{hint}</span><button type="submit">{go}</button></form>"#,
        sent = t.code_sent.replace("{minutes}", &minutes.to_string()),
        hidden = hidden(token, lang),
        label = t.code,
        code = escape(code),
        hint = t.code_hint,
        go = t.sign_in,
    )
}

/// The home page's body: what a person can do here.
pub fn home(t: &Texts, lang: &str) -> String {
    let card = |href: &str, title: &str, text: &str| {
        format!(
            r#"<li><h2><a href="{}">{title}</a></h2><p>{text}</p></li>"#,
            escape(href)
        )
    };
    format!(
        r#"<p class="lead">{intro}</p><ul class="cards">{a}{b}{c}{d}</ul>"#,
        intro = t.home_intro,
        a = card(
            &with_lang("/privacy-center/consents", lang),
            t.consents,
            t.home_consents
        ),
        b = card(
            &with_lang("/privacy-center/requests", lang),
            t.requests,
            t.home_requests
        ),
        c = card(
            &with_lang("/privacy-center/unsubscribe", lang),
            t.unsubscribe,
            t.home_unsubscribe
        ),
        d = card("/privacy", t.notice, t.home_notice),
    )
}

/// How to stop e-mails: the one-click links in every message, and the consents page.
pub fn unsubscribe_intro(t: &Texts, lang: &str) -> String {
    format!(
        r#"<p class="lead">{}</p><p>{} <a href="{}">{}</a></p>"#,
        t.unsub_intro,
        t.unsub_links,
        escape(&with_lang("/privacy-center/consents", lang)),
        t.unsub_here
    )
}

/// For a confirmed address: a withdraw button per purpose given (`(purpose, label)`).
pub fn withdraw_buttons(t: &Texts, lang: &str, token: &str, given: &[(String, String)]) -> String {
    let buttons: Vec<String> = given
        .iter()
        .map(|(purpose, label)| {
            format!(
                r#"<li><form method="post" action="/privacy-center/consents">{}<input type="hidden" name="for" value="account"><input type="hidden" name="choice.{}" value="no"><button type="submit">{}</button></form></li>"#,
                hidden(token, lang),
                escape(purpose),
                escape(&t.withdraw.replace("{label}", label))
            )
        })
        .collect();
    let inner = if buttons.is_empty() {
        format!("<p>{}</p>", t.unsub_nothing)
    } else {
        format!(
            r#"<p>{}</p><ul class="buttons">{}</ul>"#,
            t.unsub_signed_in,
            buttons.concat()
        )
    };
    format!(
        r#"<section aria-labelledby="unsub-account"><h2 id="unsub-account">{}</h2>{inner}</section>"#,
        t.your_email
    )
}

/// What the visitor typed, to show the form again after a mistake.
#[derive(Default)]
pub struct Filled<'a> {
    pub kind: &'a str,
    pub email: &'a str,
    pub details: &'a str,
    pub country: &'a str,
    pub customer: &'a str,
}

fn selected(on: bool) -> &'static str {
    if on {
        " selected"
    } else {
        ""
    }
}

/// The request form, filled with what the visitor typed.
pub fn request_form(state: &AppState, t: &Texts, lang: &str, token: &str, f: &Filled) -> String {
    let kinds: String = t
        .kinds
        .iter()
        .map(|(id, name, help)| {
            let checked = if f.kind == *id { " checked" } else { "" };
            format!(
                r#"<div class="kind"><input type="radio" id="kind-{id}" name="type" value="{id}" required aria-describedby="kind-{id}-help"{checked}><label for="kind-{id}">{name}</label><p id="kind-{id}-help" class="hint">{help}</p></div>"#
            )
        })
        .collect();
    let countries: String = COUNTRIES
        .iter()
        .map(|(code, en, de)| {
            let name = if lang == "de" { de } else { en };
            format!(
                r#"<option value="{code}"{}>{name}</option>"#,
                selected(f.country == *code)
            )
        })
        .collect();
    let customers = if state.policy.customers.is_empty() {
        String::new()
    } else {
        let options: String = state
            .policy
            .customers
            .iter()
            .map(|c| {
                format!(
                    r#"<option value="{}"{}>{}</option>"#,
                    escape(&c.id),
                    selected(f.customer == c.id),
                    escape(&c.name)
                )
            })
            .collect();
        format!(
            r#"<div class="field"><label for="req-customer">{label} <span class="opt">({opt})</span></label><p id="req-customer-hint" class="hint">{hint}</p><select id="req-customer" name="customer" aria-describedby="req-customer-hint"><option value="">{none}</option>{options}</select></div>"#,
            label = t.customer,
            opt = t.optional,
            hint = t.customer_hint,
            none = t.customer_none,
        )
    };
    format!(
        r#"<form method="post" action="/privacy-center/requests" class="request">{hidden}
<fieldset><legend>{kind_legend}</legend>{kinds}</fieldset>
<div class="field"><label for="req-email">{email}</label><input id="req-email" name="email" type="email" autocomplete="email" required value="{email_v}"></div>
<div class="field"><label for="req-details">{details} <span class="opt">({opt})</span></label><p id="req-details-hint" class="hint">{details_hint}</p><textarea id="req-details" name="details" rows="5" maxlength="{max}" aria-describedby="req-details-hint">{details_v}</textarea></div>
<div class="field"><label for="req-country">{country} <span class="opt">({opt})</span></label><select id="req-country" name="country" autocomplete="country"><option value="">{country_none}</option>{countries}</select></div>
{customers}<button type="submit">{submit}</button></form>"#,
        hidden = hidden(token, lang),
        kind_legend = t.request_kind,
        email = t.email,
        email_v = escape(f.email),
        details = t.details,
        opt = t.optional,
        details_hint = t.details_hint,
        max = MAX_DETAILS,
        details_v = escape(f.details),
        country = t.country,
        country_none = t.country_none,
        submit = t.request_submit,
    )
}

/// A page's lead paragraph, a notice when there is one, and the rest.
pub fn with_lead(lead: &str, notice: Option<String>, rest: String) -> String {
    format!(
        r#"<p class="lead">{}</p>{}{}"#,
        lead,
        notice.unwrap_or_default(),
        rest
    )
}

/// The form that confirms a request with the mailed code.
pub fn verify_form(t: &Texts, lang: &str, token: &str, id: &str, code: &str) -> String {
    format!(
        r#"<form method="post" action="/privacy-center/verify" class="inline">{hidden}<input type="hidden" name="request" value="{id}"><label for="verify-code">{label}</label><input id="verify-code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{{6}}" maxlength="6" required aria-describedby="verify-code-hint" value="{code}"><span id="verify-code-hint" class="hint">{hint}</span><button type="submit">{go}</button></form>"#,
        hidden = hidden(token, lang),
        id = escape(id),
        label = t.code,
        code = escape(code),
        hint = t.code_hint,
        go = t.verify_submit,
    )
}
