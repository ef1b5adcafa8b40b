-- Retention (issue 7): what happened to each subject (the anchors of retention rules), legal
-- holds, every purge with the rule that caused it, subjects under the minimum age, and the
-- per-subject data keys (wrapped by the master key) that make erasure a key deletion.
-- No raw identifier and no birth date is stored: only keyed references and the computed flag.
CREATE TABLE lifecycle_events (
    id                 BIGSERIAL PRIMARY KEY,
    subject_ref        TEXT NOT NULL,
    kind               TEXT NOT NULL,
    at                 BIGINT NOT NULL,
    under_minimum_age  BOOLEAN,
    country            TEXT,
    recorded_at        BIGINT NOT NULL
);
CREATE INDEX lifecycle_events_subject ON lifecycle_events (subject_ref, at);

CREATE TABLE legal_holds (
    id           TEXT PRIMARY KEY,
    matter       TEXT,
    subject_ref  TEXT,
    category     TEXT,
    reason       TEXT NOT NULL,
    placed_by    TEXT NOT NULL,
    placed_at    BIGINT NOT NULL,
    lifted_at    BIGINT,
    lifted_by    TEXT,
    lift_reason  TEXT
);
CREATE INDEX legal_holds_active ON legal_holds (lifted_at);

CREATE TABLE retention_purges (
    id           BIGSERIAL PRIMARY KEY,
    subject_ref  TEXT NOT NULL,
    rule         TEXT NOT NULL,
    data         TEXT NOT NULL,
    due_since    BIGINT NOT NULL,
    purged_at    BIGINT NOT NULL,
    records      BIGINT NOT NULL
);
CREATE INDEX retention_purges_subject ON retention_purges (subject_ref);

CREATE TABLE minors (
    subject_ref  TEXT PRIMARY KEY,
    declared_at  BIGINT NOT NULL,
    country      TEXT,
    request_id   TEXT
);

CREATE TABLE subject_keys (
    subject_ref  TEXT PRIMARY KEY,
    wrapped      TEXT NOT NULL,
    master_id    TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
