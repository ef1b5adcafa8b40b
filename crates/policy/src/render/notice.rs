//! What the notice says: every section a person needs (GDPR Art. 13 and 14), from the file.
//!
//! Nothing here knows Markdown or HTML; it produces blocks, and the wording. Sections appear
//! only when the file has something for them, so a smaller policy gives a shorter notice.

use super::words::{and_list, countries, country, date, weekdays};
use super::{link, text, Block, Inline, Inlines};
use crate::duration::{approx_days, parse_duration, words as duration_words};
use crate::model::*;

/// Where the privacy centre is served; the server mounts it at this path.
pub(super) const PRIVACY_CENTER: &str = "/privacy-center";

pub(super) fn title(p: &Policy) -> String {
    format!("Privacy notice — {}", p.policy.organisation)
}

pub(super) fn blocks(p: &Policy) -> Vec<Block> {
    let mut b = vec![heading(1, &title(p), "privacy-notice")];
    b.push(Block::Para(vec![text(format!(
        "Version {}, effective {}.",
        p.policy.version,
        date(&p.policy.effective_date)
    ))]));
    if let Some(summary) = &p.policy.summary {
        b.push(Block::Para(vec![text(summary.trim())]));
    }
    who_we_are(p, &mut b);
    processing(p, &mut b);
    data(p, &mut b);
    recipients(p, &mut b);
    regions(p, &mut b);
    retention(p, &mut b);
    rights(p, &mut b);
    deadlines(p, &mut b);
    children(p, &mut b);
    changes(p, &mut b);
    b
}

/// The second-level headings, for a table of contents.
pub(super) fn contents(blocks: &[Block]) -> Vec<(String, String)> {
    blocks
        .iter()
        .filter_map(|b| match b {
            Block::Heading {
                level: 2,
                text,
                anchor,
            } => Some((text.clone(), anchor.clone())),
            _ => None,
        })
        .collect()
}

fn heading(level: u8, t: &str, anchor: &str) -> Block {
    Block::Heading {
        level,
        text: t.to_string(),
        anchor: anchor.to_string(),
    }
}

fn para(s: impl Into<String>) -> Block {
    Block::Para(vec![text(s)])
}

fn mail(address: &str) -> Inline {
    link(address, format!("mailto:{address}"))
}

fn who_we_are(p: &Policy, b: &mut Vec<Block>) {
    b.push(heading(2, "Who we are", "who-we-are"));
    if !p.controllers.is_empty() {
        b.push(para(format!(
            "{} is made up of the following companies. They decide why and how your data is \
             used, so each is a controller of your data:",
            p.policy.organisation
        )));
        let items = p
            .controllers
            .iter()
            .map(|c| {
                let mut item = vec![text(format!("{} ({})", c.name, country(&c.country)))];
                if let Some(address) = &c.address {
                    item.push(text(format!(", {address}")));
                }
                if let Some(site) = &c.website {
                    item.extend([text(" — "), link(site, site)]);
                }
                item
            })
            .collect();
        b.push(Block::List(items));
    }
    let c = &p.contacts;
    let mut items: Vec<Inlines> = Vec::new();
    if let Some(dpo) = &c.dpo_email {
        items.push(vec![text("Our data protection officer: "), mail(dpo)]);
    }
    if let Some(support) = &c.support_email {
        items.push(vec![text("Customer support: "), mail(support)]);
    }
    if let Some(post) = &c.postal_address {
        items.push(vec![text(format!("By post: {post}"))]);
    }
    if !items.is_empty() {
        b.push(para("You can reach us here:"));
        b.push(Block::List(items));
    }
}

fn category_names(p: &Policy, ids: &[String]) -> String {
    let names: Vec<&str> = ids
        .iter()
        .map(|id| p.category(id).map_or(id.as_str(), |c| c.name.as_str()))
        .collect();
    and_list(&names)
}

