//! Telling the people a breach concerns (GDPR Art. 34): one plain-language mail per person,
//! in their language, through the outbox — the nature of the breach, a contact point, its
//! likely consequences and the measures taken or proposed (Art. 34(2), pointing to Art.
//! 33(3)(b)–(d)). The incident keeps how many were told and how many could not be reached
//! (no address on record); who they were is only in the outbox rows, sealed under each
//! person's own key, keyed by their reference. Naming someone again queues nothing new.

use std::collections::BTreeMap;

use custodian_core::incident::{self, Step};
use custodian_mail::{Lang, MailContent, OutgoingMail};
use custodian_store::incidents::IncidentRow;
use custodian_store::outbox::NewMail;

use super::{get, step_error};
use crate::audit::{self, Action};
use crate::context::Context;
use crate::error::AppError;
use crate::people::{self, Named};

/// A notice's own words in one language, for people who read that language; what is not
/// given is the incident's (description, consequences, measures).
#[derive(Debug, Clone, Default)]
pub struct Texts {
    pub nature: Option<String>,
    pub consequences: Option<String>,
    pub measures: Option<String>,
}

/// Whom to tell, and in which words.
#[derive(Debug, Clone, Default)]
pub struct Audience {
    pub named: Named,
    /// The language for people whose own is not on record.
    pub language: Option<String>,
    /// Translations of the incident's texts, by language (`en`, `de`).
    pub texts: BTreeMap<String, Texts>,
}

/// What one call did.
#[derive(Debug, Clone)]
pub struct Notified {
    pub incident: IncidentRow,
    /// Mails queued by this call.
    pub queued: u64,
    /// People told before (by an earlier call): nothing queued again.
    pub already: u64,
    /// People named without an address on record.
    pub unreachable: u64,
}

/// Mails queued per transaction.
const CHUNK: usize = 500;

/// Queues the breach notice to each person `audience` names.
pub async fn notify_subjects(
    ctx: &Context,
    id: &str,
    audience: Audience,
    actor: &str,
) -> Result<Notified, AppError> {
    let seen = get(ctx, id).await?;
    incident::next(seen.status, Step::NotifySubjects, seen.risk).map_err(step_error)?;
    let (Some(consequences), Some(measures)) = (&seen.consequences, &seen.measures) else {
        return Err(AppError::conflict(
            "not_assessed",
            "assess the incident first: the notice must say its likely consequences and the measures taken (GDPR Art. 34(2))",
        ));
    };
    if audience.named.emails.is_empty()
        && audience.named.user_ids.is_empty()
        && audience.named.query.is_none()
    {
        return Err(AppError::invalid(
            "invalid_people",
            "name the people: `emails`, `user_ids`, or a `datastore` and a `query`",
        ));
    }
    let people = people::resolve(ctx, audience.named, audience.language.as_deref()).await?;
    let contact = ctx
        .policy
        .contacts
        .dpo_email
        .clone()
        .or_else(|| ctx.policy.contacts.support_email.clone())
        .unwrap_or_else(|| format!("{}/privacy-center", ctx.public_url));
    let categories: Vec<String> = seen
        .categories
        .iter()
        .map(|c| {
            ctx.policy
                .categories
                .iter()
                .find(|k| &k.id == c)
                .map_or(c.clone(), |k| k.name.clone())
        })
        .collect();
    let words = |lang: Lang| {
        let t = audience
            .texts
            .get(lang.as_str())
            .cloned()
            .unwrap_or_default();
        MailContent::BreachNotice {
            organisation: ctx.policy.policy.organisation.clone(),
            nature: t.nature.unwrap_or_else(|| seen.description.clone()),
            categories: categories.clone(),
            consequences: t.consequences.unwrap_or_else(|| consequences.clone()),
            measures: t.measures.unwrap_or_else(|| measures.clone()),
            contact: contact.clone(),
        }
    };
    let now = ctx.clock.now_micros();
    let (mut queued, mut addressed, mut unreachable) = (0u64, 0u64, 0u64);
    let mut batch: Vec<NewMail> = Vec::with_capacity(CHUNK);
    for p in &people {
        let Some(email) = &p.email else {
            unreachable += 1;
            continue;
        };
        addressed += 1;
        let mail = OutgoingMail {
            idempotency_key: format!("incident/{}/{}", seen.id, p.subject.to_hex()),
            to: email.clone(),
            lang: p.lang,
            request_id: None,
            subject: Some(p.subject),
            content: words(p.lang),
        };
        batch.push(
            ctx.outbox
                .prepare(&mail, now)
                .await
                .map_err(AppError::internal)?,
        );
        if batch.len() == CHUNK {
            queued += ctx.store.enqueue_mails(&batch).await?;
            batch.clear();
        }
    }
    queued += ctx.store.enqueue_mails(&batch).await?;
    ctx.outbox.wake();
    ctx.store
        .count_incident_notices(&seen.id, queued as i64, unreachable as i64, now)
        .await?;
    let detail = format!(
        "queued={queued} already={} unreachable={unreachable}",
        addressed - queued
    );
    audit::record_with(
        &ctx.store,
        actor,
        Action::IncidentSubjectsNotified,
        &seen.id,
        &detail,
    )
    .await?;
    Ok(Notified {
        incident: get(ctx, id).await?,
        queued,
        already: addressed - queued,
        unreachable,
    })
}
