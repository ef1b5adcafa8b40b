//! What must hold once the faults are over, and the figures the suite reports.

use std::collections::HashMap;
use std::time::Instant;

use custodian_mail::testing::SmtpSink;
use serde_json::json;
use sqlx::Connection;

use crate::http::{call, Outcome};
use crate::load::Log;
use crate::nodes::{Setup, Urls};

pub async fn run(
    setup: &Setup,
    urls: &Urls,
    service: &str,
    dpo: &str,
    log: &Log,
    sink: &SmtpSink,
    (down, up): (Instant, Instant),
    kill_marks: &[usize],
) {
    let inner = log.inner();
    let nodes = urls.all();
    assert_eq!(nodes.len(), 3, "every node is up again");

    // 1. No acknowledged consent is missing, on any node.
    let mut missing = Vec::new();
    for (k, device) in inner.acknowledged.iter().enumerate() {
        let body =
            json!({ "subject": { "device_id": device }, "purpose": "analytics", "country": "DE" })
                .to_string();
        let base = &nodes[k % nodes.len()];
        let out = tokio::task::block_in_place(|| {
            call("POST", base, "/v1/decide", Some(service), Some(&body))
        });
        if out.json()["allowed"] != true {
            missing.push((device.clone(), out.status()));
        }
    }
    eprintln!(
        "acknowledged consent writes: {}, missing: {}",
        inner.acknowledged.len(),
        missing.len()
    );
    assert!(!inner.acknowledged.is_empty(), "the load wrote consent");
    assert!(
        missing.is_empty(),
        "acknowledged writes missing: {:?}",
        &missing[..missing.len().min(10)]
    );

    // 1b. A node that lived through PostgreSQL's restart (node 2) hears the others again: a
    // write on node 0 is allowed on node 2 well before the once-a-second poll, and back.
    let mut took = Vec::new();
    for i in 0..20 {
        let (from, to) = if i % 2 == 0 {
            (&nodes[0], &nodes[2])
        } else {
            (&nodes[2], &nodes[0])
        };
        let device = format!("dev_after{i:011x}");
        let write = json!({ "subject": { "device_id": device }, "choices": { "analytics": true },
            "policy_version": "2018-05-25", "source": "banner" })
        .to_string();
        let ask =
            json!({ "subject": { "device_id": device }, "purpose": "analytics", "country": "DE" })
                .to_string();
        let t = tokio::task::block_in_place(|| {
            assert_eq!(
                call("POST", from, "/v1/consent", None, Some(&write)).status(),
                Some(201)
            );
            let start = Instant::now();
            while start.elapsed() < std::time::Duration::from_secs(3) {
                if call("POST", to, "/v1/decide", Some(service), Some(&ask)).json()["allowed"]
                    == true
                {
                    return start.elapsed();
                }
            }
            start.elapsed()
        });
        took.push(t);
    }
    took.sort();
    eprintln!(
        "after the restart, node 0 <-> node 2: median {:?}, slowest {:?}",
        took[10], took[19]
    );
    assert!(
        took[10] < std::time::Duration::from_millis(100),
        "the listener did not come back: {took:?}"
    );
    assert!(took[19] < std::time::Duration::from_secs(1), "{took:?}");

    // 2. The ledger and the audit trail verify.
    let ledger = crate::cli(setup, &["ledger", "verify", "--json"]);
    assert!(ledger.contains("\"ok\":true"), "{ledger}");
    let audit = crate::cli(setup, &["audit", "verify", "--json"]);
    assert!(audit.contains("\"ok\":true"), "{audit}");

    // 3. Every verified request completed; every submitted one was verified (its code was
    // mailed); each access ran on the company datastore once, to the end.
    let mut db = sqlx::PgConnection::connect(&setup.database_url)
        .await
        .unwrap();
    let mut not_done = Vec::new();
    for (n, id) in inner.verified.iter().enumerate() {
        let base = &nodes[n % nodes.len()];
        let out = tokio::task::block_in_place(|| {
            call(
                "GET",
                base,
                &format!("/v1/admin/requests/{id}"),
                Some(dpo),
                None,
            )
        });
        if out.json()["status"] != "completed" {
            not_done.push((id.clone(), out.json()["status"].clone()));
        }
    }
    eprintln!(
        "requests submitted: {}, verified: {}, not completed: {}",
        inner.submitted.len(),
        inner.verified.len(),
        not_done.len()
    );
    assert!(
        !inner.verified.is_empty(),
        "requests were verified under the load"
    );
    assert!(
        not_done.is_empty(),
        "verified but not completed: {not_done:?}"
    );
    assert_eq!(
        inner.submitted.len(),
        inner.verified.len(),
        "every submitted request's code arrived"
    );
    let runs: Vec<(Option<String>, String)> =
        sqlx::query_as("SELECT request_id, status FROM connector_runs WHERE kind = 'access'")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let mut per_request: HashMap<String, Vec<String>> = HashMap::new();
    for (request, status) in runs {
        per_request
            .entry(request.unwrap_or_default())
            .or_default()
            .push(status);
    }
    let twice: Vec<_> = per_request.iter().filter(|(_, s)| s.len() != 1).collect();
    let unfinished: Vec<_> = per_request
        .iter()
        .filter(|(_, s)| s.iter().any(|s| s != "done"))
        .collect();
    eprintln!(
        "connector runs: {} requests, run twice: {}, not done: {}",
        per_request.len(),
        twice.len(),
        unfinished.len()
    );
    for id in &inner.verified {
        assert!(
            per_request.contains_key(id),
            "request {id} never ran on the company datastore"
        );
    }
    assert!(
        twice.is_empty(),
        "requests with more than one access run: {twice:?}"
    );
    assert!(unfinished.is_empty(), "runs not done: {unfinished:?}");

    // 4. Every mail sent exactly once, or still queued.
    let received = sink.received();
    let mut ids: HashMap<String, usize> = HashMap::new();
    for m in &received {
        *ids.entry(m.message_id().unwrap_or_default()).or_default() += 1;
    }
    let duplicates = ids.values().filter(|n| **n > 1).count();
    let statuses: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let count = |s: &str| statuses.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    eprintln!(
        "mail received: {}, distinct: {}, twice: {duplicates}; outbox {statuses:?}",
        received.len(),
        ids.len()
    );
    // SMTP has no way to ask whether a message arrived, so a message the relay accepted in
    // the instant its node was killed, before the node marked it sent, goes again (with the
    // same Message-ID, for receivers to fold). Any other second sending is a fault: each
    // duplicate's first arrival must lie in the last batch before a kill.
    let mut first_arrival: HashMap<String, usize> = HashMap::new();
    for (i, m) in received.iter().enumerate() {
        first_arrival
            .entry(m.message_id().unwrap_or_default())
            .or_insert(i);
    }
    let unexplained: Vec<_> = ids
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| (id.clone(), first_arrival[id]))
        .filter(|(_, at)| !kill_marks.iter().any(|k| *at < *k && *at + 64 >= *k))
        .collect();
    eprintln!(
        "mail sent twice because its node was killed in flight: {}, otherwise: {}",
        duplicates - unexplained.len(),
        unexplained.len()
    );
    if !unexplained.is_empty() {
        // Where each arrival of the unexplained ones lies against the kills, for the next reader.
        for (id, _) in &unexplained {
            let at: Vec<usize> = received
                .iter()
                .enumerate()
                .filter(|(_, m)| m.message_id().as_deref() == Some(id.as_str()))
                .map(|(i, _)| i)
                .collect();
            eprintln!("{id} arrived at {at:?}");
        }
        eprintln!("messages received at each kill: {kill_marks:?}");
    }
    assert!(
        unexplained.is_empty(),
        "mail sent twice without a kill to explain it: {unexplained:?}"
    );
    assert_eq!(count("failed"), 0, "mail given up on");
    assert_eq!(
        count("sent") as usize,
        ids.len(),
        "every sent row was received once, and only those"
    );

    // 5. No 5xx outside PostgreSQL's outage, 503 with Retry-After inside it, no hang.
    let tail = up + crate::OUTAGE_TAIL;
    let mut outside = Vec::new();
    let (mut during, mut hung, mut gone) = (0, 0, 0);
    for c in &inner.calls {
        match &c.outcome {
            Outcome::Hung => hung += 1,
            Outcome::Gone => gone += 1,
            Outcome::Answer {
                status,
                retry_after,
                body,
            } if *status >= 500 => {
                let in_outage = c.at >= down && c.at <= tail;
                if in_outage && *status == 503 && *retry_after {
                    during += 1;
                } else {
                    outside.push((
                        c.route,
                        *status,
                        *retry_after,
                        in_outage,
                        body.chars().take(200).collect::<String>(),
                    ));
                }
            }
            Outcome::Answer { .. } => {}
        }
    }
    eprintln!(
        "calls: {}, 503 during the outage ({:?}): {during}, refused by a killed node: {gone}, hung: {hung}, 5xx otherwise: {}",
        inner.calls.len(),
        up - down,
        outside.len()
    );
    assert_eq!(hung, 0, "calls that hung");
    assert!(
        outside.is_empty(),
        "5xx outside the outage (or without Retry-After): {:?}",
        &outside[..outside.len().min(10)]
    );
}
