-- Every request type reaches the company's systems (issue 16): connector runs also mark and
-- lift restrictions, tell services of objections and consent withdrawals, and tell recipients
-- of an erasure (GDPR Art. 19).
ALTER TABLE connector_runs DROP CONSTRAINT connector_runs_kind_check;
ALTER TABLE connector_runs ADD CONSTRAINT connector_runs_kind_check
    CHECK (kind IN ('access', 'erasure', 'rectification', 'restriction', 'restriction_lift', 'objection', 'consent_withdrawal', 'erasure_notice'));
