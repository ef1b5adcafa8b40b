//! PostgreSQL's statements for subject keys: one fixed statement each way whatever the batch
//! size (prepared and planned once).

use crate::keys::KeySql;
use crate::Batch;

pub(crate) static SQL: KeySql = KeySql {
    insert: Batch::Arrays(
        "INSERT INTO subject_keys (subject_ref, wrapped, master_id, created_at) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[]) ON CONFLICT DO NOTHING",
    ),
    standing: Batch::Arrays(
        "SELECT subject_ref, wrapped, master_id, created_at FROM subject_keys WHERE subject_ref = ANY($1)",
    ),
};
