//! Queueing a notice's mail for every person with an e-mail on record: the addresses that
//! lifecycle events declared (`subject_identities`, sealed under each person's key), a page of
//! [`PAGE`] people at a time in order of their keyed reference. Each address is opened under
//! the person's key and the message sealed under it again (so an erasure meanwhile makes the
//! queued message unreadable too), in the person's language — their own choice in the privacy
//! centre, else their latest request's, else the policy's first. A page is queued with the
//! notice's progress in one transaction; the job is leased, so one node at a time does it.

use custodian_core::keys::SubjectSealer;
use custodian_core::subject::SubjectRef;
use custodian_mail::{Lang, MailContent, OutgoingMail};
use custodian_store::notices::{NoticeRow, Recipient};

use crate::acts::{self, Act, Actor};
use crate::context::Context;
use crate::error::AppError;

/// People per page (one transaction each).
pub const PAGE: i64 = 1000;

/// Queues the mail of every notice not yet fanned out, if this node takes the job. Answers
/// how many messages were queued.
pub async fn leased(ctx: &Context) -> Result<u64, AppError> {
    let now = ctx.clock.now_micros();
    ctx.store
        .ensure_job(super::FANOUT_JOB, super::FANOUT_JOB, now)
        .await?;
    let queued = crate::background::run_leased(ctx, super::FANOUT_JOB, |now| async move {
        let n = all(ctx).await?;
        Ok::<_, AppError>((n, now + super::EVERY.as_micros() as i64))
    })
    .await?;
    Ok(queued.unwrap_or(0))
}

/// Queues the mail of every notice not yet fanned out (the job's work; tests call it).
pub async fn all(ctx: &Context) -> Result<u64, AppError> {
    let mut total = 0;
    for notice in ctx.store.notices_to_fan_out().await? {
        total += one(ctx, &notice).await?;
    }
    Ok(total)
}

/// Queues one notice's mail from where it stopped.
async fn one(ctx: &Context, notice: &NoticeRow) -> Result<u64, AppError> {
    let changes = changes_of(ctx, notice).await?;
    let mut after = notice.fanout_after.clone().unwrap_or_default();
    // The message in each language, made once.
    let mut texts: std::collections::HashMap<String, MailContent> = Default::default();
    let mut queued = 0;
    loop {
        let page = ctx
            .store
            .notice_recipients(&after, PAGE, notice.mandatory)
            .await?;
        let done = (page.len() as i64) < PAGE;
        let last = page.last().map(|r| r.subject_ref.clone());
        let now = ctx.clock.now_micros();
        let subjects: Vec<SubjectRef> = page
            .iter()
            .filter_map(|r| SubjectRef::from_hex(&r.subject_ref))
            .collect();
        let sealers = ctx.keyring.existing_sealers(&subjects).await?;
        let mut mails = Vec::with_capacity(page.len());
        for r in &page {
            let lang = ctx.language(r.lang.as_deref());
            let content = match texts.get(&lang) {
                Some(c) => c.clone(),
                None => {
                    let c = content_of(ctx, notice, &changes, &lang);
                    texts.insert(lang.clone(), c.clone());
                    c
                }
            };
            mails.extend(prepare(ctx, notice, r, &sealers, &lang, content, now).await?);
        }
        queued += ctx
            .store
            .queue_notice_page(&notice.id, &mails, last.as_deref(), done, now)
            .await?;
        ctx.outbox.wake();
        match last {
            Some(l) if !done => after = l,
            _ => break,
        }
    }
    acts::done(
        Some(&ctx.store),
        Actor::System,
        Act::NoticeSent {
            notice_id: notice.id.clone(),
            queued,
        },
    )
    .await;
    Ok(queued)
}

/// The lines of what changes, for a policy version's notice: material changes first.
async fn changes_of(ctx: &Context, notice: &NoticeRow) -> Result<Vec<String>, AppError> {
    let Some(version) = &notice.policy_version else {
        return Ok(Vec::new());
    };
    let scheduled = ctx.store.scheduled_versions().await?;
    let Some(v) = scheduled.iter().find(|v| &v.version == version) else {
        return Ok(Vec::new());
    };
    let changes: Vec<custodian_policy::diff::Change> =
        serde_json::from_str(&v.changes).unwrap_or_default();
    let (mut material, minor): (Vec<_>, Vec<_>) = changes.into_iter().partition(|c| c.material);
    material.extend(minor);
    Ok(material.into_iter().map(|c| c.summary).collect())
}

/// The notice's message in `lang`.
fn content_of(ctx: &Context, notice: &NoticeRow, changes: &[String], lang: &str) -> MailContent {
    let shown = super::shown(ctx, notice, lang);
    MailContent::Notice {
        organisation: ctx.policy.policy.organisation.clone(),
        title: shown.title,
        body: shown.body,
        effective: notice.effective_at.map(|e| local_date(ctx, e)),
        changes: changes.to_vec(),
        choices_link: format!("{}/privacy-center", ctx.public_url),
        contact: ctx.policy.contacts.dpo_email.clone(),
        mandatory: notice.mandatory,
    }
}

/// One person's message, or `None` when their key or address is gone (erased meanwhile).
async fn prepare(
    ctx: &Context,
    notice: &NoticeRow,
    r: &Recipient,
    sealers: &std::collections::HashMap<SubjectRef, SubjectSealer>,
    lang: &str,
    content: MailContent,
    now: i64,
) -> Result<Option<custodian_store::outbox::NewMail>, AppError> {
    let Some(subject) = SubjectRef::from_hex(&r.subject_ref) else {
        return Ok(None);
    };
    let Some(sealer) = sealers.get(&subject) else {
        return Ok(None);
    };
    let Ok(to) = sealer.open(&subject, "identities/email", &r.sealed_email) else {
        return Ok(None);
    };
    let mail = OutgoingMail {
        idempotency_key: format!("notice/{}/{}", notice.id, r.subject_ref),
        to,
        lang: Lang::parse_or_en(lang),
        request_id: None,
        subject: Some(subject),
        content,
    };
    match ctx.outbox.prepare_with(&mail, now, Some(sealer)).await {
        Ok(m) => Ok(Some(m)),
        Err(e) => Err(AppError::internal(e)),
    }
}

/// A date as people read it: the local date in the policy's default calendar.
fn local_date(ctx: &Context, micros: i64) -> String {
    custodian_core::clock::timestamp(micros)
        .to_zoned(ctx.calendar.time_zone().clone())
        .date()
        .to_string()
}
