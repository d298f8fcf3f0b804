//! The only module that calls the C library directly: signals, statvfs, a
//! few process facts, descriptor-relative file access for the backup walk,
//! and the privilege drop of `user = NAME`. Everything
//! here is a thin, documented wrapper that turns the C convention (-1 and
//! errno) into `io::Result`; [`drop_privileges`] either leaves the process
//! fully dropped (and checked) or returns an error the caller must exit on.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
static RELOAD_REQUESTED: AtomicBool = AtomicBool::new(false);
/// The write end of the wake pipe ([`wake_on_signals`]), or -1 before it
/// exists. Never closed once set.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe work here: set a flag the poll loop reads, and
    // write one byte to the wake pipe so a sleeping loop looks at it now.
    match signal {
        libc::SIGHUP => RELOAD_REQUESTED.store(true, Ordering::SeqCst),
        libc::SIGCHLD => {}
        _ => STOP_REQUESTED.store(true, Ordering::SeqCst),
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: errno is thread-local; write(2) is async-signal-safe and
        // reads one byte we own; the write end is non-blocking, so a full
        // pipe (a wake-up already pending) returns EAGAIN at once. errno is
        // put back so the interrupted code never sees ours.
        unsafe {
            let errno = libc::__errno_location();
            let saved = *errno;
            libc::write(fd, [1u8].as_ptr().cast(), 1);
            *errno = saved;
        }
    }
}

fn set_handler(signal: libc::c_int, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: sigaction is given a zeroed, then fully initialised struct
    // whose handler only touches atomics and write(2) (async-signal-safe).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = flags;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Routes SIGTERM and SIGINT to [`stop_requested`] and SIGHUP to
/// [`take_reload_request`]; ignores SIGPIPE so a client that hangs up
/// mid-answer is an `EPIPE` error, not the end of the daemon.
pub fn install_signal_handlers() -> io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        set_handler(signal, libc::SA_RESTART)?;
    }
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    Ok(())
}

/// Calls `wake` from a thread of its own each time SIGTERM, SIGINT, SIGHUP
/// or SIGCHLD arrives (a burst may be one call), so the poll loop can sleep
/// until its next deadline and still see a signal, or a child's exit, at
/// once. The handlers write a byte to a pipe (the self-pipe trick: nothing
/// else is async-signal-safe); the thread blocks reading it. Call once,
/// after [`install_signal_handlers`]; the thread lives as long as the process.
pub fn wake_on_signals(wake: impl Fn() + Send + 'static) -> io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just made by pipe2 and are owned here alone.
    let (read_end, write_end) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    use std::os::fd::{AsRawFd, IntoRawFd};
    set_nonblocking(write_end.as_raw_fd())?;
    std::thread::Builder::new()
        .name("sysmon-signals".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            use std::io::Read;
            let mut read_end = read_end;
            let mut bytes = [0u8; 64];
            loop {
                match read_end.read(&mut bytes) {
                    Ok(0) => return,
                    Ok(_) => wake(),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })?;
    // Published only now that a reader exists; kept open for the process's
    // life (a handler may run at any moment).
    WAKE_FD.store(write_end.into_raw_fd(), Ordering::SeqCst);
    // SA_NOCLDSTOP: a stopped child is no news; SA_RESTART: the loop's own
    // system calls are not cut short by a child's exit.
    set_handler(libc::SIGCHLD, libc::SA_RESTART | libc::SA_NOCLDSTOP)?;
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

/// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`, Linux
/// 3.4): a process below one of our children whose parent dies is
/// reparented to us instead of to init, so nothing an audit or alert command
/// starts can leave our view (see `crate::orphans`). Kept across `setuid`
/// and `execve`, not inherited by children.
pub fn become_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER reads only its integer
    // argument and changes a flag of this process.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether this process is a child subreaper (`PR_GET_CHILD_SUBREAPER`).
pub fn is_child_subreaper() -> bool {
    let mut flag: libc::c_int = 0;
    // SAFETY: prctl writes one int through the pointer, which points at `flag`.
    let rc = unsafe {
        libc::prctl(
            libc::PR_GET_CHILD_SUBREAPER,
            &mut flag as *mut libc::c_int as libc::c_ulong,
        )
    };
    rc == 0 && flag != 0
}

/// Sends `signal` to the one process `pid` (never a group: 0 and values
/// beyond `pid_t` are refused).
pub fn signal_process(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill has no memory preconditions; a positive pid names one process.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reaps our child `pid` if it has exited, without waiting
/// (`waitpid(pid, WNOHANG)`). `Ok(true)`: reaped now, or not our child
/// (nothing left to reap). Only ever one pid, never `-1`: a job's own
/// child is reaped by its `std::process::Child`, whose status we must not
/// take.
pub fn reap_if_exited(pid: u32) -> io::Result<bool> {
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid writes only the status integer we own.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        match r {
            0 => return Ok(false),
            r if r == pid => return Ok(true),
            _ => {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => return Ok(true),
                    _ => return Err(e),
                }
            }
        }
    }
}

/// Hands freed heap memory back to the kernel after a burst of allocation
/// (an audit's output and its parse), so the resident size returns to what
/// the idle daemon needs. musl's allocator returns large blocks by itself
/// (munmap); glibc's keeps the top of the heap unless asked (`malloc_trim`).
pub fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
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
/// every accepted connection. An answer the socket does not take at once
/// goes out in several writes (the loop's, then the I/O thread's), which
/// Nagle plus the peer's delayed ACK would stall by 40 ms.
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
            if n == 0 {
                break;
            }
            for_each_dirent(&self.buf[..n as usize], |name, _| f(name));
        }
        Ok(())
    }
}

