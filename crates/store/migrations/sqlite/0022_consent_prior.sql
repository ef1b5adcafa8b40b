-- Issue 17. Each event records the choice in force for its subject and purpose just before it
-- (`prior_given`; NULL: none), written in the event's own commit from the current state the
-- commit reads anyway. The overview counts a withdrawal (a refusal after consent, GDPR Art.
-- 7(3)) from it, so the ledger no longer needs an index keyed by subject to find each event's
-- predecessor: on SQLite that index put one more randomly placed page into every consent
-- commit, most of a write's cost (docs/benchmarks.md, "eighth sitting"). A subject's own
-- events are found on its chain (`chain_of(subject)`), through the `(chain, seq)` key.
--
-- Events recorded before this migration take the previous event's choice for the subject and
-- purpose, which is what the overview counted for them until now.
ALTER TABLE consent_events ADD COLUMN prior_given INTEGER;
UPDATE consent_events SET prior_given = (
    SELECT p.given FROM consent_events p
    WHERE p.subject_ref = consent_events.subject_ref AND p.purpose = consent_events.purpose
      AND p.gseq < consent_events.gseq
    ORDER BY p.gseq DESC LIMIT 1
);
DROP INDEX consent_events_subject;
