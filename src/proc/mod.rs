//! Pure parsers for the files under `/proc`, one module per file (and
//! `os_release`, an /etc file read under the same rules).
//!
//! Every parser takes the bytes of a whole file and fills a caller-owned value;
//! none of them allocates, does I/O or panics, whatever the bytes: garbage,
//! truncation or a kernel of another era gives a [`ParseError`] or a documented
//! default, never a wrong number. The path is attached to an error only at the
//! I/O boundary ([`crate::sample::procfile`]).

pub mod arp;
pub mod boot_id;
pub mod cgroup;
pub mod cmdline;
pub mod conntrack_stat;
pub mod diskstats;
pub mod loadavg;
pub mod meminfo;
pub mod mounts;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod os_release;
pub mod passwd;
pub mod pidstat;
pub mod pressure;
pub mod rtnetlink;
pub mod selfstat;
pub mod smaps;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod status;
pub mod sysctl;
pub mod sysfs;
pub mod udp;
pub mod uptime;
pub mod vmstat;

use std::fmt;

/// What went wrong in a /proc file: the 1-based line and a fixed description;
/// line 0 for the file as a whole (a line it lacks), shown without a line.
/// `Copy` and allocation-free, because it is produced on the sampler's hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: u32,
    pub what: &'static str,
}

impl ParseError {
    pub const fn new(line: u32, what: &'static str) -> Self {
        ParseError { line, what }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => f.write_str(self.what),
            line => write!(f, "line {line}: {}", self.what),
        }
    }
}

/// Parses an unsigned decimal strictly: ASCII digits only, at least one, no
/// sign, no overflow. `None` on anything else.
pub fn parse_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(value)
}

/// Parses a non-negative decimal with an optional fraction (`12`, `0.52`,
/// `350735.47`), as /proc prints load averages and uptimes. At most 9
/// fraction digits are honoured; more are accepted and ignored.
pub fn parse_decimal(bytes: &[u8]) -> Option<f64> {
    let (int_part, frac_part) = match bytes.iter().position(|&b| b == b'.') {
        Some(dot) => (&bytes[..dot], Some(&bytes[dot + 1..])),
        None => (bytes, None),
    };
    let whole = parse_u64(int_part)?;
    let Some(frac) = frac_part else {
        return Some(whole as f64);
    };
    if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // One division of two exact integers gives the nearest double: 0.65
    // stays 0.65 instead of accumulating 0.6500000000000001.
    let kept = &frac[..frac.len().min(9)];
    let numerator = parse_u64(kept)?;
    let value = whole as f64 + numerator as f64 / POWERS_OF_TEN[kept.len()];
    Some(value)
}

/// 10^0 ..= 10^9, each exact in an `f64` (as `10f64.powi(n)` computes
/// them, without its call: pressure files have six fractions each).
const POWERS_OF_TEN: [f64; 10] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Parses the first `out.len()` whitespace-separated fields of `text` as
/// unsigned decimals (as strictly as [`parse_u64`]) into `out`, scanning
/// each byte once: the counter tables (diskstats, net/dev, the cpu lines)
/// were a third of a sample's instructions split by [`fields`] and then
/// parsed. Runs of spaces (net/dev pads its columns with them) are
/// skipped eight bytes at a time ([`leading_spaces`]); digits are read a
/// byte at a time (eight at a time cost more: most counters have a digit
/// or two). Returns how many were stored
/// (fewer when `text` ends first) and what follows the last one; `Err(i)`
/// when field `i` is not a number.
pub fn leading_numbers<'a>(text: &'a [u8], out: &mut [u64]) -> Result<(usize, &'a [u8]), usize> {
    let mut at = 0;
    for (i, slot) in out.iter_mut().enumerate() {
        while let Some(word) = word_at(text, at) {
            let spaces = leading_spaces(word);
            at += spaces;
            if spaces < 8 {
                break;
            }
        }
        while let Some(b' ' | b'\t') = text.get(at) {
            at += 1;
        }
        let start = at;
        // Up to 19 digits cannot overflow a u64; a longer run is checked
        // by `parse_u64`.
        let mut value = 0u64;
        while let Some(&b) = text.get(at) {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
            at += 1;
        }
        match text.get(at) {
            None | Some(b' ' | b'\t') => {}
            Some(_) => return Err(i), // a digit run followed by a non-digit
        }
        if at == start {
            return Ok((i, &text[at..])); // only blanks were left
        }
        if at - start > 19 {
            value = parse_u64(&text[start..at]).ok_or(i)?;
        }
        *slot = value;
    }
    Ok((out.len(), &text[at..]))
}

