//! Shared helpers: a device id, a consent body, and a decision asked over HTTP.

use crate::common::TestApp;
use serde_json::{json, Value};

pub(crate) const DEVICE: &str = "dev_0123456789abcdef";

pub(crate) fn choice(subject: Value, choices: Value) -> Value {
    json!({ "subject": subject, "choices": choices, "policy_version": "2018-05-25", "source": "banner", "language": "de" })
}

pub(crate) async fn decide(app: &TestApp, subject: Value, purpose: &str, gpc: bool) -> Value {
    let body = json!({ "subject": subject, "purpose": purpose, "country": "DE" });
    let extra: &[(&str, &str)] = if gpc { &[("sec-gpc", "1")] } else { &[] };
    app.post_raw("/v1/decide", Some(&app.service), body.to_string(), extra)
        .await
        .body
}
