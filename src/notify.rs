//! systemd's readiness protocol (`sd_notify(3)`), with std only: one
//! datagram of `KEY=VALUE` lines to the unix socket named by `$NOTIFY_SOCKET`.
//!
//! What sysmon says: `READY=1` once the HTTP port is listening, `STATUS=`
//! lines for `systemctl status` ("monitoring", "backing up: 43%", "auditing
//! updates"), `WATCHDOG=1` every half `$WATCHDOG_USEC` from the poll loop (so
//! a stuck loop is noticed and restarted), `RELOADING=1` around SIGHUP and
//! `STOPPING=1` on shutdown.
//!
//! Invariants:
//! - Without `$NOTIFY_SOCKET` (OpenRC, runit, a terminal) every method is a
//!   no-op that neither allocates nor makes a system call.
//! - With it, the steady state does not allocate either: STATUS= text is
//!   formatted into a buffer sized once, and sent only when it changed.
//! - Sending never blocks the loop (the socket is non-blocking) and never
//!   fails the daemon: the first failed send is logged, later ones are not.
//!
//! Time is a parameter: [`Notifier::poll`] sends what is due at `now` and
//! [`Notifier::next_deadline`] says when it next wants to run.

use std::ffi::OsStr;
use std::fmt::{self, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use crate::audit::{UpdatesSnapshot, UpdatesState};
use crate::backup::{BackupSnapshot, BackupState};
use crate::log;

/// Room for the longest STATUS= line we build; a longer one grows the buffer once.
const STATUS_CAPACITY: usize = 128;

/// Talks to the service manager, or (when not started by one) does nothing.
pub struct Notifier {
    active: Option<Active>,
}

struct Active {
    socket: UnixDatagram,
    target: SocketAddr,
    /// Half of `$WATCHDOG_USEC`, when the watchdog is ours to feed.
    watchdog_every: Option<Duration>,
    next_watchdog_at: Instant,
    /// Scratch space for the next STATUS= datagram; `clear()`ed, never freed.
    scratch: String,
    /// The STATUS= datagram last sent (empty before the first).
    sent_status: String,
    send_failed_before: bool,
}

impl Notifier {
    /// A notifier that never sends anything.
    pub fn disabled() -> Notifier {
        Notifier { active: None }
    }

    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID`. An
    /// unusable value is logged and leaves the notifier disabled: the daemon
    /// still runs, and systemd reports the missing READY=1 itself.
    pub fn from_env() -> Notifier {
        let var = std::env::var_os;
        let (socket, usec, pid) = (
            var("NOTIFY_SOCKET"),
            var("WATCHDOG_USEC"),
            var("WATCHDOG_PID"),
        );
        match Notifier::new(
            socket.as_deref(),
            usec.as_deref(),
            pid.as_deref(),
            std::process::id(),
            Instant::now(),
        ) {
            Ok(n) => n,
            Err(e) => {
                log::warn(format_args!("sd_notify disabled: {e}"));
                Notifier::disabled()
            }
        }
    }

    /// The pure part of [`Notifier::from_env`]: the three variables' values,
    /// this process's pid, and the time the watchdog count starts.
    pub fn new(
        notify_socket: Option<&OsStr>,
        watchdog_usec: Option<&OsStr>,
        watchdog_pid: Option<&OsStr>,
        own_pid: u32,
        now: Instant,
    ) -> Result<Notifier, String> {
        let Some(name) = notify_socket.filter(|s| !s.is_empty()) else {
            return Ok(Notifier::disabled());
        };
        let target = socket_address(name.as_bytes())?;
        let socket = UnixDatagram::unbound()
            .map_err(|e| format!("cannot create a unix datagram socket: {e}"))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| format!("cannot make the notify socket non-blocking: {e}"))?;
        let watchdog_every = watchdog_interval(watchdog_usec, watchdog_pid, own_pid)?;
        Ok(Notifier {
            active: Some(Active {
                socket,
                target,
                watchdog_every,
                next_watchdog_at: now,
                scratch: String::with_capacity(STATUS_CAPACITY),
                sent_status: String::with_capacity(STATUS_CAPACITY),
                send_failed_before: false,
            }),
        })
    }

    /// Whether a service manager is listening (worth building STATUS= text for).
    pub fn is_enabled(&self) -> bool {
        self.active.is_some()
    }

    /// How often WATCHDOG=1 is sent, if at all.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.active.as_ref().and_then(|a| a.watchdog_every)
    }

    /// `READY=1`: start-up (or a reload) is complete and the port answers.
    pub fn ready(&mut self) {
        self.send_static(b"READY=1");
    }

    /// `RELOADING=1`: a SIGHUP reload begins; [`Notifier::ready`] ends it.
    pub fn reloading(&mut self) {
        self.send_static(b"RELOADING=1");
    }

    /// `STOPPING=1`: shutdown has begun.
    pub fn stopping(&mut self) {
        self.send_static(b"STOPPING=1");
    }

    /// `STATUS=text`, sent only when it differs from the last one.
    pub fn status(&mut self, text: &str) {
        self.status_fmt(format_args!("{text}"));
    }

    /// Like [`Notifier::status`], formatting into the reused buffer.
    pub fn status_fmt(&mut self, text: fmt::Arguments<'_>) {
        let Some(active) = &mut self.active else {
            return;
        };
        active.scratch.clear();
        // Writing into a String cannot fail.
        let _ = write!(active.scratch, "STATUS={text}");
        let Active {
            socket,
            target,
            scratch,
            sent_status,
            send_failed_before,
            ..
        } = active;
        if scratch == sent_status {
            return;
        }
        if send(socket, target, send_failed_before, scratch.as_bytes()) {
            sent_status.clear();
            sent_status.push_str(scratch);
        }
    }

    /// STATUS= for the jobs: what runs now, with the backup's percentage.
    /// Sent only when it changed; allocates nothing.
    pub fn status_jobs(&mut self, backup: &BackupSnapshot, updates: &UpdatesSnapshot) {
        if self.active.is_none() {
            return;
        }
        let backing_up = Some(backup).filter(|b| b.state == BackupState::Running);
        let auditing = updates.state == UpdatesState::Running;
        let percent = backing_up.and_then(|b| b.progress).and_then(|p| {
            percent(p.bytes_done, p.bytes_total).or_else(|| percent(p.files_done, p.files_total))
        });
        let audit_part = if auditing { "auditing updates" } else { "" };
        let separator = if backing_up.is_some() && auditing {
            "; "
        } else {
            ""
        };
        match (backing_up, percent) {
            (Some(_), Some(p)) => {
                self.status_fmt(format_args!("backing up: {p}%{separator}{audit_part}"))
            }
            (Some(_), None) => self.status_fmt(format_args!("backing up{separator}{audit_part}")),
            (None, _) if auditing => self.status(audit_part),
            (None, _) => self.status("monitoring"),
        }
    }

    /// Sends `WATCHDOG=1` when it is due at `now`.
    pub fn poll(&mut self, now: Instant) {
        let Some(active) = &mut self.active else {
            return;
        };
        let Some(every) = active.watchdog_every else {
            return;
        };
        // Early by up to a tenth of the period, in a turn awake anyway:
        // a ping too soon is harmless, one too late is not.
        if !crate::period::is_due(now, active.next_watchdog_at, every) {
            return;
        }
        active.send(b"WATCHDOG=1");
        // From `now`, not from the old deadline: a late ping must not be
        // followed by a burst of catch-up pings.
        active.next_watchdog_at = now + every;
    }

    /// When [`Notifier::poll`] next has something to send.
    pub fn next_deadline(&self) -> Option<Instant> {
        let active = self.active.as_ref()?;
        active.watchdog_every.map(|_| active.next_watchdog_at)
    }

    fn send_static(&mut self, message: &[u8]) {
        if let Some(active) = &mut self.active {
            active.send(message);
        }
    }
}

impl Active {
    fn send(&mut self, message: &[u8]) -> bool {
        send(
            &self.socket,
            &self.target,
            &mut self.send_failed_before,
            message,
        )
    }
}

/// One datagram; true when it was handed to the kernel.
fn send(
    socket: &UnixDatagram,
    target: &SocketAddr,
    failed_before: &mut bool,
    message: &[u8],
) -> bool {
    match socket.send_to_addr(message, target) {
        Ok(_) => true,
        Err(e) => {
            if !*failed_before {
                *failed_before = true;
                let shown = String::from_utf8_lossy(message);
                log::warn(format_args!(
                    "sd_notify: cannot send {shown}: {e} (further failures are not logged)"
                ));
            }
            false
        }
    }
}

/// `/path/to/socket`, or `@name` for Linux's abstract namespace.
fn socket_address(name: &[u8]) -> Result<SocketAddr, String> {
    let shown = String::from_utf8_lossy(name);
    let address = match name {
        [b'@', abstract_name @ ..] => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abstract_name)
        }
        [b'/', ..] => SocketAddr::from_pathname(OsStr::from_bytes(name)),
        _ => {
            return Err(format!(
                "NOTIFY_SOCKET={shown} is neither an absolute path nor an @abstract name"
            ));
        }
    };
    address.map_err(|e| format!("NOTIFY_SOCKET={shown}: {e}"))
}

/// Half of `$WATCHDOG_USEC`, unless `$WATCHDOG_PID` names another process
/// (the watchdog was meant for a parent or child of ours).
fn watchdog_interval(
    usec: Option<&OsStr>,
    pid: Option<&OsStr>,
    own_pid: u32,
) -> Result<Option<Duration>, String> {
    let Some(usec) = usec.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let usec = parse_u64(usec.as_bytes())
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            format!(
                "WATCHDOG_USEC={} is not a positive whole number",
                usec.to_string_lossy()
            )
        })?;
    if let Some(pid) = pid.filter(|s| !s.is_empty()) {
        let pid = parse_u64(pid.as_bytes())
            .ok_or_else(|| format!("WATCHDOG_PID={} is not a pid", pid.to_string_lossy()))?;
        if pid != u64::from(own_pid) {
            return Ok(None);
        }
    }
    Ok(Some(Duration::from_micros(usec / 2)))
}

/// Digits only, no sign, no overflow.
fn parse_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Whole percent of `done` in `total`, capped at 100; `None` when `total` is 0.
fn percent(done: u64, total: u64) -> Option<u64> {
    (total > 0).then(|| (u128::from(done) * 100 / u128::from(total)).min(100) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::job::{Progress, ProgressPhase};
    use std::ffi::OsString;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    /// A listening socket in the abstract namespace, unique per test.
    fn listener(tag: &str) -> (UnixDatagram, OsString) {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("sysmon-notify-unit-{tag}-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        socket.set_nonblocking(true).unwrap();
        (socket, os(&format!("@{name}")))
    }

    fn received(socket: &UnixDatagram) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[test]
    fn unset_socket_means_disabled_and_silent() {
        let t0 = Instant::now();
        let mut n = Notifier::new(None, Some(&os("1000000")), None, 1, t0).unwrap();
        assert!(!n.is_enabled());
        n.ready();
        n.status("x");
        n.poll(t0 + Duration::from_secs(10));
        assert_eq!(n.next_deadline(), None);
        assert!(
            !Notifier::new(Some(&os("")), None, None, 1, t0)
                .unwrap()
                .is_enabled()
        );
    }

    #[test]
    fn rejects_relative_socket_and_bad_watchdog_values() {
        let t0 = Instant::now();
        let sock = os("/run/x");
        assert!(Notifier::new(Some(&os("run/x")), None, None, 1, t0).is_err());
        for bad in ["0", "-5", "1.5", "abc", "99999999999999999999999"] {
            assert!(
                Notifier::new(Some(&sock), Some(&os(bad)), None, 1, t0).is_err(),
                "{bad}"
            );
        }
        assert!(Notifier::new(Some(&sock), Some(&os("100")), Some(&os("x")), 1, t0).is_err());
    }

    #[test]
    fn watchdog_at_half_the_interval_unless_meant_for_another_pid() {
        let t0 = Instant::now();
        let sock = os("/run/x");
        let n = Notifier::new(Some(&sock), Some(&os("3000000")), None, 42, t0).unwrap();
        assert_eq!(n.watchdog_interval(), Some(Duration::from_millis(1500)));
        assert_eq!(n.next_deadline(), Some(t0));
        let ours =
            Notifier::new(Some(&sock), Some(&os("3000000")), Some(&os("42")), 42, t0).unwrap();
        assert_eq!(ours.watchdog_interval(), Some(Duration::from_millis(1500)));
        let theirs =
            Notifier::new(Some(&sock), Some(&os("3000000")), Some(&os("43")), 42, t0).unwrap();
        assert_eq!(theirs.watchdog_interval(), None);
        assert_eq!(theirs.next_deadline(), None);
    }

    #[test]
    fn sends_due_watchdogs_and_status_only_on_change() {
        let (socket, name) = listener("wd");
        let t0 = Instant::now();
        let mut n = Notifier::new(Some(&name), Some(&os("1000000")), None, 7, t0).unwrap();
        n.ready();
        n.poll(t0); // due at once
        n.poll(t0 + Duration::from_millis(449)); // not yet
        assert_eq!(n.next_deadline(), Some(t0 + Duration::from_millis(500)));
        // Due from 90 % of the period: a turn awake anyway then pings.
        n.poll(t0 + Duration::from_millis(450));
        assert_eq!(n.next_deadline(), Some(t0 + Duration::from_millis(950)));
        // Late by 2 s: one ping, and the next is counted from now.
        n.poll(t0 + Duration::from_millis(2600));
        assert_eq!(n.next_deadline(), Some(t0 + Duration::from_millis(3100)));
        n.status("monitoring");
        n.status("monitoring");
        n.status_fmt(format_args!("backing up: {}%", 5));
        n.status("monitoring");
        n.stopping();
        assert_eq!(
            received(&socket),
            [
                "READY=1",
                "WATCHDOG=1",
                "WATCHDOG=1",
                "WATCHDOG=1",
                "STATUS=monitoring",
                "STATUS=backing up: 5%",
                "STATUS=monitoring",
                "STOPPING=1"
            ]
        );
    }

    #[test]
    fn job_status_lines() {
        let (socket, name) = listener("jobs");
        let mut n = Notifier::new(Some(&name), None, None, 7, Instant::now()).unwrap();
        let progress = |bytes_done, bytes_total, files_done, files_total| Progress {
            phase: ProgressPhase::Archiving,
            files_done,
            files_total,
            bytes_done,
            bytes_total,
        };
        let backup = |state, progress| BackupSnapshot {
            state,
            progress,
            last: None,
            last_success_at: None,
            last_success: None,
            next_at: None,
        };
        let running = |p: Option<Progress>| backup(BackupState::Running, p);
        let updates = UpdatesSnapshot::without_answer;
        let idle = updates(UpdatesState::Pending);
        let auditing = updates(UpdatesState::Running);
        let audit_done = updates(UpdatesState::Ok);
        let no_backup = backup(BackupState::Pending, None);
        n.status_jobs(&no_backup, &idle);
        n.status_jobs(&running(Some(progress(43, 100, 1, 9))), &idle);
        n.status_jobs(&running(Some(progress(2, 3, 0, 0))), &auditing);
        n.status_jobs(&running(Some(progress(0, 0, 1, 4))), &idle);
        n.status_jobs(&running(None), &idle);
        n.status_jobs(&backup(BackupState::Ok, None), &auditing);
        n.status_jobs(&no_backup, &audit_done);
        assert_eq!(
            received(&socket),
            [
                "STATUS=monitoring",
                "STATUS=backing up: 43%",
                "STATUS=backing up: 66%; auditing updates",
                "STATUS=backing up: 25%",
                "STATUS=backing up",
                "STATUS=auditing updates",
                "STATUS=monitoring"
            ]
        );
    }

    #[test]
    fn a_missing_listener_is_not_fatal() {
        let name = os(&format!("@sysmon-notify-nobody-{}", std::process::id()));
        let mut n = Notifier::new(Some(&name), Some(&os("2")), None, 1, Instant::now()).unwrap();
        n.ready();
        n.poll(Instant::now());
        n.status("monitoring");
        assert!(n.is_enabled());
    }

    #[test]
    fn strict_numbers_and_percentages() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"+1"), None);
        assert_eq!(percent(1, 3), Some(33));
        assert_eq!(percent(5, 3), Some(100));
        assert_eq!(percent(u64::MAX, u64::MAX), Some(100));
        assert_eq!(percent(1, 0), None);
    }
}
