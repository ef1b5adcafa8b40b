//! Transactions on either backend, with the same statements as the store's pool.

use sqlx::{Postgres, Sqlite};

use super::{pg_args, row_not_found, sqlite_args, Arg, FromRows, Row, Rows};
use crate::dialect::Dialect;
use crate::Result;

pub(super) enum TxInner {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// A transaction on either backend, with the same statements as [`crate::Store`].
pub struct Tx {
    pub(super) inner: TxInner,
    pub(super) dialect: &'static Dialect,
    /// The store handle's name in the notices it sends (`crate::changes`).
    pub(crate) sender: std::sync::Arc<str>,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("dialect", &self.dialect.name)
            .finish()
    }
}

impl Tx {
    /// The statements of this transaction's backend.
    pub(crate) fn dialect(&self) -> &'static Dialect {
        self.dialect
    }

    pub async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64> {
        self.execute_parts(sql, args, &[]).await
    }

    /// [`Tx::execute`] with the arguments `args` then `more`.
    pub(crate) async fn execute_parts(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        more: &[Arg<'_>],
    ) -> Result<u64> {
        Ok(match &mut self.inner {
            TxInner::Sqlite(tx) => sqlx::query_with(sql, sqlite_args(args, more)?)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            TxInner::Postgres(tx) => sqlx::query_with(sql, pg_args(args, more)?)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    pub async fn fetch_all<T: FromRows>(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>> {
        self.rows(sql, args, &[]).await?.decode()
    }

    pub async fn fetch_optional<T: FromRows>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>> {
        self.row(sql, args)
            .await?
            .as_ref()
            .map(Row::decode)
            .transpose()
    }

    pub async fn fetch_one<T: FromRows>(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<T> {
        self.row(sql, args)
            .await?
            .ok_or_else(row_not_found)?
            .decode()
    }

    /// Every row of a statement, undecoded: like `Store::rows`, the one place that drives
    /// sqlx's executor for a transaction, compiled once per backend rather than per row type.
    pub(super) async fn rows(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        more: &[Arg<'_>],
    ) -> Result<Rows> {
        Ok(match &mut self.inner {
            TxInner::Sqlite(tx) => Rows::Sqlite(
                sqlx::query_with(sql, sqlite_args(args, more)?)
                    .fetch_all(&mut **tx)
                    .await?,
            ),
            TxInner::Postgres(tx) => Rows::Postgres(
                sqlx::query_with(sql, pg_args(args, more)?)
                    .fetch_all(&mut **tx)
                    .await?,
            ),
        })
    }

    /// The first row of a statement, undecoded.
    async fn row(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>> {
        Ok(match &mut self.inner {
            TxInner::Sqlite(tx) => sqlx::query_with(sql, sqlite_args(args, &[])?)
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Sqlite),
            TxInner::Postgres(tx) => sqlx::query_with(sql, pg_args(args, &[])?)
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Postgres),
        })
    }

    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await?,
            TxInner::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.rollback().await?,
            TxInner::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}
