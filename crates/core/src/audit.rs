//! The audit trail's hash chain: which administrative acts are recorded, how an entry is
//! hashed and linked, and how the chain is verified. Pure functions; the store persists what
//! they compute (`custodian_store::audit`), the application layer decides what is recorded
//! (`custodian_app::audit`).
//!
//! One chain, not several: administrative acts are rare (a DPO's clicks, a CLI command), so
//! one totally ordered chain costs nothing and proves the order of every act. Each entry's
//! hash covers its content, its sequence number and the previous entry's hash, so a row
//! changed, removed, inserted or moved breaks the chain at that row; the stored head (the last
//! sequence number and hash) catches rows cut from the end. GDPR Art. 5(2) (accountability)
//! and Art. 24(1) ask the controller to be able to *demonstrate* what it did; this is the
//! record it demonstrates with. No entry holds personal data in clear: the actor is a token
//! id (or `cli`, `system`), the object an id Custodian made.

use sha2::{Digest, Sha256};

/// The "previous hash" of the first entry.
pub use crate::ledger::GENESIS;

/// An administrative act, as recorded. The string forms (`token.created`, …) are stored and
/// filtered on; they never change once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    TokenCreated,
    TokenRevoked,
    DatastoreAdded,
    DatastoreRemoved,
    /// A subject's data read from the company's datastores from the command line.
    DatastoreAccess,
    /// An erasure or rectification run on the company's datastores from the command line.
    DatastoreErasure,
    DatastoreRectification,
    RunResumed,
    RunRetried,
    RequestApproved,
    RequestDenied,
    RequestExtended,
    RequestPaused,
    RequestResumed,
    RequestAssigned,
    RequestNoted,
    RequestCompleted,
    /// A restriction's lift announced to the requester (GDPR Art. 18(3)).
    RestrictionLiftAnnounced,
    /// The DPO downloaded a request's access archive.
    RequestExported,
    HoldPlaced,
    HoldLifted,
    KeysRotated,
    RetentionRun,
    JobReleased,
    ConsentImported,
    IncidentReported,
    IncidentAssessed,
    IncidentAuthorityNotified,
    IncidentSubjectsNotified,
    IncidentClosed,
    DisclosureRecorded,
    PolicyPublished,
    PolicyInEffect,
    NoticeScheduled,
    NoticeSent,
    RecordsExported,
    ReportRun,
    ConsoleSignIn,
    ConsoleAction,
}

