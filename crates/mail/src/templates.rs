//! The messages Custodian sends, in English and German: a subject, a plain-text body and an
//! HTML alternative, rendered from typed parameters.
//!
//! A message's parameters are stored (sealed) in the outbox and rendered only when it is sent,
//! so a template fixed between enqueue and delivery applies to queued mail too.

use serde::{Deserialize, Serialize};

/// The language of a message; requests carry the requester's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    De,
}

impl Lang {
    /// `en`, `de`, `de-AT`, `en_GB`... — anything else is English.
    pub fn parse_or_en(tag: &str) -> Lang {
        match tag.get(..2).map(str::to_ascii_lowercase).as_deref() {
            Some("de") => Lang::De,
            _ => Lang::En,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }
}

/// One request counted in the DPO's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestItem {
    pub request_id: String,
    /// The due time as the DPO should read it (formatted in the policy's time zone).
    pub due: String,
}

/// An incident past its 72 hours without the authority told, in the DPO's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestIncident {
    pub incident_id: String,
    /// When the authority was due to be told (formatted in the policy's time zone).
    pub due: String,
}

/// What a message says. The variant is the template; its fields are the parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum MailContent {
    /// The code (and a link carrying it) that proves the requester holds the address.
    /// The code (and link) that signs a person in to the privacy centre.
    SignInCode {
        code: String,
        link: String,
    },
    VerificationCode {
        code: String,
        link: String,
        request_type: String,
    },
    /// Acknowledgement of a verified request, with the link to its status page.
    RequestReceived {
        request_id: String,
        request_type: String,
        status_link: String,
        due_date: String,
    },
    RequestExtended {
        request_id: String,
        reason: String,
        new_due_date: String,
    },
    RequestDenied {
        request_id: String,
        reason: String,
    },
    /// GDPR Art. 18(3): the restriction the requester obtained will be lifted, on a date and
    /// for a reason — told before it happens.
    RestrictionLiftNotice {
        request_id: String,
        reason: String,
        /// The day it ends at the earliest, as the requester should read it.
        lift_date: String,
        status_link: String,
    },
    RequestCompleted {
        request_id: String,
        status_link: String,
        /// The access archive, when there is one.
        download_link: Option<String>,
    },
    /// The data belongs to one of the company's customers, who answers instead.
    RequestForwarded {
        request_id: String,
        customer_name: String,
        customer_contact: String,
    },
    /// To the customer that controls the data: a request about their data, for them to answer.
    ForwardedToCustomer {
        request_id: String,
        request_type: String,
        /// The requester's address, verified by us, so the customer can answer them.
        requester: String,
        details: String,
        /// Who forwards it (the policy's organisation).
        organisation: String,
    },
    DpoDigest {
        date: String,
        due_soon: Vec<DigestItem>,
        overdue: Vec<DigestItem>,
        admin_link: Option<String>,
        /// Breaches whose authority notification is overdue (absent in digests queued before).
        #[serde(default)]
        overdue_incidents: Vec<DigestIncident>,
    },
    /// To a person whose data a breach concerns (GDPR Art. 34(2)): in plain language, the
    /// nature of the breach, a contact point, its likely consequences and the measures taken.
    BreachNotice {
        organisation: String,
        nature: String,
        /// The kinds of data concerned, as people read them.
        categories: Vec<String>,
        consequences: String,
        measures: String,
        contact: String,
    },
    /// To a person whose data was disclosed to a public authority, where the law lets them
    /// be told.
    DisclosureNotice {
        organisation: String,
        recipient: String,
        legal_basis: String,
        reference: String,
        categories: Vec<String>,
        /// The day of the disclosure.
        disclosed_on: String,
        contact: String,
    },
    /// A notice to people (issue 13): a change of the privacy policy, a change of control,
    /// or general news, in the person's language.
    Notice {
        organisation: String,
        title: String,
        body: String,
        /// When what it announces takes effect, as the person reads a date.
        effective: Option<String>,
        /// What changes, one line each (a policy change).
        changes: Vec<String>,
        /// Where people see and change their choices, and object (the privacy centre).
        choices_link: String,
        /// Whom to write to, to object or ask.
        contact: Option<String>,
        /// Mandatory notices are sent whatever the person chose about optional ones.
        mandatory: bool,
    },
}

