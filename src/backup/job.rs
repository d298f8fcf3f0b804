//! One backup run as a resumable job: [`Job::step`] does work until a
//! deadline and returns, keeping every open file, the walk and the zip
//! writer in the job between calls, so the daemon can answer HTTP between
//! slices and `sysmon backup` can print progress.
//!
//! Phases: a pre-scan (also sliced) counts files and bytes for the
//! progress totals and the least the archive can take (refused before
//! writing when that and what is kept free do not fit, [`space`]); the
//! archive pass writes a hidden temporary (`.backup_STAMP.zip.tmp-PID`,
//! mode 0600, `flock`ed so a cleanup never removes it under a live
//! writer); the finish writes the central directory, fsyncs, links the
//! file to its final name without ever replacing one (`_2`, `_3`... when
//! taken), fsyncs the directory and then applies retention.
//!
//! Invariant: whatever happens (error, abort, drop) the temporary is removed
//! unless it was committed, and nothing appears under a final name before
//! the archive is complete on disk. While writing, free space in
//! `backup_dir` is looked at every few MiB, and the run fails (so the
//! temporary goes) once it would fall under what is kept free for other
//! programs. A file that changes while being read is archived as read
//! (its CRC always matches the stored bytes) and listed.

use crate::owned::{owned, text_of};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Crc, FlushCompress};

use super::space::{self, Room};
use super::tinydeflate::TinyDeflate;
use super::walk::{self, FileStats, Found, Kind, Rules, SkipKind, SkipReason, Step, Walker};
use super::zipwrite::{self, Entry, OpenEntry, Sizes, ZipOut};
use super::{probe, retention};
use crate::config::Config;
use crate::float_text::Fixed;
use crate::pathglob::Excludes;
use crate::sys::{self, FileStat};
use crate::{fsutil, log};

/// Files up to this size are read whole, compressed in memory and stored
/// instead when deflate does not make them smaller.
const SMALL_FILE: usize = 64 * 1024;
/// A file stored in full from this size is opened by the scan, so that one
/// sysmon cannot read does not count in the least the archive takes.
const OPEN_CHECK_FROM_BYTES: u64 = 1 << 20;
/// Read size while deflating (about a millisecond of deflate per chunk, so
/// a 5 ms slice is honoured) and while storing (just a copy and a CRC).
const DEFLATE_CHUNK: usize = 64 * 1024;
const STORE_CHUNK: usize = 256 * 1024;
/// How many skipped paths are kept for the result and the log.
pub const SKIPPED_LIST_CAP: usize = 100;

/// What a backup needs from the configuration, copied at start so that a
/// reload never changes a running backup.
#[derive(Clone, Debug)]
pub struct Settings {
    pub sources: Vec<PathBuf>,
    pub excludes: Vec<String>,
    pub level: u32,
    pub one_file_system: bool,
    pub backup_dir: PathBuf,
    pub keep: u32,
}

impl Settings {
    pub fn from_config(c: &Config) -> Settings {
        Settings {
            sources: c.backup.sources.clone(),
            excludes: c.backup.excludes.clone(),
            level: c.backup.level,
            one_file_system: c.backup.one_file_system,
            backup_dir: c.backup_dir.clone(),
            keep: c.backup.keep,
        }
    }
}

/// Which pass a run is in, as shown in /data.json and by `sysmon backup`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressPhase {
    Scanning,
    Archiving,
    Finishing,
}

impl ProgressPhase {
    /// The name /data.json and `sysmon backup` show.
    pub fn name(self) -> &'static str {
        match self {
            ProgressPhase::Scanning => "scanning",
            ProgressPhase::Archiving => "archiving",
            ProgressPhase::Finishing => "finishing",
        }
    }
}

/// How far a run is: `Copy`, so reading it costs nothing. The source being
/// walked is a path, kept apart ([`Job::source`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub phase: ProgressPhase,
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    pub path: String,
    pub reason: String,
}

/// The result of one run, success or failure.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub file: Option<PathBuf>,
    pub started_unix_s: u64,
    /// Size of the archive written.
    pub archive_bytes: u64,
    /// Bytes of file data read into the archive.
    pub data_bytes: u64,
    /// Regular files archived (changed ones included).
    pub files: u64,
    pub entries: u64,
    pub skipped: u64,
    /// Of those, the ones sysmon was not allowed to read (`EACCES`/`EPERM`,
    /// say /etc/shadow without CAP_DAC_READ_SEARCH): the archive is then
    /// incomplete, never plain "ok".
    pub skipped_permission: u64,
    /// The first [`SKIPPED_LIST_CAP`] skipped (or changed) paths.
    pub skipped_list: Vec<Skip>,
    pub duration: Duration,
    pub error: Option<String>,
    pub deleted: Vec<PathBuf>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// The temporary archive: removed on drop unless committed. One that
