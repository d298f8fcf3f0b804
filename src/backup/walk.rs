//! The resumable directory walk over the backup sources.
//!
//! [`Walker::step`] does a bounded amount of work (one entry, or reading
//! at most [`READ_BATCH`] names of one directory) and returns; the walk is
//! iterative (an explicit stack of directories, never recursion) and holds
//! no directory open between steps except the one being listed. Each
//! directory's names are sorted, so the archive order is deterministic.
//!
//! What it promises: symlinks are reported, never followed (so loops are
//! harmless); excluded entries, the backup directory itself, directories
//! tagged with a valid `CACHEDIR.TAG` and, with `one_file_system`, the
//! contents of other filesystems are left out; sockets, FIFOs and devices
//! are reported as skipped. Archive names are `TOP/relative/path` with the
//! source's unique top-level name, built from raw bytes.

use std::ffi::OsString;
use std::fs::{self, Metadata, ReadDir};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use super::exclude::{Candidate, Excludes};

/// Names read from one directory per step.
const READ_BATCH: usize = 512;
const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
}

#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    /// The archive name; directories end with `/`.
    pub name: Vec<u8>,
    pub meta: Metadata,
    pub kind: Kind,
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

struct Frame {
    dir: PathBuf,
    /// Archive name of this directory, ending with `/`.
    name: Vec<u8>,
    /// Path below the source root, ending with `/` (empty at the root).
    relative: Vec<u8>,
    reader: Option<ReadDir>,
    listed: bool,
    names: Vec<OsString>,
    next: usize,
}

pub struct Walker {
    sources: Vec<Source>,
    /// The source to start next; `root_pending` says whether its root is still to be visited.
    next_source: usize,
    root_pending: bool,
    root_dev: u64,
    stack: Vec<Frame>,
    rules: Rules,
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

fn special_kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() || t.is_char_device() {
        "device node"
    } else {
        "unknown file type"
    }
}

/// Whether `dir` holds a `CACHEDIR.TAG` that starts with the standard signature.
fn has_cachedir_tag(dir: &std::path::Path) -> bool {
    let Ok(file) = fs::File::open(dir.join("CACHEDIR.TAG")) else {
        return false;
    };
    let mut head = [0u8; CACHEDIR_SIGNATURE.len()];
    let mut got = 0;
    let mut reader = file;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got == head.len() && head == CACHEDIR_SIGNATURE
}