impl MailContent {
    /// The template's name, as stored in the outbox's `template` column.
    pub fn template(&self) -> &'static str {
        match self {
            MailContent::VerificationCode { .. } => "verification_code",
            MailContent::SignInCode { .. } => "sign_in_code",
            MailContent::RequestReceived { .. } => "request_received",
            MailContent::RequestExtended { .. } => "request_extended",
            MailContent::RequestDenied { .. } => "request_denied",
            MailContent::RestrictionLiftNotice { .. } => "restriction_lift_notice",
            MailContent::RequestCompleted { .. } => "request_completed",
            MailContent::RequestForwarded { .. } => "request_forwarded",
            MailContent::ForwardedToCustomer { .. } => "forwarded_to_customer",
            MailContent::DpoDigest { .. } => "dpo_digest",
            MailContent::BreachNotice { .. } => "breach_notice",
            MailContent::DisclosureNotice { .. } => "disclosure_notice",
            MailContent::Notice { .. } => "notice",
        }
    }
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn request_type_name(t: &str, lang: Lang) -> String {
    let name = match (t, lang) {
        ("access", Lang::En) => "access to your data",
        ("rectification", Lang::En) => "correction of your data",
        ("erasure", Lang::En) => "erasure of your data",
        ("restriction", Lang::En) => "restriction of processing",
        ("objection", Lang::En) => "objection to processing",
        ("access", Lang::De) => "Auskunft über Ihre Daten",
        ("rectification", Lang::De) => "Berichtigung Ihrer Daten",
        ("erasure", Lang::De) => "Löschung Ihrer Daten",
        ("restriction", Lang::De) => "Einschränkung der Verarbeitung",
        ("objection", Lang::De) => "Widerspruch gegen die Verarbeitung",
        (other, _) => other,
    };
    name.to_owned()
}

