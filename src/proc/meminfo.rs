//! `/proc/meminfo`: `Key:   value kB` lines, converted to bytes.
//!
//! `MemAvailable` exists since Linux 3.14; before that it is estimated the
//! way procps' `free` does (see [`MemInfo::available_bytes`]). Fields newer
//! than 2.6 (`SReclaimable` since 2.6.19, `Active(file)` since 2.6.28) are
//! `None` when the kernel does not print them.

use super::{ParseError, fields, numbered_lines, parse_u64};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    pub total_bytes: u64,
    pub free_bytes: u64,
    /// Since Linux 3.14.
    pub available_bytes: Option<u64>,
    pub buffers_bytes: u64,
    pub cached_bytes: u64,
    /// Since Linux 2.6.19.
    pub slab_reclaimable_bytes: Option<u64>,
    /// Since Linux 2.6.28.
    pub active_file_bytes: Option<u64>,
    /// Since Linux 2.6.28.
    pub inactive_file_bytes: Option<u64>,
    pub swap_total_bytes: u64,
    pub swap_free_bytes: u64,
}

impl MemInfo {
    /// MemAvailable, or on kernels without it procps' estimate of it, the
    /// kernel's own `si_mem_available()` formula with the low watermark taken
    /// as `min_free_kbytes * 5/4` (procps `sysinfo.c`): free memory above the
    /// watermark, plus the page cache and reclaimable slab that can be dropped
    /// without going under it.
    pub fn available_bytes(&self, min_free_bytes: u64) -> u64 {
        if let Some(available) = self.available_bytes {
            return available.min(self.total_bytes);
        }
        let (Some(active), Some(inactive)) = (self.active_file_bytes, self.inactive_file_bytes)
        else {
            // Before 2.6.28 procps falls back to MemFree alone.
            return self.free_bytes;
        };
        // In kB with truncating divisions, exactly as procps 3.3 does; every
        // input came from a kB figure, so dividing by 1024 is exact.
        let kib = |bytes: u64| i128::from(bytes / 1024);
        let watermark_low = kib(min_free_bytes) * 5 / 4;
        let page_cache = kib(active) + kib(inactive);
        let reclaimable = kib(self.slab_reclaimable_bytes.unwrap_or(0));
        let estimate_kib = kib(self.free_bytes) - watermark_low + page_cache
            - (page_cache / 2).min(watermark_low)
            + reclaimable
            - (reclaimable / 2).min(watermark_low);
        let estimate = estimate_kib.max(0) * 1024;
        u64::try_from(estimate.min(i128::from(self.total_bytes))).unwrap_or(0)
    }

    /// What `free` shows as buff/cache: Buffers + Cached + SReclaimable.
    pub fn buffers_cached_bytes(&self) -> u64 {
        self.buffers_bytes
            .saturating_add(self.cached_bytes)
            .saturating_add(self.slab_reclaimable_bytes.unwrap_or(0))
    }
}

/// One line of the file: `HugePages_Total:  0` or `Active(anon):  4 kB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// As the kernel spells it, parentheses included.
    pub key: &'a [u8],
    pub number: u64,
    /// `true` when the line ends in `kB` (a size), `false` for a count
    /// (`HugePages_*`).
    pub in_kib: bool,
}

/// Every line of the file, in order, for /metrics (all fields, whatever the
/// kernel adds). A line without a colon, a number or with a unit other than
/// `kB` is an error for that line only.
pub fn fields_of(buf: &[u8]) -> impl Iterator<Item = Result<Field<'_>, ParseError>> {
    numbered_lines(buf).map(|(no, line)| {
        let colon = line
            .iter()
            .position(|b| *b == b':')
            .ok_or(ParseError::new(no, "no colon"))?;
        let mut cols = fields(&line[colon + 1..]);
        let number = cols
            .next()
            .and_then(parse_u64)
            .ok_or(ParseError::new(no, "value is not a number"))?;
        let in_kib = match (cols.next(), cols.next()) {
            (None, _) => false,
            (Some(b"kB"), None) => true,
            _ => return Err(ParseError::new(no, "unknown unit")),
        };
        Ok(Field {
            key: &line[..colon],
            number,
            in_kib,
        })
    })
}

/// Which of the keys [`parse`] reads `key` is, as a bit of [`ALL_KEYS`].
/// Once each was seen, the rest of the file is not looked at (a key
/// printed twice keeps its first value then, where reading on kept the
/// last: no kernel prints one twice).
fn key_bit(key: &[u8]) -> Option<u16> {
    let bit = match key {
        b"MemTotal" => 0,
        b"MemFree" => 1,
        b"MemAvailable" => 2,
        b"Buffers" => 3,
        b"Cached" => 4,
        b"SReclaimable" => 5,
        b"Active(file)" => 6,
        b"Inactive(file)" => 7,
        b"SwapTotal" => 8,
        b"SwapFree" => 9,
        _ => return None,
    };
    Some(1 << bit)
}
const ALL_KEYS: u16 = (1 << 10) - 1;

