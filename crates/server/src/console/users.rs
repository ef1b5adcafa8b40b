//! Users and API tokens, for admins: add, disable, enable and change the role of console
//! users (through `app::users`, as `custodian user` does), create and revoke tokens (as
//! `custodian token` does; a new token is shown once, on the answer to its form).

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use custodian_core::staff::StaffRole;
use custodian_core::token::Role;
use minijinja::context;

use super::audit::console_audit;
use super::auth::{self, Staff};
use super::text::texts;
use super::{field, render, Fields};
use crate::state::{AppState, SharedState};

type FormResult = Result<Form<Fields>, axum::extract::rejection::FormRejection>;

async fn page(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    new_token: Option<String>,
    problem: Option<String>,
) -> Response {
    let t = texts(staff.lang);
    let (users, tokens) =
        match tokio::try_join!(state.users.list(), custodian_app::tokens::list(state)) {
            Ok(x) => x,
            Err(e) => return render::failure(state, staff.lang, &e.into()),
        };
    let when = |m: i64| custodian_app::requests::human_time(state, m);
    let vars = context! {
        csrf => staff.csrf.clone(),
        self_id => staff.id(),
        users => users.iter().map(|u| context! {
            id => u.id, email => u.email, role => u.role.as_str(), totp => u.totp, disabled => u.disabled, created => when(u.created_at),
        }).collect::<Vec<_>>(),
        tokens => tokens.iter().map(|k| context! {
            id => k.id, name => k.name, role => k.role.as_str(), revoked => k.revoked_at.is_some(), created => when(k.created_at),
        }).collect::<Vec<_>>(),
        new_token => new_token,
        problem => problem,
        roles => StaffRole::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    };
    render::respond(
        status,
        render::page(
            Some(staff),
            staff.lang,
            "users.html",
            "/console/users",
            t.users,
            vars,
        ),
        Vec::new(),
    )
}

/// Users and tokens.
#[utoipa::path(get, path = "/console/users", tag = "console",
    responses((status = 200, description = "Users and tokens (admins)", content_type = "text/html"), (status = 403, description = "Not an admin", content_type = "text/html")))]
pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    match auth::staff(&state, &headers, field(&q, "lang"), StaffRole::Admin).await {
        Ok(staff) => page(&state, &staff, StatusCode::OK, None, None).await,
        Err(r) => r,
    }
}

/// Adds a user.
#[utoipa::path(post, path = "/console/users", tag = "console",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `email`, `role`, `password`"),
    responses((status = 303, description = "Added"), (status = 403, description = "Not an admin, or the CSRF check failed", content_type = "text/html"),
        (status = 409, description = "A user has this address", content_type = "text/html"), (status = 422, description = "Not an address, or a short password", content_type = "text/html")))]
pub async fn add(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Admin).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let role = field(&fields, "role")
        .and_then(StaffRole::parse)
        .unwrap_or(StaffRole::Viewer);
    let password = fields
        .iter()
        .find(|(k, _)| k == "password")
        .map_or("", |(_, v)| v.as_str());
    match state
        .users
        .add(field(&fields, "email").unwrap_or(""), role, password)
        .await
    {
        Ok(u) => {
            console_audit(&state, staff.id(), "user_add", &u.id);
            render::see_other("/console/users", Vec::new())
        }
        Err(e) => {
            let e: crate::error::ApiError = e.into();
            page(&state, &staff, e.status(), None, Some(e.to_string())).await
        }
    }
}

/// `disable`, `enable`, or `role` (with `role`) for one user.
#[utoipa::path(post, path = "/console/users/{id}/{action}", tag = "console",
    params(("id" = String, Path), ("action" = String, Path, description = "disable, enable or role")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, and `role` for `role`"),
    responses((status = 303, description = "Done"), (status = 403, description = "Not an admin, or the CSRF check failed", content_type = "text/html"), (status = 404, description = "No such user or action", content_type = "text/html")))]
pub async fn act(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Admin).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let id = if id.starts_with("usr_") {
        id
    } else {
        String::new()
    };
    let done = match action.as_str() {
        "disable" if id != staff.id() => state.users.set_disabled(&id, true).await,
        "enable" => state.users.set_disabled(&id, false).await,
        "role" if id != staff.id() => match field(&fields, "role").and_then(StaffRole::parse) {
            Some(r) => state.users.set_role(&id, r).await,
            None => Err(custodian_app::AppError::invalid(
                "unknown_role",
                "the role is viewer, dpo or admin",
            )),
        },
        "disable" | "role" => Err(custodian_app::AppError::conflict(
            "own_account",
            "an admin cannot disable or demote themself here",
        )),
        _ => Err(custodian_app::AppError::NotFound),
    };
    match done {
        Ok(_) => {
            console_audit(&state, staff.id(), &format!("user_{action}"), &id);
            render::see_other("/console/users", Vec::new())
        }
        Err(e) => {
            let e: crate::error::ApiError = e.into();
            page(&state, &staff, e.status(), None, Some(e.to_string())).await
        }
    }
}

/// Creates an API token; its secret is on this answer only.
#[utoipa::path(post, path = "/console/tokens", tag = "console",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `name`, `role` (admin, dpo, service)"),
    responses((status = 201, description = "Created; the token is shown once", content_type = "text/html"), (status = 403, description = "Not an admin, or the CSRF check failed", content_type = "text/html")))]
pub async fn create_token(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Admin).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let role = field(&fields, "role")
        .and_then(Role::parse)
        .unwrap_or(Role::Service);
    let name: String = field(&fields, "name")
        .unwrap_or("unnamed")
        .chars()
        .take(100)
        .collect();
    match custodian_app::tokens::create(&state, &name, role).await {
        Ok((rec, secret)) => {
            console_audit(&state, staff.id(), "token_create", &rec.id);
            page(&state, &staff, StatusCode::CREATED, Some(secret), None).await
        }
        Err(e) => render::failure(&state, staff.lang, &e.into()),
    }
}

/// Revokes an API token.
#[utoipa::path(post, path = "/console/tokens/{id}/revoke", tag = "console", params(("id" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    responses((status = 303, description = "Revoked"), (status = 403, description = "Not an admin, or the CSRF check failed", content_type = "text/html")))]
pub async fn revoke_token(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Admin).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match custodian_app::tokens::revoke(&state, &id).await {
        Ok(_) => {
            console_audit(&state, staff.id(), "token_revoke", &id);
            render::see_other("/console/users", Vec::new())
        }
        Err(e) => render::failure(&state, staff.lang, &e.into()),
    }
}
