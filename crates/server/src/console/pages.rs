//! The console's reading pages: consent look-up (and ledger verification on demand), the
//! policy and the changes between its versions, datastores and their runs, and retention with
//! legal holds placed and lifted here. Look-ups by a person's identifier are POSTed, so the
//! identifier never appears in a URL, a log line or the browser's history.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use custodian_app::holds::{self, HoldSubject, NewHold};
use custodian_core::staff::StaffRole;
use custodian_core::subject::{IdKind, SubjectId};
use minijinja::{context, Value};

use super::audit::console_audit;
use super::auth::{self, Staff};
use super::text::texts;
use super::{field, render, Fields};
use crate::error::ApiError;
use crate::state::{AppState, SharedState};

type FormResult = Result<Form<Fields>, axum::extract::rejection::FormRejection>;

fn when(state: &AppState, micros: i64) -> String {
    custodian_app::requests::human_time(state, micros)
}

fn show(
    staff: &Staff,
    template: &str,
    here: &str,
    title: &str,
    status: StatusCode,
    vars: Value,
) -> Response {
    let vars = context! { csrf => staff.csrf.clone(), ..vars };
    render::respond(
        status,
        render::page(Some(staff), staff.lang, template, here, title, vars),
        Vec::new(),
    )
}

/// What a consent look-up found, for the page.
async fn lookup(state: &AppState, kind: IdKind, raw: &str) -> Result<Option<Value>, ApiError> {
    let Ok(id) = SubjectId::parse(kind, raw) else {
        return Ok(None);
    };
    let subject = state.hasher.reference(&id);
    let view = custodian_app::consent::view(state, &subject).await?;
    let events = custodian_app::console::consent_history(state, &subject).await?;
    let choices: Vec<Value> = view
        .purposes
        .iter()
        .map(|p| {
            context! {
                purpose => p.purpose,
                given => p.given,
                at => p.at,
                source => p.source,
                version => p.policy_version,
                reask => p.must_reask,
            }
        })
        .collect();
    let history: Vec<Value> = events
        .iter()
        .rev()
        .map(|e| {
            context! {
                at => when(state, e.created_at),
                purpose => e.purpose,
                given => e.given,
                source => e.source.as_str(),
                version => e.policy_version,
                receipt => e.receipt_id,
                chain => e.link.chain,
                seq => e.link.seq,
            }
        })
        .collect();
    Ok(Some(
        context! { choices => choices, history => history, reference => subject.to_hex() },
    ))
}

/// The consent look-up form (and the ledger's verification).
#[utoipa::path(get, path = "/console/consent", tag = "console",
    responses((status = 200, description = "The look-up form", content_type = "text/html"), (status = 303, description = "Not signed in")))]
pub async fn consent(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let staff = match auth::staff(&state, &headers, field(&q, "lang"), StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = texts(staff.lang);
    show(
        &staff,
        "consent.html",
        "/console/consent",
        t.consent,
        StatusCode::OK,
        context! { by => "email" },
    )
}

/// Looks a person up by e-mail address, user id or device id (POSTed: no identifier in URLs).
#[utoipa::path(post, path = "/console/consent", tag = "console",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `by` (email, user_id, device_id), `id`"),
    responses((status = 200, description = "Current choices and the ledger history", content_type = "text/html"),
        (status = 403, description = "The CSRF or origin check failed", content_type = "text/html"),
        (status = 422, description = "Not a valid identifier of that kind", content_type = "text/html")))]
