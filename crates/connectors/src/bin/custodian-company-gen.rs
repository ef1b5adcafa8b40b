//! Creates the sample company's schema (examples/company/schema.sql) in an empty database and
//! fills it with generated customers: `custodian-company-gen URL_ENV CUSTOMERS [EXTRA_ORDERS]`.
//!
//! The URL is read from the named environment variable so it never appears in a process list.

use custodian_connectors::{company, sql::Db};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: custodian-company-gen URL_ENV CUSTOMERS [EXTRA_ORDERS_FOR_CUSTOMER_1]");
        std::process::exit(2);
    }
    let url = std::env::var(&args[0]).unwrap_or_else(|_| {
        eprintln!("the environment variable {} is not set", args[0]);
        std::process::exit(2)
    });
    let customers: u64 = args[1].parse().expect("CUSTOMERS is a number");
    let extra: u64 = args
        .get(2)
        .map(|a| a.parse().expect("EXTRA_ORDERS is a number"))
        .unwrap_or(0);
    let run = async {
        let db = Db::connect(&url).await?;
        company::create_schema(&db).await?;
        let started = std::time::Instant::now();
        let rows = company::generate(&db, customers, extra).await?;
        eprintln!(
            "inserted {rows} rows in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        db.close().await;
        Ok::<_, custodian_connectors::ConnectorError>(())
    };
    if let Err(e) = run.await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
