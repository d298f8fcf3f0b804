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
//! source's unique top-level name, built from raw bytes.
//!
//! System calls, since a tree of small files costs little else: the
//! directory being visited is held open, and it is the only one held
//! between steps (a parent is closed when the walk enters a child and
//! reopened by path when it comes back, so depth costs no descriptors).
//! Entries are looked up relative to it, one path component each. Their
//! type comes from the listing (`d_type`), so an entry is `lstat`ed only
//! when its stat is needed: directories (device and inode for the rules,
//! mode and mtime for the archive), symlinks, entries of unknown type, and
//! regular files when the walker is made with [`FileStats::Lstat`]. The
//! archive pass does without: it takes a file's stat from `fstat` on the
//! descriptor [`Walker::open_file`] gives it, which it needs anyway, and
//! which is opened `O_NOATIME` where permitted.

use std::ffi::{CString, OsStr};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::exclude::{Candidate, Excludes};
use crate::sys::{self, At, FileStat};

/// The listing buffer: one `getdents64` per step fills it (about a
/// thousand short names), where libc's `readdir` asks for 2 KiB at a time.
const DIRENT_BUF: usize = 32 * 1024;
const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";
const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY;
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
        reason: String,
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
    /// The open directory. Held while this frame is on top, `None` while a
    /// child is (see the module docs) or if it could not be (re)opened: then
    /// entries are named by full path, as `open(2)` would.
    fd: Option<OwnedFd>,
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
    pub left_out: LeftOut,
}

/// A short reason for a failed file operation, for the skipped list.
pub fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "vanished".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
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

