//! [patch] The only module of this crate that talks to the kernel directly:
//! an epoll instance and an eventfd, for the reactor (`reactor.rs`).
//! Every `unsafe` block is one system call on descriptors this module owns
//! (or that the caller keeps open for the duration of the call), with a
//! `// SAFETY:` note; nothing else in the crate may use `unsafe`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

pub(crate) use libc::{EPOLLET, EPOLLIN, EPOLLOUT, EPOLLRDHUP};

/// One readiness report: the token given at registration. (What is ready
/// is not looked at: each connection is read or written as its state says,
/// until EAGAIN.)
#[derive(Clone, Copy)]
pub(crate) struct Event {
    pub(crate) token: u64,
}

/// An epoll instance. Descriptors registered with it are watched until
/// they are closed (the kernel then forgets them) or `delete`d.
pub(crate) struct Epoll {
    fd: OwnedFd,
    // the kernel fills these on each wait; sized once
    ready: Vec<libc::epoll_event>,
}

impl Epoll {
    /// An epoll instance reporting at most `batch` events per wait.
    pub(crate) fn new(batch: usize) -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointer; the descriptor it returns
        // is new and owned by nobody else.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that only this `OwnedFd` closes.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let empty = libc::epoll_event { events: 0, u64: 0 };
        Ok(Epoll {
            fd,
            ready: vec![empty; batch.max(1)],
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: epoll_ctl reads `event`, which lives across the call; `fd`
        // is open (the caller holds it).
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Watches `fd` for `events`, reported with `token`.
    pub(crate) fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    /// Stops watching `fd`.
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Waits until something is ready or `timeout` (None: for ever) has
    /// passed, and puts what is ready into `out` (nothing on a timeout or a
    /// signal).
    pub(crate) fn wait(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<Event>,
    ) -> io::Result<()> {
        out.clear();
        let ms = match timeout {
            None => -1,
            // rounded up, so a deadline is never woken for too early
            Some(t) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int,
        };
        // SAFETY: the kernel writes at most `ready.len()` events into
        // `ready`, which we own and which outlives the call.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.ready.as_mut_ptr(),
                self.ready.len() as libc::c_int,
                ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(e);
        }
        // The token is copied out: `epoll_event` is packed on x86_64.
        out.extend(
            self.ready[..n as usize]
                .iter()
                .map(|raw| Event { token: raw.u64 }),
        );
        Ok(())
    }
}

/// An eventfd: any thread `notify`s, the reactor's epoll sees it
/// readable until it `drain`s it. Many notifications before a drain cost
/// one wake-up.
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub(crate) fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes no pointer; the descriptor is new.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that only this `OwnedFd` closes.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Makes the eventfd readable. Never blocks (the counter would have to
    /// reach 2^64 - 1 first).
    pub(crate) fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: write reads 8 bytes from `one`, which lives across the call.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Resets the counter (EAGAIN when it was zero: nothing to do).
    pub(crate) fn drain(&self) {
        let mut count: u64 = 0;
        // SAFETY: read writes 8 bytes into `count`, which we own.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
    }
}
