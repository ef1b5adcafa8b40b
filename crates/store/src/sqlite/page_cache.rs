//! A thin layer over SQLite's own page cache that spares it a walk of its whole hash table at
//! nearly every commit of random-keyed rows.
//!
//! Why: at the end of each write transaction SQLite asks the page cache to drop every page
//! numbered above the database's size (`pager_end_transaction` → `xTruncate`). Its cache
//! (`pcache1`) remembers the largest page number it has held since the last such call, and
//! when that number lies further above the size than its hash table is long, it walks every
//! bucket and every cached page. B-tree splits make it so: `balance_nonroot` keeps sibling
//! pages in ascending order by swapping their numbers through the number of the byte-range
//! lock page (`PENDING_BYTE / page size + 1`: 262,145 with 4 KiB pages, a page no database
//! below 1 GiB has), and `pcache1Rekey` raises its largest number to it. A consent commit
//! splits some leaf of the current state's random-keyed index nearly every time, so the
//! consent writer walked its 8 MiB cache at nearly every commit — 9 % of its CPU (issue 17;
//! docs/benchmarks.md, sixth and tenth sittings; SQLite 3.46, `sqlite3.c`: `balance_nonroot`,
//! `pcache1TruncateUnsafe`).
//!
//! What: this layer forwards every call to SQLite's default page cache and keeps, per cache,
//! the largest page number that any page it holds can have, leaving out the swap number while
//! a page is parked there between `balance_nonroot`'s three consecutive renumberings. A
//! truncation that can find nothing to drop is answered here; any other is forwarded as is.
//! Pages, their contents and their eviction stay SQLite's own.
//!
//! Installed once per process, before SQLite is first used (`SQLITE_CONFIG_PCACHE2` cannot be
//! changed after); where SQLite was initialised first, [`install`] answers `false` and SQLite
//! keeps its cache as it is — slower, never wrong.

use std::ffi::{c_int, c_uint};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use rusqlite::ffi;

/// SQLite's default page cache, which this layer forwards to.
struct DefaultCache(ffi::sqlite3_pcache_methods2);
// SAFETY: the methods are plain functions and `pArg` is SQLite's own (null for `pcache1`);
// SQLite calls them from any thread.
unsafe impl Send for DefaultCache {}
unsafe impl Sync for DefaultCache {}

/// `None`: SQLite was initialised before [`install`], so the layer is not in place.
static DEFAULT: OnceLock<Option<DefaultCache>> = OnceLock::new();

/// SQLite's `PENDING_BYTE` (never changed outside SQLite's own tests).
const PENDING_BYTE: u32 = 0x4000_0000;

/// Truncations answered here, and forwarded: for tests and benchmarks.
static SKIPPED: AtomicU64 = AtomicU64::new(0);
static FORWARDED: AtomicU64 = AtomicU64::new(0);

/// One page cache: SQLite's, and what this layer knows of its page numbers.
struct Cache {
    inner: *mut ffi::sqlite3_pcache,
    /// No page in `inner` has a larger number, but a page parked at `swap`.
    top: c_uint,
    /// The number `balance_nonroot` parks a page at while it swaps two pages' numbers.
    swap: c_uint,
    /// Whether a page is parked at `swap` now.
    parked: bool,
}

/// Puts the layer in place if SQLite is not initialised yet; answers whether it is in place.
/// Call before the process opens its first SQLite connection; later calls answer the first's
/// result.
pub fn install() -> bool {
    DEFAULT
        .get_or_init(|| unsafe {
            let mut default: ffi::sqlite3_pcache_methods2 = std::mem::zeroed();
            // Both calls are refused (SQLITE_MISUSE) once SQLite is initialised.
            let rc = ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_GETPCACHE2,
                &mut default as *mut ffi::sqlite3_pcache_methods2,
            );
            if rc != ffi::SQLITE_OK || default.xCreate.is_none() {
                return None;
            }
            let ours = ffi::sqlite3_pcache_methods2 {
                iVersion: default.iVersion,
                pArg: default.pArg,
                xInit: default.xInit,
                xShutdown: default.xShutdown,
                xCreate: Some(create),
                xCachesize: Some(cachesize),
                xPagecount: Some(pagecount),
                xFetch: Some(fetch),
                xUnpin: Some(unpin),
                xRekey: Some(rekey),
                xTruncate: Some(truncate),
                xDestroy: Some(destroy),
                xShrink: Some(shrink),
            };
            // SQLite copies the methods; `ours` may go out of scope.
            let rc = ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_PCACHE2,
                &ours as *const ffi::sqlite3_pcache_methods2,
            );
            (rc == ffi::SQLITE_OK).then_some(DefaultCache(default))
        })
        .is_some()
}

