//! The HTTP connector: a company service (helpdesk, mailing tool) that answers access,
//! erasure and rectification requests itself — and, where it declares an endpoint for them
//! (`crate::reach`), restriction, objection, consent withdrawal and the notice of an erasure
//! to a recipient (GDPR Art. 19), with the purposes or the recipient in the body.
//!
//! Custodian POSTs a JSON body to the configured endpoint, signed with HMAC-SHA256 under a
//! shared secret: `X-Custodian-Timestamp: <unix seconds>` and
//! `X-Custodian-Signature: v1=<hex of HMAC(secret, timestamp + "." + body)>`, plus an
//! `Idempotency-Key` (run id and step) so a retried step is recognisable. A 2xx answer is the
//! service's result: for access, `{"records": [{"category": .., "fields": {..}}]}` goes to the
//! export; for the others, the answer is recorded (truncated) in the run. Any other status is
//! a failure whose text is recorded and retried.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::access::{AccessRecord, AccessSink};
use crate::dataset::Dataset;
use crate::erase::Corrections;
use crate::graph::Identities;
use crate::ConnectorError;

#[derive(Serialize)]
struct Body<'a> {
    action: &'a str,
    run_id: &'a str,
    dry_run: bool,
    identities: &'a Identities,
    #[serde(skip_serializing_if = "Option::is_none")]
    corrections: Option<&'a Corrections>,
    /// Objection and consent withdrawal: the purposes it concerns.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    purposes: &'a [String],
    /// The Art. 19 notice of an erasure: the policy's recipient the service is.
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<&'a str>,
}

/// `v1=` and the hex HMAC-SHA256 of `timestamp.body`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// What the service answered, as recorded in the run.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    /// The answer body, cut at 2,000 characters; for access, only the record count.
    pub body: String,
}

/// The service's identities only: the kinds it declared it knows.
pub(crate) fn filtered(ds: &Dataset, identities: &Identities) -> Identities {
    let wanted = ds.http.as_ref().map(|h| &h.identities);
    identities
        .iter()
        .filter(|(k, _)| wanted.is_none_or(|w| w.is_empty() || w.contains(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Calls the service. `url` is the endpoint; `secret` the signing secret; `at_seconds` the
/// signature's timestamp, from the run's clock (the service checks it against its own clock to
/// refuse replays, so it must be the real time in production, which the injected clock is).
#[allow(clippy::too_many_arguments)]
pub async fn call(
    url: &str,
    secret: &[u8],
    at_seconds: i64,
    ds: &Dataset,
    action: &str,
    idempotency_key: &str,
    identities: &Identities,
    corrections: Option<&Corrections>,
    purposes: &[String],
    dry_run: bool,
    sink: Option<&mut dyn AccessSink>,
) -> Result<HttpAnswer, ConnectorError> {
    let ids = filtered(ds, identities);
    let recipient = ds.http.as_ref().and_then(|h| h.recipient.as_deref());
    let body = serde_json::to_vec(&Body {
        action,
        run_id: idempotency_key,
        dry_run,
        identities: &ids,
        corrections,
        purposes,
        recipient: recipient.filter(|_| action == "erasure_notice"),
    })
    .map_err(|e| ConnectorError::Http(e.to_string()))?;
    let ts = at_seconds;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| ConnectorError::Http(e.to_string()))?;
    // reqwest errors name the URL; keep only the kind of failure.
    let scrub = |e: reqwest::Error| {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        ConnectorError::Http(kind.to_owned())
    };
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-custodian-timestamp", ts.to_string())
        .header("x-custodian-signature", signature(secret, ts, &body))
        .header("idempotency-key", idempotency_key)
        .body(body)
        .send()
        .await
        .map_err(scrub)?;
    let status = answer.status().as_u16();
    let text = answer.text().await.map_err(scrub)?;
    if !(200..300).contains(&status) {
        return Err(ConnectorError::Http(format!(
            "the service answered {status}: {}",
            truncate(&text, 500)
        )));
    }
    if action == "access" {
        let parsed: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ConnectorError::Http(format!("the access answer is not JSON: {e}")))?;
        let records = parsed
            .get("records")
            .and_then(|r| r.as_array())
            .cloned()
            .unwrap_or_default();
        if let Some(sink) = sink {
            for r in &records {
                let category = r
                    .get("category")
                    .and_then(|c| c.as_str())
                    .unwrap_or("unspecified");
                let fields = r
                    .get("fields")
                    .and_then(|f| f.as_object())
                    .cloned()
                    .unwrap_or_default();
                sink.record(&AccessRecord {
                    datastore: &ds.name,
                    category,
                    table: "service",
                    key: None,
                    fields,
                })?;
            }
        }
        return Ok(HttpAnswer {
            status,
            body: format!("{} records", records.len()),
        });
    }
    Ok(HttpAnswer {
        status,
        body: truncate(&text, 2000),
    })
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
