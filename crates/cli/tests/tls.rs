//! `serve --tls-cert --tls-key` against a real TLS client (rustls, hyper) with certificates the
//! test makes: HTTPS with HSTS and `Secure` cookies, TLS 1.2 and 1.3, and a `SIGHUP` that puts a
//! new certificate in force for new connections while an open keep-alive connection goes on.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A self-signed certificate for `localhost` and 127.0.0.1: (certificate PEM, key PEM, DER).
fn certificate() -> (String, String, CertificateDer<'static>) {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let der = made.cert.der().clone();
    (made.cert.pem(), made.key_pair.serialize_pem(), der)
}

fn install(dir: &Path, cert: &(String, String, CertificateDer<'static>)) {
    // The key first, then the certificate, each written whole by a rename, as a renewal would.
    for (name, text) in [("key.pem", &cert.1), ("cert.pem", &cert.0)] {
        let tmp = dir.join(format!("{name}.new"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

/// A client that trusts exactly `roots`, speaking the given TLS versions.
fn connector(
    roots: &[&CertificateDer<'static>],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> TlsConnector {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add((*r).clone()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(store)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A new HTTPS connection: the certificate the server presented and a request sender.
async fn connect(
    addr: &str,
    tls: &TlsConnector,
) -> (CertificateDer<'static>, SendRequest<Empty<Bytes>>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let stream = tls
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake");
    let presented = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    (presented, sender)
}

async fn get(
    sender: &mut SendRequest<Empty<Bytes>>,
    path: &str,
) -> (u16, hyper::HeaderMap, String) {
    sender.ready().await.expect("the connection is still open");
    let req = hyper::Request::get(path)
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status.as_u16(),
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Waits (at most 10 s) until the server's log holds `text` `times` times.
fn wait_for_log(dir: &Path, text: &str, times: usize) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
        if log.matches(text).count() >= times {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the log never said {text:?} {times} time(s)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_reloaded_on_sighup() {
    let dir = support::temp_dir("tls");
    let (first, second) = (certificate(), certificate());
    install(&dir, &first);
    let (mut child, url) = support::serve(
        &dir,
        &[
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
            "--header-read-timeout-secs",
            "2",
        ],
    );
    let addr = url
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("not served over HTTPS: {url}"))
        .to_owned();
    let both = connector(&[&first.2, &second.2], rustls::ALL_VERSIONS);

    let (presented, mut kept) = connect(&addr, &both).await;
    assert_eq!(presented, first.2);
    let (status, headers, body) = get(&mut kept, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["strict-transport-security"], "max-age=31536000");
    // Cookies the service sets over HTTPS are `Secure` (the console's sign-in form sets one).
    let (_, headers, _) = get(&mut kept, "/console/login").await;
    let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
    assert!(!cookies.is_empty());
    for c in cookies {
        assert!(c.to_str().unwrap().contains("; Secure"), "{c:?}");
    }
    // TLS 1.2 as well as 1.3.
    let (_, mut old) = connect(&addr, &connector(&[&first.2], &[&rustls::version::TLS12])).await;
    assert_eq!(get(&mut old, "/healthz").await.0, 200);

    install(&dir, &second);
    support::signal(child.id(), "HUP");
    wait_for_log(&dir, "TLS certificate reloaded", 1);

    let (presented, mut fresh) = connect(&addr, &both).await;
    assert_eq!(
        presented, second.2,
        "a new connection gets the new certificate"
    );
    assert_eq!(get(&mut fresh, "/healthz").await.0, 200);
    // The connection opened before the reload is still served, on its own session.
    assert_eq!(get(&mut kept, "/healthz").await.0, 200);

    // A broken certificate file is refused and the one in force stays.
    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    support::signal(child.id(), "HUP");
    wait_for_log(&dir, "TLS certificate not reloaded", 1);
    let (presented, _) = connect(&addr, &both).await;
    assert_eq!(presented, second.2);

    // Plain HTTP on the HTTPS port gets no answer a browser could take for the service.
    let (status, _) = tokio::task::spawn_blocking({
        let url = format!("http://{addr}/healthz");
        move || {
            std::panic::catch_unwind(|| support::http("GET", &url, None, None))
                .unwrap_or((0, String::new()))
        }
    })
    .await
    .unwrap();
    assert_ne!(status, 200);

    // A client that opens a connection and never starts the handshake is let go after the
    // header read timeout (the handshake counts as part of the first head).
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut silent, &mut buf),
    )
    .await;
    assert!(matches!(read, Ok(Ok(0) | Err(_))), "{read:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );

    support::signal(child.id(), "TERM");
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_bad_certificate_an_http_public_url_or_a_bad_limit_stops_the_start() {
    let dir = support::temp_dir("tls-refused");
    let cert = certificate();
    install(&dir, &cert);
    let out = support::bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "missing.pem",
        ])
        .current_dir(&dir)
        .env_remove("CUSTODIAN_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.pem"), "{err}");
    let out = support::bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "http://example.test",
        ])
        .env("CUSTODIAN_TLS_CERT", "cert.pem")
        .env("CUSTODIAN_TLS_KEY", "key.pem")
        .current_dir(&dir)
        .env_remove("CUSTODIAN_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("https://"), "{err}");
    // The config file's keys are read too: its certificate, and a limit out of range.
    std::fs::write(
        dir.join("custodian.toml"),
        "tls_cert = \"gone.pem\"\ntls_key = \"key.pem\"\n",
    )
    .unwrap();
    let out = support::bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .env_remove("CUSTODIAN_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("gone.pem"), "{err}");
    std::fs::write(dir.join("custodian.toml"), "max_header_bytes = 100\n").unwrap();
    let out = support::bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .env_remove("CUSTODIAN_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("max_header_bytes"),
        "{err}"
    );
}
