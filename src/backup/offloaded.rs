//! A backup whose paths lie on a mount that may hang runs on a thread of
//! its own, so a server that stops answering in the middle of a run holds
//! that thread, never the loop.
//!
//! The gate ([`super::gate`]) covers a run's start: a NAS that is down when
//! the backup is due. A NAS that goes down while a run reads from it or
//! writes to it is met in the middle, by a `read`, `write` or `fsync` that
//! waits as long as the server does (for good, on a hard NFS mount): run in
//! the loop's slices, that call would stop every sample and every answer.
//! So when `backup_dir` or a source is on such a mount
//! ([`crate::proc::mounts::may_hang`]), [`OffloadedJob::start`] hands the
//! run to a thread that makes the same [`Job`] and steps it in the same
//! bounded slices; the loop polls it at its own turns and records its
//! outcome as it records a run of its own. Runs on local file systems stay
//! in the loop's slices (no thread), as the design has them.
//!
//! Invariants:
//! - The loop never waits for the thread: it takes the lock, which the
//!   thread holds only to publish its progress or outcome, never across a
//!   slice. [`OffloadedJob::abandon`] (SIGTERM) waits at most the time it
//!   is given; a run held by a server is then left to die with the process,
//!   its temporary removed with the leftovers at the next run.
//! - A slice that has not ended after [`STUCK_AFTER`] is logged once,
//!   naming the run's paths on such mounts, and its end once; the loop adds
//!   no wake-up of its own meanwhile ([`OffloadedJob::stuck`]).
//! - The thread blocks every signal (see [`crate::sample::mount_probe`]:
//!   a caught signal delivered to a thread waiting on a FUSE server makes
//!   its wait uninterruptible).

use crate::owned::owned;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::job::{Job, Outcome, Poll, Progress, Settings};
use crate::log;
use crate::sample::mount_probe::STUCK_AFTER;
use crate::sys;

/// How long the thread works before it publishes its progress and looks
/// for a stop request: the loop's slice, ten times over (nothing waits on
/// this thread between slices).
const SLICE: Duration = Duration::from_millis(50);

/// The thread's stack. The run's buffers are on the heap and its walk is
/// iterative; this leaves deflate and the file system calls a wide margin
/// (only the pages touched become resident).
const STACK_BYTES: usize = 1024 * 1024;

/// A run on its own thread, as the loop sees it.
pub struct OffloadedJob {
    shared: Arc<Shared>,
    /// The progress and source as of the last [`OffloadedJob::poll`]: read
    /// by the snapshot and the report without a lock.
    progress: Progress,
    source: String,
    /// The run's paths on mounts that may hang (`a, b`), for the log: the
    /// call that waits may be on a source or on `backup_dir`.
    waits_on: String,
    /// A stuck slice was logged, and its end not yet.
    logged_stuck: bool,
    /// Unix time the run began, for an outcome made without the thread.
    started_unix_s: u64,
}

struct Shared {
    state: Mutex<State>,
    /// Notified when the run ends (abandon waits on it, bounded).
    ended: Condvar,
}

struct State {
    progress: Progress,
    source: String,
    /// When the slice under way began (`None` between slices).
    slice_began: Option<Instant>,
    stop: bool,
    outcome: Option<Outcome>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The thread never panics holding the lock (panic = abort); the
        // state is plain data either way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn end(&self, outcome: Outcome) {
        let mut state = self.lock();
        state.slice_began = None;
        state.outcome = Some(outcome);
        drop(state);
        self.ended.notify_all();
    }
}