pub fn parse(buf: &[u8]) -> Result<MemInfo, ParseError> {
    let mut info = MemInfo::default();
    let mut have_total = false;
    let mut have_free = false;
    // Which of the ten keys were seen: SReclaimable, the last of them,
    // comes halfway down the file (line 26 of 54 on Linux 6.18; the
    // page tables, hugepages, DirectMap, ... follow), and the reading
    // stops there.
    let mut seen = 0u16;
    for (no, line) in numbered_lines(buf) {
        if seen == ALL_KEYS {
            break;
        }
        let Some(colon) = super::find_either(line, b':', b':') else {
            continue;
        };
        let key = &line[..colon];
        // Decide before parsing the value: unknown keys may hold anything.
        let Some(bit) = key_bit(key) else {
            continue;
        };
        seen |= bit;
        let mut cols = fields(&line[colon + 1..]);
        let number = cols
            .next()
            .and_then(parse_u64)
            .ok_or(ParseError::new(no, "value is not a number"))?;
        let bytes = match cols.next() {
            Some(b"kB") => number
                .checked_mul(1024)
                .ok_or(ParseError::new(no, "value overflows"))?,
            // Every key read here is printed in kB; no unit means a cut-off line.
            None => return Err(ParseError::new(no, "value has no kB unit")),
            Some(_) => return Err(ParseError::new(no, "unknown unit")),
        };
        match key {
            b"MemTotal" => {
                info.total_bytes = bytes;
                have_total = true;
            }
            b"MemFree" => {
                info.free_bytes = bytes;
                have_free = true;
            }
            b"MemAvailable" => info.available_bytes = Some(bytes),
            b"Buffers" => info.buffers_bytes = bytes,
            b"Cached" => info.cached_bytes = bytes,
            b"SReclaimable" => info.slab_reclaimable_bytes = Some(bytes),
            b"Active(file)" => info.active_file_bytes = Some(bytes),
            b"Inactive(file)" => info.inactive_file_bytes = Some(bytes),
            b"SwapTotal" => info.swap_total_bytes = bytes,
            _ => info.swap_free_bytes = bytes,
        }
    }
    if !have_total {
        return Err(ParseError::new(0, "no MemTotal line"));
    }
    if !have_free {
        return Err(ParseError::new(0, "no MemFree line"));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kib_into_bytes() {
        let info = parse(
            b"MemTotal:  1000 kB\nMemFree: 200 kB\nMemAvailable: 500 kB\nHugePages_Total: 0\n",
        )
        .unwrap();
        assert_eq!(info.total_bytes, 1000 * 1024);
        assert_eq!(info.available_bytes(0), 500 * 1024);
    }

    #[test]
    fn estimates_available_like_procps_on_old_kernels() {
        // In kB: free 100, file 40+60, slab 30, min_free 16 -> wmark 20:
        // 100 - 20 + 100 - min(50,20) + 30 - min(15,20) = 175
        const K: u64 = 1024;
        let info = MemInfo {
            total_bytes: 1000 * K,
            free_bytes: 100 * K,
            active_file_bytes: Some(40 * K),
            inactive_file_bytes: Some(60 * K),
            slab_reclaimable_bytes: Some(30 * K),
            ..Default::default()
        };
        assert_eq!(info.available_bytes(16 * K), 175 * K);
        // Never negative.
        let starved = MemInfo {
            free_bytes: 0,
            total_bytes: 1000,
            active_file_bytes: Some(0),
            inactive_file_bytes: Some(0),
            ..Default::default()
        };
        assert_eq!(starved.available_bytes(1_000_000), 0);
    }

    #[test]
    fn every_field_of_a_6_18_kernel() {
        // SOURCE: tests/fixtures/proc/basic/SOURCE (kernel 6.18, unedited).
        let buf = include_bytes!("../../tests/fixtures/proc/basic/meminfo");
        let all: Vec<_> = fields_of(buf).collect::<Result<_, _>>().unwrap();
        // A naive oracle: one field per line, the kB ones marked so.
        let text = std::str::from_utf8(buf).unwrap();
        assert_eq!(all.len(), text.lines().count());
        for (field, line) in all.iter().zip(text.lines()) {
            let (key, rest) = line.split_once(':').unwrap();
            let mut cols = rest.split_whitespace();
            assert_eq!(field.key, key.as_bytes());
            assert_eq!(field.number, cols.next().unwrap().parse::<u64>().unwrap());
            assert_eq!(field.in_kib, cols.next() == Some("kB"), "{line}");
        }
        let find = |key: &[u8]| *all.iter().find(|f| f.key == key).unwrap();
        assert!(find(b"Active(anon)").in_kib);
        let huge = find(b"HugePages_Total");
        assert!(!huge.in_kib);
        assert_eq!(huge.number, 0);
    }

    #[test]
    fn a_bad_line_is_an_error_for_that_line_only() {
        let got: Vec<_> = fields_of(b"A: 1 kB\nB 2 kB\nC: x kB\nD: 1 MB\nE: 5\n").collect();
        assert_eq!(got.len(), 5);
        assert_eq!(got[1], Err(ParseError::new(2, "no colon")));
        assert_eq!(got[2], Err(ParseError::new(3, "value is not a number")));
        assert_eq!(got[3], Err(ParseError::new(4, "unknown unit")));
        assert_eq!(
            got[4],
            Ok(Field {
                key: b"E",
                number: 5,
                in_kib: false
            })
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse(b"MemTotal: x kB\nMemFree: 1 kB\n").is_err());
        assert!(parse(b"MemFree: 1 kB\n").is_err());
        assert!(parse(b"MemTotal: 1 MB\nMemFree: 1 kB\n").is_err());
        assert!(parse(b"MemTotal: 18446744073709551615 kB\nMemFree: 1 kB\n").is_err());
    }
}