/// Renders `content` in `lang`.
pub fn render(content: &MailContent, lang: Lang) -> Rendered {
    use Lang::{De, En};
    use MailContent as M;
    // Paragraphs; a paragraph that is exactly a URL becomes a link in the HTML part.
    let (subject, paragraphs): (String, Vec<String>) = match (content, lang) {
        (M::SignInCode { code, link }, En) => (
            format!("Your sign-in code: {code}"),
            vec![
                "Someone asked to sign in to our privacy centre with this e-mail address, to see and change their privacy choices. To sign in, enter this code:".into(),
                code.clone(),
                "or open this link:".into(),
                link.clone(),
                "If it was not you, ignore this message; nothing will happen.".into(),
            ],
        ),
        (M::SignInCode { code, link }, De) => (
            format!("Ihr Anmeldecode: {code}"),
            vec![
                "Jemand möchte sich mit dieser E-Mail-Adresse im Datenschutz-Center anmelden, um seine Datenschutz-Einstellungen zu sehen und zu ändern. Geben Sie zum Anmelden diesen Code ein:".into(),
                code.clone(),
                "oder öffnen Sie diesen Link:".into(),
                link.clone(),
                "Wenn Sie das nicht waren, ignorieren Sie diese Nachricht; es geschieht nichts.".into(),
            ],
        ),
        (M::VerificationCode { code, link, request_type }, En) => (
            format!("Your verification code: {code}"),
            vec![
                format!("We received a request for {} with this e-mail address. To confirm that it was you, enter this code:", request_type_name(request_type, En)),
                code.clone(),
                "or open this link:".into(),
                link.clone(),
                "If you did not make this request, ignore this message; nothing will happen.".into(),
            ],
        ),
        (M::VerificationCode { code, link, request_type }, De) => (
            format!("Ihr Bestätigungscode: {code}"),
            vec![
                format!("Wir haben mit dieser E-Mail-Adresse einen Antrag auf {} erhalten. Um zu bestätigen, dass er von Ihnen stammt, geben Sie diesen Code ein:", request_type_name(request_type, De)),
                code.clone(),
                "oder öffnen Sie diesen Link:".into(),
                link.clone(),
                "Wenn Sie diesen Antrag nicht gestellt haben, ignorieren Sie diese Nachricht; es geschieht nichts.".into(),
            ],
        ),
        (M::RequestReceived { request_id, request_type, status_link, due_date }, En) => (
            format!("We received your request {request_id}"),
            vec![
                format!("Thank you. Your request for {} ({request_id}) is confirmed and being handled. We will answer by {due_date} at the latest.", request_type_name(request_type, En)),
                "You can follow it here:".into(),
                status_link.clone(),
            ],
        ),
        (M::RequestReceived { request_id, request_type, status_link, due_date }, De) => (
            format!("Ihr Antrag {request_id} ist eingegangen"),
            vec![
                format!("Vielen Dank. Ihr Antrag auf {} ({request_id}) ist bestätigt und wird bearbeitet. Sie erhalten spätestens am {due_date} eine Antwort.", request_type_name(request_type, De)),
                "Den Stand können Sie hier verfolgen:".into(),
                status_link.clone(),
            ],
        ),
        (M::RequestExtended { request_id, reason, new_due_date }, En) => (
            format!("More time is needed for your request {request_id}"),
            vec![
                format!("We need more time to answer your request {request_id}. We will answer by {new_due_date}."),
                format!("Reason: {reason}"),
            ],
        ),
        (M::RequestExtended { request_id, reason, new_due_date }, De) => (
            format!("Fristverlängerung für Ihren Antrag {request_id}"),
            vec![
                format!("Wir benötigen mehr Zeit für die Beantwortung Ihres Antrags {request_id}. Sie erhalten spätestens am {new_due_date} eine Antwort."),
                format!("Grund: {reason}"),
            ],
        ),
        (M::RequestDenied { request_id, reason }, En) => (
            format!("Your request {request_id} was declined"),
            vec![
                format!("We cannot carry out your request {request_id}."),
                format!("Reason: {reason}"),
                "You have the right to lodge a complaint with a supervisory authority.".into(),
            ],
        ),
        (M::RequestDenied { request_id, reason }, De) => (
            format!("Ihr Antrag {request_id} wurde abgelehnt"),
            vec![
                format!("Wir können Ihren Antrag {request_id} nicht ausführen."),
                format!("Grund: {reason}"),
                "Sie haben das Recht, sich bei einer Aufsichtsbehörde zu beschweren.".into(),
            ],
        ),
        (M::RestrictionLiftNotice { request_id, reason, lift_date, status_link }, En) => (
            format!("The restriction you asked for will be lifted ({request_id})"),
            vec![
                format!("You obtained a restriction of the processing of your data ({request_id}). We are telling you before it ends, as GDPR Art. 18(3) requires: we will lift it on {lift_date} at the earliest. Until then we only store your data."),
                format!("Why: {reason}"),
                "If you disagree, reply to this message or write to our data protection officer before then; you also have the right to lodge a complaint with a supervisory authority.".into(),
                status_link.clone(),
            ],
        ),
        (M::RestrictionLiftNotice { request_id, reason, lift_date, status_link }, De) => (
            format!("Die Einschränkung der Verarbeitung wird aufgehoben ({request_id})"),
            vec![
                format!("Sie haben eine Einschränkung der Verarbeitung Ihrer Daten erwirkt ({request_id}). Wir teilen Ihnen vorab mit, dass sie endet, wie es Art. 18 Abs. 3 DSGVO verlangt: frühestens am {lift_date}. Bis dahin speichern wir Ihre Daten nur."),
                format!("Grund: {reason}"),
                "Sind Sie nicht einverstanden, antworten Sie bitte auf diese Nachricht oder schreiben Sie vorher an unseren Datenschutzbeauftragten; Sie haben auch das Recht, sich bei einer Aufsichtsbehörde zu beschweren.".into(),
                status_link.clone(),
            ],
        ),
        (M::RequestCompleted { request_id, status_link, download_link }, En) => {
            let mut p = vec![format!("Your request {request_id} is complete.")];
            if let Some(d) = download_link {
                p.push("Download your data (the link expires):".into());
                p.push(d.clone());
            }
            p.push("Details:".into());
            p.push(status_link.clone());
            (format!("Your request {request_id} is complete"), p)
        }
        (M::RequestCompleted { request_id, status_link, download_link }, De) => {
            let mut p = vec![format!("Ihr Antrag {request_id} ist abgeschlossen.")];
            if let Some(d) = download_link {
                p.push("Laden Sie Ihre Daten herunter (der Link läuft ab):".into());
                p.push(d.clone());
            }
            p.push("Einzelheiten:".into());
            p.push(status_link.clone());
            (format!("Ihr Antrag {request_id} ist abgeschlossen"), p)
        }
        (M::RequestForwarded { request_id, customer_name, customer_contact }, En) => (
            format!("Your request {request_id} was forwarded"),
            vec![
                format!("The data your request {request_id} concerns is held on behalf of {customer_name}, who decides about it. We have forwarded your request to them."),
                format!("You can contact them at: {customer_contact}"),
            ],
        ),
        (M::RequestForwarded { request_id, customer_name, customer_contact }, De) => (
            format!("Ihr Antrag {request_id} wurde weitergeleitet"),
            vec![
                format!("Die Daten, die Ihr Antrag {request_id} betrifft, verarbeiten wir im Auftrag von {customer_name}, der darüber entscheidet. Wir haben Ihren Antrag dorthin weitergeleitet."),
                format!("Kontakt: {customer_contact}"),
            ],
        ),
        (M::ForwardedToCustomer { request_id, request_type, requester, details, organisation }, _) => (
            format!("Data-subject request {request_id} about data you control"),
            vec![
                format!("{organisation} processes personal data on your behalf. We received a request for {} from {requester}, whose address we verified, and forward it to you as the controller.", request_type_name(request_type, En)),
                if details.is_empty() { "The requester gave no further details.".to_owned() } else { format!("The requester wrote: {details}") },
                format!("Please answer the requester directly. Quote {request_id} if you need our help to carry it out."),
            ],
        ),
        (M::Notice { .. }, _) => notice(content, lang),
        (M::DpoDigest { date, due_soon, overdue, admin_link, overdue_incidents }, _) => {
            let de = lang == De;
            let mut p = vec![if de {
                format!("Datenschutzanträge am {date}: {} überfällig, {} bald fällig.", overdue.len(), due_soon.len())
            } else {
                format!("Privacy requests on {date}: {} overdue, {} due soon.", overdue.len(), due_soon.len())
            }];
            if !overdue_incidents.is_empty() {
                p.push(if de {
                    "Datenpannen, deren Meldung an die Aufsichtsbehörde überfällig ist (Art. 33 DSGVO: 72 Stunden):".into()
                } else {
                    "Breaches whose notification to the supervisory authority is overdue (GDPR Art. 33: 72 hours):".into()
                });
                p.push(overdue_incidents.iter().map(|i| format!("- {} ({})", i.incident_id, i.due)).collect::<Vec<_>>().join("\n"));
            }
            for (title, items) in [
                (if de { "Überfällig:" } else { "Overdue:" }, overdue),
                (if de { "Bald fällig:" } else { "Due soon:" }, due_soon),
            ] {
                if !items.is_empty() {
                    p.push(title.into());
                    p.push(items.iter().map(|i| format!("- {} ({})", i.request_id, i.due)).collect::<Vec<_>>().join("\n"));
                }
            }
            if let Some(l) = admin_link {
                p.push(l.clone());
            }
            let mut subject = if de {
                format!("Datenschutzanträge: {} überfällig, {} bald fällig", overdue.len(), due_soon.len())
            } else {
                format!("Privacy requests: {} overdue, {} due soon", overdue.len(), due_soon.len())
            };
            if !overdue_incidents.is_empty() {
                subject = if de {
                    format!("{} Datenpanne(n) nicht fristgerecht gemeldet; {subject}", overdue_incidents.len())
                } else {
                    format!("{} breach notification(s) overdue; {subject}", overdue_incidents.len())
                };
            }
            (subject, p)
        }
        (M::BreachNotice { organisation, nature, categories, consequences, measures, contact }, En) => (
            format!("Important: a security incident at {organisation} concerns your data"),
            vec![
                format!("We are writing to tell you about a security incident at {organisation} that concerns your personal data. We are sorry that this happened."),
                format!("What happened: {nature}"),
                format!("Which of your data: {}.", categories.join(", ")),
                format!("What this may mean for you: {consequences}"),
                format!("What we have done and what we advise: {measures}"),
                format!("If you have questions, write to {contact}. You also have the right to complain to a data protection authority."),
            ],
        ),
        (M::BreachNotice { organisation, nature, categories, consequences, measures, contact }, De) => (
            format!("Wichtig: Ein Sicherheitsvorfall bei {organisation} betrifft Ihre Daten"),
            vec![
                format!("Wir informieren Sie über einen Sicherheitsvorfall bei {organisation}, der Ihre personenbezogenen Daten betrifft. Es tut uns leid, dass das geschehen ist."),
                format!("Was geschehen ist: {nature}"),
                format!("Welche Ihrer Daten: {}.", categories.join(", ")),
                format!("Was das für Sie bedeuten kann: {consequences}"),
                format!("Was wir getan haben und was wir Ihnen raten: {measures}"),
                format!("Bei Fragen schreiben Sie an {contact}. Sie haben außerdem das Recht, sich bei einer Datenschutz-Aufsichtsbehörde zu beschweren."),
            ],
        ),
        (M::DisclosureNotice { organisation, recipient, legal_basis, reference, categories, disclosed_on, contact }, En) => (
            format!("{organisation} disclosed some of your data to an authority"),
            vec![
                format!("On {disclosed_on}, {organisation} gave some of your personal data to {recipient}, because the law required it."),
                format!("The law: {legal_basis} (reference {reference})."),
                format!("Which of your data: {}.", categories.join(", ")),
                format!("If you have questions, write to {contact}. You can ask for a copy of all data we hold about you at any time."),
            ],
        ),
        (M::DisclosureNotice { organisation, recipient, legal_basis, reference, categories, disclosed_on, contact }, De) => (
            format!("{organisation} hat Daten von Ihnen an eine Behörde weitergegeben"),
            vec![
                format!("Am {disclosed_on} hat {organisation} personenbezogene Daten von Ihnen an {recipient} übermittelt, weil das Gesetz es verlangte."),
                format!("Rechtsgrundlage: {legal_basis} (Aktenzeichen {reference})."),
                format!("Welche Ihrer Daten: {}.", categories.join(", ")),
                format!("Bei Fragen schreiben Sie an {contact}. Sie können jederzeit eine Kopie aller Daten verlangen, die wir über Sie speichern."),
            ],
        ),
    };
    let text = paragraphs.join("\n\n") + "\n";
    let html = html_of(&subject, &paragraphs, lang);
    Rendered {
        subject,
        text,
        html,
    }
}

