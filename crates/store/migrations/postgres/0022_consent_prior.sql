-- Issue 17. Each event records the choice in force for its subject and purpose just before it
-- (`prior_given`; NULL: none), written in the event's own statement from the current state.
-- The overview counts a withdrawal (a refusal after consent, GDPR Art. 7(3)) from it. SQLite
-- drops its subject index with this column (see the SQLite migration); PostgreSQL keeps it —
-- there the index's cost is the database server's, not Custodian's, and it answers a subject's
-- events without reading its chain.
--
-- Events recorded before this migration take the previous event's choice for the subject and
-- purpose, which is what the overview counted for them until now.
ALTER TABLE consent_events ADD COLUMN prior_given BOOLEAN;
UPDATE consent_events e SET prior_given = p.prev
FROM (
    SELECT gseq, lag(given) OVER (PARTITION BY subject_ref, purpose ORDER BY gseq) AS prev
    FROM consent_events
) p
WHERE p.gseq = e.gseq AND p.prev IS NOT NULL;
