//! A directory listed now and then into a caller's buffer, to tell whether
//! what it holds changed since the last time, without allocating: the
//! sensor sources list their sysfs directories this way and rebuild their
//! file lists (allocating) only when a listing differs.
//!
//! Invariant: [`Listing::append`] and [`Lister::append`] allocate nothing
//! once `out` has grown to the listing's size (getdents64 into a kept
//! [`DirCounter`] buffer). A directory that cannot be opened or read
//! appends no names; it is opened again on the next call. A [`Listing`]
//! keeps its directory open; a [`Lister`] lists many through one buffer.

use std::ffi::{CStr, CString};
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

/// Lists many directories one after another through one kept buffer, for
/// readers with a directory per device (hwmon chips, power supplies): one
/// 8 KiB buffer and at most one descriptor (the last directory listed)
/// however many directories, where a [`Listing`] each would hold one of
/// both per directory.
#[derive(Default)]
pub struct Lister {
    dir: Option<DirCounter>,
}

impl Lister {
    /// [`Listing::append`] for the directory at `path`.
    pub fn append(&mut self, path: &CStr, out: &mut Vec<u8>, keep: impl Fn(&[u8]) -> bool) -> bool {
        let opened = match &mut self.dir {
            // On an error `reopen` keeps the old directory: not listed.
            Some(dir) => dir.reopen(path).is_ok(),
            None => {
                self.dir = DirCounter::open(path).ok();
                self.dir.is_some()
            }
        };
        let listed = opened
            && self.dir.as_mut().is_some_and(|dir| {
                dir.for_each_name(|name| {
                    if keep(name) {
                        out.extend_from_slice(name);
                        out.push(0);
                    }
                })
                .is_ok()
            });
        out.push(b'/');
        listed
    }
}

/// `path` as a C string for [`Lister::append`] (one with a NUL byte cannot
/// exist: it becomes the empty path, which never opens).
pub fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap_or_default()
}

/// The listing a reader's lists were built from, and this scrape's: says
/// when they must be built again. Allocates only while a listing grows.
#[derive(Default)]
pub struct ListingChange {
    built_from: Vec<u8>,
    now: Vec<u8>,
    built: bool,
}

impl ListingChange {
    /// This scrape's listing, emptied: append the directories to it.
    pub fn start(&mut self) -> &mut Vec<u8> {
        self.now.clear();
        &mut self.now
    }

    /// This scrape's listing, to append more directories to.
    pub fn now(&mut self) -> &mut Vec<u8> {
        &mut self.now
    }

    /// Never built, or this scrape's listing differs from the one built from.
    pub fn stale(&self) -> bool {
        !self.built || self.now != self.built_from
    }

    /// The lists are now built from this scrape's listing.
    pub fn built(&mut self) {
        std::mem::swap(&mut self.built_from, &mut self.now);
        self.built = true;
    }
}
