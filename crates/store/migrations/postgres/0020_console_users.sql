-- The privacy team's console (issue 14): its users, their sessions, and failed sign-ins.
-- A user's e-mail address is staff data and kept like a subject's: an HMAC of the normalised
-- address to find it (email_hash) and the address sealed under a key derived from the server
-- secret to show it (email_sealed); never in the clear. Passwords are Argon2id PHC strings;
-- TOTP secrets are sealed. A session is stored by the SHA-256 of its cookie's random value.
CREATE TABLE console_users (
    id                   TEXT PRIMARY KEY,
    email_hash           TEXT NOT NULL UNIQUE,
    email_sealed         TEXT NOT NULL,
    role                 TEXT NOT NULL CHECK (role IN ('viewer', 'dpo', 'admin')),
    password_hash        TEXT NOT NULL,
    totp_sealed          TEXT,
    totp_pending_sealed  TEXT,
    totp_last_step       BIGINT,
    created_at           BIGINT NOT NULL,
    password_changed_at  BIGINT NOT NULL,
    disabled_at          BIGINT
);

CREATE TABLE console_sessions (
    id_hash       TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES console_users (id),
    -- 'totp' while the password was right and the second factor is still owed; then 'full'.
    stage         TEXT NOT NULL CHECK (stage IN ('totp', 'full')),
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

-- Failed sign-ins per address (keyed by the same HMAC as email_hash, whether or not a user
-- has the address), so a lock-out cannot be reset by a new cookie, form or client.
CREATE TABLE console_signin_failures (
    key_hash         TEXT PRIMARY KEY,
    failures         BIGINT NOT NULL,
    last_failure_at  BIGINT NOT NULL,
    locked_until     BIGINT NOT NULL
);
