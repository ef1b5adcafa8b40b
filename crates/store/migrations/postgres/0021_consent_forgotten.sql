-- Issue 17. Every removal of current consent that is not a new choice — an erasure, a
-- retention purge of withdrawn purposes — is noted here in the same transaction, so that whoever
-- holds consent in memory from an earlier point (another node, or this node starting from an
-- image of its memory, `app::consent_image`) forgets what the store no longer has, in order,
-- by sequence. Only the keyed subject reference is stored, as in the ledger itself.
CREATE TABLE consent_forgotten (
    seq          BIGSERIAL PRIMARY KEY,
    subject_ref  TEXT NOT NULL,
    at           BIGINT NOT NULL
);
