-- Connector runs (issue 6): datastores registered for requests, and runs of access, erasure or
-- rectification on them, one step per datastore, each recorded before and after it runs so a
-- killed node's run resumes at its first unfinished step.
CREATE TABLE connector_datastores (
    name          TEXT PRIMARY KEY,
    dataset_path  TEXT NOT NULL,
    url_env       TEXT,
    url_file      TEXT,
    created_at    INTEGER NOT NULL
);

CREATE TABLE connector_runs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('access', 'erasure', 'rectification')),
    subject_ref   TEXT NOT NULL,
    request_id    TEXT,
    dry_run       INTEGER NOT NULL DEFAULT 0,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    -- The subject's identifiers (and corrections), sealed under the server secret; cleared
    -- when the run is done so an erased subject leaves no readable trace here.
    payload       TEXT,
    lease_owner   TEXT,
    lease_until   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX connector_runs_status ON connector_runs (status, updated_at);
CREATE INDEX connector_runs_request ON connector_runs (request_id);

CREATE TABLE connector_run_steps (
    run_id          TEXT NOT NULL REFERENCES connector_runs (id) ON DELETE CASCADE,
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
