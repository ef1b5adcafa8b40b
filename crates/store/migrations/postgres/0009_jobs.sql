-- Leased jobs (issue 11): one table for every piece of work that one node at a time must do —
-- a delivery pass of the outbox, a connector run, request housekeeping, the daily retention
-- run, ledger checkpoints, the DPO's daily digest. A job is claimed when it is due and nobody
-- holds an unexpired lease on it; the holder renews the lease while it works and finishes the
-- job with the time it is next due (or, after a failure, with a backoff and the error).
-- Times are microseconds since the Unix epoch, from the caller's clock.
CREATE TABLE jobs (
    -- `outbox`, `housekeeping`, `retention`, `checkpoint`, `digest`, `connector_run:<run id>`.
    name              TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    -- When the job is next due.
    run_at            BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_until       BIGINT,
    -- Claims since the job last finished well (the running one included).
    attempts          BIGINT NOT NULL DEFAULT 0,
    -- The error of the last failed run; no personal data (shown to operators).
    last_error        TEXT,
    last_started_at   BIGINT,
    last_finished_at  BIGINT
);
CREATE INDEX jobs_due ON jobs (run_at);

-- A connector run's lease is now the job `connector_run:<id>`; leases held at the upgrade move.
INSERT INTO jobs (name, kind, run_at, lease_owner, lease_until, attempts, last_started_at)
    SELECT 'connector_run:' || id, 'connector_run', updated_at, lease_owner, lease_until, 1, updated_at
    FROM connector_runs WHERE lease_owner IS NOT NULL;
ALTER TABLE connector_runs DROP COLUMN lease_owner;
ALTER TABLE connector_runs DROP COLUMN lease_until;

-- Messages keep their queued/sending/sent/failed state; the pass that sends them holds the
-- lease (the job `outbox`). A `sending` row left by a crash is due again at its old lease's
-- end, which `next_attempt_at` already holds.
ALTER TABLE outbox DROP COLUMN lease_until;

-- The daily digest and the daily retention run are jobs `digest` and `retention` now; their
-- first round after the upgrade is harmless (the digest's idempotency key is its day).
DROP TABLE job_marks;
