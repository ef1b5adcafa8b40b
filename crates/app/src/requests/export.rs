//! The access export of Custodian's own data about a subject: every consent with its receipt
//! and ledger proof, every request with its history, and every notice sent — with what the
//! company's datastores hold — as the archive the requester downloads and the DPO can fetch
//! (byte-identical for both).
//!
//! Archives of any size: the company's records flow from the connectors' row streams into
//! unnamed temporary files (one per data category, JSON lines, removed from the directory as
//! soon as they are created, so nothing is left behind even if the process dies), then from
//! those into the ZIP, which is itself written to such a file and handed to the caller to
//! stream. Memory stays flat in the number of rows: a subject with a million rows costs disk
//! for a moment, not memory. The temporary files are under `$TMPDIR`, readable only by
//! Custodian's user (mode 0600).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};

use custodian_connectors::access::AccessRecord;
use custodian_connectors::ConnectorError;

use custodian_core::archive::{self, csv_row, Table, ZipStream};
use custodian_core::clock::rfc3339;
use custodian_core::ledger::ConsentEvent;
use custodian_store::consent::StateRow;
use custodian_store::requests::RequestRow;
use serde_json::{json, Value};

use crate::context::Context;
use crate::error::AppError;
use crate::receipts;

/// A built archive: an unnamed temporary file (rewound) and its length, for the caller to
/// stream. The file goes when it is dropped.
pub struct Archive {
    pub file: File,
    pub len: u64,
}

/// The archive of request `id` for the DPO (`actor`): the same bytes the requester gets,
/// recorded in the audit trail — a download of someone's data is an administrative act.
pub async fn archive_for_dpo(state: &Context, id: &str, actor: &str) -> Result<Archive, AppError> {
    let request = super::load(state, id).await?;
    let archive = archive(state, &request).await?;
    crate::audit::record(
        &state.store,
        actor,
        crate::audit::Action::RequestExported,
        id,
    )
    .await?;
    Ok(archive)
}

/// Builds the archive for the subject of `request`.
///
/// Kept whole: the archive's layout — every table and field the requester receives — reads in
/// one place; the parts that read and shape rows are the functions below.
pub async fn archive(state: &Context, request: &RequestRow) -> Result<Archive, AppError> {
    let subject = &request.subject_ref;
    let sref = custodian_core::subject::SubjectRef::from_hex(subject).ok_or_else(|| {
        AppError::Internal(format!(
            "request {} has a malformed subject reference",
            request.id
        ))
    })?;
    let events = state.store.subject_events(&sref).await?;
    let current = state.store.consent_state_of(&sref).await?;
    let requests = state.store.requests_of_subject(subject).await?;
    // Disclosures to authorities about them, unless withheld with a reason on record.
    let disclosures = crate::disclosures::about(state, subject).await?;

    // Receipts, rebuilt from the events that carry their id.
    let mut by_receipt: BTreeMap<&str, Vec<&custodian_core::ledger::ConsentEvent>> =
        BTreeMap::new();
    for e in &events {
        by_receipt.entry(e.receipt_id.as_str()).or_default().push(e);
    }
    let receipts: Vec<Value> = by_receipt
        .iter()
        .filter(|(id, _)| !id.is_empty())
        .map(|(id, evs)| {
            serde_json::to_value(receipts::rebuild(state, id, evs, Some(&request.language)))
                .unwrap_or(Value::Null)
        })
        .collect();

    let (request_values, request_rows, notice_rows) = requests_part(state, &requests).await?;

    // What the company's own datastores hold, read through the connectors, by category:
    // spooled as it is read, never collected.
    let company = spool_company(state, request).await?;
    let (consent_rows, event_rows) = consent_rows(&current, &events);

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
        "disclosures_to_authorities": disclosures.iter().map(|d| json!({
            "id": d.id, "recipient": d.recipient, "authority_kind": d.authority_kind.as_str(),
            "legal_basis": d.legal_basis, "reference": d.reference, "categories": d.categories,
            "disclosed_at": rfc3339(d.disclosed_at) })).collect::<Vec<_>>(),
    });
    let meta = json!({
        "request_id": request.id,
        "generated_for": "access request (GDPR Art. 15 and 20)",
        "controller": state.policy.policy.organisation,
        "contact": state.policy.contacts.dpo_email,
        "sources": ["Custodian's own records: consents, requests, notices and disclosures to authorities (GDPR Art. 15(1)(c))", "the company's datastores registered with Custodian (company_*.csv, one per data category)"],
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
            name: "disclosures".into(),
            columns: cols(&[
                "id",
                "recipient",
                "authority_kind",
                "legal_basis",
                "reference",
                "categories",
                "disclosed_at",
            ]),
            rows: disclosures
                .iter()
                .map(|d| {
                    vec![
                        d.id.clone(),
                        d.recipient.clone(),
                        d.authority_kind.as_str().to_owned(),
                        d.legal_basis.clone(),
                        d.reference.clone(),
                        d.categories.join(" "),
                        rfc3339(d.disclosed_at),
                    ]
                })
                .collect(),
        },
        Table {
            name: "notices".into(),
            columns: cols(&["request_id", "template", "language", "queued_at", "sent_at"]),
            rows: notice_rows,
        },
    ];
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let id = request.id.clone();
    tokio::task::spawn_blocking(move || write_archive(&meta, &export, &tables, company))
        .await
        .map_err(|e| AppError::Internal(format!("the archive of {id}: {e}")))?
        .map_err(|e| AppError::Internal(format!("writing the archive of {id}: {e}")))
}

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