pub async fn consent_lookup(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = texts(staff.lang);
    let by = field(&fields, "by").unwrap_or("email");
    let kind = match by {
        "user_id" => IdKind::UserId,
        "device_id" => IdKind::DeviceId,
        _ => IdKind::Email,
    };
    match lookup(&state, kind, field(&fields, "id").unwrap_or("")).await {
        Ok(Some(found)) => {
            console_audit(&state, staff.id(), "consent_lookup", "-");
            show(
                &staff,
                "consent.html",
                "/console/consent",
                t.consent,
                StatusCode::OK,
                context! { by => by, found => found },
            )
        }
        Ok(None) => show(
            &staff,
            "consent.html",
            "/console/consent",
            t.consent,
            StatusCode::UNPROCESSABLE_ENTITY,
            context! { by => by, invalid => true },
        ),
        Err(e) => render::failure(&state, staff.lang, &e),
    }
}

/// Walks every chain of the consent ledger and its checkpoints now.
#[utoipa::path(post, path = "/console/consent/verify", tag = "console",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    responses((status = 200, description = "The verification's result", content_type = "text/html"), (status = 403, description = "The CSRF or origin check failed", content_type = "text/html")))]
pub async fn verify_ledger(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = texts(staff.lang);
    let report = match custodian_app::console::verify_ledger(&state).await {
        Ok(r) => r,
        Err(e) => return render::failure(&state, staff.lang, &e.into()),
    };
    console_audit(&state, staff.id(), "ledger_verify", "-");
    let text = match &report.first_break {
        None => t
            .ledger_ok
            .replace("{events}", &report.events_checked.to_string())
            .replace("{chains}", &report.chains.to_string())
            .replace("{checkpoints}", &report.checkpoints_checked.to_string()),
        Some(b) => t.ledger_broken.replace("{detail}", b),
    };
    let ledger = context! { ok => report.ok(), text => text };
    show(
        &staff,
        "consent.html",
        "/console/consent",
        t.consent,
        StatusCode::OK,
        context! { by => "email", ledger => ledger },
    )
}

/// The active policy, the earlier versions on record, and the changes between two of them.
#[utoipa::path(get, path = "/console/policy", tag = "console",
    params(("from" = Option<String>, Query, description = "An earlier version"), ("to" = Option<String>, Query)),
    responses((status = 200, description = "The policy page", content_type = "text/html"), (status = 303, description = "Not signed in")))]
pub async fn policy(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let staff = match auth::staff(&state, &headers, field(&q, "lang"), StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = texts(staff.lang);
    let active = state.policy.policy.version.clone();
    let mut versions: Vec<String> = state.versions.keys().cloned().collect();
    versions.sort();
    let mut all = versions.clone();
    all.push(active.clone());
    let from = field(&q, "from")
        .map(str::to_owned)
        .or_else(|| versions.last().cloned());
    let to = field(&q, "to")
        .map(str::to_owned)
        .unwrap_or_else(|| active.clone());
    let changes = from.as_deref().and_then(|f| {
        let (old, new) = (state.policy_of(f)?, state.policy_of(&to)?);
        Some(
            custodian_policy::diff::diff(old, new)
                .into_iter()
                .map(|c| context! { path => c.path, kind => format!("{:?}", c.kind).to_lowercase(), material => c.material, summary => c.summary })
                .collect::<Vec<_>>(),
        )
    });
    let purposes: Vec<Value> = state
        .policy
        .purposes
        .iter()
        .map(|p| context! { id => p.id, name => p.name, basis => p.legal_basis.id() })
        .collect();
    show(
        &staff,
        "policy.html",
        "/console/policy",
        t.policy,
        StatusCode::OK,
        context! {
            active => active,
            organisation => state.policy.policy.organisation,
            versions => all,
            from => from,
            to => to,
            changes => changes,
            purposes => purposes,
        },
    )
}

/// The company's datastores and recent runs.
#[utoipa::path(get, path = "/console/datastores", tag = "console",
    responses((status = 200, description = "Datastores and runs", content_type = "text/html"), (status = 303, description = "Not signed in")))]
