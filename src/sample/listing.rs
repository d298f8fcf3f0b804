//! A directory listed now and then into a caller's buffer, to tell whether
//! what it holds changed since the last time, without allocating: the
//! sensor sources list their sysfs directories this way and rebuild their
//! file lists (allocating) only when a listing differs.
//!
//! Invariant: [`Listing::append`] and [`Lister::append`] allocate nothing
//! once `out` has grown to the listing's size (getdents64 into a kept
//! [`DirCounter`] buffer). A directory that cannot be opened or read
//! appends no names; it is opened again on the next call. A [`Listing`]
//! keeps its directory open; a [`Lister`] lists many through one buffer;
//! a [`ClassListing`] lists a sysfs class at every call and its devices'
//! directories only when something says they may have changed.

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
        self.append_entries(out, keep, false)
    }

    /// [`Listing::append`], each name followed by its NUL and then its
    /// inode number's 8 bytes: a name removed and made again between two
    /// listings (a sysfs device registered anew, with other files) makes
    /// a different listing. (Unambiguous: a name is never empty, so a
    /// record starts with a byte that is neither NUL nor `/`.)
    pub fn append_with_inodes(&mut self, out: &mut Vec<u8>, keep: impl Fn(&[u8]) -> bool) -> bool {
        self.append_entries(out, keep, true)
    }

    fn append_entries(
        &mut self,
        out: &mut Vec<u8>,
        keep: impl Fn(&[u8]) -> bool,
        with_inodes: bool,
    ) -> bool {
        if self.dir.is_none() {
            self.dir = DirCounter::open(&self.path).ok();
        }
        let Some(dir) = &mut self.dir else {
            out.push(b'/');
            return false;
        };
        let result = dir.for_each_entry(|inode, name| {
            if keep(name) {
                out.extend_from_slice(name);
                out.push(0);
                if with_inodes {
                    out.extend_from_slice(&inode.to_ne_bytes());
                }
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
        // The next listing, maybe many scrapes later, must not allocate:
        // room for one as long as this one now, while building may.
        self.now.clear();
        self.now.reserve(self.built_from.len());
        self.built = true;
    }
}

/// How often the devices' directories are listed when nothing said they
/// changed: the net under the rare change nothing else shows (a sensor
/// file added to a device that stays registered). The same bound as
/// netclass's re-reads (`IDENTITY_EVERY` in `metrics/netclass.rs`).
pub const DEVICES_LISTED_EVERY: u32 = 100;

/// What [`ClassListing::check`] found.
pub struct Check {
    /// The class directory could be read.
    pub readable: bool,
    /// The lists must be built again (then call [`ClassListing::built`]).
    pub stale: bool,
}

/// A sysfs class directory (`/sys/class/hwmon`) listed at every scrape,
/// and its devices' directories listed only when something says they may
/// have changed, for the readers that build lists of files from them.
///
/// Invariant: the devices' directories are listed again (and the lists
/// built again if a listing differs) when the class directory's listing
/// changed, names or inode numbers (a device added, removed or registered
/// anew: sysfs gives the new node another inode), after a kept file was
/// seen gone ([`ClassListing::device_gone`]: `ENODEV` or `ENOENT`), and at
/// least every [`DEVICES_LISTED_EVERY`] checks. In between a check is one
/// `lseek` and two `getdents64` on the kept-open class directory, where
/// listing every device's directory cost an `openat`, two `getdents64`
/// and a `close` each. No allocation once the listings have grown.
pub struct ClassListing {
    class: Listing,
    class_change: ListingChange,
    devices: Lister,
    devices_change: ListingChange,
    checks_since_devices_listed: u32,
    device_gone: bool,
}

impl ClassListing {
    pub fn new(class_dir: &Path) -> ClassListing {
        ClassListing {
            class: Listing::new(class_dir),
            class_change: ListingChange::default(),
            devices: Lister::default(),
            devices_change: ListingChange::default(),
            checks_since_devices_listed: 0,
            device_gone: false,
        }
    }

    /// Lists the class directory (the names `keep` accepts), and the
    /// devices' directories `device_dirs` when due (see the type's docs).
    pub fn check<'d>(
        &mut self,
        keep: impl Fn(&[u8]) -> bool,
        device_dirs: impl Iterator<Item = &'d CStr>,
    ) -> Check {
        let readable = self
            .class
            .append_with_inodes(self.class_change.start(), keep);
        self.checks_since_devices_listed += 1;
        let devices_due = self.class_change.stale()
            || self.device_gone
            || self.checks_since_devices_listed >= DEVICES_LISTED_EVERY;
        if devices_due {
            self.list_devices(device_dirs);
        }
        Check {
            readable,
            stale: self.class_change.stale() || (devices_due && self.devices_change.stale()),
        }
    }

    /// A kept file of some device read `ENODEV` or `ENOENT`: its
    /// directory is listed again at the next check.
    pub fn device_gone(&mut self) {
        self.device_gone = true;
    }

    /// The lists were built again now, from `device_dirs`: their listings
    /// (listed again: the new devices' are not in the check's) and the
    /// class directory's of the check before (listed before the build, so
    /// that a change during it makes the next check differ) are the ones
    /// built from.
    pub fn built<'d>(&mut self, device_dirs: impl Iterator<Item = &'d CStr>) {
        self.list_devices(device_dirs);
        self.class_change.built();
        self.devices_change.built();
    }

    fn list_devices<'d>(&mut self, device_dirs: impl Iterator<Item = &'d CStr>) {
        let out = self.devices_change.start();
        for dir in device_dirs {
            self.devices.append(dir, out, |_| true);
        }
        self.checks_since_devices_listed = 0;
        self.device_gone = false;
    }
}
