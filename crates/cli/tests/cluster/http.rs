//! A small blocking HTTP/1.1 client with timeouts, enough for the fault suite's load: one
//! connection per call, and every outcome told apart — an answer, a refused or reset
//! connection (a killed node), or no answer in time (a hang, which must never happen).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long a call may take before it counts as a hang.
pub const HANG: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub enum Outcome {
    Answer {
        status: u16,
        retry_after: bool,
        body: String,
    },
    /// Refused, reset or closed without an answer: the node is down (killed).
    Gone,
    /// Connected, but no answer within [`HANG`].
    Hung,
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Answer { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn body(&self) -> &str {
        match self {
            Outcome::Answer { body, .. } => body,
            _ => "",
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.body()).unwrap_or(serde_json::Value::Null)
    }
}

pub fn call(
    method: &str,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Outcome {
    let host = base
        .strip_prefix("http://")
        .unwrap_or(base)
        .trim_end_matches('/');
    let Ok(addr) = host.parse::<std::net::SocketAddr>() else {
        return Outcome::Gone;
    };
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return Outcome::Gone;
    };
    let _ = s.set_read_timeout(Some(HANG));
    let _ = s.set_write_timeout(Some(HANG));
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return Outcome::Gone;
    }
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            return Outcome::Hung
        }
        Err(_) if raw.is_empty() => return Outcome::Gone,
        Err(_) => {}
    }
    let text = String::from_utf8_lossy(&raw);
    let Some((head, rest)) = text.split_once("\r\n\r\n") else {
        return Outcome::Gone;
    };
    let Some(status) = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
    else {
        return Outcome::Gone;
    };
    let retry_after = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("retry-after:"));
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        unchunk(rest)
    } else {
        rest.to_owned()
    };
    Outcome::Answer {
        status,
        retry_after,
        body,
    }
}

fn unchunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