/// Calls `f(name, d_type)` for every record other than `.` and `..` in
/// `buf`, which holds what one getdents64 call returned.
fn for_each_dirent(buf: &[u8], mut f: impl FnMut(&[u8], u8)) {
    // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name...
    let mut pos = 0;
    while pos + 19 <= buf.len() {
        let reclen = usize::from(u16::from_ne_bytes([buf[pos + 16], buf[pos + 17]]));
        if reclen == 0 {
            break;
        }
        let name = &buf[pos + 19..(pos + reclen).min(buf.len())];
        let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
        if name != b"." && name != b".." {
            f(name, buf[pos + 18]);
        }
        pos += reclen;
    }
}

// --- Descriptor-relative file access, for the backup walk ------------------
//
// The walk keeps the directory it is visiting open and names entries
// relative to it: a lookup then resolves one component, not the whole path,
// and a name cannot be redirected through a symlink swapped in higher up.
// The flags go to `openat` directly: musl's `open` wrapper follows every
// `O_CLOEXEC` open with an `fcntl(F_SETFD)` for kernels older than 2.6.23.

/// A file for the `*at` calls: an entry of an open directory, or a path
/// resolved as `open(2)` would (from the working directory).
#[derive(Clone, Copy, Debug)]
pub enum At<'a> {
    Entry(std::os::fd::BorrowedFd<'a>, &'a CStr),
    Path(&'a std::path::Path),
}

impl At<'_> {
    /// Calls `f(dirfd, name)` with the C form of this location.
    fn with<T>(self, f: impl FnOnce(libc::c_int, &CStr) -> T) -> io::Result<T> {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        match self {
            At::Entry(dir, name) => Ok(f(dir.as_raw_fd(), name)),
            At::Path(path) => {
                let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
                    .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
                Ok(f(libc::AT_FDCWD, &c_path))
            }
        }
    }
}

/// What the backup takes from a `stat`: our own type because std cannot
/// make a `Metadata` from `fstatat` on a directory descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    pub dev: u64,
    pub ino: u64,
    /// `st_mode`, file type bits included.
    pub mode: u32,
    pub size_bytes: u64,
    /// Space allocated, in 512-byte units (`st_blocks`).
    pub blocks_512: u64,
    pub mtime_s: i64,
    pub mtime_ns: i64,
}

