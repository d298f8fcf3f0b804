//! What the host says of itself in one line each: load averages
//! (/proc/loadavg), uptime (/proc/uptime) and the host name
//! (/proc/sys/kernel/hostname).
//!
//! Invariant: each is re-read in place, allocation-free once warm (the host
//! name's `String` is rewritten only when the name changes); on failure the
//! previous figure stays.
//!
//! Uptime and host name are each a kernel value the file only prints:
//! once a file on procfs has been seen to say exactly what the kernel call
//! says ([`Uptime`]: `CLOCK_BOOTTIME`; [`HostName`]: `uname`), the call is
//! made instead of the read (the clock is no system call at all, `uname`
//! a copy of the name). A file that said something else (a fixture tree
//! under `--proc-root`, LXCFS's FUSE `uptime`, a kernel that shows a
//! container its own uptime) is read at every sample, as before.

use std::path::Path;

use super::procfile::ProcFile;
use super::source::{Failure, Health};
use crate::proc::{self, loadavg::LoadAvg};
use crate::sys;

/// One kept-open file with one figure in it, its health, and how the
/// figure is parsed and stored into a `T` of the sample.
pub struct OneLine<T: ?Sized> {
    file: ProcFile,
    health: Health,
    store: fn(&[u8], &mut T) -> Result<(), Failure>,
}

/// /proc/loadavg.
pub fn load(proc_root: &Path) -> OneLine<LoadAvg> {
    OneLine::new(proc_root, "loadavg", |buf, out| {
        *out = proc::loadavg::parse(buf).map_err(Failure::Parse)?;
        Ok(())
    })
}

/// Where a figure the kernel also gives by a call comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Not read yet (or not successfully): the next reading is of the
    /// file, and compared with the call.
    Unchecked,
    /// The call: the file was on procfs and said the same.
    Kernel,
    /// The file, at every sample: it was not procfs, or said otherwise.
    File,
}

/// /proc/uptime's first figure, in seconds: from `CLOCK_BOOTTIME` once the
/// file has been seen to print that clock (module docs).
pub struct Uptime {
    file: OneLine<f64>,
    origin: Origin,
}

impl Uptime {
    pub fn new(proc_root: &Path) -> Uptime {
        Uptime {
            file: OneLine::new(proc_root, "uptime", |buf, out| {
                *out = proc::uptime::parse(buf).map_err(Failure::Parse)?;
                Ok(())
            }),
            origin: Origin::Unchecked,
        }
    }

    /// Refreshes `out`; on failure it keeps its previous figure.
    pub fn sample(&mut self, out: &mut f64) {
        if self.origin == Origin::Kernel {
            if let Ok(centis) = sys::boottime_centis() {
                *out = seconds_of_centis(centis);
                return;
            }
        }
        let checking = self.origin == Origin::Unchecked;
        let before = checking.then(sys::boottime_centis);
        if !self.file.sample(out) || !checking {
            return;
        }
        let after = sys::boottime_centis();
        // /proc/uptime prints the clock truncated to hundredths, read
        // between our two readings of it.
        let read = (*out * 100.0).round() as u64;
        let agrees = matches!((before, after), (Some(Ok(b)), Ok(a)) if (b..=a).contains(&read));
        self.origin = if agrees && self.file.on_procfs() {
            Origin::Kernel
        } else {
            Origin::File
        };
    }

    #[cfg(test)]
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// `FILE: why` while the file cannot be read.
    pub fn failure(&self) -> Option<&str> {
        self.file.failure()
    }
}

/// Seconds as /proc/uptime's parser gives them for the same hundredths
/// (`proc::parse_decimal`: whole seconds plus one division), so a figure
/// from the clock is the same `f64` the file would have given.
fn seconds_of_centis(centis: u64) -> f64 {
    (centis / 100) as f64 + (centis % 100) as f64 / 100.0
}

/// /proc/sys/kernel/hostname: from `uname` once the file has been seen to
/// print the same name (module docs: both are the reader's UTS namespace's
/// `nodename`). The `String` is rewritten only when the name changed.
pub struct HostName {
    file: OneLine<String>,
    origin: Origin,
}

impl HostName {
    pub fn new(proc_root: &Path) -> HostName {
        HostName {
            file: OneLine::new(proc_root, "sys/kernel/hostname", |buf, out| {
                store_name(buf.trim_ascii(), out)
            }),
            origin: Origin::Unchecked,
        }
    }

    /// Refreshes `out`; on failure it keeps its previous name.
    pub fn sample(&mut self, out: &mut String) {
        if self.origin == Origin::Kernel {
            if let Ok(uts) = sys::uname() {
                if store_name(uts.nodename(), out).is_ok() {
                    return;
                }
            }
        }
        if !self.file.sample(out) || self.origin != Origin::Unchecked {
            return;
        }
        let agrees = sys::uname().is_ok_and(|uts| uts.nodename() == out.as_bytes());
        self.origin = if agrees && self.file.on_procfs() {
            Origin::Kernel
        } else {
            Origin::File
        };
    }

    #[cfg(test)]
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// `FILE: why` while the file cannot be read.
    pub fn failure(&self) -> Option<&str> {
        self.file.failure()
    }
}

