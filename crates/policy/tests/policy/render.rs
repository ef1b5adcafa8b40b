//! The notice for people: snapshots of the example, and escaping of hostile text.

use super::mutate;
use custodian_policy::{example, load, render};

#[test]
fn markdown_of_the_example() {
    insta::assert_snapshot!("notice_markdown", render::markdown(&example()));
}

#[test]
fn html_of_the_example() {
    insta::assert_snapshot!("notice_html", render::html(&example()));
}

#[test]
fn markdown_of_the_example_in_german() {
    insta::assert_snapshot!("notice_markdown_de", render::markdown_in(&example(), "de"));
}

#[test]
fn html_of_the_example_in_german() {
    let html = render::html_in(&example(), "de");
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"de\">"));
    insta::assert_snapshot!("notice_html_de", html);
}

/// GDPR Art. 13 and 14, item by item, in both languages: the statutory or contractual
/// requirement and its consequence (13(2)(e)), automated decisions and profiling (13(2)(f)),
/// sources (14(2)(f)), a copy of the safeguards (13(1)(f)), the cookie table, the
/// controllers' legal entities and addresses (13(1)(a)), and what restriction and objection
/// reach (18(2), 21(1)).
#[test]
fn the_notice_has_every_item_of_articles_13_and_14_in_both_languages() {
    let p = example();
    let en = render::markdown_in(&p, "en");
    for needle in [
        "Do you have to give us your data?",
        "Needed to enter into a contract with us",
        "without them we cannot open or run your account",
        "Required by law",
        "Automated decisions and profiling",
        "solely on automated processing",
        "Profiling: Behavioural advertising",
        "build a profile of your likely interests",
        "Data we get from others",
        "Our distributors and resellers",
        "A copy of the safeguards: For a copy of the standard contractual clauses",
        "| \\_ga | Website analytics | 2 years |",
        "| IDE | Behavioural advertising | 13 months |",
        "a brand of Focusrite Audio Engineering Ltd, Windsor House",
        "Only figures about groups of at least 10 people.",
        "While your data is restricted, we only do this with it (GDPR Art. 18(2)): Storage only and Legal claims.",
        "You can object to these purposes",
        "we delete it within 24 hours, without waiting to be asked",
    ] {
        assert!(en.contains(needle), "English notice lacks `{needle}`");
    }
    let de = render::markdown_in(&p, "de");
    for needle in [
        "Datenschutzhinweis — Focusrite Group",
        "Müssen Sie uns Ihre Daten geben?",
        "Für einen Vertragsschluss mit uns erforderlich",
        "ohne sie können wir Ihr Konto nicht eröffnen",
        "Gesetzlich vorgeschrieben",
        "Automatisierte Entscheidungen und Profiling",
        "ausschließlich auf einer automatisierten Verarbeitung",
        "Unsere Werbepartner erstellen",
        "Daten, die wir von anderen erhalten",
        "Unsere Vertriebspartner und Händler",
        "Eine Kopie der Garantien: Eine Kopie der Standardvertragsklauseln",
        "| \\_ga | Website-Statistik | 2 Jahre |",
        "eine Marke der Focusrite Audio Engineering Ltd",
        "Art. 6 Abs. 1 lit. a DSGVO",
        "Nur Angaben über Gruppen von mindestens 10 Personen.",
        "Art. 18 Abs. 2 DSGVO",
        "Deutschland 16",
        "25. Mai 2018",
        "7 Jahre ab der Schließung des Kontos",
        // The policy's own texts, from [translations.de] (Art. 12(1)).
        "Dieser Hinweis erklärt, welche Informationen die Focusrite Group erhebt",
        "| Marketing-Mitteilungen | Wir informieren Sie per E-Mail und Post",
        "Unser Interesse: Um Ihre Anfrage zu beantworten",
        "| Daten der Website-Nutzer | Name, E-Mail-Adresse, Telefonnummer",
        "Werbepartner<br>Partner, die unsere Werbung hier und auf anderen Seiten zeigen.",
        "## Wenn Sie in Europa (EWR, Vereinigtes Königreich und Schweiz) sind",
        "Server-Protokolle werden 90 Tage gespeichert.",
        "Focusrite vermietet oder verkauft Ihre personenbezogenen Daten nicht an Dritte.",
        "Nur Speicherung und Rechtsansprüche.",
    ] {
        assert!(de.contains(needle), "German notice lacks `{needle}`");
    }
    // Nothing of the policy's own English is left in the German notice.
    for english in [
        "This notice explains",
        "Marketing communications",
        "Keeping you informed",
        "Website user data",
        "Our advertising partners use cookies",
        "Europe (EEA",
        "Server logs are kept",
        "will not rent or sell",
        "Storage only",
    ] {
        assert!(
            !de.contains(english),
            "German notice still says `{english}`"
        );
    }
}

