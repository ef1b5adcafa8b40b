//! The sample company of `examples/company/`: its schema and a deterministic data generator,
//! used by the tests, the benchmarks and the `custodian-company-gen` binary.
//!
//! Customer `i` has the e-mail `customer-{i}@example.com`, one account, three orders with an
//! invoice each, a product registration, and — for some `i` — a support ticket, a newsletter
//! subscription, a survey answer and a job application: about ten rows per customer, so
//! 100,000 customers fill the schema to a million rows.

use crate::sql::{Bind, Db, Sql};
use crate::ConnectorError;

/// The schema, accepted as is by PostgreSQL, MariaDB/MySQL and SQLite.
pub const SCHEMA: &str = include_str!("../../../examples/company/schema.sql");
/// The dataset describing it.
pub const DATASET: &str = include_str!("../../../examples/company/company.toml");

pub fn email(i: u64) -> String {
    format!("customer-{i}@example.com")
}

/// Creates the tables (in an empty database).
pub async fn create_schema(db: &Db) -> Result<(), ConnectorError> {
    let mut tx = db.begin().await?;
    for stmt in SCHEMA.split(';') {
        let body: String = stmt
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        if body.trim().is_empty() {
            continue;
        }
        let mut s = db.sql();
        s.push(&body);
        tx.execute(&s).await?;
    }
    tx.commit().await
}

struct Batch<'a> {
    db: &'a Db,
    table: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Bind>>,
    inserted: u64,
}

impl<'a> Batch<'a> {
    fn new(db: &'a Db, table: &'static str, columns: &'static [&'static str]) -> Self {
        Batch {
            db,
            table,
            columns,
            rows: Vec::new(),
            inserted: 0,
        }
    }

    async fn push(&mut self, row: Vec<Bind>) -> Result<(), ConnectorError> {
        self.rows.push(row);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ConnectorError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut s: Sql = self.db.sql();
        s.push("INSERT INTO ").ident(self.table).push(" (");
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                s.push(", ");
            }
            s.ident(c);
        }
        s.push(") VALUES ");
        for (r, row) in self.rows.drain(..).enumerate() {
            if r > 0 {
                s.push(", ");
            }
            s.push("(");
            for (i, v) in row.into_iter().enumerate() {
                if i > 0 {
                    s.push(", ");
                }
                s.bind(v);
            }
            s.push(")");
        }
        let mut tx = self.db.begin().await?;
        self.inserted += tx.execute(&s).await?;
        tx.commit().await
    }
}

fn t(s: impl Into<String>) -> Bind {
    Bind::Text(s.into())
}

/// Fills the schema with `customers` customers; customer 1 gets `extra_orders` more orders
/// (a subject with many rows, for the access benchmark). Returns the number of rows.
pub async fn generate(db: &Db, customers: u64, extra_orders: u64) -> Result<u64, ConnectorError> {
    let mut c = Batch::new(
        db,
        "customers",
        &["id", "email", "full_name", "phone", "country"],
    );
    let mut a = Batch::new(db, "accounts", &["id", "customer_id", "username", "status"]);
    let mut o = Batch::new(
        db,
        "orders",
        &[
            "id",
            "account_id",
            "shipping_name",
            "shipping_address",
            "total",
        ],
    );
    let mut inv = Batch::new(
        db,
        "invoices",
        &[
            "id",
            "order_id",
            "billing_name",
            "billing_address",
            "amount",
        ],
    );
    let mut reg = Batch::new(
        db,
        "product_registrations",
        &["id", "customer_id", "product", "serial_number"],
    );
    let mut tk = Batch::new(
        db,
        "support_tickets",
        &["id", "customer_id", "email", "subject", "body"],
    );
    let mut nl = Batch::new(
        db,
        "newsletter_subscriptions",
        &["id", "email", "list_name"],
    );
    let mut sv = Batch::new(
        db,
        "survey_answers",
        &["id", "customer_id", "email", "question", "answer"],
    );
    let mut ja = Batch::new(
        db,
        "job_applications",
        &["id", "email", "full_name", "cv_text"],
    );
    // Batches are flushed together, parents first, so foreign keys always hold.
    macro_rules! flush_all {
        () => {
            for b in [
                &mut c, &mut a, &mut o, &mut inv, &mut reg, &mut tk, &mut nl, &mut sv, &mut ja,
            ] {
                b.flush().await?;
            }
        };
    }
    for i in 1..=customers {
        if i % 300 == 0 {
            flush_all!();
        }
        let id = i as i64;
        let name = format!("Customer {i}");
        let address = format!("{i} Example Street, Exampletown");
        c.push(vec![
            Bind::Int(id),
            t(email(i)),
            t(&name),
            t(format!("+44700{i:07}")),
            t("GB"),
        ])
        .await?;
        a.push(vec![
            Bind::Int(id),
            Bind::Int(id),
            t(format!("user{i}")),
            t(if i % 5 == 0 { "closed" } else { "open" }),
        ])
        .await?;
        for k in 0..3 {
            let oid = (3 * (i - 1) + k + 1) as i64;
            o.push(vec![
                Bind::Int(oid),
                Bind::Int(id),
                t(&name),
                t(&address),
                Bind::Int(10 + k as i64),
            ])
            .await?;
            inv.push(vec![
                Bind::Int(oid),
                Bind::Int(oid),
                t(&name),
                t(&address),
                Bind::Int(10 + k as i64),
            ])
            .await?;
        }
        reg.push(vec![
            Bind::Int(id),
            Bind::Int(id),
            t("Scarlett 2i2"),
            t(format!("SN{i:09}")),
        ])
        .await?;
        if i % 2 == 0 {
            tk.push(vec![
                Bind::Int(id / 2),
                Bind::Int(id),
                t(email(i)),
                t("No sound"),
                t("My interface makes no sound."),
            ])
            .await?;
        }
        if i % 4 == 0 {
            nl.push(vec![Bind::Int(id / 4), t(email(i)), t("news")])
                .await?;
        }
        if i % 7 == 0 {
            sv.push(vec![
                Bind::Int(id / 7),
                Bind::Int(id),
                t(email(i)),
                t("How likely are you to recommend us?"),
                t("9"),
            ])
            .await?;
        }
        if i % 10 == 0 {
            ja.push(vec![
                Bind::Int(id / 10),
                t(email(i)),
                t(&name),
                t("Audio engineer, ten years."),
            ])
            .await?;
        }
    }
    if customers > 0 {
        for k in 0..extra_orders {
            let oid = (3 * customers + k + 1) as i64;
            o.push(vec![
                Bind::Int(oid),
                Bind::Int(1),
                t("Customer 1"),
                t("1 Example Street, Exampletown"),
                Bind::Int(5),
            ])
            .await?;
            if k % 900 == 899 {
                flush_all!();
            }
        }
    }
    flush_all!();
    Ok([&c, &a, &o, &inv, &reg, &tk, &nl, &sv, &ja]
        .iter()
        .map(|b| b.inserted)
        .sum())
}
