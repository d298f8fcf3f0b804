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
    match local_time_fields(unix_s) {
        Some((year, month, day, hour, minute, second)) => {
            format!("{year:04}{month:02}{day:02}_{hour:02}{minute:02}{second:02}")
        }
        None => format!("{unix_s}"),
    }
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
    let pgid =
        libc::pid_t::try_from(pgid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
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
        CStr::from_ptr(uts.nodename.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// Disables Nagle's algorithm on a listening socket; Linux copies the flag to
/// every accepted connection. tiny_http writes a response's head and body in
/// separate writes, which Nagle plus the peer's delayed ACK would stall by
/// 40 ms on every keep-alive request.
pub fn set_tcp_nodelay(fd: std::os::fd::RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from `on`, which lives
    // for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Clock ticks per second (`USER_HZ`), the unit of /proc/stat's CPU times.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no memory preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(v).ok().filter(|v| *v > 0).unwrap_or(100)
}

pub fn page_size() -> u64 {
    // SAFETY: sysconf has no memory preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(v).ok().filter(|v| *v > 0).unwrap_or(4096)
}

/// Counts the entries of a directory kept open (for /proc/self/fd) with
/// getdents64 into a fixed buffer: no allocation per count, unlike read_dir.
pub struct DirCounter {
    dir: std::os::fd::OwnedFd,
    buf: Box<[u8; 8192]>,
}

impl DirCounter {
    pub fn open(path: &CStr) -> io::Result<DirCounter> {
        use std::os::fd::FromRawFd;
        // SAFETY: open with a NUL-terminated path; on success we own the fd.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let dir = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        Ok(DirCounter {
            dir,
            buf: Box::new([0; 8192]),
        })
    }

    /// Entries other than `.` and `..`, read afresh from the start.
    pub fn count(&mut self) -> io::Result<u64> {
        let mut entries = 0u64;
        self.for_each_name(|_| entries += 1)?;
        Ok(entries)
    }

    /// Calls `f` with the name of every entry other than `.` and `..`, read
    /// afresh from the start, in the directory's own order. No allocation.
    pub fn for_each_name(&mut self, mut f: impl FnMut(&[u8])) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let fd = self.dir.as_raw_fd();
        // SAFETY: lseek on our own descriptor.
        if unsafe { libc::lseek(fd, 0, libc::SEEK_SET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            // SAFETY: the kernel writes at most buf.len() bytes into buf.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    fd,
                    self.buf.as_mut_ptr(),
                    self.buf.len(),
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            if n == 0 {
                break;
            }
            // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name...
            let mut pos = 0;
            while pos + 19 <= n {
                let reclen =
                    usize::from(u16::from_ne_bytes([self.buf[pos + 16], self.buf[pos + 17]]));
                if reclen == 0 {
                    break;
                }
                let name = &self.buf[pos + 19..(pos + reclen).min(n)];
                let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
                if name != b"." && name != b".." {
                    f(name);
                }
                pos += reclen;
            }
        }
        Ok(())
    }
}

/// Raises the soft limit on open descriptors to the hard limit: every client
/// connection costs tiny_http two descriptors. Running out makes accept()
/// fail until some are free (the server backs off and retries; see
/// `src/vendor/tiny_http/PATCHES.md`). Returns the new soft limit.
pub fn raise_open_files_limit() -> io::Result<u64> {
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(limit.rlim_cur as u64)
    }
}

/// Local broken-down time `(year, month 1-12, day, hour, minute, second)`
/// for `unix_s` (UTC when the zone is unknown): the zip format's DOS
/// date and time fields are local time.
// libc deprecates `time_t` on musl because it was 32-bit on 32-bit targets
// before musl 1.2; on x86_64 (our only release target) it is 64-bit.
#[allow(deprecated)]
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
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: as in start_writeback.
    if unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `fd` is a file on procfs (where `/proc/self/mounts` reports
/// mount-table changes through POLLPRI).
pub fn is_procfs(fd: std::os::fd::RawFd) -> bool {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    // SAFETY: fstatfs fills the struct we own; we read it only on success.
    unsafe {
        let mut out: libc::statfs = std::mem::zeroed();
        libc::fstatfs(fd, &mut out) == 0 && out.f_type as i64 == PROC_SUPER_MAGIC
    }
}

/// Whether a procfs mounts file signals a change of the mount table since
/// the last call (POLLPRI/POLLERR), without waiting.
pub fn mount_table_changed(fd: std::os::fd::RawFd) -> bool {
    let mut entry = libc::pollfd {
        fd,
        events: libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: poll reads and writes exactly the one pollfd we pass.
    let ready = unsafe { libc::poll(&mut entry, 1, 0) };
    ready > 0 && entry.revents & (libc::POLLPRI | libc::POLLERR) != 0
}

/// Prepares a command for a child of the daemon: it is killed (SIGKILL)
/// when the daemon dies, even by `kill -9`, so no audit or alert command
/// outlives it; and it does not inherit systemd's notify socket and
/// watchdog settings, which are the daemon's alone.
pub fn child_of_daemon(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    cmd.env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID");
    // SAFETY: getpid has no preconditions; the closure runs in the forked
    // child before exec and calls only prctl and getppid, both
    // async-signal-safe; it allocates nothing. The parent check closes the
    // race where the daemon died between fork and prctl.
    unsafe {
        let parent = libc::getpid();
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(io::Error::other("the daemon exited while starting a child"));
            }
            Ok(())
        })
    }
}
