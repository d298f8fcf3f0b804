//! A directory listed now and then into a caller's buffer, to tell whether
//! what it holds changed since the last time, without allocating: the
//! sensor sources list their sysfs directories this way and rebuild their
//! file lists (allocating) only when a listing differs.
//!
//! Invariant: [`Listing::append`] allocates nothing once `out` has grown to
//! the listing's size (getdents64 into the kept [`DirCounter`] buffer). A
//! directory that cannot be opened or read appends no names; it is opened
//! again on the next call.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::sys::DirCounter;

/// A directory listed now and then; `dir` is `None` while it cannot be opened.
pub struct Listing {
    path: CString,
    dir: Option<DirCounter>,
}

impl Listing {
    pub fn new(path: &Path) -> Listing {
        Listing {
            // A path with a NUL byte cannot exist: an empty one never opens.
            path: CString::new(path.as_os_str().as_bytes()).unwrap_or_default(),
            dir: None,
        }
    }

    /// Appends the names this directory holds, each followed by a NUL, to
    /// `out`, keeping those `keep` accepts, then a `/` (which no name
    /// holds) to end this directory's part. Nothing but the `/` if it
    /// cannot be read. True when it could.
    pub fn append(&mut self, out: &mut Vec<u8>, keep: impl Fn(&[u8]) -> bool) -> bool {
        if self.dir.is_none() {
            self.dir = DirCounter::open(&self.path).ok();
        }
        let Some(dir) = &mut self.dir else {
            out.push(b'/');
            return false;
        };
        let result = dir.for_each_name(|name| {
            if keep(name) {
                out.extend_from_slice(name);
                out.push(0);
            }
        });
        if result.is_err() {
            self.dir = None;
        }
        out.push(b'/');
        result.is_ok()
    }
}
