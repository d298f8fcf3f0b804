//! The filesystems source: which filesystems to report (from the mount
//! table, /proc/self/mounts) and their size and use (statvfs), as `df -B1`
//! reports them.
//!
//! Invariant: once warm, [`Disks::sample`] does not allocate: the disk list
//! and the NUL-terminated paths statvfs needs are built only when the mount
//! table changes, and on procfs that change is learnt from one poll
//! (POLLPRI) instead of re-reading the table.
//!
//! Invariant: a short line of the table (fewer than three fields: a kernel
//! oddity, a fake /proc, a read cut short) is skipped and every other
//! mount sampled; the log names the file and the line (number and text,
//! cut) once, not at every sample ([`ShortLines`]). A table of which no
//! line is understood is no mount table: it keeps the disks we have.
//!
//! Invariant: the loop never makes a `statvfs` that can hang: a network or
//! FUSE mount ([`mounts::may_hang`]) is asked by its own thread
//! ([`MountProbe`]), kept across changes of the table while the mount
//! stays, and its figures are those of the previous call. At most
//! [`MAX_PROBES`] such threads run: the mount table is not ours (a user may
//! mount a thousand sshfs shares: FUSE's default `mount_max`), so the ones
//! past that are left without figures, said once per change of the table.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::mount_probe::{MountProbe, NotAnswering};
use super::procfile::{Ends, ProcFile};
use super::source::{Failure, Health};
use crate::proc::{ParseError, mounts, numbered_lines};
use crate::sys::{self, FsStats};

/// One filesystem as `df -B1` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskSample {
    pub mount_point: String,
    pub fs_type: String,
    pub device: String,
    /// `None` while statvfs fails for this mount (e.g. permission denied).
    pub stats: Option<FsStats>,
    /// Why `stats` is `None` (`None` when it is not).
    pub problem: Option<DiskProblem>,
}

/// Why a disk has no figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskProblem {
    /// `statvfs` failed with this errno.
    Failed(i32),
    /// A network or FUSE mount whose `statvfs` has not returned for
    /// [`super::mount_probe::STUCK_AFTER`].
    NotAnswering,
    /// A network or FUSE mount whose first `statvfs` has not returned yet:
    /// its figures come a sample late (not a fault).
    NoAnswerYet,
    /// A network or FUSE mount past the first [`MAX_PROBES`], or one for
    /// which no thread could be started: never asked.
    NotAsked,
}

impl std::fmt::Display for DiskProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiskProblem::Failed(errno) => {
                write!(f, "statvfs: {}", std::io::Error::from_raw_os_error(*errno))
            }
            DiskProblem::NotAnswering => NotAnswering.fmt(f),
            DiskProblem::NoAnswerYet => f.write_str("waiting for its first statvfs"),
            DiskProblem::NotAsked => write!(
                f,
                "not asked: past the first {MAX_PROBES} network or FUSE mounts, or no \
                 thread to ask from (see the log)"
            ),
        }
    }
}

impl DiskSample {
    pub fn total_bytes(&self) -> Option<u64> {
        self.stats.map(|s| s.blocks.saturating_mul(s.fragment_size))
    }
    pub fn used_bytes(&self) -> Option<u64> {
        self.stats.map(|s| {
            s.blocks
                .saturating_sub(s.blocks_free)
                .saturating_mul(s.fragment_size)
        })
    }
    pub fn free_bytes(&self) -> Option<u64> {
        self.stats
            .map(|s| s.blocks_free.saturating_mul(s.fragment_size))
    }
    /// Available to unprivileged users (excludes the root reserve), like df's Avail.
    pub fn available_bytes(&self) -> Option<u64> {
        self.stats
            .map(|s| s.blocks_available.saturating_mul(s.fragment_size))
    }
    /// df's Use%: used / (used + available), rounded up, in whole percent.
    pub fn used_percent(&self) -> Option<u64> {
        self.stats.map(|s| {
            let used = u128::from(s.blocks.saturating_sub(s.blocks_free));
            let denominator = used + u128::from(s.blocks_available);
            if denominator == 0 {
                0
            } else {
                let scaled = used * 100;
                u64::try_from(scaled.div_ceil(denominator)).unwrap_or(100)
            }
        })
    }
}

/// Which filesystems to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountSelection {
    /// Every mounted filesystem backed by a real device, each device once.
    Auto,
    /// Exactly these mount points, in this order.
    Listed(Vec<PathBuf>),
}

pub struct Disks {
    mounts_file: ProcFile,
    health: Health,
    selection: MountSelection,
    /// The mount table the current disk list was built from.
    mounts_seen: Vec<u8>,
    mounts_built: bool,
    /// The mounts file is procfs's, which signals changes (see `read`).
    mounts_on_procfs: bool,
    /// `statfs[i]` says how the list's `i`th disk is asked.
    statfs: Vec<Statfs>,
    /// Probes taken over from the sampler this one replaced (a reload),
    /// for the next list to use by path.
    adopted: Vec<MountProbe>,
    /// What the log said of the table's short lines.
    short_lines: ShortLines,
}

