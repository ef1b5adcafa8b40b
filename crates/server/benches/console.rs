//! How long the server takes to answer `GET /console/requests` — a page of 50 requests, from
//! the store through the templates — with 1,000 open requests on SQLite (issue 14's goal:
//! under 20 ms). `cargo bench -p custodian-server --bench console` (docs/benchmarks.md).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request};
use criterion::{criterion_group, criterion_main, Criterion};
use custodian_core::clock::ManualClock;
use custodian_core::request::{Kind, Status};
use custodian_core::staff::StaffRole;
use custodian_store::requests::{HistoryEntry, NewRequest, RequestRow};
use http_body_util::BodyExt;
use tower::ServiceExt;

const START: i64 = 1_767_225_600_000_000;

async fn setup() -> (custodian_server::app::App, String) {
    let store = custodian_store::Store::open(&custodian_store::testing::fresh_sqlite_url())
        .await
        .unwrap();
    let clock = ManualClock::at(START);
    let state = custodian_server::build(custodian_server::Settings {
        app: custodian_app::Settings {
            policy: custodian_policy::example(),
            store: store.clone(),
            secret: b"bench-secret-bench-secret-bench-secret".to_vec(),
            public_url: "http://custodian.test".into(),
            clock: Arc::new(clock),
            smtp: None,
            intake_limits: Default::default(),
            datastores: Vec::new(),
            master_key: custodian_core::keys::MasterKey::from_bytes([7; 32]),
            key_store: store.clone(),
            consent_image: Default::default(),
        },
        allowed_origins: None,
        console: Default::default(),
    })
    .await
    .unwrap();
    state
        .users
        .add(
            "bench@example.com",
            StaffRole::Dpo,
            "a long enough password",
        )
        .await
        .unwrap();
    let mut batch = Vec::new();
    for i in 0..1000i64 {
        let id = state.ids.next("req");
        let at = START - (i % 40) * 86_400_000_000;
        batch.push(NewRequest {
            row: RequestRow {
                id: id.clone(),
                kind: Kind::Access,
                status: Status::Verified,
                subject_ref: format!("{i:064x}"),
                email_sealed: state
                    .sealer
                    .seal("x@example.com", &format!("requests/{id}/email")),
                details_sealed: None,
                language: "en".into(),
                country: Some("DE".into()),
                jurisdiction: "gdpr".into(),
                customer_id: None,
                received_at: at,
                verified_at: Some(at),
                code_hash: None,
                code_expires_at: None,
                attempts: 0,
                acknowledge_due: at,
                answer_due: at + 30 * 86_400_000_000,
                extended_months: 0,
                assignee: None,
                completed_at: None,
                updated_at: at,
                extended_days: 0,
                paused_since: None,
                pause_reason: None,
                paused_days: 0,
            },
            first: HistoryEntry {
                at,
                actor: "requester".into(),
                action: "verify".into(),
                from_status: None,
                to_status: Status::Verified,
                detail_sealed: None,
            },
            mail: None,
            key: None,
        });
    }
    for chunk in batch.chunks(200) {
        store.insert_requests(chunk).await.unwrap();
    }
    let started = custodian_app::sessions::sign_in(
        &state,
        "bench@example.com",
        "a long enough password",
        None,
    )
    .await
    .unwrap();
    (custodian_server::app::app(state), started.token)
}

fn queue_page(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (app, token) = rt.block_on(setup());
    c.bench_function("GET /console/requests (50 of 1,000 open)", |b| {
        b.to_async(&rt).iter(|| async {
            let req = Request::get("/console/requests")
                .header(header::COOKIE, format!("cst_console={token}"))
                .body(Body::empty())
                .unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), 200);
            res.into_body().collect().await.unwrap().to_bytes().len()
        })
    });
}

criterion_group!(benches, queue_page);
criterion_main!(benches);
