//! The resumable directory walk over the backup sources.
//!
//! [`Walker::step`] does a bounded amount of work (one entry, or one
//! `getdents64` buffer of one directory) and returns; the walk is iterative
//! (an explicit stack of directories, never recursion). Each directory's
//! names are sorted, so the archive order is deterministic.
//!
//! What it promises: symlinks are reported, never followed (so loops are
//! harmless); excluded entries, the backup directory itself, directories
//! tagged with a valid `CACHEDIR.TAG` and, with `one_file_system`, the
//! contents of other filesystems are left out; sockets, FIFOs and devices
//! are reported as skipped. Archive names are `TOP/relative/path` with the
//! source's unique top-level name, built from raw bytes; an entry whose
//! name would be longer than a zip holds (65,535 bytes) is reported as
//! skipped, a directory's contents with it.
//!
//! Nothing outside the sources is ever read, even while their owners
//! rename and swap entries during the walk (sysmon may read what they
//! cannot, with CAP_DAC_READ_SEARCH): a path is resolved once, when a
//! source is opened. From there every directory on the stack stays open
//! and every entry is reached relative to its parent's descriptor, one
//! component at a time, with `O_NOFOLLOW`; a directory is entered only if
//! the descriptor opened is the (st_dev, st_ino) its `lstat` saw. When the
//! walk comes back to a directory it checks that the directory is still
//! the entry of its parent it was when entered. An entry whose type is no
//! longer the one the listing gave, a directory replaced between `lstat`
//! and open, and a directory moved or replaced while the walk was below
//! it are skipped and reported as "replaced while backing up" (the rest
//! of a moved directory is not archived). Holding a descriptor per level
//! bounds the depth: directories more than [`MAX_DEPTH`] levels below a
//! source are reported as skipped, never entered.
//!
//! System calls, since a tree of small files costs little else: entries
//! are looked up relative to their open directory. Their type comes from
//! the listing (`d_type`), so an entry is `lstat`ed only when its stat is
//! needed: directories (device and inode for the rules, mode and mtime
//! for the archive), symlinks, entries of unknown type, and regular files
//! when the walker is made with [`FileStats::Lstat`]. The archive pass
//! does without: it takes a file's stat from `fstat` on the descriptor
//! [`Walker::open_file`] gives it, which it needs anyway, and which is
//! opened `O_NOATIME` where permitted. A directory costs, besides its
//! listing, an `lstat`, an open, an `fstat` and a close, and one more
//! `lstat` (the check above) when the walk leaves it.

use crate::owned::{owned, text_of};
use std::ffi::{CString, OsStr};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::pathglob::{Candidate, Excludes};
use crate::sys::{self, At, FileStat};

/// The listing buffer: one `getdents64` per step fills it (about a
/// thousand short names), where libc's `readdir` asks for 2 KiB at a time.
const DIRENT_BUF: usize = 32 * 1024;
const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";
const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY;
/// How many directory levels below a source are walked: one descriptor is
/// held per level. Far beyond real trees (and below the default limit of
/// 1024 open files); deeper directories are reported, not entered.
pub const MAX_DEPTH: usize = 256;
/// O_NONBLOCK: if a name became a FIFO since it was listed, do not hang on it.
const FILE_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;

/// One configured source and its folder name at the top of the archive.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub top: Vec<u8>,
}

/// Gives each source a top-level name: its last path component, with
/// `_2`, `_3`... added when two sources share one.
pub fn name_sources(paths: &[PathBuf]) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::with_capacity(paths.len());
    for path in paths {
        let base = path
            .file_name()
            .map_or_else(|| b"root".to_vec(), |n| n.as_bytes().to_vec());
        let mut top = base.clone();
        let mut n = 2;
        while out.iter().any(|s| s.top == top) {
            top = base.clone();
            top.extend_from_slice(format!("_{n}").as_bytes());
            n += 1;
        }
        out.push(Source {
            path: path.clone(),
            top,
        });
    }
    out
}

#[derive(Clone, Debug)]
pub struct Rules {
    pub excludes: Excludes,
    /// (device, inode) of the backup directory: never walked into.
    pub backup_dir_id: Option<(u64, u64)>,
    pub one_file_system: bool,
}

/// Whether the walk `lstat`s regular files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStats {
    /// Every file: [`Kind::File`] carries its stat (the pre-scan sums sizes).
    Lstat,
    /// None: [`Kind::File`] carries `None`, unless the type was unknown
    /// from the listing or the file is a source itself.
    Skip,
}