/// Whether `at` is a `CACHEDIR.TAG` that starts with the standard signature.
fn has_cachedir_tag(at: At<'_>) -> bool {
    let Ok(fd) = sys::open_at(at, libc::O_RDONLY | libc::O_NONBLOCK) else {
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

    /// Where `found` is for the `*at` calls: in its directory while that
    /// is still open, else by path.
    fn at<'a>(&'a self, found: &'a Found) -> At<'a> {
        let dir = found.listed_in.and_then(|(index, serial)| {
            self.stack
                .get(index)
                .filter(|frame| frame.serial == serial)
                .and_then(|frame| frame.fd.as_ref())
        });
        match dir {
            Some(fd) => At::Entry(fd.as_fd(), &found.leaf),
            None => At::Path(&found.path),
        }
    }

    /// Opens a [`Kind::File`] entry for reading, without following a
    /// symlink that replaced it (ELOOP) or blocking on a FIFO that did.
    /// Best called right after the step that returned it, while its
    /// directory is still the open one.
    pub fn open_file(&mut self, found: &Found) -> io::Result<File> {
        if self.noatime {
            match sys::open_at(self.at(found), FILE_FLAGS | libc::O_NOATIME) {
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => self.noatime = false,
                other => return other.map(File::from),
            }
        }
        sys::open_at(self.at(found), FILE_FLAGS).map(File::from)
    }

    /// The target of a [`Kind::Symlink`] entry, raw bytes, into `target`.
    pub fn read_link(&self, found: &Found, target: &mut Vec<u8>) -> io::Result<()> {
        sys::read_link_at(self.at(found), target)
    }

    fn push(&mut self, dir: PathBuf, fd: Option<OwnedFd>, name: Vec<u8>, relative: Vec<u8>) {
        if let Some(parent) = self.stack.last_mut() {
            parent.fd = None;
        }
        self.frames_made += 1;
        self.stack.push(Frame {
            dir,
            fd,
            serial: self.frames_made,
            name,
            relative,
            listed: false,
            names: Vec::new(),
            next: 0,
        });
    }

    pub fn step(&mut self) -> Step {
        if self.stack.is_empty() {
            return self.step_root();
        }
        let top = self.stack.len() - 1;
        if !self.stack[top].listed {
            return self.list_some(top);
        }
        let frame = &mut self.stack[top];
        if frame.next >= frame.names.len() {
            self.stack.pop();
            if let Some(parent) = self.stack.last_mut() {
                // Closed when the walk entered the child: open it again.
                parent.fd = sys::open_at(At::Path(&parent.dir), DIR_FLAGS).ok();
            }
            return Step::Busy;
        }
        let Listed { name: leaf, d_type } = std::mem::take(&mut frame.names[frame.next]);
        frame.next += 1;
        let frame = &self.stack[top];
        let name_bytes = leaf.to_bytes();
        let path = frame.dir.join(OsStr::from_bytes(name_bytes));
        let at = match &frame.fd {
            Some(fd) => At::Entry(fd.as_fd(), &leaf),
            None => At::Path(&path),
        };
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
                        reason: reason(&e),
                        path,
                    };
                }
            }
        } else {
            None
        };
        let file_type = stat.map_or_else(|| type_of_dirent(d_type), |s| s.file_type());
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
        let listed_in = Some((top, frame.serial));
        // Directories and symlinks are always stat'ed (see `stat_needed`).
        let kind = match (file_type, stat) {
            (libc::S_IFDIR, Some(stat)) => {
                if self.is_backup_dir(&stat) {
                    return Step::Busy;
                }
                // Opened once, for the tag and then for the listing.
                let dir_fd = sys::open_at(at, DIR_FLAGS | libc::O_NOFOLLOW).ok();
                let tag = match &dir_fd {
                    Some(fd) => has_cachedir_tag(At::Entry(fd.as_fd(), c"CACHEDIR.TAG")),
                    None => has_cachedir_tag(At::Path(&path.join("CACHEDIR.TAG"))),
                };
                if tag {
                    self.left_out.cache_dirs += 1;
                    return Step::Busy;
                }
                name.push(b'/');
                if self.rules.one_file_system && stat.dev != self.root_dev {
                    // The mount point itself is kept (empty), as tar does.
                    self.left_out.other_filesystems += 1;
                } else {
                    relative.push(b'/');
                    self.push(path.clone(), dir_fd, name.clone(), relative);
                }
                Kind::Dir(stat)
            }
            (libc::S_IFREG, stat) => Kind::File(stat),
            (libc::S_IFLNK, Some(stat)) => Kind::Symlink(stat),
            _ => {
                let reason = format!("{} not archived", special_kind(file_type));
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
        // The source itself is named by the user: follow it if it is a symlink.
        let stat = match fs::metadata(&source.path) {
            Ok(m) => FileStat::from(&m),
            Err(e) => {
                return Step::Skipped {
                    path: source.path,
                    reason: reason(&e),
                };
            }
        };
        self.root_dev = stat.dev;
        let mut name = source.top.clone();
        let kind = if stat.is_dir() {
            if self.is_backup_dir(&stat) {
                return Step::Busy;
            }
            name.push(b'/');
            // Opened when it is listed, following a symlink like the stat above.
            self.push(source.path.clone(), None, name.clone(), Vec::new());
            Kind::Dir(stat)
        } else if stat.is_file() {
            Kind::File(Some(stat))
        } else {
            let reason = format!("{} not archived", special_kind(stat.file_type()));
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
        if frame.fd.is_none() {
            // A source, or a directory that could not be opened when it
            // was entered: by path, and the error is reported.
            match sys::open_at(At::Path(&frame.dir), DIR_FLAGS) {
                Ok(fd) => frame.fd = Some(fd),
                Err(e) => {
                    let path = frame.dir.clone();
                    stack.pop();
                    return Step::Skipped {
                        path,
                        reason: format!("cannot list directory: {}", reason(&e)),
                    };
                }
            }
        }
        let fd = frame.fd.as_ref().expect("opened above");
        let names = &mut frame.names;
        let listed = sys::read_dir_batch(fd.as_fd(), dirents, |name, d_type| {
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
                frame.names.sort_unstable_by(|a, b| a.name.cmp(&b.name));
                Step::Busy
            }
            Err(e) => {
                // The listing broke off: archive what was listed, report the rest.
                frame.listed = true;
                frame.names.sort_unstable_by(|a, b| a.name.cmp(&b.name));
                Step::Skipped {
                    path: frame.dir.clone(),
                    reason: format!("listing incomplete: {}", reason(&e)),
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
        // After b/: found in src/ once the walk has reopened it.
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
                Step::Skipped { path, reason } => skipped.push((path, reason)),
                _ => {}
            }
        }
        assert_eq!(skipped, [(fifo, "FIFO not archived".to_string())]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
