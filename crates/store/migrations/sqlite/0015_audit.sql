-- The audit trail (issue 13): every administrative act, in one hash chain. An entry's hash
-- covers its content, its number and the previous entry's hash (custodian-core's audit.rs);
-- `audit_head` holds the last number and hash, so entries cut from the end are caught, and is
-- the one row an append locks. Nothing here is personal: actors are token ids (or `cli`),
-- objects are ids Custodian made.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    detail     TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES
    (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