/// The first short line of the mount table in use as the log last named
/// it (its text), `None` while the table has none: said when one appears
/// or another takes its place, and once when none is left. A table read
/// again unchanged is not parsed again, so says nothing more.
#[derive(Default)]
struct ShortLines {
    said: Option<Vec<u8>>,
}

impl ShortLines {
    /// Records the short lines of `table`, read from `file`: `first` the
    /// first one's error, `count` how many. Allocates only when it logs.
    fn note(&mut self, file: &Path, table: &[u8], first: Option<ParseError>, count: usize) {
        let file = file.display();
        let Some(first) = first else {
            if self.said.take().is_some() {
                crate::log::info(format_args!("{file}: no malformed mount line any more"));
            }
            return;
        };
        let at = first.line.saturating_sub(1) as usize;
        let line = numbered_lines(table).nth(at).map_or(&b""[..], |(_, l)| l);
        if self.said.as_deref() == Some(line) {
            return;
        }
        self.said = Some(line.to_vec());
        let text = String::from_utf8_lossy(line);
        let shown = crate::log::shown(&text);
        crate::log::warn(format_args!(
            "{file}: {first}: \"{shown}\" ({count} such line(s) in the table): skipped, the \
             other mounts are sampled"
        ));
    }
}

/// The most probe threads the disk list keeps (one per network or FUSE
/// mount).
pub const MAX_PROBES: usize = 32;

/// How one disk's figures are had.
enum Statfs {
    /// `statvfs` of this NUL-terminated mount point, by the loop.
    InLine(CString),
    /// By the mount's probe thread (`None`: none could be started; the
    /// disk then has no figures).
    Probe(Option<MountProbe>),
}

impl Disks {
    pub fn new(proc_root: &Path, selection: MountSelection) -> Disks {
        Disks {
            // Records as long as the paths in them: read until a read returns 0.
            mounts_file: ProcFile::new(proc_root.join("self/mounts")).ending(Ends::AtZero),
            health: Health::default(),
            selection,
            mounts_seen: Vec::with_capacity(4096),
            mounts_built: false,
            mounts_on_procfs: false,
            statfs: Vec::new(),
            adopted: Vec::new(),
            short_lines: ShortLines::default(),
        }
    }

    /// Refreshes `disks`; on failure they keep their previous figures.
    /// `now` dates the requests to the probe threads.
    pub fn sample(&mut self, now: Instant, disks: &mut Vec<DiskSample>) {
        let r = self.read(now, disks);
        self.health.note(self.mounts_file.path(), r);
    }

    /// Takes over `old`'s probe threads (a reload made a new sampler), so
    /// that a stuck mount keeps its one blocked thread, not one more per
    /// reload.
    pub fn adopt_probes(&mut self, old: &mut Disks) {
        self.adopted.extend(old.take_probes());
    }

