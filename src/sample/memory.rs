//! The memory source: /proc/meminfo read into RAM and swap figures, with
//! `MemAvailable` estimated on kernels older than 3.14 that lack it.
//!
//! Invariant: `used = total - available`, never negative; percentages are
//! within 0..=100 (0 when the total is 0); reading allocates nothing once
//! warm. On failure the previous figures stay. A key printed twice keeps
//! its first value, said once in the log ([`Repeats`]).

use std::path::Path;

use super::procfile::{Ends, ProcFile};
use super::source::{Failure, Health, Repeats};
use crate::proc::{self, meminfo::MemInfo};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemorySample {
    pub total_bytes: u64,
    pub available_bytes: u64,
    /// `total - available`, what is really taken.
    pub used_bytes: u64,
    pub free_bytes: u64,
    pub buffers_cached_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
}

impl MemorySample {
    pub fn used_percent(&self) -> f64 {
        percent_of(self.used_bytes, self.total_bytes)
    }
    pub fn swap_percent(&self) -> f64 {
        percent_of(self.swap_used_bytes, self.swap_total_bytes)
    }
}

fn percent_of(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 100.0 / whole as f64).clamp(0.0, 100.0)
    }
}

/// What the sampler's log says of /proc/meminfo, as of a sample: /metrics,
/// which reads the file again at each scrape, then leaves it unsaid (one
/// cause, one line), and while the sample keeps its previous figures it
/// serves those, as /data.json does, not the file's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MeminfoSaid {
    /// That it repeats one of the keys read here.
    pub repeats: bool,
    /// That it cannot be read or understood (until it is read again): the
    /// sample then holds the last good figures.
    pub failing: bool,
}

/// /proc/meminfo, and min_free_kbytes for kernels without `MemAvailable`.
pub struct Memory {
    meminfo_file: ProcFile,
    min_free_file: ProcFile,
    health: Health,
    /// Whether the log says that /proc/meminfo repeats a key.
    repeats: Repeats,
}

impl Memory {
    pub fn new(proc_root: &Path) -> Memory {
        Memory {
            meminfo_file: ProcFile::new(proc_root.join("meminfo")).ending(Ends::AtShortRead),
            min_free_file: ProcFile::with_capacity(proc_root.join("sys/vm/min_free_kbytes"), 32)
                .optional(),
            health: Health::default(),
            repeats: Repeats::default(),
        }
    }

    /// Refreshes `memory` and the raw figures behind it, `meminfo`.
    pub fn sample(&mut self, memory: &mut MemorySample, meminfo: &mut MemInfo) {
        let r = self.read(memory, meminfo);
        self.health.note(self.meminfo_file.path(), r);
    }

    /// What the log says of /proc/meminfo as of the last reading.
    pub fn said(&self) -> MeminfoSaid {
        MeminfoSaid {
            repeats: self.repeats.said(),
            failing: self.health.failure().is_some(),
        }
    }

    /// `FILE: why` while /proc/meminfo cannot be read.
    pub fn failure(&self) -> Option<&str> {
        self.health.failure()
    }

    fn read(&mut self, memory: &mut MemorySample, meminfo: &mut MemInfo) -> Result<(), Failure> {
        let buf = self.meminfo_file.read().map_err(Failure::Io)?;
        let (info, repeated) = proc::meminfo::parse_noting_repeats(buf).map_err(Failure::Parse)?;
        self.repeats
            .note(&self.meminfo_file.path().display(), repeated);
        // Needed only by kernels older than 3.14; absent min_free_kbytes means no reserve.
        let min_free_bytes = if info.available_bytes.is_none() {
            self.min_free_file
                .read()
                .ok()
                .and_then(|b| proc::parse_u64(b.trim_ascii()))
                .map_or(0, |kib| kib.saturating_mul(1024))
        } else {
            0
        };
        let available = info.available_bytes(min_free_bytes);
        *meminfo = info;
        *memory = MemorySample {
            total_bytes: info.total_bytes,
            available_bytes: available,
            used_bytes: info.total_bytes.saturating_sub(available),
            free_bytes: info.free_bytes,
            buffers_cached_bytes: info.buffers_cached_bytes(),
            swap_total_bytes: info.swap_total_bytes,
            swap_used_bytes: info.swap_total_bytes.saturating_sub(info.swap_free_bytes),
        };
        Ok(())
    }
}
