//! Signals: SIGTERM/SIGINT ask the loop to stop, SIGHUP to reload, SIGCHLD
//! and all three wake it (a self-pipe read by one thread). Every other
//! signal whose default action ends the process but that asks nothing of
//! sysmon (SIGUSR1/2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
//! SIGSTKFLT, SIGXCPU and the real-time signals libc leaves free) is caught
//! only to be counted, for the loop to log as ignored; SIGXFSZ is caught and
//! dropped (a write past `RLIMIT_FSIZE` is then an `EFBIG` error). Caught,
//! never `SIG_IGN`: a child's `exec` resets a caught signal to its default,
//! an ignored one it inherits. SIGQUIT keeps its default (a core dump on
//! request). The handlers only touch atomics and write one byte: nothing
//! else is async-signal-safe.

use crate::owned::owned;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

use super::set_nonblocking;

static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
static RELOAD_REQUESTED: AtomicBool = AtomicBool::new(false);
/// The signals ignored by name: their default action ends the process.
const IGNORED: [libc::c_int; 9] = [
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGIO,
    libc::SIGPWR,
    libc::SIGSTKFLT,
    libc::SIGXCPU,
];
/// Signal numbers are 1..=64 on Linux.
const SIGNALS: usize = 64;
/// Per signal number: how many arrived since the loop last took them.
static IGNORED_COUNTS: [AtomicU32; SIGNALS + 1] = [const { AtomicU32::new(0) }; SIGNALS + 1];
/// Bit `n - 1` set: signal `n` may have a count in [`IGNORED_COUNTS`] (so
/// the loop reads one word per turn, not 64).
static IGNORED_PENDING: AtomicU64 = AtomicU64::new(0);
/// The write end of the wake pipe ([`wake_on_signals`]), or -1 before it
/// exists. Never closed once set.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe work here: set a flag the poll loop reads, and
    // write one byte to the wake pipe so a sleeping loop looks at it now.
    match signal {
        libc::SIGTERM | libc::SIGINT => STOP_REQUESTED.store(true, Ordering::SeqCst),
        libc::SIGHUP => RELOAD_REQUESTED.store(true, Ordering::SeqCst),
        libc::SIGCHLD => {}
        // The write that crossed the limit fails with EFBIG: that is the report.
        libc::SIGXFSZ => return,
        _ if (1..=SIGNALS as libc::c_int).contains(&signal) => {
            // The count first: the loop takes the counts whose bit it saw.
            IGNORED_COUNTS[signal as usize].fetch_add(1, Ordering::SeqCst);
            IGNORED_PENDING.fetch_or(1 << (signal - 1), Ordering::SeqCst);
        }
        _ => return,
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
/// [`take_reload_request`] and the signals with nothing to ask (a `kill
/// -USR1` meant to reopen logs, a stray SIGALRM, ...) to
/// [`take_ignored_signals`]; ignores SIGPIPE so a client that hangs up
/// mid-answer is an `EPIPE` error, not the end of the daemon. Caught, not
/// `SIG_IGN`: a child's `exec` resets them (std resets SIGPIPE itself).
pub fn install_signal_handlers() -> io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        set_handler(signal, libc::SA_RESTART)?;
    }
    for signal in IGNORED {
        set_handler(signal, libc::SA_RESTART)?;
    }
    // libc keeps some real-time signals for itself (musl: 32 to 34, below
    // SIGRTMIN) and may refuse others: those keep their disposition.
    for signal in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        let _ = set_handler(signal, libc::SA_RESTART);
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

/// Calls `each(signal, count)` for every ignored signal received since
/// the last call, with how many arrived. Allocates nothing.
pub fn take_ignored_signals(each: &mut dyn FnMut(SignalName, u32)) {
    let mut pending = IGNORED_PENDING.swap(0, Ordering::SeqCst);
    while pending != 0 {
        let signal = pending.trailing_zeros() as usize + 1;
        pending &= pending - 1;
        let count = IGNORED_COUNTS[signal].swap(0, Ordering::SeqCst);
        if count > 0 {
            each(SignalName(signal as libc::c_int), count);
        }
    }
}

/// A signal's number, shown as its name (`SIGUSR1`, `SIGRTMIN+3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalName(pub libc::c_int);

impl SignalName {
    /// The index of this signal among 1..=64.
    pub fn number(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGALRM => "SIGALRM",
            libc::SIGVTALRM => "SIGVTALRM",
            libc::SIGPROF => "SIGPROF",
            libc::SIGIO => "SIGIO",
            libc::SIGPWR => "SIGPWR",
            libc::SIGSTKFLT => "SIGSTKFLT",
            libc::SIGXCPU => "SIGXCPU",
            n if n >= libc::SIGRTMIN() => {
                return write!(f, "SIGRTMIN+{}", n - libc::SIGRTMIN());
            }
            n => return write!(f, "signal {n}"),
        };
        f.write_str(name)
    }
}

/// True once per SIGHUP received since the last call.
pub fn take_reload_request() -> bool {
    RELOAD_REQUESTED.swap(false, Ordering::SeqCst)
}

/// Catches SIGXFSZ (and drops it), so that writing past `RLIMIT_FSIZE`
/// is an `EFBIG` error the backup reports (and cleans up after) instead of
/// killing the process with a core dump. Caught, not `SIG_IGN`, so the
/// audit's and alerts' children start with its default after `exec`.
pub fn catch_file_size_signal() {
    let _ = set_handler(libc::SIGXFSZ, libc::SA_RESTART);
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
