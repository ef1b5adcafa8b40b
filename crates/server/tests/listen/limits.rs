//! Connection limits over real sockets (loopback only, bounded counts). Timeouts here are
//! network time, which no test clock moves, so they are set to a second and each wait is
//! bounded well above it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use custodian_server::listen::{Limits, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::common::{self, TestApp};

/// A server on a free loopback port with `limits`; dropping the sender stops it.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(app: &TestApp, limits: Limits) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let options = Options { limits, tls: None };
        let served = tokio::spawn(custodian_server::serve_with(
            listener,
            app.state.clone(),
            options,
            async {
                let _ = stopped.await;
            },
        ));
        Server {
            addr,
            stop: Some(stop),
            served,
        }
    }

    /// Stops the server and waits, at most `within`, until `serve` has returned.
    async fn stop(mut self, within: Duration) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(within, self.served)
            .await
            .expect("serve returned in time")
            .unwrap()
            .unwrap();
    }
}

fn short() -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        keep_alive_timeout: Duration::from_secs(1),
        ..Limits::default()
    }
}

/// Reads until the peer closes (or `within` passes: a panic). Answers what was read.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open for {within:?}"
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// One request on a new connection; answers the status and the raw answer.
async fn request(addr: SocketAddr, raw: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(raw.as_bytes()).await.unwrap();
    let text = read_until_closed(&mut s, Duration::from_secs(5)).await;
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

fn healthz() -> &'static str {
    "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
}

#[tokio::test]
async fn a_head_sent_one_byte_at_a_time_is_cut_off() {
    let app = TestApp::sqlite().await;
    let server = Server::start(&app, short()).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    // A byte every 100 ms: the head keeps arriving, but not whole within a second. Held, it
    // would trickle for 15 s.
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: {}",
        "a".repeat(150)
    );
    let mut cut = false;
    for b in head.as_bytes().iter().take(150) {
        if s.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 64];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await
        {
            cut = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(cut, "a head trickling for {took:?} was still held");
    assert!(took < Duration::from_secs(6), "cut off only after {took:?}");
    assert_eq!(request(server.addr, healthz()).await.0, 200);
    server.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_silent_connection_and_an_idle_keep_alive_are_closed() {
    let app = TestApp::sqlite().await;
    let server = Server::start(&app, short()).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    read_until_closed(&mut silent, Duration::from_secs(3)).await;

    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let text = read_until_closed(&mut kept, Duration::from_secs(4)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    server.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_slow_body_gets_408_and_the_connection_closes() {
    let app = TestApp::sqlite().await;
    let server = Server::start(&app, short()).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /v1/requests HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"type\":",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    // Held, the body would trickle for 10 s.
    for _ in 0..100 {
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.push_str(&String::from_utf8_lossy(&buf[..n]));
                break;
            }
            Err(_) => {
                let _ = s.write_all(b" ").await;
            }
        }
    }
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    read_until_closed(&mut s, Duration::from_secs(3)).await;
    server.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_declared_10_gb_body_is_refused_at_once() {
    let app = TestApp::sqlite().await;
    // A minute for bodies: a refusal that waited for the body would take that long.
    let limits = Limits {
        body_read_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let server = Server::start(&app, limits).await;
    let started = Instant::now();
    let (status, text) = request(
        server.addr,
        "POST /v1/consent HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n{",
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("application/problem+json") && text.contains("payload_too_large"));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    // Also on a route that never reads a body, and with a chunked body past the limit.
    let (status, _) = request(
        server.addr,
        "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10737418240\r\n\r\n",
    )
    .await;
    assert_eq!(status, 413);
    let chunk = "a".repeat(70_000);
    let raw = format!(
        "POST /v1/requests HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    assert_eq!(request(server.addr, &raw).await.0, 413);
    server.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_head_larger_than_the_limit_gets_431() {
    let app = TestApp::sqlite().await;
    let server = Server::start(&app, short()).await;
    let big = "b".repeat(20_000);
    let (status, _) = request(
        server.addr,
        &format!("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 431);
    assert_eq!(request(server.addr, healthz()).await.0, 200);
    server.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn idle_connections_beyond_the_cap_do_not_lock_out_healthz() {
    let app = TestApp::sqlite().await;
    // Long timeouts: only the cap may free places here.
    let limits = Limits {
        max_connections: 40,
        header_read_timeout: Duration::from_secs(60),
        keep_alive_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let server = Server::start(&app, limits).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    for _ in 0..5 {
        let started = Instant::now();
        let (status, _) = request(server.addr, healthz()).await;
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    // The server holds no more than its cap (and the few it is closing): the rest were closed.
    let mut closed = 0;
    for s in &mut idle {
        let mut buf = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(20), s.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    assert!(
        closed >= 200 - 40 - 64,
        "only {closed} of 200 idle connections closed"
    );
    // Graceful shutdown with idle connections open returns at once.
    server.stop(Duration::from_secs(3)).await;
}

#[tokio::test]
async fn an_answer_in_progress_finishes_when_the_server_stops() {
    let app = TestApp::sqlite().await;
    let server = Server::start(&app, Limits::default()).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    // The head is complete, the body not yet: the request is in progress when the stop comes.
    s.write_all(
        b"POST /v1/requests HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 45\r\n\r\n",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Server {
        mut stop, served, ..
    } = server;
    let _ = stop.take().unwrap().send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !served.is_finished(),
        "serve returned with an answer in progress"
    );
    s.write_all(br#"{"type":"access","email":"ada@example.com"}  "#)
        .await
        .unwrap();
    let text = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 202"), "{text}");
    tokio::time::timeout(Duration::from_secs(3), served)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn the_client_address_reaches_the_intake_limits() {
    let store = custodian_store::Store::open(&custodian_store::testing::fresh_sqlite_url())
        .await
        .unwrap();
    let mut settings = common::settings(store, custodian_policy::example());
    settings.app.intake_limits.per_client.max = 2;
    let state = custodian_server::build(settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(custodian_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let mut statuses = Vec::new();
    for n in 0..3 {
        let body = format!(r#"{{"type":"access","email":"person{n}@example.com"}}"#);
        let raw = format!(
            "POST /v1/requests HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        statuses.push(request(addr, &raw).await.0);
    }
    // Three different addresses from one client: the third passes the per-address limit but
    // not the per-client one, which only the connection's peer address can key.
    assert_eq!(statuses, [202, 202, 429]);
    let _ = stop.send(());
    served.await.unwrap().unwrap();
}
