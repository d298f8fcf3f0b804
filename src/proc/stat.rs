//! `/proc/stat`: CPU tick counters (total and per core), boot time, processes.
//!
//! Kernel differences handled here: the `cpu` lines had 4 columns before
//! Linux 2.6 (user nice system idle), gained iowait/irq/softirq in 2.6.0,
//! steal in 2.6.11, guest in 2.6.24 and guest_nice in 2.6.33. Missing columns
//! are genuinely zero on those kernels. `guest` and `guest_nice` are already
//! counted inside `user` and `nice`, so [`CpuTicks::total`] leaves them out.
//! A line naming what an earlier line named (the aggregate `cpu`, a
//! `cpuN`, `btime`, ...) is dropped, the first kept ([`Repeated`]), as for
//! every other /proc table. `cores` is in ascending CPU order whatever the
//! order of the lines; an offline CPU leaves a gap in the numbers, and each
//! core keeps its kernel number.

use super::{ParseError, fields, leading_numbers, numbered_lines, parse_u64};

/// Cumulative ticks (USER_HZ) one CPU, or all together, spent in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTicks {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
    /// Already included in `user`.
    pub guest: u64,
    /// Already included in `nice`.
    pub guest_nice: u64,
}

impl CpuTicks {
    /// All ticks, each counted once (guest time lives inside user/nice).
    pub fn total(&self) -> u64 {
        self.user
            .saturating_add(self.nice)
            .saturating_add(self.system)
            .saturating_add(self.idle)
            .saturating_add(self.iowait)
            .saturating_add(self.irq)
            .saturating_add(self.softirq)
            .saturating_add(self.steal)
    }

    /// Parses the numeric columns after the `cpu`/`cpuN` label.
    fn parse(columns: &[u8], line: u32) -> Result<Self, ParseError> {
        let mut values = [0u64; 10];
        // A future kernel may add columns: they are ignored rather than fail.
        let (count, _) = leading_numbers(columns, &mut values)
            .map_err(|_| ParseError::new(line, "cpu column is not a number"))?;
        if count < 4 {
            return Err(ParseError::new(line, "cpu line has fewer than 4 columns"));
        }
        let [
            user,
            nice,
            system,
            idle,
            iowait,
            irq,
            softirq,
            steal,
            guest,
            guest_nice,
        ] = values;
        Ok(CpuTicks {
            user,
            nice,
            system,
            idle,
            iowait,
            irq,
            softirq,
            steal,
            guest,
            guest_nice,
        })
    }
}

/// One `cpuN` line: the kernel's CPU number and its counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreTicks {
    pub id: u32,
    pub ticks: CpuTicks,
}

/// A line whose label an earlier line had (an overlay /proc such as LXCFS;
/// a kernel never writes one): dropped, the first kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeated {
    pub line: u32,
    /// `cpu` (with `cpu`: the aggregate or a core), `btime`, `ctxt`, ...
    pub label: &'static str,
    /// The CPU number of a repeated `cpuN`.
    pub cpu: Option<u32>,
}

impl std::fmt::Display for Repeated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.label)?;
        if let Some(id) = self.cpu {
            write!(f, "{id}")?;
        }
        f.write_str(" listed before")
    }
}

/// Everything sysmon takes from /proc/stat. `cores` is caller-owned storage,
/// cleared and refilled on each parse: it only allocates when more cores are
/// online than ever before (a one-off during warm-up or CPU hotplug).
#[derive(Clone, Debug, Default)]
pub struct Stat {
    pub total: CpuTicks,
    pub cores: Vec<CoreTicks>,
    /// Boot time, seconds since the epoch (`btime`).
    pub boot_time_s: Option<u64>,
    pub procs_running: Option<u64>,
    pub procs_blocked: Option<u64>,
    pub context_switches: Option<u64>,
    pub forks: Option<u64>,
    /// Interrupts serviced since boot: the first figure of `intr`.
    pub interrupts: Option<u64>,
    /// The first line dropped as a repeat, if any.
    pub repeated: Option<Repeated>,
}

