//! A private PostgreSQL cluster for the fault suite: `initdb` into a temporary folder, started
//! with `pg_ctl` on a free loopback port, so that restarting it disturbs no other test. As
//! root, PostgreSQL refuses to run; the tools then run as the `postgres` user (`runuser`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Pg {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

/// Where the PostgreSQL tools are: `PG_BIN`, else Debian's PostgreSQL 15.
fn bin_dir() -> PathBuf {
    PathBuf::from(std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Pg {
    /// Makes and starts the cluster; `None` (the suite is skipped) when `initdb` is missing —
    /// except under `CI=true`, where that is a failure.
    pub fn start() -> Option<Pg> {
        let bin = bin_dir();
        if !bin.join("initdb").exists() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "CI=true and there is no initdb in {}: install postgresql-15 or set PG_BIN",
                    bin.display()
                );
            }
            eprintln!("SKIPPED: no initdb in {} (set PG_BIN)", bin.display());
            return None;
        }
        let dir = std::env::temp_dir().join(format!("custodian-cluster-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status();
            assert!(
                ok.is_ok_and(|s| s.success()),
                "chown of the cluster's folder failed"
            );
        }
        let pg = Pg {
            bin,
            dir,
            port: free_port(),
            as_postgres,
        };
        pg.tool(
            "initdb",
            &[
                "-D",
                pg.data().to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg.ctl(&["start"]);
        pg.tool(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &pg.port.to_string(),
                "-U",
                "postgres",
                "custodian",
            ],
        );
        Some(pg)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/custodian", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn tool(&self, name: &str, args: &[&str]) {
        let out = self.run(name, args);
        assert!(
            out.status.success(),
            "{name} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn run(&self, name: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(name);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        c.args(args).current_dir(&self.dir).output().unwrap()
    }

    /// `pg_ctl ACTION`, waiting for it to finish. `fsync` is off: the suite restarts
    /// PostgreSQL cleanly (`-m fast`), which loses nothing committed either way.
    fn ctl(&self, action: &[&str]) {
        self.tool(
            "pg_ctl",
            &self
                .ctl_args(action)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
    }

    fn ctl_args(&self, action: &[&str]) -> Vec<String> {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let data = self.data().display().to_string();
        let log = self.dir.join("pg.log").display().to_string();
        let mut args: Vec<String> = ["-D", &data, "-l", &log, "-w", "-t", "60", "-o", &opts]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(action.iter().map(|s| s.to_string()));
        args
    }

    /// Restarts the cluster (`-m fast`: sessions are ended, nothing committed is lost);
    /// answers when it went down and when it answered again.
    pub fn restart(&self) -> (Instant, Instant) {
        let down = Instant::now();
        self.ctl(&["-m", "fast", "restart"]);
        (down, Instant::now())
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let args = self.ctl_args(&["-m", "immediate", "stop"]);
        let _ = self.run(
            "pg_ctl",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        std::thread::sleep(Duration::from_millis(100));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