impl FileStat {
    fn from_raw(st: &libc::stat) -> FileStat {
        FileStat {
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            // A stat never holds a negative size or block count.
            size_bytes: st.st_size as u64,
            blocks_512: st.st_blocks as u64,
            mtime_s: st.st_mtime,
            mtime_ns: st.st_mtime_nsec,
        }
    }

    /// The `S_IFMT` bits of `mode`.
    pub fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    pub fn is_dir(&self) -> bool {
        self.file_type() == libc::S_IFDIR
    }

    pub fn is_file(&self) -> bool {
        self.file_type() == libc::S_IFREG
    }

    pub fn is_symlink(&self) -> bool {
        self.file_type() == libc::S_IFLNK
    }
}

impl From<&std::fs::Metadata> for FileStat {
    fn from(m: &std::fs::Metadata) -> FileStat {
        use std::os::unix::fs::MetadataExt;
        FileStat {
            dev: m.dev(),
            ino: m.ino(),
            mode: m.mode(),
            size_bytes: m.size(),
            blocks_512: m.blocks(),
            mtime_s: m.mtime(),
            mtime_ns: m.mtime_nsec(),
        }
    }
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)`: the entry itself, never a symlink's target.
pub fn lstat_at(at: At<'_>) -> io::Result<FileStat> {
    at.with(|dir, name| {
        // SAFETY: `name` is NUL-terminated and `dir` open (or AT_FDCWD) for
        // the call; `out` is a plain C struct fstatat fully writes on
        // success, and it is read only then.
        unsafe {
            let mut out: libc::stat = std::mem::zeroed();
            if libc::fstatat(dir, name.as_ptr(), &mut out, libc::AT_SYMLINK_NOFOLLOW) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(FileStat::from_raw(&out))
        }
    })?
}

/// `fstat` of an open file.
pub fn fstat(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<FileStat> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the call; `out` is read only after
    // fstat filled it.
    unsafe {
        let mut out: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_raw_fd(), &mut out) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FileStat::from_raw(&out))
    }
}

/// `openat(flags | O_CLOEXEC)`, retried on EINTR.
pub fn open_at(at: At<'_>, flags: libc::c_int) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    at.with(|dir, name| {
        loop {
            // SAFETY: `name` is NUL-terminated and `dir` open (or AT_FDCWD)
            // for the call; no O_CREAT, so no mode argument is read.
            let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC) };
            if fd >= 0 {
                // SAFETY: a fresh descriptor that nothing else owns.
                return Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    })?
}

/// `readlinkat`: the target of the symlink `at`, raw bytes, into `target`.
pub fn read_link_at(at: At<'_>, target: &mut Vec<u8>) -> io::Result<()> {
    at.with(|dir, name| {
        // Targets are at most a page long; grow once more to tell a target
        // that filled the buffer from a truncated one.
        let mut cap = 256;
        loop {
            target.clear();
            target.reserve(cap);
            // SAFETY: the kernel writes at most `cap` bytes into the spare
            // capacity reserved just above; `name` is NUL-terminated.
            let n =
                unsafe { libc::readlinkat(dir, name.as_ptr(), target.as_mut_ptr().cast(), cap) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            if n < cap {
                // SAFETY: readlinkat initialised the first n bytes.
                unsafe { target.set_len(n) };
                return Ok(());
            }
            cap *= 2;
        }
    })?
}

/// One `getdents64` call on `dir` into `buf`: calls `f(name, d_type)` for
/// each entry but `.` and `..` (`d_type` is a `DT_*` value, `DT_UNKNOWN`
/// on filesystems that do not record types). `Ok(false)` at the end.
pub fn read_dir_batch(
    dir: std::os::fd::BorrowedFd<'_>,
    buf: &mut [u8],
    f: impl FnMut(&[u8], u8),
) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: the kernel writes at most buf.len() bytes into buf; the
    // descriptor is open for the call.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            dir.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n == 0 {
        return Ok(false);
    }
    for_each_dirent(&buf[..n as usize], f);
    Ok(true)
}

/// Raises the soft limit on open descriptors to the hard limit: every client
/// connection costs a descriptor, and the backup walk up to 257. Running out makes accept()
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

/// A user of the passwd database, as `user = NAME` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    /// The primary group.
    pub gid: u32,
}

/// Looks `name` up in the passwd database (`getpwnam_r`; a static musl
/// binary reads /etc/passwd itself, glibc asks NSS). `Ok(None)`: no such user.
pub fn lookup_user(name: &str) -> io::Result<Option<Account>> {
    let c_name =
        std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: `pwd`, `result` and `buf` outlive the call, and getpwnam_r
        // writes only into them (at most buf.len() bytes into `buf`). We read
        // only the integer fields, and only when `result` points at `pwd`.
        let (rc, ids) = unsafe {
            let mut pwd: libc::passwd = std::mem::zeroed();
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwnam_r(
                c_name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            );
            let found = rc == 0 && !result.is_null();
            (rc, found.then_some((pwd.pw_uid, pwd.pw_gid)))
        };
        match rc {
            0 => {
                return Ok(ids.map(|(uid, gid)| Account {
                    name: name.to_string(),
                    uid,
                    gid,
                }));
            }
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 2, 0),
            // Some C libraries report "no such user" as one of these.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// The one capability sysmon keeps after [`drop_privileges`]: read any file
/// and search any directory, for the backup. It cannot write, chown, signal
/// or bind (the listening socket is bound before the drop).
pub const CAP_DAC_READ_SEARCH: u32 = 2;
/// [`CAP_DAC_READ_SEARCH`] as a capability mask.
pub const KEPT_CAPS: u64 = 1 << CAP_DAC_READ_SEARCH;
/// `_LINUX_CAPABILITY_VERSION_3` (linux/capability.h): two 32-bit words per set.
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`; version 3 takes two, low word first.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// A thread's capability sets as 64-bit masks (bit N = capability N).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// `capget(2)` for the calling thread.
pub fn capget() -> io::Result<CapSets> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: with version 3 the kernel writes exactly two CapData into
    // `data`, and at most the header into `header`; both are ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let join = |low: u32, high: u32| (u64::from(high) << 32) | u64::from(low);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// `capset(2)` for the calling thread only: the raw system call, which