/// Parses /proc/stat into `out`. Requires the aggregate `cpu` line; every
/// other line is optional, and unknown lines are skipped. A repeated line is
/// skipped unparsed (noted in `out.repeated`): the first one counts.
pub fn parse(buf: &[u8], out: &mut Stat) -> Result<(), ParseError> {
    out.cores.clear();
    out.boot_time_s = None;
    out.procs_running = None;
    out.procs_blocked = None;
    out.context_switches = None;
    out.forks = None;
    out.interrupts = None;
    out.repeated = None;
    let mut saw_total = false;
    let mut ascending = true;
    let mut repeat = |line, label, cpu| {
        out.repeated.get_or_insert(Repeated { line, label, cpu });
    };
    for (no, line) in numbered_lines(buf) {
        let mut cols = fields(line);
        let Some(label) = cols.next() else { continue };
        if label == b"cpu" {
            if saw_total {
                repeat(no, "cpu", None);
                continue;
            }
            out.total = CpuTicks::parse(cols.rest(), no)?;
            saw_total = true;
        } else if let Some(id) = label.strip_prefix(b"cpu") {
            let id = parse_u64(id)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(ParseError::new(no, "bad cpu number"))?;
            // The kernel lists CPUs in ascending order: only a line that
            // breaks it is looked for among the others.
            let in_order = out.cores.last().is_none_or(|c| c.id < id);
            if !in_order && out.cores.iter().any(|c| c.id == id) {
                repeat(no, "cpu", Some(id));
                continue;
            }
            let ticks = CpuTicks::parse(cols.rest(), no)?;
            ascending &= in_order;
            out.cores.push(CoreTicks { id, ticks });
        } else {
            let (slot, name) = match label {
                b"btime" => (&mut out.boot_time_s, "btime"),
                b"procs_running" => (&mut out.procs_running, "procs_running"),
                b"procs_blocked" => (&mut out.procs_blocked, "procs_blocked"),
                b"ctxt" => (&mut out.context_switches, "ctxt"),
                b"processes" => (&mut out.forks, "processes"),
                b"intr" => (&mut out.interrupts, "intr"),
                _ => continue,
            };
            if slot.is_some() {
                repeat(no, name, None);
                continue;
            }
            let value = cols.next().and_then(parse_u64);
            *slot = Some(value.ok_or(ParseError::new(no, "value is not a number"))?);
        }
    }
    if !ascending {
        // Per-core figures are matched with the previous reading's by a
        // merge over ascending ids (`sample/cpu.rs`); in place, no allocation.
        crate::sort::sort_by_key(&mut out.cores, |c| c.id);
    }
    if !saw_total {
        return Err(ParseError::new(0, "no aggregate cpu line"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modern_line_and_leaves_guest_out_of_total() {
        let buf = b"cpu  10 20 30 40 50 60 70 80 5 6\ncpu0 10 20 30 40 50 60 70 80 5 6\nbtime 1700000000\nprocs_running 3\n";
        let mut stat = Stat::default();
        parse(buf, &mut stat).unwrap();
        assert_eq!(stat.total.total(), 10 + 20 + 30 + 40 + 50 + 60 + 70 + 80);
        assert_eq!(stat.cores.len(), 1);
        assert_eq!(stat.cores[0].ticks.guest_nice, 6);
        assert_eq!(stat.boot_time_s, Some(1_700_000_000));
        assert_eq!(stat.procs_running, Some(3));
        assert_eq!(stat.interrupts, None);
        parse(b"cpu 1 2 3 4\nintr 7306 9 0 12\n", &mut stat).unwrap();
        assert_eq!(stat.interrupts, Some(7306));
    }

    #[test]
    fn a_repeated_cpu_line_is_dropped_the_first_kept() {
        let mut stat = Stat::default();
        let buf =
            b"cpu 2 2 2 2\ncpu0 1 1 1 1\ncpu1 1 1 1 1\ncpu0 9 9 9 9\ncpu3 1 1 1 1\ncpu1 8 8 8 8\n";
        parse(buf, &mut stat).unwrap();
        let ids: Vec<(u32, u64)> = stat.cores.iter().map(|c| (c.id, c.ticks.user)).collect();
        assert_eq!(ids, [(0, 1), (1, 1), (3, 1)]);
        let first = Repeated {
            line: 4,
            label: "cpu",
            cpu: Some(0),
        };
        assert_eq!(stat.repeated, Some(first));
        assert_eq!(first.to_string(), "line 4: cpu0 listed before");
        // Out of order but not repeated: kept, in ascending order.
        parse(b"cpu 1 1 1 1\ncpu1 1 1 1 1\ncpu0 1 1 1 1\n", &mut stat).unwrap();
        assert_eq!(stat.cores.len(), 2);
        assert_eq!(stat.repeated, None);
    }

    /// Every figure of `stat` but `repeated`, for comparing two parses.
    fn figures(stat: &Stat) -> String {
        let mut plain = stat.clone();
        plain.repeated = None;
        format!("{plain:?}")
    }

    #[test]
    fn a_repeated_aggregate_or_counter_line_is_dropped_the_first_kept() {
        // SOURCE: tests/fixtures/proc/basic/SOURCE (kernel 6.18, unedited),
        // with each line it reads repeated after it, carrying other figures.
        let real = include_str!("../../tests/fixtures/proc/basic/stat");
        let mut alone = Stat::default();
        parse(real.as_bytes(), &mut alone).unwrap();
        assert_eq!(alone.repeated, None);
        assert_eq!(alone.boot_time_s, Some(1_795_643_488));
        for (at, line) in real.lines().enumerate() {
            let (label, _) = line.split_once(' ').unwrap();
            let other = if label.starts_with("cpu") {
                format!("{label} 9 9 9 9 9 9 9 9 9 9")
            } else {
                format!("{label} 7")
            };
            let mut lines: Vec<&str> = real.lines().collect();
            lines.insert(at + 1, &other);
            let doubled = lines.join("\n") + "\n";
            let mut stat = Stat::default();
            parse(doubled.as_bytes(), &mut stat).unwrap();
            assert_eq!(figures(&stat), figures(&alone), "{label} repeated");
            let known = [
                "cpu",
                "btime",
                "procs_running",
                "procs_blocked",
                "ctxt",
                "processes",
                "intr",
            ];
            let expected = match label.strip_prefix("cpu") {
                Some("") => Some(("cpu", None)),
                Some(id) => Some(("cpu", Some(id.parse().unwrap()))),
                None => known.iter().find(|k| **k == label).map(|k| (*k, None)),
            };
            let line = at as u32 + 2;
            assert_eq!(
                stat.repeated,
                expected.map(|(label, cpu)| Repeated { line, label, cpu }),
                "{label} repeated"
            );
        }
        // A repeat is skipped unparsed: garbage there is no error.
        let mut stat = Stat::default();
        parse(b"cpu 1 1 1 1\nbtime 5\ncpu x\nbtime y\n", &mut stat).unwrap();
        assert_eq!(stat.total.user, 1);
        assert_eq!(stat.boot_time_s, Some(5));
        assert_eq!(
            stat.repeated.unwrap().to_string(),
            "line 3: cpu listed before"
        );
    }

    #[test]
    fn cores_out_of_order_or_with_gaps_come_out_ascending_by_number() {
        // SOURCE: tests/fixtures/proc/hotplug (hand-made): cpu1 offline.
        let gap = include_bytes!("../../tests/fixtures/proc/hotplug/stat.2");
        let mut stat = Stat::default();
        parse(gap, &mut stat).unwrap();
        let ids: Vec<u32> = stat.cores.iter().map(|c| c.id).collect();
        assert_eq!(ids, [0, 2, 3]);
        let in_order = stat.cores.clone();
        // The same lines in every order: the same cores, ascending.
        let text = std::str::from_utf8(gap).unwrap();
        let (total, cores) = text.split_once('\n').unwrap();
        let cores: Vec<&str> = cores.lines().collect();
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let mut shuffled = format!("{total}\n");
            for i in order {
                shuffled.push_str(cores[i]);
                shuffled.push('\n');
            }
            parse(shuffled.as_bytes(), &mut stat).unwrap();
            assert_eq!(stat.cores, in_order, "{order:?}");
            assert_eq!(stat.repeated, None);
        }
    }

    #[test]
    fn old_kernel_with_four_columns() {
        let mut stat = Stat::default();
        parse(b"cpu 1 2 3 4\ncpu0 1 2 3 4\n", &mut stat).unwrap();
        assert_eq!(
            stat.total,
            CpuTicks {
                user: 1,
                nice: 2,
                system: 3,
                idle: 4,
                ..Default::default()
            }
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_zero() {
        let mut stat = Stat::default();
        assert_eq!(parse(b"cpu 1 2 x 4\n", &mut stat).unwrap_err().line, 1);
        assert!(parse(b"cpu 1 2\n", &mut stat).is_err());
        assert!(parse(b"intr x 2\n", &mut stat).is_err());
        assert!(parse(b"cpu 1 2 3 4\ncpuX 1 2 3 4\n", &mut stat).is_err());
        assert!(parse(b"", &mut stat).is_err());
    }
}
