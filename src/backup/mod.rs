//! The boot backup (issue #3): zip the configured folders into
//! `backup_dir/backup_YYYYmmdd_HHMMSS.zip`, once per kernel boot and every
//! `backup_every`, in bounded slices of the daemon's poll loop (or, when
//! its paths lie on a mount that may hang, of a thread of its own that the
//! loop polls: [`offloaded`]).
//!
//! The modules, bottom up:
//! - [`zipwrite`]: our streaming zip writer (raw names, Unix modes, UT
//!   and NTFS mtimes, zip64); [`probe`]: store or deflate?
//!   [`tinydeflate`]: deflate for files of a few KiB without zlib's
//!   per-stream cost (zlib-rs takes the rest).
//! - [`walk`]: the resumable, iterative directory walk with the skip rules
//!   (`backup_exclude` globs are [`crate::pathglob`]'s, shared with config).
//! - [`job`]: one run as a state machine (scan, archive, finish, retention);
//!   [`gate`]: the paths on mounts that may hang, asked off the loop before
//!   a run starts; [`offloaded`]: a run with such paths, on a thread of its
//!   own so a server that stops answering mid-run holds that thread only;
//!   [`retention`]: archive names, pruning, leftover temporaries;
//!   [`space`]: the least an archive takes, what is kept free, when to look;
//!   [`record`]: the last result as kept in `state_dir`.
//! - [`verify`]: the check behind `sysmon verify`: the `zip` crate's reader
//!   for the data, plus the header checks `unzip -t` makes.
//! - this file: [`BackupService`], the scheduler the daemon polls, and its
//!   [`BackupSnapshot`]: a `Copy` state that costs nothing to read, which
//!   alerts, metrics and sd_notify take; [`crate::report`] turns it (with
//!   the record and the source being walked) into the `backup` JSON object.
//!
//! Nothing here prints a result or picks an exit status: `sysmon backup`
//! and `sysmon verify` are in [`crate::cli`].
//!
//! "Once per boot" means once per kernel boot: after a successful boot
//! backup the kernel's `boot_id` is recorded in `state_dir/backup_boot_id`,
//! so a restarted or crash-looping daemon does not back up again; a failed
//! one is retried at the next start. The last result is kept in
//! `state_dir/backup_last.json` so the dashboard shows it after a restart;
//! `sysmon backup` writes the same record, and a running daemon takes it
//! up when the file changes (looked at once a minute, in a turn the loop
//! makes anyway, and at SIGHUP).

pub mod gate;
pub mod job;
pub mod offloaded;
pub mod probe;
pub mod record;
pub mod retention;
pub mod space;
pub mod tinydeflate;
pub mod verify;
pub mod walk;
pub mod zipwrite;

use crate::owned::owned;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::{fsutil, log, sys};
use gate::MountGate;
use job::{Job, Outcome, Poll, Progress, Settings};
use offloaded::OffloadedJob;
use record::{LastBackup, LastFigures};

/// What the backup is doing, or how its last run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupState {
    /// `backup = off`, or no `backup_source`.
    Disabled,
    /// Enabled, and the boot backup is still to be made (or none has run).
    Pending,
    Running,
    Ok,
    /// The last archive was written but some files could not be read for
    /// lack of permission: an incomplete backup is never plain `Ok`.
    Partial,
    Failed,
}

impl BackupState {
    /// The name /data.json shows.
    pub fn name(self) -> &'static str {
        match self {
            BackupState::Disabled => "disabled",
            BackupState::Pending => "pending",
            BackupState::Running => "running",
            BackupState::Ok => "ok",
            BackupState::Partial => "partial",
            BackupState::Failed => "failed",
        }
    }
}

