//! The audit trail of administrative acts: [`record`] is the one call every administrative
//! act makes once it has happened — a token created or revoked, a datastore added or removed,
//! a DPO's action on a request, a hold placed or lifted, a key rotation, an incident's step, a
//! disclosure — and [`list`] and [`verify`] read it back. The chain itself (hashing, linking,
//! the lock that keeps several nodes on one chain) is `custodian_store::audit`.
//!
//! What is *not* recorded, on purpose: `decide` and consent writes (they are the service
//! working, not someone administering it, and the consent ledger is their own proof), request
//! intake and verification by the requester, and background jobs. Nothing recorded is
//! personal: the actor is a token id (or [`CLI`] for the command line), the object an id
//! Custodian made (a request, hold, incident, disclosure or token id, a datastore's name),
//! and the detail a role, a kind or a count — never an address, a name or a free text.
//!
//! The entry is appended after the act commits, in a transaction of its own: an act is never
//! refused because of its audit entry, and a failed append is answered as an internal error
//! (and logged) so the operator sees it. A crash in between loses that one entry; the act's
//! own record (a request's history, a hold's row) still says who did it.

use custodian_store::audit::{AuditEntry, AuditFilter, AuditReport};
use custodian_store::Store;

pub use custodian_core::audit::Action;

use crate::error::AppError;

/// The actor of acts done from the command line (whoever can run `custodian` against the
/// database, which is the operator).
pub const CLI: &str = "cli";

/// Records one administrative act by `actor` on `object`.
pub async fn record(
    store: &Store,
    actor: &str,
    action: Action,
    object: &str,
) -> Result<AuditEntry, AppError> {
    append(store, actor, action, object, None).await
}

/// Files a console sign-in (`what` starting `sign_in`) or action in the trail without making
/// the page wait: the append runs as a task of its own, and a failure is logged. `actor` is
/// the console user's id (`-` before anyone is signed in), `object` the id acted on.
pub fn console(ctx: &crate::context::Context, actor: &str, what: &str, object: &str) {
    let action =
        if what.starts_with("sign_in") || what.starts_with("signin") || what.starts_with("login") {
            Action::ConsoleSignIn
        } else {
            Action::ConsoleAction
        };
    let (store, actor, what, object) = (
        ctx.store.clone(),
        actor.to_owned(),
        what.to_owned(),
        object.to_owned(),
    );
    tokio::spawn(async move {
        if let Err(e) = append(&store, &actor, action, &object, Some(&what)).await {
            tracing::error!(error = %e, "the audit trail could not record a console act");
        }
    });
}

/// [`record`] with a detail that is not personal (a role, a kind, a count).
pub async fn record_with(
    store: &Store,
    actor: &str,
    action: Action,
    object: &str,
    detail: &str,
) -> Result<AuditEntry, AppError> {
    append(store, actor, action, object, Some(detail)).await
}

async fn append(
    store: &Store,
    actor: &str,
    action: Action,
    object: &str,
    detail: Option<&str>,
) -> Result<AuditEntry, AppError> {
    // A last guard against a caller passing an address where an id belongs.
    if [actor, object, detail.unwrap_or_default()]
        .iter()
        .any(|v| v.contains('@'))
    {
        return Err(AppError::Internal(format!(
            "an audit entry for {} looked like it held an e-mail address; not recorded",
            action.as_str()
        )));
    }
    match store
        .append_audit(actor, action.as_str(), object, detail)
        .await
    {
        Ok(e) => Ok(e),
        Err(e) => {
            tracing::error!(action = action.as_str(), object, error = %e, "audit entry not recorded");
            Err(e.into())
        }
    }
}

/// What the DPO asks the trail for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub since: Option<i64>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

/// The entries a query selects, oldest first (at most 1,000; page with `after`).
/// [`list`] of the service's own trail (for the HTTP edge, which never names the store).
pub async fn list_here(
    ctx: &crate::context::Context,
    q: Query,
) -> Result<Vec<AuditEntry>, AppError> {
    list(&ctx.store, q).await
}

pub async fn list(store: &Store, q: Query) -> Result<Vec<AuditEntry>, AppError> {
    if let Some(a) = &q.action {
        if Action::parse(a).is_none() {
            return Err(AppError::Invalid {
                code: "unknown_action",
                detail: format!("`{a}` is not an audited action"),
                extra: Some(serde_json::json!({
                    "actions": Action::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>()
                })),
            });
        }
    }
    Ok(store
        .audit_entries(&AuditFilter {
            since: q.since,
            actor: q.actor,
            action: q.action,
            after: q.after,
            limit: q.limit.unwrap_or(100),
        })
        .await?)
}

/// Walks the whole trail; the report names the first bad entry.
pub async fn verify(store: &Store) -> Result<AuditReport, AppError> {
    Ok(store.verify_audit().await?)
}
