//! PostgreSQL's statement for claiming due jobs: `FOR UPDATE SKIP LOCKED`, so nodes claiming
//! at once pass over each other's rows instead of waiting for them, and select and update stay
//! one statement.

use crate::jobs::JobSql;

pub(crate) static SQL: JobSql = JobSql {
    claim_due: "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, last_started_at = $3 \
         WHERE name IN (SELECT name FROM jobs WHERE kind = $4 AND run_at <= $3 \
                        AND (lease_until IS NULL OR lease_until <= $3) ORDER BY run_at, name LIMIT $5 \
                        FOR UPDATE SKIP LOCKED) \
         RETURNING name, kind, run_at, lease_owner, lease_until, attempts, last_error, last_started_at, last_finished_at",
};
