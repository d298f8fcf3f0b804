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

use crate::log;
use crate::owned::{owned, text_of};

/// The lock file's name in `state_dir`.
pub const FILE_NAME: &str = "sysmon.lock";

/// The held lock: released when dropped (the descriptor closed).
pub struct StateLock {
    _file: File,
}

/// Takes `state_dir`'s lock (the directory made 0700 if missing) and
/// writes this process's PID in it. `Ok(None)`: running unguarded (said
/// in a warning). `Err` is the refusal's one line: the lock is held by
/// another process (named by the PID it wrote, when it can be read).
pub fn take(state_dir: &Path) -> Result<Option<StateLock>, String> {
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
                return Ok(Some(StateLock { _file: file }));
            }
            Ok(false) => {
                let mut buf = [0u8; 24];
                let n = file.read(&mut buf).unwrap_or(0);
                let digits = buf[..n].strip_suffix(b"\n").unwrap_or(&buf[..n]);
                let holder = match crate::proc::parse_u64(digits) {
                    Some(pid) => text_of(&format_args!("pid {pid}")),
                    None => owned("a process"),
                };
                return Err(format!(
                    "state_dir {}: in use by another sysmon ({holder} holds {FILE_NAME}); \
                     stop it first, or give this one another state_dir",
                    state_dir.display()
                ));
            }
            // ENOLCK, EOPNOTSUPP: a file system without flock (some
            // network file systems).
            Err(e) => text_of(&format_args!("{}: flock: {e}", path.display())),
        },
        Err(e) => text_of(&e),
    };
    log::warn(format_args!(
        "state_dir: {why}: running without the one-daemon-per-state_dir check"
    ));
    Ok(None)
}
