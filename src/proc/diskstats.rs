//! `/proc/diskstats`: `MAJOR MINOR NAME` then at least 11 counters per
//! block device (4 more since Linux 4.18 for discards, 2 more since 5.5 for
//! flushes; any beyond those are accepted and ignored). Sectors are always
//! 512 bytes here, whatever the device's own sector size.
//!
//! [`entries`] yields borrowed names and never allocates.

use super::{ParseError, fields, leading_numbers, numbered_lines, parse_u64};

/// The kernel's sector unit in /proc/diskstats (include/linux/blk_types.h).
pub const SECTOR_BYTES: u64 = 512;

/// Every field of one block device's line (Documentation/admin-guide/iostats.rst).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskCounters {
    pub reads_completed: u64,
    pub reads_merged: u64,
    pub sectors_read: u64,
    pub read_time_ms: u64,
    pub writes_completed: u64,
    pub writes_merged: u64,
    pub sectors_written: u64,
    pub write_time_ms: u64,
    /// I/Os in flight now (a gauge, not a counter).
    pub io_in_progress: u64,
    /// Milliseconds during which I/O was in flight (`io_ticks`).
    pub io_time_ms: u64,
    /// Milliseconds of I/O times the number in flight (`time_in_queue`).
    pub io_time_weighted_ms: u64,
    /// Since Linux 4.18: discards completed, merged, sectors, milliseconds.
    pub discards: Option<[u64; 4]>,
    /// Since Linux 5.5: flush requests completed, milliseconds.
    pub flushes: Option<[u64; 2]>,
}

impl DiskCounters {
    pub fn read_bytes(&self) -> u64 {
        self.sectors_read.saturating_mul(SECTOR_BYTES)
    }
    pub fn written_bytes(&self) -> u64 {
        self.sectors_written.saturating_mul(SECTOR_BYTES)
    }
    /// Every counter zero (absent discard and flush fields count as zero).
    pub fn is_idle_since_boot(&self) -> bool {
        let zeroed = DiskCounters {
            discards: self.discards.map(|_| [0; 4]),
            flushes: self.flushes.map(|_| [0; 2]),
            ..DiskCounters::default()
        };
        *self == zeroed
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskStatsEntry<'a> {
    pub name: &'a [u8],
    pub counters: DiskCounters,
}

pub fn entries(buf: &[u8]) -> impl Iterator<Item = Result<DiskStatsEntry<'_>, ParseError>> {
    numbered_lines(buf).map(|(n, line)| entry(n, line))
}

fn entry(n: u32, line: &[u8]) -> Result<DiskStatsEntry<'_>, ParseError> {
    let mut cols = fields(line);
    for what in ["missing major number", "missing minor number"] {
        cols.next()
            .and_then(parse_u64)
            .ok_or(ParseError::new(n, what))?;
    }
    let name = cols
        .next()
        .ok_or(ParseError::new(n, "missing device name"))?;
    // 11 counters, then 4 discard and 2 flush fields on newer kernels;
    // any beyond those must still be numbers.
    let mut values = [0u64; 17];
    let rest = cols.rest();
    let (count, more) = leading_numbers(rest, &mut values)
        .map_err(|_| ParseError::new(n, "counter is not a number"))?;
    if count < 11 {
        return Err(ParseError::new(n, "fewer than 11 counters"));
    }
    if fields(more).any(|f| parse_u64(f).is_none()) {
        return Err(ParseError::new(n, "counter is not a number"));
    }
    let n_extra = count - 11;
    let extra = &values[11..];
    Ok(DiskStatsEntry {
        name,
        counters: DiskCounters {
            reads_completed: values[0],
            reads_merged: values[1],
            sectors_read: values[2],
            read_time_ms: values[3],
            writes_completed: values[4],
            writes_merged: values[5],
            sectors_written: values[6],
            write_time_ms: values[7],
            io_in_progress: values[8],
            io_time_ms: values[9],
            io_time_weighted_ms: values[10],
            discards: (n_extra >= 4).then(|| [extra[0], extra[1], extra[2], extra[3]]),
            flushes: (n_extra >= 6).then(|| [extra[4], extra[5]]),
        },
    })
}

