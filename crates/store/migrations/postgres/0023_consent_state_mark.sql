-- Issue 17. SQLite only: its consent writer folds the ledger's tail into `consent_state` past a
-- mark (see the SQLite migration). PostgreSQL writes the current state in each append's one
-- statement, where it costs the database server, not Custodian, and keeps no mark.
SELECT 1;
