//! `/proc/meminfo`: `Key:   value kB` lines, converted to bytes.
//!
//! `MemAvailable` exists since Linux 3.14; before that it is estimated the
//! way procps' `free` does (see [`MemInfo::available_bytes`]). Fields newer
//! than 2.6 (`SReclaimable` since 2.6.19, `Active(file)` since 2.6.28) are
//! `None` when the kernel does not print them. A key printed twice (an
//! overlay /proc; no kernel does) keeps its first value ([`RepeatedKey`]).

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
/// `kB`, or a kB figure whose bytes overflow u64 (as [`parse`] refuses it),
/// is an error for that line only.
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
            (Some(b"kB"), None) if number.checked_mul(1024).is_some() => true,
            (Some(b"kB"), None) => return Err(ParseError::new(no, "value overflows")),
            _ => return Err(ParseError::new(no, "unknown unit")),
        };
        Ok(Field {
            key: &line[..colon],
            number,
            in_kib,
        })
    })
}

/// The keys [`parse`] reads; a key's bit in [`ALL_KEYS`] is its index.
const KEYS: [&str; 10] = [
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SReclaimable",
    "Active(file)",
    "Inactive(file)",
    "SwapTotal",
    "SwapFree",
];
const ALL_KEYS: u16 = (1 << KEYS.len()) - 1;

/// A line with a key [`parse`] reads that an earlier line had (an overlay
/// /proc such as LXCFS; a kernel never writes one): skipped unread, the
/// first kept, as for every other /proc table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepeatedKey {
    pub line: u32,
    pub key: &'static str,
}

impl std::fmt::Display for RepeatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {} listed before", self.line, self.key)
    }
}

/// [`parse_noting_repeats`] without the repeat.
pub fn parse(buf: &[u8]) -> Result<MemInfo, ParseError> {
    parse_noting_repeats(buf).map(|(info, _)| info)
}

/// The ten keys of `buf`, and the first line that repeated one of them.
/// A repeated key keeps its first value.
pub fn parse_noting_repeats(buf: &[u8]) -> Result<(MemInfo, Option<RepeatedKey>), ParseError> {
    let mut info = MemInfo::default();
    let mut repeated = None;
    // Which of the ten keys were seen: SReclaimable, the last of them,
    // comes halfway down the file (line 26 of 54 on Linux 6.18; the
    // page tables, hugepages, DirectMap, ... follow), and the reading
    // stops there (a repeat below is not looked for).
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
        let Some(index) = KEYS.iter().position(|k| k.as_bytes() == key) else {
            continue;
        };
        let bit = 1 << index;
        if seen & bit != 0 {
            repeated.get_or_insert(RepeatedKey {
                line: no,
                key: KEYS[index],
            });
            continue;
        }
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
        match index {
            0 => info.total_bytes = bytes,
            1 => info.free_bytes = bytes,
            2 => info.available_bytes = Some(bytes),
            3 => info.buffers_bytes = bytes,
            4 => info.cached_bytes = bytes,
            5 => info.slab_reclaimable_bytes = Some(bytes),
            6 => info.active_file_bytes = Some(bytes),
            7 => info.inactive_file_bytes = Some(bytes),
            8 => info.swap_total_bytes = bytes,
            _ => info.swap_free_bytes = bytes,
        }
    }
    if seen & 1 == 0 {
        return Err(ParseError::new(0, "no MemTotal line"));
    }
    if seen & 2 == 0 {
        return Err(ParseError::new(0, "no MemFree line"));
    }
    Ok((info, repeated))
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
        let got: Vec<_> = fields_of(
            b"A: 1 kB\nB 2 kB\nC: x kB\nD: 1 MB\nE: 5\nF: 18014398509481984 kB\nG: 18014398509481983 kB\n",
        )
        .collect();
        assert_eq!(got.len(), 7);
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
        // 2^54 kB is 2^64 bytes: refused, as `parse` refuses it, not
        // shown as 1.8e19; one kB less fits.
        assert_eq!(got[5], Err(ParseError::new(6, "value overflows")));
        assert_eq!(got[6].map(|f| f.number), Ok(u64::MAX / 1024));
    }

    #[test]
    fn a_repeated_key_keeps_its_first_value() {
        // SOURCE: tests/fixtures/proc/basic/SOURCE (kernel 6.18, unedited),
        // with each of its lines repeated after it, carrying other figures.
        let real = include_str!("../../tests/fixtures/proc/basic/meminfo");
        let (alone, none) = parse_noting_repeats(real.as_bytes()).unwrap();
        assert_eq!(none, None);
        assert_eq!(alone.total_bytes, 24_684_084 * 1024);
        for (at, line) in real.lines().enumerate() {
            let (key, _) = line.split_once(':').unwrap();
            let mut lines: Vec<String> = real.lines().map(String::from).collect();
            lines.insert(at + 1, format!("{key}:  7 kB"));
            let doubled = lines.join("\n");
            let (info, repeated) = parse_noting_repeats(doubled.as_bytes()).unwrap();
            assert_eq!(info, alone, "{key} repeated");
            let read = KEYS.iter().find(|k| **k == key);
            // After SReclaimable (line 26) every key was read: the rest is
            // not looked at, so a repeat there is not seen.
            let line = at as u32 + 2;
            let expected = read
                .filter(|_| at < 25)
                .map(|&key| RepeatedKey { line, key });
            assert_eq!(repeated, expected, "{key} repeated");
        }
        // Not the last (as it was above SReclaimable); a repeat is not read.
        let buf = b"MemTotal: 1 kB\nMemTotal: 2 kB\nMemFree: 3 kB\nMemTotal: x\n";
        let (info, repeated) = parse_noting_repeats(buf).unwrap();
        assert_eq!(info.total_bytes, 1024);
        assert_eq!(
            repeated.unwrap().to_string(),
            "line 2: MemTotal listed before"
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