/// leaves other threads as they are.
fn capset(sets: CapSets) -> io::Result<()> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let word = |mask: u64, high: bool| (if high { mask >> 32 } else { mask }) as u32;
    let data = [false, true].map(|high| CapData {
        effective: word(sets.effective, high),
        permitted: word(sets.permitted, high),
        inheritable: word(sets.inheritable, high),
    });
    // SAFETY: the kernel reads the header and two CapData, all ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `prctl(option, arg2, arg3, 0, 0)` for the options below, which take
/// integers only: its result, or the error named after `option`.
/// Empties this thread's ambient and inheritable capability sets, so that
/// programs it starts (the audit's package manager, `alert_command`) get no
/// capability. The service files hand sysmon CAP_DAC_READ_SEARCH as an
/// ambient capability (the only way to pass one to an unprivileged user); it
/// stays in sysmon's own permitted and effective sets, which is where the
/// backup needs it.
///
/// Returns `Ok(false)` when the inheritable set could not be emptied because
/// a seccomp filter refuses `capset` (systemd's `@privileged` group holds
/// it): without ambient capabilities, children get nothing from it but from
/// programs with file capabilities, which `no_new_privs` disarms too.
pub fn clear_inherited_capabilities() -> io::Result<bool> {
    let clear_all = libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong;
    match prctl(libc::PR_CAP_AMBIENT, clear_all, 0) {
        // Ambient capabilities exist since Linux 4.3; before, EINVAL: none.
        Err(e) if e.raw_os_error() != Some(libc::EINVAL) => {
            return Err(context("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", e));
        }
        _ => {}
    }
    let sets = capget().map_err(|e| context("capget", e))?;
    if sets.inheritable != 0 {
        let kept = CapSets {
            inheritable: 0,
            ..sets
        };
        match capset(kept) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => return Ok(false),
            Err(e) => return Err(context("capset (inheritable to none)", e)),
        }
    }
    Ok(true)
}