    fn take_probes(&mut self) -> impl Iterator<Item = MountProbe> + '_ {
        self.statfs
            .drain(..)
            .filter_map(|how| match how {
                Statfs::Probe(probe) => probe,
                Statfs::InLine(_) => None,
            })
            .chain(self.adopted.drain(..))
    }

    /// Whether a probe's call, asked by a sample, has not returned yet.
    pub fn probes_in_call(&self) -> bool {
        self.statfs
            .iter()
            .any(|how| matches!(how, Statfs::Probe(Some(probe)) if probe.in_call()))
    }

    /// `FILE: why` while the mount table cannot be read.
    pub fn failure(&self) -> Option<&str> {
        self.health.failure()
    }

    fn read(&mut self, now: Instant, disks: &mut Vec<DiskSample>) -> Result<(), Failure> {
        // On procfs the kernel flags mount-table changes with POLLPRI: one
        // cheap poll instead of regenerating the whole table every sample
        // (the costliest /proc read here). Elsewhere (fixtures) re-read.
        let fd = self.mounts_file.raw_fd();
        let unchanged = self.mounts_built
            && self.mounts_on_procfs
            && fd.is_some_and(|fd| !sys::mount_table_changed(fd));
        if !unchanged {
            self.refresh_mount_table(disks)?;
        }
        for (disk, how) in disks.iter_mut().zip(&mut self.statfs) {
            (disk.stats, disk.problem) = match how {
                Statfs::InLine(path) => match sys::statvfs(path) {
                    Ok(stats) => (Some(stats), None),
                    Err(e) => (None, Some(DiskProblem::Failed(errno_of(&e)))),
                },
                Statfs::Probe(Some(probe)) => {
                    let probed = probe.take(now);
                    let problem = match probed.stats {
                        Some(_) => None,
                        None if probed.stuck => Some(DiskProblem::NotAnswering),
                        None if !probed.answered => Some(DiskProblem::NoAnswerYet),
                        None => Some(DiskProblem::Failed(probed.errno)),
                    };
                    (probed.stats, problem)
                }
                Statfs::Probe(None) => (None, Some(DiskProblem::NotAsked)),
            };
        }
        Ok(())
    }

    fn refresh_mount_table(&mut self, disks: &mut Vec<DiskSample>) -> Result<(), Failure> {
        let table = self.mounts_file.read().map_err(Failure::Io)?;
        if !self.mounts_built || table != self.mounts_seen.as_slice() {
            let (mut understood, mut short, mut first_short) = (0usize, 0usize, None);
            for entry in mounts::entries(table) {
                match entry {
                    Ok(_) => understood += 1,
                    Err(e) => {
                        short += 1;
                        first_short.get_or_insert(e);
                    }
                }
            }
            // Not one line understood: a foreign file, not a mount table.
            if let (0, Some(e)) = (understood, first_short) {
                return Err(Failure::Parse(e));
            }
            self.mounts_seen.clear();
            self.mounts_seen.extend_from_slice(table);
            self.mounts_built = true;
            let file = self.mounts_file.path();
            self.short_lines
                .note(file, &self.mounts_seen, first_short, short);
            self.rebuild(disks);
        }
        self.mounts_on_procfs = self.mounts_file.raw_fd().is_some_and(sys::is_procfs);
        Ok(())
    }

    /// Rebuilds the disk list after the mount table changed. Allocates.
    fn rebuild(&mut self, disks: &mut Vec<DiskSample>) {
        disks.clear();
        // The probes of the old list, for the mounts that stay (a stuck
        // one keeps its one blocked thread, not one more per change).
        let mut probes: Vec<MountProbe> = self.take_probes().collect();
        let (mut kept, mut over) = (0, 0);
        let text = |raw: &[u8]| String::from_utf8_lossy(&mounts::unescape(raw)).into_owned();
        let entries = mounts::entries(&self.mounts_seen).filter_map(Result::ok);
        match &self.selection {
            MountSelection::Auto => {
                for entry in entries.filter(mounts::is_real_filesystem) {
                    let device = text(entry.device);
                    let mount_point = text(entry.mount_point);
                    // One line per device, like df: a bind mount or a second
                    // mount of the same device yields to the shorter path.
                    if let Some(i) = disks.iter().position(|d| d.device == device) {
                        if mount_point.len() < disks[i].mount_point.len() {
                            disks[i].mount_point = mount_point;
                        }
                        continue;
                    }
                    disks.push(DiskSample {
                        mount_point,
                        fs_type: text(entry.fs_type),
                        device,
                        stats: None,
                        problem: None,
                    });
                }
                // Zero-sized filesystems are pseudo ones however they are
                // mounted; one that may hang is not asked here, and kept.
                // One whose statvfs fails is kept, to be listed with why
                // (refused, an I/O error), unless its mount point is not
                // there to be asked: outside our root, or not a path here.
                disks.retain(|d| {
                    if mounts::may_hang(d.fs_type.as_bytes()) {
                        return true;
                    }
                    let Ok(path) = CString::new(d.mount_point.as_bytes()) else {
                        return false;
                    };
                    match sys::statvfs(&path) {
                        Ok(stats) => stats.blocks > 0,
                        Err(e) => !matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)),
                    }
                });
            }
            MountSelection::Listed(paths) => {
                for path in paths {
                    let wanted = path.as_os_str().as_bytes();
                    // The last mount on a path is the one in effect.
                    let entry = mounts::entries(&self.mounts_seen)
                        .filter_map(Result::ok)
                        .filter(|e| mounts::unescape(e.mount_point) == wanted)
                        .last();
                    disks.push(DiskSample {
                        mount_point: path.to_string_lossy().into_owned(),
                        fs_type: entry.map(|e| text(e.fs_type)).unwrap_or_default(),
                        device: entry.map(|e| text(e.device)).unwrap_or_default(),
                        stats: None,
                        problem: None,
                    });
                }
            }
        }
        let holders = mounts::MountPoints::new(&self.mounts_seen);
        for disk in disks.iter() {
            // A mount point cannot contain NUL; fall back to "/" defensively.
            let path =
                CString::new(disk.mount_point.as_bytes()).unwrap_or_else(|_| c"/".to_owned());
            // The file system that answers for the path: its own mount's,
            // or (a listed directory that is no mount point) the one below.
            let holder = holders.holding_fs_type(disk.mount_point.as_bytes());
            if !holder.is_some_and(mounts::may_hang) {
                self.statfs.push(Statfs::InLine(path));
                continue;
            }
            if kept == MAX_PROBES {
                over += 1;
                self.statfs.push(Statfs::Probe(None));
                continue;
            }
            kept += 1;
            let probe = match probes.iter().position(|p| p.path() == path.as_c_str()) {
                Some(i) => Some(probes.swap_remove(i)),
                None => MountProbe::start(path.clone(), "its figures are left out")
                    .map_err(|e| {
                        crate::log::warn(format_args!(
                            "{}: no thread to ask its figures from ({e}); left without them",
                            disk.mount_point
                        ));
                    })
                    .ok(),
            };
            self.statfs.push(Statfs::Probe(probe));
        }
        if over > 0 {
            crate::log::warn(format_args!(
                "{over} network or FUSE mount(s) past the first {MAX_PROBES} are left \
                 without figures (each would need a thread of its own)"
            ));
        }
    }
}

fn errno_of(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}