impl Walker {
    pub fn new(sources: Vec<Source>, rules: Rules) -> Walker {
        Walker {
            sources,
            next_source: 0,
            root_pending: true,
            root_dev: 0,
            stack: Vec::new(),
            rules,
            left_out: LeftOut::default(),
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn source(&self, n: usize) -> Option<&Source> {
        self.sources.get(n)
    }

    fn is_backup_dir(&self, meta: &Metadata) -> bool {
        self.rules.backup_dir_id == Some((meta.dev(), meta.ino()))
    }

    pub fn step(&mut self) -> Step {
        if self.stack.is_empty() {
            return self.step_root();
        }
        let top = self.stack.len() - 1;
        let frame = &mut self.stack[top];
        if !frame.listed {
            return self.list_some(top);
        }
        if frame.next >= frame.names.len() {
            self.stack.pop();
            return Step::Busy;
        }
        let file_name = std::mem::take(&mut frame.names[frame.next]);
        frame.next += 1;
        let path = frame.dir.join(&file_name);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                return Step::Skipped {
                    path,
                    reason: reason(&e),
                };
            }
        };
        let name_bytes = file_name.as_bytes();
        let mut relative = frame.relative.clone();
        relative.extend_from_slice(name_bytes);
        let is_dir = meta.is_dir();
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
        let file_type = meta.file_type();
        if is_dir {
            if self.is_backup_dir(&meta) {
                return Step::Busy;
            }
            if has_cachedir_tag(&path) {
                self.left_out.cache_dirs += 1;
                return Step::Busy;
            }
            name.push(b'/');
            if self.rules.one_file_system && meta.dev() != self.root_dev {
                // The mount point itself is kept (empty), as tar does.
                self.left_out.other_filesystems += 1;
            } else {
                relative.push(b'/');
                self.stack.push(Frame {
                    dir: path.clone(),
                    name: name.clone(),
                    relative,
                    reader: None,
                    listed: false,
                    names: Vec::new(),
                    next: 0,
                });
            }
            Step::Entry(Found {
                path,
                name,
                meta,
                kind: Kind::Dir,
            })
        } else if file_type.is_file() {
            Step::Entry(Found {
                path,
                name,
                meta,
                kind: Kind::File,
            })
        } else if file_type.is_symlink() {
            Step::Entry(Found {
                path,
                name,
                meta,
                kind: Kind::Symlink,
            })
        } else {
            let reason = format!("{} not archived", special_kind(&meta));
            Step::Skipped { path, reason }
        }
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
        let meta = match fs::metadata(&source.path) {
            Ok(m) => m,
            Err(e) => {
                return Step::Skipped {
                    path: source.path,
                    reason: reason(&e),
                };
            }
        };
        self.root_dev = meta.dev();
        let mut name = source.top.clone();
        if meta.is_dir() {
            if self.is_backup_dir(&meta) {
                return Step::Busy;
            }
            name.push(b'/');
            self.stack.push(Frame {
                dir: source.path.clone(),
                name: name.clone(),
                relative: Vec::new(),
                reader: None,
                listed: false,
                names: Vec::new(),
                next: 0,
            });
            Step::Entry(Found {
                path: source.path,
                name,
                meta,
                kind: Kind::Dir,
            })
        } else if meta.is_file() {
            Step::Entry(Found {
                path: source.path,
                name,
                meta,
                kind: Kind::File,
            })
        } else {
            let reason = format!("{} not archived", special_kind(&meta));
            Step::Skipped {
                path: source.path,
                reason,
            }
        }
    }

    /// Reads up to [`READ_BATCH`] names of the directory at `stack[top]`.
    fn list_some(&mut self, top: usize) -> Step {
        let frame = &mut self.stack[top];
        if frame.reader.is_none() {
            match fs::read_dir(&frame.dir) {
                Ok(r) => frame.reader = Some(r),
                Err(e) => {
                    let path = frame.dir.clone();
                    self.stack.pop();
                    return Step::Skipped {
                        path,
                        reason: format!("cannot list directory: {}", reason(&e)),
                    };
                }
            }
        }
        let reader = frame.reader.as_mut().expect("opened above");
        for _ in 0..READ_BATCH {
            match reader.next() {
                Some(Ok(entry)) => frame.names.push(entry.file_name()),
                Some(Err(e)) => {
                    // The listing broke off: archive what was listed, report the rest.
                    let path = frame.dir.clone();
                    frame.reader = None;
                    frame.listed = true;
                    frame.names.sort_unstable();
                    return Step::Skipped {
                        path,
                        reason: format!("listing incomplete: {}", reason(&e)),
                    };
                }
                None => {
                    frame.reader = None;
                    frame.listed = true;
                    frame.names.sort_unstable();
                    return Step::Busy;
                }
            }
        }
        Step::Busy
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
        std::os::unix::fs::symlink("..", dir.join("src/b/up")).unwrap();
        let rules = Rules {
            excludes: Excludes::new(&["*.tmp".into()]).unwrap(),
            backup_dir_id: None,
            one_file_system: false,
        };
        let mut w = Walker::new(name_sources(&[dir.join("src")]), rules);
        let mut seen = Vec::new();
        loop {
            match w.step() {
                Step::Done => break,
                Step::Entry(f) => {
                    seen.push(format!("{:?} {}", f.kind, String::from_utf8_lossy(&f.name)))
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
                "Symlink src/b/up"
            ]
        );
        assert_eq!(
            w.left_out,
            LeftOut {
                excluded: 1,
                cache_dirs: 1,
                other_filesystems: 0
            }
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
