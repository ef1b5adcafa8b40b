//! What an approved request does to Custodian's own data.
//!
//! - access: the export is built on demand from the records (see `export`), so approving
//!   completes the request and mails a download link — once every company datastore has
//!   answered (`finish`);
//! - erasure: the subject's current consent state, links and sent mail are removed, the
//!   requester's address and details are blanked once the final mail is queued, and the
//!   subject's key is destroyed (so copies of the database taken before reveal nothing); the
//!   ledger's events stay, as they hold only the keyed reference and prove what was consented
//!   to;
//! - objection: direct-marketing consent is withdrawn (source `request`), and the
//!   legitimate-interest purposes it names are refused from now on (`standing.rs`);
//! - rectification, restriction, objection: carried into the company's systems too
//!   (`reach.rs`): the corrections approved with a rectification applied, the subject's rows
//!   marked while a restriction is in force, services told of an objection.

use custodian_core::consent::Source;
use custodian_core::request::{Action, Kind, Status};
use custodian_core::subject::SubjectRef;
use custodian_mail::MailContent;
use custodian_store::requests::RequestRow;

use super::{
    download_link, plan, reach, requester_mail, status_link, subject_of, transition, Sealing,
};
use crate::context::Context;
use crate::error::AppError;
use crate::recording::{self, Wanted};
use custodian_connectors::erase::Corrections;

/// Carries out an approved request.
pub async fn run(state: &Context, approved: RequestRow) -> Result<RequestRow, AppError> {
    run_with(state, approved, None).await
}

/// [`run`], with the corrections the DPO approved a rectification with.
pub async fn run_with(
    state: &Context,
    approved: RequestRow,
    corrections: Option<&Corrections>,
) -> Result<RequestRow, AppError> {
    let kind = approved.kind;
    let subject = SubjectRef::from_hex(&approved.subject_ref).ok_or_else(|| {
        AppError::Internal(format!("request {} has a malformed subject", approved.id))
    })?;
    match kind {
        Kind::Access | Kind::Erasure => finish(state, approved, "system").await,
        Kind::Objection => {
            withdraw_objected(state, subject).await?;
            let named = crate::standing::enforce_objection(state, &approved).await?;
            let mut told = (!named.is_empty())
                .then(|| format!("objection in force for: {}", named.join(", ")));
            let purposes = reach::objected_purposes(state, named);
            match reach::object(state, &approved, &purposes).await {
                Ok(sent) => {
                    told = [told, sent]
                        .into_iter()
                        .flatten()
                        .reduce(|a, b| format!("{a}; {b}"));
                    complete(state, &approved, "system", told.as_deref()).await
                }
                Err(err) => reach::stay_in_progress(state, &approved, &err).await,
            }
        }
        Kind::Rectification => reach::approved_rectification(state, approved, corrections).await,
        Kind::Restriction => reach::approved_restriction(state, approved).await,
    }
}

