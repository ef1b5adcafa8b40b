//! The privacy centre's markup, apart from the handlers: each function renders one piece of a
//! page from values the handler has already read, escaping every value that is not ours.

use super::hidden;
use super::text::Texts;
use crate::html::escape;
use crate::state::AppState;
use custodian_app::consent::ConsentView;

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
