//! Reading requests: the DPO's queue and one request with its history and mail, and what the
//! requester is shown on the status page (only the reasons they are owed).

use custodian_core::clock::timestamp;
use custodian_core::deadline::{urgency, Urgency};
use custodian_core::request::{Kind, Status};
use custodian_store::outbox::MailSummary;
use custodian_store::requests::{HistoryEntry, RequestFilter, RequestRow};

use super::{details_of, email_of, load, open_detail};
use crate::context::Context;
use crate::error::AppError;

/// How close an open request is to its answer deadline on its jurisdiction's calendar;
/// `None` once the request is final (a closed request is neither on time nor late any more).
pub fn urgency_of(ctx: &Context, r: &RequestRow) -> Option<Urgency> {
    urgency_at(ctx, r, ctx.clock.now_micros())
}

/// [`urgency_of`] at `now`, with the deadline as of `now` (a running pause moves it).
pub fn urgency_at(ctx: &Context, r: &RequestRow, now: i64) -> Option<Urgency> {
    r.status.is_open().then(|| {
        let rule = super::rule_of(ctx, r);
        let due = super::due_of(ctx, r, now);
        urgency(
            timestamp(now),
            due.answer_due,
            super::calendar_of(ctx, &rule),
        )
    })
}

/// The deadlines of a request as its views show them, as of now.
pub fn deadlines(ctx: &Context, r: &RequestRow) -> custodian_core::deadline::Due {
    super::due_of(ctx, r, ctx.clock.now_micros())
}

/// The DPO's filters on the queue; empty strings filter nothing.
pub struct QueueQuery {
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Only open requests past their answer deadline.
    pub overdue: bool,
    /// Only requests counted by this jurisdiction's rule.
    pub jurisdiction: Option<String>,
    /// Only requests assigned to this person (`""`: to nobody).
    pub assignee: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// The queue, most urgent first.
pub async fn queue(ctx: &Context, q: QueueQuery) -> Result<Vec<RequestRow>, AppError> {
    Ok(ctx.store.list_requests(&filter(ctx, q)?).await?)
}

/// A page of the queue and how many requests the filters select in all.
pub async fn queue_page(ctx: &Context, q: QueueQuery) -> Result<(Vec<RequestRow>, i64), AppError> {
    let f = filter(ctx, q)?;
    Ok((
        ctx.store.list_requests(&f).await?,
        ctx.store.count_requests(&f).await?,
    ))
}

fn filter(ctx: &Context, q: QueueQuery) -> Result<RequestFilter, AppError> {
    let status = q
        .status
        .as_deref()
        .map(|s| Status::parse(s).ok_or_else(|| AppError::invalid("unknown_status", "unknown status; use awaiting_verification, verified, approved, in_progress, completed, denied, forwarded or abandoned")))
        .transpose()?;
    let kind = q
        .kind
        .as_deref()
        .map(|k| {
            Kind::parse(k).ok_or_else(|| {
                AppError::invalid(
                    "unknown_request_type",
                    "unknown type; use access, rectification, erasure, restriction or objection",
                )
            })
        })
        .transpose()?;
    let filter = RequestFilter {
        status,
        kind,
        due_before: q.overdue.then(|| ctx.clock.now_micros()),
        jurisdiction: q.jurisdiction,
        assignee: q.assignee,
        limit: q.limit,
        offset: q.offset,
    };
    Ok(filter)
}

/// One request as the DPO sees it: the requester's address and details (absent once
/// erased), every history entry with its note opened, and the mail sent about it.
pub struct Detail {
    pub row: RequestRow,
    pub email: Option<String>,
    pub details: Option<String>,
    pub history: Vec<(HistoryEntry, Option<String>)>,
    pub mails: Vec<MailSummary>,
}

pub async fn detail(ctx: &Context, row: RequestRow) -> Result<Detail, AppError> {
    let history = ctx.store.request_history(&row.id).await?;
    let mails = ctx.store.mail_for_request(&row.id).await?;
    let mut entries = Vec::with_capacity(history.len());
    for h in history {
        let note = open_detail(ctx, &row.id, &h).await;
        entries.push((h, note));
    }
    Ok(Detail {
        email: email_of(ctx, &row).await,
        details: details_of(ctx, &row).await,
        row,
        history: entries,
        mails,
    })
}

/// The request and the history its requester sees: DPO notes left out, and a reason only
/// where they are owed one (a denial, an extension, a forward, a restriction's announced lift,
/// what the system told them on completion); DPO's manual completion notes stay internal.
pub async fn for_requester(
    ctx: &Context,
    id: &str,
) -> Result<(RequestRow, Vec<(HistoryEntry, Option<String>)>), AppError> {
    let row = load(ctx, id).await?;
    let history = ctx.store.request_history(id).await?;
    let told = ["deny", "extend", "forward", "lift"];
    let mut entries = Vec::new();
    for h in history.into_iter().filter(|h| h.action != "note") {
        let system_completion = h.action == "complete" && h.actor == "system";
        let reason = if told.contains(&h.action.as_str()) || system_completion {
            open_detail(ctx, &row.id, &h).await
        } else {
            None
        };
        entries.push((h, reason));
    }
    Ok((row, entries))
}