/// The backup's state and figures at one moment: `Copy`, built without
/// allocating, so the loop reads it as often as it likes. The lists (files
/// skipped) and paths stay in the service: [`BackupService::last`],
/// [`BackupService::source`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackupSnapshot {
    pub state: BackupState,
    /// While a run is going.
    pub progress: Option<Progress>,
    /// The last run's figures, failed or not: /metrics'
    /// `sysmon_backup_last_run_success` and `_timestamp_seconds`.
    pub last: Option<LastFigures>,
    /// Unix time of the newest successful run known (kept when a later run
    /// fails, unlike `last`).
    pub last_success_at: Option<u64>,
    /// That run's figures, when known (a record of an older version may
    /// know its time alone): what /metrics' `sysmon_backup_last_size_bytes`
    /// and its siblings show.
    pub last_success: Option<LastFigures>,
    /// Unix time of the next scheduled run, if any (none while running).
    pub next_at: Option<u64>,
}

const BOOT_ID_FILE: &str = "backup_boot_id";

/// How often the daemon looks whether the record changed under it (a
/// `sysmon backup` run by hand): one `stat`, in a turn the loop makes
/// anyway ([`crate::period`]), never a wake-up of its own.
const RECORD_RECHECK: Duration = Duration::from_secs(60);

/// What tells one written record from another: `write_atomic` renames a
/// new file into place, so the inode changes with every write; the mtime
/// and size also catch an editor's rewrite in place.
type RecordId = (u64, i64, i64, u64);

/// The [`RecordId`] of the file at `path`; `None` when there is none.
fn record_id(path: &Path) -> Option<RecordId> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.ino(), meta.mtime(), meta.mtime_nsec(), meta.size()))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The kernel's id for this boot, from `<proc_root>/sys/kernel/random/boot_id`.
fn read_boot_id(proc_root: &Path) -> Option<String> {
    let path = proc_root.join("sys/kernel/random/boot_id");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Some(owned(s.trim())),
        Ok(_) => None,
        Err(e) => {
            log::warn(format_args!(
                "backup: cannot read {}: {e}; the backup will run at every start",
                path.display()
            ));
            None
        }
    }
}

pub struct BackupService {
    config: Config,
    enabled: bool,
    boot_id: Option<String>,
    /// The boot backup of this boot is still to be made.
    boot_due: bool,
    /// When the next backup starts (`None`: nothing scheduled).
    next_at: Option<Instant>,
    job: Option<Run>,
    job_started: Instant,
    /// The last run's record, which also carries the newest success known
    /// ([`LastBackup::newest_success`]): kept when a later run fails, and
    /// across a restart.
    last: Option<LastBackup>,
    /// `state_dir/backup_last.json`, and the file last read or written
    /// there: a different one is a record written by another (`sysmon
    /// backup`), read again.
    record_path: PathBuf,
    record_seen: Option<RecordId>,
    /// The record is there but could not be read ([`RecordUnreadable`]):
    /// read again at every look, and no failed run's result is written
    /// over it until it has been (its last success would be lost).
    record_unread: bool,
    record_check_at: Instant,
    last_poll: Instant,
    /// A due backup waiting for its paths on mounts that may hang, and
    /// when it looks again.
    gate: Option<MountGate>,
    gate_recheck_at: Instant,
    /// The due backup's paths on mounts that may hang (`a, b`), if any:
    /// it then runs on a thread of its own ([`offloaded`]).
    off_loop: Option<String>,
    /// Leftover temporaries are still to be removed (at start, unless
    /// `backup_dir` is on a mount that may hang: then before the first run,
    /// once the gate has opened; and before the run after a failed one).
    leftovers_due: bool,
}

/// How often a backup waiting at its gate looks again, until a server has
/// not answered for `STUCK_AFTER`; from then on the loop's own turns look
/// (a sample's at least), so a NAS switched off for days costs no wake-up.
const GATE_RECHECK: Duration = Duration::from_secs(1);

/// How often the loop looks at a run on its own thread (its progress for
/// the dashboard, its end), unless the run is stuck.
const OFF_LOOP_RECHECK: Duration = Duration::from_secs(1);

/// How long SIGTERM waits for a run on its own thread to stop.
const OFF_LOOP_STOP_WAIT: Duration = Duration::from_secs(1);

