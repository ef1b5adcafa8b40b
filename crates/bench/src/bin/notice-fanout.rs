//! How long one notice takes to be queued for everyone with an e-mail on record (issue 13:
//! 100,000 people in under 30 s on SQLite).
//!
//! Seeds N people as the service would hold them after lifecycle events — a key each (wrapped
//! under the master key) and the address sealed under it as `identities/email` — with raw
//! batched inserts (seeding is not timed), builds the application's context on that store, then
//! times `announce::publish::notice` (a general notice by e-mail) until the background fan-out
//! has marked it done, and checks the outbox holds exactly N messages.
//!
//! Usage: notice-fanout DATABASE_URL [PEOPLE]
//! Prints one JSON line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use custodian_app::acts::Actor;
use custodian_app::announce::{publish, Kind};
use custodian_core::clock::{Clock, SystemClock};
use custodian_core::keys::{DataKey, MasterKey};
use custodian_core::subject::{IdKind, SubjectHasher, SubjectId};
use custodian_store::Store;

const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret";
const MASTER: [u8; 32] = [0x42; 32];
const BATCH: usize = 5_000;

// One straight script — seed, record the notice, wait for the fan-out, check the outbox — so
// the whole method of the figure reads top to bottom in one place.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .ok_or("usage: notice-fanout DATABASE_URL [PEOPLE]")?;
    let people: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let store = Store::open(url).await?;
    let seeded = Instant::now();
    seed(&store, people).await?;
    let seed_s = seeded.elapsed().as_secs_f64();

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ctx = custodian_app::build(
        custodian_app::Settings {
            policy: custodian_policy::example(),
            store: store.clone(),
            secret: SECRET.to_vec(),
            public_url: "http://custodian.bench".into(),
            clock,
            smtp: None,
            intake_limits: Default::default(),
            datastores: Vec::new(),
            master_key: MasterKey::from_bytes(MASTER),
            key_store: store.clone(),
            consent_image: Default::default(),
        },
        Arc::new(custodian_app::NoTelemetry),
    )
    .await?;
    let start = Instant::now();
    let id = publish::notice(
        &ctx,
        &Actor::Cli,
        publish::NewNotice {
            kind: Kind::General,
            title: [("en".to_owned(), "Our new address".to_owned())].into(),
            body: [(
                "en".to_owned(),
                "We moved our offices; nothing changes for your data.".to_owned(),
            )]
            .into(),
            email: true,
            site: false,
            effective_at: None,
        },
    )
    .await?;
    let recorded_ms = start.elapsed().as_secs_f64() * 1000.0;
    loop {
        let n = ctx.store.notice(&id).await?.ok_or("notice gone")?;
        if n.fanned_out_at.is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            return Err("the fan-out did not finish in 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let queued_s = start.elapsed().as_secs_f64();
    let outbox = ctx.store.outbox_counts().await?;
    let row = ctx.store.notice(&id).await?.ok_or("notice gone")?;
    println!(
        "{}",
        serde_json::json!({
            "backend": ctx.store.backend(),
            "people": people,
            "seed_s": seed_s,
            "recorded_ms": recorded_ms,
            "queued": row.queued,
            "queued_s": queued_s,
            "per_second": row.queued as f64 / queued_s,
            "outbox": format!("{outbox:?}"),
        })
    );
    if row.queued as usize != people {
        return Err(format!("queued {} of {people}", row.queued).into());
    }
    Ok(())
}

/// N people with a key and a sealed address each, in batched multi-row inserts.
async fn seed(store: &Store, people: usize) -> Result<(), Box<dyn std::error::Error>> {
    let master = MasterKey::from_bytes(MASTER);
    let hasher = SubjectHasher::new(SECRET);
    let master_id = master.id();
    let pool = store.sqlite_pool().ok_or("the bench seeds SQLite only")?;
    for start in (0..people).step_by(BATCH) {
        let end = (start + BATCH).min(people);
        let mut keys = Vec::with_capacity(end - start);
        let mut ids = Vec::with_capacity(end - start);
        for i in start..end {
            let email = format!("person-{i}@example.com");
            let subject = hasher.reference(&SubjectId::parse(IdKind::Email, &email)?);
            let key = DataKey::generate();
            keys.push((subject.to_hex(), master.wrap(&subject, &key)));
            ids.push((
                subject.to_hex(),
                key.sealer().seal(&subject, "identities/email", &email),
            ));
        }
        let mut tx = pool.begin().await?;
        for chunk in keys.chunks(200) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO subject_keys (subject_ref, wrapped, master_id, created_at) ",
            );
            q.push_values(chunk, |mut b, (s, w)| {
                b.push_bind(s)
                    .push_bind(w)
                    .push_bind(&master_id)
                    .push_bind(0i64);
            });
            q.build().execute(&mut *tx).await?;
        }
        for chunk in ids.chunks(200) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO subject_identities (subject_ref, kind, sealed, updated_at) ",
            );
            q.push_values(chunk, |mut b, (s, sealed)| {
                b.push_bind(s)
                    .push_bind("email")
                    .push_bind(sealed)
                    .push_bind(0i64);
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}