impl Action {
    /// Every action, in the order docs/audit.md lists them.
    pub const ALL: [Action; 39] = [
        Action::TokenCreated,
        Action::TokenRevoked,
        Action::DatastoreAdded,
        Action::DatastoreRemoved,
        Action::DatastoreAccess,
        Action::DatastoreErasure,
        Action::DatastoreRectification,
        Action::RunResumed,
        Action::RunRetried,
        Action::RequestApproved,
        Action::RequestDenied,
        Action::RequestExtended,
        Action::RequestPaused,
        Action::RequestResumed,
        Action::RequestAssigned,
        Action::RequestNoted,
        Action::RequestCompleted,
        Action::RestrictionLiftAnnounced,
        Action::RequestExported,
        Action::HoldPlaced,
        Action::HoldLifted,
        Action::KeysRotated,
        Action::RetentionRun,
        Action::JobReleased,
        Action::ConsentImported,
        Action::IncidentReported,
        Action::IncidentAssessed,
        Action::IncidentAuthorityNotified,
        Action::IncidentSubjectsNotified,
        Action::IncidentClosed,
        Action::DisclosureRecorded,
        Action::PolicyPublished,
        Action::PolicyInEffect,
        Action::NoticeScheduled,
        Action::NoticeSent,
        Action::RecordsExported,
        Action::ReportRun,
        Action::ConsoleSignIn,
        Action::ConsoleAction,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::TokenCreated => "token.created",
            Action::TokenRevoked => "token.revoked",
            Action::DatastoreAdded => "datastore.added",
            Action::DatastoreRemoved => "datastore.removed",
            Action::DatastoreAccess => "datastore.access",
            Action::DatastoreErasure => "datastore.erasure",
            Action::DatastoreRectification => "datastore.rectification",
            Action::RunResumed => "run.resumed",
            Action::RunRetried => "run.retried",
            Action::RequestApproved => "request.approved",
            Action::RequestDenied => "request.denied",
            Action::RequestExtended => "request.extended",
            Action::RequestPaused => "request.paused",
            Action::RequestResumed => "request.resumed",
            Action::RequestAssigned => "request.assigned",
            Action::RequestNoted => "request.noted",
            Action::RequestCompleted => "request.completed",
            Action::RestrictionLiftAnnounced => "request.lift_announced",
            Action::RequestExported => "request.exported",
            Action::HoldPlaced => "hold.placed",
            Action::HoldLifted => "hold.lifted",
            Action::KeysRotated => "keys.rotated",
            Action::RetentionRun => "retention.run",
            Action::JobReleased => "job.released",
            Action::ConsentImported => "consent.imported",
            Action::IncidentReported => "incident.reported",
            Action::IncidentAssessed => "incident.assessed",
            Action::IncidentAuthorityNotified => "incident.authority_notified",
            Action::IncidentSubjectsNotified => "incident.subjects_notified",
            Action::IncidentClosed => "incident.closed",
            Action::DisclosureRecorded => "disclosure.recorded",
            Action::PolicyPublished => "policy.published",
            Action::PolicyInEffect => "policy.in_effect",
            Action::NoticeScheduled => "notice.scheduled",
            Action::NoticeSent => "notice.sent",
            Action::RecordsExported => "records.exported",
            Action::ReportRun => "report.run",
            Action::ConsoleSignIn => "console.sign_in",
            Action::ConsoleAction => "console.action",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The entry a DPO's action on a data-subject request is recorded as (`None` for the
    /// steps that are not the DPO's: verification, abandonment, forwarding, the start).
    pub fn of_request(action: crate::request::Action) -> Option<Action> {
        use crate::request::Action as R;
        Some(match action {
            R::Approve => Action::RequestApproved,
            R::Deny => Action::RequestDenied,
            R::Extend => Action::RequestExtended,
            R::Pause => Action::RequestPaused,
            R::Resume => Action::RequestResumed,
            R::Assign => Action::RequestAssigned,
            R::Note => Action::RequestNoted,
            R::Complete => Action::RequestCompleted,
            R::Lift => Action::RestrictionLiftAnnounced,
            R::Verify | R::Abandon | R::Forward | R::Start => return None,
        })
    }
}

/// The content of one entry as it is hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryContent<'a> {
    pub id: &'a str,
    /// Microseconds since the Unix epoch.
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub object: &'a str,
    /// What else the act says that is not personal (a role, a count, a kind).
    pub detail: Option<&'a str>,
}

/// The hash of an entry at `seq`, after the entry whose hash is `prev_hash`. Every field is
/// length-prefixed, so no choice of values can make two different entries encode the same
/// bytes.
pub fn entry_hash(e: &EntryContent<'_>, seq: i64, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"custodian-audit-v1");
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u32).to_be_bytes());
        h.update(bytes);
    };
    field(e.id.as_bytes());
    field(&e.at.to_be_bytes());
    field(e.actor.as_bytes());
    field(e.action.as_bytes());
    field(e.object.as_bytes());
    field(e.detail.unwrap_or("\u{0}none").as_bytes());
    field(&seq.to_be_bytes());
    field(prev_hash.as_bytes());
    hex::encode(h.finalize())
}

/// A stored entry as the verifier reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<'a> {
    pub seq: i64,
    pub content: EntryContent<'a>,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

/// What is wrong with the chain, naming the first entry where it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("audit entry {seq} ({id}): its content does not match its hash (changed)")]
    Content { seq: i64, id: String },
    #[error("audit entry {seq} ({id}): it does not link to entry {previous} before it (an entry was inserted, removed or moved)")]
    Link { seq: i64, previous: i64, id: String },
    #[error("audit entry {seq} ({id}): it follows entry {previous} (entries {missing_from} to {missing_to} are missing: removed, or moved)")]
    Gap {
        seq: i64,
        previous: i64,
        id: String,
        missing_from: i64,
        missing_to: i64,
    },
    #[error("audit trail: the head says entry {head_seq} is the last, but the trail ends at entry {last} (entries removed from the end, or the head changed)")]
    Head { head_seq: i64, last: i64 },
}

