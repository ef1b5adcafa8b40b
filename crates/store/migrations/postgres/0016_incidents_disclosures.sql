-- Personal-data breaches (GDPR Art. 33/34) and disclosures to public authorities (issue 13).
-- Incidents: what happened, the 72-hour clock (`authority_due` = `became_aware_at` + 72 h),
-- the assessment, the notification of the authority, and how many people were told — a
-- count, never who (the mails themselves are outbox rows sealed under each person's key).
CREATE TABLE incidents (
    id                     TEXT PRIMARY KEY,
    title                  TEXT NOT NULL,
    description            TEXT NOT NULL,
    -- JSON arrays of the policy's category ids and subject kinds.
    categories             TEXT NOT NULL,
    subject_kinds          TEXT NOT NULL,
    subjects_estimate      BIGINT NOT NULL,
    records_estimate       BIGINT,
    risk                   TEXT NOT NULL CHECK (risk IN ('unlikely', 'risk', 'high_risk')),
    status                 TEXT NOT NULL CHECK (status IN ('open', 'assessed', 'authority_notified', 'closed')),
    became_aware_at        BIGINT NOT NULL,
    authority_due          BIGINT NOT NULL,
    reported_by            TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    consequences           TEXT,
    measures               TEXT,
    assessed_at            BIGINT,
    authority              TEXT,
    authority_reference    TEXT,
    authority_notified_at  BIGINT,
    late_reason            TEXT,
    subjects_notified      BIGINT NOT NULL DEFAULT 0,
    subjects_unreachable   BIGINT NOT NULL DEFAULT 0,
    subjects_notified_at   BIGINT,
    closed_at              BIGINT,
    closing_note           TEXT,
    updated_at             BIGINT NOT NULL
);
CREATE INDEX incidents_open ON incidents (status, authority_due);

-- Disclosures: to whom, under which law, about which categories, and whether the people
-- concerned may be told. The people are keyed references (one row each), never identifiers.
CREATE TABLE disclosures (
    id              TEXT PRIMARY KEY,
    recipient       TEXT NOT NULL,
    authority_kind  TEXT NOT NULL,
    legal_basis     TEXT NOT NULL,
    reference       TEXT NOT NULL,
    -- JSON array of the policy's category ids.
    categories      TEXT NOT NULL,
    disclosed_at    BIGINT NOT NULL,
    notify_subject  BOOLEAN NOT NULL,
    -- Why the people are not told (a court's order of secrecy …); required when not.
    withheld_reason TEXT,
    subjects        BIGINT NOT NULL,
    recorded_by     TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX disclosures_at ON disclosures (disclosed_at);

-- A person named by e-mail and by user id has a row for each reference (so their access
-- export finds the disclosure by either); `person` is the same for both, for counting.
CREATE TABLE disclosure_subjects (
    disclosure_id  TEXT NOT NULL REFERENCES disclosures (id),
    subject_ref    TEXT NOT NULL,
    person         TEXT NOT NULL,
    PRIMARY KEY (disclosure_id, subject_ref)
);
CREATE INDEX disclosure_subjects_subject ON disclosure_subjects (subject_ref);
