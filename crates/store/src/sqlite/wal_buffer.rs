//! A VFS over SQLite's default one that hands a commit's WAL frames to the kernel in a few
//! large writes instead of two per frame.
//!
//! SQLite writes a WAL frame as two `pwrite` calls — its 24-byte header, then the page — and a
//! consent batch commits some hundred frames (issue 17: 3.7 frames and 10.6 `pwrite` calls per
//! consent write, a sixth of the server's CPU in the kernel's write path; docs/benchmarks.md,
//! seventh sitting). A commit's frames are contiguous, so this layer gathers consecutive writes
//! to a WAL file in memory and writes them in pieces of up to 120 KiB, before anything that
//! could need them on the file: a read, a sync, a size, lock or file-control call, the close,
//! and `xShmBarrier` (SQLite's fence before it publishes a commit to other connections).
//!
//! What is durable when is unchanged *with `synchronous = FULL`*, which the consent writer
//! always sets: SQLite syncs the WAL before it publishes or answers a commit, and the sync
//! writes what is gathered first, answering its failure as the sync's. (Under `NORMAL` the
//! barrier would be the only flush, and it cannot answer an error: do not use this VFS there.)
//!
//! Only WAL files are gathered; the database file, journals and shared memory pass straight
//! through. Registered once per process under [`NAME`], never as the default; connections
//! through it and through the default VFS share one file's locks, as the default VFS's own do.

use std::ffi::{c_int, c_void, CStr};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The VFS's name, for `Connection::open_with_flags_and_vfs`.
pub(crate) const NAME: &str = "custodian-wal-gather";
const NAME_C: &CStr = c"custodian-wal-gather";

/// Gathered frames are written once they would pass this many bytes: the default (unix) VFS
/// writes less than 128 KiB per call (`seekAndWriteFd` masks the length with `0x1ffff`) and
/// answers a longer write as a full disk.
const GATHER_LIMIT: usize = 120 * 1024;

/// Our part of an open file; SQLite allocates `szOsFile` bytes for it, and the default VFS's
/// own file follows it in the same allocation.
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// Frames gathered and not yet written, starting at `start` (`None`: not a WAL file).
    gathered: Option<Vec<u8>>,
    start: i64,
}

struct Vfs(*mut ffi::sqlite3_vfs);
// SAFETY: a VFS object is immutable once registered and SQLite calls it from any thread.
unsafe impl Send for Vfs {}
unsafe impl Sync for Vfs {}

/// The default VFS this one wraps, once this one is registered.
static DEFAULT: OnceLock<Result<Vfs, c_int>> = OnceLock::new();

/// Registers the VFS (once per process); answers SQLite's error code when it cannot.
pub(crate) fn register() -> Result<(), c_int> {
    DEFAULT
        .get_or_init(|| unsafe {
            // Initialise the library first: `sqlite3_vfs_find` may be the first call into it.
            let rc = ffi::sqlite3_initialize();
            if rc != ffi::SQLITE_OK {
                return Err(rc);
            }
            let default = ffi::sqlite3_vfs_find(std::ptr::null());
            if default.is_null() {
                return Err(ffi::SQLITE_ERROR);
            }
            // The default VFS's functions read `pAppData` and `mxPathname` from whichever VFS
            // they are called with, so a copy with those kept forwards everything but `xOpen`.
            let mut vfs = *default;
            vfs.zName = NAME_C.as_ptr();
            vfs.pNext = std::ptr::null_mut();
            vfs.szOsFile = (inner_offset() + (*default).szOsFile as usize) as c_int;
            vfs.xOpen = Some(open);
            // Registered for the life of the process: SQLite keeps the pointer.
            let vfs = Box::into_raw(Box::new(vfs));
            let rc = ffi::sqlite3_vfs_register(vfs, 0);
            if rc != ffi::SQLITE_OK {
                drop(Box::from_raw(vfs));
                return Err(rc);
            }
            Ok(Vfs(default))
        })
        .as_ref()
        .map(|_| ())
        .map_err(|rc| *rc)
}

