//! The cgroup v2 container we may run in: its CPU and memory limits and
//! usage, from /proc/self/cgroup and the cgroup's files under sysfs.
//!
//! Invariant: `None` unless our cgroup (not the root one) sets a CPU or
//! memory limit; once warm, [`Container::sample`] does not allocate
//! (/proc/self/cgroup is re-read every [`RESCAN_EVERY`] and its bytes
//! compared, so an unchanged one costs nothing). The CPU share is never
//! negative and never above 100.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::counters::rate;
use super::procfile::ProcFile;
use super::source::{RESCAN_EVERY, lossy};
use crate::proc::cgroup;

/// Our cgroup v2's limits and usage, when it sets a CPU or memory limit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ContainerSample {
    /// `cpu.max` quota / period; `None` when unlimited.
    pub cpu_limit_cores: Option<f64>,
    /// `cpu.stat` usage_usec, in seconds.
    pub cpu_usage_seconds: f64,
    /// Over the last interval, of the limit (or of all host CPUs when
    /// unlimited); 0..=100.
    pub cpu_usage_percent: f64,
    pub memory_limit_bytes: Option<u64>,
    pub memory_used_bytes: Option<u64>,
}

/// Our cgroup v2, found from /proc/self/cgroup (re-read every
/// [`RESCAN_EVERY`]; its bytes are compared, so an unchanged one costs no
/// allocation).
pub struct Container {
    sys_root: PathBuf,
    self_cgroup: ProcFile,
    seen: Vec<u8>,
    built: bool,
    next_check_at: Option<Instant>,
    /// cpu.max, cpu.stat, memory.max, memory.current of our cgroup.
    files: Option<[ProcFile; 4]>,
    previous: Option<(Instant, u64)>,
}

impl Container {
    pub fn new(proc_root: &Path, sys_root: &Path) -> Container {
        Container {
            sys_root: sys_root.to_path_buf(),
            self_cgroup: ProcFile::new(proc_root.join("self/cgroup")),
            seen: Vec::with_capacity(512),
            built: false,
            next_check_at: None,
            files: None,
            previous: None,
        }
    }

    pub fn sample(&mut self, now: Instant, host_cores: usize, out: &mut Option<ContainerSample>) {
        if self.next_check_at.is_none_or(|at| now >= at) {
            self.next_check_at = Some(now + RESCAN_EVERY);
            let table = self.self_cgroup.read().unwrap_or_default();
            if !self.built || table != self.seen.as_slice() {
                self.seen.clear();
                self.seen.extend_from_slice(table);
                self.built = true;
                self.rebuild();
            }
        }
        *out = self.read(now, host_cores);
    }

    /// Finds our cgroup's directory. Allocates (only when /proc/self/cgroup changed).
    fn rebuild(&mut self) {
        self.files = None;
        self.previous = None;
        let Ok(Some(path)) = cgroup::unified_path(&self.seen) else {
            return;
        };
        let root = self.sys_root.join("fs/cgroup");
        // The root cgroup has no limits; a v2 line without the unified
        // hierarchy mounted at /sys/fs/cgroup (hybrid v1 hosts) is unusable.
        if path == b"/" || !root.join("cgroup.controllers").exists() {
            return;
        }
        let dir = root.join(lossy(&path[1..]));
        self.files = Some(
            ["cpu.max", "cpu.stat", "memory.max", "memory.current"]
                .map(|name| ProcFile::new(dir.join(name))),
        );
    }

    fn read(&mut self, now: Instant, host_cores: usize) -> Option<ContainerSample> {
        let [cpu_max, cpu_stat, memory_max, memory_current] = self.files.as_mut()?;
        // A controller not enabled for our cgroup has no file: no limit there.
        let cpu_limit_cores = match cpu_max.read() {
            Ok(b) => cgroup::cpu_max_cores(b).ok()?,
            Err(_) => None,
        };
        let memory_limit_bytes = match memory_max.read() {
            Ok(b) => cgroup::memory_max_bytes(b).ok()?,
            Err(_) => None,
        };
        if cpu_limit_cores.is_none() && memory_limit_bytes.is_none() {
            return None;
        }
        let usage_usec = cpu_stat
            .read()
            .ok()
            .and_then(|b| cgroup::cpu_usage_usec(b).ok())?;
        let memory_used_bytes = memory_current
            .read()
            .ok()
            .and_then(|b| cgroup::memory_current_bytes(b).ok());
        let cores = cpu_limit_cores.unwrap_or(host_cores.max(1) as f64);
        let cpu_usage_percent = match self.previous {
            Some((at, previous)) => {
                let seconds = now.saturating_duration_since(at).as_secs_f64();
                let used_s = rate(previous, usage_usec, seconds) / 1e6;
                if cores > 0.0 {
                    (used_s * 100.0 / cores).clamp(0.0, 100.0)
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.previous = Some((now, usage_usec));
        Some(ContainerSample {
            cpu_limit_cores,
            cpu_usage_seconds: usage_usec as f64 / 1e6,
            cpu_usage_percent,
            memory_limit_bytes,
            memory_used_bytes,
        })
    }
}
