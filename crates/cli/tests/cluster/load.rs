//! The mixed load: consent writes by device, decisions on what was written, data-subject
//! requests submitted and verified with the code from their mail. Each worker is a thread
//! calling whichever node is up; every call and what it answered is logged with its time, so
//! the checks can tell a 5xx during PostgreSQL's restart from one outside it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use custodian_mail::testing::SmtpSink;
use serde_json::json;

use crate::http::{call, Outcome};
use crate::nodes::Urls;

/// One call as the client saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub at: Instant,
    pub route: &'static str,
    pub outcome: Outcome,
}

#[derive(Default)]
pub struct Inner {
    pub calls: Vec<Call>,
    /// Devices whose consent write was answered 201.
    pub acknowledged: Vec<String>,
    /// Requests answered 202: id → address.
    pub submitted: HashMap<String, String>,
    /// Requests whose verification was answered 200 (or 409: verified by a call whose answer
    /// was lost with its node).
    pub verified: HashSet<String>,
}

#[derive(Clone, Default)]
pub struct Log(pub Arc<Mutex<Inner>>);

impl Log {
    fn note(&self, route: &'static str, outcome: &Outcome) {
        let at = Instant::now();
        self.0.lock().unwrap().calls.push(Call {
            at,
            route,
            outcome: outcome.clone(),
        });
    }

    pub fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap()
    }
}

/// A call to whichever node is up, logged.
pub fn logged(
    urls: &Urls,
    log: &Log,
    n: usize,
    route: &'static str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Outcome {
    let Some(base) = urls.pick(n) else {
        return Outcome::Gone;
    };
    let out = call(method, &base, path, token, body);
    log.note(route, &out);
    out
}

pub struct Load {
    stop: Arc<AtomicBool>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    urls: Urls,
    log: Log,
    turn: AtomicUsize,
}

impl Load {
    pub fn start(urls: Urls, service: String, log: Log, _sink: &SmtpSink) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for w in 0..2 {
            let (urls, log, stop) = (urls.clone(), log.clone(), stop.clone());
            handles.push(std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let device = format!("dev_{w:02x}{n:014x}");
                    let body = json!({ "subject": { "device_id": device }, "choices": { "analytics": true },
                        "policy_version": "2018-05-25", "source": "banner", "language": "en" });
                    let out = logged(&urls, &log, n + w, "POST /v1/consent", "POST", "/v1/consent", None, Some(&body.to_string()));
                    if out.status() == Some(201) {
                        log.inner().acknowledged.push(device);
                    } else if !matches!(out.status(), Some(503) | None) {
                        eprintln!("consent write answered {:?}: {}", out.status(), out.body());
                    }
                }
            }));
        }
        {
            let (urls, log, stop) = (urls.clone(), log.clone(), stop.clone());
            handles.push(std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let device = {
                        let inner = log.inner();
                        let a = &inner.acknowledged;
                        (!a.is_empty()).then(|| a[n % a.len()].clone())
                    };
                    let Some(device) = device else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    let body = json!({ "subject": { "device_id": device }, "purpose": "analytics", "country": "DE" });
                    logged(&urls, &log, n, "POST /v1/decide", "POST", "/v1/decide", Some(&service), Some(&body.to_string()));
                }
            }));
        }
        {
            let (urls, log, stop) = (urls.clone(), log.clone(), stop.clone());
            handles.push(std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let email = format!("requester-{n}@example.com");
                    let body = json!({ "type": "access", "email": email });
                    let out = logged(
                        &urls,
                        &log,
                        n,
                        "POST /v1/requests",
                        "POST",
                        "/v1/requests",
                        None,
                        Some(&body.to_string()),
                    );
                    if out.status() == Some(202) {
                        if let Some(id) = out.json()["id"].as_str() {
                            log.inner().submitted.insert(id.to_owned(), email);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(150));
                }
            }));
        }
        Load {
            stop,
            handles: Mutex::new(handles),
            urls,
            log,
            turn: AtomicUsize::new(0),
        }
    }

    /// Verifies every submitted request whose code has arrived and that is not verified yet.
    pub fn verify_from_mail(&self, sink: &SmtpSink) {
        let mail = sink.received();
        let waiting: Vec<(String, String)> = {
            let inner = self.log.inner();
            inner
                .submitted
                .iter()
                .filter(|(id, _)| !inner.verified.contains(*id))
                .map(|(id, e)| (id.clone(), e.clone()))
                .collect()
        };
        for (id, email) in waiting {
            // The first mail to an address is its code (each address asks once).
            let Some(text) = mail
                .iter()
                .find(|m| m.rcpt_to.iter().any(|r| r.contains(&email)))
                .and_then(|m| m.text())
            else {
                continue;
            };
            let Some(code) = text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
            else {
                continue;
            };
            let n = self.turn.fetch_add(1, Ordering::Relaxed);
            let body = json!({ "code": code }).to_string();
            let path = format!("/v1/requests/{id}/verify");
            let out = tokio::task::block_in_place(|| {
                logged(
                    &self.urls,
                    &self.log,
                    n,
                    "POST /v1/requests/{id}/verify",
                    "POST",
                    &path,
                    None,
                    Some(&body),
                )
            });
            if matches!(out.status(), Some(200 | 409)) {
                self.log.inner().verified.insert(id);
            } else if !matches!(out.status(), Some(503) | None) {
                eprintln!("verification answered {:?}: {}", out.status(), out.body());
            }
        }
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.handles.lock().unwrap().drain(..) {
            let _ = h.join();
        }
    }
}

/// How many requests are not yet where their actions take them: submitted but not verified,
/// or verified (an access, approved at once by the example policy) but not completed.
pub fn unfinished(urls: &Urls, dpo: &str, log: &Log) -> usize {
    let (submitted, verified) = {
        let inner = log.inner();
        (inner.submitted.len(), inner.verified.clone())
    };
    let mut open = submitted - verified.len();
    for (n, id) in verified.iter().enumerate() {
        let out = tokio::task::block_in_place(|| {
            let base = urls.pick(n).unwrap_or_default();
            call(
                "GET",
                &base,
                &format!("/v1/admin/requests/{id}"),
                Some(dpo),
                None,
            )
        });
        if out.json()["status"] != "completed" {
            open += 1;
        }
    }
    open
}
