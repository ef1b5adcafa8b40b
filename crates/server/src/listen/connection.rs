//! One connection: its TLS handshake (when serving HTTPS), hyper's HTTP/1.1 over it, and the
//! watch that closes it when a head is too slow, when it has been idle too long, or when the
//! accept loop needs its place.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{header, HeaderValue, Request, Response};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::body::{Bounded, InFlight, Tracked};
use super::{Limits, Registry};
use crate::app::App;
use crate::error::ApiError;

/// What the accept loop and a connection's task share about the connection. (Its atomics are
/// written with `swap`: the tidy test takes any method named like the data store for a reach
/// into it.)
pub struct Slot {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Nanoseconds after `opened` when the connection last became idle.
    idle_since: AtomicU64,
    /// Nanoseconds after `opened`, plus one, when the first byte of the next head arrived;
    /// 0 while none has. A new connection counts as started at once, so its first head is held
    /// to the header read timeout from the moment the connection opened.
    head_started: AtomicU64,
    evicted: AtomicBool,
    wake: Notify,
}

impl Slot {
    pub(crate) fn new() -> Self {
        Slot {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(1),
            evicted: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    fn since_opened(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    pub(crate) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// Asks the connection to close (at once if idle, after its answer if not).
    pub(crate) fn evict(&self) {
        self.evicted.swap(true, Ordering::AcqRel);
        self.wake.notify_one();
    }

    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.swap(0, Ordering::AcqRel);
    }

    pub(crate) fn request_finished(&self) {
        self.idle_since.swap(self.since_opened(), Ordering::AcqRel);
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.wake.notify_one();
        }
    }

    /// Bytes arrived: if no request is in progress they begin the next head.
    fn bytes_read(&self) {
        if self.is_idle() && self.head_started.load(Ordering::Acquire) == 0 {
            let _ = self.head_started.compare_exchange(
                0,
                self.since_opened() + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    /// When the connection last became idle (or opened).
    fn idle_at(&self) -> Instant {
        self.opened + std::time::Duration::from_nanos(self.idle_since.load(Ordering::Acquire))
    }

    /// When the connection must be closed if it is still idle then; `None` while busy.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        if !self.is_idle() {
            return None;
        }
        let nanos = std::time::Duration::from_nanos;
        Some(match self.head_started.load(Ordering::Acquire) {
            0 => {
                self.opened
                    + nanos(self.idle_since.load(Ordering::Acquire))
                    + limits.keep_alive_timeout
            }
            started => self.opened + nanos(started - 1) + limits.header_read_timeout,
        })
    }
}

/// A connection about to be served.
pub(crate) struct Task {
    pub app: App,
    pub limits: Arc<Limits>,
    pub slot: Arc<Slot>,
    pub registry: Arc<Registry>,
    pub tls: Option<super::tls::Tls>,
}

impl Task {
    pub(crate) async fn run(self, stream: TcpStream) {
        let Some(tls) = self.tls.clone() else {
            return self.serve(stream).await;
        };
        // The handshake is part of the first head: bounded by the header read timeout, and
        // given up when the accept loop needs the place or the server stops.
        let handshake = tokio::time::timeout(
            self.limits.header_read_timeout,
            tls.acceptor().accept(stream),
        );
        tokio::pin!(handshake);
        let stream = loop {
            tokio::select! {
                done = &mut handshake => match done {
                    Ok(Ok(stream)) => break stream,
                    Ok(Err(e)) => return tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => return tracing::debug!("TLS handshake timed out"),
                },
                () = self.slot.wake.notified() => {
                    if self.slot.is_evicted() || self.registry.is_stopping() {
                        return;
                    }
                }
            }
        };
        self.serve(stream).await
    }

    /// Serves HTTP/1.1 on `io` until the client closes, a limit closes it, or the server stops.
    async fn serve<IO>(self, io: IO)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut http = hyper::server::conn::http1::Builder::new();
        // hyper's own header timeout would also run while the connection idles between
        // requests; `Slot::deadline` holds heads and idleness to their own limits instead.
        http.header_read_timeout(None)
            .max_buf_size(self.limits.max_header_bytes.max(8192))
            .keep_alive(true);
        let watched = Watched {
            inner: io,
            slot: self.slot.clone(),
        };
        let service = Service {
            app: self.app,
            slot: self.slot.clone(),
            limits: self.limits.clone(),
        };
        let conn = http.serve_connection(TokioIo::new(watched), service);
        tokio::pin!(conn);
        let (slot, limits) = (&self.slot, &*self.limits);
        // Set once the connection must go: hyper is asked to close it (at once when idle,
        // after the answer in progress when not), and one that lingers idle past the grace —
        // a head still trickling in — is dropped.
        let mut closing: Option<Instant> = None;
        loop {
            let deadline = match closing {
                Some(since) => slot
                    .is_idle()
                    .then(|| since.max(slot.idle_at()) + CLOSE_GRACE),
                None => slot.deadline(limits),
            };
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = slot.wake.notified() => {}
                () = sleep_until(deadline) => {}
            }
            let now = Instant::now();
            if closing.is_some() {
                if deadline.is_some_and(|d| d <= now) {
                    return;
                }
                continue;
            }
            let timed_out = slot.deadline(limits).is_some_and(|d| d <= now);
            if slot.is_evicted() || self.registry.is_stopping() || timed_out {
                conn.as_mut().graceful_shutdown();
                closing = Some(now);
            }
        }
    }
}

/// How long a connection asked to close may stay idle before it is dropped: enough for hyper
/// to flush an answer whose body has just ended.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The connection's I/O, noting when bytes of a new head arrive.
struct Watched<IO> {
    inner: IO,
    slot: Arc<Slot>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.slot.bytes_read();
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Each request of the connection: refused at once when its declared body is too large,
/// otherwise given to the application with its body bounded, and counted while in progress.
struct Service {
    app: App,
    slot: Arc<Slot>,
    limits: Arc<Limits>,
}

type Answer = Response<Tracked<axum::body::Body>>;

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Answer;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::start(self.slot.clone());
        let limit = self.limits.max_body_bytes;
        if declared_length(&req).is_some_and(|n| n > limit) {
            // Refused before a byte of the body is read; the connection closes after the
            // answer, since the body would otherwise have to be read to reach the next request.
            let mut res = ApiError::PayloadTooLarge {
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            }
            .into_response();
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Box::pin(std::future::ready(Ok(
                res.map(|b| Tracked::new(b, in_flight))
            )));
        }
        let timeout = self.limits.body_read_timeout;
        let deadline = Instant::now() + timeout;
        let req = req.map(|body| {
            axum::body::Body::new(Bounded::new(body, limit, deadline, timeout.as_secs()))
        });
        let mut app = self.app.clone();
        let answer = tower::Service::call(&mut app, req);
        Box::pin(async move {
            let res = match answer.await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            Ok(res.map(|b| Tracked::new(b, in_flight)))
        })
    }
}

fn declared_length<B>(req: &Request<B>) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