/// The eight bytes of `text` at `at`, the first in the lowest byte;
/// `None` when fewer are left.
#[inline(always)]
fn word_at(text: &[u8], at: usize) -> Option<u64> {
    let bytes = text.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// How many of `word`'s bytes, from the first, are spaces (0 ..= 8).
#[inline(always)]
fn leading_spaces(word: u64) -> usize {
    ((word ^ (ONES * u64::from(b' '))).trailing_zeros() / 8) as usize
}

/// The whitespace-separated fields of one line, without allocating.
pub fn fields(line: &[u8]) -> Fields<'_> {
    Fields(line)
}

/// The lines of a buffer with their 1-based numbers; a final line without a
/// newline is still yielded, an empty tail is not.
pub fn numbered_lines(buf: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    let body = buf.strip_suffix(b"\n").unwrap_or(buf);
    let lines = Lines((!body.is_empty()).then_some(body));
    lines
        .enumerate()
        .map(|(i, l)| (u32::try_from(i + 1).unwrap_or(u32::MAX), l))
}

/// `split(' ' or '\t')` without the empty pieces, each separator found a
/// word at a time ([`find_either`]).
pub struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    /// What is left after the fields taken so far.
    pub fn rest(&self) -> &'a [u8] {
        self.0
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while let [b' ' | b'\t', rest @ ..] = self.0 {
            self.0 = rest;
        }
        if self.0.is_empty() {
            return None;
        }
        let end = find_either(self.0, b' ', b'\t').unwrap_or(self.0.len());
        let (field, rest) = self.0.split_at(end);
        self.0 = rest;
        Some(field)
    }
}

