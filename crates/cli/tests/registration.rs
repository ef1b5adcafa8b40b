//! `custodian datastore add` through the real binary (issue 16): a Fides dataset with a Fides
//! policy whose strategies the database cannot take is refused with every problem listed, and
//! registered with `--force`; without a policy the choices are shown; an unreachable database
//! is a warning; bad input is a located error; a config-file datastore whose check fails keeps
//! `serve` from starting.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use custodian_connectors::sql::Db;
use support::{bin, temp_dir};

const SECRET: &str = "0202020202020202020202020202020202020202020202020202020202020202";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../connectors/tests/fixtures/fides-policy")
}

fn cli(dir: &Path, shop_url: &str) -> Command {
    let mut c = bin();
    c.current_dir(dir)
        .env_remove("CUSTODIAN_CONFIG")
        .env(
            "CUSTODIAN_DATABASE_URL",
            format!("sqlite://{}", dir.join("custodian.db").display()),
        )
        .env("CUSTODIAN_SECRET", SECRET)
        .env("SHOP_URL", shop_url)
        .env("DOWN_URL", "postgres://postgres@127.0.0.1:1/nowhere");
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The shop's schema (the one the connector tests run on PostgreSQL and MariaDB) in SQLite.
async fn shop(dir: &Path) -> String {
    let url = format!("sqlite://{}?mode=rwc", dir.join("shop.db").display());
    let db = Db::connect(&url).await.unwrap();
    let schema = std::fs::read_to_string(fixtures().join("shop_schema.sql")).unwrap();
    let mut tx = db.begin().await.unwrap();
    for stmt in schema.split(';').filter(|s| {
        s.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
    }) {
        let mut s = db.sql();
        s.push(stmt);
        tx.execute(&s).await.unwrap();
    }
    let mut s = db.sql();
    s.push("INSERT INTO customers (id, email) VALUES (1, 'shopper-1@example.com')");
    tx.execute(&s).await.unwrap();
    let mut s = db.sql();
    s.push("INSERT INTO product_registrations (id, customer_id, serial_number, device_label) VALUES (10, 1, 'SN000000010', 'Studio')");
    tx.execute(&s).await.unwrap();
    tx.commit().await.unwrap();
    db.close().await;
    url
}

// One registration story through the binary: each case depends on what the previous left
// registered, so it is one test.
#[tokio::test]
async fn datastore_add_checks_against_the_live_database() {
    let dir = temp_dir("registration");
    let url = shop(&dir).await;
    let dataset = fixtures().join("shop_dataset.yml");
    let nulls = fixtures().join("shop_null_policy.json");
    let ds = dataset.to_str().unwrap();
    let run = |args: &[&str]| cli(&dir, &url).args(args).output().unwrap();
    let add_nulls = [
        "datastore",
        "add",
        "shop",
        "--dataset",
        ds,
        "--fides-policy",
        nulls.to_str().unwrap(),
        "--url-env",
        "SHOP_URL",
    ];

    // Null into NOT NULL columns: refused, every problem listed, nothing registered.
    let refused = run(&add_nulls);
    let (_, err) = text(&refused);
    assert!(!refused.status.success(), "{err}");
    for column in [
        "customers.email",
        "product_registrations.serial_number",
        "product_registrations.device_label",
    ] {
        assert!(
            err.contains(&format!(
                "{column}: erase = \"null\" but the column is NOT NULL"
            )),
            "{err}"
        );
    }
    assert!(err.contains("--force"), "{err}");
    let (list, _) = text(&run(&["datastore", "list"]));
    assert_eq!(list.trim(), "[]");

    // Forced: registered, the problems shown as warnings; `dataset check` still lists them.
    let mut forced = add_nulls.to_vec();
    forced.push("--force");
    let out = run(&forced);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: shop: product_registrations.serial_number"),
        "{err}"
    );
    let check = run(&[
        "dataset",
        "check",
        "--datastore",
        "shop",
        "--url-env",
        "SHOP_URL",
    ]);
    let (stdout, _) = text(&check);
    assert!(!check.status.success());
    assert!(stdout.contains("3 problem(s)"), "{stdout}");

    // Without a policy Custodian chooses, and says what.
    let out = run(&[
        "datastore",
        "add",
        "auto",
        "--dataset",
        ds,
        "--url-env",
        "SHOP_URL",
    ]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    // (SQLite keeps no column lengths, so the keyed hash fits; on PostgreSQL and MariaDB the
    // 20-character column gets a random rewrite: crates/connectors/tests/connectors/shop.rs.)
    assert!(err.contains("product_registrations.serial_number: Custodian erases it with a keyed hash (the column is NOT NULL and UNIQUE)"), "{err}");
    let check = run(&[
        "dataset",
        "check",
        "--datastore",
        "auto",
        "--url-env",
        "SHOP_URL",
    ]);
    let (stdout, _) = text(&check);
    assert!(check.status.success(), "{stdout}");
    assert!(
        stdout.contains("customers.email: Custodian erases it with a keyed hash"),
        "{stdout}"
    );
    // ... and the erasure it chose goes through.
    let erased = run(&[
        "datastore",
        "erase",
        "auto",
        "--email",
        "shopper-1@example.com",
    ]);
    let (stdout, err) = text(&erased);
    assert!(erased.status.success(), "{stdout}\n{err}");

    // An unreachable database is a warning, never a silent pass.
    let out = run(&[
        "datastore",
        "add",
        "down",
        "--dataset",
        ds,
        "--url-env",
        "DOWN_URL",
    ]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: down: the dataset could not be checked against its database"),
        "{err}"
    );
    assert!(
        !err.contains("127.0.0.1:1"),
        "no connection URL in messages: {err}"
    );

    // Bad input: a located error naming the file and the rule.
    let bad = dir.join("bad-policy.yml");
    std::fs::write(&bad, "key: bad\nrules:\n  - key: scramble\n    action_type: erasure\n    masking_strategy: {strategy: scramble}\n    targets: [{data_category: user.name}]\n").unwrap();
    let out = run(&[
        "datastore",
        "add",
        "bad",
        "--dataset",
        ds,
        "--fides-policy",
        bad.to_str().unwrap(),
        "--url-env",
        "SHOP_URL",
    ]);
    let (_, err) = text(&out);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "{}: rules[0] (scramble).masking_strategy.strategy: unknown strategy `scramble`",
            bad.canonicalize().unwrap().display()
        )),
        "{err}"
    );

    // A config-file datastore whose dataset fails its check keeps `serve` from starting.
    let config = dir.join("custodian.toml");
    std::fs::write(
        &config,
        format!(
            "[[datastores]]\nname = \"configured\"\ndataset = \"{ds}\"\nfides_policy = \"{}\"\nurl_env = \"SHOP_URL\"\n",
            nulls.display()
        ),
    )
    .unwrap();
    let out = cli(&dir, &url)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let (_, err) = text(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(
            "datastore configured: customers.email: erase = \"null\" but the column is NOT NULL"
        ),
        "{err}"
    );
}
