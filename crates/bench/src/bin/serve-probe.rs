//! Time to ready and idle memory of `custodian serve`.
//!
//! Usage: `serve-probe PATH/TO/custodian [--runs N] [--existing]`
//!
//! Each run starts `custodian serve --listen 127.0.0.1:PORT` in a fresh temporary folder
//! (a new SQLite database and secret are created: the first-start case), polls
//! `GET /readyz` every millisecond over plain TCP from the moment the process is spawned, and
//! records the time to the first 200. After ready it sends a few requests (readyz, healthz,
//! the policy and the notice page, two consent writes), waits 1 s, and reads VmRSS/VmHWM from
//! /proc/PID/status. With `--existing`, every run after the first reuses the first folder
//! (restart of an initialised instance). Prints one JSON line per run and a summary line.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One HTTP/1.1 exchange with `Connection: close`; returns the status code.
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let head = String::from_utf8_lossy(&buf[..buf.len().min(16)]).to_string();
    head.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad answer: {head:?}")))
}

fn proc_kb(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn temp_dir(i: usize) -> PathBuf {
    let d = std::env::temp_dir().join(format!("custodian-probe-{}-{i}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

struct Run {
    ready_ms: f64,
    rss_kb: u64,
    hwm_kb: u64,
}

fn one(bin: &Path, dir: &Path, run: usize) -> Result<Run, String> {
    let port = free_port();
    let started = Instant::now();
    let mut child: Child = Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .env("CUSTODIAN_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let result = (|| {
        let ready_ms = loop {
            if let Ok(200) = http(port, "GET", "/readyz", None) {
                break started.elapsed().as_secs_f64() * 1e3;
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("custodian exited with {status} before ready"));
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err("not ready after 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        for path in ["/readyz", "/healthz", "/v1/policy", "/privacy", "/readyz"] {
            let _ = http(port, "GET", path, None);
        }
        for k in 0..2 {
            let body = format!(
                r#"{{"subject":{{"device_id":"probe-device-{run:04}-{k:04}"}},"choices":{{"analytics":true}},"policy_version":"2018-05-25","source":"banner"}}"#
            );
            let code = http(port, "POST", "/v1/consent", Some(&body)).map_err(|e| e.to_string())?;
            if code != 201 {
                return Err(format!("consent answered {code}"));
            }
        }
        std::thread::sleep(Duration::from_secs(1));
        let pid = child.id();
        Ok(Run {
            ready_ms,
            rss_kb: proc_kb(pid, "VmRSS:").unwrap_or(0),
            hwm_kb: proc_kb(pid, "VmHWM:").unwrap_or(0),
        })
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let bin = PathBuf::from(
        args.next()
            .expect("usage: serve-probe PATH/TO/custodian [--runs N] [--existing]"),
    );
    let (mut runs, mut existing) = (20usize, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--existing" => existing = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let bin = std::fs::canonicalize(&bin).expect("custodian binary");
    let (mut ready, mut rss, mut hwm) = (Vec::new(), Vec::new(), Vec::new());
    let first = temp_dir(0);
    let mut failures = 0;
    for i in 0..runs {
        let dir = if existing || i == 0 {
            first.clone()
        } else {
            temp_dir(i)
        };
        match one(&bin, &dir, i) {
            Ok(r) => {
                println!(
                    r#"{{"run":{i},"folder":"{}","ready_ms":{:.1},"rss_kb":{},"hwm_kb":{}}}"#,
                    if i == 0 || !existing {
                        "fresh"
                    } else {
                        "existing"
                    },
                    r.ready_ms,
                    r.rss_kb,
                    r.hwm_kb
                );
                ready.push(r.ready_ms);
                rss.push(r.rss_kb as f64);
                hwm.push(r.hwm_kb as f64);
            }
            Err(e) => {
                failures += 1;
                eprintln!("run {i}: {e}");
            }
        }
        if dir != first {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let _ = std::fs::remove_dir_all(&first);
    if ready.is_empty() {
        eprintln!("no successful run");
        std::process::exit(1);
    }
    let max_ready = ready.iter().cloned().fold(0.0, f64::max);
    let min_ready = ready.iter().cloned().fold(f64::MAX, f64::min);
    println!(
        r#"{{"summary":true,"runs":{},"failures":{failures},"ready_ms_median":{:.1},"ready_ms_min":{min_ready:.1},"ready_ms_max":{max_ready:.1},"rss_mb_median":{:.1},"hwm_mb_median":{:.1}}}"#,
        ready.len(),
        median(&mut ready),
        median(&mut rss) / 1024.0,
        median(&mut hwm) / 1024.0
    );
}
