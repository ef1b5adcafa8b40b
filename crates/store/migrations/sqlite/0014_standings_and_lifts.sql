-- Issue 12. Every change to what `/v1/decide` refuses because of a subject's own requests and
-- account (a restriction in force or ended, an objection in force, an account closed or
-- opened again, a child declared, an erasure) is noted here in the same transaction as the
-- change, so that every node applies it within a second (`app::standing_sync`), as consent
-- writes reach every node through the ledger's sequences. Only the keyed subject reference is
-- stored; rows are dropped after a day (a node that restarts loads the facts themselves).
CREATE TABLE standing_changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_ref  TEXT NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX standing_changes_at ON standing_changes (at);

-- GDPR Art. 18(3): "A data subject who has obtained restriction of processing … shall be
-- informed by the controller before the restriction of processing is lifted." The DPO
-- announces the lift; the notice is queued to the requester in the same transaction, and the
-- restriction ends at `lift_at`, once the notice has gone out. `notice_key` is the notice's
-- outbox key (NULL when no address was left to write to); `lift_at` NULL: an attempt failed,
-- and the DPO completes the request to try again.
CREATE TABLE restriction_lifts (
    request_id    TEXT PRIMARY KEY,
    announced_at  INTEGER NOT NULL,
    lift_at       INTEGER,
    notice_key    TEXT
);
