//! The /metrics body: a byte buffer written front to back, with numbers
//! formatted straight into it and short strings copied inline.
//!
//! Why not a `String` and `write!`: a scrape writes some 2,000 short pieces
//! (names, label values, numbers). Through `String::push_str` each is a call
//! to libc's `memcpy`, which on musl starts a `rep movs` for every copy (26 %
//! of a scrape's user time was `memcpy`), and `core::fmt` parses a format
//! string and pads through a `Formatter` for every number. Here a piece of
//! up to [`INLINE_COPY_MAX`] bytes is copied with fixed-size moves that the
//! compiler inlines, and integers are written with a two-digit table.
//!
//! Invariants: `buf[..len]` is always valid UTF-8 (only `&str`, `char` and
//! ASCII digits go in, and [`Body::truncate`] takes only lengths that
//! [`Body::len`] returned); `buf.len()` is the capacity in use, so once the
//! buffer has grown to a scrape's size, writing allocates nothing.

use std::fmt;

/// Longer copies go to `copy_from_slice` (libc's `memcpy`), which wins once
/// the `rep movs` start-up is paid back.
pub const INLINE_COPY_MAX: usize = 256;

/// Below this a non-negative integer-valued `f64` is written as an integer
/// (every integer up to 2^53 is exact, and `Display` prints it in full).
const EXACT_INTEGER_F64: f64 = 9_007_199_254_740_992.0;
/// `n / 10^k` is written as an exact decimal while `n` has at most 15
/// digits: every such decimal is the shortest that reads back as the same
/// `f64`, so the text equals `Display` of `n as f64 / 10^k`.
const EXACT_DECIMAL_BELOW: u64 = 1_000_000_000_000_000;

const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

pub struct Body {
    /// Zero-filled once; `buf[..len]` is the body so far.
    buf: Vec<u8>,
    len: usize,
}

impl Body {
    pub fn with_capacity(bytes: usize) -> Body {
        Body {
            buf: vec![0; bytes],
            len: 0,
        }
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes back what was written after `len`, a value [`Body::len`]
    /// returned earlier (so the cut is on a character boundary).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The body as text. Checks the UTF-8 it is known to be (no `unsafe`
    /// outside `sys`): for tests and the textfile writer, not the scrape.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("the body holds only str, char and digits")
    }

    /// What was written since `start`, a value [`Body::len`] returned.
    pub fn as_str_from(&self, start: usize) -> &str {
        std::str::from_utf8(&self.buf[start.min(self.len)..self.len])
            .expect("the body holds only str, char and digits")
    }

    #[inline]
    pub fn push_str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// One character; an ASCII one (the spaces and newlines between
    /// names and values, a few hundred a scrape) is stored as its byte
    /// where it is inlined, without a call to [`Body::bytes`].
    #[inline]
    pub fn push(&mut self, c: char) {
        if c.is_ascii() && self.len < self.buf.len() {
            self.buf[self.len] = c as u8;
            self.len += 1;
        } else {
            self.push_char(c);
        }
    }

    fn push_char(&mut self, c: char) {
        let mut utf8 = [0; 4];
        self.push_str(c.encode_utf8(&mut utf8));
    }

    /// ASCII-only or already checked UTF-8 bytes (private: the invariant).
    #[inline]
    fn bytes(&mut self, src: &[u8]) {
        let end = self.len + src.len();
        if end > self.buf.len() {
            self.grow(end);
        }
        copy(&mut self.buf[self.len..end], src);
        self.len = end;
    }

    /// Appends a copy of `range`, a part already written (a name that
    /// comes back in HELP, TYPE and the sample line).
    pub fn repeat(&mut self, range: std::ops::Range<usize>) {
        let n = range.len();
        let end = self.len + n;
        if end > self.buf.len() {
            self.grow(end);
        }
        let (written, free) = self.buf.split_at_mut(self.len);
        copy(&mut free[..n], &written[range]);
        self.len = end;
    }

