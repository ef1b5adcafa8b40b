-- The request clock as the law counts it (issue 12): an extension in days (CCPA's 45) besides
-- months, and the DPO's stop-the-clock pauses. An open pause has `paused_since` (microseconds
-- since the Unix epoch) and its reason (`awaiting_identity`, `awaiting_clarification`); when
-- it ends, the whole local days it lasted are added to `paused_days` and it is cleared. Each
-- pause and resumption is also a history entry.
ALTER TABLE requests ADD COLUMN extended_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN paused_since INTEGER;
ALTER TABLE requests ADD COLUMN pause_reason TEXT;
ALTER TABLE requests ADD COLUMN paused_days INTEGER NOT NULL DEFAULT 0;
