//! `statvfs` of the mounts that can hang, made off the loop's thread.
//!
//! On a network file system `statvfs` asks the server (NFS, CIFS, Ceph,
//! ...), and on a FUSE file system its daemon. A hard NFS mount whose
//! server is gone, or a FUSE daemon that stopped answering, keeps the
//! caller waiting until it answers: made by the loop, that call would stop
//! every sample and every answer, the whole daemon, while the box needs
//! watching most. So each such mount ([`crate::proc::mounts::may_hang`])
//! has a thread of its own that makes the call when asked and waits on a
//! condition variable in between, and a sample takes the figures the
//! previous call left: a network mount's figures are up to one interval
//! old. Local file systems are still asked by the loop itself, in line.
//! The backup asks its paths on such mounts the same way before it starts
//! (`crate::backup::gate`).
//!
//! Invariants:
//! - The loop never waits for a probe: it takes the probe's lock, which the
//!   thread holds only to take a request or store a result, never across
//!   the call.
//! - A call that has not returned after [`STUCK_AFTER`] makes the mount
//!   *stuck*: no figures (so /metrics has node_exporter's
//!   `node_filesystem_device_error 1` for it, as node_exporter does for a
//!   mount that stops answering), logged once when it starts and once when
//!   the call returns; nothing more is asked of it meanwhile, so a stuck
//!   mount holds one blocked thread, never more.
//! - A probe thread blocks every signal: a caught signal delivered to a
//!   thread waiting on a FUSE daemon makes its wait uninterruptible, which
//!   would hold the handler (and SIGTERM's wake-up) until the server answers.
//! - When the mount leaves the list (the table changed), its thread ends
//!   after the call it is in, if any: a stuck one when the server answers
//!   or the mount is unmounted (`umount -f`, `-l`) and the call fails.

use crate::owned::owned;
use std::ffi::CString;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::sys::{self, FsStats};

/// How long a call may take before the mount counts as stuck
/// (node_exporter's `--collector.filesystem.mount-timeout` default).
pub const STUCK_AFTER: Duration = Duration::from_secs(5);

/// What a stuck mount's `statvfs` is said to be, in the log, /data.json's
/// `disk_errors` and the backup's `waiting`.
pub struct NotAnswering;

impl std::fmt::Display for NotAnswering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "statvfs has not returned for {} s (a network or FUSE file system whose server \
             does not answer?)",
            STUCK_AFTER.as_secs()
        )
    }
}

/// A probe thread's stack: it makes one system call.
const STACK_BYTES: usize = 64 * 1024;

/// One mount's probe: the thread and what it shares with the loop.
pub struct MountProbe {
    shared: Arc<Shared>,
    /// Whether the loop has logged this mount as stuck.
    logged_stuck: bool,
    /// What waits while it is stuck, for the log ("its figures are left
    /// out", "the backup waits").
    meanwhile: &'static str,
}

struct Shared {
    path: CString,
    state: Mutex<State>,
    asked: Condvar,
}

#[derive(Default)]
struct State {
    /// Set by the loop when it asks, cleared by the thread with the answer.
    asked_at: Option<Instant>,
    /// The last call's figures (`None`: it failed, or none returned yet).
    stats: Option<FsStats>,
    /// The last call's errno when it failed (0 otherwise).
    errno: i32,
    /// A call has returned (failed or not).
    answered: bool,
    /// The mount left the list: the thread ends.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Neither side panics while holding the lock; a poisoned one holds
        // plain values all the same.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a probe gave a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probed {
    /// The last figures, `None` while stuck, after a failed call, or
    /// before the first call returned.
    pub stats: Option<FsStats>,
    /// The last call's errno when it failed (0 otherwise).
    pub errno: i32,
    /// The call in progress was asked more than [`STUCK_AFTER`] ago.
    pub stuck: bool,
    /// A call has returned since the probe started.
    pub answered: bool,
}

impl MountProbe {
    /// Starts the thread for the mount at `path`; an error if no thread
    /// could be started (the caller then has no figures for the mount; it
    /// never makes the call itself). `meanwhile` ends the warning logged
    /// when it is stuck: what waits for it ("its figures are left out").
    pub fn start(path: CString, meanwhile: &'static str) -> std::io::Result<MountProbe> {
        MountProbe::start_with(path, meanwhile, sys::statvfs)
    }