/// What an entry is, with the `lstat` the archive needs of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir(FileStat),
    File(Option<FileStat>),
    Symlink(FileStat),
}

#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    /// The archive name; directories end with `/`.
    pub name: Vec<u8>,
    pub kind: Kind,
    /// The name in its directory, for the descriptor-relative calls.
    leaf: CString,
    /// (stack index, serial) of the directory it was listed in; `None` for
    /// a source itself, which is opened by path.
    listed_in: Option<(usize, u64)>,
}

#[derive(Debug)]
pub enum Step {
    /// Source number `n` begins.
    Source(usize),
    Entry(Found),
    Skipped {
        path: PathBuf,
        reason: SkipReason,
    },
    /// Work was done but there is nothing to report.
    Busy,
    Done,
}

/// Counts of what the rules left out (not failures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeftOut {
    pub excluded: u64,
    pub cache_dirs: u64,
    pub other_filesystems: u64,
}

/// A name as listed, with the type the listing gave (a `DT_*` value).
#[derive(Debug, Default)]
struct Listed {
    name: CString,
    d_type: u8,
}

struct Frame {
    dir: PathBuf,
    /// The open directory, held while the frame is on the stack: the walk
    /// never reaches it by path again.
    fd: OwnedFd,
    /// (st_dev, st_ino) of `fd`, to tell whether the name in the parent
    /// still leads here when the walk comes back (see the module docs).
    id: (u64, u64),
    /// The name in the parent directory; empty for a source.
    leaf: CString,
    /// Tells this frame from a later one at the same depth.
    serial: u64,
    /// Archive name of this directory, ending with `/`.
    name: Vec<u8>,
    /// Path below the source root, ending with `/` (empty at the root).
    relative: Vec<u8>,
    listed: bool,
    names: Vec<Listed>,
    next: usize,
}

pub struct Walker {
    sources: Vec<Source>,
    /// The source to start next; `root_pending` says whether its root is still to be visited.
    next_source: usize,
    root_pending: bool,
    root_dev: u64,
    stack: Vec<Frame>,
    frames_made: u64,
    rules: Rules,
    file_stats: FileStats,
    /// Whether files are still opened with `O_NOATIME`, so that reading
    /// them does not dirty every inode with a new access time (`relatime`
    /// writes one a day). The kernel allows it to a file's owner and to
    /// CAP_FOWNER only: the first EPERM turns it off for this walk.
    noatime: bool,
    /// `getdents64` output; `DIRENT_BUF` bytes, allocated once.
    dirents: Vec<u8>,
    /// The directory on top was returned to by leaving a moved one: it is
    /// still to be checked like any directory the walk comes back to.
    recheck: bool,
    pub left_out: LeftOut,
}

/// What kind of skip an entry's is: what the counters count (the text
/// listed may say more, and is never compared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipKind {
    /// sysmon may not read it (`EACCES`, `EPERM`): a file, or a directory
    /// it may not list. The archive is then incomplete (`partial`).
    Permission,
    /// Gone between the listing and its reading.
    Vanished,
    /// Replaced, moved, grown, shrunk or modified under the backup (what
    /// was archived is as first seen or as read).
    Changed,
    /// A socket, FIFO or device node: never archived.
    Special,
    /// Archived in part or not at all for what it is: too deep, a time a
    /// zip cannot hold, a name too long.
    Unstorable,
    /// The machine ran out of what the walk needs (descriptors, memory:
    /// `EMFILE`, `ENFILE`, `ENOMEM`): no fault of the entry, and the run
    /// fails rather than finish an archive without it (`Job::step`).
    NoResources,
    /// Any other failed read, listing or stat.
    Error,
}

/// Why an entry was skipped (or archived with a caveat): its kind and the
/// text listed for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkipReason {
    pub kind: SkipKind,
    pub text: String,
}

impl SkipReason {
    pub fn new(kind: SkipKind, text: impl Into<String>) -> SkipReason {
        SkipReason {
            kind,
            text: text.into(),
        }
    }