/// node_exporter's default exclusion keeps RAM disks, loop devices and
/// floppies out; sysmon drops them only while they have done no I/O at all,
/// so a zram swap or a busy loop mount stays visible. Matches
/// `^(z?ram|loop|fd)\d+$`.
pub fn is_virtual_idle(name: &[u8], counters: &DiskCounters) -> bool {
    counters.is_idle_since_boot() && is_virtual_name(name)
}

/// `^(z?ram|loop|fd)\d+$`: the names [`is_virtual_idle`] may leave out.
fn is_virtual_name(name: &[u8]) -> bool {
    let digits = name.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    let stem = &name[..name.len() - digits];
    matches!(stem, b"ram" | b"zram" | b"loop" | b"fd")
}

/// [`entries`] without those [`is_virtual_idle`] leaves out, in the same
/// order with the same line numbers. Such a line (a loop device or RAM
/// disk that never did I/O: nine of this VM's ten lines, dozens on a
/// machine with snaps) is told by its bytes, a valid name followed by at
/// least 11 counters that are all zeros, without parsing its counters:
/// they were most of a sample's parsing.
pub fn wanted_entries(buf: &[u8]) -> impl Iterator<Item = Result<DiskStatsEntry<'_>, ParseError>> {
    numbered_lines(buf)
        .filter(|(_, line)| !is_idle_virtual_line(line))
        .map(|(n, line)| entry(n, line))
        .filter(|e| {
            e.as_ref()
                .map_or(true, |e| !is_virtual_idle(e.name, &e.counters))
        })
}

/// Whether [`entry`] would parse `line` without error into a device that
/// [`is_virtual_idle`] leaves out: numeric major and minor, a virtual name,
/// then only zeros (11 counters or more) and blanks. `false` may also mean
/// "not told here" (a tab): the line is then parsed and filtered as before.
fn is_idle_virtual_line(line: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut cols = fields(line);
    let (Some(major), Some(minor), Some(name)) = (cols.next(), cols.next(), cols.next()) else {
        return false;
    };
    if parse_u64(major).is_none() || parse_u64(minor).is_none() || !is_virtual_name(name) {
        return false;
    }
    // Counters are counted where a '0' follows a blank (or starts).
    let mut counters = 0;
    let mut after_blank = true;
    let mut words = cols.rest().chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        // Eight bytes at a time: each is ' ' (0x20) or '0' (0x30) exactly
        // when setting bit 4 of every byte gives eight '0's.
        if word | (ONES * 0x10) != ONES * 0x30 {
            return false;
        }
        let zeros = word & (ONES * 0x10);
        let blank_before = (!word & (ONES * 0x10)) << 8 | u64::from(after_blank) << 4;
        counters += (zeros & blank_before).count_ones() as usize;
        after_blank = word >> 56 == u64::from(b' ');
    }
    for &b in words.remainder() {
        match b {
            b'0' => {
                counters += usize::from(after_blank);
                after_blank = false;
            }
            b' ' => after_blank = true,
            _ => return false,
        }
    }
    counters >= 11
}

#[cfg(test)]
mod tests {
    use super::*;

    const VM: &[u8] = include_bytes!("../../tests/fixtures/proc/debian12-vm-2core/diskstats");
    const NODE_EXPORTER: &[u8] =
        include_bytes!("../../tests/fixtures/proc/diskstats-node-exporter");

    #[test]
    fn vm_capture() {
        let all: Vec<_> = entries(VM).map(Result::unwrap).collect();
        assert_eq!(all.len(), 10);
        let vda = all.iter().find(|e| e.name == b"vda").unwrap();
        // 254 0 vda 159549 11413 7620850 124979 92568 34629 12354024 44229 0
        //   17972 174344 30306 15 4064256 2912 23272 2222 (kernel 6.18: 17 fields)
        assert_eq!(
            vda.counters,
            DiskCounters {
                reads_completed: 159_549,
                reads_merged: 11_413,
                sectors_read: 7_620_850,
                read_time_ms: 124_979,
                writes_completed: 92_568,
                writes_merged: 34_629,
                sectors_written: 12_354_024,
                write_time_ms: 44_229,
                io_in_progress: 0,
                io_time_ms: 17_972,
                io_time_weighted_ms: 174_344,
                discards: Some([30_306, 15, 4_064_256, 2_912]),
                flushes: Some([23_272, 2_222]),
            }
        );
        // 7620850 * 512 = 3901875200
        assert_eq!(vda.counters.read_bytes(), 3_901_875_200);
        let idle: Vec<&[u8]> = all
            .iter()
            .filter(|e| is_virtual_idle(e.name, &e.counters))
            .map(|e| e.name)
            .collect();
        assert_eq!(idle.len(), 9, "loop0-7 and zram0");
        assert!(!idle.contains(&&b"vda"[..]));
    }