/// `split('\n')` of what is left (`None` once the last line was given).
struct Lines<'a>(Option<&'a [u8]>);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.0?;
        match find_either(rest, b'\n', b'\n') {
            Some(at) => {
                self.0 = Some(&rest[at + 1..]);
                Some(&rest[..at])
            }
            None => {
                self.0 = None;
                Some(rest)
            }
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// 0x80 in the bytes of `word` that are zero; exact for the lowest one (a
/// borrow can mark only bytes above a zero byte).
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// Where the first `a` or `b` in `hay` is, comparing eight bytes at a
/// time: the kernel's tables are read a byte at a time otherwise, which
/// was a fifth of a /metrics render's instructions. The lowest mark of
/// either word is exact, so the lowest of both is the first match.
#[inline]
pub fn find_either(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    let (spread_a, spread_b) = (ONES * u64::from(a), ONES * u64::from(b));
    let mut words = hay.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let hits = zero_bytes(word ^ spread_a) | zero_bytes(word ^ spread_b);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = words.remainder().iter().position(|&c| c == a || c == b);
    tail.map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_of_the_whole_file_names_no_line() {
        assert_eq!(
            ParseError::new(0, "no MemTotal line").to_string(),
            "no MemTotal line"
        );
        assert_eq!(
            ParseError::new(3, "bad number").to_string(),
            "line 3: bad number"
        );
    }

    /// The word-at-a-time splitters against std's byte-at-a-time split, over
    /// every placement of separators in lines up to 24 bytes (and a few
    /// high bytes, which must not match).
    #[test]
    fn fields_and_lines_match_the_naive_split() {
        let naive_fields = |l: &[u8]| -> Vec<Vec<u8>> {
            l.split(|b| *b == b' ' || *b == b'\t')
                .filter(|f| !f.is_empty())
                .map(<[u8]>::to_vec)
                .collect()
        };
        let naive_lines = |buf: &[u8]| -> Vec<Vec<u8>> {
            let body = buf.strip_suffix(b"\n").unwrap_or(buf);
            if body.is_empty() {
                return Vec::new();
            }
            body.split(|c| *c == b'\n').map(<[u8]>::to_vec).collect()
        };
        let alphabet = [b'a', b' ', b'\t', b'\n', 0x80, 0xff, 0x00, b'!'];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..=24 {
            for _ in 0..400 {
                let line: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        alphabet[(seed % alphabet.len() as u64) as usize]
                    })
                    .collect();
                let got: Vec<Vec<u8>> = fields(&line).map(<[u8]>::to_vec).collect();
                assert_eq!(got, naive_fields(&line), "{line:?}");
                let got: Vec<Vec<u8>> = numbered_lines(&line).map(|(_, l)| l.to_vec()).collect();
                assert_eq!(got, naive_lines(&line), "{line:?}");
                let numbers: Vec<u32> = numbered_lines(&line).map(|(n, _)| n).collect();
                assert_eq!(numbers, (1..=got.len() as u32).collect::<Vec<_>>());
            }
        }
    }

    /// The one-pass number parser against `fields` + `parse_u64`, over
    /// random lines of digits, blanks and a few other bytes, long runs
    /// (overflow) included.
    #[test]
    fn powers_of_ten_are_powi() {
        for (n, p) in POWERS_OF_TEN.iter().enumerate() {
            assert_eq!(*p, 10f64.powi(n as i32));
        }
        assert_eq!(parse_decimal(b"350735.47"), Some(350735.0 + 47.0 / 100.0));
        assert_eq!(parse_decimal(b"0.123456789123"), Some(0.123456789));
    }

    #[test]
    fn leading_numbers_match_fields_then_parse() {
        // ':' and '/' border the digits; 0xb9 is '9' with the high bit set.
        let alphabet = [
            b'1', b'9', b'0', b' ', b'\t', b'x', b'-', b'5', b':', b'/', 0xb9, 0x00,
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..=64 {
            for _ in 0..300 {
                let line: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let pick = (seed % 27) as usize;
                        if pick < alphabet.len() {
                            alphabet[pick]
                        } else {
                            b'0' + (pick % 10) as u8
                        }
                    })
                    .collect();
                for want_n in [0usize, 1, 3, 6] {
                    let mut out = [u64::MAX; 6];
                    let got = leading_numbers(&line, &mut out[..want_n]);
                    let naive: Vec<Option<u64>> =
                        fields(&line).take(want_n).map(parse_u64).collect();
                    match naive.iter().position(Option::is_none) {
                        Some(bad) => assert_eq!(got.map(|(n, _)| n), Err(bad), "{line:?}"),
                        None => {
                            let (n, rest) = got.unwrap_or_else(|e| panic!("{line:?}: field {e}"));
                            assert_eq!(n, naive.len(), "{line:?}");
                            let values: Vec<u64> = naive.iter().map(|v| v.unwrap()).collect();
                            assert_eq!(&out[..n], &values[..], "{line:?}");
                            let after: Vec<&[u8]> = fields(&line).skip(n).collect();
                            assert_eq!(fields(rest).collect::<Vec<_>>(), after, "{line:?}");
                        }
                    }
                }
            }
        }
        let mut one = [0u64; 1];
        assert_eq!(
            leading_numbers(b"18446744073709551615", &mut one),
            Ok((1, &b""[..]))
        );
        assert_eq!(one[0], u64::MAX);
        assert_eq!(leading_numbers(b" 18446744073709551616", &mut one), Err(0));
        assert_eq!(
            leading_numbers(b"099999999999999999999 2", &mut one),
            Err(0)
        );
    }

    /// Spaces counted eight at a time against a byte at a time, and
    /// net/dev-shaped lines of long blank runs through [`leading_numbers`].
    #[test]
    fn spaces_eight_at_a_time_match_one_at_a_time() {
        let alphabet = [b' ', b'\t', b'/', b':', b'0', b'9', 0xfa, 0xff, 0xb9, 0x00];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200_000 {
            let bytes: [u8; 8] = std::array::from_fn(|_| {
                let r = next();
                match r % 3 {
                    0 => alphabet[(r >> 8) as usize % alphabet.len()],
                    1 => b' ',
                    _ => b'0' + (r >> 8) as u8 % 10,
                }
            });
            let spaces = bytes.iter().take_while(|b| **b == b' ').count();
            assert_eq!(
                leading_spaces(u64::from_le_bytes(bytes)),
                spaces,
                "{bytes:?}"
            );
        }
        for _ in 0..20_000 {
            let mut line = Vec::new();
            let mut want = Vec::new();
            for _ in 0..(next() % 18) {
                line.extend(std::iter::repeat_n(b' ', 1 + (next() % 12) as usize));
                let value = match next() % 4 {
                    0 => next() % 10,
                    1 => next() % 100_000_000,
                    2 => next() % 10_000_000_000_000_000,
                    _ => next(),
                };
                line.extend_from_slice(value.to_string().as_bytes());
                want.push(value);
            }
            let mut out = [0u64; 18];
            let (n, rest) = leading_numbers(&line, &mut out).unwrap();
            assert_eq!((&out[..n], rest), (&want[..], &b""[..]), "{line:?}");
        }
    }

    #[test]
    fn parse_u64_is_strict() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        for bad in [&b""[..], b"-1", b"+1", b"1a", b" 1", b"1.0"] {
            assert_eq!(parse_u64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn parse_decimal_matches_naive_parse() {
        for s in ["0", "0.00", "0.52", "12.5", "350735.47", "1.123456789"] {
            let want: f64 = s.parse().unwrap();
            let got = parse_decimal(s.as_bytes()).unwrap();
            assert!((want - got).abs() < 1e-9, "{s}: {got} != {want}");
        }
        for bad in ["", ".", "1.", ".5", "-1.0", "1.2.3", "nan", "1e5"] {
            assert_eq!(parse_decimal(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn numbered_lines_handles_missing_final_newline() {
        let got: Vec<_> = numbered_lines(b"a\nb").collect();
        assert_eq!(got, vec![(1, &b"a"[..]), (2, &b"b"[..])]);
        let got: Vec<_> = numbered_lines(b"a\n\nb\n").collect();
        assert_eq!(got, vec![(1, &b"a"[..]), (2, &b""[..]), (3, &b"b"[..])]);
        assert_eq!(numbered_lines(b"").count(), 0);
        assert_eq!(numbered_lines(b"\n").count(), 0);
    }
}

#[cfg(test)]
mod fuzz {
    /// Random and truncated inputs: every new parser answers, none panics.
    #[test]
    fn new_parsers_survive_random_and_truncated_bytes() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"0123456789 :-.\nabcdefghijklmnopqrstuvwxyz=/|\t";
        let real: [&[u8]; 5] = [
            include_bytes!("../../tests/fixtures/proc/debian12-vm-2core/net/dev"),
            include_bytes!("../../tests/fixtures/proc/debian12-vm-2core/diskstats"),
            include_bytes!("../../tests/fixtures/proc/debian12-vm-2core/pressure/io"),
            include_bytes!("../../tests/fixtures/proc/debian12-vm-2core/self/cgroup"),
            include_bytes!("../../tests/fixtures/proc/status-dropped/status"),
        ];
        let mut buf = Vec::new();
        let mut groups = Vec::new();
        for round in 0..20_000 {
            buf.clear();
            if round % 2 == 0 {
                let len = (next() % 300) as usize;
                for _ in 0..len {
                    let r = next();
                    buf.push(if r % 4 == 0 {
                        r as u8 >> 3
                    } else {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    });
                }
            } else {
                let src = real[round / 2 % real.len()];
                buf.extend_from_slice(&src[..(next() as usize) % (src.len() + 1)]);
            }
            let _ = super::netdev::entries(&buf).count();
            let _ = super::diskstats::entries(&buf).count();
            let _ = super::pressure::parse(&buf);
            let _ = super::cgroup::unified_path(&buf);
            let _ = super::cgroup::cpu_max_cores(&buf);
            let _ = super::cgroup::cpu_usage_usec(&buf);
            let _ = super::cgroup::memory_max_bytes(&buf);
            let _ = super::sysfs::parse_millidegrees(&buf);
            let _ = super::sysfs::parse_khz_as_hz(&buf);
            let _ = super::status::parse(&buf);
            let _ = super::status::groups(&buf, &mut groups);
            let _ = super::meminfo::fields_of(&buf).count();
            let _ = super::vmstat::entries(&buf).count();
            let _ = super::netstat::for_each_pair(&buf, |_, _, _| {});
            let _ = super::netstat::for_each_snmp6(&buf, |_, _, _| {});
            let _ = super::sockstat::for_each(&buf, |_, _, _| {});
            let _ = super::sysctl::file_nr(&buf);
            let _ = super::softnet::entries(&buf).count();
            let _ = super::arp::devices(&buf).count();
            let _ = super::udp::queue_sums(&buf);
            let _ = super::netclass::parse_int(&buf);
            let _ = super::netclass::parse_text(&buf);
            let mut links = Vec::new();
            let _ = super::rtnetlink::parse_part(&buf, 0, &mut links);
            let _ = super::pidstat::parse(&buf);
            let _ = super::status::effective_uid(&buf);
            let _ = super::passwd::entries(&buf).count();
            let mut shown = [0u8; 40];
            let n = super::cmdline::shorten(&buf, &mut shown);
            assert!(std::str::from_utf8(&shown[..n]).is_ok());
            let _ = super::sysctl::single_u64(&buf);
            let mut text = String::new();
            for (_, value) in super::os_release::entries(&buf).flatten() {
                value.write_to(&mut text);
            }
        }
        // A truncated net/dev line is an error, not a short, wrong entry.
        let netdev = real[0];
        let cut = &netdev[..netdev.len() - 20];
        assert!(super::netdev::entries(cut).any(|e| e.is_err()));
    }
}
