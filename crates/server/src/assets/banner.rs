//! `GET /v1/banner`: exactly what the banner shows and records, in one language.
//!
//! The banner asks for this once per page view (the answer is cached for five minutes), so it
//! carries only the chosen language's texts and the purposes the banner or a click-to-load
//! widget asks for, never the whole policy.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use custodian_policy::{notice_hash, Policy, Purpose};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::extract::Query;
use crate::state::SharedState;

/// Where the banner's notice link points, relative to Custodian's origin.
const NOTICE_URL: &str = "/privacy";

/// Short enough that a changed policy reaches pages soon; the ETag makes revalidation cheap.
const CACHE: &str = "public, max-age=300";

#[derive(Deserialize, utoipa::IntoParams)]
pub struct BannerQuery {
    /// Preferred languages, best first, comma-separated (`de-AT,de,en`); the policy's first
    /// language when none matches.
    lang: Option<String>,
}

/// The banner's texts and purposes in the best language for the visitor.
#[utoipa::path(get, path = "/v1/banner", tag = "banner", params(BannerQuery),
    responses(
        (status = 200, description = "Texts, consent purposes with notice hashes, and the consent hash", content_type = "application/json"),
        (status = 304, description = "Not modified (ETag matched)")))]
pub async fn get_banner(
    State(state): State<SharedState>,
    Query(q): Query<BannerQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = choose_language(&state.policy, q.lang.as_deref().unwrap_or(""));
    let mut doc = banner_document(&state.policy, lang);
    // Notices before changes (a new policy version, a change of control): shown above the
    // banner's choices until their date.
    doc["notices"] = json!(custodian_app::announce::on_site(&state, lang, true));
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    let etag = super::etag_of(&body);
    super::cached(
        &headers,
        &etag,
        CACHE,
        super::cors(&state, &headers),
        "application/json",
        body.into(),
    )
}

/// The first preference the policy offers, matching whole tags first and then the primary
/// subtag (`de-AT` → `de`); the policy's first language otherwise.
pub fn choose_language<'p>(policy: &'p Policy, prefs: &str) -> &'p str {
    let langs = &policy.policy.languages;
    let find = |tag: &str| {
        langs
            .iter()
            .find(|l| l.eq_ignore_ascii_case(tag))
            .map(String::as_str)
    };
    prefs
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .filter(|t| !t.is_empty())
        .find_map(|t| find(t).or_else(|| find(t.split('-').next().unwrap_or(t))))
        .or_else(|| langs.first().map(String::as_str))
        .unwrap_or("en")
}

/// The document for one language. `purposes` are what the banner offers; `widgets` are
/// consent purposes collected where their content sits (click-to-load).
pub fn banner_document(policy: &Policy, lang: &str) -> Value {
    let first = policy
        .policy
        .languages
        .first()
        .map(String::as_str)
        .unwrap_or(lang);
    let texts = policy
        .texts
        .get(lang)
        .or_else(|| policy.texts.get(first))
        .or_else(|| policy.texts.values().next())
        .cloned()
        .unwrap_or_default();
    let load = texts
        .load
        .clone()
        .unwrap_or_else(|| load_word(lang).to_owned());
    let locked = texts
        .gpc_locked
        .clone()
        .or_else(|| texts.gpc_honoured.clone());
    let mut texts = serde_json::to_value(texts).unwrap_or_else(|_| json!({}));
    texts["load"] = json!(load);
    texts["gpc_locked"] = json!(locked);
    let describe = |p: &Purpose| {
        let spec = p.consent.as_ref();
        let label = spec
            .and_then(|s| s.label.get(lang).or_else(|| s.label.get(first)))
            .unwrap_or(&p.name);
        let notice = policy.notice_text(&p.id, lang).unwrap_or_default();
        json!({
            "id": p.id,
            "label": label,
            "notice": notice,
            "notice_hash": notice_hash(notice),
            "cookies": spec.map(|s| s.cookies.as_slice()).unwrap_or_default(),
            "gpc_opt_out": p.gpc_opt_out,
        })
    };
    json!({
        "version": policy.policy.version,
        "lang": lang,
        "languages": policy.policy.languages,
        "texts": texts,
        "notice_url": NOTICE_URL,
        "consent_hash": consent_hash(policy),
        "purposes": banner_purposes(policy).map(describe).collect::<Vec<_>>(),
        // A widget's choice is kept in the banner's cookie with the terms it was made under, so
        // that the page asks again when they change, as the ledger does.
        "widgets": widget_purposes(policy)
            .map(|p| {
                let mut d = describe(p);
                d["terms"] = json!(p.consent_terms());
                d
            })
            .collect::<Vec<_>>(),
    })
}