    /// A failed file operation: `context` then [`reason`], of the kind
    /// the error is ([`SkipKind::Permission`] for `EACCES`/`EPERM`).
    pub fn io(context: &str, e: &io::Error) -> SkipReason {
        let kind = match (e.kind(), e.raw_os_error()) {
            (io::ErrorKind::PermissionDenied, _) => SkipKind::Permission,
            (io::ErrorKind::NotFound, _) => SkipKind::Vanished,
            (_, Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM)) => SkipKind::NoResources,
            _ => SkipKind::Error,
        };
        SkipReason::new(kind, format!("{context}{}", reason(e)))
    }

    /// An entry that changed under the walk: [`REPLACED`] and `how`.
    fn replaced(how: &str) -> SkipReason {
        SkipReason::new(SkipKind::Changed, format!("{REPLACED} ({how})"))
    }

    /// A type the archive does not hold (`file_type` is `S_IFMT` bits).
    fn special(file_type: u32) -> SkipReason {
        let text = format!("{} not archived", special_kind(file_type));
        SkipReason::new(SkipKind::Special, text)
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A short reason for a failed file operation, for the skipped list.
pub fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => owned("vanished"),
        io::ErrorKind::PermissionDenied => owned("permission denied"),
        _ => text_of(e),
    }
}

/// What to call a type that is not archived (`file_type` is `S_IFMT` bits).
fn special_kind(file_type: u32) -> &'static str {
    match file_type {
        libc::S_IFIFO => "FIFO",
        libc::S_IFSOCK => "socket",
        libc::S_IFBLK | libc::S_IFCHR => "device node",
        _ => "unknown file type",
    }
}

/// What to call a type in a report (`file_type` is `S_IFMT` bits).
fn type_name(file_type: u32) -> &'static str {
    match file_type {
        libc::S_IFDIR => "directory",
        libc::S_IFREG => "file",
        libc::S_IFLNK => "symlink",
        other => special_kind(other),
    }
}

/// The `S_IFMT` bits a `d_type` stands for; 0 for `DT_UNKNOWN`.
fn type_of_dirent(d_type: u8) -> u32 {
    match d_type {
        libc::DT_DIR => libc::S_IFDIR,
        libc::DT_REG => libc::S_IFREG,
        libc::DT_LNK => libc::S_IFLNK,
        libc::DT_FIFO => libc::S_IFIFO,
        libc::DT_SOCK => libc::S_IFSOCK,
        libc::DT_CHR => libc::S_IFCHR,
        libc::DT_BLK => libc::S_IFBLK,
        _ => 0,
    }
}

/// The reason given for an entry whose name in the archive (its path below
/// the source's top folder) is longer than a zip's 16-bit name length.
pub const NAME_TOO_LONG: &str = "name longer than 65,535 bytes in the archive: not archived";

/// The reason given for an entry that changed under the walk.
pub const REPLACED: &str = "replaced while backing up";

/// Whether `at` is a `CACHEDIR.TAG` that starts with the standard signature.
/// A symlink named so does not count: following it would let a user learn
/// whether a file they cannot read starts with the signature.
fn has_cachedir_tag(at: At<'_>) -> bool {
    let Ok(fd) = sys::open_at(at, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOFOLLOW) else {
        return false;
    };
    let mut file = File::from(fd);
    let mut head = [0u8; CACHEDIR_SIGNATURE.len()];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got == head.len() && head == CACHEDIR_SIGNATURE
}

/// Opens the directory `at` without following a symlink and checks that
/// it is the one `expected` (its `lstat`) describes.
fn open_dir_checked(at: At<'_>, expected: &FileStat) -> Result<OwnedFd, SkipReason> {
    let fd =
        sys::open_at(at, DIR_FLAGS | libc::O_NOFOLLOW).map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP | libc::ENOTDIR) => SkipReason::replaced("no longer a directory"),
            _ => SkipReason::io("cannot list directory: ", &e),
        })?;
    let opened =
        sys::fstat(fd.as_fd()).map_err(|e| SkipReason::io("cannot list directory: ", &e))?;
    if (opened.dev, opened.ino) != (expected.dev, expected.ino) {
        return Err(SkipReason::replaced("another directory"));
    }
    Ok(fd)
}

