//! Redis as a datastore, against the machine's real Redis: a shop's profiles, carts, sessions
//! and orders found from an e-mail address (through an index key, a hash field and the
//! identities keys name), exported, erased (dry run, for real, again), through the recorded
//! runs, checked against the live server, and safe against subjects whose values are globs.

use crate::helpers::{email, no_holds, rand_suffix, store_on, write_dataset, T0};
use crate::support;
use custodian_connectors::access::AccessRecord;
use custodian_connectors::dataset::Dataset;
use custodian_connectors::dataset_file;
use custodian_connectors::erase::{ChangeReport, Operation};
use custodian_connectors::redis::resp::{Conn, Reply};
use custodian_connectors::redis::{check, ops};
use custodian_connectors::run::{self, ExecuteOptions, RunKeys, RunKind, RunSpec, StepResult};
use custodian_connectors::{ConnectorError, Identities};
use custodian_core::clock::ManualClock;
use std::collections::BTreeMap;

const KEY: &[u8] = b"hash key for tests";

/// The shop's dataset under the key prefix `p`.
fn dataset(p: &str) -> String {
    format!(
        r#"
name = "shop_redis"

[[keys]]
pattern = "{p}:user_by_email:{{email}}"
type = "string"
fields = [{{ name = "value", identity = "user_id", erase = "delete_row" }}]

[[keys]]
pattern = "{p}:profile:{{user_id}}"
fields = [
  {{ name = "email", category = "website_user", identity = "email", erase = "hash" }},
  {{ name = "name", category = "website_user", erase = "null" }},
  {{ name = "address", category = "payment", erase = "mask" }},
  {{ name = "theme" }},
]

[[keys]]
pattern = "{p}:cart:{{user_id}}"
type = "string"
fields = [{{ name = "value", category = "payment", erase = "null" }}]

[[keys]]
pattern = "{p}:session:*"
fields = [
  {{ name = "user_email", category = "website_user", identity = "email", erase = "delete_row" }},
  {{ name = "ip", category = "website_user" }},
]

[[keys]]
pattern = "{p}:orders:{{user_id}}:{{order_id}}"
fields = [{{ name = "shipping", category = "payment", erase = "mask" }}]

[[keys]]
pattern = "{p}:invoice:{{order_id}}"
type = "string"
fields = [{{ name = "value", category = "payment", erase = "delete_row" }}]
"#
    )
}

async fn conn(url: &str) -> Conn {
    Conn::connect(url).await.unwrap()
}

async fn cmd(c: &mut Conn, args: &[&str]) -> Reply {
    c.call(args).await.unwrap()
}

async fn hash(c: &mut Conn, key: &str) -> BTreeMap<String, String> {
    let items = cmd(c, &["HGETALL", key]).await.into_array();
    items
        .chunks(2)
        .map(|kv| (kv[0].text().unwrap(), kv[1].text().unwrap()))
        .collect()
}

/// Two customers (ids 1 and 10, so a prefix match would mix them up) with their orders and
/// the invoices kept under the order number, a guest session, and a profile key of the wrong
/// type.
async fn shop(url: &str, p: &str) -> Conn {
    let mut c = conn(url).await;
    for (i, mail) in [(1, "ann@example.com"), (10, "bob@example.com")] {
        cmd(
            &mut c,
            &["SET", &format!("{p}:user_by_email:{mail}"), &i.to_string()],
        )
        .await;
        cmd(
            &mut c,
            &[
                "HSET",
                &format!("{p}:profile:{i}"),
                "email",
                mail,
                "name",
                &format!("Customer {i}"),
                "address",
                &format!("{i} High Street"),
                "theme",
                "dark",
            ],
        )
        .await;
        cmd(
            &mut c,
            &["SET", &format!("{p}:cart:{i}"), r#"{"items":[3,4]}"#],
        )
        .await;
        for s in 0..2 {
            cmd(
                &mut c,
                &[
                    "HSET",
                    &format!("{p}:session:{i}x{s}"),
                    "user_email",
                    mail,
                    "ip",
                    "192.0.2.0",
                ],
            )
            .await;
        }
        // Order numbers are unique across customers: a placeholder's value identifies.
        for o in 0..3 {
            let order = i * 100 + o;
            cmd(
                &mut c,
                &[
                    "HSET",
                    &format!("{p}:orders:{i}:{order}"),
                    "shipping",
                    &format!("{i} High Street"),
                ],
            )
            .await;
            cmd(
                &mut c,
                &[
                    "SET",
                    &format!("{p}:invoice:{order}"),
                    &format!("Customer {i}"),
                ],
            )
            .await;
        }
    }
    cmd(
        &mut c,
        &["HSET", &format!("{p}:session:guest"), "ip", "198.51.100.0"],
    )
    .await;
    cmd(&mut c, &["SET", &format!("{p}:profile:3"), "not a hash"]).await;
    cmd(&mut c, &["EXPIRE", &format!("{p}:profile:1"), "3600"]).await;
    c
}

async fn cleanup(c: &mut Conn, p: &str) {
    let mut scan =
        custodian_connectors::redis::walk::Scan::new(format!("{p}:*").into_bytes(), None);
    while let Some(keys) = scan.next(c).await.unwrap() {
        for k in keys {
            c.call(&[&b"DEL"[..], &k]).await.unwrap();
        }
    }
}

fn parse(text: &str) -> Dataset {
    dataset_file::parse(text).unwrap().0
}

async fn collect(c: &mut Conn, ds: &Dataset, ids: &Identities) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut sink = |r: &AccessRecord<'_>| {
        out.push(serde_json::to_value(r).unwrap());
        Ok::<(), ConnectorError>(())
    };
    ops::access(c, ds, ids, &mut sink).await.unwrap();
    out
}