    /// [`MountProbe::start`] with the call given (tests make one that hangs).
    fn start_with(
        path: CString,
        meanwhile: &'static str,
        statvfs: fn(&std::ffi::CStr) -> std::io::Result<FsStats>,
    ) -> std::io::Result<MountProbe> {
        let shared = Arc::new(Shared {
            path,
            state: Mutex::new(State::default()),
            asked: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(owned("sysmon-statfs"))
            .stack_size(STACK_BYTES)
            .spawn(move || {
                // No signal may land on a thread waiting for a server.
                sys::block_all_in_this_thread();
                probe_when_asked(&theirs, statvfs)
            })?;
        Ok(MountProbe {
            shared,
            logged_stuck: false,
            meanwhile,
        })
    }

    /// The path it asks about.
    pub fn path(&self) -> &std::ffi::CStr {
        &self.shared.path
    }

    /// The figures the last call left, asking for the next call unless
    /// one is in progress. Never waits for the call.
    pub fn take(&mut self, now: Instant) -> Probed {
        let mut state = self.shared.lock();
        let stuck = match state.asked_at {
            None => {
                state.asked_at = Some(now);
                self.shared.asked.notify_one();
                false
            }
            Some(asked_at) => now.saturating_duration_since(asked_at) >= STUCK_AFTER,
        };
        let stats = if stuck { None } else { state.stats };
        let (answered, errno) = (state.answered, state.errno);
        drop(state);
        if stuck != self.logged_stuck {
            let path = self.shared.path.to_string_lossy();
            if stuck {
                crate::log::warn(format_args!(
                    "{path}: {NotAnswering}; {} until it does",
                    self.meanwhile
                ));
            } else {
                crate::log::info(format_args!("{path}: statvfs returned again"));
            }
            self.logged_stuck = stuck;
        }
        Probed {
            stats,
            errno,
            stuck,
            answered,
        }
    }

    /// Whether the call was stuck at the last [`MountProbe::take`].
    pub fn stuck(&self) -> bool {
        self.logged_stuck
    }

    /// Whether a call was asked and has not returned yet (stuck or not).
    pub fn in_call(&self) -> bool {
        self.shared.lock().asked_at.is_some()
    }
}

impl Drop for MountProbe {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.asked.notify_one();
    }
}

/// The thread: one call per request, until the probe is dropped.
fn probe_when_asked(shared: &Shared, statvfs: fn(&std::ffi::CStr) -> std::io::Result<FsStats>) {
    loop {
        let state = shared.lock();
        let state = shared
            .asked
            .wait_while(state, |s| s.asked_at.is_none() && !s.closed)
            .unwrap_or_else(PoisonError::into_inner);
        if state.closed {
            return;
        }
        drop(state);
        let result = statvfs(&shared.path);
        let mut state = shared.lock();
        state.errno = result
            .as_ref()
            .err()
            .map_or(0, |e| e.raw_os_error().unwrap_or(libc::EIO));
        state.stats = result.ok();
        state.answered = true;
        state.asked_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    static HANG: AtomicBool = AtomicBool::new(false);
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    /// statvfs of "/", or waiting while HANG is set (a server that went away).
    fn hanging_statvfs(path: &std::ffi::CStr) -> std::io::Result<FsStats> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        while HANG.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        sys::statvfs(path)
    }

    fn settle(probe: &MountProbe) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while probe.shared.lock().asked_at.is_some() {
            assert!(Instant::now() < deadline, "the probe did not answer");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A call that fails leaves no figures and its errno (what /data.json's
    /// `disk_errors` says).
    #[test]
    fn a_failed_call_gives_its_errno() {
        let mut probe = MountProbe::start(c"/no/such/mount-point".to_owned(), "test").unwrap();
        probe.take(Instant::now());
        settle(&probe);
        let failed = probe.take(Instant::now());
        assert_eq!(
            (failed.stats, failed.errno, failed.answered, failed.stuck),
            (None, libc::ENOENT, true, false)
        );
    }

    /// Figures one call late; a call that does not return leaves the loop's
    /// side free, counts as stuck after STUCK_AFTER (no figures, no second
    /// call), and the figures come back once it returns.
    #[test]
    fn a_call_that_does_not_return_never_holds_the_sample() {
        let root = sys::statvfs(c"/").unwrap();
        let mut probe = MountProbe::start_with(c"/".to_owned(), "test", hanging_statvfs).unwrap();
        let t0 = Instant::now();
        let first = probe.take(t0);
        assert_eq!(
            first,
            Probed {
                stats: None,
                errno: 0,
                stuck: false,
                answered: false,
            },
            "nothing returned yet"
        );
        settle(&probe);
        let second = probe.take(t0);
        assert_eq!(second.stats.map(|s| s.blocks), Some(root.blocks));
        assert!(second.answered);
        settle(&probe);

        HANG.store(true, Ordering::SeqCst);
        let calls = CALLS.load(Ordering::SeqCst);
        let asked = probe.take(t0);
        assert!(
            asked.stats.is_some() && !asked.stuck,
            "the previous figures"
        );
        let wait = Instant::now() + Duration::from_secs(10);
        while CALLS.load(Ordering::SeqCst) == calls {
            assert!(Instant::now() < wait, "the call was not made");
            std::thread::sleep(Duration::from_millis(1));
        }
        // The call hangs; taking figures returns at once all the same.
        let taken_at = Instant::now();
        let waiting = probe.take(t0 + STUCK_AFTER / 2);
        assert!(!waiting.stuck && waiting.stats.is_some());
        let stuck = probe.take(t0 + STUCK_AFTER);
        assert_eq!(
            stuck,
            Probed {
                stats: None,
                errno: 0,
                stuck: true,
                answered: true,
            }
        );
        assert!(taken_at.elapsed() < Duration::from_secs(1));
        assert!(probe.take(t0 + STUCK_AFTER * 3).stuck);
        assert_eq!(
            CALLS.load(Ordering::SeqCst),
            calls + 1,
            "no second call while stuck"
        );

        HANG.store(false, Ordering::SeqCst);
        settle(&probe);
        let back = probe.take(t0 + STUCK_AFTER * 4);
        assert!(!back.stuck);
        assert_eq!(back.stats.map(|s| s.blocks), Some(root.blocks));
        // Dropped: the thread ends after the call asked just now.
        let shared = Arc::clone(&probe.shared);
        drop(probe);
        let wait = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&shared) > 1 {
            assert!(Instant::now() < wait, "the thread did not end");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
