//! An image of the in-memory consent on disk, so that a restart is one file read and the
//! ledger's tail (issue 17 item 4: with 3,000,000 choices the full load took 11.9 s, the target
//! is 2 s).
//!
//! The image is a cache of the store, never a record: it says how far into the store it
//! reaches (each ledger chain's sequence and the forgettings', [`ImageHeader`]), and at start
//! [`load`] reads it and [`crate::consent_sync::sync_once`] applies what came after — other
//! nodes' writes, `consent import`, erasures and purges (`consent_forgotten`) — as it does
//! every second anyway. An image that is missing, damaged, of another format or made under
//! another secret is not used; the node loads from the store as before and writes a fresh
//! image soon after.
//!
//! Each node keeps its own file (`CUSTODIAN_CONSENT_IMAGE`; by default beside the SQLite
//! database, none for PostgreSQL unless configured). It is rewritten every [`EVERY`] when
//! something changed and at a clean stop, written to a temporary file, synced and renamed so a
//! crash leaves the old image or the new one, never half of one. The file holds what the
//! database holds — keyed subject references and choices, no identifier in clear — and is
//! created readable by its owner only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use custodian_core::consent::{ConsentMemory, ImageError, ImageHeader};
use custodian_store::Store;

use crate::consent_sync::Watermarks;
use crate::context::Context;

/// Where a node keeps its image (`CUSTODIAN_CONSENT_IMAGE`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ImagePlace {
    /// Beside the SQLite database file (`custodian.db.consent-image`); none on PostgreSQL.
    #[default]
    Beside,
    At(PathBuf),
    /// No image: every start loads consent from the store.
    Off,
}

impl ImagePlace {
    /// The environment's or config file's value: a path, or `off`.
    pub fn parse(s: &str) -> ImagePlace {
        match s.trim() {
            "" | "off" | "none" => ImagePlace::Off,
            p => ImagePlace::At(PathBuf::from(p)),
        }
    }

    /// The file for a node on `store`, if any.
    pub fn file(&self, store: &Store) -> Option<PathBuf> {
        match self {
            ImagePlace::Beside => beside(store),
            ImagePlace::At(p) => Some(p.clone()),
            ImagePlace::Off => None,
        }
    }
}

/// How often a node rewrites its image when its memory changed.
pub const EVERY: Duration = Duration::from_secs(300);

/// Why an image was not written.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("writing the consent image {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the policy's consent purposes changed while the image was written; the next round writes it again")]
    PolicyChanged,
}

/// Names the secret subject references are keyed with, without revealing it.
pub fn fingerprint(secret: &[u8]) -> [u8; 16] {
    let k = custodian_core::seal::derive_key(secret, "consent memory image");
    let mut f = [0; 16];
    f.copy_from_slice(&k[..16]);
    f
}

/// What [`load`] found: memory as the image had it and how far into the store it reaches.
pub struct Loaded {
    pub memory: ConsentMemory,
    pub seen: Watermarks,
    pub taken_at: i64,
}

/// Reads the image at `path` for a node whose policy numbers its consent purposes `slots`.
/// `None` when there is none or it cannot be used (why is logged: a damaged image is worth a
/// look, a missing one is the first start).
pub async fn load(path: &Path, slots: &[String], fingerprint: [u8; 16]) -> Option<Loaded> {
    let path = path.to_owned();
    let slots: Vec<String> = slots.to_vec();
    let started = Instant::now();
    let read = tokio::task::spawn_blocking(move || -> Result<Option<Loaded>, String> {
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let names: Vec<&str> = slots.iter().map(String::as_str).collect();
        let (memory, header) =
            ConsentMemory::read_image_from(file, &names).map_err(|e: ImageError| e.to_string())?;
        if header.fingerprint != fingerprint {
            return Err("it was made under another secret".into());
        }
        Ok(Some(Loaded {
            memory,
            seen: Watermarks::from_image(header.chains, header.forgotten),
            taken_at: header.taken_at,
        }))
    })
    .await;
    match read {
        Ok(Ok(Some(l))) => {
            tracing::info!(
                subjects = l.memory.subjects(),
                millis = started.elapsed().as_millis() as u64,
                "consent memory read from its image"
            );
            Some(l)
        }
        Ok(Ok(None)) => None,
        Ok(Err(why)) => {
            tracing::warn!(reason = %why, "the consent image is not used; loading consent from the store");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading the consent image failed; loading consent from the store");
            None
        }
    }
}

/// Writes this node's image now, if it has a place for one. Answers whether it wrote.
pub async fn save(ctx: &Arc<Context>) -> Result<bool, SaveError> {
    let Some(path) = ctx.consent_image.clone() else {
        return Ok(false);
    };
    let ctx = ctx.clone();
    let at = path.clone();
    match tokio::task::spawn_blocking(move || write(&ctx, &path)).await {
        Ok(r) => r.map(|()| true),
        Err(e) => Err(SaveError::Io {
            path: at,
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

/// The image's place beside a SQLite database file (`None` for PostgreSQL or an in-memory
/// database: there the operator names a place, or there is no image).
fn beside(store: &Store) -> Option<PathBuf> {
    let file = store.sqlite_file()?;
    let mut name = file.file_name()?.to_os_string();
    name.push(".consent-image");
    Some(file.with_file_name(name))
}

fn write(ctx: &Context, path: &Path) -> Result<(), SaveError> {
    let io = |source| SaveError::Io {
        path: path.to_owned(),
        source,
    };
    let slots = ctx.engine.consent_purposes().to_vec();
    // The watermarks first: everything up to them is in memory already (see `Watermarks`).
    let header = ImageHeader {
        fingerprint: ctx.image_fingerprint,
        taken_at: ctx.clock.now_micros(),
        forgotten: ctx.consent_seen.forgotten(),
        chains: ctx.consent_seen.chains(),
        slots,
    };
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let file = open_private(&tmp).map_err(io)?;
    let mut out = std::io::BufWriter::new(file);
    ctx.consents.write_image(&header, &mut out).map_err(io)?;
    out.flush().map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    if ctx.engine.consent_purposes() != header.slots.as_slice() {
        let _ = std::fs::remove_file(&tmp);
        return Err(SaveError::PolicyChanged);
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    // The rename itself is durable once the folder is synced.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    ctx.consent_seen.imaged(header.chains, header.forgotten);
    Ok(())
}

fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// The saver's round: writes the image when memory moved since the last one (or there is
/// none yet). Failures are logged; the next round tries again.
pub async fn scheduled(ctx: &Arc<Context>) {
    if ctx.consent_image.is_none() || !ctx.consent_seen.moved_since_image() {
        return;
    }
    let started = Instant::now();
    match save(ctx).await {
        Ok(true) => tracing::info!(
            subjects = ctx.consents.subjects(),
            millis = started.elapsed().as_millis() as u64,
            "consent image written"
        ),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "the consent image was not written"),
    }
}