/// A notice's subject and paragraphs: what changes, from when, the person's choices and how
/// to object (GDPR Art. 12(1), 13(3); the example notice's promise of notice by e-mail).
fn notice(content: &MailContent, lang: Lang) -> (String, Vec<String>) {
    let MailContent::Notice {
        organisation,
        title,
        body,
        effective,
        changes,
        choices_link,
        contact,
        mandatory,
    } = content
    else {
        return (String::new(), Vec::new());
    };
    let de = lang == Lang::De;
    let mut p = vec![body.clone()];
    if let Some(date) = effective {
        p.push(if de {
            format!("Dies gilt ab dem {date}.")
        } else {
            format!("This takes effect on {date}.")
        });
    }
    if !changes.is_empty() {
        p.push(
            if de {
                "Was sich ändert:"
            } else {
                "What changes:"
            }
            .into(),
        );
        p.push(
            changes
                .iter()
                .map(|c| format!("- {c}"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    p.push(if de {
        "Ihre Wahl: Im Datenschutz-Center sehen und ändern Sie Ihre Einwilligungen, widersprechen einer Verarbeitung oder verlangen die Löschung Ihrer Daten:".into()
    } else {
        "Your choices: in our privacy centre you can see and change your consents, object to processing, or ask us to erase your data:".into()
    });
    p.push(choices_link.clone());
    if let Some(c) = contact {
        p.push(if de {
            format!("Um zu widersprechen oder Fragen zu stellen, schreiben Sie an {c}.")
        } else {
            format!("To object or ask a question, write to {c}.")
        });
    }
    p.push(match (mandatory, de) {
        (true, false) => format!("{organisation} must tell you about this change; you receive it whatever you chose about optional notices."),
        (true, true) => format!("{organisation} muss Sie über diese Änderung informieren; Sie erhalten diese Nachricht unabhängig von Ihrer Wahl zu optionalen Hinweisen."),
        (false, false) => "You can turn off optional notices like this one in the privacy centre.".into(),
        (false, true) => "Optionale Hinweise wie diesen können Sie im Datenschutz-Center abbestellen.".into(),
    });
    (format!("{organisation}: {title}"), p)
}

fn html_of(subject: &str, paragraphs: &[String], lang: Lang) -> String {
    let mut out = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>",
        lang.as_str(),
        escape(subject)
    );
    for p in paragraphs {
        if is_url(p) {
            out.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>", escape(p)));
        } else {
            out.push_str(&format!("<p>{}</p>", escape(p).replace('\n', "<br>")));
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn is_url(p: &str) -> bool {
    (p.starts_with("https://") || p.starts_with("http://")) && !p.contains(char::is_whitespace)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
