//! The audit trail over HTTP, for admins: the entries, filtered by time, actor and action
//! (`custodian_app::audit`). Reading the trail is not itself recorded.

use axum::extract::State;
use axum::http::HeaderMap;
use custodian_app::audit;
use custodian_core::clock::rfc3339;
use custodian_store::audit::AuditEntry;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::LateQuery;
use crate::state::SharedState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries at or after this time (RFC 3339).
    pub since: Option<String>,
    /// A token id, or `cli` for the command line.
    pub actor: Option<String>,
    /// An audited action, such as `request.approved` (docs/audit.md lists them).
    pub action: Option<String>,
    /// Entries after this sequence number (to page: the last `seq` of the previous page).
    pub after: Option<i64>,
    /// At most this many entries (default 100, at most 1,000).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryOut {
    /// The entry's place in the chain, from 1.
    pub seq: i64,
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<EntryOut>,
}

fn out(e: AuditEntry) -> EntryOut {
    EntryOut {
        seq: e.seq,
        at: rfc3339(e.at),
        id: e.id,
        actor: e.actor,
        action: e.action,
        object: e.object,
        detail: e.detail,
        prev_hash: e.prev_hash,
        hash: e.hash,
    }
}

/// The audit trail, oldest first.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "accountability", params(AuditQuery),
    security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    query: LateQuery,
) -> Result<axum::Json<AuditPage>, ApiError> {
    crate::auth::authorize(&state, &headers, &[]).await?;
    let q: AuditQuery = query.parse()?;
    let given = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let since = given(q.since)
        .map(|s| {
            s.parse::<jiff::Timestamp>()
                .map(|t| t.as_microsecond())
                .map_err(|_| {
                    ApiError::unprocessable(
                        "invalid_since",
                        "`since` must be an RFC 3339 time such as 2026-01-31T12:00:00Z",
                    )
                })
        })
        .transpose()?;
    let entries = audit::list_here(
        &state,
        audit::Query {
            since,
            actor: given(q.actor),
            action: given(q.action),
            after: q.after,
            limit: q.limit,
        },
    )
    .await?;
    Ok(axum::Json(AuditPage {
        entries: entries.into_iter().map(out).collect(),
    }))
}
