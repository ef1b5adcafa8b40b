//! An SMTP server for tests: listens on 127.0.0.1, speaks enough SMTP for lettre (EHLO/HELO,
//! MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET, NOOP, QUIT), records every message it
//! accepts, and can refuse the next few with 451 (or 550) to exercise retries.
//!
//! [`ReceivedMail::text`] decodes the plain-text part (quoted-printable or base64), so a test
//! can read a verification code out of a delivered mail as a person would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One accepted message: the envelope and the raw data, dot-unstuffed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: String,
}

/// A running sink; stops when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    received: Mutex<Vec<ReceivedMail>>,
    count: watch::Sender<usize>,
    refuse_transient: AtomicUsize,
    refuse_permanent: AtomicUsize,
}

impl SmtpSink {
    /// Starts a sink on a free port of 127.0.0.1.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let addr = listener.local_addr().expect("sink address");
        let state = Arc::new(State {
            received: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
            refuse_transient: AtomicUsize::new(0),
            refuse_permanent: AtomicUsize::new(0),
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = session(stream, &st).await;
                });
            }
        });
        SmtpSink { addr, state, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:<port>`, for `MailConfig::new`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Answers the next `n` messages with `451` at the end of DATA (and keeps none of them).
    pub fn refuse_next(&self, n: usize) {
        self.state.refuse_transient.store(n, Ordering::SeqCst);
    }

    /// Answers the next `n` messages with `550` at the end of DATA.
    pub fn refuse_next_permanently(&self, n: usize) {
        self.state.refuse_permanent.store(n, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        *self.state.count.borrow()
    }

    /// Waits (up to 30 s, then panics) until at least `n` messages arrived; answers all of
    /// them.
    pub async fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        self.wait_for_within(n, Duration::from_secs(30)).await
    }

    /// [`SmtpSink::wait_for`] with a limit of one's own.
    pub async fn wait_for_within(&self, n: usize, limit: Duration) -> Vec<ReceivedMail> {
        let mut rx = self.state.count.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the sink received {} of {n} messages in {limit:?}",
                    self.count()
                )
            })
            .expect("sink state alive");
        self.received()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

async fn session(stream: TcpStream, st: &State) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write
        .write_all(b"220 custodian-sink ESMTP ready\r\n")
        .await?;
    let mut from: Option<String> = None;
    let mut rcpt: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-custodian-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") {
            b"250 custodian-sink\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = Some(path_of(&cmd[10..]));
            rcpt.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if from.is_none() {
                b"503 MAIL first\r\n"
            } else {
                rcpt.push(path_of(&cmd[8..]));
                b"250 OK\r\n"
            }
        } else if upper == "DATA" {
            if from.is_none() || rcpt.is_empty() {
                b"503 MAIL and RCPT first\r\n"
            } else {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let data = read_data(&mut read).await?;
                let envelope = (from.take().unwrap_or_default(), std::mem::take(&mut rcpt));
                if take_one(&st.refuse_permanent) {
                    b"550 5.7.1 refused by the test sink\r\n"
                } else if take_one(&st.refuse_transient) {
                    b"451 4.3.0 try again later (test sink)\r\n"
                } else {
                    let mut all = st.received.lock().unwrap();
                    all.push(ReceivedMail {
                        mail_from: envelope.0,
                        rcpt_to: envelope.1,
                        data,
                    });
                    st.count.send_replace(all.len());
                    b"250 OK queued\r\n"
                }
            }
        } else if upper == "RSET" {
            from = None;
            rcpt.clear();
            b"250 OK\r\n"
        } else if upper == "NOOP" {
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// `<a@b> SIZE=12` → `a@b`.
fn path_of(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}

async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(read: &mut R) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        // Dot-unstuffing (RFC 5321 4.5.2): a leading dot was doubled by the client.
        let l = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        data.push_str(&String::from_utf8_lossy(l));
    }
}

impl ReceivedMail {
    /// The first header called `name` (case-insensitive), unfolded, encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = split_head(&self.data);
        header_in(head, name).map(|v| decode_words(&v))
    }

    pub fn message_id(&self) -> Option<String> {
        self.header("Message-ID")
    }

    pub fn subject(&self) -> Option<String> {
        self.header("Subject")
    }

    /// The text/plain part, decoded, with `\n` line ends.
    pub fn text(&self) -> Option<String> {
        part_of_type(&self.data, "text/plain")
    }

    /// The text/html part, decoded.
    pub fn html(&self) -> Option<String> {
        part_of_type(&self.data, "text/html")
    }
}

fn split_head(entity: &str) -> (&str, &str) {
    for sep in ["\r\n\r\n", "\n\n"] {
        if let Some(i) = entity.find(sep) {
            return (&entity[..i], &entity[i + sep.len()..]);
        }
    }
    (entity, "")
}

fn header_in(head: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case(name) {
                value = Some(v.trim().to_owned());
            }
        }
    }
    value
}

fn param(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn part_of_type(entity: &str, wanted: &str) -> Option<String> {
    let (head, body) = split_head(entity);
    let ctype = header_in(head, "Content-Type").unwrap_or_else(|| "text/plain".into());
    let mime = ctype
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if mime.starts_with("multipart/") {
        let boundary = format!("--{}", param(&ctype, "boundary")?);
        return body
            .split(boundary.as_str())
            .skip(1)
            .take_while(|p| !p.starts_with("--"))
            // The line break before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
            .map(|p| {
                p.strip_suffix("\r\n")
                    .or_else(|| p.strip_suffix('\n'))
                    .unwrap_or(p)
            })
            .find_map(|p| part_of_type(p.trim_start_matches(['\r', '\n']), wanted));
    }
    if mime != wanted {
        return None;
    }
    let cte = header_in(head, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match cte.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .ok()?,
        "quoted-printable" => decode_qp(body),
        _ => body.as_bytes().to_vec(),
    };
    Some(String::from_utf8_lossy(&bytes).replace("\r\n", "\n"))
}

fn decode_qp(body: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let normalised = body.replace("\r\n", "\n");
    let mut lines = normalised.split('\n').peekable();
    while let Some(line) = lines.next() {
        let (line, soft) = match line.trim_end().strip_suffix('=') {
            Some(l) => (l, true),
            None => (line.trim_end(), false),
        };
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'=' {
                if let Some(v) = b
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
                {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        if !soft && lines.peek().is_some() {
            out.push(b'\n');
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`).
fn decode_words(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let Some(word) = parse_word(&rest[start..]) else {
            out.push_str(&rest[..start + 2]);
            rest = &rest[start + 2..];
            last_was_word = false;
            continue;
        };
        let between = &rest[..start];
        // Whitespace between two adjacent encoded words is not part of the text.
        if !(last_was_word && between.trim().is_empty()) {
            out.push_str(between);
        }
        out.push_str(&word.0);
        rest = &rest[start + word.1..];
        last_was_word = true;
    }
    out.push_str(rest);
    out
}

fn parse_word(s: &str) -> Option<(String, usize)> {
    let inner = &s[2..];
    let mut parts = inner.splitn(3, '?');
    let _charset = parts.next()?;
    let enc = parts.next()?.to_ascii_lowercase();
    let tail = parts.next()?;
    let end = tail.find("?=")?;
    let text = &tail[..end];
    let consumed = s.len() - tail.len() + end + 2;
    let bytes = match enc.as_str() {
        "b" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
        "q" => decode_qp(&text.replace('_', " ")),
        _ => return None,
    };
    Some((String::from_utf8_lossy(&bytes).into_owned(), consumed))
}
