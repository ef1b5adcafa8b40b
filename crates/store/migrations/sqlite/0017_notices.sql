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
    effective_at  INTEGER NOT NULL,
    material      INTEGER NOT NULL,
    changes       TEXT NOT NULL,
    notice_id     TEXT,
    published_at  INTEGER NOT NULL
);
CREATE INDEX policy_schedule_effective ON policy_schedule (effective_at);

CREATE TABLE notices (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('policy_change', 'change_of_control', 'general')),
    mandatory      INTEGER NOT NULL,
    title          TEXT NOT NULL,
    body           TEXT NOT NULL,
    policy_version TEXT,
    effective_at   INTEGER,
    shown_until    INTEGER NOT NULL,
    email          INTEGER NOT NULL,
    site           INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    fanout_after   TEXT,
    queued         INTEGER NOT NULL DEFAULT 0,
    fanned_out_at  INTEGER
);
CREATE INDEX notices_fanout ON notices (created_at) WHERE email = 1 AND fanned_out_at IS NULL;

CREATE TABLE notice_preferences (
    subject_ref     TEXT PRIMARY KEY,
    optional_email  INTEGER NOT NULL,
    optional_site   INTEGER NOT NULL,
    lang            TEXT,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX subject_identities_kind ON subject_identities (kind, subject_ref);
