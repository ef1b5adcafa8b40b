//! The notice's sections about the person: their rights and how to use them (GDPR Art. 15–22,
//! 7(3), 77), how quickly we answer (Art. 12(3)), children (Art. 8) and changes to the notice.

use super::lang::L;
use super::notice::{heading, mail, para, PRIVACY_CENTER};
use super::{link, text, Block, Inlines};
use crate::model::*;

pub(super) fn rights(p: &Policy, l: &L, b: &mut Vec<Block>) {
    b.push(heading(2, l.t("Your rights", "Ihre Rechte"), "rights"));
    let rights: [&str; 8] = if l.de {
        [
            "Auskunft (Art. 15 DSGVO): eine Kopie der Daten erhalten, die wir über Sie haben.",
            "Berichtigung (Art. 16): unrichtige oder unvollständige Daten korrigieren lassen.",
            "Löschung (Art. 17): Ihre Daten löschen lassen, das \"Recht auf Vergessenwerden\".",
            "Einschränkung (Art. 18): uns Ihre Daten nur noch speichern lassen, solange eine Frage dazu geklärt wird.",
            "Widerspruch (Art. 21): der Verarbeitung aufgrund unserer berechtigten Interessen widersprechen, und der Direktwerbung jederzeit.",
            "Datenübertragbarkeit (Art. 20): die Daten, die Sie uns gegeben haben, in einem maschinenlesbaren Format erhalten oder an ein anderes Unternehmen senden lassen.",
            "Einwilligung widerrufen (Art. 7 Abs. 3): jederzeit, so einfach wie Sie sie gegeben haben; die Verarbeitung vor dem Widerruf bleibt rechtmäßig.",
            "Beschwerde (Art. 77) bei einer Datenschutzaufsichtsbehörde, etwa der des Landes, in dem Sie leben oder arbeiten.",
        ]
    } else {
        [
            "Access (GDPR Art. 15): get a copy of the data we hold about you.",
            "Rectification (Art. 16): have inaccurate or incomplete data corrected.",
            "Erasure (Art. 17): have your data deleted, the \"right to be forgotten\".",
            "Restriction (Art. 18): have us stop using your data while a question about it is settled.",
            "Objection (Art. 21): object to processing based on our legitimate interests, and to direct marketing at any time.",
            "Portability (Art. 20): receive the data you gave us in a machine-readable format, or have it sent to another company.",
            "Withdraw consent (Art. 7(3)): at any time, as easily as you gave it; processing before the withdrawal stays lawful.",
            "Complain (Art. 77) to a data protection authority, such as the one of the country where you live or work.",
        ]
    };
    b.push(Block::List(rights.iter().map(|r| vec![text(*r)]).collect()));
    let continues: Vec<&str> = p
        .rights
        .restriction
        .continues
        .iter()
        .filter_map(|id| p.purpose(id).map(|x| l.purpose_name(x)))
        .collect();
    if !continues.is_empty() {
        b.push(para(format!(
            "{} {}.",
            l.t(
                "While your data is restricted, we only do this with it (GDPR Art. 18(2)):",
                "Solange Ihre Daten eingeschränkt sind, tun wir damit nur Folgendes (Art. 18 Abs. 2 DSGVO):"
            ),
            l.and_list(&continues)
        )));
    }
    let reaches: Vec<&str> = p
        .rights
        .objection
        .reaches
        .iter()
        .filter_map(|id| p.purpose(id).map(|x| l.purpose_name(x)))
        .collect();
    if !reaches.is_empty() {
        b.push(para(format!(
            "{} {}.",
            l.t(
                "You can object to these purposes, and name which when you do:",
                "Sie können diesen Zwecken widersprechen und dabei angeben, welchen:"
            ),
            l.and_list(&reaches)
        )));
    }
    b.push(heading(
        3,
        l.t("How to use your rights", "So nutzen Sie Ihre Rechte"),
        "how-to-use-your-rights",
    ));
    let mut items: Vec<Inlines> = vec![vec![
        text(l.t("Open our ", "Öffnen Sie unser ")),
        link(l.t("privacy centre", "Datenschutzcenter"), PRIVACY_CENTER),
        text(l.t(
            " to see, download, correct or delete your data and to change your consents. We \
             confirm it is you with a code sent by e-mail before we show or change anything.",
            ", um Ihre Daten einzusehen, herunterzuladen, zu berichtigen oder zu löschen und Ihre \
             Einwilligungen zu ändern. Bevor wir etwas zeigen oder ändern, bestätigen wir mit \
             einem per E-Mail gesendeten Code, dass Sie es sind.",
        )),
    ]];
    if let Some(url) = &p.contacts.erasure_url {
        items.push(vec![
            text(l.t(
                "Ask us to forget you, without signing in: ",
                "Bitten Sie uns ohne Anmeldung, Sie zu vergessen: ",
            )),
            link(url, url),
        ]);
    }
    let c = &p.contacts;
    let addresses: Vec<&String> = c.dpo_email.iter().chain(c.support_email.iter()).collect();
    if !addresses.is_empty() {
        let mut item = vec![text(l.t("Or write to ", "Oder schreiben Sie an "))];
        for (i, a) in addresses.iter().enumerate() {
            if i > 0 {
                item.push(text(l.t(" or ", " oder ")));
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
        .map(|x| l.purpose_name(x))
        .collect();
    if !gpc.is_empty() {
        items.push(vec![text(format!(
            "{} {}.",
            l.t(
                "If your browser sends a Global Privacy Control signal, we treat it as your objection to:",
                "Sendet Ihr Browser ein Global-Privacy-Control-Signal, behandeln wir es als Ihren Widerspruch gegen:"
            ),
            l.and_list(&gpc)
        ))]);
    }
    b.push(Block::List(items));
}

pub(super) fn deadlines(p: &Policy, l: &L, b: &mut Vec<Block>) {
    let d = &p.deadlines;
    let cal = p.default_calendar();
    b.push(heading(
        2,
        l.t("How quickly we answer", "Wie schnell wir antworten"),
        "deadlines",
    ));
    b.push(para(if l.de {
        format!(
            "Wir bestätigen Ihre Anfrage innerhalb von {} Geschäftsstunden ({}, {} bis {} Uhr, \
             Zeitzone {}, außer an Feiertagen). Antwortfrist: {}. Ist Ihre Anfrage komplex oder \
             stellen Sie viele, können wir die Frist um höchstens {} verlängern; das sagen wir \
             Ihnen innerhalb der ersten Frist, mit den Gründen.",
            d.acknowledge_business_hours,
            l.weekdays(&cal.working_days),
            cal.opens,
            cal.closes,
            cal.time_zone,
            l.duration(&d.answer_within),
            l.duration(&d.extension_max),
        )
    } else {
        format!(
            "We acknowledge your request within {} business hours ({}, {} to {}, {} time, except \
             public holidays) and answer within {}. If your request is complex, or you send many, we \
             may extend this by up to {}; we will tell you within the first period and explain why.",
            d.acknowledge_business_hours,
            l.weekdays(&cal.working_days),
            cal.opens,
            cal.closes,
            cal.time_zone,
            l.duration(&d.answer_within),
            l.duration(&d.extension_max),
        )
    }));
    if d.jurisdictions.is_empty() {
        return;
    }
    let items = d
        .jurisdictions
        .iter()
        .map(|j| {
            let mut s = format!("{}: ", j.name);
            if let Some(days) = j.acknowledge_business_days {
                s.push_str(&if l.de {
                    format!("Bestätigung innerhalb von {days} Geschäftstagen, ")
                } else {
                    format!("acknowledged within {days} business days, ")
                });
            }
            s.push_str(&if l.de {
                format!(
                    "Antwortfrist {}, verlängerbar um höchstens {}",
                    l.duration(&j.answer_within),
                    l.duration(&j.extension_max)
                )
            } else {
                format!(
                    "answered within {}, extendable by up to {}",
                    l.duration(&j.answer_within),
                    l.duration(&j.extension_max)
                )
            });
            if j.stop_clock_for_identity {
                s.push_str(l.t(
                    "; the time needed to confirm your identity is not counted",
                    "; die Zeit, um Ihre Identität zu bestätigen, zählt nicht mit",
                ));
            }
            s.push('.');
            vec![text(s)]
        })
        .collect();
    b.push(para(l.t(
        "Where the law of your country sets other deadlines, we keep them:",
        "Wo das Recht Ihres Landes andere Fristen setzt, halten wir sie ein:",
    )));
    b.push(Block::List(items));
}

pub(super) fn children(p: &Policy, l: &L, b: &mut Vec<Block>) {
    let c = &p.children;
    b.push(heading(2, l.t("Children", "Kinder"), "children"));
    let mut s = if l.de {
        format!(
            "Wir erheben wissentlich keine personenbezogenen Daten von Personen unter {} Jahren.",
            c.minimum_age
        )
    } else {
        format!(
            "We do not knowingly collect personal data from anyone under {}.",
            c.minimum_age
        )
    };
    if !c.by_country.is_empty() {
        let list: Vec<String> = c
            .by_country
            .iter()
            .map(|(code, age)| format!("{} {age}", l.country(code)))
            .collect();
        s.push_str(&format!(
            " {} {}.",
            l.t(
                "Where the law sets a higher age for consenting online, we use it:",
                "Wo das Gesetz ein höheres Alter für die Einwilligung im Internet festlegt, gilt dieses:"
            ),
            l.and_list(&list)
        ));
    }
    // Kept by Custodian: a declared child's erasure is approved and carried out at once, due
    // within `erase_within`, and cannot be extended (docs/retention.md).
    s.push_str(&if l.de {
        format!(
            " Erfahren wir, dass wir Daten eines Kindes unter diesem Alter haben, löschen wir sie ohne Rückfrage (Frist: {}).",
            l.duration(&c.erase_within)
        )
    } else {
        format!(
            " If we learn that we hold data about a child under that age, we delete it within {}, without waiting to be asked.",
            l.duration(&c.erase_within)
        )
    });
    let mut inlines = vec![text(s)];
    if let Some(dpo) = &p.contacts.dpo_email {
        inlines.extend([
            text(l.t(
                " If you think we might, please tell us at ",
                " Wenn Sie das vermuten, schreiben Sie uns bitte an ",
            )),
            mail(dpo),
            text("."),
        ]);
    }
    b.push(Block::Para(inlines));
}

pub(super) fn changes(p: &Policy, l: &L, b: &mut Vec<Block>) {
    b.push(heading(
        2,
        l.t("Changes to this notice", "Änderungen dieses Hinweises"),
        "changes",
    ));
    b.push(para(l.t(
        "When we change this notice in a way that matters to you, we tell you by e-mail or with \
         a prominent notice on our sites before the change takes effect, and ask for your consent \
         again where the change concerns something you agreed to.",
        "Ändern wir diesen Hinweis in einer Weise, die für Sie wichtig ist, informieren wir Sie \
         vorher per E-Mail oder mit einem deutlichen Hinweis auf unseren Seiten und bitten Sie \
         erneut um Ihre Einwilligung, wo die Änderung etwas betrifft, dem Sie zugestimmt haben.",
    )));
    let mut inlines = vec![text(if l.de {
        format!(
            "Dies ist Version {}, gültig ab {}.",
            p.policy.version,
            l.date(&p.policy.effective_date)
        )
    } else {
        format!(
            "This is version {}, effective {}.",
            p.policy.version,
            l.date(&p.policy.effective_date)
        )
    })];
    if let Some(url) = &p.policy.url {
        inlines.extend([
            text(l.t(
                " The current notice is always at ",
                " Den aktuellen Hinweis finden Sie immer unter ",
            )),
            link(url, url),
            text("."),
        ]);
    }
    b.push(Block::Para(inlines));
}
