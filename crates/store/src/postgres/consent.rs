//! PostgreSQL's statements for appending consent: arrays through fixed statements, and row
//! locks on only the heads of the chains a batch touches, so other nodes append to other
//! chains at the same time.

use crate::consent::ConsentSql;
use crate::Batch;

pub(crate) static SQL: ConsentSql = ConsentSql {
    heads: Batch::Arrays(
        "SELECT chain, seq, hash FROM ledger_heads WHERE chain = ANY($1) ORDER BY chain FOR UPDATE",
    ),
    stored_states: Batch::Arrays(
        "SELECT k.subject_ref, k.purpose, s.given, s.updated_at FROM UNNEST($1::text[], $2::text[]) AS k(subject_ref, purpose) \
         JOIN LATERAL (SELECT given, updated_at FROM consent_state s WHERE s.subject_ref = k.subject_ref AND s.purpose = k.purpose LIMIT 1) s ON true",
    ),
    events: Batch::Arrays(
        "INSERT INTO consent_events (id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash, prior_given) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int8[], $11::int4[], $12::int8[], $13::text[], $14::text[], $15::bool[])",
    ),
    // The newest choice stands (see `sqlite/consent.rs`).
    state: Batch::Arrays(
        "INSERT INTO consent_state (subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bool[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[]) ON CONFLICT (subject_ref, purpose) DO UPDATE SET given = excluded.given, event_id = excluded.event_id, source = excluded.source, policy_version = excluded.policy_version, notice_hash = excluded.notice_hash, updated_at = excluded.updated_at WHERE excluded.updated_at >= consent_state.updated_at",
    ),
    set_heads: Batch::Arrays(
        "UPDATE ledger_heads h SET seq = u.seq, hash = u.hash FROM UNNEST($1::int4[], $2::int8[], $3::text[]) AS u(chain, seq, hash) WHERE h.chain = u.chain",
    ),
    // The state is written in every append's statement: no tail, nothing to fold or mark.
    fold_tail: &[],
    mark_whole: &[],
    changes: "SELECT e.seq, s.subject_ref, s.purpose, s.given, s.source, s.policy_version, s.notice_hash, s.updated_at \
         FROM consent_events e \
         JOIN consent_state s ON s.subject_ref = e.subject_ref AND s.purpose = e.purpose \
         WHERE e.chain = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3",
};

/// The whole append in one statement, so one round trip and PostgreSQL's implicit transaction:
/// the heads move only from the values the writer expects (`$1` chains, `$2` the seqs it
/// expects, `$3`/`$4` the new heads), the events are written and the current state from them
/// (per subject and purpose the newest event, of two at the same time the later in the batch:
/// `gseq` follows the batch's order), and the notice is sent at commit. Each event's
/// `prior_given` is `consent/append.rs`'s `in_force` in SQL: the batch's newest earlier event
/// for the subject and purpose (`$19`, `$20`, from `earlier_in_batch`) unless the stored state,
/// as the statement's snapshot has it, is newer. The state is read by a `LATERAL … LIMIT 1`
/// lookup, not a join: planned while `consent_state` was empty, a join became a hash join
/// over a scan of the whole table, and the writer's connection kept that plan as the table
/// grew (a fifth of the writes per second, issue 17; `EXPLAIN` under
/// `plan_cache_mode = force_generic_plan` shows it). If another writer moved a head first, fewer heads move than
/// were named and the final cast fails (`stale chain heads`), or the event's `(chain, seq)`
/// is already taken (unique violation): either way nothing of the statement stays, and the
/// writer reads the heads again (`consent/append.rs`).
pub(crate) const APPEND_ON_HEADS: &str = "WITH moved AS (\
     UPDATE ledger_heads h SET seq = u.seq, hash = u.hash \
     FROM UNNEST($1::int4[], $2::int8[], $3::int8[], $4::text[]) AS u(chain, was, seq, hash) \
     WHERE h.chain = u.chain AND h.seq = u.was RETURNING h.chain), \
   events AS (\
     INSERT INTO consent_events (id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash, prior_given) \
     SELECT u.id, u.subject_ref, u.purpose, u.given, u.source, u.policy_version, u.notice_hash, u.ip_truncated, u.receipt_id, u.created_at, u.chain, u.seq, u.prev_hash, u.hash, \
       CASE WHEN u.earlier_given IS NOT NULL AND (s.updated_at IS NULL OR u.earlier_at >= s.updated_at) THEN u.earlier_given ELSE s.given END \
     FROM UNNEST($5::text[], $6::text[], $7::text[], $8::bool[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::int8[], $15::int4[], $16::int8[], $17::text[], $18::text[], $19::bool[], $20::int8[]) \
       WITH ORDINALITY AS u(id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash, earlier_given, earlier_at, n) \
     LEFT JOIN LATERAL (SELECT given, updated_at FROM consent_state s \
       WHERE s.subject_ref = u.subject_ref AND s.purpose = u.purpose LIMIT 1) s ON true \
     ORDER BY u.n \
     RETURNING gseq, id, subject_ref, purpose, given, source, policy_version, notice_hash, created_at), \
   state AS (\
     INSERT INTO consent_state (subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at) \
     SELECT DISTINCT ON (subject_ref, purpose) subject_ref, purpose, given, id, source, policy_version, notice_hash, created_at \
     FROM events ORDER BY subject_ref, purpose, created_at DESC, gseq DESC \
     ON CONFLICT (subject_ref, purpose) DO UPDATE SET given = excluded.given, event_id = excluded.event_id, source = excluded.source, policy_version = excluded.policy_version, notice_hash = excluded.notice_hash, updated_at = excluded.updated_at WHERE excluded.updated_at >= consent_state.updated_at) \
 SELECT (CASE WHEN (SELECT count(*) FROM moved) = cardinality($1::int4[]) THEN '0' ELSE 'stale chain heads' END)::int4, pg_notify($21, $22)::TEXT";

/// The heads of the chains `$1`, read without a lock (the append checks them itself).
pub(crate) const HEADS: &str = "SELECT chain, seq, hash FROM ledger_heads WHERE chain = ANY($1)";

#[cfg(test)]
mod tests {
    use crate::{testing, Store};

    /// Planned on a fresh database, as a writer's connection plans it once and keeps the plan,
    /// the append reads each event's stored state through the state's key: a join there was
    /// planned as a hash join over a scan of the whole table, which grows.
    #[tokio::test]
    async fn the_append_reads_stored_states_by_key_whatever_the_plan() {
        let Some(url) = testing::fresh_postgres_url().await else {
            return;
        };
        let store = Store::open(&url).await.unwrap();
        let mut conn = store.postgres_pool().unwrap().acquire().await.unwrap();
        sqlx::raw_sql(&format!(
            "SET plan_cache_mode = force_generic_plan; PREPARE append AS {}",
            super::APPEND_ON_HEADS
        ))
        .execute(&mut *conn)
        .await
        .unwrap();
        let nulls = vec!["NULL"; 22].join(", ");
        let plan: Vec<(String,)> = sqlx::query_as(&format!("EXPLAIN EXECUTE append({nulls})"))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let plan: Vec<&str> = plan.iter().map(|r| r.0.as_str()).collect();
        assert!(
            plan.iter()
                .any(|l| l.contains("Index Scan using consent_state_pkey")),
            "{plan:#?}"
        );
        assert!(
            !plan.iter().any(|l| l.contains("Seq Scan on consent_state")),
            "{plan:#?}"
        );
    }
}