/// A run under way: in the loop's slices, or on a thread of its own.
enum Run {
    InLoop(Box<Job>),
    OffLoop(OffloadedJob),
}

impl Run {
    fn progress(&self) -> Progress {
        match self {
            Run::InLoop(job) => job.progress(),
            Run::OffLoop(job) => job.progress(),
        }
    }

    fn source(&self) -> &str {
        match self {
            Run::InLoop(job) => job.source(),
            Run::OffLoop(job) => job.source(),
        }
    }
}

impl BackupService {
    pub fn new(config: &Config) -> Self {
        // Past RLIMIT_FSIZE a write should fail (and be cleaned up), not kill us.
        sys::catch_file_size_signal();
        // A backup_dir on a NAS that does not answer must not hold the start.
        let leftovers_due = gate::may_hang(&config.proc_root, &config.backup_dir);
        if !leftovers_due {
            remove_leftovers(&config.backup_dir);
        }
        let record_path = config.state_dir.join(record::FILE);
        let record_seen = record_id(&record_path);
        let (last, record_unread) = match read_record(&record_path) {
            Ok(last) => (last, false),
            Err(unreadable) => {
                log_unreadable(&unreadable);
                (None, true)
            }
        };
        let now = Instant::now();
        let mut service = BackupService {
            config: config.clone(),
            enabled: false,
            boot_id: None,
            boot_due: false,
            next_at: None,
            job: None,
            job_started: now,
            last,
            record_path,
            record_seen,
            record_unread,
            record_check_at: now + RECORD_RECHECK,
            last_poll: now,
            gate: None,
            gate_recheck_at: now,
            off_loop: None,
            leftovers_due,
        };
        service.apply(config, true);
        service
    }

    /// Decides enabled/disabled and the schedule from `config`.
    fn apply(&mut self, config: &Config, at_start: bool) {
        let was_enabled = self.enabled;
        self.enabled = config.backup.enabled && !config.backup.sources.is_empty();
        if !self.enabled && (at_start || was_enabled) {
            if config.backup.enabled {
                log::info(format_args!(
                    "backup disabled: no backup_source is configured"
                ));
            } else {
                log::info(format_args!("backup disabled (backup = off)"));
            }
        }
        if !self.enabled {
            self.boot_due = false;
            self.next_at = None;
            return;
        }
        if at_start || !was_enabled {
            self.boot_id = read_boot_id(&config.proc_root);
            let recorded = read_state_file(&config.state_dir.join(BOOT_ID_FILE))
                .and_then(|b| String::from_utf8(b).ok());
            self.boot_due = match (&self.boot_id, recorded) {
                (Some(id), Some(rec)) => rec.trim() != id,
                _ => true,
            };
            if !self.boot_due {
                log::info(format_args!("backup: already made for this boot"));
            }
        }
        let now = Instant::now();
        self.next_at = if self.boot_due {
            Some(now)
        } else if let Some(every) = config.backup.every {
            let since_last = self
                .last
                .as_ref()
                .map_or(u64::MAX, |l| unix_now().saturating_sub(l.time));
            Some(now + Duration::from_secs(every.as_secs().saturating_sub(since_last)))
        } else {
            None
        };
    }

    /// SIGHUP: the new configuration applies to the next backup; a running
    /// one keeps the settings it started with.
    pub fn reconfigure(&mut self, config: &Config) {
        self.config = config.clone();
        // A record written by hand since, or the one of a new state_dir.
        self.record_path = config.state_dir.join(record::FILE);
        self.reread_record_if_changed();
        // A waiting backup waits for the new paths.
        self.gate = None;
        if self.job.is_none() {
            self.apply(config, false);
        } else {
            self.enabled = config.backup.enabled && !config.backup.sources.is_empty();
        }
    }

