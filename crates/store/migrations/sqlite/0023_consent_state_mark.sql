-- Issue 17. On SQLite the current state (`consent_state`) is no longer written in every consent
-- commit: its key is the one subject-keyed B-tree left on the write path, and its randomly
-- placed leaf was a third of a write's cost (docs/benchmarks.md, "tenth sitting"). The consent
-- writer appends events only; the state is brought up to date in large sorted folds of the
-- ledger's tail — the events after this mark — and every reader or changer of the state folds
-- the tail first, in its own transaction (`store/src/consent/fold.rs`). The state therefore is
-- exactly the fold of the events up to `gseq`, as it was the fold of all of them before.
--
-- Every event before this migration was written with its state: the mark starts past them all.
CREATE TABLE consent_state_mark (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    gseq  INTEGER NOT NULL
);
INSERT INTO consent_state_mark (id, gseq) VALUES (1, COALESCE((SELECT MAX(gseq) FROM consent_events), 0));