fn processing(p: &Policy, b: &mut Vec<Block>) {
    if p.purposes.is_empty() {
        return;
    }
    b.push(heading(2, "What we do with your data, and why", "purposes"));
    b.push(para(
        "For each purpose, the table shows the data we use and the legal basis that allows it.",
    ));
    let rows = p
        .purposes
        .iter()
        .map(|purpose| {
            let basis = purpose.legal_basis;
            let mut basis_cell = vec![text(format!("{} ({})", basis.label(), basis.article()))];
            if let Some(interest) = &purpose.interest {
                basis_cell.extend([Inline::Break, text(format!("Our interest: {interest}"))]);
            }
            if purpose.is_consent() {
                basis_cell.extend([
                    Inline::Break,
                    text("You can withdraw your consent at any time."),
                ]);
            }
            vec![
                vec![text(&purpose.name)],
                vec![text(&purpose.description)],
                vec![text(category_names(p, &purpose.categories))],
                basis_cell,
            ]
        })
        .collect();
    b.push(Block::Table {
        caption: "Purposes, the data they use, and their legal basis".into(),
        head: ["Purpose", "What we do", "Data", "Legal basis"]
            .map(String::from)
            .to_vec(),
        rows,
    });
    if !p.prohibited.is_empty() {
        b.push(para("What we never do:"));
        let items = p
            .prohibited
            .iter()
            .map(|x| vec![text(&x.promise)])
            .collect();
        b.push(Block::List(dedup(items)));
    }
}

fn dedup(items: Vec<Inlines>) -> Vec<Inlines> {
    let mut out: Vec<Inlines> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn data(p: &Policy, b: &mut Vec<Block>) {
    if p.categories.is_empty() {
        return;
    }
    b.push(heading(2, "The data we hold", "data"));
    let rows = p
        .categories
        .iter()
        .map(|c| {
            let kind = match (c.personal, c.sensitive) {
                (false, _) => "Not personal: it does not identify you",
                (true, false) => "Personal",
                (true, true) => "Personal, handled with extra care",
            };
            vec![
                vec![text(&c.name)],
                vec![text(c.description.as_deref().unwrap_or(""))],
                vec![text(kind)],
            ]
        })
        .collect();
    b.push(Block::Table {
        caption: "Kinds of data".into(),
        head: ["Data", "What it is", "Personal data?"]
            .map(String::from)
            .to_vec(),
        rows,
    });
}

fn mechanism(m: &str) -> &'static str {
    match m {
        "adequacy" => "Adequacy decision (GDPR Art. 45)",
        "dpf" => "EU-US Data Privacy Framework (GDPR Art. 45)",
        "scc" => "Standard contractual clauses (GDPR Art. 46)",
        "bcr" => "Binding corporate rules (GDPR Art. 47)",
        "derogation" => "Specific situation allowed by GDPR Art. 49",
        _ => "None needed",
    }
}

fn recipients(p: &Policy, b: &mut Vec<Block>) {
    if p.recipients.is_empty() {
        return;
    }
    b.push(heading(2, "Who receives your data", "recipients"));
    b.push(para(
        "We share data only with the recipients below, only for the purposes listed, and with \
         the safeguard shown when it leaves Europe.",
    ));
    let rows = p
        .recipients
        .iter()
        .map(|r| {
            let mut who = vec![text(&r.name)];
            if let Some(d) = &r.description {
                who.extend([Inline::Break, text(d)]);
            }
            let purposes: Vec<&str> = p
                .purposes
                .iter()
                .filter(|x| x.recipients.contains(&r.id))
                .map(|x| x.name.as_str())
                .collect();
            let mut role = r.kind.label().to_string();
            if r.non_personal_only {
                role.push_str(", receives non-personal data only");
            }
            vec![
                who,
                vec![text(role)],
                // Purpose names often contain "and"; a semicolon keeps them apart.
                vec![text(purposes.join("; "))],
                vec![text(countries(&r.countries))],
                vec![text(mechanism(&r.transfer_mechanism))],
            ]
        })
        .collect();
    b.push(Block::Table {
        caption: "Recipients, where they are, and the transfer safeguard".into(),
        head: ["Recipient", "Role", "For", "Countries", "Safeguard"]
            .map(String::from)
            .to_vec(),
        rows,
    });
}