async fn erase(c: &mut Conn, ds: &Dataset, ids: &Identities, dry_run: bool) -> ChangeReport {
    let op = Operation::Erase {
        hash_key: KEY,
        holds: &no_holds,
    };
    ops::apply(c, ds, ids, &op, dry_run).await.unwrap()
}

fn rows(r: &ChangeReport) -> BTreeMap<String, u64> {
    r.changes
        .iter()
        .map(|c| {
            let table = c.table.split_once(':').unwrap().1;
            (
                format!("{table} {}", c.field.as_deref().unwrap_or("*")),
                c.rows,
            )
        })
        .collect()
}

// One scenario on one shop: what access finds from an e-mail address is what erasure then
// changes, and a second erasure changes nothing; split up, each part would rebuild the shop.
#[tokio::test]
async fn access_and_erasure_find_the_subject_from_an_email_address() {
    let Some(url) = support::redis_url().await else {
        return;
    };
    let p = format!("t{}", rand_suffix());
    let mut c = shop(&url, &p).await;
    let ds = parse(&dataset(&p));
    let ann = email("ann@example.com");

    let records = collect(&mut c, &ds, &ann).await;
    let keys: std::collections::BTreeSet<String> = records
        .iter()
        .map(|r| r["key"].as_str().unwrap().replacen(&format!("{p}:"), "", 1))
        .collect();
    let ann_keys = [
        "cart:1",
        "invoice:100",
        "invoice:101",
        "invoice:102",
        "orders:1:100",
        "orders:1:101",
        "orders:1:102",
        "profile:1",
        "session:*",
    ];
    assert_eq!(
        keys,
        ann_keys.map(String::from).into(),
        "Ann's keys and no one else's; a session's name (its token) left out"
    );
    // payment: cart, 3 orders, 3 invoices, profile; website_user: profile, 2 sessions.
    assert_eq!(records.len(), 11, "{records:#?}");
    assert_eq!(records[0]["category"], "payment", "grouped by category");
    let profile = records
        .iter()
        .find(|r| {
            r["table"] == format!("{p}:profile:{{user_id}}") && r["category"] == "website_user"
        })
        .unwrap();
    assert_eq!(profile["fields"]["email"], "ann@example.com");
    assert_eq!(profile["fields"]["name"], "Customer 1");
    assert!(
        profile["fields"].get("theme").is_none(),
        "not personal, not exported"
    );
    let orders = records
        .iter()
        .filter(|r| r["table"].as_str().unwrap().contains("orders"))
        .count();
    assert_eq!(orders, 3);

    let dry = erase(&mut c, &ds, &ann, true).await;
    assert_eq!(
        hash(&mut c, &format!("{p}:profile:1")).await["name"],
        "Customer 1",
        "a dry run writes nothing"
    );
    let done = erase(&mut c, &ds, &ann, false).await;
    assert_eq!(
        rows(&dry),
        rows(&done),
        "the dry run counts what the erasure does"
    );
    let expected: BTreeMap<String, u64> = [
        ("user_by_email:{email} *", 1),
        ("profile:{user_id} email", 1),
        ("profile:{user_id} name", 1),
        ("profile:{user_id} address", 1),
        ("cart:{user_id} *", 1),
        ("session:* *", 2),
        ("orders:{user_id}:{order_id} shipping", 3),
        ("invoice:{order_id} *", 3),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(rows(&done), expected);

    let profile = hash(&mut c, &format!("{p}:profile:1")).await;
    assert!(
        profile["email"].starts_with("h1:") && profile["email"].len() == 35,
        "{profile:?}"
    );
    assert!(!profile.contains_key("name"));
    assert_eq!(profile["address"], "[erased]");
    assert_eq!(profile["theme"], "dark", "fields without a strategy stay");
    let ttl = cmd(&mut c, &["TTL", &format!("{p}:profile:1")]).await;
    assert!(
        matches!(ttl, Reply::Int(t) if t > 3000),
        "the key keeps its time to live: {ttl:?}"
    );
    for gone in [
        "user_by_email:ann@example.com",
        "cart:1",
        "session:1x0",
        "session:1x1",
    ] {
        assert_eq!(
            cmd(&mut c, &["EXISTS", &format!("{p}:{gone}")]).await,
            Reply::Int(0),
            "{gone}"
        );
    }
    assert_eq!(
        hash(&mut c, &format!("{p}:orders:1:102")).await["shipping"],
        "[erased]"
    );
    assert_eq!(
        cmd(&mut c, &["EXISTS", &format!("{p}:invoice:102")]).await,
        Reply::Int(0)
    );
    // Bob is untouched.
    assert_eq!(
        hash(&mut c, &format!("{p}:profile:10")).await["name"],
        "Customer 10"
    );
    assert_eq!(
        hash(&mut c, &format!("{p}:orders:10:1000")).await["shipping"],
        "10 High Street"
    );
    assert_eq!(
        cmd(&mut c, &["EXISTS", &format!("{p}:invoice:1000")]).await,
        Reply::Int(1)
    );
    assert_eq!(
        cmd(&mut c, &["EXISTS", &format!("{p}:session:10x1")]).await,
        Reply::Int(1)
    );
    assert_eq!(
        cmd(&mut c, &["EXISTS", &format!("{p}:session:guest")]).await,
        Reply::Int(1)
    );

    // Again, now by user id too (the e-mail trail is gone): nothing more changes.
    let mut ids = ann.clone();
    ids.insert("user_id".into(), vec!["1".into()]);
    let again = erase(&mut c, &ds, &ids, false).await;
    assert_eq!(again.rows_changed(), 0, "{again:?}");
    cleanup(&mut c, &p).await;
}

#[tokio::test]
async fn subject_values_never_act_as_globs() {
    let Some(url) = support::redis_url().await else {
        return;
    };
    let p = format!("t{}", rand_suffix());
    let mut c = shop(&url, &p).await;
    let ds = parse(&dataset(&p));
    for (kind, value) in [
        ("user_id", "*"),
        ("user_id", "1*"),
        ("user_id", "?"),
        ("user_id", "[1]"),
        ("email", "*@example.com"),
        ("email", "ann@example.co?"),
    ] {
        let ids = run::identities([(kind, value)]);
        assert!(
            collect(&mut c, &ds, &ids).await.is_empty(),
            "{kind}={value}"
        );
        assert_eq!(erase(&mut c, &ds, &ids, false).await.rows_changed(), 0);
    }
    assert_eq!(
        hash(&mut c, &format!("{p}:profile:1")).await["name"],
        "Customer 1"
    );
    cleanup(&mut c, &p).await;
}

#[tokio::test]
async fn runs_on_redis_are_recorded_like_runs_on_sql() {
    let Some(url) = support::redis_url().await else {
        return;
    };
    let p = format!("t{}", rand_suffix());
    let mut c = shop(&url, &p).await;
    let clock = ManualClock::at(T0);
    let store = store_on(&clock).await;
    let var = format!("CUSTODIAN_TEST_REDIS_{}", rand_suffix());
    std::env::set_var(&var, &url);
    let path = write_dataset(&dataset(&p));
    store
        .put_datastore("sessions", path.to_str().unwrap(), Some(&var), None)
        .await
        .unwrap();
    let keys = RunKeys::from_secret(&[7u8; 32]);
    let spec = |kind| RunSpec {
        kind,
        identities: email("bob@example.com"),
        corrections: BTreeMap::new(),
        datastores: None,
        dry_run: false,
        request_id: None,
    };
    let mut exported = Vec::new();
    let mut sink = |r: &AccessRecord<'_>| {
        exported.push(serde_json::to_value(r).unwrap());
        Ok::<(), ConnectorError>(())
    };
    let mut opts = ExecuteOptions::new(&no_holds);
    opts.sink = Some(&mut sink);
    let out = run::run_now(&store, &keys, &spec(RunKind::Access), opts)
        .await
        .unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    let Some(StepResult::Access(summary)) = &out.results()[0] else {
        panic!("{:?}", out.results())
    };
    assert_eq!(summary.records, 11);
    assert_eq!(exported.len(), 11);

    let out = run::run_now(
        &store,
        &keys,
        &spec(RunKind::Erasure),
        ExecuteOptions::new(&no_holds),
    )
    .await
    .unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    let Some(StepResult::Change(report)) = &out.results()[0] else {
        panic!("{:?}", out.results())
    };
    assert_eq!(report.rows_changed(), 13);
    let recorded = out.steps[0].result.as_deref().unwrap();
    assert!(
        !recorded.contains("bob") && !recorded.contains(":10"),
        "no identifier in the record: {recorded}"
    );
    assert_eq!(
        cmd(&mut c, &["EXISTS", &format!("{p}:cart:10")]).await,
        Reply::Int(0)
    );
    assert_eq!(
        hash(&mut c, &format!("{p}:profile:1")).await["name"],
        "Customer 1"
    );

    // Rectification through a run: `pattern.field = value`.
    let mut fix = spec(RunKind::Rectification);
    fix.identities = run::identities([("user_id", "1")]);
    fix.corrections
        .insert(format!("{p}:profile:{{user_id}}.name"), "Ann Smith".into());
    let out = run::run_now(&store, &keys, &fix, ExecuteOptions::new(&no_holds))
        .await
        .unwrap();
    assert_eq!(out.run.status.as_str(), "done", "{:?}", out.steps);
    assert_eq!(
        hash(&mut c, &format!("{p}:profile:1")).await["name"],
        "Ann Smith"
    );
    cleanup(&mut c, &p).await;
}