fn banner_purposes(policy: &Policy) -> impl Iterator<Item = &Purpose> {
    policy
        .consent_purposes()
        .filter(|p| p.consent.as_ref().is_some_and(|c| c.banner))
}

/// Consent purposes asked for where their content sits (click-to-load), not in the banner.
pub fn widget_purposes(policy: &Policy) -> impl Iterator<Item = &Purpose> {
    policy.consent_purposes().filter(|p| {
        p.consent
            .as_ref()
            .is_some_and(|c| !c.banner && c.collected_via.iter().any(|v| v == "widget"))
    })
}

/// A hash over what a person agrees to in the banner: each banner purpose's id and its
/// [`Purpose::consent_terms`] (notice in every language, legal basis, categories, recipients,
/// cookies, GPC opt-out) — the same terms after which the ledger marks a choice `must_reask`.
/// The banner keeps it in its cookie and asks again when it changes; labels and other wording
/// may change freely.
pub fn consent_hash(policy: &Policy) -> String {
    let mut canon = String::from("custodian-consent-v2\n");
    for p in banner_purposes(policy) {
        canon.push_str(&format!("purpose {} {}\n", p.id, p.consent_terms()));
    }
    notice_hash(&canon)
}

/// The click-to-load button's verb when the policy's texts have no `load`.
fn load_word(lang: &str) -> &'static str {
    match lang.split('-').next().unwrap_or(lang) {
        "de" => "Laden",
        "fr" => "Charger",
        "es" => "Cargar",
        "it" => "Carica",
        "nl" => "Laden",
        _ => "Load",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_follow_the_visitor_then_fall_back() {
        let p = custodian_policy::example();
        assert_eq!(choose_language(&p, "de-AT,de;q=0.9,en"), "de");
        assert_eq!(choose_language(&p, "fr-FR, en-GB"), "en");
        assert_eq!(choose_language(&p, "ja"), "en");
        assert_eq!(choose_language(&p, ""), "en");
        assert_eq!(choose_language(&p, "DE"), "de");
    }

    #[test]
    fn the_document_holds_the_banner_purposes_in_one_language() {
        let p = custodian_policy::example();
        let doc = banner_document(&p, "de");
        assert_eq!(doc["lang"], "de");
        assert_eq!(doc["texts"]["accept_all"], "Alle akzeptieren");
        assert_eq!(doc["texts"]["load"], "Laden");
        let ids: Vec<&str> = doc["purposes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["marketing", "analytics", "advertising"]);
        let analytics = &doc["purposes"][1];
        assert_eq!(analytics["label"], "Statistik");
        let text = analytics["notice"].as_str().unwrap();
        assert_eq!(analytics["notice_hash"], notice_hash(text));
        assert_eq!(
            analytics["notice_hash"],
            notice_hash(p.notice_text("analytics", "de").unwrap())
        );
        assert!(analytics["cookies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "_ga_*"));
        assert_eq!(doc["purposes"][2]["gpc_opt_out"], true);
        assert_eq!(doc["widgets"][0]["id"], "social_widgets");
        assert_eq!(
            doc["widgets"][0]["terms"],
            p.purpose("social_widgets").unwrap().consent_terms()
        );
        assert!(doc["purposes"][0].get("terms").is_none());
        assert_eq!(doc["notice_url"], "/privacy");
        assert_eq!(doc["version"], p.policy.version.as_str());
    }

    #[test]
    fn the_consent_hash_changes_with_a_notice_but_not_with_a_label() {
        let p = custodian_policy::example();
        let base = consent_hash(&p);
        assert!(base.starts_with("sha256:"));
        assert_eq!(base, consent_hash(&p.clone()));

        let mut relabelled = p.clone();
        let a = relabelled
            .purposes
            .iter_mut()
            .find(|x| x.id == "analytics")
            .unwrap();
        a.consent
            .as_mut()
            .unwrap()
            .label
            .insert("en".into(), "Stats".into());
        assert_eq!(consent_hash(&relabelled), base);

        let mut renoticed = p.clone();
        let a = renoticed
            .purposes
            .iter_mut()
            .find(|x| x.id == "analytics")
            .unwrap();
        a.consent
            .as_mut()
            .unwrap()
            .notice
            .insert("de".into(), "Neu.".into());
        assert_ne!(consent_hash(&renoticed), base);

        let mut versioned = p.clone();
        versioned.policy.version = "2099-01-01".into();
        assert_eq!(
            consent_hash(&versioned),
            base,
            "a new version alone does not ask again"
        );
    }

    #[test]
    fn the_load_word_and_the_gpc_note_come_from_the_texts_with_fallbacks() {
        let mut p = custodian_policy::example();
        let de = p.texts.get_mut("de").unwrap();
        assert_eq!(
            de.load.as_deref(),
            Some("Laden"),
            "the example has the word"
        );
        de.load = Some("Anzeigen".into());
        let doc = banner_document(&p, "de");
        assert_eq!(doc["texts"]["load"], "Anzeigen");
        assert!(doc["texts"]["gpc_locked"]
            .as_str()
            .unwrap()
            .contains("Global-Privacy-Control"));

        let en = p.texts.get_mut("en").unwrap();
        en.load = None;
        en.gpc_locked = None;
        let doc = banner_document(&p, "en");
        assert_eq!(
            doc["texts"]["load"], "Load",
            "the old word when the policy has none"
        );
        assert_eq!(doc["texts"]["gpc_locked"], doc["texts"]["gpc_honoured"]);
    }

    /// The example with one change made to its analytics purpose.
    fn changed(edit: impl FnOnce(&mut Purpose)) -> Policy {
        let mut p = custodian_policy::example();
        edit(p.purposes.iter_mut().find(|x| x.id == "analytics").unwrap());
        p.policy.version = "2099-01-01".into();
        p
    }

    #[test]
    fn a_new_recipient_alone_asks_again_in_the_banner_and_the_ledger() {
        let old = custodian_policy::example();
        let new = changed(|a| a.recipients.push("social_networks".into()));
        assert_ne!(
            consent_hash(&new),
            consent_hash(&old),
            "the banner asks again"
        );
        assert_eq!(
            custodian_policy::diff::consent_purposes_changed(&old, &new),
            ["analytics"],
            "the ledger marks the choice must_reask"
        );
    }

    #[test]
    fn the_banner_and_the_ledger_agree_on_every_kind_of_change() {
        use custodian_policy::diff::consent_purposes_changed;
        use custodian_policy::LegalBasis;
        let old = custodian_policy::example();
        let cases: Vec<(&str, Policy)> = vec![
            (
                "recipient",
                changed(|a| a.recipients.push("social_networks".into())),
            ),
            (
                "category",
                changed(|a| a.categories.retain(|c| c != "keystrokes")),
            ),
            (
                "legal basis",
                changed(|a| a.legal_basis = LegalBasis::LegitimateInterest),
            ),
            (
                "cookie",
                changed(|a| a.consent.as_mut().unwrap().cookies.push("_hj*".into())),
            ),
            ("gpc", changed(|a| a.gpc_opt_out = true)),
            (
                "notice",
                changed(|a| {
                    a.consent
                        .as_mut()
                        .unwrap()
                        .notice
                        .insert("de".into(), "Neu.".into());
                }),
            ),
            (
                "label",
                changed(|a| {
                    a.consent
                        .as_mut()
                        .unwrap()
                        .label
                        .insert("en".into(), "Stats".into());
                }),
            ),
            ("name", changed(|a| a.name = "Statistics".into())),
            ("recipient order", changed(|a| a.recipients.reverse())),
            ("version only", changed(|_| {})),
        ];
        for (what, new) in cases {
            let banner = consent_hash(&new) != consent_hash(&old);
            // A purpose that stops being a consent purpose is no longer asked for at all: the
            // banner's list changes, and the ledger has nothing left to ask.
            let gone = new.purpose("analytics").is_some_and(|p| !p.is_consent());
            let ledger = gone || !consent_purposes_changed(&old, &new).is_empty();
            assert_eq!(
                banner, ledger,
                "{what}: banner asks again = {banner}, ledger = {ledger}"
            );
        }
    }
}