/// cannot be removed is logged, path and error, and left to the next run's
/// cleanup of leftovers ([`retention::remove_leftover_temporaries`]): its
/// lock went with the archive's descriptor, dropped before this guard.
struct Temp {
    path: PathBuf,
    committed: bool,
}

impl Temp {
    /// Removes the temporary: `Err` names it and says why it stays.
    fn remove(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(fsutil::with_path(&self.path, e)),
            _ => Ok(()),
        }
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Err(e) = self.remove() {
            log::warn(format_args!(
                "backup: cannot remove the temporary archive: {e}; \
                 left for the next run's cleanup of leftovers"
            ));
        }
    }
}

/// The regular file being archived across slices.
struct Current {
    file: File,
    path: PathBuf,
    open: OpenEntry,
    deflate: bool,
    crc: Crc,
    /// Bytes still to read: the size from `fstat` at open, never more.
    remaining: u64,
    read: u64,
    data_start: u64,
    /// The `fstat` right after opening, which the entry was made from.
    at_open: FileStat,
    changed: Option<SkipReason>,
}

struct Writing {
    walker: Walker,
    out: ZipOut,
    temp: Temp,
    current: Option<Current>,
}

enum Phase {
    Scan(Walker),
    Archive(Box<Writing>),
    Done,
}

pub enum Poll {
    Running,
    Finished(Outcome),
}