/// How many truncations this process's caches answered themselves, and forwarded to SQLite.
pub fn truncations() -> (u64, u64) {
    (
        SKIPPED.load(Ordering::Relaxed),
        FORWARDED.load(Ordering::Relaxed),
    )
}

fn default() -> &'static ffi::sqlite3_pcache_methods2 {
    match DEFAULT.get() {
        Some(Some(d)) => &d.0,
        // SQLite calls these methods only after `install` put them in place.
        _ => unreachable!("the page cache layer is called only once installed"),
    }
}

/// This layer's cache behind SQLite's handle.
unsafe fn ours<'a>(p: *mut ffi::sqlite3_pcache) -> &'a mut Cache {
    &mut *(p as *mut Cache)
}

unsafe extern "C" fn create(
    page_size: c_int,
    extra: c_int,
    purgeable: c_int,
) -> *mut ffi::sqlite3_pcache {
    let inner = (default().xCreate.expect("a page cache creates"))(page_size, extra, purgeable);
    if inner.is_null() {
        return inner;
    }
    let swap = match u32::try_from(page_size) {
        Ok(size) if size > 0 => PENDING_BYTE / size + 1,
        // Not a page size SQLite uses; 0 is no page's number.
        _ => 0,
    };
    Box::into_raw(Box::new(Cache {
        inner,
        top: 0,
        swap,
        parked: false,
    }))
    .cast()
}

unsafe extern "C" fn cachesize(p: *mut ffi::sqlite3_pcache, pages: c_int) {
    (default().xCachesize.expect("a page cache is sized"))(ours(p).inner, pages)
}

unsafe extern "C" fn pagecount(p: *mut ffi::sqlite3_pcache) -> c_int {
    (default().xPagecount.expect("a page cache counts"))(ours(p).inner)
}

unsafe extern "C" fn fetch(
    p: *mut ffi::sqlite3_pcache,
    key: c_uint,
    create: c_int,
) -> *mut ffi::sqlite3_pcache_page {
    let cache = ours(p);
    let page = (default().xFetch.expect("a page cache fetches"))(cache.inner, key, create);
    // A page found was counted when it was made; one made now is counted here, whatever its
    // number (the swap number included: only a renumbering parks a page there briefly).
    if create != 0 && !page.is_null() && key > cache.top {
        cache.top = key;
    }
    page
}

unsafe extern "C" fn unpin(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    discard: c_int,
) {
    (default().xUnpin.expect("a page cache unpins"))(ours(p).inner, page, discard)
}

unsafe extern "C" fn rekey(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    old: c_uint,
    new: c_uint,
) {
    let cache = ours(p);
    (default().xRekey.expect("a page cache renumbers"))(cache.inner, page, old, new);
    if old == cache.swap {
        cache.parked = false;
    }
    if new == cache.swap {
        cache.parked = true;
    } else if new > cache.top {
        cache.top = new;
    }
}

unsafe extern "C" fn truncate(p: *mut ffi::sqlite3_pcache, limit: c_uint) {
    let cache = ours(p);
    // Every page is numbered below `limit`: there is nothing to drop.
    if cache.top < limit && !cache.parked {
        SKIPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    FORWARDED.fetch_add(1, Ordering::Relaxed);
    (default().xTruncate.expect("a page cache truncates"))(cache.inner, limit);
    cache.top = cache.top.min(limit.saturating_sub(1));
    cache.parked = cache.parked && cache.swap < limit;
}

unsafe extern "C" fn destroy(p: *mut ffi::sqlite3_pcache) {
    let cache = Box::from_raw(p as *mut Cache);
    (default().xDestroy.expect("a page cache is destroyed"))(cache.inner)
}

unsafe extern "C" fn shrink(p: *mut ffi::sqlite3_pcache) {
    (default().xShrink.expect("a page cache shrinks"))(ours(p).inner)
}