fn regions(p: &Policy, b: &mut Vec<Block>) {
    for region in &p.regions {
        let rules = &region.rules;
        let mut items: Vec<Inlines> = Vec::new();
        if !rules.truncate_ip_categories.is_empty() {
            items.push(vec![text(format!(
                "Your IP address is shortened before it is stored, so that it no longer \
                 identifies you ({}).",
                category_names(p, &rules.truncate_ip_categories)
            ))]);
        }
        if !rules.never_store_categories.is_empty() {
            items.push(vec![text(format!(
                "We never store or share: {}.",
                category_names(p, &rules.never_store_categories)
            ))]);
        }
        if rules.no_third_party_personal_data {
            items.push(vec![text(
                "Your personal data is never shared with third parties.",
            )]);
        }
        if let Some(residency) = &rules.residency {
            let mut same = residency.countries.clone();
            let mut region_countries = region.countries.clone();
            same.sort();
            region_countries.sort();
            items.push(vec![text(if same == region_countries {
                "We keep and process your personal data only in the countries above.".to_string()
            } else {
                format!(
                    "We keep and process your personal data only in these countries: {}.",
                    countries(&residency.countries)
                )
            })]);
        }
        if items.is_empty() {
            continue;
        }
        b.push(heading(
            2,
            &format!("If you are in {}", region.name),
            &format!("region-{}", region.id.replace('_', "-")),
        ));
        b.push(para(format!(
            "These rules apply when you are in {}:",
            countries(&region.countries)
        )));
        b.push(Block::List(items));
    }
}

/// `7 years after account closure`; a zero period reads `at withdrawal of consent`.
fn period(rule: &RetentionRule) -> String {
    let anchor = rule.anchor.label();
    match parse_duration(&rule.keep_for) {
        Ok(span) if approx_days(&span) == 0.0 => format!("Deleted at {anchor}"),
        _ => format!("{} after {anchor}", duration_words(&rule.keep_for)),
    }
}

fn retention(p: &Policy, b: &mut Vec<Block>) {
    if p.retention.is_empty() {
        return;
    }
    b.push(heading(2, "How long we keep your data", "retention"));
    let rows = p
        .retention
        .iter()
        .map(|rule| {
            let mut why = vec![text(&rule.description)];
            if rule.legal_hold {
                why.extend([
                    Inline::Break,
                    text("Kept longer while a legal hold (for example a dispute) requires it."),
                ]);
            }
            vec![
                vec![text(category_names(p, &rule.categories))],
                vec![text(period(rule))],
                why,
            ]
        })
        .collect();
    b.push(Block::Table {
        caption: "Retention periods".into(),
        head: ["Data", "Kept for", "Why"].map(String::from).to_vec(),
        rows,
    });
}

fn rights(p: &Policy, b: &mut Vec<Block>) {
    b.push(heading(2, "Your rights", "rights"));
    let rights = [
        "Access (GDPR Art. 15): get a copy of the data we hold about you.",
        "Rectification (Art. 16): have inaccurate or incomplete data corrected.",
        "Erasure (Art. 17): have your data deleted, the \"right to be forgotten\".",
        "Restriction (Art. 18): have us stop using your data while a question about it is settled.",
        "Objection (Art. 21): object to processing based on our legitimate interests, and to direct marketing at any time.",
        "Portability (Art. 20): receive the data you gave us in a machine-readable format, or have it sent to another company.",
        "Withdraw consent (Art. 7(3)): at any time, as easily as you gave it; processing before the withdrawal stays lawful.",
        "Complain (Art. 77) to a data protection authority, such as the one of the country where you live or work.",
    ];
    b.push(Block::List(rights.iter().map(|r| vec![text(*r)]).collect()));
    b.push(heading(
        3,
        "How to use your rights",
        "how-to-use-your-rights",
    ));
    let mut items: Vec<Inlines> = vec![vec![
        text("Open our "),
        link("privacy centre", PRIVACY_CENTER),
        text(
            " to see, download, correct or delete your data and to change your consents. We \
             confirm it is you with a code sent by e-mail before we show or change anything.",
        ),
    ]];
    if let Some(url) = &p.contacts.erasure_url {
        items.push(vec![
            text("Ask us to forget you, without signing in: "),
            link(url, url),
        ]);
    }
    let c = &p.contacts;
    let addresses: Vec<&String> = c.dpo_email.iter().chain(c.support_email.iter()).collect();
    if !addresses.is_empty() {
        let mut item = vec![text("Or write to ")];
        for (i, a) in addresses.iter().enumerate() {
            if i > 0 {
                item.push(text(" or "));
            }
            item.push(mail(a));
        }
        item.push(text("."));
        items.push(item);
    }
    let gpc: Vec<&str> = p
        .purposes
        .iter()
        .filter(|x| x.gpc_opt_out)
        .map(|x| x.name.as_str())
        .collect();
    if !gpc.is_empty() {
        items.push(vec![text(format!(
            "If your browser sends a Global Privacy Control signal, we treat it as your \
             objection to: {}.",
            and_list(&gpc)
        ))]);
    }
    b.push(Block::List(items));
}