fn prctl(option: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> io::Result<u32> {
    let zero: libc::c_ulong = 0;
    // SAFETY: no pointer is passed; the kernel reads the integers only.
    let rc = unsafe { libc::prctl(option, arg2, arg3, zero, zero) };
    u32::try_from(rc).map_err(|_| io::Error::last_os_error())
}

/// Puts the step that failed in front of an error: `setresuid(998): ...`.
fn context(what: impl std::fmt::Display, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// `Ok` for a C return code of 0, else errno.
fn zero_or_errno(rc: libc::c_int) -> io::Result<()> {
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The real, effective and saved set user ids.
pub fn resuid() -> (u32, u32, u32) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: getresuid writes three ids we own; with valid pointers it cannot fail.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

/// The real, effective and saved set group ids.
pub fn resgid() -> (u32, u32, u32) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: as in resuid.
    unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

/// The groups of `account` (its primary group included) from the group
/// database, sorted and without repeats: what initgroups(3) would set.
fn group_list(account: &Account) -> io::Result<Vec<u32>> {
    const MAX_GROUPS: usize = 65_536; // NGROUPS_MAX on Linux
    let c_name = std::ffi::CString::new(account.name.as_str())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut count = libc::c_int::try_from(groups.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: getgrouplist writes at most `count` ids into `groups`,
        // which holds that many, and the number it found into `count`.
        let rc = unsafe {
            libc::getgrouplist(
                c_name.as_ptr(),
                account.gid,
                groups.as_mut_ptr(),
                &mut count,
            )
        };
        let found = usize::try_from(count).unwrap_or(0);
        if rc >= 0 {
            groups.truncate(found.min(groups.len()));
            groups.sort_unstable();
            groups.dedup();
            return Ok(groups);
        }
        // Too small; glibc and musl both put the number needed in `count`.
        if groups.len() >= MAX_GROUPS {
            return Err(io::Error::other("more groups than NGROUPS_MAX"));
        }
        groups.resize(found.max(groups.len() * 2).min(MAX_GROUPS), 0);
    }
}

/// The calling thread's supplementary groups, sorted and without repeats.
fn current_groups() -> io::Result<Vec<u32>> {
    // SAFETY: with a size of 0 getgroups writes nothing and returns the count.
    let count = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let len = usize::try_from(count).map_err(|_| io::Error::last_os_error())?;
    let mut groups: Vec<libc::gid_t> = vec![0; len];
    // SAFETY: getgroups writes at most `count` ids into `groups`, which holds that many.
    let got = unsafe { libc::getgroups(count, groups.as_mut_ptr()) };
    let got = usize::try_from(got).map_err(|_| io::Error::last_os_error())?;
    groups.truncate(got);
    groups.sort_unstable();
    groups.dedup();
    Ok(groups)
}

/// What [`drop_privileges`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// Already that user (not root, or `user = root` as root): nothing done.
    AlreadyThatUser,
    /// Switched from root; the groups now held.
    Switched { groups: Vec<u32> },
}

/// Becomes `account` for good: its uid and gid (real, effective and saved)
/// and its groups; of all capabilities only [`CAP_DAC_READ_SEARCH`], in the
/// permitted and effective sets; inheritable, ambient and bounding sets
/// empty and `no_new_privs` set. So no child (the audit's package managers,
/// alert commands) starts with a capability or can gain one through a
/// setuid or file-capability program, and root cannot be regained.
///
/// As root this switches, then reads every part back (and tries to regain
/// root); an error names the first step that failed or did not take, and
/// the caller must then exit: never run half-dropped. Not root: a no-op if
/// already `account`, otherwise an error.
///
/// Threads: the C library's set*id and setgroups apply to every thread.
/// The raw `capset` and the `prctl`s apply to the calling thread only; the
/// others (tiny_http's I/O thread, started when the socket was bound) had no
/// `PR_SET_KEEPCAPS`, so the kernel cleared all their capabilities when
/// their uids left 0 (capabilities(7)). Every thread is checked through
/// /proc/self/task. Threads and children started later copy their creator.
pub fn drop_privileges(account: &Account) -> io::Result<Dropped> {
    let (uid, gid) = (account.uid, account.gid);
    let ids = resuid();
    if ids.1 != 0 || uid == 0 {
        if ids == (uid, uid, uid) {
            return Ok(Dropped::AlreadyThatUser);
        }
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "running as uid {} (not root), which cannot become user `{}` (uid {uid}): \
                 start sysmon as root, or as that user without `user`",
                ids.1, account.name
            ),
        ));
    }
    let groups = group_list(account).map_err(|e| context("getgrouplist", e))?;
    // Keeps the permitted set through the uid change below (this thread only).
    prctl(libc::PR_SET_KEEPCAPS, 1, 0).map_err(|e| context("prctl(PR_SET_KEEPCAPS, 1)", e))?;
    // SAFETY: setgroups reads `groups.len()` ids from the vector.
    zero_or_errno(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) })
        .map_err(|e| context(format_args!("setgroups({groups:?})"), e))?;
    // SAFETY: setresgid takes integers only.
    zero_or_errno(unsafe { libc::setresgid(gid, gid, gid) })
        .map_err(|e| context(format_args!("setresgid({gid})"), e))?;
    // Emptying the bounding set needs CAP_SETPCAP, which goes with root below.
    for cap in 0..64 {
        match prctl(libc::PR_CAPBSET_READ, cap, 0) {
            Ok(0) => {}
            Ok(_) => {
                prctl(libc::PR_CAPBSET_DROP, cap, 0)
                    .map_err(|e| context(format_args!("prctl(PR_CAPBSET_DROP, {cap})"), e))?;
            }
            // Past the last capability this kernel knows.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(context(format_args!("prctl(PR_CAPBSET_READ, {cap})"), e)),
        }
    }
    // SAFETY: setresuid takes integers only.
    zero_or_errno(unsafe { libc::setresuid(uid, uid, uid) })
        .map_err(|e| context(format_args!("setresuid({uid})"), e))?;
    let kept = CapSets {
        effective: KEPT_CAPS,
        permitted: KEPT_CAPS,
        inheritable: 0,
    };
    capset(kept).map_err(|e| context("capset", e))?;
    clear_inherited_capabilities()?;
    prctl(libc::PR_SET_KEEPCAPS, 0, 0).map_err(|e| context("prctl(PR_SET_KEEPCAPS, 0)", e))?;
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0)
        .map_err(|e| context("prctl(PR_SET_NO_NEW_PRIVS, 1)", e))?;
    verify_dropped(account, &groups, kept)?;
    Ok(Dropped::Switched { groups })
}

