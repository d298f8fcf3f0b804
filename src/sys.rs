//! The only module that calls the C library directly: signals, statvfs, and
//! a few process facts. Everything here is a thin, documented wrapper that
//! turns the C convention (-1 and errno) into `io::Result`.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
static RELOAD_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe work here: set a flag the poll loop reads.
    match signal {
        libc::SIGHUP => RELOAD_REQUESTED.store(true, Ordering::SeqCst),
        _ => STOP_REQUESTED.store(true, Ordering::SeqCst),
    }
}

/// Routes SIGTERM and SIGINT to [`stop_requested`] and SIGHUP to
/// [`take_reload_request`]; ignores SIGPIPE so a client that hangs up
/// mid-answer is an `EPIPE` error, not the end of the daemon.
pub fn install_signal_handlers() -> io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: sigaction is given a zeroed, then fully initialised struct
        // whose handler only touches atomics (async-signal-safe).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    Ok(())
}

pub fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::SeqCst)
}

/// True once per SIGHUP received since the last call.
pub fn take_reload_request() -> bool {
    RELOAD_REQUESTED.swap(false, Ordering::SeqCst)
}

/// What `statvfs(3)` says about a mounted filesystem, in blocks of `fragment_size`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsStats {
    pub fragment_size: u64,
    pub blocks: u64,
    pub blocks_free: u64,
    pub blocks_available: u64,
}

pub fn statvfs(path: &CStr) -> io::Result<FsStats> {
    // SAFETY: `path` is NUL-terminated; `out` is a plain C struct that
    // statvfs fully writes on success, and we read it only then.
    unsafe {
        let mut out: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut out) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FsStats {
            fragment_size: out.f_frsize as u64,
            blocks: out.f_blocks as u64,
            blocks_free: out.f_bfree as u64,
            blocks_available: out.f_bavail as u64,
        })
    }
}

/// Whether standard error is a terminal (progress lines are for people).
pub fn stderr_is_terminal() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(libc::STDERR_FILENO) == 1 }
}

pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// Sets the process umask so that every file sysmon creates is private to
/// its owner unless it widens the mode explicitly.
pub fn set_umask(mask: u32) {
    // SAFETY: umask cannot fail.
    unsafe {
        libc::umask(mask as libc::mode_t);
    }
}

/// Local time as `YYYYmmdd_HHMMSS`, the stamp in archive and log names.
/// Falls back to UTC when the local zone cannot be determined.
pub fn local_timestamp(unix_s: i64) -> String {
    // SAFETY: localtime_r writes only into `tm`, which we own; time_t is i64 on Linux.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let t: libc::time_t = unix_s as libc::time_t;
        if libc::localtime_r(&t, &mut tm).is_null() && libc::gmtime_r(&t, &mut tm).is_null() {
            return format!("{unix_s}");
        }
        tm
    };
    format!(
        "{:04}{:02}{:02}_{:02}{:02}{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// Puts a descriptor (a child's pipe) into non-blocking mode.
pub fn set_nonblocking(fd: std::os::fd::RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller owns; flags are read then written.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sends `signal` to every process in the group `pgid` (a child started with
/// `process_group(0)` and whatever it spawned).
pub fn kill_process_group(pgid: u32, signal: libc::c_int) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill has no memory preconditions; a negative pid names a group.
    if unsafe { libc::kill(-pgid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The machine's host name (uname), for archive names and log headers.
pub fn hostname() -> String {
    // SAFETY: uname fills the struct we own; nodename is NUL-terminated.
    unsafe {
        let mut uts: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut uts) != 0 {
            return String::from("localhost");
        }
        CStr::from_ptr(uts.nodename.as_ptr()).to_string_lossy().into_owned()
    }
}

/// Local broken-down time `(year, month 1-12, day, hour, minute, second)`
/// for `unix_s` (UTC when the zone is unknown): the zip format's DOS
/// date and time fields are local time.
pub fn local_time_fields(unix_s: i64) -> Option<(i32, u32, u32, u32, u32, u32)> {
    // SAFETY: localtime_r/gmtime_r write only into `tm`, which we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let t: libc::time_t = unix_s as libc::time_t;
        if libc::localtime_r(&t, &mut tm).is_null() && libc::gmtime_r(&t, &mut tm).is_null() {
            return None;
        }
        tm
    };
    let field = |v: libc::c_int| u32::try_from(v).ok();
    Some((
        tm.tm_year.checked_add(1900)?,
        field(tm.tm_mon)? + 1,
        field(tm.tm_mday)?,
        field(tm.tm_hour)?,
        field(tm.tm_min)?,
        field(tm.tm_sec)?,
    ))
}

/// Takes an exclusive `flock(2)` on `file` without waiting: `Ok(false)`
/// when another open file description holds it. The lock lives as long as
/// the descriptor, so the kernel drops it when its owner dies (even by
/// kill -9): that is how a leftover backup temporary is told apart from
/// one being written right now.
pub fn try_lock_exclusive(file: &std::fs::File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor `file` keeps open for the whole call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Ignores SIGXFSZ, so that writing past `RLIMIT_FSIZE` is an `EFBIG`
/// error the backup reports (and cleans up after) instead of killing the
/// process with a core dump.
pub fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Starts writeback of `len` bytes at `offset` of `file` without waiting
/// for it (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that the final
/// fsync of a large archive has little left to do and does not stall the
/// poll loop for seconds. Purely a hint: errors are returned but harmless.
pub fn start_writeback(file: &std::fs::File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    // SAFETY: sync_file_range only reads its integer arguments; the
    // descriptor stays open for the call.
    if unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) }
        != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits until the `len` bytes at `offset` of `file` are written back
/// (`sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)`). Called on the
/// window before the one just started, it keeps the dirty part of a large
/// archive to a few MiB, so no single call (and not the final fsync)
/// blocks the poll loop for long even on a slow disk. Does not flush
/// metadata: the final fsync is still what makes the archive durable.
pub fn wait_writeback(file: &std::fs::File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: as in start_writeback.
    if unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
