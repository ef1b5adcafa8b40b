//! The report to the supervisory authority, with what GDPR Art. 33(3) says a notification
//! must at least contain: (a) the nature of the breach — the categories and approximate
//! number of people and of records concerned; (b) the name and contact details of the data
//! protection officer or another contact point; (c) the likely consequences; (d) the measures
//! taken or proposed, including to mitigate its possible adverse effects. Besides: the
//! controller, the timeline with the 72 hours and any reasons for delay (Art. 33(1)), and how
//! many people were told (Art. 34). As data (the JSON answer) and as Markdown to paste into an
//! authority's form. Items not on record yet say so, so a phased notification (Art. 33(4))
//! can go out early.

use custodian_core::clock::rfc3339;
use custodian_core::incident;
use custodian_store::incidents::IncidentRow;
use serde::Serialize;

use crate::context::Context;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub incident_id: String,
    pub title: String,
    pub status: String,
    pub risk: String,
    pub generated_at: String,
    pub controller: Controller,
    pub timeline: Timeline,
    /// Art. 33(3)(a).
    pub nature: Nature,
    /// Art. 33(3)(b).
    pub contact: Contact,
    /// Art. 33(3)(c).
    pub likely_consequences: Option<String>,
    /// Art. 33(3)(d).
    pub measures: Option<String>,
    /// Art. 34: how many people were told, never who.
    pub communication_to_subjects: Communication,
    pub authority: Authority,
}

