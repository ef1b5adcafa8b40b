-- The privacy centre's sign-ins and sessions (issue 15). A sign-in waiting for its mailed code
-- is a row, so each is used once (the row goes when the code is right) and its tries are
-- counted where no cookie can reset them. A session is a row found by the SHA-256 of its
-- cookie's random value, so signing out ends it on every node. Subjects are keyed references.
CREATE TABLE privacy_signins (
    nonce        TEXT PRIMARY KEY,
    subject_ref  TEXT NOT NULL,
    tries        BIGINT NOT NULL DEFAULT 0,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX privacy_signins_expiry ON privacy_signins (expires_at);

CREATE TABLE privacy_sessions (
    id_hash      TEXT PRIMARY KEY,
    subject_ref  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX privacy_sessions_expiry ON privacy_sessions (expires_at);
