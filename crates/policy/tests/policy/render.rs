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