pub struct Job {
    settings: Settings,
    phase: Phase,
    progress: Progress,
    /// The source being walked (empty before the first).
    source: String,
    /// The least the archive of what the scan saw can take (a true lower
    /// bound, [`space`]): refused before writing when it cannot fit.
    floor_bytes: u64,
    /// Archive position at which free space is looked at next.
    next_room_check_at: u64,
    stamp: String,
    started: Instant,
    started_unix_s: u64,
    compress: Option<Compress>,
    /// Small files' deflate; falls back to `compress` (both present or not).
    tiny: Option<TinyDeflate>,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    files: u64,
    skipped: u64,
    skipped_permission: u64,
    skipped_list: Vec<Skip>,
    /// Set by [`Job::skip`] when the machine ran out of descriptors or
    /// memory ([`SkipKind::NoResources`]): the run fails at the end of the
    /// step, before anything is committed or pruned, so an archive missing
    /// what the machine could not open never replaces a complete one.
    out_of_resources: Option<String>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn display(path: &Path) -> String {
    text_of(&path.display())
}

/// Reads until `buf` is full or end of file; returns the bytes read.
fn fill(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Like [`fill`], but done once `expected` bytes are in (the size `fstat`
/// gave): a small file then takes one `read`, not a second one that
/// returns 0. A file that grows after that read is still noticed: its
/// size and mtime are checked once it is archived ([`modified_since`]).
fn read_expecting(file: &mut File, buf: &mut [u8], expected: usize) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                if got == expected {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl Job {
    /// Checks the sources and the destination and begins the scan.
    pub fn start(settings: Settings) -> Result<Job, Box<Outcome>> {
        let started = Instant::now();
        let started_unix_s = unix_now();
        let fail = |error: String| {
            log::error(format_args!("backup failed: {error}"));
            Box::new(Outcome {
                started_unix_s,
                error: Some(error),
                ..Outcome::default()
            })
        };
        if settings.sources.is_empty() {
            return Err(fail(owned("no backup_source is configured")));
        }
        for source in &settings.sources {
            if let Err(e) = fs::metadata(source) {
                return Err(fail(format!("source {}: {e}", source.display())));
            }
        }
        let excludes =
            Excludes::new(&settings.excludes).map_err(|e| fail(format!("backup_exclude: {e}")))?;
        if let Err(e) = fsutil::ensure_dir(&settings.backup_dir, 0o700) {
            return Err(fail(format!("backup_dir: {e}")));
        }
        let dir_meta = fs::metadata(&settings.backup_dir)
            .map_err(|e| fail(format!("backup_dir {}: {e}", settings.backup_dir.display())))?;
        let rules = Rules {
            excludes,
            backup_dir_id: Some((dir_meta.dev(), dir_meta.ino())),
            one_file_system: settings.one_file_system,
        };
        let walker = Walker::new(
            walk::name_sources(&settings.sources),
            rules,
            FileStats::Lstat,
        );
        let sources: Vec<String> = settings.sources.iter().map(|s| display(s)).collect();
        log::info(format_args!(
            "backup started: {} -> {}",
            sources.join(", "),
            settings.backup_dir.display()
        ));
        let compress =
            (settings.level > 0).then(|| Compress::new(Compression::new(settings.level), false));
        let tiny = (settings.level > 0).then(|| TinyDeflate::new(settings.level));
        Ok(Job {
            stamp: crate::sys::local_timestamp(started_unix_s as i64),
            settings,
            phase: Phase::Scan(walker),
            progress: Progress {
                phase: ProgressPhase::Scanning,
                files_done: 0,
                files_total: 0,
                bytes_done: 0,
                bytes_total: 0,
            },
            source: String::new(),
            floor_bytes: space::END_RECORD_BYTES,
            next_room_check_at: 0,
            started,
            started_unix_s,
            compress,
            tiny,
            buf: vec![0u8; STORE_CHUNK + 1],
            scratch: Vec::with_capacity(SMALL_FILE + 1024),
            files: 0,
            skipped: 0,
            skipped_permission: 0,
            skipped_list: Vec::new(),
            out_of_resources: None,
        })
    }

    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// The source being walked now (empty before the first).
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn started_unix_s(&self) -> u64 {
        self.started_unix_s
    }

    /// Works until `deadline` (checked after every file or chunk) or the end.
    pub fn step(&mut self, deadline: Instant) -> Poll {
        loop {
            let result = match self.phase {
                Phase::Scan(_) => self.scan_one(),
                Phase::Archive(_) => self.archive_one(),
                Phase::Done => {
                    return Poll::Finished(self.failed(owned("the backup already finished")));
                }
            };
            if let Some(e) = self.out_of_resources.take() {
                return Poll::Finished(self.failed(e));
            }
            match result {
                Ok(false) => {}
                Ok(true) => match self.next_phase() {
                    Ok(Some(outcome)) => return Poll::Finished(outcome),
                    Ok(None) => {}
                    Err(e) => return Poll::Finished(self.failed(e)),
                },
                Err(e) => return Poll::Finished(self.failed(e)),
            }
            if Instant::now() >= deadline {
                return Poll::Running;
            }
        }
    }

    /// Stops now: the temporary is removed, older archives are untouched.
    pub fn abort(mut self, why: &str) -> Outcome {
        self.failed(format!("interrupted: {why}"))
    }

    fn failed(&mut self, error: String) -> Outcome {
        // Dropping the writer closes and removes the temporary.
        self.phase = Phase::Done;
        log::error(format_args!("backup failed: {error}"));
        Outcome {
            started_unix_s: self.started_unix_s,
            files: self.files,
            skipped: self.skipped,
            skipped_permission: self.skipped_permission,
            skipped_list: std::mem::take(&mut self.skipped_list),
            duration: self.started.elapsed(),
            error: Some(error),
            ..Outcome::default()
        }
    }

    /// Counts and lists a skipped (or changed) path; by its kind, never
    /// its text: one sysmon may not read, a file or a directory, makes the
    /// backup incomplete.
    fn skip(&mut self, path: &Path, reason: SkipReason) {
        if reason.kind == SkipKind::NoResources {
            // Not a skip: the run fails at the end of this step.
            self.out_of_resources.get_or_insert_with(|| {
                format!(
                    "{}: {reason}: the archive would miss it (older archives are kept)",
                    path.display()
                )
            });
            return;
        }
        self.skipped += 1;
        if reason.kind == SkipKind::Permission {
            self.skipped_permission += 1;
        }
        if self.skipped_list.len() < SKIPPED_LIST_CAP {
            log::warn(format_args!("backup: skipped {}: {reason}", path.display()));
            self.skipped_list.push(Skip {
                path: display(path),
                reason: reason.text,
            });
        }
    }

    /// One unit of the pre-scan. `Ok(true)` when the scan is complete.
    fn scan_one(&mut self) -> Result<bool, String> {
        let Phase::Scan(walker) = &mut self.phase else {
            unreachable!()
        };
        match walker.step() {
            Step::Done => return Ok(true),
            Step::Source(n) => {
                self.source = walker
                    .source(n)
                    .map(|s| display(&s.path))
                    .unwrap_or_default()
            }
            Step::Entry(found) => {
                self.floor_bytes += space::entry_floor(found.name.len());
                if let Kind::File(Some(stat)) = found.kind {
                    let size = stat.size_bytes;
                    let file_name = found.path.file_name().map_or(&[][..], |n| n.as_bytes());
                    // Only these are sure to be stored: the content probe
                    // needs the file's first bytes, which the scan does not read.
                    let stored = self.settings.level == 0 || probe::compressed_by_name(file_name);
                    // A file sysmon cannot open is skipped when archived:
                    // counting its size would refuse an archive that fits.
                    // Asked only where the floor counts a file in full and
                    // it is large: an open and a close, against reading at
                    // least a MiB of it later.
                    let counted =
                        !stored || size < OPEN_CHECK_FROM_BYTES || walker.open_file(&found).is_ok();
                    if counted {
                        self.floor_bytes += space::data_floor(size, stored);
                    }
                    self.progress.files_total += 1;
                    self.progress.bytes_total += size;
                }
            }
            Step::Skipped { .. } | Step::Busy => {}
        }
        Ok(false)
    }

    /// Moves to the next phase; `Some` when the whole job is finished.
    fn next_phase(&mut self) -> Result<Option<Outcome>, String> {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Scan(walker) => {
                self.check_free_space()?;
                let temp_path = fsutil::temp_path_for(
                    &self
                        .settings
                        .backup_dir
                        .join(retention::archive_name(&self.stamp, 1)),
                );
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&temp_path)
                    .map_err(|e| format!("cannot create {}: {e}", temp_path.display()))?;
                let temp = Temp {
                    path: temp_path,
                    committed: false,
                };
                let locked = crate::sys::try_lock_exclusive(&file)
                    .map_err(|e| format!("cannot lock {}: {e}", temp.path.display()))?;
                // A concurrent cleanup could have removed the name between create and lock.
                let same = fs::metadata(&temp.path)
                    .ok()
                    .zip(file.metadata().ok())
                    .is_some_and(|(a, b)| a.ino() == b.ino() && a.dev() == b.dev());
                if !locked || !same {
                    return Err(format!(
                        "{} was taken by another process",
                        temp.path.display()
                    ));
                }
                file.set_permissions(fs::Permissions::from_mode(0o600))
                    .map_err(|e| format!("{}: {e}", temp.path.display()))?;
                // The scan walked the same tree: start again from the top.
                // Files are stat'ed through the descriptor opened to read them.
                let walker = Walker::new(
                    walk::name_sources(&self.settings.sources),
                    walker.rules().clone(),
                    FileStats::Skip,
                );
                self.progress.phase = ProgressPhase::Archiving;
                self.phase = Phase::Archive(Box::new(Writing {
                    walker,
                    out: ZipOut::new(file),
                    temp,
                    current: None,
                }));
                Ok(None)
            }
            Phase::Archive(writing) => {
                self.progress.phase = ProgressPhase::Finishing;
                self.finish(*writing).map(Some)
            }
            Phase::Done => Ok(None),
        }
    }

    /// Before writing: refuses only an archive that cannot fit beside
    /// what is kept free (it would be stopped there anyway, after writing
    /// for nothing).
    fn check_free_space(&self) -> Result<(), String> {
        let dir = &self.settings.backup_dir;
        let Some(room) = space::room(dir) else {
            return Ok(());
        };
        if self.floor_bytes > room.margin_bytes() {
            return Err(format!(
                "not enough space in {}: the archive needs at least {} MB and {} MB are kept \
                 free for other programs, but {} MB are free",
                dir.display(),
                mb(self.floor_bytes),
                mb(room.keep_free_bytes),
                mb(room.available_bytes)
            ));
        }
        Ok(())
    }

    /// While writing: stops the run when writing `still_to_write` more
    /// bytes, and the buffered ones, would leave less free in `backup_dir`
    /// than is kept for other programs. Looks only when due (every few MiB
    /// of archive, closer as the margin shrinks), or when asked with
    /// `still_to_write` > 0 (the central directory, before it is written).
    fn check_room(&mut self, still_to_write: u64) -> Result<(), String> {
        let Phase::Archive(w) = &self.phase else {
            return Ok(());
        };
        let written = w.out.position();
        if written < self.next_room_check_at && still_to_write == 0 {
            return Ok(());
        }
        let pending = w.out.buffered() as u64 + still_to_write;
        let Some(room) = space::room(&self.settings.backup_dir) else {
            self.next_room_check_at = written + space::CHECK_EVERY_BYTES;
            return Ok(());
        };
        let after = Room {
            available_bytes: room.available_bytes.saturating_sub(pending),
            ..room
        };
        if after.available_bytes < room.keep_free_bytes {
            let files_left = self
                .progress
                .bytes_total
                .saturating_sub(self.progress.bytes_done);
            return Err(format!(
                "stopped writing to {} after {} MB of archive: {} MB would stay free, under \
                 the {} MB kept free for other programs ({} MB of files were still to read)",
                self.settings.backup_dir.display(),
                mb(written),
                mb(after.available_bytes),
                mb(room.keep_free_bytes),
                mb(files_left)
            ));
        }
        self.next_room_check_at = written + space::next_check_after(after.margin_bytes());
        Ok(())
    }

    /// One unit of the archive pass: one chunk of the current file, or one
    /// walk step. `Ok(true)` when every entry is written.
    fn archive_one(&mut self) -> Result<bool, String> {
        self.check_room(0)?;
        let Phase::Archive(w) = &mut self.phase else {
            unreachable!()
        };
        if w.current.is_some() {
            return self.continue_file();
        }
        match w.walker.step() {
            Step::Done => {
                // The central directory and the end records are still to come.
                let rest = w.out.central_len() as u64 + ZIP_END_RECORDS_MAX_BYTES;
                self.check_room(rest)?;
                return Ok(true);
            }
            Step::Busy => {}
            Step::Source(n) => {
                self.source = w
                    .walker
                    .source(n)
                    .map(|s| display(&s.path))
                    .unwrap_or_default()
            }
            Step::Skipped { path, reason } => self.skip(&path, reason),
            Step::Entry(found) => match found.kind {
                Kind::Dir(stat) => {
                    let entry = Entry {
                        name: &found.name,
                        mode: stat.mode,
                        mtime_unix_s: stat.mtime_s,
                        method: zipwrite::METHOD_STORE,
                        zip64: false,
                    };
                    let open = w
                        .out
                        .start_entry(&entry)
                        .map_err(|e| write_error(&w.temp.path, e))?;
                    w.out
                        .finish_entry(open, Sizes::default())
                        .map_err(|e| write_error(&w.temp.path, e))?;
                    if !zipwrite::mtime_storable(stat.mtime_s) {
                        self.skip(&found.path, unstorable_time(stat.mtime_s));
                    }
                }
                Kind::Symlink(stat) => match w.walker.read_link(&found, &mut self.scratch) {
                    Err(e) => self.skip(&found.path, SkipReason::io("", &e)),
                    Ok(()) => {
                        let target = &self.scratch[..];
                        let entry = Entry {
                            name: &found.name,
                            mode: stat.mode,
                            mtime_unix_s: stat.mtime_s,
                            method: zipwrite::METHOD_STORE,
                            zip64: false,
                        };
                        let mut crc = Crc::new();
                        crc.update(target);
                        let len = target.len() as u64;
                        let e = |e| write_error(&w.temp.path, e);
                        let open = w.out.start_entry(&entry).map_err(e)?;
                        w.out.write(target).map_err(e)?;
                        w.out
                            .finish_entry(
                                open,
                                Sizes {
                                    crc: crc.sum(),
                                    compressed: len,
                                    uncompressed: len,
                                },
                            )
                            .map_err(e)?;
                        if !zipwrite::mtime_storable(stat.mtime_s) {
                            self.skip(&found.path, unstorable_time(stat.mtime_s));
                        }
                    }
                },
                Kind::File(_) => self.start_file(found)?,
            },
        }
        Ok(false)
    }

    /// Opens a regular file; small ones are archived at once, large ones
    /// become the current file continued by [`Job::continue_file`].
    fn start_file(&mut self, found: Found) -> Result<(), String> {
        self.progress.files_done += 1;
        let Phase::Archive(w) = &mut self.phase else {
            unreachable!()
        };
        let mut file = match w.walker.open_file(&found) {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                self.skip(
                    &found.path,
                    SkipReason::new(SkipKind::Changed, "replaced by a symlink while backing up"),
                );
                return Ok(());
            }
            Err(e) => {
                self.skip(&found.path, SkipReason::io("", &e));
                return Ok(());
            }
        };
        // The stat the entry is made from: the file as opened, not as listed.
        let stat = match sys::fstat(file.as_fd()) {
            Ok(s) if s.is_file() => s,
            Ok(_) => {
                self.skip(
                    &found.path,
                    SkipReason::new(SkipKind::Changed, "no longer a regular file"),
                );
                return Ok(());
            }
            Err(e) => {
                self.skip(&found.path, SkipReason::io("", &e));
                return Ok(());
            }
        };
        if !zipwrite::mtime_storable(stat.mtime_s) {
            self.skip(&found.path, unstorable_time(stat.mtime_s));
        }
        let size = stat.size_bytes;
        let first = usize::try_from(size).map_or(SMALL_FILE, |s| s.min(SMALL_FILE));
        // One byte more than the size for small files, to notice growth.
        let want = if size as usize <= SMALL_FILE {
            first + 1
        } else {
            first
        };
        let got = match read_expecting(&mut file, &mut self.buf[..want], first) {
            Ok(n) => n,
            Err(e) => {
                self.skip(&found.path, SkipReason::io("read error: ", &e));
                return Ok(());
            }
        };
        let file_name = found.path.file_name().map_or(&[][..], |n| n.as_bytes());
        let Phase::Archive(w) = &mut self.phase else {
            unreachable!()
        };
        let e = |e| write_error(&w.temp.path, e);
        let head_len = got.min(first);
        let store =
            self.compress.is_none() || probe::should_store(file_name, &self.buf[..head_len]);
        let mtime = stat.mtime_s;
        self.files += 1;

        if size as usize <= SMALL_FILE {
            let data = &self.buf[..head_len];
            let changed = if got > first {
                Some(changed_while_read(
                    "grew while being read (archived as first seen)",
                ))
            } else if got < first {
                Some(changed_while_read(
                    "shrank while being read (archived as read)",
                ))
            } else {
                None
            };
            let mut crc = Crc::new();
            crc.update(data);
            let mut method = zipwrite::METHOD_STORE;
            if let (false, Some(c), Some(tiny)) =
                (store, self.compress.as_mut(), self.tiny.as_mut())
            {
                self.scratch.clear();
                // zlib's reset clears 176 KiB: most of the cost of a file of
                // a few bytes. The small encoder declines where zlib may do better.
                if !tiny.compress(data, &mut self.scratch) {
                    c.reset();
                    loop {
                        self.scratch.reserve(SMALL_FILE / 4);
                        let consumed = usize::try_from(c.total_in()).unwrap_or(data.len());
                        let status = c
                            .compress_vec(
                                &data[consumed..],
                                &mut self.scratch,
                                FlushCompress::Finish,
                            )
                            .map_err(|e| format!("deflate: {e}"))?;
                        if status == flate2::Status::StreamEnd {
                            break;
                        }
                    }
                }
                if self.scratch.len() < data.len() {
                    method = zipwrite::METHOD_DEFLATE;
                }
            }
            let stored: &[u8] = if method == zipwrite::METHOD_DEFLATE {
                &self.scratch
            } else {
                data
            };
            let open = w
                .out
                .start_entry(&Entry {
                    name: &found.name,
                    mode: stat.mode,
                    mtime_unix_s: mtime,
                    method,
                    zip64: false,
                })
                .map_err(e)?;
            w.out.write(stored).map_err(e)?;
            let sizes = Sizes {
                crc: crc.sum(),
                compressed: stored.len() as u64,
                uncompressed: data.len() as u64,
            };
            w.out.finish_entry(open, sizes).map_err(e)?;
            self.progress.bytes_done += data.len() as u64;
            let changed = changed.or_else(|| modified_since(&file, &stat));
            if let Some(reason) = changed {
                self.skip(&found.path, reason);
            }
            return Ok(());
        }

        let entry = Entry {
            name: &found.name,
            mode: stat.mode,
            mtime_unix_s: mtime,
            method: if store {
                zipwrite::METHOD_STORE
            } else {
                zipwrite::METHOD_DEFLATE
            },
            zip64: size >= zipwrite::ZIP64_ENTRY_THRESHOLD,
        };
        let open = w.out.start_entry(&entry).map_err(e)?;
        let data_start = w.out.position();
        let mut current = Current {
            file,
            path: found.path,
            open,
            deflate: !store,
            crc: Crc::new(),
            remaining: size,
            read: 0,
            data_start,
            at_open: stat,
            changed: None,
        };
        if let Some(c) = self.compress.as_mut() {
            c.reset();
        }
        if got < first {
            current.changed = Some(changed_while_read(
                "shrank while being read (archived as read)",
            ));
        }
        consume(
            &mut current,
            &mut w.out,
            self.compress.as_mut(),
            &self.buf[..head_len],
        )
        .map_err(e)?;
        self.progress.bytes_done += head_len as u64;
        w.current = Some(current);
        if self.progress.bytes_done > self.progress.bytes_total {
            self.progress.bytes_total = self.progress.bytes_done;
        }
        Ok(())
    }

    /// One chunk of the current large file, or its end.
    fn continue_file(&mut self) -> Result<bool, String> {
        let Phase::Archive(w) = &mut self.phase else {
            unreachable!()
        };
        let temp_path = w.temp.path.clone();
        let e = |e| write_error(&temp_path, e);
        let current = w.current.as_mut().expect("checked by caller");
        if current.remaining > 0 && current.changed.is_none() {
            let chunk = if current.deflate {
                DEFLATE_CHUNK
            } else {
                STORE_CHUNK
            };
            let want = usize::try_from(current.remaining).map_or(chunk, |r| r.min(chunk));
            match fill(&mut current.file, &mut self.buf[..want]) {
                Ok(n) => {
                    if n < want {
                        current.changed = Some(changed_while_read(
                            "shrank while being read (archived as read)",
                        ));
                    }
                    consume(current, &mut w.out, self.compress.as_mut(), &self.buf[..n])
                        .map_err(e)?;
                    self.progress.bytes_done += n as u64;
                }
                Err(err) => {
                    let context = format!("read error after {} bytes: ", current.read);
                    let mut why = SkipReason::io(&context, &err);
                    why.text.push_str(" (archived up to there)");
                    current.changed = Some(why);
                }
            }
            return Ok(false);
        }
        // The end: was there more than the size seen at open?
        let mut current = w.current.take().expect("checked by caller");
        if current.changed.is_none() {
            let mut probe_byte = [0u8; 1];
            if fill(&mut current.file, &mut probe_byte).is_ok_and(|n| n > 0) {
                current.changed = Some(changed_while_read(
                    "grew while being read (archived as first seen)",
                ));
            }
        }
        if current.deflate {
            let c = self.compress.as_mut().expect("deflate needs a compressor");
            w.out.deflate(c, &[], FlushCompress::Finish).map_err(e)?;
        }
        let compressed = w.out.position() - current.data_start;
        let sizes = Sizes {
            crc: current.crc.sum(),
            compressed,
            uncompressed: current.read,
        };
        w.out.finish_entry(current.open, sizes).map_err(e)?;
        let changed = current
            .changed
            .or_else(|| modified_since(&current.file, &current.at_open));
        if let Some(reason) = changed {
            self.skip(&current.path, reason);
        }
        Ok(false)
    }

    fn finish(&mut self, writing: Writing) -> Result<Outcome, String> {
        let Writing {
            out,
            mut temp,
            walker,
            ..
        } = writing;
        let entries = out.entries();
        out.finish().map_err(|e| write_error(&temp.path, e))?;
        let archive_bytes = fs::metadata(&temp.path)
            .map(|m| m.len())
            .map_err(|e| write_error(&temp.path, e))?;
        let dir = self.settings.backup_dir.clone();
        let file = commit(&temp.path, &dir, &self.stamp)
            .map_err(|e| format!("cannot name the archive in {}: {e}", dir.display()))?;
        temp.committed = true;
        drop(temp);
        let deleted = match retention::prune(&dir, self.settings.keep, &file) {
            Ok(d) => d,
            Err(e) => {
                // The new archive is safe; an old one left behind is only a warning.
                log::warn(format_args!("backup retention: {e}"));
                Vec::new()
            }
        };
        let duration = self.started.elapsed();
        let left = walker.left_out;
        log::info(format_args!(
            "backup done: {} ({} bytes, {} files, {} skipped, {} excluded, {} cache dirs left out) in {}s{}",
            file.display(),
            archive_bytes,
            self.files,
            self.skipped,
            left.excluded,
            left.cache_dirs,
            Fixed(duration.as_secs_f64(), 1),
            if deleted.is_empty() {
                String::new()
            } else {
                format!("; removed {} old archive(s)", deleted.len())
            }
        ));
        if self.skipped > SKIPPED_LIST_CAP as u64 {
            log::warn(format_args!(
                "backup: {} more skipped paths not listed",
                self.skipped - SKIPPED_LIST_CAP as u64
            ));
        }
        if self.skipped_permission > 0 {
            log::warn(format_args!(
                "backup incomplete: {} file(s) could not be read (permission denied); \
                 give sysmon CAP_DAC_READ_SEARCH or start it as root with `user =` (see README, Security)",
                self.skipped_permission
            ));
        }
        Ok(Outcome {
            file: Some(file),
            started_unix_s: self.started_unix_s,
            archive_bytes,
            data_bytes: self.progress.bytes_done,
            files: self.files,
            entries,
            skipped: self.skipped,
            skipped_permission: self.skipped_permission,
            skipped_list: std::mem::take(&mut self.skipped_list),
            duration,
            error: None,
            deleted,
        })
    }
}

/// The reason listed for a time the archive cannot hold (see `zipwrite`).
fn unstorable_time(mtime_s: i64) -> SkipReason {
    SkipReason::new(
        SkipKind::Unstorable,
        format!(
            "modification time {mtime_s} s from 1970 is outside what a zip holds \
             (1601 to the year 60056): archived clamped to that range"
        ),
    )
}

/// The end records at most: zip64 end record (56) and locator (20), then
/// the end of central directory (22).
const ZIP_END_RECORDS_MAX_BYTES: u64 = 56 + 20 + 22;

/// Bytes as MiB with one decimal, as the space errors show them.
fn mb(bytes: u64) -> Fixed {
    Fixed(bytes as f64 / (1u64 << 20) as f64, 1)
}

fn write_error(temp: &Path, e: io::Error) -> String {
    format!("writing {}: {e}", temp.display())
}

/// Feeds file bytes to the entry: CRC, then stored or deflated.
fn consume(
    current: &mut Current,
    out: &mut ZipOut,
    compress: Option<&mut Compress>,
    data: &[u8],
) -> io::Result<()> {
    current.crc.update(data);
    current.read += data.len() as u64;
    current.remaining = current.remaining.saturating_sub(data.len() as u64);
    match (current.deflate, compress) {
        (true, Some(c)) => out.deflate(c, data, FlushCompress::None),
        _ => out.write(data),
    }
}

/// A reason when the file's mtime or size moved while we read it.
fn modified_since(file: &File, at_open: &FileStat) -> Option<SkipReason> {
    let now = sys::fstat(file.as_fd()).ok()?;
    let facts = |s: &FileStat| (s.mtime_s, s.mtime_ns, s.size_bytes);
    (facts(&now) != facts(at_open))
        .then(|| changed_while_read("modified while being read (archived as read)"))
}

/// A file that changed while it was read, archived as `how` says.
fn changed_while_read(how: &str) -> SkipReason {
    SkipReason::new(SkipKind::Changed, how)
}

/// Gives the complete temporary its final name without ever replacing an
/// existing archive (the next `_N` when one is there).
fn commit(temp: &Path, dir: &Path, stamp: &str) -> io::Result<PathBuf> {
    let name = |n| retention::archive_name(stamp, n);
    fsutil::commit_unique(temp, dir, &name, "archives named backup_STAMP_N.zip")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary that cannot be removed (here a directory holding a file
    /// took its name: even root cannot `unlink` that) is reported with its
    /// path and why; one that can is removed, one already gone is no error.
    #[test]
    fn a_temporary_that_cannot_be_removed_is_reported_by_name() {
        let dir = std::env::temp_dir().join(format!("sysmon-temp-guard-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join(".backup_x.zip.tmp-1")).unwrap();
        fs::write(dir.join(".backup_x.zip.tmp-1/f"), b"x").unwrap();
        fs::write(dir.join(".backup_y.zip.tmp-1"), b"half").unwrap();
        let stuck = Temp {
            path: dir.join(".backup_x.zip.tmp-1"),
            committed: false,
        };
        let e = stuck.remove().unwrap_err().to_string();
        assert!(e.contains(".backup_x.zip.tmp-1"), "{e}");
        drop(stuck); // logs, never panics
        assert!(dir.join(".backup_x.zip.tmp-1").exists());
        let temp = Temp {
            path: dir.join(".backup_y.zip.tmp-1"),
            committed: false,
        };
        temp.remove().unwrap();
        assert!(!dir.join(".backup_y.zip.tmp-1").exists());
        temp.remove().expect("already gone is no error");
        drop(temp);
        let _ = fs::remove_dir_all(&dir);
    }
}
