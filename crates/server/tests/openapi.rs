//! The OpenAPI document (`GET /openapi.json`) against the code: it is valid OpenAPI 3.1, it
//! describes every route of the router and nothing else, every error answer is described as
//! the problem document `error.rs` sends, and no two schemas share a name (utoipa keeps one of
//! two same-named schemas silently: `/v1/consent/link` once showed the body of
//! `/v1/unsubscribe-links`). schemathesis checks the real binary against it
//! (`tests/schemathesis/run.sh`); the full meta-schema check is `openapi-spec-validator` there.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::to_value(custodian_server::openapi::document()).unwrap()
}

/// Every operation: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((m.to_owned(), path.clone(), op));
            }
        }
    }
    out
}

/// The (method, path) pairs the router's source declares: each `.route("path", get(…).post(…))`
/// of `lib.rs` and `assets.rs`, its arguments read up to the parenthesis that closes it.
fn router_routes() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for src in [
        include_str!("../src/lib.rs"),
        include_str!("../src/assets.rs"),
    ] {
        for chunk in src.split(".route(").skip(1) {
            let mut depth = 1;
            let end = chunk
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("a closed .route(");
            let args = &chunk[..end];
            let Some(rest) = args.trim_start().strip_prefix('"') else {
                continue;
            };
            let (path, handlers) = rest.split_once('"').unwrap();
            let mut found = false;
            for m in METHODS {
                let call = format!("{m}(");
                let named = handlers.match_indices(&call).any(|(i, _)| {
                    i == 0
                        || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && handlers.as_bytes()[i - 1] != b'_'
                });
                if named {
                    out.insert((m.to_owned(), path.to_owned()));
                    found = true;
                }
            }
            assert!(found, "no method found for route {path}: {handlers}");
        }
    }
    out
}

#[test]
fn every_route_of_the_router_is_documented_and_nothing_else() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let routed = router_routes();
    assert!(routed.len() >= 90, "found only {} routes", routed.len());
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
}

/// Everything a `$ref` in `v` points at, as JSON pointers.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// The rules of OpenAPI 3.1 a generator can break, each problem located.
fn problems(doc: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let version = doc["openapi"].as_str().unwrap_or("");
    if !version.starts_with("3.1.") {
        p.push(format!("`openapi` is {version:?}, not 3.1.x"));
    }
    for field in ["title", "version"] {
        if doc["info"][field].as_str().is_none_or(str::is_empty) {
            p.push(format!("info.{field} is missing"));
        }
    }
    let mut all_refs = Vec::new();
    refs(doc, &mut all_refs);
    for r in all_refs {
        let resolves = r
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
            .is_some();
        if !resolves {
            p.push(format!("$ref {r} does not resolve"));
        }
    }
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let schemes = doc["components"]["securitySchemes"].as_object();
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    for (method, path, op) in operations(doc) {
        let at = format!("{} {path}", method.to_uppercase());
        if !path.starts_with('/') {
            p.push(format!("{at}: a path starts with /"));
        }
        match op["operationId"].as_str() {
            None => p.push(format!("{at}: no operationId")),
            Some(id) => {
                if let Some(other) = ids.insert(id, at.clone()) {
                    p.push(format!("{at}: operationId {id} is also {other}'s"));
                }
            }
        }
        for tag in op["tags"].as_array().into_iter().flatten() {
            if !tag.as_str().is_some_and(|t| tags.contains(t)) {
                p.push(format!("{at}: tag {tag} is not declared"));
            }
        }
        for req in op["security"].as_array().into_iter().flatten() {
            for name in req.as_object().unwrap().keys() {
                if !schemes.is_some_and(|s| s.contains_key(name)) {
                    p.push(format!("{at}: security scheme {name} is not declared"));
                }
            }
        }
        p.extend(parameter_problems(&at, &path, op));
        p.extend(answer_problems(&at, op));
        if let Some(body) = op.get("requestBody") {
            p.extend(media_type_problems(&at, &body["content"]));
        }
    }
    p
}