#[derive(Debug, Clone, Serialize)]
pub struct Controller {
    pub organisation: String,
    pub entities: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub became_aware_at: String,
    pub reported_at: String,
    pub authority_due: String,
    pub assessed_at: Option<String>,
    pub authority_notified_at: Option<String>,
    pub late: bool,
    pub late_reason: Option<String>,
    pub closed_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Nature {
    pub description: String,
    pub data_categories: Vec<Named>,
    pub subject_categories: Vec<Named>,
    pub subjects_estimate: i64,
    pub records_estimate: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub dpo_email: Option<String>,
    pub other_contact: Option<String>,
    pub postal_address: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Communication {
    pub notified: i64,
    pub unreachable: i64,
    pub last_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Authority {
    pub name: Option<String>,
    pub reference: Option<String>,
}

/// The report of `row` as of now.
pub fn build(ctx: &Context, row: &IncidentRow) -> Report {
    let p = &ctx.policy;
    let named = |ids: &[String], names: &dyn Fn(&str) -> Option<String>| -> Vec<Named> {
        ids.iter()
            .map(|id| Named {
                id: id.clone(),
                name: names(id).unwrap_or_else(|| id.clone()),
            })
            .collect()
    };
    let late = row
        .authority_notified_at
        .map(|at| incident::late(at, row.authority_due))
        .unwrap_or_else(|| super::overdue(ctx, row));
    Report {
        incident_id: row.id.clone(),
        title: row.title.clone(),
        status: row.status.as_str().to_owned(),
        risk: row.risk.as_str().to_owned(),
        generated_at: rfc3339(ctx.clock.now_micros()),
        controller: Controller {
            organisation: p.policy.organisation.clone(),
            entities: p
                .controllers
                .iter()
                .map(|c| {
                    let name = c.legal_entity.clone().unwrap_or_else(|| c.name.clone());
                    match &c.address {
                        Some(a) => format!("{name}, {a} ({})", c.country),
                        None => format!("{name} ({})", c.country),
                    }
                })
                .collect(),
        },
        timeline: Timeline {
            became_aware_at: rfc3339(row.became_aware_at),
            reported_at: rfc3339(row.created_at),
            authority_due: rfc3339(row.authority_due),
            assessed_at: row.assessed_at.map(rfc3339),
            authority_notified_at: row.authority_notified_at.map(rfc3339),
            late,
            late_reason: row.late_reason.clone(),
            closed_at: row.closed_at.map(rfc3339),
        },
        nature: Nature {
            description: row.description.clone(),
            data_categories: named(&row.categories, &|id| {
                p.categories
                    .iter()
                    .find(|c| c.id == id)
                    .map(|c| c.name.clone())
            }),
            subject_categories: named(&row.subject_kinds, &|id| {
                p.subjects
                    .iter()
                    .find(|s| s.id == id)
                    .map(|s| s.name.clone())
            }),
            subjects_estimate: row.subjects_estimate,
            records_estimate: row.records_estimate,
        },
        contact: Contact {
            dpo_email: p.contacts.dpo_email.clone(),
            other_contact: p.contacts.support_email.clone(),
            postal_address: p.contacts.postal_address.clone(),
        },
        likely_consequences: row.consequences.clone(),
        measures: row.measures.clone(),
        communication_to_subjects: Communication {
            notified: row.subjects_notified,
            unreachable: row.subjects_unreachable,
            last_at: row.subjects_notified_at.map(rfc3339),
        },
        authority: Authority {
            name: row.authority.clone(),
            reference: row.authority_reference.clone(),
        },
    }
}

const NOT_YET: &str = "_not on record yet (Art. 33(4): to follow)_";

fn or_not_yet(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| NOT_YET.to_owned())
}

fn list(items: &[Named]) -> String {
    if items.is_empty() {
        return NOT_YET.to_owned();
    }
    items
        .iter()
        .map(|n| format!("{} (`{}`)", n.name, n.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report as Markdown, headed by the Art. 33(3) items in the order the law lists them.
pub fn markdown(r: &Report) -> String {
    let t = &r.timeline;
    let mut out = format!(
        "# Personal data breach notification: {title}\n\n\
         Incident `{id}` · risk `{risk}` · status `{status}` · generated {gen}\n\n\
         ## Controller\n\n{org}{entities}\n\n\
         ## Timeline\n\n\
         - Became aware: {aware}\n- Authority due (72 hours, GDPR Art. 33(1)): {due}\n\
         - Authority notified: {notified}\n",
        title = r.title,
        id = r.incident_id,
        risk = r.risk,
        status = r.status,
        gen = r.generated_at,
        org = r.controller.organisation,
        entities = r
            .controller
            .entities
            .iter()
            .map(|e| format!("\n- {e}"))
            .collect::<String>(),
        aware = t.became_aware_at,
        due = t.authority_due,
        notified = t
            .authority_notified_at
            .clone()
            .unwrap_or_else(|| "not yet".into()),
    );
    if t.late {
        out.push_str(&format!(
            "- Reasons for the delay (Art. 33(1)): {}\n",
            or_not_yet(&t.late_reason)
        ));
    }
    let n = &r.nature;
    out.push_str(&format!(
        "\n## (a) Nature of the breach (Art. 33(3)(a))\n\n{desc}\n\n\
         - Categories of personal data: {cats}\n- Categories of data subjects: {kinds}\n\
         - Approximate number of data subjects: {subjects}\n- Approximate number of records: {records}\n\n\
         ## (b) Contact point (Art. 33(3)(b))\n\n- Data protection officer: {dpo}\n- Other contact: {other}\n- Postal address: {post}\n\n\
         ## (c) Likely consequences (Art. 33(3)(c))\n\n{cons}\n\n\
         ## (d) Measures taken or proposed (Art. 33(3)(d))\n\n{measures}\n\n\
         ## Communication to data subjects (Art. 34)\n\n- People told: {told}\n- People without an address on record: {unreachable}\n",
        desc = n.description,
        cats = list(&n.data_categories),
        kinds = list(&n.subject_categories),
        subjects = n.subjects_estimate,
        records = n.records_estimate.map_or_else(|| "unknown".to_owned(), |r| r.to_string()),
        dpo = or_not_yet(&r.contact.dpo_email),
        other = r.contact.other_contact.clone().unwrap_or_else(|| "-".into()),
        post = r.contact.postal_address.clone().unwrap_or_else(|| "-".into()),
        cons = or_not_yet(&r.likely_consequences),
        measures = or_not_yet(&r.measures),
        told = r.communication_to_subjects.notified,
        unreachable = r.communication_to_subjects.unreachable,
    ));
    if let Some(name) = &r.authority.name {
        out.push_str(&format!(
            "\n## Supervisory authority\n\n- {name}{}\n",
            r.authority
                .reference
                .as_ref()
                .map(|x| format!(", reference {x}"))
                .unwrap_or_default()
        ));
    }
    out
}
