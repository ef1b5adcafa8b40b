//! The bodies of a connection's requests and answers: a request body bounded in size and in
//! time, and an answer body that tells its connection when it has been sent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::connection::Slot;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body did not arrive within the body read timeout; answered 408 by the JSON extractor.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0} seconds")]
pub struct BodyTimeout(pub u64);

pin_project_lite::pin_project! {
    /// A request body that fails once more than `limit` bytes arrived (as
    /// `http_body_util::Limited`, whose error the extractors already answer 413) or once its
    /// deadline passed while waiting for more.
    pub struct Bounded<B> {
        #[pin]
        inner: http_body_util::Limited<B>,
        deadline: Instant,
        timeout_secs: u64,
        // Made only when the body is not all there at once: most bodies arrive with their head.
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<B> Bounded<B> {
    pub fn new(inner: B, limit: u64, deadline: Instant, timeout_secs: u64) -> Self {
        Bounded {
            inner: http_body_util::Limited::new(
                inner,
                usize::try_from(limit).unwrap_or(usize::MAX),
            ),
            deadline,
            timeout_secs,
            sleep: None,
        }
    }
}

impl<B> Body for Bounded<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame),
            Poll::Pending => {
                let deadline = *this.deadline;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Some(Err(BodyTimeout(*this.timeout_secs).into())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One request in progress on a connection: counted from its head until its answer's body is
/// sent (or dropped), so the connection is idle — and may be closed to make room or for
/// idleness — only when nothing of a request is left to do.
pub struct InFlight(Arc<Slot>);

impl InFlight {
    pub fn start(slot: Arc<Slot>) -> Self {
        slot.request_started();
        InFlight(slot)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

pin_project_lite::pin_project! {
    /// An answer's body carrying its request's [`InFlight`] until hyper is done with it.
    pub struct Tracked<B> {
        #[pin]
        inner: B,
        _in_flight: InFlight,
    }
}

impl<B> Tracked<B> {
    pub fn new(inner: B, in_flight: InFlight) -> Self {
        Tracked {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl<B: Body> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