    /// Ends a HELP line, then writes the TYPE line and the start of the
    /// one sample of the family whose name is `name`, a part already
    /// written: `.\n# TYPE NAME KIND\nNAME ` (the value follows).
    pub fn type_and_sample_start(&mut self, name: std::ops::Range<usize>, kind: &str) {
        self.push_str(".\n# TYPE ");
        self.repeat(name.clone());
        self.push(' ');
        self.push_str(kind);
        self.push('\n');
        self.repeat(name);
        self.push(' ');
    }

    /// A sample line without a timestamp: `NAME VALUE` and a newline
    /// (`name` may carry its labels).
    pub fn sample_u64(&mut self, name: &str, value: u64) {
        self.push_str(name);
        self.push(' ');
        self.u64(value);
        self.push('\n');
    }

    /// Grows by an eighth at least, in whole pages: every byte of `buf` is
    /// written (zeroed) once, so capacity beyond the body is resident memory
    /// for nothing. The first scrapes grow it a few times; then never.
    #[cold]
    fn grow(&mut self, needed: usize) {
        let size = needed.max(self.buf.len() + self.buf.len() / 8);
        self.buf.resize(size.next_multiple_of(4096), 0);
    }

    pub fn u64(&mut self, mut v: u64) {
        if v < 10 {
            // One digit (0 and 1 are a good part of every scrape).
            self.push(char::from(b'0' + v as u8));
            return;
        }
        let mut tmp = [0u8; 20];
        let mut at = tmp.len();
        while v >= 100 {
            let pair = (v % 100) as usize * 2;
            v /= 100;
            at -= 2;
            tmp[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if v >= 10 {
            let pair = v as usize * 2;
            at -= 2;
            tmp[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            at -= 1;
            tmp[at] = b'0' + v as u8;
        }
        self.bytes(&tmp[at..]);
    }

    pub fn i64(&mut self, v: i64) {
        if v < 0 {
            self.bytes(b"-");
        }
        self.u64(v.unsigned_abs());
    }

    /// As `Display` for `f64` (the shortest text that reads back as `v`):
    /// integers without the formatter, the rest through [`crate::float_text`].
    /// Infinities as the exposition format spells them (`+Inf`, `-Inf`;
    /// `Display` would write `inf`, which Prometheus refuses).
    pub fn f64(&mut self, v: f64) {
        if v.fract() == 0.0 && v.abs() < EXACT_INTEGER_F64 && !(v == 0.0 && v.is_sign_negative()) {
            self.i64(v as i64);
        } else if v.is_infinite() {
            self.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            let _ = fmt::Write::write_fmt(self, format_args!("{}", crate::float_text::Shortest(v)));
        }
    }

    /// `n / 10^places` as `Display` prints `n as f64 / 10^places` (for
    /// ticks, milliseconds and microseconds turned into seconds): exact
    /// digits with trailing zeros cut, without the float formatter.
    pub fn decimal(&mut self, n: u64, places: u32) {
        if places == 0 || n >= EXACT_DECIMAL_BELOW || places > 15 {
            self.f64(n as f64 / 10f64.powi(places as i32));
            return;
        }
        let scale = 10u64.pow(places);
        self.u64(n / scale);
        let mut fraction = n % scale;
        if fraction == 0 {
            return;
        }
        let mut digits = places;
        while fraction % 10 == 0 {
            fraction /= 10;
            digits -= 1;
        }
        // The fraction's digits, zero-padded on the left to `digits`.
        let mut tmp = [b'0'; 16];
        tmp[0] = b'.';
        let mut at = digits as usize + 1;
        while fraction > 0 {
            at -= 1;
            tmp[at] = b'0' + (fraction % 10) as u8;
            fraction /= 10;
        }
        self.bytes(&tmp[..digits as usize + 1]);
    }
}

impl fmt::Write for Body {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

/// `dst.copy_from_slice(src)` without a `memcpy` call for short slices:
/// 16-byte moves (the last one overlapping), or two overlapping 8- or
/// 4-byte moves, each of a size the compiler knows.
#[inline(always)]
fn copy(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n > INLINE_COPY_MAX {
        dst.copy_from_slice(src);
    } else if n >= 16 {
        let mut at = 0;
        while at + 16 <= n {
            move_n::<16>(&mut dst[at..], &src[at..]);
            at += 16;
        }
        if at < n {
            move_n::<16>(&mut dst[n - 16..], &src[n - 16..]);
        }
    } else if n >= 8 {
        move_n::<8>(dst, src);
        move_n::<8>(&mut dst[n - 8..], &src[n - 8..]);
    } else if n >= 4 {
        move_n::<4>(dst, src);
        move_n::<4>(&mut dst[n - 4..], &src[n - 4..]);
    } else if n > 0 {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

#[inline(always)]
fn move_n<const N: usize>(dst: &mut [u8], src: &[u8]) {
    let from: [u8; N] = src[..N].try_into().expect("N bytes");
    let to: &mut [u8; N] = (&mut dst[..N]).try_into().expect("N bytes");
    *to = from;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small xorshift, so the cases are many and the same on every run.
    fn numbers(count: usize) -> impl Iterator<Item = u64> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..count).map(move |i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Every magnitude, and the edges.
            match i % 4 {
                0 => x,
                1 => x >> (x % 64),
                2 => x % 1_000_000,
                _ => [0, 1, 9, 10, 99, 100, u64::MAX, 1 << 53, (1 << 53) + 1][i % 9],
            }
        })
    }

    #[test]
    fn integers_are_written_as_display_writes_them() {
        let mut body = Body::with_capacity(0);
        for n in numbers(20_000) {
            body.clear();
            body.u64(n);
            assert_eq!(body.as_str(), n.to_string());
            body.clear();
            body.i64(n as i64);
            assert_eq!(body.as_str(), (n as i64).to_string());
        }
    }

    #[test]
    fn floats_are_written_as_display_writes_them() {
        let mut body = Body::with_capacity(0);
        let special = [
            0.0,
            -0.0,
            0.5,
            -1.5,
            1e300,
            -1e-300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for v in numbers(20_000)
            .flat_map(|n| [n as f64, -(n as f64), n as f64 / 7.0])
            .chain(special)
        {
            body.clear();
            body.f64(v);
            // Display, but infinities as the exposition format spells them.
            let want = match v {
                f64::INFINITY => "+Inf".to_string(),
                f64::NEG_INFINITY => "-Inf".to_string(),
                _ => v.to_string(),
            };
            assert_eq!(body.as_str(), want, "{v:?}");
        }
    }

    /// The naive oracle: what the renderer wrote before, `Display` of the
    /// quotient (ticks / 100, ms / 1000, µs / 1e6, ...).
    #[test]
    fn decimals_are_written_as_display_writes_the_quotient() {
        let mut body = Body::with_capacity(0);
        for n in numbers(20_000) {
            for places in [0, 1, 2, 3, 6, 9] {
                body.clear();
                body.decimal(n, places);
                let oracle = (n as f64 / 10f64.powi(places as i32)).to_string();
                assert_eq!(body.as_str(), oracle, "{n} / 10^{places}");
            }
        }
    }

    #[test]
    fn copies_of_every_length_and_growth_keep_the_text() {
        let text: String = (0..600)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let mut body = Body::with_capacity(1);
        let mut oracle = String::new();
        for n in 0..text.len() {
            body.push_str(&text[..n]);
            body.push('é');
            body.push(' ');
            oracle.push_str(&text[..n]);
            oracle.push('é');
            oracle.push(' ');
        }
        assert_eq!(body.as_str(), oracle);
        let at = body.len();
        body.push_str("taken back");
        body.truncate(at);
        assert_eq!(body.as_str(), oracle);
    }
}