const fn inner_offset() -> usize {
    let size = std::mem::size_of::<File>();
    let align = 16;
    size.div_ceil(align) * align
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let Some(Ok(Vfs(default))) = DEFAULT.get() else {
        return ffi::SQLITE_MISUSE;
    };
    let default = *default;
    let ours = file as *mut File;
    let inner = (file as *mut u8).add(inner_offset()) as *mut ffi::sqlite3_file;
    (*inner).pMethods = std::ptr::null();
    let rc = ((*default).xOpen.expect("the default VFS opens files"))(
        default, name, inner, flags, out_flags,
    );
    if rc != ffi::SQLITE_OK || (*inner).pMethods.is_null() {
        // SQLite calls no method of a file whose `pMethods` is null.
        (*ours).base.pMethods = std::ptr::null();
        return rc;
    }
    let wal = flags & ffi::SQLITE_OPEN_WAL != 0;
    std::ptr::write(
        ours,
        File {
            base: ffi::sqlite3_file { pMethods: &METHODS },
            inner,
            gathered: wal.then(Vec::new),
            start: 0,
        },
    );
    ffi::SQLITE_OK
}

/// The default VFS's methods for this file.
unsafe fn inner(
    file: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    let inner = (*(file as *mut File)).inner;
    (inner, &*(*inner).pMethods)
}

/// Writes what is gathered, if anything.
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    let ours = &mut *(file as *mut File);
    let Some(buf) = ours.gathered.as_mut().filter(|b| !b.is_empty()) else {
        return ffi::SQLITE_OK;
    };
    let (inner, methods) = (ours.inner, &*(*ours.inner).pMethods);
    let rc = (methods.xWrite.expect("files write"))(
        inner,
        buf.as_ptr() as *const c_void,
        buf.len() as c_int,
        ours.start,
    );
    buf.clear();
    rc
}

/// Forwards `$call` to the default VFS's method `$m` after writing what is gathered.
macro_rules! forward {
    ($file:ident, $m:ident ( $($arg:expr),* ), $missing:expr) => {{
        let rc = flush($file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let (inner, methods) = inner($file);
        match methods.$m {
            Some(f) => f(inner $(, $arg)*),
            None => $missing,
        }
    }};
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let flushed = flush(file);
    let (inner, methods) = inner(file);
    let closed = (methods.xClose.expect("files close"))(inner);
    // SQLite frees the file's memory itself; what it owns goes here.
    (*(file as *mut File)).gathered = None;
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    forward!(file, xRead(buf, amount, offset), ffi::SQLITE_IOERR_READ)
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let ours = file as *mut File;
    let Some(len) = (*ours).gathered.as_ref().map(Vec::len) else {
        let (inner, methods) = inner(file);
        return (methods.xWrite.expect("files write"))(inner, buf, amount, offset);
    };
    let follows = len > 0 && offset == (*ours).start + len as i64;
    if !follows || len + amount as usize > GATHER_LIMIT {
        let rc = flush(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        (*ours).start = offset;
    }
    if let Some(gathered) = (*ours).gathered.as_mut() {
        gathered.extend_from_slice(std::slice::from_raw_parts(
            buf as *const u8,
            amount as usize,
        ));
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    forward!(file, xTruncate(size), ffi::SQLITE_IOERR_TRUNCATE)
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    forward!(file, xSync(flags), ffi::SQLITE_IOERR_FSYNC)
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    forward!(file, xFileSize(size), ffi::SQLITE_IOERR_FSTAT)
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xLock(level), ffi::SQLITE_IOERR_LOCK)
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xUnlock(level), ffi::SQLITE_IOERR_UNLOCK)
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    forward!(
        file,
        xCheckReservedLock(out),
        ffi::SQLITE_IOERR_CHECKRESERVEDLOCK
    )
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    forward!(file, xFileControl(op, arg), ffi::SQLITE_NOTFOUND)
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let (inner, methods) = inner(file);
    methods.xSectorSize.map_or(4096, |f| f(inner))
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let (inner, methods) = inner(file);
    methods.xDeviceCharacteristics.map_or(0, |f| f(inner))
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    forward!(
        file,
        xShmMap(page, size, extend, out),
        ffi::SQLITE_IOERR_SHMMAP
    )
}

unsafe extern "C" fn shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    forward!(file, xShmLock(offset, n, flags), ffi::SQLITE_IOERR_SHMLOCK)
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    // No error can be answered here; a failed write is answered by the sync that follows
    // every commit's frames, which writes again from the same place.
    let _ = flush(file);
    let (inner, methods) = inner(file);
    if let Some(f) = methods.xShmBarrier {
        f(inner)
    }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    forward!(file, xShmUnmap(delete), ffi::SQLITE_OK)
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    forward!(file, xFetch(offset, amount, out), {
        *out = std::ptr::null_mut();
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn unfetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    page: *mut c_void,
) -> c_int {
    forward!(file, xUnfetch(offset, page), ffi::SQLITE_OK)
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};
