//! Bench-only helpers. The binaries are the point of this crate:
//!
//! - `constant-server`: the same HTTP stack as `custodian serve` (axum 0.8 on a multi-thread
//!   tokio runtime) answering `POST /v1/decide` with a constant, after reading the body. It is
//!   the reference `/v1/decide` is measured against.
//! - `raw-inserts`: plain one-row-per-transaction inserts of rows equal to consent events, at
//!   the durability the service uses, on SQLite and PostgreSQL: the reference for durable
//!   consent writes.
//!
//! See `bench/*.sh` and `docs/benchmarks.md`.
