//! What the notice says: every section a person needs (GDPR Art. 13 and 14), from the file,
//! in English or German (`lang.rs`).
//!
//! Nothing here knows Markdown or HTML; it produces blocks, and the wording. Sections appear
//! only when the file has something for them, so a smaller policy gives a shorter notice.
//! This file writes who we are, the processing, the data, the recipients, the regions and
//! retention; `people.rs` the rights, deadlines, children and changes; `statements.rs` what
//! the `[notice]` section adds (Art. 13(2)(e)/(f), 14(2)(f), safeguard copies, cookies).

use super::lang::L;
use super::{link, people, statements, text, Block, Inline, Inlines};
use crate::duration::{approx_days, parse_duration};
use crate::model::*;

/// Where the privacy centre is served; the server mounts it at this path.
pub(super) const PRIVACY_CENTER: &str = "/privacy-center";

pub(super) fn title(p: &Policy, l: &L) -> String {
    format!(
        "{} — {}",
        l.t("Privacy notice", "Datenschutzhinweis"),
        p.policy.organisation
    )
}

pub(super) fn blocks(p: &Policy, l: &L) -> Vec<Block> {
    let mut b = vec![heading(1, &title(p, l), "privacy-notice")];
    b.push(Block::Para(vec![text(format!(
        "{} {}, {} {}.",
        l.t("Version", "Version"),
        p.policy.version,
        l.t("effective", "gültig ab"),
        l.date(&p.policy.effective_date)
    ))]));
    if let Some(summary) = &p.policy.summary {
        b.push(Block::Para(vec![text(l.summary(summary).trim())]));
    }
    who_we_are(p, l, &mut b);
    processing(p, l, &mut b);
    statements::requirements(p, l, &mut b);
    statements::automated(p, l, &mut b);
    data(p, l, &mut b);
    statements::sources(p, l, &mut b);
    recipients(p, l, &mut b);
    statements::cookies(p, l, &mut b);
    regions(p, l, &mut b);
    retention(p, l, &mut b);
    people::rights(p, l, &mut b);
    people::deadlines(p, l, &mut b);
    people::children(p, l, &mut b);
    people::changes(p, l, &mut b);
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

pub(super) fn heading(level: u8, t: &str, anchor: &str) -> Block {
    Block::Heading {
        level,
        text: t.to_string(),
        anchor: anchor.to_string(),
    }
}

pub(super) fn para(s: impl Into<String>) -> Block {
    Block::Para(vec![text(s)])
}

pub(super) fn mail(address: &str) -> Inline {
    link(address, format!("mailto:{address}"))
}

fn who_we_are(p: &Policy, l: &L, b: &mut Vec<Block>) {
    b.push(heading(2, l.t("Who we are", "Wer wir sind"), "who-we-are"));
    if !p.controllers.is_empty() {
        b.push(para(if l.de {
            format!(
                "{} besteht aus den folgenden Unternehmen. Sie entscheiden, warum und wie Ihre \
                 Daten verwendet werden; jedes ist daher Verantwortlicher für Ihre Daten \
                 (Art. 4 Nr. 7 DSGVO):",
                p.policy.organisation
            )
        } else {
            format!(
                "{} is made up of the following companies. They decide why and how your data \
                 is used, so each is a controller of your data (GDPR Art. 4(7)):",
                p.policy.organisation
            )
        }));
        let items = p
            .controllers
            .iter()
            .map(|c| {
                let mut item = vec![text(format!("{} ({})", c.name, l.country(&c.country)))];
                if let Some(entity) = c.legal_entity.as_ref().filter(|e| **e != c.name) {
                    item.push(text(format!(
                        ", {} {entity}",
                        l.t("a brand of", "eine Marke der")
                    )));
                }
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
        items.push(vec![
            text(l.t(
                "Our data protection officer: ",
                "Unser Datenschutzbeauftragter: ",
            )),
            mail(dpo),
        ]);
    }
    if let Some(support) = &c.support_email {
        items.push(vec![
            text(l.t("Customer support: ", "Kundendienst: ")),
            mail(support),
        ]);
    }
    if let Some(post) = &c.postal_address {
        items.push(vec![text(format!(
            "{}{post}",
            l.t("By post: ", "Per Post: ")
        ))]);
    }
    if !items.is_empty() {
        b.push(para(l.t("You can reach us here:", "So erreichen Sie uns:")));
        b.push(Block::List(items));
    }
}

pub(super) fn category_names(p: &Policy, l: &L, ids: &[String]) -> String {
    let names: Vec<&str> = ids
        .iter()
        .map(|id| p.category(id).map_or(id.as_str(), |c| l.category_name(c)))
        .collect();
    l.and_list(&names)
}

fn basis_label(basis: LegalBasis, l: &L) -> String {
    if !l.de {
        return format!("{} ({})", basis.label(), basis.article());
    }
    let (label, letter) = match basis {
        LegalBasis::Consent => ("Einwilligung", "a"),
        LegalBasis::Contract => ("Erfüllung eines Vertrags", "b"),
        LegalBasis::LegalObligation => ("Erfüllung einer rechtlichen Verpflichtung", "c"),
        LegalBasis::VitalInterest => ("Lebenswichtige Interessen", "d"),
        LegalBasis::PublicTask => ("Öffentliche Aufgabe", "e"),
        LegalBasis::LegitimateInterest => ("Berechtigtes Interesse", "f"),
    };
    format!("{label} (Art. 6 Abs. 1 lit. {letter} DSGVO)")
}

// Kept whole: the processing table, cell by cell in column order, in both languages.
fn processing(p: &Policy, l: &L, b: &mut Vec<Block>) {
    if p.purposes.is_empty() {
        return;
    }
    b.push(heading(
        2,
        l.t(
            "What we do with your data, and why",
            "Was wir mit Ihren Daten tun, und warum",
        ),
        "purposes",
    ));
    b.push(para(l.t(
        "For each purpose, the table shows the data we use and the legal basis that allows it.",
        "Die Tabelle zeigt für jeden Zweck die Daten, die wir verwenden, und die Rechtsgrundlage, die es erlaubt.",
    )));
    let rows = p
        .purposes
        .iter()
        .map(|purpose| {
            let mut basis_cell = vec![text(basis_label(purpose.legal_basis, l))];
            if let Some(interest) = &purpose.interest {
                let interest = l.own("purposes", &purpose.id, "interest", interest);
                basis_cell.extend([
                    Inline::Break,
                    text(format!(
                        "{}{interest}",
                        l.t("Our interest: ", "Unser Interesse: ")
                    )),
                ]);
            }
            if purpose.is_consent() {
                basis_cell.extend([
                    Inline::Break,
                    text(l.t(
                        "You can withdraw your consent at any time.",
                        "Sie können Ihre Einwilligung jederzeit widerrufen.",
                    )),
                ]);
            }
            if let Some(min) = purpose.min_group {
                basis_cell.extend([
                    Inline::Break,
                    text(if l.de {
                        format!("Nur Angaben über Gruppen von mindestens {min} Personen.")
                    } else {
                        format!("Only figures about groups of at least {min} people.")
                    }),
                ]);
            }
            vec![
                vec![text(l.purpose_name(purpose))],
                vec![text(l.own(
                    "purposes",
                    &purpose.id,
                    "description",
                    &purpose.description,
                ))],
                vec![text(category_names(p, l, &purpose.categories))],
                basis_cell,
            ]
        })
        .collect();
    b.push(Block::Table {
        caption: l
            .t(
                "Purposes, the data they use, and their legal basis",
                "Zwecke, die verwendeten Daten und ihre Rechtsgrundlage",
            )
            .into(),
        head: if l.de {
            ["Zweck", "Was wir tun", "Daten", "Rechtsgrundlage"]
        } else {
            ["Purpose", "What we do", "Data", "Legal basis"]
        }
        .map(String::from)
        .to_vec(),
        rows,
    });
    if !p.prohibited.is_empty() {
        b.push(para(l.t("What we never do:", "Was wir nie tun:")));
        let items = p
            .prohibited
            .iter()
            .map(|x| vec![text(l.own("prohibited", &x.id, "promise", &x.promise))])
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

fn data(p: &Policy, l: &L, b: &mut Vec<Block>) {
    if p.categories.is_empty() {
        return;
    }
    b.push(heading(
        2,
        l.t("The data we hold", "Die Daten, die wir haben"),
        "data",
    ));
    let rows = p
        .categories
        .iter()
        .map(|c| {
            let kind = match (c.personal, c.sensitive) {
                (false, _) => l.t(
                    "Not personal: it does not identify you",
                    "Nicht personenbezogen: sie identifizieren Sie nicht",
                ),
                (true, false) => l.t("Personal", "Personenbezogen"),
                (true, true) => l.t(
                    "Personal, handled with extra care",
                    "Personenbezogen, mit besonderer Sorgfalt behandelt",
                ),
            };
            vec![
                vec![text(l.category_name(c))],
                vec![text(l.own(
                    "categories",
                    &c.id,
                    "description",
                    c.description.as_deref().unwrap_or(""),
                ))],
                vec![text(kind)],
            ]
        })
        .collect();
    b.push(Block::Table {
        caption: l.t("Kinds of data", "Arten von Daten").into(),
        head: if l.de {
            ["Daten", "Was sie sind", "Personenbezogen?"]
        } else {
            ["Data", "What it is", "Personal data?"]
        }
        .map(String::from)
        .to_vec(),
        rows,
    });
}

fn mechanism(m: &str, l: &L) -> &'static str {
    match m {
        "adequacy" => l.t(
            "Adequacy decision (GDPR Art. 45)",
            "Angemessenheitsbeschluss (Art. 45 DSGVO)",
        ),
        "dpf" => l.t(
            "EU-US Data Privacy Framework (GDPR Art. 45)",
            "EU-US Data Privacy Framework (Art. 45 DSGVO)",
        ),
        "scc" => l.t(
            "Standard contractual clauses (GDPR Art. 46)",
            "Standardvertragsklauseln (Art. 46 DSGVO)",
        ),
        "bcr" => l.t(
            "Binding corporate rules (GDPR Art. 47)",
            "Verbindliche interne Datenschutzvorschriften (Art. 47 DSGVO)",
        ),
        "derogation" => l.t(
            "Specific situation allowed by GDPR Art. 49",
            "Ausnahme für bestimmte Fälle (Art. 49 DSGVO)",
        ),
        _ => l.t("None needed", "Nicht erforderlich"),
    }
}

fn recipients(p: &Policy, l: &L, b: &mut Vec<Block>) {
    if p.recipients.is_empty() {
        return;
    }
    b.push(heading(
        2,
        l.t("Who receives your data", "Wer Ihre Daten erhält"),
        "recipients",
    ));
    b.push(para(l.t(
        "We share data only with the recipients below, only for the purposes listed, and with \
         the safeguard shown when it leaves Europe.",
        "Wir geben Daten nur an die folgenden Empfänger weiter, nur für die genannten Zwecke \
         und, wenn sie Europa verlassen, mit der angegebenen Garantie.",
    )));
    let rows = p
        .recipients
        .iter()
        .map(|r| {
            let mut who = vec![text(l.own("recipients", &r.id, "name", &r.name))];
            if let Some(d) = &r.description {
                who.extend([
                    Inline::Break,
                    text(l.own("recipients", &r.id, "description", d)),
                ]);
            }
            let purposes: Vec<&str> = p
                .purposes
                .iter()
                .filter(|x| x.recipients.contains(&r.id))
                .map(|x| l.purpose_name(x))
                .collect();
            let mut role = role(r.kind, l).to_string();
            if r.non_personal_only {
                role.push_str(l.t(
                    ", receives non-personal data only",
                    ", erhält nur nicht personenbezogene Daten",
                ));
            }
            vec![
                who,
                vec![text(role)],
                // Purpose names often contain "and"; a semicolon keeps them apart.
                vec![text(purposes.join("; "))],
                vec![text(l.countries(&r.countries))],
                vec![text(mechanism(&r.transfer_mechanism, l))],
            ]
        })
        .collect();
    b.push(Block::Table {
        caption: l
            .t(
                "Recipients, where they are, and the transfer safeguard",
                "Empfänger, ihr Sitz und die Garantie für die Übermittlung",
            )
            .into(),
        head: if l.de {
            ["Empfänger", "Rolle", "Für", "Länder", "Garantie"]
        } else {
            ["Recipient", "Role", "For", "Countries", "Safeguard"]
        }
        .map(String::from)
        .to_vec(),
        rows,
    });
    statements::safeguards_copy(p, l, b);
}

fn role(kind: RecipientKind, l: &L) -> &'static str {
    if !l.de {
        return kind.label();
    }
    match kind {
        RecipientKind::Processor => "Auftragsverarbeiter",
        RecipientKind::Affiliate => "Konzernunternehmen",
        RecipientKind::ThirdParty => "Dritter",
        RecipientKind::Authority => "Behörde",
    }
}

fn regions(p: &Policy, l: &L, b: &mut Vec<Block>) {
    for region in &p.regions {
        let rules = &region.rules;
        let mut items: Vec<Inlines> = Vec::new();
        if !rules.truncate_ip_categories.is_empty() {
            let names = category_names(p, l, &rules.truncate_ip_categories);
            items.push(vec![text(if l.de {
                format!("Ihre IP-Adresse wird vor dem Speichern gekürzt, sodass sie Sie nicht mehr identifiziert ({names}).")
            } else {
                format!("Your IP address is shortened before it is stored, so that it no longer identifies you ({names}).")
            })]);
        }
        if !rules.never_store_categories.is_empty() {
            items.push(vec![text(format!(
                "{} {}.",
                l.t(
                    "We never store or share:",
                    "Wir speichern und teilen niemals:"
                ),
                category_names(p, l, &rules.never_store_categories)
            ))]);
        }
        if rules.no_third_party_personal_data {
            items.push(vec![text(l.t(
                "Your personal data is never shared with third parties.",
                "Ihre personenbezogenen Daten werden nie an Dritte weitergegeben.",
            ))]);
        }
        if let Some(residency) = &rules.residency {
            let mut same = residency.countries.clone();
            let mut region_countries = region.countries.clone();
            same.sort();
            region_countries.sort();
            items.push(vec![text(if same == region_countries {
                l.t(
                    "We keep and process your personal data only in the countries above.",
                    "Wir speichern und verarbeiten Ihre personenbezogenen Daten nur in den oben genannten Ländern.",
                )
                .to_string()
            } else {
                format!(
                    "{} {}.",
                    l.t(
                        "We keep and process your personal data only in these countries:",
                        "Wir speichern und verarbeiten Ihre personenbezogenen Daten nur in diesen Ländern:"
                    ),
                    l.countries(&residency.countries)
                )
            })]);
        }
        if items.is_empty() {
            continue;
        }
        b.push(heading(
            2,
            &format!(
                "{} {}{}",
                l.t("If you are in", "Wenn Sie in"),
                l.own("regions", &region.id, "name", &region.name),
                l.t("", " sind")
            ),
            &format!("region-{}", region.id.replace('_', "-")),
        ));
        b.push(para(if l.de {
            format!(
                "Diese Regeln gelten, wenn Sie in einem dieser Länder sind: {}.",
                l.countries(&region.countries)
            )
        } else {
            format!(
                "These rules apply when you are in {}:",
                l.countries(&region.countries)
            )
        }));
        b.push(Block::List(items));
    }
}

/// `7 years after account closure`; a zero period reads `at withdrawal of consent`.
fn period(rule: &RetentionRule, l: &L) -> String {
    let anchor = if l.de {
        match rule.anchor {
            RetentionAnchor::Collected => "der Erhebung",
            RetentionAnchor::AccountClosed => "der Schließung des Kontos",
            RetentionAnchor::LastActivity => "der letzten Aktivität",
            RetentionAnchor::Purchase => "dem Kauf",
            RetentionAnchor::ConsentWithdrawn => "dem Widerruf der Einwilligung",
        }
    } else {
        rule.anchor.label()
    };
    match parse_duration(&rule.keep_for) {
        Ok(span) if approx_days(&span) == 0.0 => {
            format!("{} {anchor}", l.t("Deleted at", "Gelöscht bei"))
        }
        _ if l.de => format!("{} ab {anchor}", l.duration(&rule.keep_for)),
        _ => format!("{} after {anchor}", l.duration(&rule.keep_for)),
    }
}

fn retention(p: &Policy, l: &L, b: &mut Vec<Block>) {
    if p.retention.is_empty() {
        return;
    }
    b.push(heading(
        2,
        l.t(
            "How long we keep your data",
            "Wie lange wir Ihre Daten speichern",
        ),
        "retention",
    ));
    let rows = p
        .retention
        .iter()
        .map(|rule| {
            let mut why = vec![text(l.own(
                "retention",
                &rule.id,
                "description",
                &rule.description,
            ))];
            if rule.legal_hold {
                why.extend([
                    Inline::Break,
                    text(l.t(
                        "Kept longer while a legal hold (for example a dispute) requires it.",
                        "Länger gespeichert, solange eine rechtliche Sperre (zum Beispiel ein Rechtsstreit) es verlangt.",
                    )),
                ]);
            }
            vec![
                vec![text(category_names(p, l, &rule.categories))],
                vec![text(period(rule, l))],
                why,
            ]
        })
        .collect();
    b.push(Block::Table {
        caption: l.t("Retention periods", "Speicherfristen").into(),
        head: if l.de {
            ["Daten", "Gespeichert für", "Warum"]
        } else {
            ["Data", "Kept for", "Why"]
        }
        .map(String::from)
        .to_vec(),
        rows,
    });
}
