//! One daemon per `state_dir`: `state_dir/sysmon.lock`, `flock`ed by the
//! running daemon for its whole life, as Prometheus locks its data
//! directory. Two daemons on one `state_dir` (a `run --listen 127.0.0.1:0`
//! tried by hand beside the service) would share `boots.log` (the one
//! stopped first marks the boot "stopped" under the other),
//! `backup_last.json` and the audit's logs, and both would run the boot
//! backup, the audit and the pruning.
//!
//! Invariants:
//! - The lock is taken before the daemon reads or writes any state; one
//!   that is held is a refusal to start ([`take`] gives the line to say).
//! - The file is made 0600 and never deleted (no unlink race: a file
//!   removed while held would let a third daemon lock a new one). It holds
//!   the holder's PID as text, for the message only: the `flock`, released
//!   by the kernel when its holder dies (even by `kill -9`), is the truth.
//! - A file system without `flock` (ENOLCK, EOPNOTSUPP: some network
//!   file systems) and a lock file that cannot be made are warnings: the
//!   daemon runs unguarded rather than not at all. A lock file that could
//!   not be made (a `state_dir` on a mount not up yet) is tried again
//!   every 10 minutes, at a sample ([`take_again`]), and first whenever
//!   the history file or the boot log is about to be opened meanwhile
//!   (their retries run on timers of their own); found held then (a
//!   second sysmon started meanwhile and took it), the daemon says so
//!   with an error naming the holder and runs on without its history
//!   file and boot log there (`Daemon::leave_state_dir`): it came first,
//!   so it is not the one refused, but the state is the holder's. The
//!   lock is still tried every 10 minutes: taken once the holder stops,
//!   the two are opened there again (no daemon kept them otherwise).
//! - One-shot commands take no lock: they read, or (`sysmon backup`)
//!   replace `backup_last.json` by an atomic rename, which the daemon
//!   reads again when it changes.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::log;
use crate::owned::{owned, text_of};

/// The lock file's name in `state_dir`.
pub const FILE_NAME: &str = "sysmon.lock";

/// The held lock: released when dropped (the descriptor closed).
pub struct StateLock {
    _file: File,
}

/// What taking the lock gave when it was not held by this daemon.
pub enum Taken {
    /// Held for the daemon's life.
    Held(StateLock),
    /// Running unguarded (said in a warning). `retry`: the lock file could
    /// not be made (a `state_dir` not there yet, a mount not up at boot),
    /// worth trying again; not after a file system without `flock`.
    Unguarded { retry: bool },
}

/// Takes `state_dir`'s lock (the directory made 0700 if missing) and
/// writes this process's PID in it, or warns that the daemon runs
/// unguarded. `Err` is the refusal's one line: the lock is held by
/// another process (named by the PID it wrote, when it can be read).
pub fn take(state_dir: &Path) -> Result<Taken, String> {
    match attempt(state_dir) {
        Attempt::Held(lock) => Ok(Taken::Held(lock)),
        Attempt::InUse(refusal) => Err(refusal),
        Attempt::Unguarded { why, retry } => {
            log::warn(format_args!(
                "state_dir: {why}: running without the one-daemon-per-state_dir check{}",
                if retry {
                    " for now (tried again every 10 minutes)"
                } else {
                    ""
                }
            ));
            Ok(Taken::Unguarded { retry })
        }
    }
}

/// [`take`] again for a daemon that runs unguarded, silent when it still
/// cannot (said at start): `Ok(None)`. `Err` is the refusal's line:
/// another sysmon took the lock meanwhile.
pub fn take_again(state_dir: &Path) -> Result<Option<StateLock>, String> {
    match attempt(state_dir) {
        Attempt::Held(lock) => Ok(Some(lock)),
        Attempt::InUse(refusal) => Err(refusal),
        Attempt::Unguarded { .. } => Ok(None),
    }
}

enum Attempt {
    Held(StateLock),
    InUse(String),
    Unguarded { why: String, retry: bool },
}

fn attempt(state_dir: &Path) -> Attempt {
    let path = state_dir.join(FILE_NAME);
    let opened = crate::fsutil::ensure_dir(state_dir, 0o700).and_then(|()| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            // Neither followed nor waited on: a symlink or FIFO put there.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| crate::fsutil::with_path(&path, e))
    });
    let why = match opened {
        Ok(file) if !file.metadata().is_ok_and(|m| m.is_file()) => {
            text_of(&format_args!("{}: not a regular file", path.display()))
        }
        Ok(mut file) => match crate::sys::try_lock_exclusive(&file) {
            Ok(true) => {
                // Best effort: the PID is for the refusal's message only.
                let mut pid = text_of(&std::process::id());
                pid.push('\n');
                let _ = file
                    .set_len(0)
                    .and_then(|()| file.write_all(pid.as_bytes()));
                return Attempt::Held(StateLock { _file: file });
            }
            Ok(false) => {
                let holder = match written_pid(&mut file) {
                    Some(pid) => text_of(&format_args!("pid {pid}")),
                    None => owned("a process"),
                };
                return Attempt::InUse(format!(
                    "state_dir {}: in use by another sysmon ({holder} holds {FILE_NAME}); \
                     stop it first, or give this one another state_dir",
                    state_dir.display()
                ));
            }
            // ENOLCK, EOPNOTSUPP: a file system without flock (some
            // network file systems); trying again would find the same.
            Err(e) => {
                return Attempt::Unguarded {
                    why: text_of(&format_args!("{}: flock: {e}", path.display())),
                    retry: false,
                };
            }
        },
        Err(e) => text_of(&e),
    };
    Attempt::Unguarded { why, retry: true }
}

/// What the lock says of `state_dir`'s holder, learnt without taking it
/// or making anything (for an error that comes before the lock: a port in
/// use at the bind): ` (another sysmon, pid N, holds PATH)` when a process
/// holds it now, `None` when none does (a PID left by one gone is not
/// named) or the file cannot be read. Held is asked by a shared `flock`
/// tried without waiting ([`crate::sys::flock_held_elsewhere`]); if no one
/// holds it, that lock is let go at once, and a daemon starting in that
/// microsecond would be refused as if one did: a window this message is
/// worth (the bind has failed anyway, and is why it is asked).
pub fn holder_note(state_dir: &Path) -> Option<String> {
    let path = state_dir.join(FILE_NAME);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .ok()?;
    if !crate::sys::flock_held_elsewhere(&file).ok()? {
        return None;
    }
    Some(match written_pid(&mut file) {
        Some(pid) => text_of(&format_args!(
            " (another sysmon, pid {pid}, holds {})",
            path.display()
        )),
        None => text_of(&format_args!(" (another sysmon holds {})", path.display())),
    })
}

/// The PID a holder wrote in the lock file, if it reads as one.
fn written_pid(file: &mut File) -> Option<u64> {
    let mut buf = [0u8; 24];
    let n = file.read(&mut buf).unwrap_or(0);
    let digits = buf[..n].strip_suffix(b"\n").unwrap_or(&buf[..n]);
    crate::proc::parse_u64(digits)
}
