//! sysmon's own footprint, from /proc/self (always the real one, whatever
//! `--proc-root` says: it describes this process): CPU time, resident
//! memory, threads, open descriptors, start time.
//!
//! Invariant: reading allocates nothing (/proc/self/fd is counted with
//! getdents into a fixed buffer); a failure keeps the previous figures and
//! is not worth a log line.

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
    fds: Option<sys::DirCounter>,
    clock_ticks_per_s: u64,
    page_size: u64,
}

impl SelfProcess {
    pub fn new() -> SelfProcess {
        SelfProcess {
            // One line of about 300 bytes (it grows if longer).
            stat_file: ProcFile::with_capacity(PathBuf::from("/proc/self/stat"), 512),
            fds: sys::DirCounter::open(c"/proc/self/fd").ok(),
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
