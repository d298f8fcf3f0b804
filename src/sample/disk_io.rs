//! Block-device I/O, from /proc/diskstats: counters, byte rates and busy
//! share per device with I/O, in the kernel's order (devices that are
//! virtual and never did I/O are left out, see
//! [`crate::proc::diskstats::is_virtual_idle`]).
//!
//! Invariant: once warm, and while the set of devices is unchanged,
//! [`DiskIo::sample`] does not allocate (see [`super::counters`]); whether a
//! device is a whole disk is looked up in sysfs only when it first appears.
//! A missing file gives an empty list, not an error.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::counters::{DeviceFile, Named, rate, update_by_name};
use super::source::lossy;
use crate::proc::diskstats::{self, DiskCounters};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiskIoSample {
    pub device: String,
    /// `<sys_root>/block/<device>` exists; partitions live under their disk.
    pub whole_disk: bool,
    pub counters: DiskCounters,
    pub read_bytes_per_s: f64,
    pub write_bytes_per_s: f64,
    /// Share of wall time with I/O in flight (iostat's %util).
    pub busy_percent: f64,
}

impl Named for DiskIoSample {
    fn name(&self) -> &str {
        &self.device
    }
}

pub struct DiskIo {
    sys_root: PathBuf,
    file: DeviceFile,
    /// One reading's counters, parsed once (see [`update_by_name`]).
    staged: Vec<DiskCounters>,
}

impl DiskIo {
    /// `FILE: why` while /proc/diskstats cannot be read or parsed.
    pub fn failure(&self) -> Option<&str> {
        self.file.failure()
    }

    pub fn new(proc_root: &Path, sys_root: &Path) -> DiskIo {
        DiskIo {
            sys_root: sys_root.to_path_buf(),
            staged: Vec::new(),
            file: DeviceFile::new(proc_root.join("diskstats")),
        }
    }

    /// Refreshes `list`; on failure it keeps its previous figures.
    pub fn sample(&mut self, now: Instant, list: &mut Vec<DiskIoSample>) {
        let sys_root = &self.sys_root;
        let staged = &mut self.staged;
        self.file.sample(now, list, |buf, seconds, list| {
            update_by_name(
                list,
                staged,
                || diskstats::wanted_entries(buf),
                |e| e.name,
                |e| e.counters,
                |e| {
                    let device = lossy(e.name);
                    // sysfs spells a `/` in a device name (cciss/c0d0) as `!`.
                    let whole_disk = sys_root
                        .join("block")
                        .join(device.replace('/', "!"))
                        .exists();
                    DiskIoSample {
                        device,
                        whole_disk,
                        counters: e.counters,
                        ..DiskIoSample::default()
                    }
                },
                |s, &c| {
                    s.read_bytes_per_s = rate(s.counters.read_bytes(), c.read_bytes(), seconds);
                    s.write_bytes_per_s =
                        rate(s.counters.written_bytes(), c.written_bytes(), seconds);
                    // ms busy per ms elapsed, as a percentage.
                    s.busy_percent = (rate(s.counters.io_time_ms, c.io_time_ms, seconds) / 10.0)
                        .clamp(0.0, 100.0);
                    s.counters = c;
                },
            )
        });
    }
}