impl Walker {
    pub fn new(sources: Vec<Source>, rules: Rules, file_stats: FileStats) -> Walker {
        Walker {
            sources,
            next_source: 0,
            root_pending: true,
            root_dev: 0,
            stack: Vec::new(),
            frames_made: 0,
            rules,
            file_stats,
            noatime: true,
            dirents: vec![0; DIRENT_BUF],
            recheck: false,
            left_out: LeftOut::default(),
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn source(&self, n: usize) -> Option<&Source> {
        self.sources.get(n)
    }

    fn is_backup_dir(&self, stat: &FileStat) -> bool {
        self.rules.backup_dir_id == Some((stat.dev, stat.ino))
    }

    /// Where `found` is for the `*at` calls: in its directory, which is
    /// open while it is on the stack. A source that is a file is named by
    /// its path (the user's); any other entry whose directory the walk has
    /// left is gone for good (ENOENT), never looked up by path.
    fn at<'a>(&'a self, found: &'a Found) -> io::Result<At<'a>> {
        let Some((index, serial)) = found.listed_in else {
            return Ok(At::Path(&found.path));
        };
        self.stack
            .get(index)
            .filter(|frame| frame.serial == serial)
            .map(|frame| At::Entry(frame.fd.as_fd(), &found.leaf))
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    /// Opens a [`Kind::File`] entry for reading, without following a
    /// symlink that replaced it (ELOOP) or blocking on a FIFO that did.
    /// Called right after the step that returned it, while its directory
    /// is still on the stack.
    pub fn open_file(&mut self, found: &Found) -> io::Result<File> {
        if self.noatime {
            match sys::open_at(self.at(found)?, FILE_FLAGS | libc::O_NOATIME) {
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => self.noatime = false,
                other => return other.map(File::from),
            }
        }
        sys::open_at(self.at(found)?, FILE_FLAGS).map(File::from)
    }

    /// The target of a [`Kind::Symlink`] entry, raw bytes, into `target`.
    pub fn read_link(&self, found: &Found, target: &mut Vec<u8>) -> io::Result<()> {
        sys::read_link_at(self.at(found)?, target)
    }

    fn push(
        &mut self,
        dir: PathBuf,
        fd: OwnedFd,
        stat: &FileStat,
        leaf: CString,
        name: Vec<u8>,
        relative: Vec<u8>,
    ) {
        self.frames_made += 1;
        self.stack.push(Frame {
            dir,
            fd,
            id: (stat.dev, stat.ino),
            leaf,
            serial: self.frames_made,
            name,
            relative,
            listed: false,
            names: Vec::new(),
            next: 0,
        });
    }

    /// Leaves the directory on top of the stack, then checks the one it
    /// comes back to ([`Walker::check_top`]).
    fn pop(&mut self) -> Step {
        self.stack.pop();
        self.check_top()
    }

    /// Checks that the directory on top is still where it was entered
    /// from (its name in its parent leads to it); if not, it is left too,
    /// reported, and the one below is checked at the next step.
    fn check_top(&mut self) -> Step {
        let n = self.stack.len();
        if n < 2 {
            // A source: named by the user, its descriptor is all we use.
            return Step::Busy;
        }
        let (parent, grandparent) = (&self.stack[n - 1], &self.stack[n - 2]);
        let now = sys::lstat_at(At::Entry(grandparent.fd.as_fd(), &parent.leaf));
        if now.is_ok_and(|s| s.is_dir() && (s.dev, s.ino) == parent.id) {
            return Step::Busy;
        }
        let path = parent.dir.clone();
        self.stack.pop();
        self.recheck = true;
        Step::Skipped {
            path,
            reason: SkipReason::replaced(
                "moved or swapped while the walk was inside it; the rest of it is not archived",
            ),
        }
    }

    pub fn step(&mut self) -> Step {
        if self.stack.is_empty() {
            return self.step_root();
        }
        if std::mem::take(&mut self.recheck) {
            return self.check_top();
        }
        let top = self.stack.len() - 1;
        if !self.stack[top].listed {
            return self.list_some(top);
        }
        let frame = &mut self.stack[top];
        if frame.next >= frame.names.len() {
            return self.pop();
        }
        let Listed { name: leaf, d_type } = std::mem::take(&mut frame.names[frame.next]);
        frame.next += 1;
        let frame = &self.stack[top];
        let name_bytes = leaf.to_bytes();
        let path = frame.dir.join(OsStr::from_bytes(name_bytes));
        let at = At::Entry(frame.fd.as_fd(), &leaf);
        let stat_needed = match d_type {
            libc::DT_REG => self.file_stats == FileStats::Lstat,
            libc::DT_FIFO | libc::DT_SOCK | libc::DT_CHR | libc::DT_BLK => false,
            _ => true,
        };
        let stat = if stat_needed {
            match sys::lstat_at(at) {
                Ok(s) => Some(s),
                Err(e) => {
                    return Step::Skipped {
                        reason: SkipReason::io("", &e),
                        path,
                    };
                }
            }
        } else {
            None
        };
        let listed_type = type_of_dirent(d_type);
        let file_type = stat.map_or(listed_type, |s| s.file_type());
        if listed_type != 0 && file_type != listed_type {
            // Swapped since the listing, e.g. a directory for a symlink.
            let reason = SkipReason::replaced(&format!(
                "listed as a {}, now a {}",
                type_name(listed_type),
                type_name(file_type)
            ));
            return Step::Skipped { path, reason };
        }
        let mut relative = frame.relative.clone();
        relative.extend_from_slice(name_bytes);
        let is_dir = file_type == libc::S_IFDIR;
        let candidate = Candidate {
            name: name_bytes,
            absolute: path.as_os_str().as_bytes(),
            relative: &relative,
            is_dir,
        };
        if self.rules.excludes.excluded(&candidate) {
            self.left_out.excluded += 1;
            return Step::Busy;
        }
        let mut name = frame.name.clone();
        name.extend_from_slice(name_bytes);
        // A directory's name ends with the `/` added below.
        if name.len() + usize::from(is_dir) > super::zipwrite::MAX_NAME_BYTES {
            return Step::Skipped {
                path,
                reason: SkipReason::new(SkipKind::Unstorable, NAME_TOO_LONG),
            };
        }
        let listed_in = Some((top, frame.serial));
        // Directories and symlinks are always stat'ed (see `stat_needed`).
        let kind = match (file_type, stat) {
            (libc::S_IFDIR, Some(stat)) => {
                if self.is_backup_dir(&stat) {
                    return Step::Busy;
                }
                let descend = !(self.rules.one_file_system && stat.dev != self.root_dev);
                if descend && self.stack.len() > MAX_DEPTH {
                    let reason = SkipReason::new(
                        SkipKind::Unstorable,
                        format!("more than {MAX_DEPTH} levels deep: not archived"),
                    );
                    return Step::Skipped { path, reason };
                }
                // Opened once, for the tag and then for the listing.
                let dir_fd = match open_dir_checked(at, &stat) {
                    Ok(fd) => fd,
                    Err(reason) => return Step::Skipped { path, reason },
                };
                if has_cachedir_tag(At::Entry(dir_fd.as_fd(), c"CACHEDIR.TAG")) {
                    self.left_out.cache_dirs += 1;
                    return Step::Busy;
                }
                name.push(b'/');
                if descend {
                    relative.push(b'/');
                    let (dir, name) = (path.clone(), name.clone());
                    self.push(dir, dir_fd, &stat, leaf.clone(), name, relative);
                } else {
                    // The mount point itself is kept (empty), as tar does.
                    self.left_out.other_filesystems += 1;
                }
                Kind::Dir(stat)
            }
            (libc::S_IFREG, stat) => Kind::File(stat),
            (libc::S_IFLNK, Some(stat)) => Kind::Symlink(stat),
            _ => {
                let reason = SkipReason::special(file_type);
                return Step::Skipped { path, reason };
            }
        };
        Step::Entry(Found {
            path,
            name,
            kind,
            leaf,
            listed_in,
        })
    }

    fn step_root(&mut self) -> Step {
        let Some(source) = self.sources.get(self.next_source).cloned() else {
            return Step::Done;
        };
        if self.root_pending {
            self.root_pending = false;
            return Step::Source(self.next_source);
        }
        self.next_source += 1;
        self.root_pending = true;
        // The source itself is named by the user: follow it if it is a
        // symlink. This is the one path the walk resolves.
        let stat = match fs::metadata(&source.path) {
            Ok(m) => FileStat::from(&m),
            Err(e) => {
                return Step::Skipped {
                    path: source.path,
                    reason: SkipReason::io("", &e),
                };
            }
        };
        self.root_dev = stat.dev;
        let mut name = source.top.clone();
        let kind = if stat.is_dir() {
            if self.is_backup_dir(&stat) {
                return Step::Busy;
            }
            let opened = sys::open_at(At::Path(&source.path), DIR_FLAGS).and_then(|fd| {
                let now = sys::fstat(fd.as_fd())?;
                Ok((fd, now))
            });
            let fd = match opened {
                Ok((fd, now)) if (now.dev, now.ino) == (stat.dev, stat.ino) => fd,
                Ok(_) => {
                    let reason = SkipReason::replaced("another directory");
                    return Step::Skipped {
                        path: source.path,
                        reason,
                    };
                }
                Err(e) => {
                    let reason = SkipReason::io("cannot list directory: ", &e);
                    return Step::Skipped {
                        path: source.path,
                        reason,
                    };
                }
            };
            name.push(b'/');
            self.push(
                source.path.clone(),
                fd,
                &stat,
                CString::default(),
                name.clone(),
                Vec::new(),
            );
            Kind::Dir(stat)
        } else if stat.is_file() {
            Kind::File(Some(stat))
        } else {
            let reason = SkipReason::special(stat.file_type());
            return Step::Skipped {
                path: source.path,
                reason,
            };
        };
        Step::Entry(Found {
            path: source.path,
            name,
            kind,
            leaf: CString::default(),
            listed_in: None,
        })
    }

    /// Reads one buffer of names of the directory at `stack[top]`.
    fn list_some(&mut self, top: usize) -> Step {
        let Walker { stack, dirents, .. } = self;
        let frame = &mut stack[top];
        let names = &mut frame.names;
        let listed = sys::read_dir_batch(frame.fd.as_fd(), dirents, |name, d_type| {
            // A listed name never holds a NUL (the kernel ends it there).
            if let Ok(name) = CString::new(name) {
                names.push(Listed { name, d_type });
            }
        });
        // Byte order: the NUL a CString ends with sorts before any byte.
        match listed {
            Ok(true) => Step::Busy,
            Ok(false) => {
                frame.listed = true;
                crate::sort::sort_by(&mut frame.names, |a, b| a.name.cmp(&b.name));
                Step::Busy
            }
            Err(e) => {
                // The listing broke off: archive what was listed, report the rest.
                frame.listed = true;
                crate::sort::sort_by(&mut frame.names, |a, b| a.name.cmp(&b.name));
                Step::Skipped {
                    path: frame.dir.clone(),
                    reason: SkipReason::io("listing incomplete: ", &e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_names_are_unique() {
        let paths = [
            PathBuf::from("/a/etc"),
            PathBuf::from("/b/etc/"),
            PathBuf::from("/"),
            PathBuf::from("/home"),
        ];
        let names: Vec<String> = name_sources(&paths)
            .iter()
            .map(|s| String::from_utf8(s.top.clone()).unwrap())
            .collect();
        assert_eq!(names, ["etc", "etc_2", "root", "home"]);
    }

    fn label(kind: &Kind) -> &'static str {
        match kind {
            Kind::Dir(_) => "Dir",
            Kind::File(_) => "File",
            Kind::Symlink(_) => "Symlink",
        }
    }

    #[test]
    fn walks_in_order_without_following_symlinks() {
        let dir = std::env::temp_dir().join(format!("sysmon-walk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src/b/deep")).unwrap();
        fs::create_dir_all(dir.join("src/cache")).unwrap();
        fs::write(
            dir.join("src/cache/CACHEDIR.TAG"),
            [CACHEDIR_SIGNATURE, b"\n"].concat(),
        )
        .unwrap();
        fs::write(dir.join("src/a.txt"), "a").unwrap();
        fs::write(dir.join("src/x.tmp"), "x").unwrap();
        // After b/: found in src/ once the walk is back in it.
        fs::write(dir.join("src/z.txt"), "zz").unwrap();
        std::os::unix::fs::symlink("..", dir.join("src/b/up")).unwrap();
        let rules = Rules {
            excludes: Excludes::new(&["*.tmp".into()]).unwrap(),
            backup_dir_id: None,
            one_file_system: false,
        };
        for file_stats in [FileStats::Lstat, FileStats::Skip] {
            let mut w = Walker::new(name_sources(&[dir.join("src")]), rules.clone(), file_stats);
            let mut seen = Vec::new();
            loop {
                match w.step() {
                    Step::Done => break,
                    Step::Entry(f) => {
                        // The stat, when there is one, is the entry's own lstat.
                        let stat = match f.kind {
                            Kind::Dir(s) | Kind::Symlink(s) | Kind::File(Some(s)) => Some(s),
                            Kind::File(None) => None,
                        };
                        let expected = FileStat::from(&fs::symlink_metadata(&f.path).unwrap());
                        assert_eq!(
                            stat.map(|s| (s.ino, s.mode)),
                            stat.map(|_| (expected.ino, expected.mode))
                        );
                        assert_eq!(
                            matches!(f.kind, Kind::File(None)),
                            file_stats == FileStats::Skip
                                && expected.is_file()
                                && !f.name.ends_with(b"src/"),
                        );
                        if let Kind::File(_) = f.kind {
                            let mut data = String::new();
                            w.open_file(&f).unwrap().read_to_string(&mut data).unwrap();
                            assert_eq!(data, fs::read_to_string(&f.path).unwrap());
                        }
                        if let Kind::Symlink(_) = f.kind {
                            let mut target = Vec::new();
                            w.read_link(&f, &mut target).unwrap();
                            assert_eq!(target, b"..");
                        }
                        seen.push(format!(
                            "{} {}",
                            label(&f.kind),
                            String::from_utf8_lossy(&f.name)
                        ))
                    }
                    Step::Skipped { path, reason } => panic!("{} {reason}", path.display()),
                    Step::Source(_) | Step::Busy => {}
                }
            }
            assert_eq!(
                seen,
                [
                    "Dir src/",
                    "File src/a.txt",
                    "Dir src/b/",
                    "Dir src/b/deep/",
                    "Symlink src/b/up",
                    "File src/z.txt"
                ],
                "{file_stats:?}"
            );
            assert_eq!(
                w.left_out,
                LeftOut {
                    excluded: 1,
                    cache_dirs: 1,
                    other_filesystems: 0
                }
            );
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn special_files_are_skipped_by_their_listed_type() {
        let dir = std::env::temp_dir().join(format!("sysmon-walk-special-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe");
        let c_fifo = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        let rules = Rules {
            excludes: Excludes::new(&[]).unwrap(),
            backup_dir_id: None,
            one_file_system: false,
        };
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success(),
            "{c_fifo:?}"
        );
        let mut w = Walker::new(
            name_sources(std::slice::from_ref(&dir)),
            rules,
            FileStats::Skip,
        );
        let mut skipped = Vec::new();
        loop {
            match w.step() {
                Step::Done => break,
                Step::Skipped { path, reason } => skipped.push((path, reason.text)),
                _ => {}
            }
        }
        assert_eq!(skipped, [(fifo, "FIFO not archived".to_string())]);
        fs::remove_dir_all(&dir).unwrap();
    }

    fn no_rules() -> Rules {
        Rules {
            excludes: Excludes::new(&[]).unwrap(),
            backup_dir_id: None,
            one_file_system: false,
        }
    }

    /// (archive name, contents) of the files read; (path, reason) skipped.
    type Walked = (Vec<(String, String)>, Vec<(PathBuf, String)>);

    /// Walks to the end, reading every file through the walker; returns
    /// (archive name, contents) of the files and the skipped paths.
    fn walk_reading(w: &mut Walker, mut on_entry: impl FnMut(&Found)) -> Walked {
        let (mut files, mut skipped) = (Vec::new(), Vec::new());
        loop {
            match w.step() {
                Step::Done => break,
                Step::Entry(f) => {
                    if let Kind::File(_) = f.kind {
                        let mut data = String::new();
                        if w.open_file(&f)
                            .and_then(|mut file| file.read_to_string(&mut data))
                            .is_ok()
                        {
                            files.push((String::from_utf8_lossy(&f.name).into_owned(), data));
                        }
                    }
                    on_entry(&f);
                }
                Step::Skipped { path, reason } => skipped.push((path, reason.text)),
                Step::Source(_) | Step::Busy => {}
            }
        }
        (files, skipped)
    }

    /// Issue 11: the owner of `src/u` swaps `u/d` for a symlink to a
    /// directory outside the source while the walk is below it, in
    /// `u/d/sub`. Coming back, the walk must not read `d/zz_secret.txt` from
    /// the symlink's target, and must report the swap.
    #[test]
    fn a_directory_swapped_for_a_symlink_below_the_walk_is_not_followed() {
        let dir = std::env::temp_dir().join(format!("sysmon-walk-swap-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src/u/d/sub")).unwrap();
        fs::create_dir_all(dir.join("outside")).unwrap();
        fs::write(dir.join("src/u/d/sub/big.bin"), "big").unwrap();
        fs::write(dir.join("src/u/d/zz_secret.txt"), "placeholder").unwrap();
        fs::write(dir.join("src/u/z.txt"), "z").unwrap();
        fs::write(dir.join("outside/zz_secret.txt"), "SECRET").unwrap();
        let mut w = Walker::new(
            name_sources(&[dir.join("src")]),
            no_rules(),
            FileStats::Skip,
        );
        let mut swapped = false;
        let (files, skipped) = walk_reading(&mut w, |f| {
            if f.name.ends_with(b"sub/big.bin") {
                fs::rename(dir.join("src/u/d"), dir.join("src/u/d.moved")).unwrap();
                std::os::unix::fs::symlink(dir.join("outside"), dir.join("src/u/d")).unwrap();
                swapped = true;
            }
        });
        assert!(swapped);
        assert!(files.iter().all(|(_, data)| data != "SECRET"), "{files:?}");
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["src/u/d/sub/big.bin", "src/u/z.txt"]);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].0, dir.join("src/u/d"));
        assert!(skipped[0].1.starts_with(REPLACED), "{skipped:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A directory swapped for a symlink after its parent was listed and
    /// before the walk reaches it is reported, and not followed.
    #[test]
    fn an_entry_swapped_after_the_listing_is_reported() {
        let dir = std::env::temp_dir().join(format!("sysmon-walk-swap2-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src/b")).unwrap();
        fs::create_dir_all(dir.join("outside")).unwrap();
        fs::write(dir.join("src/a.txt"), "a").unwrap();
        fs::write(dir.join("src/b/secret.txt"), "placeholder").unwrap();
        fs::write(dir.join("outside/secret.txt"), "SECRET").unwrap();
        for file_stats in [FileStats::Lstat, FileStats::Skip] {
            let _ = fs::remove_file(dir.join("src/b"));
            let _ = fs::rename(dir.join("src/b.moved"), dir.join("src/b"));
            let mut w = Walker::new(name_sources(&[dir.join("src")]), no_rules(), file_stats);
            let (files, skipped) = walk_reading(&mut w, |f| {
                if f.name.ends_with(b"a.txt") {
                    fs::rename(dir.join("src/b"), dir.join("src/b.moved")).unwrap();
                    std::os::unix::fs::symlink(dir.join("outside"), dir.join("src/b")).unwrap();
                }
            });
            assert_eq!(files, [("src/a.txt".to_string(), "a".to_string())]);
            assert_eq!(
                skipped,
                [(
                    dir.join("src/b"),
                    format!("{REPLACED} (listed as a directory, now a symlink)")
                )],
                "{file_stats:?}"
            );
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    /// One descriptor is held per level, so the depth is bounded: deeper
    /// directories are reported with their path, never entered.
    #[test]
    fn directories_beyond_the_depth_limit_are_reported() {
        let dir = std::env::temp_dir().join(format!("sysmon-walk-deep-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut deepest = dir.join("src");
        for _ in 0..MAX_DEPTH + 2 {
            deepest.push("d");
        }
        fs::create_dir_all(&deepest).unwrap();
        let mut w = Walker::new(
            name_sources(&[dir.join("src")]),
            no_rules(),
            FileStats::Skip,
        );
        let (mut dirs, mut skipped) = (0, Vec::new());
        loop {
            match w.step() {
                Step::Done => break,
                Step::Entry(f) => dirs += usize::from(matches!(f.kind, Kind::Dir(_))),
                Step::Skipped { path, reason } => skipped.push((path, reason.text)),
                _ => {}
            }
            assert!(w.stack.len() <= MAX_DEPTH + 1);
        }
        // The source and MAX_DEPTH levels below it.
        assert_eq!(dirs, MAX_DEPTH + 1);
        let mut expected = dir.join("src");
        for _ in 0..=MAX_DEPTH {
            expected.push("d");
        }
        assert_eq!(
            skipped,
            [(
                expected,
                format!("more than {MAX_DEPTH} levels deep: not archived")
            )]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Two levels moved at once while the walk is below both: each is
    /// reported as the walk comes back through it, and the walk goes on in
    /// the source with nothing read from outside.
    #[test]
    fn every_moved_level_is_reported_on_the_way_back() {
        let dir = std::env::temp_dir().join(format!("sysmon-walk-swap3-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src/a/b/c")).unwrap();
        fs::create_dir_all(dir.join("outside")).unwrap();
        fs::write(dir.join("src/a/b/c/file"), "f").unwrap();
        fs::write(dir.join("src/a/b/zz"), "placeholder").unwrap();
        fs::write(dir.join("src/a/zz"), "placeholder").unwrap();
        fs::write(dir.join("src/z"), "z").unwrap();
        fs::write(dir.join("outside/zz"), "SECRET").unwrap();
        let mut w = Walker::new(
            name_sources(&[dir.join("src")]),
            no_rules(),
            FileStats::Skip,
        );
        let (files, skipped) = walk_reading(&mut w, |f| {
            if f.name.ends_with(b"c/file") {
                fs::rename(dir.join("src/a/b"), dir.join("src/a/b.moved")).unwrap();
                std::os::unix::fs::symlink(dir.join("outside"), dir.join("src/a/b")).unwrap();
                fs::rename(dir.join("src/a"), dir.join("src/a.moved")).unwrap();
                std::os::unix::fs::symlink(dir.join("outside"), dir.join("src/a")).unwrap();
            }
        });
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["src/a/b/c/file", "src/z"]);
        let paths: Vec<PathBuf> = skipped.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(paths, [dir.join("src/a/b"), dir.join("src/a")]);
        assert!(skipped.iter().all(|(_, r)| r.starts_with(REPLACED)));
        fs::remove_dir_all(&dir).unwrap();
    }
}