/// Completes an access or erasure request once the company's datastores have answered —
/// on approval, and again when the DPO completes one left in progress. If a datastore fails,
/// the request stays (or is put) `in_progress` with the run's exact errors in its history,
/// and the DPO retries by completing it again: an access never completes with an archive
/// silently missing the company's data, an erasure never without the company's part.
pub async fn finish(state: &Context, row: RequestRow, actor: &str) -> Result<RequestRow, AppError> {
    let erasure = row.kind == Kind::Erasure;
    let from = row.status;
    if custodian_core::request::next(from, Action::Complete).is_err() {
        // Not completable (e.g. not approved yet): refused by the state machine, as before,
        // without touching the company's datastores.
        return complete(state, &row, actor, None).await;
    }
    let mut told = None;
    let kind = if erasure {
        custodian_connectors::run::RunKind::Erasure
    } else {
        custodian_connectors::run::RunKind::Access
    };
    if !super::company::takers(state, kind).await?.is_empty() {
        let outcome = if erasure {
            super::company::erase(state, &row).await.map(|e| {
                Some(if e.kept.is_empty() {
                    format!(
                        "erased in the company's systems ({} changes)",
                        e.rows_changed
                    )
                } else {
                    format!(
                        "erased in the company's systems; kept under legal hold: {}",
                        e.kept.join("; ")
                    )
                })
            })
        } else {
            super::company::access_run(state, &row, None)
                .await
                .map(|()| None)
        };
        match outcome {
            Ok(t) => told = t,
            Err(err) => {
                let detail = format!(
                    "company datastores failed: {err}; fix the datastore, then complete the request again (it retries the failed run)"
                );
                // The history shows the error either way; the request is never completed.
                let action = if from == Status::Approved {
                    Action::Start
                } else {
                    Action::Note
                };
                return transition(state, &row, action, "system", Some(&detail), |_| {}).await;
            }
        }
    }
    let done = complete(state, &row, actor, told.as_deref()).await?;
    if erasure {
        // Art. 19: the recipients are told with identities read before the key goes.
        let notice = crate::notices::plan_erasure_notice(state, &done).await;
        erase_own_data(state, super::subject_of(&done)?, &done).await?;
        match notice {
            Ok(Some(run)) => {
                if let Err(e) = crate::notices::deliver(state, &run).await {
                    tracing::warn!(request = %done.id, error = %e, "telling recipients of an erasure failed; retried in the background");
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(request = %done.id, error = %e, "the recipients of an erasure could not be planned")
            }
        }
        return super::load(state, &done.id).await;
    }
    Ok(done)
}

/// Marks a request completed and tells the requester (with the download link for access).
/// `detail` is shown to the requester on the status page (e.g. what stays under a legal hold).
pub async fn complete(
    state: &Context,
    row: &RequestRow,
    actor: &str,
    detail: Option<&str>,
) -> Result<RequestRow, AppError> {
    let now = state.clock.now_micros();
    // An erasure destroys the subject's key right after this: its completion note and
    // confirmation are sealed under the server's key so that they outlive it.
    let sealing = if row.kind == Kind::Erasure {
        Sealing::ServerKey
    } else {
        Sealing::SubjectKey
    };
    let p = plan(state, row, Action::Complete, actor, detail, sealing, |r| {
        r.completed_at = Some(now)
    })
    .await?;
    let download = (p.new.kind == Kind::Access).then(|| download_link(state, &p.new.id));
    let content = MailContent::RequestCompleted {
        request_id: p.new.id.clone(),
        status_link: status_link(state, &p.new.id),
        download_link: download,
    };
    let mail = requester_mail(state, &p.new, "completed", content, sealing).await?;
    p.commit(state, mail.into_iter().collect()).await
}

/// Finishes erasures that were completed but whose subject still has a key: the process
/// stopped between marking the request completed and erasing (the key goes last). Run by the
/// housekeeping job; answers how many it finished.
pub async fn finish_interrupted_erasures(state: &Context, since: i64) -> Result<usize, AppError> {
    let mut finished = 0;
    for r in state.store.completed_erasures_since(since).await? {
        let subject = subject_of(&r)?;
        if state.keyring.has_key(&subject).await? {
            if let Err(e) = crate::notices::plan_erasure_notice(state, &r).await {
                tracing::warn!(request = %r.id, error = %e, "the recipients of an erasure could not be planned");
            }
            erase_own_data(state, subject, &r).await?;
            finished += 1;
        }
    }
    Ok(finished)
}

/// Objection (GDPR Art. 21): direct marketing stops at once, so every consent purpose that
/// the policy counts as direct marketing (`Purpose::is_direct_marketing`) is withdrawn.
async fn withdraw_objected(state: &Context, subject: SubjectRef) -> Result<(), AppError> {
    let purposes: Vec<String> = state
        .policy
        .consent_purposes()
        .filter(|p| p.is_direct_marketing())
        .map(|p| p.id.clone())
        .collect();
    let version = state.policy.policy.version.clone();
    let lang = state.language(None);
    recording::record(
        state,
        recording::Request {
            subject,
            choices: purposes
                .into_iter()
                .map(|purpose| Wanted {
                    purpose,
                    given: false,
                    source: Source::Request,
                })
                .collect(),
            policy_version: &version,
            language: &lang,
            ip_truncated: None,
            method: Source::Request,
            identity: None,
        },
    )
    .await?;
    Ok(())
}

/// Erasure of what Custodian itself holds about the subject, keeping what the law requires:
/// the fact and dates of each request (accountability) and the consent ledger (which holds
/// only keyed references and proves past consent).
async fn erase_own_data(
    state: &Context,
    subject: SubjectRef,
    done: &RequestRow,
) -> Result<(), AppError> {
    let hex = subject.to_hex();
    state.store.delete_consent_state(&hex).await?;
    state.store.delete_links(&hex).await?;
    state.consents.forget(&subject);
    state.forget_links(&subject);
    state.store.delete_objections(&hex).await?;
    // As every node recomputes it from the facts (`standing_sync`): the objections are gone;
    // what still stands (a closed account, a restriction request still open) stays.
    let facts = state.store.standing_facts(&hex).await?;
    crate::standing_sync::apply(state, &hex, &facts);
    let requests = state.store.requests_of_subject(&hex).await?;
    // Mail already sent is forgotten; the completion mail just queued is still delivered.
    let earlier: Vec<String> = requests
        .iter()
        .filter(|r| r.id != done.id)
        .map(|r| r.id.clone())
        .collect();
    state.store.forget_mail_to(&earlier).await?;
    for r in requests {
        let status = r.status;
        if !status.is_final() {
            continue;
        }
        let mut blank = r.clone();
        blank.email_sealed = String::new();
        blank.details_sealed = None;
        blank.updated_at = state.clock.now_micros().max(r.updated_at + 1);
        let entry = (r.id == done.id).then(|| custodian_store::requests::HistoryEntry {
            at: blank.updated_at,
            actor: "system".into(),
            action: "erase".into(),
            from_status: Some(r.status.clone()),
            to_status: r.status.clone(),
            detail_sealed: None,
        });
        state
            .store
            .update_request(&r, &blank, entry.as_ref(), &[])
            .await?;
    }
    // Last, the key: every copy of what was sealed under it — backups, replicas, a stolen
    // file — is unreadable from now on, including other requests of the subject's still open.
    state.store.delete_subject_identities(&hex).await?;
    state.store.forget_notice_preferences(&hex).await?;
    state.keyring.destroy(&subject).await?;
    tracing::info!(request = %done.id, "erased the subject's data held by Custodian");
    Ok(())
}
