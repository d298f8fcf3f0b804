//! Network interfaces, from /proc/net/dev: counters and byte rates per
//! interface, in the kernel's order, less those `network_exclude` names.
//!
//! Invariant: once warm, and while the set of interfaces is unchanged,
//! [`Network::sample`] does not allocate (see [`super::counters`]). A missing
//! file gives an empty list, not an error.

use std::path::Path;
use std::time::Instant;

use super::counters::{DeviceFile, Named, rate, update_by_name};
use super::source::lossy;
use crate::nameglob::NameGlob;
use crate::proc::netdev::{self, NetCounters};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetSample {
    pub device: String,
    pub counters: NetCounters,
    pub rx_bytes_per_s: f64,
    pub tx_bytes_per_s: f64,
}

impl Named for NetSample {
    fn name(&self) -> &str {
        &self.device
    }
}

pub struct Network {
    file: DeviceFile,
    /// One reading's counters, parsed once (see [`update_by_name`]).
    staged: Vec<NetCounters>,
    /// Interfaces left out of the sample (`network_exclude`).
    exclude: Vec<NameGlob>,
}

impl Network {
    /// `FILE: why` while /proc/net/dev cannot be read or parsed.
    pub fn failure(&self) -> Option<&str> {
        self.file.failure()
    }

    pub fn new(proc_root: &Path) -> Network {
        Network {
            staged: Vec::new(),
            file: DeviceFile::new(proc_root.join("net/dev")),
            exclude: Vec::new(),
        }
    }

    /// Leaves the interfaces matching any of `globs` out of every sample
    /// from now on.
    pub fn set_exclude(&mut self, globs: &[NameGlob]) {
        self.exclude = globs.to_vec();
    }

    /// Refreshes `list`; on failure it keeps its previous figures.
    pub fn sample(&mut self, now: Instant, list: &mut Vec<NetSample>) {
        let exclude = &self.exclude;
        let wanted = |name: &[u8]| !exclude.iter().any(|g| g.matches(name));
        let staged = &mut self.staged;
        self.file.sample(now, list, |buf, seconds, list| {
            update_by_name(
                list,
                staged,
                || netdev::entries(buf).filter(|e| e.as_ref().map_or(true, |e| wanted(e.name))),
                |e| e.name,
                |e| e.counters,
                |e| NetSample {
                    device: lossy(e.name),
                    counters: e.counters,
                    ..NetSample::default()
                },
                |s, &c| {
                    s.rx_bytes_per_s = rate(s.counters.rx_bytes, c.rx_bytes, seconds);
                    s.tx_bytes_per_s = rate(s.counters.tx_bytes, c.tx_bytes, seconds);
                    s.counters = c;
                },
            )
        });
    }
}
