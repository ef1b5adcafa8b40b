//! Cross-node visibility of consent, measured (bench/cluster.sh): a consent write on one node,
//! then decisions on the next node, asked back to back until they allow what was written. The
//! time from the write's 201 to the first allowing decision is one sample; the answer is their
//! median, 99th percentile and maximum, as one JSON line.
//!
//!   cluster-visibility --count 300 --token SERVICE_TOKEN http://127.0.0.1:8081 http://127.0.0.1:8082
//!
//! Plain blocking HTTP/1.1 over std, one connection per call: the probe must not be what is
//! measured, and it needs nothing but loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A sample that takes longer than this is counted as lost (it never became visible).
const GIVE_UP: Duration = Duration::from_secs(5);

fn post(base: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let Ok(mut s) = TcpStream::connect(host) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut count, mut token, mut nodes) = (200usize, None::<String>, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => count = args.next().and_then(|v| v.parse().ok()).expect("--count N"),
            "--token" => token = args.next(),
            url => nodes.push(url.to_owned()),
        }
    }
    assert!(nodes.len() >= 2, "give two node URLs or more");
    let token = token.expect("--token SERVICE_TOKEN (decisions need it)");
    let tag = std::process::id();
    let mut samples = Vec::with_capacity(count);
    let mut lost = 0;
    for i in 0..count {
        let (writer, reader) = (&nodes[i % nodes.len()], &nodes[(i + 1) % nodes.len()]);
        let device = format!("vis-{tag}-{i:08}");
        let write = format!(
            r#"{{"subject":{{"device_id":"{device}"}},"choices":{{"analytics":true}},"policy_version":"2018-05-25","source":"banner"}}"#
        );
        let (status, body) = post(writer, "/v1/consent", None, &write);
        assert_eq!(status, 201, "consent write answered {status}: {body}");
        let acknowledged = Instant::now();
        let ask = format!(
            r#"{{"subject":{{"device_id":"{device}"}},"purpose":"analytics","country":"DE"}}"#
        );
        loop {
            let (status, body) = post(reader, "/v1/decide", Some(&token), &ask);
            if status == 200 && body.contains(r#""allowed":true"#) {
                samples.push(acknowledged.elapsed().as_secs_f64() * 1e3);
                break;
            }
            if acknowledged.elapsed() > GIVE_UP {
                lost += 1;
                break;
            }
        }
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let within_100 = samples.iter().filter(|s| **s <= 100.0).count();
    println!(
        r#"{{"samples":{},"lost":{lost},"p50_ms":{:.2},"p99_ms":{:.2},"max_ms":{:.2},"within_100ms":{within_100}}}"#,
        samples.len(),
        percentile(&samples, 50.0),
        percentile(&samples, 99.0),
        samples.last().copied().unwrap_or(f64::NAN),
    );
}
