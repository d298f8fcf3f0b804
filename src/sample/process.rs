//! sysmon's own footprint, from /proc/self (always the real one, whatever
//! `--proc-root` says: it describes this process): CPU time, resident
//! memory, threads, open descriptors, start time.
//!
//! Invariant: reading allocates nothing; a failure keeps the previous
//! figures and is not worth a log line.
//!
//! Open descriptors are counted by [`FdCounter`]: one `fstat` of the
//! kept-open /proc/self/fd where the kernel reports the count as its size
//! (Linux 6.2 and later), else a getdents listing into a fixed buffer.

use std::ffi::CStr;
use std::io;
use std::path::PathBuf;

use super::procfile::ProcFile;
use crate::proc;
use crate::sys;

/// sysmon's own footprint, from /proc/self (always the real one, whatever
/// `--proc-root` says: it describes this process).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcessSample {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    /// Virtual memory size (`vsize`).
    pub virtual_bytes: u64,
    pub open_fds: u64,
    pub threads: u64,
    /// Unix time the process started.
    pub start_time_s: f64,
}

pub struct SelfProcess {
    stat_file: ProcFile,
    /// /proc/self/fd, kept open; `None` if it could not be opened.
    fds: Option<FdCounter>,
    clock_ticks_per_s: u64,
    page_size: u64,
}

impl SelfProcess {
    pub fn new() -> SelfProcess {
        SelfProcess {
            // One line of about 300 bytes (it grows if longer).
            stat_file: ProcFile::with_capacity(PathBuf::from("/proc/self/stat"), 512),
            fds: FdCounter::open(c"/proc/self/fd").ok(),
            clock_ticks_per_s: sys::clock_ticks_per_second(),
            page_size: sys::page_size(),
        }
    }

    /// Refreshes `out`; `boot_time_s` (from /proc/stat) dates our start.
    pub fn sample(&mut self, boot_time_s: Option<u64>, out: &mut ProcessSample) {
        if let Some(stat) = self
            .stat_file
            .read()
            .ok()
            .and_then(|b| proc::selfstat::parse(b).ok())
        {
            let hz = self.clock_ticks_per_s as f64;
            out.cpu_seconds = (stat.user_ticks + stat.system_ticks) as f64 / hz;
            out.resident_bytes = stat.rss_pages.saturating_mul(self.page_size);
            out.virtual_bytes = stat.vsize_bytes;
            out.threads = stat.threads;
            if let Some(boot) = boot_time_s {
                out.start_time_s = boot as f64 + stat.start_ticks as f64 / hz;
            }
        }
        if let Some(counter) = &mut self.fds {
            if let Ok(n) = counter.count() {
                out.open_fds = n;
            }
        }
    }
}

/// How [`FdCounter`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdCounting {
    /// `st_size` of the directory: since Linux 6.2 (commit f1f1f2569901,
    /// "proc: report open files as size in stat() for /proc/pid/fd") the
    /// getattr of /proc/PID/fd puts there the number of set bits in the
    /// process's open-descriptor bitmap (`bitmap_weight(open_fds)`). That
    /// counts what a listing shows, plus a descriptor another thread has
    /// reserved and not yet installed (the moment inside `open` or
    /// `accept`). Older kernels report 0 there, and so does a process
    /// whose descriptor table is gone (exiting).
    Size,
    /// The entries of a getdents listing, `.` and `..` left out: what every
    /// kernel can do; about 1 µs per descriptor on a cold cache, where the
    /// `fstat` of [`FdCounting::Size`] is one call whatever the count.
    Listing,
}

/// Counts the open descriptors of a process from its /proc/PID/fd, kept
/// open.
///
/// Invariant: counting allocates nothing; with [`FdCounting::Size`] it is
/// one `fstat`, and a size of 0 (no kernel support, or the table gone) is
/// answered by a listing, so the count is never a 0 the kernel did not
/// mean.
pub struct FdCounter {
    dir: sys::DirCounter,
    counting: FdCounting,
}