impl OffloadedJob {
    /// Starts the thread, which removes the leftover temporaries first when
    /// `remove_leftovers` says so, then makes and runs the [`Job`].
    /// `waits_on` names the run's paths on mounts that may hang, for the log.
    pub fn start(
        settings: Settings,
        waits_on: String,
        remove_leftovers: bool,
    ) -> std::io::Result<OffloadedJob> {
        let scanning = Progress {
            phase: super::job::ProgressPhase::Scanning,
            files_done: 0,
            files_total: 0,
            bytes_done: 0,
            bytes_total: 0,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                progress: scanning,
                source: String::new(),
                // The start (the leftovers, `mkdir`, each source's `stat`)
                // counts as the first slice.
                slice_began: Some(Instant::now()),
                stop: false,
                outcome: None,
            }),
            ended: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(owned("sysmon-backup"))
            .stack_size(STACK_BYTES)
            .spawn(move || {
                // No signal may land on a thread waiting for a server.
                sys::block_all_in_this_thread();
                run(&theirs, settings, remove_leftovers);
            })?;
        Ok(OffloadedJob {
            shared,
            progress: scanning,
            source: String::new(),
            waits_on,
            logged_stuck: false,
            started_unix_s: unix_now(),
        })
    }

    /// Takes the thread's progress, and its outcome once the run ended.
    /// Logs a slice stuck past [`STUCK_AFTER`], and its end. Never waits.
    pub fn poll(&mut self, now: Instant) -> Option<Outcome> {
        let mut state = self.shared.lock();
        self.progress = state.progress;
        if self.source != state.source {
            self.source.clone_from(&state.source);
        }
        let stuck_since = state
            .slice_began
            .filter(|began| now.saturating_duration_since(*began) >= STUCK_AFTER);
        let outcome = state.outcome.take();
        drop(state);
        match stuck_since {
            Some(_) if !self.logged_stuck => {
                self.logged_stuck = true;
                log::warn(format_args!(
                    "backup: {}; the backup waits on its own thread, the daemon serves on",
                    Stalled(&self.waits_on)
                ));
            }
            None if self.logged_stuck => {
                self.logged_stuck = false;
                log::info(format_args!(
                    "backup: going on ({} answered again)",
                    self.waits_on
                ));
            }
            _ => {}
        }
        outcome
    }

    /// Whether a slice was stuck at the last poll: the loop then polls at
    /// its own turns only (no wake-up of its own).
    pub fn stuck(&self) -> bool {
        self.logged_stuck
    }

    /// Why the run makes no progress, for /data.json; `None` unless stuck.
    /// Allocates.
    pub fn waiting(&self) -> Option<String> {
        self.logged_stuck
            .then(|| Stalled(&self.waits_on).to_string())
    }

    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// The source being walked (empty before the first).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// SIGTERM: asks the thread to stop (the temporary removed, as
    /// [`Job::abort`]) and waits at most `wait` for it. A run held by a
    /// server that does not answer is left to end with the process; its
    /// outcome says so, and its temporary goes with the next run's
    /// leftovers.
    pub fn abandon(self, why: &str, wait: Duration) -> Outcome {
        let mut state = self.shared.lock();
        state.stop = true;
        let deadline = Instant::now() + wait;
        while state.outcome.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .shared
                .ended
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if let Some(outcome) = state.outcome.take() {
            return outcome;
        }
        drop(state);
        let error = format!(
            "interrupted: {why}, while the backup waited for {}",
            self.waits_on
        );
        log::error(format_args!("backup failed: {error}"));
        Outcome {
            started_unix_s: self.started_unix_s,
            files: self.progress.files_done,
            error: Some(error),
            ..Outcome::default()
        }
    }
}

/// What a stuck run waits for, as the log and /data.json say it.
struct Stalled<'a>(&'a str);

