//! SQLite's statement for claiming due jobs: one `UPDATE … RETURNING` under SQLite's single
//! writer (the caller opens the transaction with `BEGIN IMMEDIATE`), so no two claimers can
//! read the same free rows.

use crate::jobs::JobSql;

pub(crate) static SQL: JobSql = JobSql {
    claim_due: "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, last_started_at = $3 \
         WHERE name IN (SELECT name FROM jobs WHERE kind = $4 AND run_at <= $3 \
                        AND (lease_until IS NULL OR lease_until <= $3) ORDER BY run_at, name LIMIT $5) \
         RETURNING name, kind, run_at, lease_owner, lease_until, attempts, last_error, last_started_at, last_finished_at",
};
