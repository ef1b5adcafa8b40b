//! The `custodian serve` processes of the fault suite: the real binary, each in a folder of
//! its own, all on the private PostgreSQL database, sharing the secret and master key (as
//! several nodes must), mailing through the suite's SMTP sink.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, RwLock};

pub const SECRET: &str = "5eb63bbbe01eeed093cb22bb8f5acdc35eb63bbbe01eeed093cb22bb8f5acdc3";
pub const MASTER_KEY: &str = "4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d";

/// What every node and CLI call is started with.
#[derive(Clone)]
pub struct Setup {
    pub root: PathBuf,
    pub database_url: String,
    pub smtp_url: String,
    pub company_url: String,
}

impl Setup {
    /// The binary with the shared environment (for `serve` and the CLI alike).
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_custodian"));
        c.env_remove("CUSTODIAN_CONFIG")
            .env("CUSTODIAN_DATABASE_URL", &self.database_url)
            .env("CUSTODIAN_SECRET", SECRET)
            .env("CUSTODIAN_MASTER_KEY", MASTER_KEY)
            .env("CUSTODIAN_SMTP_URL", &self.smtp_url)
            .env("CUSTODIAN_SMTP_FROM", "Privacy <privacy@custodian.test>")
            .env("COMPANY_DATABASE_URL", &self.company_url)
            .env("CUSTODIAN_LOG", "warn,sqlx=error")
            // The load writes consent from one loopback client far above a visitor's rate:
            // no per-client limit (a variable, so a build without the limit ignores it).
            .env("CUSTODIAN_CONSENT_LIMIT_PER_CLIENT", "0")
            .current_dir(&self.root);
        c
    }
}

/// A running node.
pub struct Node {
    child: Child,
    pub url: String,
}

/// Starts node `i` and waits until it listens.
pub fn start(setup: &Setup, i: usize) -> Node {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(setup.root.join(format!("node-{i}.log")))
        .unwrap();
    let mut child = setup
        .command()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--intake-limit-per-client",
            "100000",
            "--intake-limit-per-address",
            "1000",
        ])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("custodian listening on ")
        .unwrap_or_else(|| panic!("node {i} did not start: {line:?} (see node-{i}.log)"))
        .to_owned();
    Node { child, url }
}

impl Node {
    /// SIGKILL: no shutdown, no flushing, leases left held.
    pub fn kill(self) {
        drop(self);
    }
}

/// A node is killed when dropped, so a failing check leaves no process behind.
impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nodes as the load sees them: each slot's current URL, `None` while it is down.
#[derive(Clone, Default)]
pub struct Urls(Arc<RwLock<Vec<Option<String>>>>);

impl Urls {
    pub fn set(&self, i: usize, url: Option<String>) {
        let mut v = self.0.write().unwrap();
        if v.len() <= i {
            v.resize(i + 1, None);
        }
        v[i] = url;
    }

    /// A node to call: the `n`-th live one, round robin.
    pub fn pick(&self, n: usize) -> Option<String> {
        let v = self.0.read().unwrap();
        let live: Vec<&String> = v.iter().flatten().collect();
        (!live.is_empty()).then(|| live[n % live.len()].clone())
    }

    pub fn all(&self) -> Vec<String> {
        self.0.read().unwrap().iter().flatten().cloned().collect()
    }
}
