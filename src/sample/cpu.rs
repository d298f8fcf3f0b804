//! The CPU source: /proc/stat read into CPU percentages, for all CPUs and
//! per core, from two readings without sleeping ([`percent`]), and the
//! kernel's counters that come with them (boot time, forks, ...).
//!
//! Invariant: every figure is finite and within 0..=100, whatever the
//! counters do. A counter that went backwards (a kernel quirk for iowait, a
//! CPU brought back online, a reset) contributes zero ticks instead of a
//! negative; an interval with no ticks at all yields `None`, and the caller
//! keeps the previous figure. Once warm, [`CpuStat::sample`] does not
//! allocate (the per-core lists only grow when CPUs come online).

use std::path::Path;

use super::procfile::{Ends, ProcFile};
use super::source::{Failure, Health, Repeats};
use crate::proc::stat::{self, CpuTicks, Stat};

/// CPU figures for one core, identified by the kernel's CPU number.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CoreSample {
    pub id: u32,
    pub percent: CpuPercent,
    pub ticks: CpuTicks,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuPercent {
    /// Everything but idle and iowait (user, nice, system, irq, softirq, steal).
    pub busy: f64,
    pub iowait: f64,
    pub steal: f64,
}

/// The share of each state between `prev` and `cur`.
pub fn percent(prev: &CpuTicks, cur: &CpuTicks) -> Option<CpuPercent> {
    let d = |a: u64, b: u64| b.saturating_sub(a);
    let idle = d(prev.idle, cur.idle);
    let iowait = d(prev.iowait, cur.iowait);
    let steal = d(prev.steal, cur.steal);
    let busy = d(prev.user, cur.user)
        .saturating_add(d(prev.nice, cur.nice))
        .saturating_add(d(prev.system, cur.system))
        .saturating_add(d(prev.irq, cur.irq))
        .saturating_add(d(prev.softirq, cur.softirq))
        .saturating_add(steal);
    let total = busy.saturating_add(idle).saturating_add(iowait);
    if total == 0 {
        return None;
    }
    let share = |part: u64| (part as f64 * 100.0 / total as f64).clamp(0.0, 100.0);
    Some(CpuPercent {
        busy: share(busy),
        iowait: share(iowait),
        steal: share(steal),
    })
}

/// /proc/stat, kept open, and the storage its figures are parsed into.
pub struct CpuStat {
    file: ProcFile,
    health: Health,
    /// Whether the log says that /proc/stat repeats a CPU.
    repeats: Repeats,
    stat: Stat,
    /// Scratch copy of the previous per-core figures (reused storage).
    previous_cores: Vec<CoreSample>,
}

impl CpuStat {
    pub fn new(proc_root: &Path) -> CpuStat {
        CpuStat {
            // single_open_size: whole in one read on any number of CPUs.
            file: ProcFile::new(proc_root.join("stat")).ending(Ends::AtShortRead),
            health: Health::default(),
            repeats: Repeats::default(),
            stat: Stat {
                cores: Vec::with_capacity(64),
                ..Stat::default()
            },
            previous_cores: Vec::with_capacity(64),
        }
    }

    /// Moves `total`, `total_ticks` and `cores` on to a new reading, whose
    /// other counters it returns; on failure they keep their previous
    /// figures and the result is `None`.
    pub fn sample(
        &mut self,
        total: &mut CpuPercent,
        total_ticks: &mut CpuTicks,
        cores: &mut Vec<CoreSample>,
    ) -> Option<&Stat> {
        let r = self.read(total, total_ticks, cores);
        let ok = r.is_ok();
        self.health.note(self.file.path(), r);
        ok.then_some(&self.stat)
    }

    /// `FILE: why` while /proc/stat cannot be read.
    pub fn failure(&self) -> Option<&str> {
        self.health.failure()
    }

    fn read(
        &mut self,
        total: &mut CpuPercent,
        total_ticks: &mut CpuTicks,
        cores: &mut Vec<CoreSample>,
    ) -> Result<(), Failure> {
        let buf = self.file.read().map_err(Failure::Io)?;
        stat::parse(buf, &mut self.stat).map_err(Failure::Parse)?;
        self.repeats
            .note(&self.file.path().display(), self.stat.repeated);
        if let Some(p) = percent(total_ticks, &self.stat.total) {
            *total = p;
        }
        *total_ticks = self.stat.total;
        // Match cores by CPU number: hotplug may add or remove any of them.
        // Both lists are in ascending id order, as the kernel prints them.
        self.previous_cores.clear();
        self.previous_cores.extend_from_slice(cores);
        cores.clear();
        let mut j = 0;
        for core in &self.stat.cores {
            while j < self.previous_cores.len() && self.previous_cores[j].id < core.id {
                j += 1;
            }
            let previous = self.previous_cores.get(j).filter(|p| p.id == core.id);
            let percent = match previous {
                Some(prev) => percent(&prev.ticks, &core.ticks).unwrap_or(prev.percent),
                // New (or first seen) core: its share since boot.
                None => percent(&CpuTicks::default(), &core.ticks).unwrap_or_default(),
            };
            cores.push(CoreSample {
                id: core.id,
                percent,
                ticks: core.ticks,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticks(user: u64, idle: u64, iowait: u64, steal: u64) -> CpuTicks {
        CpuTicks {
            user,
            idle,
            iowait,
            steal,
            ..Default::default()
        }
    }

    #[test]
    fn splits_interval() {
        let p = percent(&ticks(100, 100, 0, 0), &ticks(150, 130, 10, 10)).unwrap();
        // busy = 50 user + 10 steal = 60 of 100 ticks.
        assert_eq!(
            p,
            CpuPercent {
                busy: 60.0,
                iowait: 10.0,
                steal: 10.0
            }
        );
    }

    #[test]
    fn guest_time_is_not_counted_twice() {
        let prev = CpuTicks {
            user: 0,
            idle: 0,
            guest: 0,
            ..Default::default()
        };
        let cur = CpuTicks {
            user: 50,
            idle: 50,
            guest: 50,
            ..Default::default()
        };
        assert_eq!(percent(&prev, &cur).unwrap().busy, 50.0);
    }

    #[test]
    fn backwards_and_empty_intervals_stay_in_range() {
        assert_eq!(percent(&ticks(5, 5, 5, 5), &ticks(5, 5, 5, 5)), None);
        let p = percent(&ticks(100, 100, 50, 0), &ticks(110, 110, 10, 0)).unwrap();
        assert_eq!(p.busy, 50.0);
        assert_eq!(p.iowait, 0.0);
        let p = percent(&ticks(u64::MAX, 0, 0, 0), &ticks(0, 10, 0, 0)).unwrap();
        assert_eq!(p.busy, 0.0);
        let p = percent(
            &CpuTicks::default(),
            &ticks(u64::MAX, u64::MAX, u64::MAX, u64::MAX),
        )
        .unwrap();
        assert!(p.busy.is_finite() && (0.0..=100.0).contains(&p.busy));
    }
}
