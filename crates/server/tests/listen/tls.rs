//! HTTPS through the accept loop: connections that never finish their TLS handshake count
//! against the cap like any idle one, so a flood of them beyond it does not lock out a real
//! client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use custodian_server::listen::tls::Tls;
use custodian_server::listen::{Limits, Options};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::TestApp;

/// A self-signed certificate for `localhost`, written where [`Tls::load`] reads it.
fn certificate(dir: &std::path::Path) -> CertificateDer<'static> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem()).unwrap();
    made.cert.der().clone()
}

async fn healthz_over_tls(addr: std::net::SocketAddr, root: &CertificateDer<'static>) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("handshake");
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn unfinished_handshakes_beyond_the_cap_do_not_lock_out_a_client() {
    let app = TestApp::sqlite().await;
    let dir = std::env::temp_dir().join(format!("custodian-listen-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = certificate(&dir);
    let tls = Tls::load(&dir.join("cert.pem"), &dir.join("key.pem")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = Options {
        // A minute for a handshake: only the cap can free places here.
        limits: Limits {
            max_connections: 20,
            header_read_timeout: Duration::from_secs(60),
            ..Limits::default()
        },
        tls: Some(tls),
    };
    let served = tokio::spawn(custodian_server::serve_with(
        listener,
        app.state.clone(),
        options,
        async {
            let _ = stopped.await;
        },
    ));
    let mut silent = Vec::new();
    for _ in 0..120 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // Half a ClientHello's record header: the handshake has begun and goes no further.
        s.write_all(&[0x16, 0x03]).await.unwrap();
        silent.push(s);
    }
    for _ in 0..3 {
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(5), healthz_over_tls(addr, &root))
            .await
            .expect("a real client got in");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("serve returned with handshakes unfinished")
        .unwrap()
        .unwrap();
    drop(silent);
    let _ = std::fs::remove_dir_all(&dir);
}
