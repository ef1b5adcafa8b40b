//! The access export of Custodian's own data about a subject: every consent with its receipt
//! and ledger proof, every request with its history, and every notice sent — as the archive
//! the requester downloads and the DPO can fetch (byte-identical for both).

use std::collections::BTreeMap;

use custodian_core::archive::{self, Table};
use custodian_core::clock::rfc3339;
use custodian_core::receipt::{self, Choice, ReceiptInput};
use custodian_store::requests::RequestRow;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// Builds the archive for the subject of `request`.
pub async fn archive(state: &AppState, request: &RequestRow) -> Result<Vec<u8>, ApiError> {
    let subject = &request.subject_ref;
    let sref = custodian_core::subject::SubjectRef::from_hex(subject).ok_or_else(|| {
        ApiError::Internal(format!(
            "request {} has a malformed subject reference",
            request.id
        ))
    })?;
    let events = state.store.subject_events(&sref).await?;
    let current = state.store.consent_state_of(&sref).await?;
    let requests = state.store.requests_of_subject(subject).await?;

    // Receipts, rebuilt from the events that carry their id.
    let mut by_receipt: BTreeMap<&str, Vec<&custodian_core::ledger::ConsentEvent>> = BTreeMap::new();
    for e in &events {
        by_receipt.entry(e.receipt_id.as_str()).or_default().push(e);
    }
    let receipts: Vec<Value> = by_receipt
        .iter()
        .filter(|(id, _)| !id.is_empty())
        .map(|(id, evs)| {
            let first = evs[0];
            let policy = state
                .policy_of(&first.policy_version)
                .unwrap_or(&state.policy);
            serde_json::to_value(receipt::build(
                policy,
                ReceiptInput {
                    receipt_id: id,
                    at_micros: first.created_at,
                    source: first.source.as_str(),
                    subject_ref: subject,
                    language: &request.language,
                    jurisdiction: "EU GDPR / UK GDPR",
                    choices: evs
                        .iter()
                        .map(|e| Choice {
                            purpose: &e.purpose,
                            given: e.given,
                            notice_hash: e.notice_hash.as_deref(),
                            event_id: &e.id,
                            event_hash: &e.link.hash,
                        })
                        .collect(),
                },
            ))
            .unwrap_or(Value::Null)
        })
        .collect();

    let mut request_values = Vec::new();
    let mut notice_rows = Vec::new();
    let mut request_rows = Vec::new();
    for r in &requests {
        let history = state.store.request_history(&r.id).await?;
        let mails = state.store.mail_for_request(&r.id).await?;
        for m in &mails {
            notice_rows.push(vec![
                r.id.clone(),
                m.template.clone(),
                m.lang.clone(),
                rfc3339(m.created_at),
                m.sent_at.map(rfc3339).unwrap_or_default(),
            ]);
        }
        request_rows.push(vec![
            r.id.clone(),
            r.kind.as_str().to_owned(),
            r.status.as_str().to_owned(),
            rfc3339(r.received_at),
            r.verified_at.map(rfc3339).unwrap_or_default(),
            rfc3339(r.answer_due),
            r.completed_at.map(rfc3339).unwrap_or_default(),
        ]);
        request_values.push(json!({
            "id": r.id, "type": r.kind, "status": r.status, "received_at": rfc3339(r.received_at),
            "verified_at": r.verified_at.map(rfc3339), "answer_due": rfc3339(r.answer_due),
            "completed_at": r.completed_at.map(rfc3339), "jurisdiction": r.jurisdiction,
            "history": history.iter().map(|h| json!({ "at": rfc3339(h.at), "action": h.action, "status": h.to_status })).collect::<Vec<_>>(),
            "notices_sent": mails.iter().map(|m| json!({ "template": m.template, "language": m.lang, "queued_at": rfc3339(m.created_at), "sent_at": m.sent_at.map(rfc3339) })).collect::<Vec<_>>(),
        }));
    }

    // What the company's own datastores hold, read through the connectors, by category.
    let company = super::company::access(state, request).await?;
    let mut by_category: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for r in &company {
        let cell = |k: &str| {
            r.get(k)
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                })
                .unwrap_or_default()
        };
        by_category.entry(cell("category")).or_default().push(vec![
            cell("datastore"),
            cell("table"),
            cell("key"),
            r.get("fields").map(|f| f.to_string()).unwrap_or_default(),
        ]);
    }

    let consent_rows: Vec<Vec<String>> = current
        .iter()
        .map(|c| {
            vec![
                c.purpose.clone(),
                c.given.to_string(),
                rfc3339(c.updated_at),
                c.source.as_str().to_owned(),
                c.policy_version.clone(),
                c.notice_hash.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let event_rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                e.purpose.clone(),
                e.given.to_string(),
                e.source.as_str().to_owned(),
                rfc3339(e.created_at),
                e.policy_version.clone(),
                e.link.hash.clone(),
            ]
        })
        .collect();

    let export = json!({
        "subject_ref": subject,
        "controller": state.policy.policy.organisation,
        "policy_version": state.policy.policy.version,
        "consents": current.iter().map(|c| json!({
            "purpose": c.purpose, "given": c.given, "at": rfc3339(c.updated_at), "source": c.source,
            "policy_version": c.policy_version, "notice_hash": c.notice_hash })).collect::<Vec<_>>(),
        "consent_events": events.iter().map(|e| json!({
            "id": e.id, "purpose": e.purpose, "given": e.given, "source": e.source, "at": rfc3339(e.created_at),
            "policy_version": e.policy_version, "notice_hash": e.notice_hash, "ip_truncated": e.ip_truncated,
            "receipt_id": e.receipt_id, "chain": e.link.chain, "seq": e.link.seq, "hash": e.link.hash })).collect::<Vec<_>>(),
        "receipts": receipts,
        "requests": request_values,
        "company_data": company,
    });
    let meta = json!({
        "request_id": request.id,
        "generated_for": "access request (GDPR Art. 15 and 20)",
        "controller": state.policy.policy.organisation,
        "contact": state.policy.contacts.dpo_email,
        "sources": ["Custodian's own records: consents, requests and notices", "the company's datastores registered with Custodian (company_*.csv, one per data category)"],
    });
    let mut tables = vec![
        Table {
            name: "consents".into(),
            columns: cols(&[
                "purpose",
                "given",
                "at",
                "source",
                "policy_version",
                "notice_hash",
            ]),
            rows: consent_rows,
        },
        Table {
            name: "consent_events".into(),
            columns: cols(&[
                "id",
                "purpose",
                "given",
                "source",
                "at",
                "policy_version",
                "hash",
            ]),
            rows: event_rows,
        },
        Table {
            name: "requests".into(),
            columns: cols(&[
                "id",
                "type",
                "status",
                "received_at",
                "verified_at",
                "answer_due",
                "completed_at",
            ]),
            rows: request_rows,
        },
        Table {
            name: "notices".into(),
            columns: cols(&["request_id", "template", "language", "queued_at", "sent_at"]),
            rows: notice_rows,
        },
    ];
    for (category, rows) in by_category {
        tables.push(Table {
            name: format!("company_{category}"),
            columns: cols(&["datastore", "table", "key", "fields"]),
            rows,
        });
    }
    Ok(archive::build(&meta, &export, &tables))
}

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}