pub async fn datastores(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let staff = match auth::staff(&state, &headers, field(&q, "lang"), StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = texts(staff.lang);
    let found = match custodian_app::console::datastores(&state, 50).await {
        Ok(x) => x,
        Err(e) => return render::failure(&state, staff.lang, &e.into()),
    };
    let all: Vec<Value> = found
        .stores
        .iter()
        .map(|d| context! { name => d.name, dataset => d.dataset_path, registered => (d.created_at > 0).then(|| when(&state, d.created_at)) })
        .collect();
    let runs: Vec<Value> = found
        .runs
        .iter()
        .map(|r| context! { id => r.id, kind => r.kind.as_str(), status => r.status.as_str(), request => r.request_id, at => when(&state, r.updated_at) })
        .collect();
    show(
        &staff,
        "datastores.html",
        "/console/datastores",
        t.datastores,
        StatusCode::OK,
        context! { stores => all, runs => runs },
    )
}

async fn retention_vars(state: &AppState) -> Result<Value, ApiError> {
    let holds = holds::list(state, true).await?;
    let purges = custodian_app::console::purges(state, 50).await?;
    Ok(context! {
        rules => state.policy.retention.iter().map(|r| context! {
            id => r.id, description => r.description, categories => r.categories.join(", "), keep_for => r.keep_for,
        }).collect::<Vec<_>>(),
        holds => holds.iter().map(|h| context! {
            id => h.id, matter => h.matter, category => h.category, subject => h.subject_ref.as_ref().map(|s| s.chars().take(12).collect::<String>()),
            reason => h.reason, placed => when(state, h.placed_at), lifted => h.lifted_at.map(|l| when(state, l)),
        }).collect::<Vec<_>>(),
        purges => purges.iter().map(|p| context! { rule => p.rule, at => when(state, p.purged_at), what => p.data, records => p.records }).collect::<Vec<_>>(),
    })
}

/// Retention rules, legal holds and recent purges.
#[utoipa::path(get, path = "/console/retention", tag = "console",
    responses((status = 200, description = "Retention and holds", content_type = "text/html"), (status = 303, description = "Not signed in")))]
pub async fn retention(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let staff = match auth::staff(&state, &headers, field(&q, "lang"), StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match retention_vars(&state).await {
        Ok(vars) => show(
            &staff,
            "retention.html",
            "/console/retention",
            texts(staff.lang).retention,
            StatusCode::OK,
            context! { may_act => staff.role().allows(StaffRole::Dpo), ..vars },
        ),
        Err(e) => render::failure(&state, staff.lang, &e),
    }
}

/// Places a legal hold (on a matter or a data category) through `app::holds::place`.
#[utoipa::path(post, path = "/console/retention/holds", tag = "console",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `matter`, `category`, `reason`"),
    responses((status = 303, description = "Placed"), (status = 403, description = "Refused", content_type = "text/html"), (status = 422, description = "A field is wrong", content_type = "text/html")))]
pub async fn place_hold(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Dpo).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let new = NewHold {
        subject: HoldSubject::None,
        category: field(&fields, "category"),
        matter: field(&fields, "matter"),
        reason: field(&fields, "reason").unwrap_or(""),
    };
    match holds::place(&state, new, staff.id()).await {
        Ok(h) => {
            console_audit(&state, staff.id(), "hold_place", &h.id);
            render::see_other("/console/retention", Vec::new())
        }
        Err(e) => render::failure(&state, staff.lang, &e.into()),
    }
}

/// Lifts a legal hold.
#[utoipa::path(post, path = "/console/retention/holds/{id}/lift", tag = "console", params(("id" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `reason`"),
    responses((status = 303, description = "Lifted"), (status = 403, description = "Refused", content_type = "text/html"), (status = 404, description = "No such hold", content_type = "text/html")))]
pub async fn lift_hold(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Dpo).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match holds::lift(&state, &id, staff.id(), field(&fields, "reason")).await {
        Ok(()) => {
            console_audit(&state, staff.id(), "hold_lift", &id);
            render::see_other("/console/retention", Vec::new())
        }
        Err(e) => render::failure(&state, staff.lang, &e.into()),
    }
}
