//! The rows of a consent import file (`custodian consent import`): a mailing tool's CSV export
//! read into ledger events, every bad row reported with its line and none of it kept.
//!
//! Pure (text in, events and messages out) so that the file's parser is fuzzed
//! (`crates/fuzz-targets`) with exactly the code the command runs.

use custodian_core::consent::Source;
use custodian_core::ids::Ids;
use custodian_core::subject::{IdKind, SubjectHasher, SubjectId};
use custodian_policy::Policy;
use custodian_store::consent::{NewEvent, Unlinked};

/// One valid row, ready to append.
pub struct Row {
    /// The row's line in the file, for messages about the batch it is written in.
    pub line: usize,
    pub event: NewEvent,
}

/// A file the import cannot read at all (as opposed to a bad row, which is reported and
/// skipped).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file has no header row: {0}")]
    NoHeader(#[from] csv::Error),
    #[error("the header needs one of the columns email, user_id, device_id")]
    NoIdentifierColumn,
    #[error("the header needs a `{0}` column")]
    MissingColumn(&'static str),
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "opt-in" | "subscribed" => Some(true),
        "false" | "no" | "n" | "0" | "opt-out" | "unsubscribed" => Some(false),
        _ => None,
    }
}

/// Parses every row; answers the valid rows and one message per bad row. `now` (µs) is when
/// a row without `at` was made, and no row may claim a later time; ids come from `ids`.
///
/// Kept whole: the columns are checked in the order a reader of the file checks them, each
/// adding its problem to the row's message.
pub fn parse_rows(
    policy: &Policy,
    hasher: &SubjectHasher,
    text: &str,
    now: i64,
    ids: &Ids,
) -> Result<(Vec<Row>, Vec<String>), FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let id_cols: Vec<(IdKind, usize)> = [
        (IdKind::Email, "email"),
        (IdKind::UserId, "user_id"),
        (IdKind::DeviceId, "device_id"),
    ]
    .into_iter()
    .filter_map(|(k, n)| col(n).map(|i| (k, i)))
    .collect();
    if id_cols.is_empty() {
        return Err(FileError::NoIdentifierColumn);
    }
    let purpose_col = col("purpose").ok_or(FileError::MissingColumn("purpose"))?;
    let given_col = col("given").ok_or(FileError::MissingColumn("given"))?;
    let (at_col, source_col, version_col) = (col("at"), col("source"), col("policy_version"));
    let known_versions = [policy.policy.version.as_str()];

    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map(|p| p.line() as usize)
            .unwrap_or(i + 2);
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                bad.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let field = |c: usize| record.get(c).unwrap_or("").trim();
        let mut problems = Vec::new();
        let ids_given: Vec<(IdKind, &str)> = id_cols
            .iter()
            .map(|(k, c)| (*k, field(*c)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let subject = match ids_given.as_slice() {
            [(kind, value)] => match SubjectId::parse(*kind, value) {
                Ok(id) => Some(hasher.reference(&id)),
                Err(e) => {
                    problems.push(format!("{}: {e}", kind.as_str()));
                    None
                }
            },
            [] => {
                problems.push("no subject identifier".into());
                None
            }
            _ => {
                problems.push("more than one subject identifier".into());
                None
            }
        };
        let purpose = field(purpose_col);
        match policy.purpose(purpose) {
            Some(p) if p.is_consent() => {}
            Some(_) => problems.push(format!("purpose `{purpose}` does not rest on consent")),
            None => problems.push(format!("unknown purpose `{purpose}`")),
        }
        let given = parse_bool(field(given_col));
        if given.is_none() {
            problems.push(format!(
                "`given` must be true or false, not `{}`",
                field(given_col)
            ));
        }
        let at = match at_col.map(field).filter(|s| !s.is_empty()) {
            None => Some(now),
            Some(s) => match s.parse::<jiff::Timestamp>() {
                Ok(t) if t.as_microsecond() <= now => Some(t.as_microsecond()),
                Ok(_) => {
                    problems.push(format!("`at` {s} is in the future"));
                    None
                }
                Err(_) => {
                    problems.push(format!("`at` must be an RFC 3339 timestamp, not `{s}`"));
                    None
                }
            },
        };
        let source = match source_col.map(field).filter(|s| !s.is_empty()) {
            None => Some(Source::Import),
            Some(s) => {
                let parsed = Source::parse(s);
                if parsed.is_none() {
                    problems.push(format!("unknown source `{s}`"));
                }
                parsed
            }
        };
        let version = version_col
            .map(field)
            .filter(|s| !s.is_empty())
            .unwrap_or(&policy.policy.version)
            .to_owned();
        if !known_versions.contains(&version.as_str()) {
            problems.push(format!("unknown policy version `{version}`"));
        }
        if !problems.is_empty() {
            bad.push(format!("line {line}: {}", problems.join("; ")));
            continue;
        }
        let (Some(subject), Some(given), Some(at), Some(source)) = (subject, given, at, source)
        else {
            continue;
        };
        rows.push(Row {
            line,
            event: NewEvent {
                id: ids.next("evt"),
                subject,
                purpose: purpose.to_owned(),
                given,
                source,
                // The mailing tool showed its own words, not ours: claiming our notice's
                // hash would be false evidence.
                notice_hash: None,
                policy_version: version,
                ip_truncated: None,
                receipt_id: String::new(),
                created_at: at,
                link: Unlinked,
            },
        });
    }
    Ok((rows, bad))
}