/// Reads every part of the drop back; an error names the first that did not take.
fn verify_dropped(account: &Account, groups: &[u32], kept: CapSets) -> io::Result<()> {
    let (uid, gid) = (account.uid, account.gid);
    let not_taken = |what: String| io::Error::other(format!("after the drop, {what}"));
    if resuid() != (uid, uid, uid) {
        return Err(not_taken(format!("getresuid says {:?}", resuid())));
    }
    if resgid() != (gid, gid, gid) {
        return Err(not_taken(format!("getresgid says {:?}", resgid())));
    }
    let held = current_groups().map_err(|e| context("getgroups", e))?;
    if held != groups {
        return Err(not_taken(format!(
            "getgroups says {held:?}, not {groups:?}"
        )));
    }
    let caps = capget().map_err(|e| context("capget", e))?;
    if caps != kept {
        return Err(not_taken(format!("capget says {caps:x?}, not {kept:x?}")));
    }
    let is_set = libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong;
    for cap in 0..64 {
        // EINVAL past the last capability (or before Linux 4.3, for ambient).
        if prctl(libc::PR_CAP_AMBIENT, is_set, cap).is_ok_and(|set| set != 0) {
            return Err(not_taken(format!("ambient capability {cap} is set")));
        }
        if prctl(libc::PR_CAPBSET_READ, cap, 0).is_ok_and(|set| set != 0) {
            return Err(not_taken(format!(
                "capability {cap} is in the bounding set"
            )));
        }
    }
    if prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0).ok() != Some(1) {
        return Err(not_taken("no_new_privs is not set".into()));
    }
    // SAFETY: setresuid takes integers only; here success is the failure.
    if unsafe { libc::setresuid(0, 0, 0) } == 0 {
        return Err(not_taken(
            "setresuid(0) succeeded: root can be regained".into(),
        ));
    }
    verify_threads(account, groups)
}

