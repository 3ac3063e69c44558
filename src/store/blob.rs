//! Large blobs on SQLite, streamed with SQLite's incremental blob I/O.
//!
//! A blob bound through sqlx is copied three times before it reaches a page:
//! into sqlx's argument (an owned Vec), by `sqlite3_bind_blob` (TRANSIENT) and
//! into the record SQLite assembles. For a mail with a 30 MiB attachment that
//! was ~130 MiB of peak memory. Instead, a big blob's row gets `zeroblob(n)`
//! and the bytes are written into it 1 MiB at a time, inside the same
//! transaction. SQLite only leaves a zeroblob unmaterialised when it is the
//! last column of its record, hence `raw_blobs` (migration 0004) for raw mail
//! and `attachments.data` as they are. PostgreSQL keeps ordinary binds.

use std::ffi::{CStr, c_int};

use libsqlite3_sys as ffi;
use sqlx::SqliteConnection;

use crate::error::{Error, Result};

/// Blobs at least this big are streamed (smaller ones are cheaper inline).
pub(crate) const BIG_BLOB: usize = 1024 * 1024;
const STEP: usize = 1024 * 1024;

/// A blob column of a row: where incremental I/O opens.
#[derive(Clone, Copy)]
pub(crate) struct BlobAt<'a> {
    pub table: &'a CStr,
    pub column: &'a CStr,
    pub rowid: i64,
}

impl BlobAt<'_> {
    fn describe(&self) -> String {
        format!(
            "{}.{} row {}",
            self.table.to_string_lossy(),
            self.column.to_string_lossy(),
            self.rowid
        )
    }
}

fn failure(db: *mut ffi::sqlite3, rc: c_int, what: &str, at: &BlobAt<'_>) -> Error {
    // SAFETY: db is the open connection the failing call ran on; errmsg
    // returns a NUL-terminated string owned by SQLite, copied out at once.
    let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }
        .to_string_lossy()
        .into_owned();
    let text = format!("SQLite {what} of {}: {msg} (code {rc})", at.describe());
    // Busy, locked, a full disk or an I/O error pass; anything else fails the
    // batch (and isolates it).
    if matches!(
        rc & 0xff,
        ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED | ffi::SQLITE_FULL | ffi::SQLITE_IOERR
    ) {
        Error::DatabaseUnavailable(text)
    } else {
        Error::Invalid(text)
    }
}

/// Opens the blob at `at` on `db` for reading or writing, runs `f`, closes it.
fn with_blob<T>(
    db: *mut ffi::sqlite3,
    at: &BlobAt<'_>,
    write: bool,
    f: impl FnOnce(*mut ffi::sqlite3_blob) -> std::result::Result<T, (c_int, &'static str)>,
) -> Result<T> {
    let mut blob: *mut ffi::sqlite3_blob = std::ptr::null_mut();
    // SAFETY: db is a valid connection locked for this thread (lock_handle);
    // the names are NUL-terminated; blob receives the handle or stays null.
    let rc = unsafe {
        ffi::sqlite3_blob_open(
            db,
            c"main".as_ptr(),
            at.table.as_ptr(),
            at.column.as_ptr(),
            at.rowid,
            c_int::from(write),
            &mut blob,
        )
    };
    if rc != ffi::SQLITE_OK {
        let err = failure(db, rc, "blob open", at);
        if !blob.is_null() {
            // SAFETY: a handle returned alongside an error must still be closed.
            unsafe { ffi::sqlite3_blob_close(blob) };
        }
        return Err(err);
    }
    let result = f(blob);
    // SAFETY: blob is the open handle from above, closed exactly once.
    let rc_close = unsafe { ffi::sqlite3_blob_close(blob) };
    match result {
        Err((rc, what)) => Err(failure(db, rc, what, at)),
        Ok(_) if rc_close != ffi::SQLITE_OK => Err(failure(db, rc_close, "blob close", at)),
        Ok(v) => Ok(v),
    }
}

/// Writes `data` into the zero-filled blob at `at` (the row was written with
/// `zeroblob(data.len())` in the current transaction).
pub(crate) async fn write(c: &mut SqliteConnection, at: BlobAt<'_>, data: &[u8]) -> Result<()> {
    let mut handle = c.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    with_blob(db, &at, true, |blob| {
        for (i, part) in data.chunks(STEP).enumerate() {
            // SAFETY: blob is open for writing and at least data.len() long;
            // part points to part.len() readable bytes; the offset fits
            // (messages are capped far below 2 GiB by max_message_size).
            let rc = unsafe {
                ffi::sqlite3_blob_write(
                    blob,
                    part.as_ptr().cast(),
                    part.len() as c_int,
                    (i * STEP) as c_int,
                )
            };
            if rc != ffi::SQLITE_OK {
                return Err((rc, "blob write"));
            }
        }
        Ok(())
    })
}

/// Stores `data` as a new `raw_blobs` row (zeroblob, then streamed in) and
/// returns its id, for `messages.raw_blob`.
pub(crate) async fn insert_streamed(c: &mut SqliteConnection, data: &[u8]) -> Result<i64> {
    let done = sqlx::query("INSERT INTO raw_blobs (data) VALUES (zeroblob($1))")
        .bind(data.len() as i64)
        .execute(&mut *c)
        .await?;
    let id = done.last_insert_rowid();
    let at = BlobAt {
        table: c"raw_blobs",
        column: c"data",
        rowid: id,
    };
    write(c, at, data).await?;
    Ok(id)
}

/// Reads the whole blob at `at` into one buffer (no intermediate copies).
pub(crate) async fn read(c: &mut SqliteConnection, at: BlobAt<'_>) -> Result<Vec<u8>> {
    let mut handle = c.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    with_blob(db, &at, false, |blob| {
        // SAFETY: blob is an open handle.
        let len = usize::try_from(unsafe { ffi::sqlite3_blob_bytes(blob) }).unwrap_or(0);
        let mut out = vec![0u8; len];
        for (i, part) in out.chunks_mut(STEP).enumerate() {
            // SAFETY: part is writable for part.len() bytes, inside the blob's length.
            let rc = unsafe {
                ffi::sqlite3_blob_read(
                    blob,
                    part.as_mut_ptr().cast(),
                    part.len() as c_int,
                    (i * STEP) as c_int,
                )
            };
            if rc != ffi::SQLITE_OK {
                return Err((rc, "blob read"));
            }
        }
        Ok(out)
    })
}