/// `name` into `out`, rewritten only when it changed.
fn store_name(name: &[u8], out: &mut String) -> Result<(), Failure> {
    let name = std::str::from_utf8(name).map_err(|_| Failure::Other("host name is not UTF-8"))?;
    if out != name {
        out.clear();
        out.push_str(name);
    }
    Ok(())
}

impl<T: ?Sized> OneLine<T> {
    fn new(
        proc_root: &Path,
        rel: &str,
        store: fn(&[u8], &mut T) -> Result<(), Failure>,
    ) -> OneLine<T> {
        OneLine {
            // One line (load averages, uptime, a name): it grows if not.
            file: ProcFile::with_capacity(proc_root.join(rel), 256),
            health: Health::default(),
            store,
        }
    }

    /// Refreshes `out`; on failure it keeps its previous figure. Whether
    /// it was refreshed.
    pub fn sample(&mut self, out: &mut T) -> bool {
        let store = self.store;
        let r = self
            .file
            .read()
            .map_err(Failure::Io)
            .and_then(|buf| store(buf, out));
        let ok = r.is_ok();
        self.health.note(self.file.path(), r);
        ok
    }

    /// The file is open and on procfs (not a fixture, not a FUSE file
    /// mounted over it).
    fn on_procfs(&self) -> bool {
        self.file.raw_fd().is_some_and(sys::is_procfs)
    }

    /// `FILE: why` while the file cannot be read.
    pub fn failure(&self) -> Option<&str> {
        self.health.failure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /proc/uptime's first figure, and the boot-time clock read just
    /// before and just after it, in hundredths.
    fn uptime_file_between_clock_readings() -> (u64, u64, u64) {
        let before = sys::boottime_centis().unwrap();
        let text = std::fs::read("/proc/uptime").unwrap();
        let after = sys::boottime_centis().unwrap();
        let file = proc::uptime::parse(&text).unwrap();
        (before, (file * 100.0).round() as u64, after)
    }

    /// On procfs the uptime comes from the clock after the first reading,
    /// and it is what /proc/uptime prints: the same hundredths (truncated,
    /// not rounded) and the same `f64` the file's parser gives.
    #[test]
    fn uptime_from_the_clock_is_the_files_figure() {
        for _ in 0..100 {
            let (before, file, after) = uptime_file_between_clock_readings();
            assert!(
                before <= file && file <= after,
                "/proc/uptime {file} outside the clock's {before}..={after}"
            );
        }
        let mut uptime = Uptime::new(Path::new("/proc"));
        let mut seconds = 0.0;
        uptime.sample(&mut seconds);
        assert_eq!(uptime.origin(), Origin::Kernel, "{:?}", uptime.failure());
        for _ in 0..100 {
            let before = sys::boottime_centis().unwrap();
            uptime.sample(&mut seconds);
            let text = std::fs::read("/proc/uptime").unwrap();
            let file = proc::uptime::parse(&text).unwrap();
            let centis = (seconds * 100.0).round() as u64;
            assert!(
                before <= centis && seconds <= file,
                "clock {seconds} against {before} before and /proc/uptime {file} after"
            );
            assert_eq!(seconds, seconds_of_centis(centis), "{seconds}");
            let printed = format!("{}.{:02}", centis / 100, centis % 100);
            assert_eq!(proc::uptime::parse(printed.as_bytes()), Ok(seconds));
        }
    }

    /// A file that is not procfs (a fixture tree) is read at every sample,
    /// and so is one that disagrees with the clock.
    #[test]
    fn a_fixture_uptime_and_host_name_are_read_every_time() {
        let dir = std::env::temp_dir().join(format!("sysmon-host-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sys/kernel")).unwrap();
        std::fs::write(dir.join("uptime"), "479.76 843.00\n").unwrap();
        std::fs::write(dir.join("sys/kernel/hostname"), "fixture-box\n").unwrap();
        let mut uptime = Uptime::new(&dir);
        let mut host = HostName::new(&dir);
        let (mut seconds, mut name) = (0.0, String::new());
        uptime.sample(&mut seconds);
        host.sample(&mut name);
        assert_eq!((seconds, name.as_str()), (479.76, "fixture-box"));
        assert_eq!(
            (uptime.origin(), host.origin()),
            (Origin::File, Origin::File)
        );
        std::fs::write(dir.join("uptime"), "480.76 844.00\n").unwrap();
        std::fs::write(dir.join("sys/kernel/hostname"), "renamed\n").unwrap();
        uptime.sample(&mut seconds);
        host.sample(&mut name);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((seconds, name.as_str()), (480.76, "renamed"));
    }

    /// On procfs the host name comes from `uname` after the first reading,
    /// and it is the file's.
    #[test]
    fn host_name_from_uname_is_the_files() {
        let mut host = HostName::new(Path::new("/proc"));
        let mut name = String::new();
        host.sample(&mut name);
        assert_eq!(host.origin(), Origin::Kernel, "{:?}", host.failure());
        name.clear();
        host.sample(&mut name);
        let file = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(name, file.trim_end());
    }
}
