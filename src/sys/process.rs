//! This process and its children: facts (uid, terminal, clock ticks, page
//! size, host name), the umask and descriptor limit, the child subreaper,
//! signalling and reaping single processes or groups, and how a child of the
//! daemon is started. Never a wildcard: no call takes pid 0 or -1.

use crate::owned::owned;
use std::ffi::CStr;
use std::io;
use std::time::{Duration, Instant};

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

/// SIGKILL to the process group `child` leads (started with
/// `process_group(0)`) and to `child` itself, which may have left that
/// group (`setpgid` into another one, its helpers staying behind): a group
/// signal alone would miss it, and a wait for it would never end. Then
/// reaps it, waiting at most `wait` for the kernel to finish it off (one
/// asleep in a driver can take longer). Whether it was reaped; one that
/// was not is a child of ours no job tracks, which `crate::orphans` reaps.
pub fn kill_child_and_its_group(child: &mut std::process::Child, wait: Duration) -> bool {
    if let Ok(Some(_)) = child.try_wait() {
        return true;
    }
    let _ = kill_process_group(child.id(), libc::SIGKILL);
    let _ = child.kill();
    let deadline = Instant::now() + wait;
    loop {
        match child.try_wait() {
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(None) => return false,
            Ok(Some(_)) | Err(_) => return true,
        }
    }
}

/// Whether the child `pid` has exited, leaving it unreaped (`waitid` with
/// `WNOWAIT`): while it is a zombie its pid, which is also the id of the
/// process group it leads, cannot be reused, so that group can still be
/// signalled without hitting a stranger. `std::process::Child::try_wait`
/// reaps it later.
pub fn has_exited(pid: u32) -> io::Result<bool> {
    let pid = libc::id_t::from(pid);
    // SAFETY: siginfo_t is plain integers, for which all zeroes is valid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let options = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: waitid writes only into `info`, which we own.
    if unsafe { libc::waitid(libc::P_PID, pid, &mut info, options) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: waitid filled `info` for an exited child, or (WNOHANG, still
    // running) left it zeroed; si_pid reads an integer either way.
    Ok(unsafe { info.si_pid() } != 0)
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
            return owned("localhost");
        }
        CStr::from_ptr(uts.nodename.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
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

/// The soft limits on open descriptors (`RLIMIT_NOFILE`) and on the address
/// space (`RLIMIT_AS`; `u64::MAX` when unlimited), for the `process_*`
/// series of /metrics. One system call each.
pub fn soft_limits() -> io::Result<(u64, u64)> {
    // SAFETY: getrlimit writes the structs we own; read only on success.
    unsafe {
        let mut files: libc::rlimit = std::mem::zeroed();
        let mut address_space: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut files) != 0
            || libc::getrlimit(libc::RLIMIT_AS, &mut address_space) != 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok((files.rlim_cur as u64, address_space.rlim_cur as u64))
    }
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