    /// Starts the backup when due and runs one slice of at most about `budget`.
    pub fn poll(&mut self, now: Instant, budget: Duration) {
        self.last_poll = now;
        if crate::period::is_due(now, self.record_check_at, RECORD_RECHECK) {
            self.record_check_at = now + RECORD_RECHECK;
            self.reread_record_if_changed();
        }
        if self.job.is_none() {
            if !self.enabled || self.next_at.is_none_or(|at| now < at) {
                self.gate = None;
                return;
            }
            if !self.gate_open(now) {
                return;
            }
            self.job_started = now;
            if let Err(outcome) = self.start() {
                return self.finished(*outcome);
            }
        }
        let finished = match self.job.as_mut() {
            None => return,
            Some(Run::InLoop(job)) => match job.step(Instant::now() + budget) {
                Poll::Finished(outcome) => Some(outcome),
                Poll::Running => None,
            },
            Some(Run::OffLoop(job)) => job.poll(now),
        };
        if let Some(outcome) = finished {
            self.job = None;
            self.finished(outcome);
        }
    }

    /// Starts the due run: on a thread of its own when its paths may hang
    /// ([`offloaded`]), else in the loop's slices.
    fn start(&mut self) -> Result<(), Box<Outcome>> {
        let settings = Settings::from_config(&self.config);
        if let Some(waits_on) = self.off_loop.take() {
            match OffloadedJob::start(settings.clone(), waits_on, self.leftovers_due) {
                Ok(job) => {
                    self.leftovers_due = false;
                    self.job = Some(Run::OffLoop(job));
                    return Ok(());
                }
                Err(e) => log::warn(format_args!(
                    "backup: no thread to run it on ({e}); running it in the loop"
                )),
            }
        }
        if std::mem::take(&mut self.leftovers_due) {
            remove_leftovers(&self.config.backup_dir);
        }
        self.job = Some(Run::InLoop(Box::new(Job::start(settings)?)));
        Ok(())
    }

    /// Whether the due backup may start: its paths on mounts that may hang
    /// (`backup_dir`, the sources) have answered, off the loop ([`gate`]).
    fn gate_open(&mut self, now: Instant) -> bool {
        let config = &self.config;
        let gate = match &mut self.gate {
            Some(gate) => gate,
            slot => {
                let paths = std::iter::once(&config.backup_dir).chain(&config.backup.sources);
                match MountGate::for_paths(&config.proc_root, paths) {
                    Some(gate) => {
                        self.gate_recheck_at = now;
                        self.off_loop = Some(gate.paths());
                        slot.insert(gate)
                    }
                    None => {
                        self.off_loop = None;
                        return true;
                    }
                }
            }
        };
        // Once stuck, every turn looks (a sample's, a request's): nothing is
        // asked while the call hangs, and the look costs a lock.
        if !gate.stuck() && !crate::period::is_due(now, self.gate_recheck_at, GATE_RECHECK) {
            return false;
        }
        let open = gate.open(now);
        self.gate_recheck_at = now + GATE_RECHECK;
        if open {
            self.gate = None;
        }
        open
    }

    fn finished(&mut self, outcome: Outcome) {
        // One more try: the record's last success belongs in this result.
        self.reread_record_if_changed();
        let result = LastBackup::from_outcome(&outcome).carrying_success_of(self.last.as_ref());
        if self.record_unread && !outcome.ok() {
            log::warn(format_args!(
                "backup: {}: still unreadable: this failed run's result is kept in memory, \
                 not written over it, so that the last success it holds is not lost",
                self.record_path.display()
            ));
        } else if let Err(e) = self.persist(&result, outcome.ok()) {
            log::warn(format_args!(
                "backup: cannot record the result in {}: {e}",
                self.config.state_dir.display()
            ));
        }
        if !outcome.ok() {
            // Its temporary may be left (see `job::Temp`): the next run
            // removes it first, not only the next start.
            self.leftovers_due = true;
        }
        self.last = Some(result);
        // A failed boot backup is retried at the next start, not in a loop.
        self.boot_due = false;
        self.next_at = match (self.enabled, self.config.backup.every) {
            (true, Some(every)) => Some((self.job_started + every).max(Instant::now())),
            _ => None,
        };
    }