/// Texts that promise what the rules cannot keep are warned about, located.
#[test]
fn promises_the_rules_cannot_keep_are_warned_about() {
    use custodian_policy::EXAMPLE_POLICY;
    let p = example();
    assert!(
        custodian_policy::warnings("policy.toml", EXAMPLE_POLICY, &p).is_empty(),
        "{:?}",
        custodian_policy::warnings("policy.toml", EXAMPLE_POLICY, &p)
    );
    let text = mutate("min_group = 10\n\n[[purposes]]", "\n[[purposes]]");
    let p = load("policy.toml", &text).unwrap();
    let w = custodian_policy::warnings("policy.toml", &text, &p);
    // The English text and its German translation both promise it.
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].message.contains("at least 10 people") && w[0].message.contains("min_group"));
    assert_eq!(w[0].path, "purposes[16].interest");
    assert_eq!(
        (w[0].line, w[0].column),
        crate::position(&text, "\"Helping partners build")
    );
    assert_eq!(
        w[1].path,
        "translations.de.purposes.aggregate_sharing.interest"
    );
    let text = mutate(
        "Survey answers are kept for 2 years.",
        "Survey answers are deleted within 30 days.",
    );
    let p = load("policy.toml", &text).unwrap();
    let w = custodian_policy::warnings("policy.toml", &text, &p);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].message.contains("within 30 days") && w[0].message.contains("2 years"),
        "{}",
        w[0].message
    );
    assert!(w[0].path.starts_with("retention["), "{}", w[0].path);
}

#[test]
fn the_notice_says_what_people_need() {
    let md = render::markdown(&example());
    for needle in [
        "Focusrite Audio Engineering Ltd",
        "dpo@focusrite.com",
        "GDPR Art. 6(1)(a)",
        "Our interest: ",
        "7 years after account closure",
        "Deleted at withdrawal of consent",
        "Standard contractual clauses",
        "Your IP address is shortened",
        "never shared with third parties",
        "Portability",
        "Complain",
        "/privacy-center",
        "72 business hours",
        "1 month",
        "up to 2 months",
        "under 13",
        "Germany 16",
        "25 May 2018",
    ] {
        assert!(md.contains(needle), "markdown lacks `{needle}`");
    }
}

#[test]
fn html_escapes_everything_from_the_file() {
    let text = mutate(
        "organisation = \"Focusrite Group\"",
        "organisation = \"<script>alert('x')</script> & Co\"",
    )
    .replace(
        "url = \"https://focusrite.com/privacy-policy\"",
        "url = \"javascript:alert(1)\"",
    )
    .replace(
        "name = \"Website user data\"",
        "name = \"<img src=x onerror=alert(1)>\"",
    );
    let policy = load("p.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let html = render::html(&policy);
    assert!(!html.contains("<script"), "raw script tag");
    assert!(!html.contains("<img"), "raw img tag");
    assert!(!html.contains("href=\"javascript:"), "unsafe link kept");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"));
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    let md = render::markdown(&policy);
    let unescaped = md.replace("\\<", "").replace("<br>", "").replace("](<", "");
    assert!(!unescaped.contains('<'), "unescaped markup in markdown");
    assert!(!md.contains("](<javascript"));
}
