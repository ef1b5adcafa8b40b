//! The console, in process: sign-in with a wrong password, the lock-out and its backoff, the
//! same answer for an unknown address, cookies and headers, TOTP enrolment and sign-in (a code
//! accepted once), idle expiry on a moved clock, CSRF and origin refusals, a viewer refused an
//! action, a request worked from the queue to completed through the forms alone, page sizes
//! with 1,000 open requests, the overview's weekly consent figures from recorded choices, and
//! ended sessions removed in the background.

#[path = "../common/mod.rs"]
mod common;

mod flows;
mod jar;
mod overview;

use common::TestApp;
use custodian_core::request::{Kind, Status};
use custodian_core::staff::StaffRole;
use custodian_store::requests::{HistoryEntry, NewRequest, RequestRow};

pub const PASSWORD: &str = "correct horse battery staple";

/// The test app with an admin, a DPO and a viewer.
pub async fn app() -> TestApp {
    let app = TestApp::sqlite().await;
    for (email, role) in [
        ("admin@example.com", StaffRole::Admin),
        ("dpo@example.com", StaffRole::Dpo),
        ("viewer@example.com", StaffRole::Viewer),
    ] {
        app.state.users.add(email, role, PASSWORD).await.unwrap();
    }
    app
}

/// `n` verified requests of `kind`, received a day apart back from now (so some are overdue),
/// written straight to the store as intake would leave them after verification.
pub async fn seed(app: &TestApp, n: usize, kind: Kind) -> Vec<String> {
    seed_in(app, n, kind, "gdpr", "DE").await
}

/// [`seed`] under jurisdiction `jurisdiction`, from `country`.
pub async fn seed_in(
    app: &TestApp,
    n: usize,
    kind: Kind,
    jurisdiction: &str,
    country: &str,
) -> Vec<String> {
    let now = app.state.clock.now_micros();
    let mut batch = Vec::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let id = app.state.ids.next("req");
        let received = now - (i as i64 % 40) * 86_400_000_000;
        let email = format!("person{i}@example.com");
        let subject = app.state.hasher.reference(
            &custodian_core::subject::SubjectId::parse(
                custodian_core::subject::IdKind::Email,
                &email,
            )
            .unwrap(),
        );
        let mut row = RequestRow {
            id: id.clone(),
            kind,
            status: Status::Verified,
            subject_ref: subject.to_hex(),
            email_sealed: app
                .state
                .sealer
                .seal(&email, &format!("requests/{id}/email")),
            details_sealed: None,
            language: "en".into(),
            country: Some(country.into()),
            jurisdiction: jurisdiction.into(),
            customer_id: None,
            received_at: received,
            verified_at: Some(received),
            code_hash: None,
            code_expires_at: None,
            attempts: 0,
            acknowledge_due: 0,
            answer_due: 0,
            extended_months: 0,
            assignee: None,
            completed_at: None,
            updated_at: received,
            extended_days: 0,
            paused_since: None,
            pause_reason: None,
            paused_days: 0,
        };
        let due = custodian_app::requests::due_of(&app.state, &row, received);
        row.acknowledge_due = due.acknowledge_due.as_microsecond();
        row.answer_due = due.answer_due.as_microsecond();
        let first = HistoryEntry {
            at: received,
            actor: "requester".into(),
            action: "verify".into(),
            from_status: Some(Status::AwaitingVerification),
            to_status: Status::Verified,
            detail_sealed: None,
        };
        batch.push(NewRequest {
            row,
            first,
            mail: None,
            key: None,
        });
        ids.push(id);
    }
    for chunk in batch.chunks(200) {
        app.store.insert_requests(chunk).await.unwrap();
    }
    ids
}