/// Walks the chain entry by entry, in sequence order, stopping at the first break.
#[derive(Debug, Clone)]
pub struct Verifier {
    seq: i64,
    hash: String,
    pub checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            seq: 0,
            hash: GENESIS.to_owned(),
            checked: 0,
        }
    }
}

impl Verifier {
    /// Checks the next stored entry: it must be the next number, link to the one before and
    /// hash to what it says.
    pub fn push(&mut self, e: &Stored<'_>) -> Result<(), Break> {
        let id = || e.content.id.to_owned();
        if e.seq != self.seq + 1 {
            // A number out of order is a row moved (its number changed) or rows removed; a
            // row moved keeps its old hash, so its content check would fail too — the gap
            // is the first thing wrong, so it is the one named.
            return Err(Break::Gap {
                seq: e.seq,
                previous: self.seq,
                id: id(),
                missing_from: self.seq + 1,
                missing_to: e.seq - 1,
            });
        }
        if entry_hash(&e.content, e.seq, e.prev_hash) != e.hash {
            return Err(Break::Content {
                seq: e.seq,
                id: id(),
            });
        }
        if e.prev_hash != self.hash {
            return Err(Break::Link {
                seq: e.seq,
                previous: self.seq,
                id: id(),
            });
        }
        self.seq = e.seq;
        self.hash = e.hash.to_owned();
        self.checked += 1;
        Ok(())
    }

    /// The last entry checked: its sequence number (0 before any) and hash.
    pub fn head(&self) -> (i64, &str) {
        (self.seq, &self.hash)
    }

    /// Compares the chain's end with the stored head.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), Break> {
        if head_seq != self.seq || head_hash != self.hash {
            return Err(Break::Head {
                head_seq,
                last: self.seq,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(i64, String, String, String)> {
        let mut prev = GENESIS.to_owned();
        let mut out = Vec::new();
        for seq in 1..=n {
            let id = format!("aud_{seq}");
            let c = EntryContent {
                id: &id,
                at: seq * 10,
                actor: "tok_1",
                action: "hold.placed",
                object: "hold_1",
                detail: None,
            };
            let hash = entry_hash(&c, seq, &prev);
            out.push((seq, id.clone(), prev.clone(), hash.clone()));
            prev = hash;
        }
        out
    }

    fn verify(
        rows: &[(i64, String, String, String)],
        at: impl Fn(i64) -> i64,
    ) -> Result<Verifier, Break> {
        let mut v = Verifier::default();
        for (seq, id, prev, hash) in rows {
            v.push(&Stored {
                seq: *seq,
                content: EntryContent {
                    id,
                    at: at(*seq),
                    actor: "tok_1",
                    action: "hold.placed",
                    object: "hold_1",
                    detail: None,
                },
                prev_hash: prev,
                hash,
            })?;
        }
        Ok(v)
    }

    #[test]
    fn an_intact_chain_verifies_and_every_change_names_its_entry() {
        let rows = chain(5);
        let v = verify(&rows, |s| s * 10).unwrap();
        assert_eq!(v.checked, 5);
        assert_eq!(v.finish(5, &rows[4].3), Ok(()));
        assert!(matches!(
            v.finish(6, "x"),
            Err(Break::Head {
                head_seq: 6,
                last: 5
            })
        ));

        // Changed: entry 3's time.
        let e = verify(&rows, |s| if s == 3 { 31 } else { s * 10 }).unwrap_err();
        assert_eq!(
            e,
            Break::Content {
                seq: 3,
                id: "aud_3".into()
            }
        );
        assert!(e.to_string().contains("aud_3"));

        // Removed: entry 2.
        let mut gone = rows.clone();
        gone.remove(1);
        assert!(matches!(
            verify(&gone, |s| s * 10),
            Err(Break::Gap { seq: 3, .. })
        ));

        // Reordered: entries 2 and 3 swap their numbers (and so their places).
        let mut swapped = rows.clone();
        swapped.swap(1, 2);
        swapped[1].0 = 2;
        swapped[2].0 = 3;
        let e = verify(&swapped, |s| {
            if s == 2 {
                30
            } else if s == 3 {
                20
            } else {
                s * 10
            }
        });
        assert!(matches!(e, Err(Break::Content { seq: 2, .. })), "{e:?}");
    }

    #[test]
    fn every_action_reads_back_from_its_name() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("token.deleted"), None);
    }
}
