-- Notices before changes (issue 13 item 2). `policy_schedule` holds every policy version
-- scheduled with `policy publish` (the TOML as published, and when it takes effect): each
-- node's background pass makes the newest one whose time has come govern. `notices` holds what
-- people are told — a policy change, a change of control, a general notice — with its texts
-- per language (JSON), whether it goes by e-mail and on the sites, and how far its mail has
-- been queued (`fanout_after`: the last subject reference queued; `fanned_out_at` once done).
-- `notice_preferences` holds a person's choice to get optional notices by e-mail and on the
-- sites, and the language to write in; mandatory notices ignore it. Only keyed subject
-- references are stored; addresses stay sealed in `subject_identities`.
CREATE TABLE policy_schedule (
    version       TEXT PRIMARY KEY,
    toml          TEXT NOT NULL,
    effective_at  BIGINT NOT NULL,
    material      BOOLEAN NOT NULL,
    changes       TEXT NOT NULL,
    notice_id     TEXT,
    published_at  BIGINT NOT NULL
);
CREATE INDEX policy_schedule_effective ON policy_schedule (effective_at);

CREATE TABLE notices (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('policy_change', 'change_of_control', 'general')),
    mandatory      BOOLEAN NOT NULL,
    title          TEXT NOT NULL,
    body           TEXT NOT NULL,
    policy_version TEXT,
    effective_at   BIGINT,
    shown_until    BIGINT NOT NULL,
    email          BOOLEAN NOT NULL,
    site           BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL,
    fanout_after   TEXT,
    queued         BIGINT NOT NULL DEFAULT 0,
    fanned_out_at  BIGINT
);
CREATE INDEX notices_fanout ON notices (created_at) WHERE email AND fanned_out_at IS NULL;

CREATE TABLE notice_preferences (
    subject_ref     TEXT PRIMARY KEY,
    optional_email  BOOLEAN NOT NULL,
    optional_site   BOOLEAN NOT NULL,
    lang            TEXT,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX subject_identities_kind ON subject_identities (kind, subject_ref);
