//! SQLite's statements for subject keys: multi-row inserts and `IN` lists.

use crate::keys::KeySql;
use crate::{Batch, MultiRow};

pub(crate) static SQL: KeySql = KeySql {
    insert: Batch::Rows(MultiRow::new(
        "INSERT INTO subject_keys (subject_ref, wrapped, master_id, created_at) VALUES ",
        "(?, ?, ?, ?)",
        " ON CONFLICT DO NOTHING",
    )),
    standing: Batch::Rows(MultiRow::new(
        "SELECT subject_ref, wrapped, master_id, created_at FROM subject_keys WHERE subject_ref IN (",
        "?",
        ")",
    )),
};
