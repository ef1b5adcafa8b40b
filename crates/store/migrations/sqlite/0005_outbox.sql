-- Outgoing mail (issue 5): every message is a row before it is sent, so a crash never loses
-- one. Addresses and template parameters are sealed by the caller (custodian-core's Sealer,
-- place `outbox/<id>/to` and `outbox/<id>/params`); erasure sets them to NULL.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    template         TEXT NOT NULL,
    lang             TEXT NOT NULL,
    to_sealed        TEXT,
    params_sealed    TEXT,
    request_id       TEXT,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- When the row is next due: the retry time while queued, the lease's end while sending
    -- (a killed node's messages become due again when its lease runs out).
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX outbox_by_request ON outbox (request_id) WHERE request_id IS NOT NULL;
