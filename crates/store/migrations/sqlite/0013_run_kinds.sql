-- Every request type reaches the company's systems (issue 16): connector runs also mark and
-- lift restrictions, tell services of objections and consent withdrawals, and tell recipients
-- of an erasure (GDPR Art. 19). SQLite cannot change a CHECK constraint, so both run tables
-- are rebuilt with the wider list of kinds and their rows copied; the steps' table is rebuilt
-- first against the new runs table, so dropping the old one cascades to nothing.
CREATE TABLE connector_runs_0013 (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('access', 'erasure', 'rectification', 'restriction', 'restriction_lift', 'objection', 'consent_withdrawal', 'erasure_notice')),
    subject_ref   TEXT NOT NULL,
    request_id    TEXT,
    dry_run       INTEGER NOT NULL DEFAULT 0,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    -- The subject's identifiers (and corrections, purposes), sealed under the server secret;
    -- cleared when the run is done so an erased subject leaves no readable trace here.
    payload       TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
INSERT INTO connector_runs_0013 (id, kind, subject_ref, request_id, dry_run, status, payload, created_at, updated_at)
    SELECT id, kind, subject_ref, request_id, dry_run, status, payload, created_at, updated_at FROM connector_runs;

CREATE TABLE connector_run_steps_0013 (
    run_id          TEXT NOT NULL REFERENCES connector_runs_0013 (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    datastore       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'running', 'retrying', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at INTEGER,
    started_at      INTEGER,
    finished_at     INTEGER,
    result          TEXT,
    PRIMARY KEY (run_id, seq)
);
INSERT INTO connector_run_steps_0013 (run_id, seq, datastore, status, attempts, last_error, next_attempt_at, started_at, finished_at, result)
    SELECT run_id, seq, datastore, status, attempts, last_error, next_attempt_at, started_at, finished_at, result FROM connector_run_steps;

DROP TABLE connector_run_steps;
DROP TABLE connector_runs;
-- Renaming the runs table rewrites the steps' foreign key to the new name.
ALTER TABLE connector_runs_0013 RENAME TO connector_runs;
ALTER TABLE connector_run_steps_0013 RENAME TO connector_run_steps;
CREATE INDEX connector_runs_status ON connector_runs (status, updated_at);
CREATE INDEX connector_runs_request ON connector_runs (request_id);