    #[test]
    fn node_exporter_capture_all_kernel_eras() {
        let all: Vec<_> = entries(NODE_EXPORTER).map(Result::unwrap).collect();
        assert_eq!(all.len(), 12);
        let sdc = all.iter().find(|e| e.name == b"sdc").unwrap();
        // 17-field line: 126552 141 1657779 14 11822 1895 172905 1007 0 10730 ...
        assert_eq!(sdc.counters.reads_completed, 126_552);
        assert_eq!(sdc.counters.sectors_written, 172_905);
        assert_eq!(sdc.counters.io_time_ms, 10_730);
        assert_eq!(
            sdc.counters.discards,
            Some([18_851, 0, 125_173_784, 11_130])
        );
        assert_eq!(sdc.counters.flushes, Some([1_555, 1_944]));
        // An 11-field line (before 4.18) has neither.
        let sda = all.iter().find(|e| e.name == b"sda").unwrap();
        assert_eq!(sda.counters.io_time_weighted_ms, 82_621_804);
        assert_eq!((sda.counters.discards, sda.counters.flushes), (None, None));
        let fd0 = all.iter().find(|e| e.name == b"fd0").unwrap();
        assert!(!is_virtual_idle(fd0.name, &fd0.counters), "fd0 did I/O");
        assert!(is_virtual_idle(b"ram0", &DiskCounters::default()));
        assert!(!is_virtual_idle(b"sda", &DiskCounters::default()));
        assert!(!is_virtual_idle(b"ramdisk", &DiskCounters::default()));
    }

    /// Issue 16: [`wanted_entries`] skips idle virtual lines without
    /// parsing them; it must give exactly what parsing every line and
    /// filtering with [`is_virtual_idle`] gives, over the captures and
    /// lines made of names, zeros, other digits, blanks and garbage.
    #[test]
    fn wanted_entries_match_parsing_every_line_then_filtering() {
        fn naive(buf: &[u8]) -> Vec<Result<DiskStatsEntry<'_>, ParseError>> {
            entries(buf)
                .filter(|e| {
                    e.as_ref()
                        .map_or(true, |e| !is_virtual_idle(e.name, &e.counters))
                })
                .collect()
        }
        for capture in [VM, NODE_EXPORTER] {
            assert_eq!(wanted_entries(capture).collect::<Vec<_>>(), naive(capture));
        }
        assert_eq!(wanted_entries(VM).count(), 1, "vda alone");
        let heads = [
            "7 0 loop0",
            "1 0 ram12",
            "253 0 zram0",
            "2 0 fd0",
            "8 0 sda",
            "x 0 loop1",
            "7 y loop2",
            "7 0 loopy",
            "7 0",
        ];
        let pieces = [" 0", "  0", " 00", " 1", "\t0", " x", " -0", " 0x", ""];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..20_000 {
            let mut line = heads[next(heads.len())].to_string();
            let count = 8 + next(12);
            for _ in 0..count {
                // Mostly zeros, so that idle-looking lines are common.
                let piece = if next(4) == 0 {
                    pieces[next(pieces.len())]
                } else {
                    " 0"
                };
                line.push_str(piece);
            }
            line.push('\n');
            let got: Vec<_> = wanted_entries(line.as_bytes()).collect();
            assert_eq!(got, naive(line.as_bytes()), "{line:?}");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            "8 0 sda 1 2 3\n",
            "x 0 sda 1 2 3 4 5 6 7 8 9 10 11\n",
            "8 0 sda 1 2 3 4 5 6 7 8 9 10 x\n",
            "8 0 sda 1 2 3 4 5 6 7 8 9 10 11 x\n",
            "8 0\n",
        ] {
            assert!(
                entries(bad.as_bytes()).any(|e| e.is_err()),
                "accepted {bad:?}"
            );
        }
    }
}
