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
//!   daemon runs unguarded rather than not at all.
//! - One-shot commands take no lock: they read, or (`sysmon backup`)
//!   replace `backup_last.json` by an atomic rename, which the daemon
//!   reads again when it changes.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The lock file's name in `state_dir`.
pub const FILE_NAME: &str = "sysmon.lock";

/// The held lock: released when dropped (the descriptor closed).
pub struct StateLock {
    _file: File,
}

/// What [`take`] did, when it did not refuse.
pub enum Taken {
    Held(StateLock),
    /// Running unguarded: why (to log as a warning).
    Unguarded(String),
}

/// Takes `state_dir`'s lock (the directory made 0700 if missing) and
/// writes this process's PID in it. `Err` is the refusal's one line: the
/// lock is held by another process (named by the PID it wrote, when it
/// can be read).
pub fn take(state_dir: &Path) -> Result<Taken, String> {
    let path = state_dir.join(FILE_NAME);
    let unguarded = |e: &dyn std::fmt::Display| {
        Ok(Taken::Unguarded(format!(
            "state_dir: {e}: running without the one-daemon-per-state_dir check"
        )))
    };
    if let Err(e) = crate::fsutil::ensure_dir(state_dir, 0o700) {
        return unguarded(&e);
    }
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        // Neither followed nor waited on: a symlink or FIFO put there.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path);
    let mut file = match opened {
        Ok(file) if file.metadata().is_ok_and(|m| m.is_file()) => file,
        Ok(_) => return unguarded(&format_args!("{}: not a regular file", path.display())),
        Err(e) => return unguarded(&crate::fsutil::with_path(&path, e)),
    };
    match crate::sys::try_lock_exclusive(&file) {
        Ok(true) => {}
        Ok(false) => {
            let mut text = String::new();
            let _ = Read::by_ref(&mut file).take(32).read_to_string(&mut text);
            let holder = match crate::proc::parse_u64(text.trim_end().as_bytes()) {
                Some(pid) => format!("pid {pid}"),
                None => crate::owned::owned("a process"),
            };
            return Err(format!(
                "state_dir {}: in use by another sysmon ({holder} holds {FILE_NAME}); \
                 stop it first, or give this one another state_dir",
                state_dir.display()
            ));
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOLCK | libc::EOPNOTSUPP)) => {
            return unguarded(&format_args!("{}: no flock here ({e})", path.display()));
        }
        Err(e) => return unguarded(&format_args!("{}: flock: {e}", path.display())),
    }
    // Best effort: the PID is for the refusal's message only.
    let _ = file
        .set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(Taken::Held(StateLock { _file: file }))
}

/// [`take`], logged: the warning when unguarded; `Err` the refusal.
pub fn take_logged(state_dir: &Path) -> Result<Option<StateLock>, String> {
    match take(state_dir)? {
        Taken::Held(lock) => Ok(Some(lock)),
        Taken::Unguarded(why) => {
            crate::log::warn(format_args!("{why}"));
            Ok(None)
        }
    }
}
