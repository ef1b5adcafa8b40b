-- Objections (GDPR Art. 21(1)): the legitimate-interest purposes an objection request names,
-- written when the request is taken in and put in force (`since`) when it is approved, so
-- `/v1/decide` refuses them from then on. Only the keyed subject reference is stored.
CREATE TABLE objections (
    request_id   TEXT NOT NULL,
    subject_ref  TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    since        BIGINT,
    PRIMARY KEY (request_id, purpose)
);
CREATE INDEX objections_subject ON objections (subject_ref);
