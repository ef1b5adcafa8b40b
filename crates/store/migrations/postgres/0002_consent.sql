-- The consent ledger: append-only events in hash chains, the current state derived from them,
-- chain heads, checkpoints of all heads, device-to-account links, and every policy version
-- that consent was recorded under.
CREATE TABLE consent_events (
    gseq            BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    chain           INTEGER NOT NULL,
    seq             BIGINT NOT NULL,
    subject_ref     TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    given           BOOLEAN NOT NULL,
    source          TEXT NOT NULL,
    policy_version  TEXT NOT NULL,
    notice_hash     TEXT,
    ip_truncated    TEXT,
    receipt_id      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL,
    UNIQUE (chain, seq)
);
CREATE INDEX consent_events_subject ON consent_events (subject_ref, purpose);
CREATE INDEX consent_events_receipt ON consent_events (receipt_id);

CREATE TABLE consent_state (
    subject_ref     TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    given           BOOLEAN NOT NULL,
    event_id        TEXT NOT NULL,
    source          TEXT NOT NULL,
    policy_version  TEXT NOT NULL,
    notice_hash     TEXT,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (subject_ref, purpose)
);

CREATE TABLE ledger_heads (
    chain   INTEGER PRIMARY KEY,
    seq     BIGINT NOT NULL,
    hash    TEXT NOT NULL
);
INSERT INTO ledger_heads (chain, seq, hash) VALUES
    (0, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (1, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (2, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (3, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (4, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (5, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (6, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (7, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (8, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (9, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (10, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (11, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (12, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (13, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (14, 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    (15, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE ledger_checkpoints (
    id          BIGSERIAL PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    heads       TEXT NOT NULL,
    digest      TEXT NOT NULL
);

CREATE TABLE subject_links (
    device_ref  TEXT NOT NULL,
    account_ref TEXT NOT NULL,
    linked_at   BIGINT NOT NULL,
    PRIMARY KEY (device_ref, account_ref)
);
CREATE INDEX subject_links_account ON subject_links (account_ref);

CREATE TABLE policy_versions (
    version     TEXT PRIMARY KEY,
    document    TEXT NOT NULL,
    first_seen  BIGINT NOT NULL
);