#[tokio::test]
async fn check_reports_what_the_live_server_shows() {
    let Some(url) = support::redis_url().await else {
        return;
    };
    let p = format!("t{}", rand_suffix());
    let mut c = shop(&url, &p).await;
    cmd(
        &mut c,
        &["HSET", &format!("{p}:profile:1"), "loyalty", "gold"],
    )
    .await;
    let text = dataset(&p)
        .replace(
            r#"{ name = "theme" },"#,
            r#"{ name = "theme" }, { name = "nickname", category = "website_user", erase = "null" },"#,
        )
        .replace(r#"{ name = "value", identity = "user_id", erase = "delete_row" }"#, r#"{ name = "value", identity = "user_id" }"#)
        + &format!("\n[[keys]]\npattern = \"{p}:wishlist:{{user_id}}\"\nfields = [{{ name = \"items\", category = \"payment\", erase = \"null\" }}]\n");
    let ds = parse(&text);
    let problems = check::check(&url, &ds, None).await.unwrap();
    let at = |s: &str| format!("keys \"{p}:{s}\"");
    let expect = [
        format!(
            "{}: 1 of 3 sampled keys are not of type hash (1 string)",
            at("profile:{user_id}")
        ),
        format!(
            "{}.nickname: no sampled key has this field",
            at("profile:{user_id}")
        ),
        format!(
            "{}: the sampled keys have fields the dataset does not list (loyalty)",
            at("profile:{user_id}")
        ),
        format!(
            "{}: no `{{kind}}` in the pattern, so every request scans",
            at("session:*")
        ),
        format!(
            "{}: the key name holds the subject's email, but erasure keeps the key",
            at("user_by_email:{email}")
        ),
        format!(
            "{}: no key in the database matches the pattern",
            at("wishlist:{user_id}")
        ),
    ];
    for e in &expect {
        assert!(
            problems.iter().any(|p| p.starts_with(e.as_str())),
            "missing {e:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
    let clean = check::check(&url, &parse(&dataset(&p)), None)
        .await
        .unwrap();
    assert!(
        clean
            .iter()
            .all(|x| !x.contains("cart") && !x.contains("orders")),
        "{clean:#?}"
    );
    let bad = check::check("redis://127.0.0.1:1/0", &ds, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("cannot connect"), "{bad}");
    cleanup(&mut c, &p).await;
}

#[test]
fn redis_datasets_are_validated_with_every_problem_located() {
    let text = r#"
name = "bad"
[[keys]]
pattern = "profile:{user id}"
fields = [{ name = "email", category = "website_user", erase = "hold", hold = "accounting_records" }]
[[keys]]
pattern = "cart:*"
type = "string"
fields = [{ name = "items", references = "profile.email" }]
[[keys]]
pattern = "cart:*"
"#;
    let Err(ConnectorError::Dataset { problems }) = dataset_file::parse(text) else {
        panic!("accepted")
    };
    let expect = [
        r#"keys[0] ("profile:{user id}"): `{user id` must be a placeholder"#,
        r#"keys[0] ("profile:{user id}").email: legal holds are kept in SQL datastores only"#,
        r#"keys[1] ("cart:*").items: a string key has one field, named `value`"#,
        r#"keys[1] ("cart:*").items: Redis keys have no references"#,
        r#"keys[2] ("cart:*"): the pattern is listed twice"#,
        "bad: no pattern has a `{kind}` placeholder and no field is an identity",
    ];
    for e in expect {
        assert!(
            problems.iter().any(|p| p.starts_with(e)),
            "missing {e:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
}
