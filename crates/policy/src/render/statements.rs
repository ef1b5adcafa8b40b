//! What the `[notice]` section adds to the notice, each where a reader looks for it:
//! whether data must be given and what happens if it is not (GDPR Art. 13(2)(e)); automated
//! decisions and profiling (Art. 13(2)(f), 14(2)(g), 22; behavioural advertising is
//! profiling, Art. 4(4)); where data not obtained from the person comes from (Art. 14(2)(f));
//! how to obtain a copy of the transfer safeguards (Art. 13(1)(f), 14(1)(f)); and the cookie
//! table — name, purpose, lifetime (ePrivacy Directive Art. 5(3)).

use super::lang::L;
use super::notice::{category_names, heading, para};
use super::{text, Block};
use crate::model::*;

pub(super) fn requirements(p: &Policy, l: &L, b: &mut Vec<Block>) {
    let n = &p.notice;
    if n.requirements.is_empty() {
        return;
    }
    b.push(heading(
        2,
        l.t(
            "Do you have to give us your data?",
            "Müssen Sie uns Ihre Daten geben?",
        ),
        "requirements",
    ));
    b.push(para(l.t(
        "For these purposes the law or a contract needs your data (GDPR Art. 13(2)(e)); for all \
         others, giving it is up to you.",
        "Für diese Zwecke verlangen das Gesetz oder ein Vertrag Ihre Daten (Art. 13 Abs. 2 \
         lit. e DSGVO); bei allen anderen entscheiden Sie selbst, ob Sie sie angeben.",
    )));
    let rows = n
        .requirements
        .iter()
        .map(|r| {
            let names: Vec<&str> = r
                .purposes
                .iter()
                .map(|id| p.purpose(id).map_or(id.as_str(), |x| l.purpose_name(x)))
                .collect();
            let kind = match r.kind {
                RequirementKind::Statutory => l.t("Required by law", "Gesetzlich vorgeschrieben"),
                RequirementKind::Contractual => {
                    l.t("Required by our contract", "Vertraglich vorgeschrieben")
                }
                RequirementKind::ContractEntry => l.t(
                    "Needed to enter into a contract with us",
                    "Für einen Vertragsschluss mit uns erforderlich",
                ),
                RequirementKind::Voluntary => l.t("Voluntary", "Freiwillig"),
            };
            vec![
                vec![text(names.join("; "))],
                vec![text(kind)],
                vec![text(l.of(&r.consequence))],
            ]
        })
        .collect();
    b.push(Block::Table {
        caption: l
            .t(
                "Whether your data is required, and what happens without it",
                "Ob Ihre Daten erforderlich sind, und was ohne sie geschieht",
            )
            .into(),
        head: if l.de {
            ["Zwecke", "Erforderlich?", "Wenn Sie sie nicht angeben"]
        } else {
            ["Purposes", "Required?", "If you do not give it"]
        }
        .map(String::from)
        .to_vec(),
        rows,
    });
}

pub(super) fn automated(p: &Policy, l: &L, b: &mut Vec<Block>) {
    let n = &p.notice;
    if n.automated_decisions.is_none() && n.profiling.is_empty() {
        return;
    }
    b.push(heading(
        2,
        l.t(
            "Automated decisions and profiling",
            "Automatisierte Entscheidungen und Profiling",
        ),
        "automated-decisions",
    ));
    if let Some(t) = &n.automated_decisions {
        b.push(para(l.of(t)));
    }
    for prof in &n.profiling {
        let name = p
            .purpose(&prof.purpose)
            .map_or(prof.purpose.as_str(), |x| l.purpose_name(x));
        b.push(heading(
            3,
            &format!("{}: {name}", l.t("Profiling", "Profiling")),
            &format!("profiling-{}", prof.purpose.replace('_', "-")),
        ));
        b.push(Block::List(vec![
            vec![text(format!(
                "{} {}",
                l.t("How it works:", "Wie es funktioniert:"),
                l.of(&prof.logic)
            ))],
            vec![text(format!(
                "{} {}",
                l.t("What it means for you:", "Was es für Sie bedeutet:"),
                l.of(&prof.consequences)
            ))],
        ]));
    }
}

pub(super) fn sources(p: &Policy, l: &L, b: &mut Vec<Block>) {
    let n = &p.notice;
    if n.sources.is_empty() {
        return;
    }
    b.push(heading(
        2,
        l.t(
            "Data we get from others",
            "Daten, die wir von anderen erhalten",
        ),
        "sources",
    ));
    b.push(para(l.t(
        "Some data does not come from you (GDPR Art. 14(2)(f)):",
        "Manche Daten stammen nicht von Ihnen (Art. 14 Abs. 2 lit. f DSGVO):",
    )));
    let items = n
        .sources
        .iter()
        .map(|s| {
            let mut item = vec![text(format!(
                "{}: {}",
                category_names(p, l, &s.categories),
                l.of(&s.source)
            ))];
            if s.publicly_accessible {
                item.push(text(l.t(
                    " (a publicly accessible source)",
                    " (eine öffentlich zugängliche Quelle)",
                )));
            }
            item
        })
        .collect();
    b.push(Block::List(items));
}

/// Under the recipients table.
pub(super) fn safeguards_copy(p: &Policy, l: &L, b: &mut Vec<Block>) {
    if let Some(t) = &p.notice.safeguards_copy {
        b.push(Block::Para(vec![
            text(l.t("A copy of the safeguards: ", "Eine Kopie der Garantien: ")),
            text(l.of(t)),
        ]));
    }
}

pub(super) fn cookies(p: &Policy, l: &L, b: &mut Vec<Block>) {
    let lifetimes = &p.notice.cookie_lifetimes;
    let mut rows = Vec::new();
    for purpose in &p.purposes {
        let Some(consent) = &purpose.consent else {
            continue;
        };
        for cookie in &consent.cookies {
            let life = match lifetimes.get(cookie).map(String::as_str) {
                Some("session") => l
                    .t(
                        "Until you close the browser",
                        "Bis Sie den Browser schließen",
                    )
                    .to_string(),
                Some(iso) => l.duration(iso),
                None => String::new(),
            };
            rows.push(vec![
                vec![text(cookie)],
                vec![text(l.purpose_name(purpose))],
                vec![text(life)],
            ]);
        }
    }
    if rows.is_empty() {
        return;
    }
    b.push(heading(2, l.t("Cookies", "Cookies"), "cookies"));
    b.push(para(l.t(
        "These cookies are set only with your consent, and deleted when you withdraw it.",
        "Diese Cookies werden nur mit Ihrer Einwilligung gesetzt und gelöscht, wenn Sie sie widerrufen.",
    )));
    b.push(Block::Table {
        caption: l
            .t(
                "Cookies, their purpose and how long they live",
                "Cookies, ihr Zweck und ihre Lebensdauer",
            )
            .into(),
        head: if l.de {
            ["Cookie", "Zweck", "Lebensdauer"]
        } else {
            ["Cookie", "Purpose", "Lifetime"]
        }
        .map(String::from)
        .to_vec(),
        rows,
    });
}