type Rows = Vec<Vec<String>>;

/// The subject's requests: as JSON (with history and notices) and as the `requests` and
/// `notices` tables.
async fn requests_part(
    state: &Context,
    requests: &[RequestRow],
) -> Result<(Vec<Value>, Rows, Rows), AppError> {
    let mut request_values = Vec::new();
    let mut notice_rows = Vec::new();
    let mut request_rows = Vec::new();
    for r in requests {
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

    Ok((request_values, request_rows, notice_rows))
}

/// A new file that no other process can open: created (mode 0600) under `$TMPDIR` and removed
/// from the directory at once; it lives while it is open.
fn scratch_file() -> io::Result<File> {
    let dir = std::env::temp_dir();
    loop {
        let path = dir.join(format!("custodian-export-{:016x}", rand::random::<u64>()));
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(file) => {
                std::fs::remove_file(&path)?;
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The company's records of one access as the connectors stream them: one JSON line each, in
/// a scratch file per data category.
#[derive(Default)]
struct Spool {
    categories: BTreeMap<String, BufWriter<File>>,
}

impl Spool {
    fn record(&mut self, r: &AccessRecord<'_>) -> Result<(), ConnectorError> {
        let sink = |e: io::Error| ConnectorError::Sink(e.to_string());
        if !self.categories.contains_key(r.category) {
            let file = scratch_file().map_err(sink)?;
            self.categories
                .insert(r.category.to_owned(), BufWriter::new(file));
        }
        let w = self.categories.get_mut(r.category).expect("just inserted");
        serde_json::to_writer(&mut *w, r).map_err(|e| ConnectorError::Sink(e.to_string()))?;
        w.write_all(b"\n").map_err(sink)
    }

    /// Each category's file, rewound for reading.
    fn into_files(self) -> io::Result<Vec<(String, File)>> {
        self.categories
            .into_iter()
            .map(|(category, w)| {
                let mut f = w.into_inner().map_err(|e| e.into_error())?;
                f.rewind()?;
                Ok((category, f))
            })
            .collect()
    }
}

/// Reads every company datastore for the requester into a [`Spool`]. An error names the
/// datastores that failed: an export is never silently missing the company's data.
async fn spool_company(
    state: &Context,
    request: &RequestRow,
) -> Result<Vec<(String, File)>, AppError> {
    let mut spool = Spool::default();
    let mut sink = |r: &AccessRecord<'_>| spool.record(r);
    super::company::access_run(state, request, Some(&mut sink))
        .await
        .map_err(|e| AppError::Internal(format!("access run for {}: {e}", request.id)))?;
    spool
        .into_files()
        .map_err(|e| AppError::Internal(format!("access run for {}: {e}", request.id)))
}

/// Writes the archive to a scratch file: `export.json` (Custodian's records, then the
/// company's as they were read), a CSV per table — the company's per data category — and
/// `manifest.json` last, with the size and SHA-256 of every file.
fn write_archive(
    meta: &Value,
    export: &Value,
    tables: &[Table],
    mut company: Vec<(String, File)>,
) -> io::Result<Archive> {
    let mut zip = ZipStream::new(BufWriter::with_capacity(256 * 1024, scratch_file()?));
    let mut e = zip.entry("export.json")?;
    let head = serde_json::to_vec_pretty(export).map_err(io::Error::other)?;
    // The object without its closing brace, then the company's records as one more member.
    e.write_all(head.strip_suffix(b"\n}").unwrap_or(&head))?;
    e.write_all(b",\n  \"company_data\": [")?;
    let mut first = true;
    for (_, file) in &mut company {
        for line in BufReader::new(&mut *file).lines() {
            e.write_all(if first { b"\n    " } else { b",\n    " })?;
            e.write_all(line?.as_bytes())?;
            first = false;
        }
        file.rewind()?;
    }
    e.write_all(if first { b"]\n}" } else { b"\n  ]\n}" })?;
    e.finish()?;
    // `company_…` sorts before Custodian's own tables, as the files of the archive always have.
    for (category, file) in company {
        let mut e = zip.entry(&format!("company_{category}.csv"))?;
        csv_row(&mut e, &["datastore", "table", "key", "fields"])?;
        for line in BufReader::new(file).lines() {
            let r: Value = serde_json::from_str(&line?).map_err(io::Error::other)?;
            let cell = |k: &str| match r.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            };
            let fields = r.get("fields").map(Value::to_string).unwrap_or_default();
            csv_row(
                &mut e,
                &[cell("datastore"), cell("table"), cell("key"), fields],
            )?;
        }
        e.finish()?;
    }
    for t in tables {
        let mut e = zip.entry(&format!("{}.csv", t.name))?;
        t.write_csv(&mut e)?;
        e.finish()?;
    }
    let manifest = archive::manifest(meta, zip.files());
    zip.add("manifest.json", &manifest)?;
    let mut file = zip.finish()?.into_inner().map_err(|e| e.into_error())?;
    let len = file.stream_position()?;
    file.rewind()?;
    Ok(Archive { file, len })
}

/// The `consents` (current state) and `consent_events` tables.
fn consent_rows(current: &[StateRow], events: &[ConsentEvent]) -> (Rows, Rows) {
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

    (consent_rows, event_rows)
}