    /// Takes up the record when the file is not the one last read or
    /// written here: `sysmon backup` ran meanwhile. Its run is then the
    /// last one shown (failed or not), and the newest success known is
    /// the later of its and the one before's; the schedule is kept.
    /// A record that could not be read is read again at every look; once
    /// read, a run kept in memory meanwhile stays the last one, carrying
    /// the record's success, and is written.
    fn reread_record_if_changed(&mut self) {
        let id = record_id(&self.record_path);
        if id.is_none() {
            // Gone: no success left in it to lose.
            self.record_unread = false;
            return;
        }
        if id == self.record_seen && !self.record_unread {
            return;
        }
        let record = match read_record(&self.record_path) {
            Ok(record) => record,
            Err(unreadable) => {
                if !std::mem::replace(&mut self.record_unread, true) {
                    log_unreadable(&unreadable);
                }
                return;
            }
        };
        self.record_seen = id;
        let was_unread = std::mem::take(&mut self.record_unread);
        let Some(record) = record else {
            return;
        };
        match self.last.take() {
            Some(kept) if was_unread && kept.time >= record.time => {
                let merged = kept.carrying_success_of(Some(&record));
                match record::write(&self.config.state_dir, &merged) {
                    Ok(()) => self.record_seen = record_id(&self.record_path),
                    Err(e) => log::warn(format_args!(
                        "backup: cannot record the result in {}: {e}",
                        self.config.state_dir.display()
                    )),
                }
                self.last = Some(merged);
            }
            last => self.last = Some(record.carrying_success_of(last.as_ref())),
        }
    }

    fn persist(&mut self, result: &LastBackup, ok: bool) -> std::io::Result<()> {
        let dir = &self.config.state_dir;
        record::write(dir, result)?;
        self.record_seen = record_id(&self.record_path);
        if ok && self.boot_due {
            if let Some(id) = &self.boot_id {
                fsutil::write_atomic(&dir.join(BOOT_ID_FILE), format!("{id}\n").as_bytes(), 0o600)?;
            }
        }
        Ok(())
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.job {
            // More work now: the loop only answers what is queued, then polls again.
            Some(Run::InLoop(_)) => return Some(self.last_poll),
            // Stuck: no wake-up of its own; the loop's turns look.
            Some(Run::OffLoop(job)) => {
                return (!job.stuck()).then_some(self.last_poll + OFF_LOOP_RECHECK);
            }
            None => {}
        }
        if let Some(gate) = &self.gate {
            // Stuck: no wake-up of its own; the loop's turns look.
            return (!gate.stuck()).then_some(self.gate_recheck_at);
        }
        if self.enabled { self.next_at } else { None }
    }

    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// The state now; allocates nothing.
    pub fn snapshot(&self) -> BackupSnapshot {
        let state = if self.job.is_some() {
            BackupState::Running
        } else if !self.enabled {
            BackupState::Disabled
        } else if self.boot_due {
            BackupState::Pending
        } else {
            match &self.last {
                Some(l) if l.error.is_none() && l.skipped_permission.unwrap_or(0) > 0 => {
                    BackupState::Partial
                }
                Some(l) if l.error.is_none() => BackupState::Ok,
                Some(_) => BackupState::Failed,
                None => BackupState::Pending,
            }
        };
        let next_at = match (&self.job, self.next_at, self.enabled) {
            (None, Some(at), true) => {
                Some(unix_now() + at.saturating_duration_since(Instant::now()).as_secs())
            }
            _ => None,
        };
        BackupSnapshot {
            state,
            progress: self.job.as_ref().map(Run::progress),
            last: self.last.as_ref().map(LastBackup::figures),
            last_success_at: self.last.as_ref().and_then(LastBackup::newest_success),
            last_success: self.last.as_ref().and_then(LastBackup::success_figures),
            next_at,
        }
    }

    /// The last run's record, with its list of skipped files.
    pub fn last(&self) -> Option<&LastBackup> {
        self.last.as_ref()
    }

