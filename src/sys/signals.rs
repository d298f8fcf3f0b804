//! Signals: SIGTERM/SIGINT ask the loop to stop, SIGHUP to reload, SIGCHLD
//! and all three wake it (a self-pipe read by one thread); SIGUSR1/SIGUSR2
//! are caught only to be logged and ignored (their default action ends the
//! process). The handlers only store to atomics and write one byte:
//! nothing else is async-signal-safe.

use crate::owned::owned;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::set_nonblocking;

static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
static RELOAD_REQUESTED: AtomicBool = AtomicBool::new(false);
/// The last SIGUSR1 or SIGUSR2 not yet logged, or 0.
static IGNORED_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// The write end of the wake pipe ([`wake_on_signals`]), or -1 before it
/// exists. Never closed once set.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe work here: set a flag the poll loop reads, and
    // write one byte to the wake pipe so a sleeping loop looks at it now.
    match signal {
        libc::SIGHUP => RELOAD_REQUESTED.store(true, Ordering::SeqCst),
        libc::SIGCHLD => {}
        libc::SIGUSR1 | libc::SIGUSR2 => IGNORED_SIGNAL.store(signal, Ordering::SeqCst),
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

/// Routes SIGTERM and SIGINT to [`stop_requested`], SIGHUP to
/// [`take_reload_request`] and SIGUSR1/SIGUSR2 (a `kill -USR1` meant to
/// reopen logs) to [`take_ignored_signal`]; ignores SIGPIPE so a client
/// that hangs up mid-answer is an `EPIPE` error, not the end of the
/// daemon. Caught, not `SIG_IGN`: a child's `exec` resets them.
pub fn install_signal_handlers() -> io::Result<()> {
    for signal in [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
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
        .name(owned("sysmon-signals"))
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

/// The name of a SIGUSR1 or SIGUSR2 received since the last call (the
/// last of several), to be logged as ignored.
pub fn take_ignored_signal() -> Option<&'static str> {
    match IGNORED_SIGNAL.swap(0, Ordering::SeqCst) {
        libc::SIGUSR1 => Some("SIGUSR1"),
        libc::SIGUSR2 => Some("SIGUSR2"),
        _ => None,
    }
}

/// True once per SIGHUP received since the last call.
pub fn take_reload_request() -> bool {
    RELOAD_REQUESTED.swap(false, Ordering::SeqCst)
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

/// Blocks every signal in the calling thread, so that none is delivered
/// to it: for a thread that may wait in a call that a caught signal would
/// only make uninterruptible (a FUSE request the kernel then asks its
/// daemon to interrupt), which would hold the handler, and so SIGTERM,
/// until the call returns. The process's signals go to the other threads.
pub fn block_all_in_this_thread() {
    // SAFETY: sigfillset initialises the set we own; pthread_sigmask reads
    // it and changes only the calling thread's mask (it cannot fail with
    // SIG_BLOCK and a valid set).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}