fn parameter_problems(at: &str, path: &str, op: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let template: BTreeSet<&str> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect();
    let mut declared_path = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for param in op["parameters"].as_array().into_iter().flatten() {
        let (name, place) = (
            param["name"].as_str().unwrap_or(""),
            param["in"].as_str().unwrap_or(""),
        );
        if !seen.insert((name, place)) {
            p.push(format!("{at}: parameter {name} in {place} twice"));
        }
        if !["query", "path", "header", "cookie"].contains(&place) {
            p.push(format!("{at}: parameter {name} is in {place:?}"));
        }
        if place == "path" {
            declared_path.insert(name);
            if param["required"] != Value::Bool(true) {
                p.push(format!("{at}: path parameter {name} must be required"));
            }
        }
        if param.get("schema").is_none() && param.get("content").is_none() {
            p.push(format!("{at}: parameter {name} has no schema"));
        }
    }
    if template != declared_path {
        p.push(format!(
            "{at}: the path's parameters {template:?} are declared as {declared_path:?}"
        ));
    }
    p
}

fn answer_problems(at: &str, op: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let answers = op["responses"].as_object();
    if answers.is_none_or(|a| a.is_empty()) {
        p.push(format!("{at}: no responses"));
    }
    for (status, answer) in answers.into_iter().flatten() {
        let valid_status = status == "default"
            || status.len() == 3 && status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s));
        if !valid_status {
            p.push(format!("{at}: response key {status}"));
        }
        if !answer["description"].is_string() {
            p.push(format!("{at} {status}: no description"));
        }
        p.extend(media_type_problems(
            &format!("{at} {status}"),
            &answer["content"],
        ));
        // Error answers: a problem document (RFC 9457 §3), or the page of a page route.
        if status.starts_with(['4', '5']) {
            for (media, content) in answer["content"].as_object().into_iter().flatten() {
                match media.as_str() {
                    "application/problem+json" => {
                        if content["schema"]["$ref"] != "#/components/schemas/Problem" {
                            p.push(format!(
                                "{at} {status}: a problem without the Problem schema"
                            ));
                        }
                    }
                    "text/html" => {}
                    other => p.push(format!("{at} {status}: an error answer as {other}")),
                }
            }
        }
    }
    p
}

fn media_type_problems(at: &str, content: &Value) -> Vec<String> {
    content
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(media, _)| {
            let mut parts = media.split('/');
            let (kind, sub) = (parts.next(), parts.next());
            !(kind.is_some_and(|k| !k.is_empty())
                && sub.is_some_and(|s| !s.is_empty())
                && parts.next().is_none())
        })
        .map(|(media, _)| format!("{at}: media type {media:?}"))
        .collect()
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let found = problems(&document());
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_validity_check_finds_what_a_generator_breaks() {
    let mut doc = document();
    doc["paths"]["/v1/consent/link"]["post"]["operationId"] = "post_v1_decide".into();
    doc["paths"]["/v1/receipts/{id}"]["get"]["parameters"] = serde_json::json!([]);
    doc["paths"]["/v1/decide"]["post"]["responses"]["422"]["content"] = serde_json::json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Nope" } } });
    let found = problems(&doc).join("\n");
    for expected in [
        "operationId post_v1_decide is also",
        "the path's parameters {\"id\"} are declared as {}",
        "$ref #/components/schemas/Nope does not resolve",
        "POST /v1/decide 422: an error answer as application/json",
    ] {
        assert!(found.contains(expected), "{expected} not in:\n{found}");
    }
}

/// The schema a request body of `path` refers to, resolved.
fn request_schema<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let r = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        ["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{path} has a JSON body"));
    doc.pointer(r.strip_prefix('#').unwrap()).unwrap()
}

