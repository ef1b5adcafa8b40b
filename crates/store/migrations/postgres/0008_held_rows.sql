-- Rows of the company's datastores that an erasure kept under a legal hold (issue 6): the
-- datastore, the retention rule, the day the hold ends, and the rows' primary keys per table.
-- The keys are sealed under a key derived from the server secret — never under the subject's
-- key, which the erasure destroys — so the retention job can still let the rows go by key
-- when the rule falls due, long after the subject's identifiers are gone.
CREATE TABLE held_rows (
    id           TEXT PRIMARY KEY,
    subject_ref  TEXT NOT NULL,
    request_id   TEXT,
    datastore    TEXT NOT NULL,
    rule         TEXT NOT NULL,
    -- NULL: held until further notice (the rule gives no period).
    due_at       BIGINT,
    -- NULL once the rows have gone.
    sealed_keys  TEXT,
    created_at   BIGINT NOT NULL,
    done_at      BIGINT
);
CREATE INDEX held_rows_due ON held_rows (done_at, due_at, id);
CREATE INDEX held_rows_subject ON held_rows (subject_ref);
