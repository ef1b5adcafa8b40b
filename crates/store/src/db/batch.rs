//! Statements over many rows — the group-commit writers' batches — in the shape each dialect
//! wants: multi-row `VALUES` statements of at most a fixed number of rows on SQLite, one fixed
//! statement taking an array per column on PostgreSQL.

use std::sync::OnceLock;

use sqlx::sqlite::SqliteArguments;

use super::tx::TxInner;
use super::{add_sqlite, encode_error, Arg, FromRows, Pool, Rows, Tx};
use crate::{Result, Store, StoreError};

impl Tx {
    /// Runs a batch statement over `columns` (one array argument per column, all of the same
    /// length, after the scalar arguments `head_args`); answers the rows affected.
    pub(crate) async fn execute_batch(
        &mut self,
        batch: &Batch,
        head_args: &[Arg<'_>],
        columns: &[Arg<'_>],
    ) -> Result<u64> {
        let mut total = 0;
        match batch {
            Batch::Arrays(sql) => {
                total = self.execute_parts(sql, head_args, columns).await?;
            }
            Batch::Whole(sql) => total = self.execute(sql, head_args).await?,
            Batch::Rows(rows) => {
                let n = batch_len(columns)?;
                let mut start = 0;
                while start < n {
                    let end = n.min(start + rows.max_rows);
                    let sql = rows.statement(end - start);
                    let args = row_args(head_args, columns, start..end)?;
                    total += match &mut self.inner {
                        TxInner::Sqlite(tx) => sqlx::query_with(&sql, args)
                            .execute(&mut **tx)
                            .await?
                            .rows_affected(),
                        TxInner::Postgres(_) => return Err(rows_on_postgres()),
                    };
                    start = end;
                }
            }
        }
        Ok(total)
    }

    /// Runs a batch query over `columns` (see [`Tx::execute_batch`]); answers every row of
    /// every statement.
    pub(crate) async fn fetch_batch<T: FromRows>(
        &mut self,
        batch: &Batch,
        head_args: &[Arg<'_>],
        columns: &[Arg<'_>],
    ) -> Result<Vec<T>> {
        self.batch_rows(batch, head_args, columns).await?.decode()
    }

    /// The rows of a batch query, undecoded (compiled once, not once per row type).
    async fn batch_rows(
        &mut self,
        batch: &Batch,
        head_args: &[Arg<'_>],
        columns: &[Arg<'_>],
    ) -> Result<Rows> {
        match batch {
            Batch::Arrays(sql) => self.rows(sql, head_args, columns).await,
            Batch::Whole(sql) => self.rows(sql, head_args, &[]).await,
            Batch::Rows(rows) => {
                let n = batch_len(columns)?;
                let mut out = Vec::new();
                let mut start = 0;
                while start < n {
                    let end = n.min(start + rows.max_rows);
                    let sql = rows.statement(end - start);
                    let args = row_args(head_args, columns, start..end)?;
                    match &mut self.inner {
                        TxInner::Sqlite(tx) => {
                            out.extend(sqlx::query_with(&sql, args).fetch_all(&mut **tx).await?)
                        }
                        TxInner::Postgres(_) => return Err(rows_on_postgres()),
                    }
                    start = end;
                }
                Ok(Rows::Sqlite(out))
            }
        }
    }
}

impl Store {
    /// [`Tx::execute_batch`] in a transaction of its own.
    #[allow(dead_code)] // the outbox's `IN` lists use it next
    pub(crate) async fn execute_batch(
        &self,
        batch: &Batch,
        head_args: &[Arg<'_>],
        columns: &[Arg<'_>],
    ) -> Result<u64> {
        match batch {
            // One statement needs no transaction around it.
            Batch::Arrays(sql) => self.execute_parts(sql, head_args, columns).await,
            Batch::Whole(sql) => self.execute(sql, head_args).await,
            // A batch that fits one statement needs no transaction either.
            Batch::Rows(rows) if batch_len(columns)? <= rows.max_rows => {
                let n = batch_len(columns)?;
                let sql = rows.statement(n);
                match &self.pool {
                    Pool::Sqlite(p) => {
                        Ok(sqlx::query_with(&sql, row_args(head_args, columns, 0..n)?)
                            .execute(p)
                            .await?
                            .rows_affected())
                    }
                    Pool::Postgres(_) => Err(rows_on_postgres()),
                }
            }
            Batch::Rows(_) => {
                let mut tx = self.begin().await?;
                let n = tx.execute_batch(batch, head_args, columns).await?;
                tx.commit().await?;
                Ok(n)
            }
        }
    }
}

fn rows_on_postgres() -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(
        "a batch of SQLite rows sent to PostgreSQL".into(),
    ))
}

/// The common length of the array arguments of a batch.
fn batch_len(columns: &[Arg<'_>]) -> Result<usize> {
    let mut lens = columns.iter().map(|c| c.len());
    let first = lens.next().flatten().unwrap_or(0);
    if lens.all(|l| l == Some(first)) {
        Ok(first)
    } else {
        Err(StoreError::Database(sqlx::Error::Protocol(
            "the columns of a batch differ in length".into(),
        )))
    }
}

/// The SQLite arguments of rows `range` of a batch: the head's, then each row's columns.
fn row_args<'q>(
    head_args: &[Arg<'q>],
    columns: &[Arg<'q>],
    range: std::ops::Range<usize>,
) -> Result<SqliteArguments<'q>> {
    let mut out = SqliteArguments::default();
    for a in head_args {
        add_sqlite(&mut out, a, None).map_err(encode_error)?;
    }
    for i in range {
        for c in columns {
            add_sqlite(&mut out, c, Some(i)).map_err(encode_error)?;
        }
    }
    Ok(out)
}

/// A statement over many rows, in the shape its dialect wants.
#[derive(Debug)]
pub(crate) enum Batch {
    /// PostgreSQL: one fixed statement taking one array per column (after the head's scalar
    /// arguments), prepared and planned once whatever the batch size.
    Arrays(&'static str),
    /// SQLite: multi-row statements of at most `max_rows` rows each.
    Rows(MultiRow),
    /// One fixed statement that takes only the head's arguments and covers every row the
    /// batch could name (SQLite reads all sixteen chain heads under its write lock: one
    /// statement, instead of one per number of chains a batch touches).
    Whole(&'static str),
}

/// `head`, then `row` once per row (joined by `, `), then `tail`:
/// `INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ON CONFLICT DO NOTHING`. Its placeholders are
/// SQLite's anonymous `?`, bound in order: the head's arguments first, then each row's.
#[derive(Debug)]
pub(crate) struct MultiRow {
    pub head: &'static str,
    pub row: &'static str,
    pub tail: &'static str,
    pub max_rows: usize,
    /// The statement of `max_rows` rows, made once (most chunks of a big batch are full).
    full: OnceLock<String>,
}

impl MultiRow {
    /// Batches of [`crate::ROWS_PER_STATEMENT`] rows per statement.
    pub(crate) const fn new(head: &'static str, row: &'static str, tail: &'static str) -> Self {
        Self::with_max(head, row, tail, crate::ROWS_PER_STATEMENT)
    }

    pub(crate) const fn with_max(
        head: &'static str,
        row: &'static str,
        tail: &'static str,
        max_rows: usize,
    ) -> Self {
        MultiRow {
            head,
            row,
            tail,
            max_rows,
            full: OnceLock::new(),
        }
    }

    /// The statement text for `rows` rows.
    pub(crate) fn statement(&self, rows: usize) -> std::borrow::Cow<'_, str> {
        if rows == self.max_rows {
            return self.full.get_or_init(|| self.build(rows)).as_str().into();
        }
        self.build(rows).into()
    }

    fn build(&self, rows: usize) -> String {
        let mut sql =
            String::with_capacity(self.head.len() + (self.row.len() + 2) * rows + self.tail.len());
        sql.push_str(self.head);
        for i in 0..rows {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(self.row);
        }
        sql.push_str(self.tail);
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::MultiRow;

    #[test]
    fn rows_are_repeated_between_head_and_tail() {
        let m = MultiRow::with_max(
            "INSERT INTO t (a, b) VALUES ",
            "(?, 0, ?)",
            " ON CONFLICT DO NOTHING",
            2,
        );
        assert_eq!(
            m.statement(2),
            "INSERT INTO t (a, b) VALUES (?, 0, ?), (?, 0, ?) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            m.statement(1),
            "INSERT INTO t (a, b) VALUES (?, 0, ?) ON CONFLICT DO NOTHING"
        );
    }
}