#[test]
fn a_device_link_and_an_unsubscribe_link_have_their_own_bodies() {
    let doc = document();
    let link = request_schema(&doc, "post", "/v1/consent/link");
    let unsubscribe = request_schema(&doc, "post", "/v1/unsubscribe-links");
    let names = |s: &Value| -> BTreeSet<String> {
        s["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        names(link),
        BTreeSet::from(["account".into(), "device_id".into()])
    );
    assert!(names(unsubscribe).contains("purpose") && names(unsubscribe).contains("subject"));
}

#[test]
fn every_error_answer_is_a_problem_document_and_shared_errors_are_described() {
    let doc = document();
    let answers = |m: &str, p: &str| doc["paths"][p][m]["responses"].as_object().unwrap().clone();
    // A JSON body and a bearer token: the extractors' answers are there.
    let decide = answers("post", "/v1/decide");
    for status in ["400", "401", "403", "413", "415", "422"] {
        assert_eq!(
            decide[status]["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem",
            "POST /v1/decide {status}"
        );
    }
    // A query string read through `extract::Query`.
    assert!(answers("get", "/v1/admin/holds").contains_key("400"));
    // A console page without a session.
    assert!(answers("get", "/console/users").contains_key("303"));
    // A page's error stays a page.
    assert!(
        answers("post", "/privacy-center/requests")["422"]["content"]
            .get("text/html")
            .is_some()
    );
}

#[tokio::test]
async fn the_served_document_is_this_one() {
    let app = common::TestApp::sqlite().await;
    let served = app.get("/openapi.json", None).await;
    assert_eq!(served.status, 200);
    assert!(served.content_type.starts_with("application/json"));
    assert_eq!(served.body, document());
}

#[tokio::test]
async fn a_bad_query_string_of_an_admin_route_is_refused_after_the_token_as_a_problem() {
    let app = common::TestApp::sqlite().await;
    // Without a token, nothing about the query is said.
    let anonymous = app.get("/v1/admin/holds?nope=1", None).await;
    common::assert_problem(&anonymous, 401, "unauthorized");
    assert!(!anonymous.text.contains("nope"));
    let dpo = app.get("/v1/admin/holds?all=maybe", Some(&app.dpo)).await;
    common::assert_problem(&dpo, 400, "invalid_query");
    assert_eq!(dpo.content_type, "application/problem+json");
}

/// Every `derive(… ToSchema …)` type of the crates whose types the document shows, by the
/// name utoipa gives it (its own, or `#[schema(as = …)]`'s last segment).
fn schema_types() -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for name in ["server", "app", "core", "policy", "store"] {
        walk(&crates.join(name).join("src"), &mut files);
    }
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            if !(line.starts_with("#[derive(") && line.contains("ToSchema")) {
                continue;
            }
            let mut alias = None;
            for next in &lines[i + 1..] {
                if let Some(a) = next.strip_prefix("#[schema(as = ") {
                    alias = a
                        .split([')', ','])
                        .next()
                        .map(|a| a.rsplit("::").next().unwrap().trim().to_owned());
                }
                let item = ["pub struct ", "struct ", "pub enum ", "enum "]
                    .iter()
                    .find_map(|k| next.strip_prefix(k));
                if let Some(item) = item {
                    let name: String = item
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    out.push((alias.unwrap_or(name), file.clone()));
                    break;
                }
            }
        }
    }
    out
}

#[test]
fn no_two_schemas_share_a_name() {
    let types = schema_types();
    assert!(types.len() > 40, "found {}", types.len());
    let mut by_name: BTreeMap<&str, Vec<&Path>> = BTreeMap::new();
    for (name, file) in &types {
        by_name.entry(name).or_default().push(file);
    }
    let shared: Vec<_> = by_name.iter().filter(|(_, f)| f.len() > 1).collect();
    assert!(shared.is_empty(), "schemas sharing a name: {shared:?}");
}