impl std::fmt::Display for Stalled<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no progress for {} s, waiting for {} (a network or FUSE file system whose server \
             stopped answering?)",
            STUCK_AFTER.as_secs(),
            self.0
        )
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The thread: the run, slice by slice, publishing between slices.
fn run(shared: &Shared, settings: Settings, remove_leftovers: bool) {
    if remove_leftovers {
        super::remove_leftovers(&settings.backup_dir);
    }
    let mut job = match Job::start(settings) {
        Ok(job) => job,
        Err(outcome) => return shared.end(*outcome),
    };
    loop {
        let mut state = shared.lock();
        state.progress = job.progress();
        if state.source != job.source() {
            state.source.clear();
            state.source.push_str(job.source());
        }
        if state.stop {
            drop(state);
            return shared.end(job.abort("the daemon is stopping"));
        }
        state.slice_began = Some(Instant::now());
        drop(state);
        if let Poll::Finished(outcome) = job.step(Instant::now() + SLICE) {
            return shared.end(outcome);
        }
        shared.lock().slice_began = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// A directory removed at the end of the test.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(name: &str) -> TempDir {
            let path = std::env::temp_dir()
                .join(format!("sysmon-offloaded-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(path.join("source")).unwrap();
            TempDir(path)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn settings(dir: &Path, level: u32) -> Settings {
        Settings {
            sources: vec![dir.join("source")],
            excludes: Vec::new(),
            level,
            one_file_system: false,
            backup_dir: dir.join("backups"),
            keep: 3,
        }
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Polls as the loop does until the run ends.
    fn finish(mut job: OffloadedJob) -> Outcome {
        let began = Instant::now();
        loop {
            if let Some(outcome) = job.poll(Instant::now()) {
                return outcome;
            }
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "the run never ended"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_run_on_its_thread_writes_the_archive_and_removes_the_leftovers_first() {
        let dir = TempDir::new("run");
        std::fs::write(dir.0.join("source/a.txt"), b"first\n").unwrap();
        std::fs::write(dir.0.join("source/b.txt"), vec![b'x'; 200_000]).unwrap();
        std::fs::create_dir_all(dir.0.join("backups")).unwrap();
        let leftover = dir.0.join("backups/.backup_20240102_030405.zip.tmp-77");
        std::fs::write(&leftover, b"half an archive").unwrap();

        let outcome =
            finish(OffloadedJob::start(settings(&dir.0, 6), String::new(), true).unwrap());

        assert_eq!(outcome.error, None);
        assert_eq!(outcome.files, 2);
        let archive = outcome.file.expect("an archive");
        assert!(archive.exists(), "{}", archive.display());
        assert_eq!(
            names_in(&dir.0.join("backups")),
            [archive.file_name().unwrap().to_string_lossy()],
            "the leftover is gone, the archive is alone"
        );
        assert!(!leftover.exists());
    }

    #[test]
    fn a_run_that_cannot_start_ends_with_the_jobs_error() {
        let dir = TempDir::new("no-source");
        std::fs::remove_dir(dir.0.join("source")).unwrap();
        let outcome =
            finish(OffloadedJob::start(settings(&dir.0, 6), String::new(), false).unwrap());
        let error = outcome.error.expect("an error");
        let expected = format!("source {}: ", dir.0.join("source").display());
        assert!(error.starts_with(&expected), "{error}");
    }

    #[test]
    fn abandon_stops_the_run_between_slices_and_removes_its_temporary() {
        let dir = TempDir::new("abandon");
        // Text-like data (deflate keeps it) at the slowest level: seconds
        // of work, far more than a slice.
        let mut data = vec![0u8; 32 << 20];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for byte in &mut data {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *byte = b"etaoin shrdlu\n"[(x % 14) as usize];
        }
        std::fs::write(dir.0.join("source/noise.bin"), &data).unwrap();
        let mut job = OffloadedJob::start(settings(&dir.0, 9), String::new(), false).unwrap();
        // Into the archive phase: a temporary exists.
        let began = Instant::now();
        while job.progress().phase == super::super::job::ProgressPhase::Scanning {
            assert!(job.poll(Instant::now()).is_none(), "ended before abandon");
            assert!(began.elapsed() < Duration::from_secs(30));
            std::thread::sleep(Duration::from_millis(1));
        }

        let asked = Instant::now();
        let outcome = job.abandon("the daemon is stopping", Duration::from_secs(10));

        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
        assert_eq!(
            outcome.error.as_deref(),
            Some("interrupted: the daemon is stopping")
        );
        assert_eq!(names_in(&dir.0.join("backups")), Vec::<String>::new());
    }
}