fn deadlines(p: &Policy, b: &mut Vec<Block>) {
    let d = &p.deadlines;
    let cal = p.default_calendar();
    b.push(heading(2, "How quickly we answer", "deadlines"));
    b.push(para(format!(
        "We acknowledge your request within {} business hours ({}, {} to {}, {} time, except \
         public holidays) and answer within {}. If your request is complex, or you send many, we \
         may extend this by up to {}; we will tell you within the first period and explain why.",
        d.acknowledge_business_hours,
        weekdays(&cal.working_days),
        cal.opens,
        cal.closes,
        cal.time_zone,
        duration_words(&d.answer_within),
        duration_words(&d.extension_max),
    )));
    if d.jurisdictions.is_empty() {
        return;
    }
    let items = d
        .jurisdictions
        .iter()
        .map(|j| {
            let mut s = format!("{}: ", j.name);
            if let Some(days) = j.acknowledge_business_days {
                s.push_str(&format!("acknowledged within {days} business days, "));
            }
            s.push_str(&format!(
                "answered within {}, extendable by up to {}",
                duration_words(&j.answer_within),
                duration_words(&j.extension_max)
            ));
            if j.stop_clock_for_identity {
                s.push_str("; the time needed to confirm your identity is not counted");
            }
            s.push('.');
            vec![text(s)]
        })
        .collect();
    b.push(para(
        "Where the law of your country sets other deadlines, we keep them:",
    ));
    b.push(Block::List(items));
}

fn children(p: &Policy, b: &mut Vec<Block>) {
    let c = &p.children;
    b.push(heading(2, "Children", "children"));
    let mut s = format!(
        "We do not knowingly collect personal data from anyone under {}.",
        c.minimum_age
    );
    if !c.by_country.is_empty() {
        let list: Vec<String> = c
            .by_country
            .iter()
            .map(|(code, age)| format!("{} {age}", country(code)))
            .collect();
        s.push_str(&format!(
            " Where the law sets a higher age for consenting online, we use it: {}.",
            and_list(&list)
        ));
    }
    s.push_str(&format!(
        " If we learn that we hold data about a child under that age, we delete it within {}.",
        duration_words(&c.erase_within)
    ));
    let mut inlines = vec![text(s)];
    if let Some(dpo) = &p.contacts.dpo_email {
        inlines.extend([
            text(" If you think we might, please tell us at "),
            mail(dpo),
            text("."),
        ]);
    }
    b.push(Block::Para(inlines));
}

fn changes(p: &Policy, b: &mut Vec<Block>) {
    b.push(heading(2, "Changes to this notice", "changes"));
    b.push(para(
        "When we change this notice in a way that matters to you, we tell you by e-mail or with \
         a prominent notice on our sites before the change takes effect, and ask for your consent \
         again where the change concerns something you agreed to.",
    ));
    let mut inlines = vec![text(format!(
        "This is version {}, effective {}.",
        p.policy.version,
        date(&p.policy.effective_date)
    ))];
    if let Some(url) = &p.policy.url {
        inlines.extend([
            text(" The current notice is always at "),
            link(url, url),
            text("."),
        ]);
    }
    b.push(Block::Para(inlines));
}