    /// Why the due or running backup waits on a server that does not
    /// answer (the gate's paths, or a run's on its own thread); `None`
    /// otherwise. Allocates.
    pub fn waiting(&self) -> Option<String> {
        match (&self.job, &self.gate) {
            (Some(Run::OffLoop(job)), _) => job.waiting(),
            (None, Some(gate)) => gate.waiting(),
            _ => None,
        }
    }

    /// The source the running backup is walking (`None` when none runs).
    pub fn source(&self) -> Option<&str> {
        self.job.as_ref().map(Run::source)
    }

    /// SIGTERM: stop now, remove the temporary, keep every older archive.
    pub fn abandon(&mut self) {
        if let Some(run) = self.job.take() {
            let outcome = match run {
                Run::InLoop(job) => job.abort("the daemon is stopping"),
                Run::OffLoop(job) => job.abandon("the daemon is stopping", OFF_LOOP_STOP_WAIT),
            };
            self.reread_record_if_changed();
            let result = LastBackup::from_outcome(&outcome).carrying_success_of(self.last.as_ref());
            // A failure: not written over a record that could not be read.
            if !self.record_unread {
                let _ = record::write(&self.config.state_dir, &result);
            }
            self.last = Some(result);
        }
    }
}

/// The most a state file of the backup holds (the last result's JSON, a
/// boot id); a larger one is not ours.
const MAX_STATE_FILE_BYTES: usize = 64 * 1024;

/// The bytes of a state file of the backup, or `None` when there is none
/// or it cannot be read (logged: it is then taken as missing). Never waits
/// on a FIFO put in its place ([`fsutil::read_regular`]).
fn read_state_file(path: &Path) -> Option<Vec<u8>> {
    match fsutil::read_regular(path, MAX_STATE_FILE_BYTES) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            log::warn(format_args!("backup: {e}: taken as missing"));
            None
        }
    }
}

/// The record at `path` (see [`read_state_file`]), its times in the future
/// taken as now and durations no run can have taken left out (each
/// logged); `None`, logged, when it is not one.
pub(crate) fn read_record(path: &Path) -> Result<Option<LastBackup>, RecordUnreadable> {
    #[cfg(debug_assertions)]
    if let Some(e) = injected_read_error(path) {
        return Err(RecordUnreadable(e));
    }
    let bytes = match fsutil::read_regular(path, MAX_STATE_FILE_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // Not ours (a FIFO, a directory, over 64 KiB): no record to keep.
        Err(e) if is_not_a_record(&e) => {
            log::warn(format_args!("backup: {e}: taken as missing"));
            return Ok(None);
        }
        Err(e) => return Err(RecordUnreadable(e)),
    };
    let record = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| miniserde::json::from_str::<LastBackup>(s).ok());
    let Some(record) = record else {
        log::warn(format_args!(
            "backup: {}: not a backup record (JSON of the fields of /data.json's \
             backup.last expected); taken as missing",
            path.display()
        ));
        return Ok(None);
    };
    let now = unix_now();
    let (record, future) = record.with_times_not_after(now);
    if future {
        log::warn(format_args!(
            "backup: {}: a time in the future (written while the clock was ahead, \
             or edited); taken as now",
            path.display()
        ));
    }
    let (record, insane) = record.with_sane_durations(now);
    if insane {
        log::warn(format_args!(
            "backup: {}: duration_s negative or longer than since 1970 (edited, or \
             corrupt); left out",
            path.display()
        ));
    }
    Ok(Some(record))
}

/// Says, naming the file, that the record could not be read.
fn log_unreadable(unreadable: &RecordUnreadable) {
    log::warn(format_args!(
        "backup: {}: the last result could not be read; kept as it is and read again",
        unreadable.0
    ));
}

/// A record that is there but could not be read (no descriptors left, an
/// I/O error, no permission): it may hold the last success, so it is not
/// "no record", and no record that would drop it is written over it. The
/// error names the file.
#[derive(Debug)]
pub struct RecordUnreadable(pub std::io::Error);