impl FdCounter {
    /// Opens `fd_dir` (a /proc/PID/fd) and counts by size where this
    /// kernel reports one: the directory's own descriptor is open in a
    /// process reading its own /proc/self/fd, so a size of 0 there means no
    /// support.
    pub fn open(fd_dir: &CStr) -> io::Result<FdCounter> {
        let mut counter = FdCounter::open_listing(fd_dir)?;
        let size = sys::fstat_size(std::os::fd::AsFd::as_fd(&counter.dir))?;
        if size > 0 {
            counter.counting = FdCounting::Size;
        }
        Ok(counter)
    }

    /// Opens `fd_dir` to count by listing whatever the kernel offers: the
    /// fallback's own path, for kernels before 6.2 and for tests.
    pub fn open_listing(fd_dir: &CStr) -> io::Result<FdCounter> {
        Ok(FdCounter {
            dir: sys::DirCounter::open(fd_dir)?,
            counting: FdCounting::Listing,
        })
    }

    /// The number of descriptors open now.
    pub fn count(&mut self) -> io::Result<u64> {
        if self.counting == FdCounting::Size {
            let size = sys::fstat_size(std::os::fd::AsFd::as_fd(&self.dir))?;
            if size > 0 {
                return Ok(size);
            }
        }
        self.dir.count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command, Stdio};

