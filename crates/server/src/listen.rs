//! The accept loop: Custodian's own, on hyper's HTTP/1.1 connection, so that every connection
//! is bounded in time and the server in how many it holds.
//!
//! `axum::serve` held whatever a client opened for as long as the client liked: a head sent one
//! byte a second, a body that never ended, a declared 10 GB body, thousands of silent
//! connections — until the process ran out of file descriptors and `/healthz` itself timed
//! out. Here each connection is a task watched by [`connection`]: a request's head must arrive
//! within [`Limits::header_read_timeout`], its body within [`Limits::body_read_timeout`], an
//! idle connection lives [`Limits::keep_alive_timeout`], a declared body over
//! [`Limits::max_body_bytes`] is answered 413 before any route sees it, and past
//! [`Limits::max_connections`] the oldest connection with no request in progress is closed to
//! make room (as nginx reuses keep-alive connections), so a flood of idle connections cannot
//! lock a health check out. With [`tls::Tls`] the same loop serves HTTPS (`tls.rs`).
//!
//! HTTP/1.1 only, as before: HTTP/2 would bring the `h2` crate into the binary, and a proxy in
//! front speaks it to browsers where it matters.

pub mod body;
pub mod connection;
pub mod tls;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::app::App;
use connection::Slot;

/// How long a client may take and how much it may send (docs/configuration.md, "Connections").
#[derive(Clone, Debug)]
pub struct Limits {
    /// A request's head (request line and headers) must be complete within this of its first
    /// byte — or, for a connection's first request, of the connection's opening (and the TLS
    /// handshake within it). The defence against slowloris.
    pub header_read_timeout: Duration,
    /// A request's body must be complete within this of its head.
    pub body_read_timeout: Duration,
    /// A connection with no request in progress and no byte of the next one is closed after
    /// this.
    pub keep_alive_timeout: Duration,
    /// Connections held at once; beyond it the oldest idle one makes room, and when none is
    /// idle the new one is closed at once.
    pub max_connections: usize,
    /// The largest request body; a larger declared `Content-Length` gets 413 at once.
    pub max_body_bytes: u64,
    /// The largest request head (request line and all headers); larger gets 431.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_body_bytes: crate::extract::BODY_LIMIT as u64,
            max_header_bytes: 16 * 1024,
        }
    }
}

/// What [`crate::serve_with`] listens with: the limits, and TLS when it serves HTTPS.
#[derive(Clone, Default)]
pub struct Options {
    pub limits: Limits,
    pub tls: Option<tls::Tls>,
}

/// The connections being served, oldest first, so the accept loop can make room.
#[derive(Default)]
pub(crate) struct Registry {
    slots: Mutex<BTreeMap<u64, Arc<Slot>>>,
    next: std::sync::atomic::AtomicU64,
    stopping: AtomicBool,
}

/// How many connections past the cap may wait to be closed before new ones are refused
/// outright: eviction is asynchronous, and a burst must not grow the count without bound.
const EVICTION_SLACK: usize = 64;

impl Registry {
    /// Admits a new connection, closing the oldest idle one when at the cap; `None` refuses.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Slot>)> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= max {
            if slots.len() >= max + EVICTION_SLACK {
                return None;
            }
            let victim = slots.values().find(|s| s.is_idle() && !s.is_evicted())?;
            victim.evict();
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::new());
        slots.insert(id, slot.clone());
        Some((id, slot))
    }

    /// Closes the oldest idle connection, if there is one.
    fn evict_one(&self) {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(victim) = slots.values().find(|s| s.is_idle() && !s.is_evicted()) {
            victim.evict();
        }
    }

    fn remove(&self, id: u64) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Asks every connection to finish: idle ones close now, busy ones after their answer.
    fn stop_all(&self) {
        self.stopping.swap(true, Ordering::SeqCst);
        for slot in self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            slot.wake();
        }
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// How many connections are held now.
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Accepts connections until `shutdown` completes, then stops accepting, closes idle
/// connections, and returns once every answer in progress has been sent.
pub async fn run(
    listener: TcpListener,
    app: App,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry::default());
    let limits = Arc::new(options.limits);
    // Every connection task holds a sender; when the last is dropped, all have finished.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_error(&e, &registry).await;
                    continue;
                }
            },
        };
        let Some((id, slot)) = registry.admit(limits.max_connections) else {
            tracing::debug!("connection refused: at the connection cap with none idle");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let task = connection::Task {
            app: app.for_peer(peer),
            limits: limits.clone(),
            slot,
            registry: registry.clone(),
            tls: options.tls.clone(),
        };
        let (registry, done) = (registry.clone(), done_tx.clone());
        tokio::spawn(async move {
            task.run(stream).await;
            registry.remove(id);
            drop(done);
        });
    }
    drop(listener);
    registry.stop_all();
    drop(done_tx);
    let _ = done_rx.recv().await;
    Ok(())
}

/// An accept that failed: out of file descriptors (`EMFILE`, `ENFILE`) or a connection reset
/// before it was taken. The first makes room by closing an idle connection and waits a
/// moment, so the loop does not spin; the others are the client's business.
async fn accept_error(e: &std::io::Error, registry: &Registry) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    ) {
        return;
    }
    tracing::warn!(error = %e, connections = registry.len(), "accept failed; closing an idle connection");
    registry.evict_one();
    tokio::time::sleep(Duration::from_millis(50)).await;
}
