//! What operations answer besides their own answers, added to the document in one place.
//!
//! The errors a route can give because of the extractors it shares with others — a JSON body
//! (`extract::Json`: 400, 413, 415, 422), a bearer token (`auth::authorize`: 401, 403), a query
//! string (`extract::Query`: 400), a console page without a session (303) — are described here rather than on each handler, so
//! a new route cannot forget them. And every error answer of the API is described as what
//! `error.rs` sends: `application/problem+json` (RFC 9457 §3) with the `Problem` schema.

use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};

/// The media type of every problem document (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every operation of `item` with its method, in the order the document lists them.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("options", item.options.as_mut()),
        ("head", item.head.as_mut()),
        ("patch", item.patch.as_mut()),
        ("trace", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
}

/// Adds the shared answers, turns every JSON error answer into a problem document, and gives
/// each operation an id unique in the document (handlers in different modules share names).
pub fn complete(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations_mut(item) {
            add_shared_answers(path, op);
            for (status, answer) in op.responses.responses.iter_mut() {
                if let RefOr::T(answer) = answer {
                    as_problem(status, answer);
                }
            }
            op.operation_id = Some(operation_id(method, path));
        }
    }
}

/// `post /v1/consent/link` → `post_v1_consent_link`; `{id}` → `id`.
pub fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        id.push('_');
        id.extend(part.chars().map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => c,
            '{' | '}' => '\0',
            _ => '_',
        }));
        id.retain(|c| c != '\0');
    }
    id
}

fn add_shared_answers(path: &str, op: &mut Operation) {
    let json_body = op
        .request_body
        .as_ref()
        .is_some_and(|b| b.content.contains_key("application/json"));
    if json_body {
        add(op, "400", "The body is not JSON (`malformed_json`).");
        add(
            op,
            "413",
            "The body is larger than 64 KiB (`payload_too_large`).",
        );
        add(
            op,
            "415",
            "The body is not `application/json` (`unsupported_media_type`).",
        );
        add(
            op,
            "422",
            "The body does not have the documented shape, or a value is refused.",
        );
    }
    let bearer = op
        .security
        .iter()
        .flatten()
        .any(|s| serde_json::to_value(s).is_ok_and(|v| v.get("bearer").is_some()));
    if bearer {
        add(op, "401", "No valid bearer token (`unauthorized`).");
        add(
            op,
            "403",
            "The token's role may not call this route (`forbidden`).",
        );
    }
    let query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query));
    // The privacy centre's and the console's pages read their query leniently (a page, not
    // a refusal); every other route through `extract::Query`.
    let lenient = path.starts_with("/privacy-center") || path.starts_with("/console");
    if query && !lenient {
        add(
            op,
            "400",
            "The query string is not valid (`invalid_query`).",
        );
    }
    // Every console page but the sign-in sends a browser without a session to sign in.
    if path.starts_with("/console") && !path.starts_with("/console/login") {
        add(
            op,
            "303",
            "Not signed in, or the session ended: to `/console/login`.",
        );
    }
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(Response::new(description)));
}

/// An error answer described as JSON, or with no body, is a problem document.
fn as_problem(status: &str, answer: &mut Response) {
    if !status.starts_with(['4', '5']) {
        return;
    }
    let problem = Ref::from_schema_name("Problem").ref_location;
    let is_problem = |c: &Content| {
        matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location == problem) || c.schema.is_none()
    };
    let described_as_json = answer
        .content
        .get("application/json")
        .is_some_and(is_problem);
    if answer.content.is_empty() || described_as_json {
        answer.content.shift_remove("application/json");
        answer.content.insert(
            PROBLEM_JSON.to_owned(),
            Content::new(Some(Ref::from_schema_name("Problem"))),
        );
    }
    if answer.description.is_empty() {
        answer.description = format!("A problem document (RFC 9457), status {status}.");
    }
}