/// `e` says the file at the record's path is no record sysmon wrote (not a
/// regular file, larger than any record), not that it could not be read.
fn is_not_a_record(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::FileTooLarge)
}

/// Debug builds: `SYSMON_TEST_BACKUP_RECORD_READ_ERRORS=N` fails the first
/// N reads of the record with EMFILE (no descriptors left), which tests
/// cannot bring about without failing the backup's own opens first.
#[cfg(debug_assertions)]
fn injected_read_error(path: &Path) -> Option<std::io::Error> {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LEFT: AtomicI64 = AtomicI64::new(i64::MIN);
    if LEFT.load(Ordering::Relaxed) == i64::MIN {
        let n = std::env::var("SYSMON_TEST_BACKUP_RECORD_READ_ERRORS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        LEFT.store(n, Ordering::Relaxed);
    }
    (LEFT.fetch_sub(1, Ordering::Relaxed) > 0).then(|| {
        let e = std::io::Error::from_raw_os_error(libc::EMFILE);
        fsutil::with_path(path, e)
    })
}

/// Removes what an interrupted run left in `dir` (logged).
pub(crate) fn remove_leftovers(dir: &Path) {
    match retention::remove_leftover_temporaries(dir) {
        Ok(0) => {}
        Ok(n) => log::info(format_args!(
            "backup: removed {n} leftover temporary file(s) in {}",
            dir.display()
        )),
        Err(e) => log::warn(format_args!("backup: cleaning leftover temporaries: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(time: u64, error: Option<&str>) -> LastBackup {
        LastBackup {
            file: error.is_none().then(|| format!("/b/backup_{time}.zip")),
            time,
            error: error.map(str::to_string),
            ..LastBackup::default()
        }
    }

    /// A failed run may leave its temporary (when it cannot be removed,
    /// `job::Temp`): the next run of the daemon removes such leftovers
    /// first, and leaves a finished archive beside them alone. Before, only
    /// a restart did.
    #[test]
    fn the_run_after_a_failed_one_removes_leftover_temporaries() {
        let dir = std::env::temp_dir().join(format!("sysmon-leftovers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (src, backups) = (dir.join("src"), dir.join("backups"));
        let text = format!(
            "backup_source = {}\nbackup_dir = {}\nstate_dir = {}\nbackup_every = 1h\nbackup_keep = 5\n",
            src.display(),
            backups.display(),
            dir.join("state").display()
        );
        let config = Config::parse(text.as_bytes(), Path::new("t.conf")).unwrap();
        let mut service = BackupService::new(&config);
        let start = Instant::now();
        service.poll(start, Duration::from_secs(5));
        let snap = service.snapshot();
        assert_eq!(snap.state, BackupState::Failed, "no source yet");

        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("f.txt"), b"data").unwrap();
        let stale = backups.join(".backup_20240102_030405.zip.tmp-77");
        let finished = backups.join("backup_20240102_030405.zip");
        std::fs::create_dir_all(&backups).unwrap();
        std::fs::write(&stale, b"half an archive").unwrap();
        std::fs::write(&finished, b"an older archive").unwrap();
        let next = start + Duration::from_secs(3600);
        for _ in 0..1000 {
            service.poll(next, Duration::from_secs(5));
            if !service.is_running() {
                break;
            }
        }
        assert_eq!(service.snapshot().state, BackupState::Ok);
        assert!(!stale.exists(), "the leftover is removed by the next run");
        assert_eq!(std::fs::read(&finished).unwrap(), b"an older archive");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The newest success outlives a failed run and a restart: a daemon
    /// started after a failure still shows the success before it, in the
    /// snapshot (/metrics, `alert_backup_age`) and in /data.json's
    /// `backup.last`. Before, only the last run was recorded, and a restart
    /// after a failure forgot that any backup had ever succeeded.
    #[test]
    fn the_last_success_is_kept_across_a_failure_and_a_restart() {
        let dir = std::env::temp_dir().join(format!("sysmon-success-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state_dir = dir.join("state");
        let text = format!(
            "backup_source = {}\nbackup_dir = {}\nstate_dir = {}\n",
            dir.join("gone").display(),
            dir.join("backups").display(),
            state_dir.display()
        );
        let config = Config::parse(text.as_bytes(), Path::new("t.conf")).unwrap();
        // As an older version recorded it: no `last_success` of its own.
        let success = LastBackup {
            bytes: 4096,
            files: 3,
            skipped: 2,
            skipped_permission: Some(1),
            duration_s: Some(1.5),
            ..recorded(1000, None)
        };
        record::write(&state_dir, &success).unwrap();
        let mut service = BackupService::new(&config);
        assert_eq!(service.snapshot().last_success_at, Some(1000));
        // No boot id to be had: the boot backup is due, and fails.
        service.poll(Instant::now(), Duration::from_secs(5));
        let snap = service.snapshot();
        assert_eq!(snap.state, BackupState::Failed);
        assert_eq!(snap.last_success_at, Some(1000), "a failure keeps it");
        assert_eq!(
            snap.last_success,
            success.success_figures(),
            "and its figures"
        );
        drop(service);

        let restarted = BackupService::new(&config);
        let snap = restarted.snapshot();
        assert_eq!(
            snap.state,
            BackupState::Pending,
            "the boot backup is due again"
        );
        assert!(snap.last.is_some_and(|l| !l.ok));
        assert_eq!(snap.last_success_at, Some(1000), "and a restart too");
        let figures = snap.last_success.map(|f| (f.time, f.bytes, f.duration_s));
        assert_eq!(figures, Some((1000, 4096, Some(1.5))));
        assert_eq!(
            snap.last_success.map(|f| (f.skipped, f.skipped_permission)),
            Some((2, Some(1)))
        );
        let json = crate::report::BackupJson::new(&restarted).last.unwrap();
        assert_eq!(json.last_success_at, Some(1000));
        let shown = json.last_success.map(|f| (f.file, f.bytes, f.duration_s));
        assert_eq!(
            shown,
            Some((success.file.clone(), 4096, Some(1.5))),
            "/data.json says the same"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A `sysmon backup` run by hand while the daemon runs writes the
    /// record; the daemon shows it from its next look (or at SIGHUP), and
    /// a failed one by hand keeps the last success known.
    #[test]
    fn a_record_written_by_another_is_taken_up() {
        let dir = std::env::temp_dir().join(format!("sysmon-record-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state_dir = dir.join("state");
        let text = format!(
            "backup = off\nstate_dir = {}\nbackup_dir = {}\n",
            state_dir.display(),
            dir.join("backups").display()
        );
        let config = Config::parse(text.as_bytes(), Path::new("t.conf")).unwrap();
        record::write(&state_dir, &recorded(1000, None)).unwrap();
        let mut service = BackupService::new(&config);
        assert_eq!(service.last().map(|l| l.time), Some(1000));

        record::write(&state_dir, &recorded(2000, None)).unwrap();
        let start = Instant::now();
        service.poll(start, Duration::ZERO);
        assert_eq!(service.last().map(|l| l.time), Some(1000), "not looked yet");
        service.poll(start + RECORD_RECHECK, Duration::ZERO);
        assert_eq!(service.last().map(|l| l.time), Some(2000));
        assert_eq!(service.snapshot().last_success_at, Some(2000));

        record::write(&state_dir, &recorded(3000, Some("source /x: gone"))).unwrap();
        service.poll(start + 2 * RECORD_RECHECK, Duration::ZERO);
        let snap = service.snapshot();
        assert_eq!(snap.last.map(|l| (l.time, l.ok)), Some((3000, false)));
        assert_eq!(snap.last_success_at, Some(2000), "a failure keeps it");

        // SIGHUP looks at once.
        record::write(&state_dir, &recorded(4000, None)).unwrap();
        service.reconfigure(&config);
        assert_eq!(service.snapshot().last_success_at, Some(4000));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
