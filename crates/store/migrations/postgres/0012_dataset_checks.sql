-- Registration that checks (issue 16): a datastore's Fides request policy, whose erasure rules
-- give its fields their strategies, and the fingerprint of the dataset (and policy) last checked
-- against the live database — so that `serve` checks again, at start-up, a dataset that changed
-- since. Config-file datastores are not rows of connector_datastores, so the fingerprints live
-- in a table of their own, by datastore name.
ALTER TABLE connector_datastores ADD COLUMN fides_policy_path TEXT;

CREATE TABLE connector_dataset_checks (
    name        TEXT PRIMARY KEY,
    -- SHA-256 of the dataset file and the policy file, in hex.
    digest      TEXT NOT NULL,
    -- Whether its problems were accepted with --force (or `force = true` in the config file).
    forced      BOOLEAN NOT NULL DEFAULT FALSE,
    checked_at  BIGINT NOT NULL
);
