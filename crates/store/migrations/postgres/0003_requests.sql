-- Data-subject requests and their history. The requester's e-mail and free-text details are
-- sealed (encrypted); the subject is referred to by its keyed reference.
CREATE TABLE requests (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    status            TEXT NOT NULL,
    subject_ref       TEXT NOT NULL,
    email_sealed      TEXT NOT NULL,
    details_sealed    TEXT,
    language          TEXT NOT NULL,
    country           TEXT,
    jurisdiction      TEXT NOT NULL,
    customer_id       TEXT,
    received_at       BIGINT NOT NULL,
    verified_at       BIGINT,
    code_hash         TEXT,
    code_expires_at   BIGINT,
    attempts          BIGINT NOT NULL DEFAULT 0,
    acknowledge_due   BIGINT NOT NULL,
    answer_due        BIGINT NOT NULL,
    extended_months   BIGINT NOT NULL DEFAULT 0,
    assignee          TEXT,
    completed_at      BIGINT,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX requests_subject ON requests (subject_ref);
CREATE INDEX requests_status_due ON requests (status, answer_due);

CREATE TABLE request_history (
    id           BIGSERIAL PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES requests (id),
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    detail_sealed TEXT
);
CREATE INDEX request_history_request ON request_history (request_id, id);

-- Small facts background jobs keep between runs (e.g. when the last DPO digest was sent).
CREATE TABLE job_marks (
    name   TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
