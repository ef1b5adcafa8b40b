//! A small Redis client of our own: RESP2 over one TCP connection, with pipelining.
//!
//! Why not the `redis` crate: with only its tokio feature it still brings about 30,000 lines
//! and `combine`, `num-bigint`, `tokio-util` and a second `socket2` into the build, for the
//! dozen commands the connector sends (SCAN, TYPE, HMGET, GET, HSET, HDEL, SET, UNLINK, MULTI,
//! EXEC, AUTH, SELECT, INFO). RESP2 is a few lines to write and to parse; everything here reads
//! with a bound (line length, bulk size, array length, nesting), so a hostile or broken server
//! cannot make the connector allocate without limit.
//!
//! Errors never carry the URL, the password, a key or a value: Redis quotes the arguments of a
//! failed command in some messages, and those parts are cut (see [`scrub`]).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::ConnectorError;

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Nil,
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Array(Vec<Reply>),
}

impl Reply {
    /// The reply as a failure when it is an error reply.
    pub fn ok(self) -> Result<Reply, ConnectorError> {
        match self {
            Reply::Error(e) => Err(ConnectorError::Database(format!("redis: {}", scrub(&e)))),
            r => Ok(r),
        }
    }

    pub fn bulk(self) -> Option<Vec<u8>> {
        match self {
            Reply::Bulk(b) => Some(b),
            _ => None,
        }
    }

    pub fn into_array(self) -> Vec<Reply> {
        match self {
            Reply::Array(a) => a,
            _ => Vec::new(),
        }
    }

    /// A status or bulk reply as text.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// An error message without the quoted arguments some Redis errors repeat (`'key'`, `` `x` ``).
pub fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push('…');
                out.push(c);
            }
            Some(_) => {}
            None if c == '\'' || c == '`' => {
                quote = Some(c);
                out.push(c);
            }
            None => out.push(c),
        }
    }
    out.chars().take(200).collect()
}

/// Commands queued to be sent in one write.
#[derive(Default)]
pub struct Pipeline {
    buf: Vec<u8>,
    count: usize,
}

