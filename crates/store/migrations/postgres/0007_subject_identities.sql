-- The identifiers a subject's lifecycle events came with, sealed under the subject's own key,
-- so the retention job can find the subject in the company's datastores years later; erasing
-- the subject (destroying its key) makes them unreadable.
CREATE TABLE subject_identities (
    subject_ref  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    sealed       TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (subject_ref, kind)
);