/// Every thread in /proc/self/task holds the same ids and groups as this
/// one, and no capability beyond [`CAP_DAC_READ_SEARCH`].
fn verify_threads(account: &Account, groups: &[u32]) -> io::Result<()> {
    use crate::fsutil::with_path;
    use crate::proc::status;
    let dir = std::path::Path::new("/proc/self/task");
    let mut thread_groups = Vec::new();
    for task in std::fs::read_dir(dir).map_err(|e| with_path(dir, e))? {
        let path = task.map_err(|e| with_path(dir, e))?.path().join("status");
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            // A thread that ended meanwhile.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(with_path(&path, e)),
        };
        let not_taken =
            |what: String| io::Error::other(format!("after the drop, {}: {what}", path.display()));
        let c = status::parse(&text).map_err(|e| not_taken(e.to_string()))?;
        status::groups(&text, &mut thread_groups).map_err(|e| not_taken(e.to_string()))?;
        thread_groups.sort_unstable();
        thread_groups.dedup();
        if c.uids != [account.uid; 4] || c.gids != [account.gid; 4] {
            return Err(not_taken(format!("uids {:?}, gids {:?}", c.uids, c.gids)));
        }
        if thread_groups != groups {
            return Err(not_taken(format!(
                "groups {thread_groups:?}, not {groups:?}"
            )));
        }
        let beyond = (c.cap_permitted | c.cap_effective) & !KEPT_CAPS;
        if beyond != 0 || c.cap_inheritable != 0 || c.cap_ambient.unwrap_or(0) != 0 {
            return Err(not_taken(format!("capabilities left: {c:x?}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_users_and_reads_capabilities() {
        let root = lookup_user("root").unwrap().unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(lookup_user("no-such-user-7f3a").unwrap(), None);
        assert!(lookup_user("a\0b").is_err());
        let caps = capget().unwrap();
        assert_eq!(caps.effective & !caps.permitted, 0, "{caps:x?}");
        // Only what cannot switch runs here: a test must not drop its process.
        let (ruid, euid, suid) = resuid();
        if (ruid, euid, suid) == (0, 0, 0) {
            assert_eq!(drop_privileges(&root).unwrap(), Dropped::AlreadyThatUser);
        } else if euid != 0 {
            let me = Account {
                name: "me".into(),
                uid: euid,
                gid: resgid().1,
            };
            if (ruid, suid) == (euid, euid) {
                assert_eq!(drop_privileges(&me).unwrap(), Dropped::AlreadyThatUser);
            }
            let error = drop_privileges(&root).unwrap_err().to_string();
            assert!(error.contains("not root"), "{error}");
        }
    }
}