impl Pipeline {
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Queues one command (its name, then its arguments).
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> &mut Self {
        self.buf.push(b'*');
        self.buf
            .extend_from_slice(args.len().to_string().as_bytes());
        self.buf.extend_from_slice(b"\r\n");
        for a in args {
            let a = a.as_ref();
            self.buf.push(b'$');
            self.buf.extend_from_slice(a.len().to_string().as_bytes());
            self.buf.extend_from_slice(b"\r\n");
            self.buf.extend_from_slice(a);
            self.buf.extend_from_slice(b"\r\n");
        }
        self.count += 1;
        self
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Where to connect, from `redis://[[user]:password@]host[:port][/db]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: u32,
}

fn bad_url(what: &str) -> ConnectorError {
    ConnectorError::Connect(format!("the Redis URL {what}"))
}

fn percent_decode(s: &str) -> Result<String, ConnectorError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad_url("has a malformed %-escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad_url("has a %-escape that is not UTF-8"))
}

impl Target {
    /// Parses a connection URL. Messages never repeat the URL (it may hold a password).
    pub fn parse(url: &str) -> Result<Target, ConnectorError> {
        let rest = if let Some(r) = url.strip_prefix("redis://") {
            r
        } else if url.starts_with("rediss://") {
            return Err(bad_url(
                "asks for TLS (rediss://), which the connector does not speak yet",
            ));
        } else {
            return Err(bad_url("must start with redis://"));
        };
        let (auth, hostpart) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (hostport, db) = match hostpart.split_once('/') {
            Some((h, d)) => (h, d),
            None => (hostpart, ""),
        };
        let db = match db.split('?').next().unwrap_or_default() {
            "" => 0,
            d => d
                .parse()
                .map_err(|_| bad_url("names a database that is not a number"))?,
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
                h.trim_start_matches('[').trim_end_matches(']'),
                p.parse()
                    .map_err(|_| bad_url("has a port that is not a number"))?,
            ),
            _ => (hostport, 6379),
        };
        if host.is_empty() {
            return Err(bad_url("has no host"));
        }
        let (user, password) = match auth {
            None => (None, None),
            Some(a) => match a.split_once(':') {
                Some((u, p)) => (
                    (!u.is_empty()).then(|| percent_decode(u)).transpose()?,
                    Some(percent_decode(p)?),
                ),
                None => (None, Some(percent_decode(a)?)),
            },
        };
        Ok(Target {
            host: host.to_owned(),
            port,
            user,
            password,
            db,
        })
    }
}

/// The longest status line, bulk string and array accepted from a server.
const MAX_LINE: usize = 64 * 1024;
const MAX_BULK: usize = 512 * 1024 * 1024;
const MAX_ARRAY: usize = 16 * 1024 * 1024;
const MAX_DEPTH: usize = 8;
/// How long one round trip may take before the connection is given up.
const ROUND_TRIP: Duration = Duration::from_secs(60);

/// One connection to a Redis server.
pub struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

fn io(e: std::io::Error) -> ConnectorError {
    ConnectorError::Database(format!("redis connection: {e}"))
}

impl Conn {
    /// Connects, authenticates and selects the database named by `url`.
    pub async fn connect(url: &str) -> Result<Conn, ConnectorError> {
        let t = Target::parse(url)?;
        let stream = tokio::time::timeout(
            Duration::from_secs(10),
            TcpStream::connect((t.host.as_str(), t.port)),
        )
        .await
        .map_err(|_| ConnectorError::Connect("Redis did not answer within 10 s".into()))?
        .map_err(|e| ConnectorError::Connect(format!("Redis: {}", e.kind())))?;
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        let mut conn = Conn {
            reader: BufReader::with_capacity(64 * 1024, r),
            writer: w,
        };
        let mut p = Pipeline::new();
        match (&t.user, &t.password) {
            (Some(u), Some(pw)) => p.cmd(&["AUTH", u.as_str(), pw.as_str()]),
            (None, Some(pw)) => p.cmd(&["AUTH", pw.as_str()]),
            _ => &mut p,
        };
        if t.db != 0 {
            p.cmd(&["SELECT".to_owned(), t.db.to_string()]);
        }
        p.cmd(&["PING"]);
        for r in conn.run(&p).await? {
            if let Reply::Error(e) = r {
                return Err(ConnectorError::Connect(format!("Redis: {}", scrub(&e))));
            }
        }
        Ok(conn)
    }

    /// Sends every queued command in one write and reads as many replies. Error replies are
    /// returned as [`Reply::Error`], in their place.
    pub async fn run(&mut self, p: &Pipeline) -> Result<Vec<Reply>, ConnectorError> {
        if p.is_empty() {
            return Ok(Vec::new());
        }
        tokio::time::timeout(ROUND_TRIP, async {
            self.writer.write_all(&p.buf).await.map_err(io)?;
            let mut out = Vec::with_capacity(p.count);
            for _ in 0..p.count {
                out.push(read_reply(&mut self.reader, 0).await?);
            }
            Ok(out)
        })
        .await
        .map_err(|_| ConnectorError::Database("Redis did not answer within 60 s".into()))?
    }

    /// One command; an error reply is a failure.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, ConnectorError> {
        let mut p = Pipeline::new();
        p.cmd(args);
        self.run(&p)
            .await?
            .pop()
            .expect("one command, one reply")
            .ok()
    }
}

async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<String, ConnectorError> {
    let mut line = Vec::new();
    let n = (&mut *r)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await
        .map_err(io)?;
    if n == 0 {
        return Err(ConnectorError::Database(
            "redis connection closed by the server".into(),
        ));
    }
    if !line.ends_with(b"\r\n") {
        return Err(protocol("a line too long or not ended by CRLF"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| protocol("a line that is not UTF-8"))
}

fn protocol(what: &str) -> ConnectorError {
    ConnectorError::Database(format!("redis protocol: the server sent {what}"))
}

fn length(s: &str, max: usize) -> Result<Option<usize>, ConnectorError> {
    let n: i64 = s.parse().map_err(|_| protocol("a malformed length"))?;
    if n < 0 {
        return Ok(None);
    }
    let n = n as usize;
    if n > max {
        return Err(protocol("a length over the limit"));
    }
    Ok(Some(n))
}

/// Reads one reply; arrays recursively, at most [`MAX_DEPTH`] deep.
fn read_reply<'a, R: AsyncBufReadExt + Unpin + Send>(
    r: &'a mut R,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reply, ConnectorError>> + Send + 'a>>
{
    Box::pin(async move {
        let line = read_line(r).await?;
        let (kind, rest) = line.split_at(line.len().min(1));
        Ok(match kind {
            "+" => Reply::Status(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => Reply::Int(rest.parse().map_err(|_| protocol("a malformed integer"))?),
            "$" => match length(rest, MAX_BULK)? {
                None => Reply::Nil,
                Some(n) => {
                    let mut buf = vec![0u8; n + 2];
                    r.read_exact(&mut buf).await.map_err(io)?;
                    if !buf.ends_with(b"\r\n") {
                        return Err(protocol("a bulk string not ended by CRLF"));
                    }
                    buf.truncate(n);
                    Reply::Bulk(buf)
                }
            },
            "*" => match length(rest, MAX_ARRAY)? {
                None => Reply::Nil,
                Some(n) => {
                    if depth >= MAX_DEPTH {
                        return Err(protocol("arrays nested too deep"));
                    }
                    let mut items = Vec::with_capacity(n.min(4096));
                    for _ in 0..n {
                        items.push(read_reply(r, depth + 1).await?);
                    }
                    Reply::Array(items)
                }
            },
            _ => return Err(protocol("an unknown reply type")),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Reply, ConnectorError> {
        let mut r = BufReader::new(bytes);
        read_reply(&mut r, 0).await
    }

    #[tokio::test]
    async fn replies_parse() {
        assert_eq!(parse(b"+OK\r\n").await.unwrap(), Reply::Status("OK".into()));
        assert_eq!(parse(b":-12\r\n").await.unwrap(), Reply::Int(-12));
        assert_eq!(parse(b"$-1\r\n").await.unwrap(), Reply::Nil);
        assert_eq!(
            parse(b"$5\r\na\r\nbc\r\n").await.unwrap(),
            Reply::Bulk(b"a\r\nbc".to_vec()),
            "bulk strings are binary-safe"
        );
        assert_eq!(
            parse(b"*2\r\n$1\r\n0\r\n*1\r\n$3\r\nkey\r\n")
                .await
                .unwrap(),
            Reply::Array(vec![
                Reply::Bulk(b"0".to_vec()),
                Reply::Array(vec![Reply::Bulk(b"key".to_vec())])
            ])
        );
    }

    #[tokio::test]
    async fn hostile_replies_fail_without_allocating() {
        for bad in [
            &b"$999999999999\r\n"[..],
            b"*99999999999\r\n",
            b"$3\r\nabcXY",
            b"?what\r\n",
            b"+no end",
            b":12x\r\n",
        ] {
            assert!(
                parse(bad).await.is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "*1\r\n".repeat(MAX_DEPTH + 1) + ":1\r\n";
        assert!(parse(deep.as_bytes()).await.is_err());
    }

    #[test]
    fn commands_are_encoded_as_bulk_arrays() {
        let mut p = Pipeline::new();
        p.cmd(&["GET", "a b"]).cmd(&[&b"DEL"[..], b"\r\n"]);
        assert_eq!(
            p.buf,
            b"*2\r\n$3\r\nGET\r\n$3\r\na b\r\n*2\r\n$3\r\nDEL\r\n$2\r\n\r\n\r\n"
        );
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn urls_parse_and_errors_never_repeat_them() {
        let t = Target::parse("redis://:s%40cret@10.0.0.1:6380/3").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.db, t.user, t.password.as_deref()),
            ("10.0.0.1", 6380, 3, None, Some("s@cret"))
        );
        let t = Target::parse("redis://app:pw@localhost").unwrap();
        assert_eq!((t.port, t.db, t.user.as_deref()), (6379, 0, Some("app")));
        for bad in [
            "rediss://u:topsecret@h",
            "http://u:topsecret@h",
            "redis://u:topsecret@h:x",
            "redis://u:topsecret@h/zz",
        ] {
            let e = Target::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("topsecret"), "{e}");
        }
    }

    #[test]
    fn quoted_arguments_are_cut_from_errors() {
        assert_eq!(
            scrub("ERR unknown command 'FOO', with args beginning with: 'alice@example.com' "),
            "ERR unknown command '…', with args beginning with: '…' "
        );
    }
}