    /// A `sleep` holding stdin, stdout, stderr and `extra` more descriptors
    /// (on /dev/null), and the path of its fd directory. A child, not this
    /// process: the tests around this one open and close files at any
    /// moment, so this process's count is not still.
    fn child_holding(extra: usize) -> (Child, std::ffi::CString) {
        let redirects: String = (3..3 + extra)
            .map(|fd| format!(" {fd}</dev/null"))
            .collect();
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("exec{redirects}; exec sleep 30"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn /bin/sh");
        let path = std::ffi::CString::new(format!("/proc/{}/fd", child.id())).unwrap();
        (child, path)
    }

    /// The count a new counter of `counting` reports for a child, once the
    /// child is `sleep` (the shell's redirections done, its own descriptors
    /// closed at exec) and the count has stopped moving.
    fn settled_count(child: &Child, path: &CStr, counting: FdCounting) -> u64 {
        let comm = format!("/proc/{}/comm", child.id());
        let mut last = None;
        for _ in 0..500 {
            std::thread::sleep(std::time::Duration::from_millis(10));
            if std::fs::read_to_string(&comm).map_or(true, |c| c.trim() != "sleep") {
                continue;
            }
            let mut counter = match counting {
                FdCounting::Size => FdCounter::open(path),
                FdCounting::Listing => FdCounter::open_listing(path),
            }
            .unwrap_or_else(|e| panic!("{}: {e}", path.to_string_lossy()));
            assert_eq!(counter.counting, counting, "{}", path.to_string_lossy());
            let n = counter.count().expect("count");
            if last == Some(n) {
                return n;
            }
            last = Some(n);
        }
        panic!("the child never settled as `sleep` with a steady count");
    }

    fn listing_len(path: &CStr) -> u64 {
        std::fs::read_dir(path.to_str().unwrap()).unwrap().count() as u64
    }

    /// Both ways of counting see `N` more descriptors when a process holds
    /// `N` more, and agree with std's listing of the same directory.
    #[test]
    fn both_countings_move_by_the_descriptors_opened() {
        let kernel_reports_size = {
            let (mut child, path) = child_holding(0);
            let size = std::fs::metadata(path.to_str().unwrap()).map(|m| {
                use std::os::unix::fs::MetadataExt;
                m.size()
            });
            child.kill().ok();
            child.wait().ok();
            size.is_ok_and(|s| s > 0)
        };
        let mut countings = vec![FdCounting::Listing];
        if kernel_reports_size {
            countings.push(FdCounting::Size);
        } else {
            eprintln!(
                "SKIPPED: st_size of /proc/PID/fd is 0 on this kernel (before 6.2): \
                 only the listing is tested"
            );
        }
        for counting in countings {
            let (mut few, few_path) = child_holding(0);
            let (mut many, many_path) = child_holding(7);
            let (base, more) = (
                settled_count(&few, &few_path, counting),
                settled_count(&many, &many_path, counting),
            );
            let listed = (listing_len(&few_path), listing_len(&many_path));
            for child in [&mut few, &mut many] {
                child.kill().ok();
                child.wait().ok();
            }
            assert_eq!(more - base, 7, "{counting:?}: {base} then {more}");
            assert_eq!((base, more), listed, "{counting:?} against read_dir");
            // Not exactly 3: descriptors the test runner was given without
            // close-on-exec (a jobserver's pipe) reach the children too.
            assert!(base >= 3, "{counting:?}: stdin, stdout, stderr: {base}");
        }
    }

    /// Where the descriptor `fd` of this process stands (`pos:` in its
    /// /proc/self/fdinfo): a listing moves a directory's, an `fstat` does not.
    fn position_of(fd: &impl std::os::fd::AsFd) -> u64 {
        use std::os::fd::AsRawFd;
        let raw = fd.as_fd().as_raw_fd();
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{raw}")).unwrap();
        let pos = info.lines().find_map(|l| l.strip_prefix("pos:"));
        pos.and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pos in fdinfo: {info:?}"))
    }

    /// Counting by size is the one `fstat` it promises, not a listing in
    /// disguise: the directory is not read (its position stays at the
    /// start), where a count by listing reads it to the end. A count that
    /// listed in both ways would pass the test above.
    #[test]
    fn counting_by_size_does_not_list_the_directory() {
        let (mut child, path) = child_holding(2);
        let mut listing = FdCounter::open_listing(&path).unwrap();
        let listed = listing.count().unwrap();
        let by_size = FdCounter::open(&path).unwrap();
        let sized = (by_size.counting == FdCounting::Size).then(|| {
            let mut counter = by_size;
            let n = counter.count().unwrap();
            (n, position_of(&counter.dir))
        });
        let listing_position = position_of(&listing.dir);
        child.kill().ok();
        child.wait().ok();
        assert!(listed >= 5, "{listed}");
        assert!(
            listing_position > 0,
            "the listing did not read the directory"
        );
        match sized {
            Some((n, position)) => {
                assert!(n >= 5, "by size: {n}");
                assert_eq!(position, 0, "counting by size listed the directory");
            }
            None => eprintln!("SKIPPED: st_size of /proc/PID/fd is 0 on this kernel (before 6.2)"),
        }
    }

    /// A size of 0 is no count: a directory whose size reads 0 though it has
    /// entries (/proc/self/ns, as /proc/PID/fd before Linux 6.2) is counted
    /// by listing when opened, and a counter by size that meets a 0 there
    /// (the kernel's answer for a process whose table is gone) lists it
    /// rather than say 0.
    #[test]
    fn a_size_of_zero_is_answered_by_a_listing() {
        let path = c"/proc/self/ns";
        assert_eq!(std::fs::metadata("/proc/self/ns").unwrap().len(), 0);
        let entries = listing_len(path);
        assert!(entries > 0, "/proc/self/ns is empty");
        let mut opened = FdCounter::open(path).unwrap();
        assert_eq!(opened.counting, FdCounting::Listing);
        assert_eq!(opened.count().unwrap(), entries);
        let mut by_size = FdCounter {
            dir: sys::DirCounter::open(path).unwrap(),
            counting: FdCounting::Size,
        };
        assert_eq!(by_size.count().unwrap(), entries, "counting by size said 0");
    }

    /// On this process: the kernel's size is taken where it has one (and
    /// the listing where not), and both give a count that includes the
    /// directory's own descriptor.
    #[test]
    fn self_counting_uses_the_size_where_the_kernel_has_one() {
        let mut counter = FdCounter::open(c"/proc/self/fd").unwrap();
        let size = std::fs::metadata("/proc/self/fd").map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.size()
        });
        let expected = if size.is_ok_and(|s| s > 0) {
            FdCounting::Size
        } else {
            FdCounting::Listing
        };
        assert_eq!(counter.counting, expected);
        assert!(counter.count().unwrap() >= 4, "0, 1, 2 and the directory");
    }
}
